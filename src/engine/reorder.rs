//! The event-time reorder buffer and watermark: events wait until the watermark
//! passes them and then leave in a total order, so rule results do not depend on
//! arrival order within the allowed lateness.

use std::cmp::Ordering;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decode::{Event, EventType};

/// A buffered event with its sort key computed once: (event time in nanoseconds,
/// lifecycle position of the type, event id). The first two are held inline so
/// that ordering the heap rarely touches the boxed event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "Stored")]
pub(crate) struct Pending {
    nanos: i64,
    #[serde(skip_serializing)]
    ty: EventType,
    event: Box<Event>,
}

/// The checkpoint form of [`Pending`]: the type is derived from the event.
#[derive(Deserialize)]
struct Stored {
    nanos: i64,
    event: Box<Event>,
}

impl From<Stored> for Pending {
    fn from(s: Stored) -> Pending {
        Pending {
            nanos: s.nanos,
            ty: s.event.event_type(),
            event: s.event,
        }
    }
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
            ty: event.event_type(),
            event: Box::new(event),
        }
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
        (self.nanos, self.ty)
            .cmp(&(other.nanos, other.ty))
            .then_with(|| self.event.event_id.cmp(&other.event.event_id))
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
        self.heap.peek().map(|Reverse(p)| match p.nanos {
            // Saturated: outside what nanoseconds since 1970 can hold.
            i64::MIN | i64::MAX => p.event.occurred_at.to_utc(),
            n => DateTime::from_timestamp_nanos(n),
        })
    }

    pub fn pop(&mut self) -> Option<Event> {
        self.heap.pop().map(|Reverse(p)| *p.event)
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
}
