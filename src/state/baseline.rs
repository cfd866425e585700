//! Trailing baselines of processing time per (office, service), for `speed_money`:
//! the durations (submitted → issued) of the transactions issued in the last
//! `baseline_window`. The median is exact: a sorted multiset is cheaper here than
//! a quantile sketch, since one key holds at most a month of completions. It is
//! kept in chunks, so that a busy counter (tens of thousands of completions a
//! month) costs a small move per insertion and eviction, not the whole month.

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
#[serde(from = "BaselineRepr", into = "BaselineRepr")]
pub struct DurationBaseline {
    /// (completion time in Unix seconds, duration in seconds), by completion time.
    by_time: VecDeque<(i64, i64)>,
    /// The same durations, sorted.
    sorted: SortedChunks,
}

/// The serialised form (a checkpoint's and a changelog snapshot's), unchanged
/// from when the sorted durations were one vector.
#[derive(Serialize, Deserialize)]
struct BaselineRepr {
    by_time: VecDeque<(i64, i64)>,
    sorted: Vec<i64>,
}

impl From<BaselineRepr> for DurationBaseline {
    fn from(r: BaselineRepr) -> Self {
        let mut sorted = r.sorted;
        sorted.sort_unstable();
        DurationBaseline {
            by_time: r.by_time,
            sorted: SortedChunks::from_sorted(sorted),
        }
    }
}

impl From<DurationBaseline> for BaselineRepr {
    fn from(b: DurationBaseline) -> Self {
        BaselineRepr {
            by_time: b.by_time,
            sorted: b.sorted.to_vec(),
        }
    }
}

/// Chunks beyond this many values are split in two.
const CHUNK_MAX: usize = 1024;

/// A sorted multiset of durations as consecutive sorted chunks: every value of a
/// chunk is at most every value of the next.
#[derive(Debug, Default, Clone)]
struct SortedChunks {
    chunks: Vec<Vec<i64>>,
    len: usize,
}

impl SortedChunks {
    fn from_sorted(sorted: Vec<i64>) -> Self {
        let len = sorted.len();
        let chunks = sorted.chunks(CHUNK_MAX / 2).map(<[i64]>::to_vec).collect();
        SortedChunks { chunks, len }
    }

    fn to_vec(&self) -> Vec<i64> {
        self.chunks.concat()
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The first chunk whose largest value is at least `d` (or the last chunk).
    fn chunk_for(&self, d: i64) -> usize {
        self.chunks
            .partition_point(|c| c.last().is_some_and(|&x| x < d))
            .min(self.chunks.len().saturating_sub(1))
    }

    fn insert(&mut self, d: i64) {
        self.len += 1;
        if self.chunks.is_empty() {
            self.chunks.push(vec![d]);
            return;
        }
        let c = self.chunk_for(d);
        let chunk = &mut self.chunks[c];
        let i = chunk.partition_point(|&x| x <= d);
        chunk.insert(i, d);
        if chunk.len() > CHUNK_MAX {
            let upper = chunk.split_off(chunk.len() / 2);
            self.chunks.insert(c + 1, upper);
        }
    }

    /// Removes one `d`; false when there is none.
    fn remove(&mut self, d: i64) -> bool {
        if self.chunks.is_empty() {
            return false;
        }
        let c = self.chunk_for(d);
        let chunk = &mut self.chunks[c];
        let i = chunk.partition_point(|&x| x < d);
        if chunk.get(i) != Some(&d) {
            return false;
        }
        chunk.remove(i);
        if chunk.is_empty() {
            self.chunks.remove(c);
        }
        self.len -= 1;
        true
    }

    /// The `k`-th smallest value (0-based); `k < len`.
    fn nth(&self, mut k: usize) -> i64 {
        for c in &self.chunks {
            if k < c.len() {
                return c[k];
            }
            k -= c.len();
        }
        unreachable!("nth({k}) beyond a multiset of {}", self.len)
    }

    fn median(&self) -> f64 {
        median_of(self.len, |k| self.nth(k))
    }
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
            self.sorted.remove(d);
        }
    }

    pub fn insert(&mut self, at: i64, duration_s: i64) {
        let pos = self.position(|t| t <= at);
        self.by_time.insert(pos, (at, duration_s));
        self.sorted.insert(duration_s);
    }

    /// The median over completions in `[at - window_s, at)`: strictly before the
    /// judged completion, so a transaction never counts in its own baseline.
    pub fn snapshot(&mut self, at: i64, window_s: i64) -> BaselineSnapshot {
        self.evict_before(at.saturating_sub(window_s));
        // Completions at or after `at` (same second, or a late arrival judged
        // after later ones) are set aside for the computation.
        let first_after = self.position(|t| t < at);
        let aside: Vec<i64> = self.by_time.range(first_after..).map(|&(_, d)| d).collect();
        for &d in &aside {
            self.sorted.remove(d);
        }
        let snapshot = BaselineSnapshot {
            median_s: self.sorted.median(),
            size: self.sorted.len() as u32,
        };
        for d in aside {
            self.sorted.insert(d);
        }
        snapshot
    }

    /// The first completion whose time fails `before` (all times passing it
    /// come first). Completions arrive in event-time order but for late ones,
    /// so the answer is usually the end, checked before any search.
    fn position(&self, before: impl Fn(i64) -> bool) -> usize {
        match self.by_time.back() {
            Some(&(t, _)) if !before(t) => self.by_time.partition_point(|&(t, _)| before(t)),
            _ => self.by_time.len(),
        }
    }

    pub fn median_s(&self) -> f64 {
        self.sorted.median()
    }
}

/// Median of `n` sorted values read through `nth`; the mean of the middle two
/// for an even count, 0 for none.
fn median_of(n: usize, nth: impl Fn(usize) -> i64) -> f64 {
    match n {
        0 => 0.0,
        _ if n % 2 == 1 => nth(n / 2) as f64,
        _ => (nth(n / 2 - 1) as f64 + nth(n / 2) as f64) / 2.0,
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

    fn median(sorted: &[i64]) -> f64 {
        median_of(sorted.len(), |k| sorted[k])
    }

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

    proptest::proptest! {
        /// The chunked multiset against one sorted vector, across chunk splits
        /// and removals of present and absent values.
        #[test]
        fn chunks_behave_like_one_sorted_vector(
            ops in proptest::collection::vec((proptest::bool::weighted(0.7), 0i64..400), 1..6000)
        ) {
            let mut chunks = SortedChunks::default();
            let mut plain: Vec<i64> = Vec::new();
            for (insert, d) in ops {
                if insert {
                    chunks.insert(d);
                    let i = plain.partition_point(|&x| x <= d);
                    plain.insert(i, d);
                } else {
                    let i = plain.partition_point(|&x| x < d);
                    let present = plain.get(i) == Some(&d);
                    if present {
                        plain.remove(i);
                    }
                    proptest::prop_assert_eq!(chunks.remove(d), present);
                }
                proptest::prop_assert_eq!(chunks.len(), plain.len());
                proptest::prop_assert_eq!(chunks.median(), median(&plain));
            }
            proptest::prop_assert_eq!(chunks.to_vec(), plain);
        }
    }

    #[test]
    fn serialised_form_is_unchanged_and_round_trips() {
        let mut b = DurationBaseline::default();
        for (t, d) in [(1, 7), (2, 3), (3, 9)] {
            b.insert(t, d);
        }
        let json = serde_json::to_string(&b).expect("serialise");
        assert_eq!(json, r#"{"by_time":[[1,7],[2,3],[3,9]],"sorted":[3,7,9]}"#);
        let back: DurationBaseline = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back.median_s(), 7.0);
        assert_eq!(back.len(), 3);
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
