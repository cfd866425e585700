//! The event-time watermark W: the largest event time seen minus the allowed
//! lateness; with partitions, the minimum of that over the partitions that are
//! not idle, so one quiet partition cannot stall every timer. W never moves back.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct PartitionClock {
    max_seen: Option<DateTime<Utc>>,
    idle: bool,
    /// The partition's bounded input has ended (a replay through Kafka with
    /// `--stop-when-idle`): it holds nothing back, and once every partition has
    /// ended W becomes the largest time seen, as at the end of a file.
    #[serde(default)]
    ended: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Watermark {
    lateness: Duration,
    max_seen: Option<DateTime<Utc>>,
    /// Set once a bounded input has ended: W is then the largest time seen.
    ended: bool,
    /// Empty for unpartitioned sources (files, the simulator).
    partitions: BTreeMap<i32, PartitionClock>,
    current: Option<DateTime<Utc>>,
}

impl Default for Watermark {
    fn default() -> Self {
        Watermark::new(Duration::zero())
    }
}

impl Watermark {
    pub fn new(lateness: Duration) -> Self {
        Watermark {
            lateness,
            max_seen: None,
            ended: false,
            partitions: BTreeMap::new(),
            current: None,
        }
    }

    pub fn observe(&mut self, t: DateTime<Utc>) {
        if self.max_seen.is_none_or(|m| t > m) {
            self.max_seen = Some(t);
            if self.partitions.is_empty() {
                self.advance_to(t - self.lateness);
            }
        }
    }

    /// An event time read from one partition.
    pub fn observe_partition(&mut self, partition: i32, t: DateTime<Utc>) {
        let clock = self.partitions.entry(partition).or_default();
        clock.idle = false;
        clock.ended = false;
        if clock.max_seen.is_none_or(|m| t > m) {
            clock.max_seen = Some(t);
        }
        if self.max_seen.is_none_or(|m| t > m) {
            self.max_seen = Some(t);
        }
        self.recompute();
    }

    /// A partition assigned to this instance: until it has delivered an event
    /// (or gone idle) it holds W back, since its events may be the oldest.
    pub fn add_partition(&mut self, partition: i32) {
        self.partitions.entry(partition).or_default();
    }

    /// The partition's input has ended; when every partition has, so has the
    /// whole input.
    pub fn end_partition(&mut self, partition: i32) {
        let clock = self.partitions.entry(partition).or_default();
        clock.ended = true;
        clock.idle = true;
        if self.partitions.values().all(|c| c.ended) {
            self.end_of_input();
        } else {
            self.recompute();
        }
    }

    /// A partition with nothing new for the idle timeout stops holding W back;
    /// its next event makes it count again.
    pub fn set_idle(&mut self, partition: i32, idle: bool) {
        if let Some(c) = self.partitions.get_mut(&partition)
            && c.idle != idle
        {
            c.idle = idle;
            self.recompute();
        }
    }

    fn recompute(&mut self) {
        // No partition at all (everything revoked): nothing new is known, and
        // jumping to the largest time seen would make the next partition's
        // events late.
        if self.partitions.is_empty() {
            return;
        }
        let mut active: Option<DateTime<Utc>> = None;
        for c in self.partitions.values().filter(|c| !c.idle) {
            match c.max_seen {
                // An active partition that has not spoken yet: W stays put.
                None => return,
                Some(t) => active = Some(active.map_or(t, |a| a.min(t))),
            }
        }
        // Every partition idle: nothing holds W back but the largest time seen.
        if let Some(t) = active.or(self.max_seen) {
            self.advance_to(t - self.lateness);
        }
    }

    fn advance_to(&mut self, w: DateTime<Utc>) {
        if self.current.is_none_or(|c| w > c) {
            self.current = Some(w);
        }
    }

    pub fn end_of_input(&mut self) {
        self.ended = true;
        if let Some(m) = self.max_seen {
            self.advance_to(m);
        }
    }

    pub fn current(&self) -> Option<DateTime<Utc>> {
        self.current
    }

    pub fn max_seen(&self) -> Option<DateTime<Utc>> {
        self.max_seen
    }

    pub fn is_ended(&self) -> bool {
        self.ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
    }

    #[test]
    fn the_slowest_active_partition_holds_the_watermark() {
        let mut w = Watermark::new(Duration::minutes(10));
        w.add_partition(0);
        w.add_partition(1);
        w.observe_partition(0, t(10));
        w.observe_partition(1, t(5));
        assert_eq!(w.current(), Some(t(5) - Duration::minutes(10)));
        // Partition 1 goes idle: partition 0 alone decides.
        w.set_idle(1, true);
        assert_eq!(w.current(), Some(t(10) - Duration::minutes(10)));
        // It wakes with an old event: W does not move back.
        w.observe_partition(1, t(6));
        assert_eq!(w.current(), Some(t(10) - Duration::minutes(10)));
        w.end_of_input();
        assert_eq!(w.current(), Some(t(10)));
    }

    #[test]
    fn the_input_ends_when_every_partition_has_ended() {
        let mut w = Watermark::new(Duration::minutes(10));
        w.add_partition(0);
        w.add_partition(1);
        w.observe_partition(0, t(10));
        w.observe_partition(1, t(5));
        w.end_partition(1);
        assert_eq!(w.current(), Some(t(10) - Duration::minutes(10)));
        assert!(!w.is_ended());
        // New data reopens a partition.
        w.observe_partition(1, t(11));
        w.end_partition(0);
        assert!(!w.is_ended());
        w.end_partition(1);
        assert!(w.is_ended());
        assert_eq!(w.current(), Some(t(11)));
    }

    #[test]
    fn an_assigned_partition_holds_the_watermark_until_it_speaks_or_idles() {
        let mut w = Watermark::new(Duration::minutes(10));
        w.add_partition(0);
        w.add_partition(1);
        w.observe_partition(0, t(10));
        assert_eq!(w.current(), None);
        w.set_idle(1, true);
        assert_eq!(w.current(), Some(t(10) - Duration::minutes(10)));
    }

    #[test]
    fn unpartitioned_sources_use_the_largest_time() {
        let mut w = Watermark::new(Duration::minutes(10));
        w.observe(t(3));
        w.observe(t(2));
        assert_eq!(w.current(), Some(t(3) - Duration::minutes(10)));
    }
}
