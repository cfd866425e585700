//! Event-time timers, fired only when the watermark passes them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TimerKind {
    /// A transaction's deadline (`overdue_open`).
    Deadline,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Timer {
    pub due: DateTime<Utc>,
    pub kind: TimerKind,
    pub transaction_id: CompactString,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Timers {
    heap: BinaryHeap<Reverse<Timer>>,
}

impl Timers {
    pub fn schedule(&mut self, due: DateTime<Utc>, kind: TimerKind, transaction_id: CompactString) {
        self.heap.push(Reverse(Timer {
            due,
            kind,
            transaction_id,
        }));
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
