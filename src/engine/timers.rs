//! Event-time timers, fired only when the watermark passes them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

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

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    pub fn schedule(&mut self, due: DateTime<Utc>, kind: TimerKind) {
        self.heap.push(Reverse(Timer { due, kind }));
    }

    pub fn peek_due(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|Reverse(t)| t.due)
    }

    pub fn pop(&mut self) -> Option<Timer> {
        self.heap.pop().map(|Reverse(t)| t)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}
