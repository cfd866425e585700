//! The event-time reorder buffer and watermark: events wait until the watermark
//! passes them and then leave in a total order, so rule results do not depend on
//! arrival order within the allowed lateness.

use std::cmp::Ordering;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decode::Event;

/// A buffered event with its sort key computed once: (event time in nanoseconds,
/// lifecycle position of the type, event id).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Pending {
    nanos: i64,
    event: Box<Event>,
}

impl Pending {
    fn new(event: Event) -> Pending {
        let t = event.occurred_at;
        let nanos = t
            .timestamp()
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(t.timestamp_subsec_nanos()));
        Pending {
            nanos,
            event: Box::new(event),
        }
    }

    fn key(&self) -> (i64, crate::decode::EventType, &str) {
        (
            self.nanos,
            self.event.event_type(),
            self.event.event_id.as_str(),
        )
    }
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct ReorderBuffer {
    heap: BinaryHeap<Reverse<Pending>>,
}

impl ReorderBuffer {
    pub fn push(&mut self, e: Event) {
        self.heap.push(Reverse(Pending::new(e)));
    }

    pub fn peek_time(&self) -> Option<DateTime<Utc>> {
        self.heap
            .peek()
            .map(|Reverse(p)| p.event.occurred_at.to_utc())
    }

    pub fn pop(&mut self) -> Option<Event> {
        self.heap.pop().map(|Reverse(p)| *p.event)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
}
