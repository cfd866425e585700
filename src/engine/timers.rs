//! Event-time timers, fired only when the watermark passes them.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::state::officers::GroupKey;

/// What a timer stands for. The derived order breaks ties between timers due at
/// the same instant, so firing order never depends on scheduling order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TimerKind {
    /// A transaction's deadline (`overdue_open`).
    Deadline(CompactString),
    /// The end of a weekly officer window (`officer_outlier`).
    OfficerWindow(GroupKey),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Timer {
    pub due: DateTime<Utc>,
    pub kind: TimerKind,
}

/// Pending timers, fired in (due, kind) order.
///
/// They are grouped by due instant because most share one: working-day
/// deadlines fall at local midnight and officer windows end at the start of a
/// week, so a few dozen instants hold tens of thousands of timers. A group is
/// sorted once, when it starts to fire, instead of every timer paying its way
/// through a heap of all of them.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(from = "TimersRepr", into = "TimersRepr")]
pub struct Timers {
    by_due: BTreeMap<DateTime<Utc>, Group>,
    len: usize,
}

#[derive(Debug, Default, Clone)]
struct Group {
    /// Sorted descending while `sorted`, so the next to fire is the last.
    kinds: Vec<TimerKind>,
    sorted: bool,
}

/// The serialised form (a checkpoint's), unchanged from when the timers were
/// one binary heap.
#[derive(Serialize, Deserialize)]
struct TimersRepr {
    heap: Vec<Reverse<Timer>>,
}

impl From<TimersRepr> for Timers {
    fn from(r: TimersRepr) -> Self {
        let mut timers = Timers::default();
        for Reverse(t) in r.heap {
            timers.schedule(t.due, t.kind);
        }
        timers
    }
}

impl From<Timers> for TimersRepr {
    fn from(t: Timers) -> Self {
        let heap = t
            .by_due
            .into_iter()
            .flat_map(|(due, g)| {
                g.kinds
                    .into_iter()
                    .map(move |kind| Reverse(Timer { due, kind }))
            })
            .collect();
        TimersRepr { heap }
    }
}

impl Timers {
    pub fn schedule(&mut self, due: DateTime<Utc>, kind: TimerKind) {
        let group = self.by_due.entry(due).or_default();
        group.kinds.push(kind);
        group.sorted = group.kinds.len() == 1;
        self.len += 1;
    }

    pub fn peek_due(&self) -> Option<DateTime<Utc>> {
        self.by_due.first_key_value().map(|(due, _)| *due)
    }

    pub fn pop(&mut self) -> Option<Timer> {
        let mut first = self.by_due.first_entry()?;
        let due = *first.key();
        let group = first.get_mut();
        if !group.sorted {
            group.kinds.sort_unstable_by(|a, b| b.cmp(a));
            group.sorted = true;
        }
        let kind = group.kinds.pop().expect("groups are never empty");
        if group.kinds.is_empty() {
            first.remove();
        }
        self.len -= 1;
        Some(Timer { due, kind })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, h, 0, 0).unwrap()
    }

    fn deadline(id: &str) -> TimerKind {
        TimerKind::Deadline(id.into())
    }

    fn drain(t: &mut Timers) -> Vec<(u32, TimerKind)> {
        std::iter::from_fn(|| t.pop())
            .map(|t| (chrono::Timelike::hour(&t.due), t.kind))
            .collect()
    }

    #[test]
    fn fire_in_due_then_kind_order_whatever_the_scheduling_order() {
        let mut t = Timers::default();
        t.schedule(at(9), deadline("T-2"));
        t.schedule(at(8), deadline("T-9"));
        t.schedule(at(9), deadline("T-1"));
        t.schedule(at(9), deadline("T-3"));
        assert_eq!(t.len(), 4);
        assert_eq!(t.peek_due(), Some(at(8)));
        assert_eq!(
            drain(&mut t),
            vec![
                (8, deadline("T-9")),
                (9, deadline("T-1")),
                (9, deadline("T-2")),
                (9, deadline("T-3")),
            ]
        );
        assert!(t.is_empty());
        assert_eq!(t.peek_due(), None);
    }

    #[test]
    fn a_timer_added_to_a_group_that_is_firing_takes_its_place_in_order() {
        let mut t = Timers::default();
        t.schedule(at(9), deadline("T-1"));
        t.schedule(at(9), deadline("T-4"));
        assert_eq!(t.pop().map(|t| t.kind), Some(deadline("T-1")));
        t.schedule(at(9), deadline("T-2"));
        t.schedule(at(9), deadline("T-5"));
        assert_eq!(
            drain(&mut t),
            vec![
                (9, deadline("T-2")),
                (9, deadline("T-4")),
                (9, deadline("T-5")),
            ]
        );
    }

    #[test]
    fn the_serialised_form_is_the_former_heap_and_round_trips() {
        let mut t = Timers::default();
        t.schedule(at(9), deadline("T-2"));
        t.schedule(at(8), deadline("T-1"));
        let json = serde_json::to_string(&t).expect("serialise");
        assert_eq!(
            json,
            r#"{"heap":[{"due":"2026-03-02T08:00:00Z","kind":{"Deadline":"T-1"}},{"due":"2026-03-02T09:00:00Z","kind":{"Deadline":"T-2"}}]}"#
        );
        let mut back: Timers = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back.len(), 2);
        assert_eq!(
            drain(&mut back),
            vec![(8, deadline("T-1")), (9, deadline("T-2"))]
        );
    }
}
