//! Trailing baselines of processing time per (office, service), for `speed_money`:
//! the durations (submitted → issued) of the transactions issued in the last
//! `baseline_window`. The median is exact: a sorted vector is cheaper here than a
//! quantile sketch, since one key holds at most a month of completions.

use std::collections::{HashMap, VecDeque};

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// The median of a baseline at one instant and how many durations it rests on.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BaselineSnapshot {
    pub median_s: f64,
    pub size: u32,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct DurationBaseline {
    /// (completion time in Unix seconds, duration in seconds), by completion time.
    by_time: VecDeque<(i64, i64)>,
    /// The same durations, sorted.
    sorted: Vec<i64>,
}

impl DurationBaseline {
    pub fn len(&self) -> usize {
        self.by_time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_time.is_empty()
    }

    /// Drops completions before `cutoff`.
    pub fn evict_before(&mut self, cutoff: i64) {
        while let Some(&(at, d)) = self.by_time.front() {
            if at >= cutoff {
                break;
            }
            self.by_time.pop_front();
            self.remove_sorted(d);
        }
    }

    pub fn insert(&mut self, at: i64, duration_s: i64) {
        let pos = self.by_time.partition_point(|&(t, _)| t <= at);
        self.by_time.insert(pos, (at, duration_s));
        let i = self.sorted.partition_point(|&d| d <= duration_s);
        self.sorted.insert(i, duration_s);
    }

    /// The median over completions in `[at - window_s, at)`: strictly before the
    /// judged completion, so a transaction never counts in its own baseline.
    pub fn snapshot(&mut self, at: i64, window_s: i64) -> BaselineSnapshot {
        self.evict_before(at.saturating_sub(window_s));
        // Completions at or after `at` (same second, or a late arrival judged
        // after later ones) are set aside for the computation.
        let first_after = self.by_time.partition_point(|&(t, _)| t < at);
        let aside: Vec<i64> = self.by_time.range(first_after..).map(|&(_, d)| d).collect();
        for &d in &aside {
            self.remove_sorted(d);
        }
        let snapshot = BaselineSnapshot {
            median_s: median(&self.sorted),
            size: self.sorted.len() as u32,
        };
        for d in aside {
            let i = self.sorted.partition_point(|&x| x <= d);
            self.sorted.insert(i, d);
        }
        snapshot
    }

    pub fn median_s(&self) -> f64 {
        median(&self.sorted)
    }

    fn remove_sorted(&mut self, d: i64) {
        let i = self.sorted.partition_point(|&x| x < d);
        if self.sorted.get(i) == Some(&d) {
            self.sorted.remove(i);
        }
    }
}

/// Median of sorted values; the mean of the middle two for an even count.
pub fn median(sorted: &[i64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => sorted[n / 2] as f64,
        _ => (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0,
    }
}

/// Baselines keyed by (office, service).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Baselines {
    by_key: HashMap<(CompactString, CompactString), DurationBaseline, ahash::RandomState>,
}

impl Baselines {
    pub fn get_mut(&mut self, office: &str, service: &str) -> &mut DurationBaseline {
        let key = (CompactString::from(office), CompactString::from(service));
        self.by_key.entry(key).or_default()
    }

    /// Drops completions older than `cutoff` everywhere, and empty baselines.
    pub fn expire_before(&mut self, cutoff: i64) {
        self.by_key.retain(|_, b| {
            b.evict_before(cutoff);
            !b.is_empty()
        });
    }

    /// Completions held in all baselines: for tests of bounded memory.
    pub fn held(&self) -> usize {
        self.by_key.values().map(DurationBaseline::len).sum()
    }

    pub fn iter(
        &self,
    ) -> impl Iterator<Item = (&(CompactString, CompactString), &DurationBaseline)> {
        self.by_key.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[5]), 5.0);
        assert_eq!(median(&[1, 3, 10]), 3.0);
        assert_eq!(median(&[1, 3, 5, 10]), 4.0);
    }

    #[test]
    fn snapshot_covers_the_trailing_window_before_the_judged_completion() {
        let mut b = DurationBaseline::default();
        b.insert(100, 10);
        b.insert(200, 20);
        b.insert(300, 30);
        b.insert(400, 40);
        // Window [300 - 200, 300) = [100, 300): durations 10 and 20.
        let s = b.snapshot(300, 200);
        assert_eq!(s.size, 2);
        assert_eq!(s.median_s, 15.0);
        // The entries at and after 300 are back for later snapshots.
        let s = b.snapshot(401, 250);
        assert_eq!(s.size, 3);
        assert_eq!(s.median_s, 30.0);
    }

    #[test]
    fn eviction_keeps_both_views_consistent() {
        let mut b = DurationBaseline::default();
        for (t, d) in [(1, 7), (2, 7), (3, 1), (4, 9)] {
            b.insert(t, d);
        }
        b.evict_before(3);
        assert_eq!(b.len(), 2);
        assert_eq!(b.median_s(), 5.0);
    }
}
