//! The event-time reorder buffer and watermark: events wait until the watermark
//! passes them and then leave in a total order, so rule results do not depend on
//! arrival order within the allowed lateness.

use std::cmp::Ordering;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decode::{Event, EventType};

const NANOS_PER_S: i64 = 1_000_000_000;

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
    /// When the event reached this process, for the alert-latency histogram;
    /// not kept across a checkpoint.
    #[serde(skip_serializing)]
    arrived: Option<Instant>,
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
            arrived: None,
        }
    }
}

impl Pending {
    fn new(event: Event, arrived: Option<Instant>) -> Pending {
        Pending {
            nanos: nanos_of(event.occurred_at.to_utc()),
            ty: event.event_type(),
            event: Box::new(event),
            arrived,
        }
    }

    fn nanos_exact(&self) -> bool {
        exact(self.nanos)
    }

    fn time(&self) -> DateTime<Utc> {
        if self.nanos_exact() {
            DateTime::from_timestamp_nanos(self.nanos)
        } else {
            self.event.occurred_at.to_utc()
        }
    }
}

/// A watermark as the buffer compares against it.
pub(crate) struct Cutoff {
    at: DateTime<Utc>,
    /// `None` where nanoseconds cannot hold it exactly.
    nanos: Option<i64>,
}

impl Cutoff {
    pub fn new(at: DateTime<Utc>) -> Cutoff {
        let n = nanos_of(at);
        Cutoff {
            at,
            nanos: exact(n).then_some(n),
        }
    }
}

/// Nanoseconds since 1970, saturating outside what an `i64` holds.
pub(crate) fn nanos_of(t: DateTime<Utc>) -> i64 {
    t.timestamp()
        .saturating_mul(NANOS_PER_S)
        .saturating_add(i64::from(t.timestamp_subsec_nanos()))
}

/// Near either end the nanoseconds may have saturated (a time before 1677 or
/// after 2262); the date-time itself holds then.
fn exact(nanos: i64) -> bool {
    nanos >= i64::MIN + NANOS_PER_S && nanos != i64::MAX
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
    pub fn push(&mut self, e: Event, arrived: Option<Instant>) {
        self.heap.push(Reverse(Pending::new(e, arrived)));
    }

    pub fn peek_time(&self) -> Option<DateTime<Utc>> {
        self.heap.peek().map(|Reverse(p)| p.time())
    }

    /// Whether the next event is before the watermark `w`: compared in
    /// nanoseconds, since making a date-time of them costs a calendar
    /// conversion on every event.
    pub fn next_before(&self, w: &Cutoff) -> bool {
        self.heap.peek().is_some_and(|Reverse(p)| match w.nanos {
            Some(wn) if p.nanos_exact() => p.nanos < wn,
            _ => p.time() < w.at,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    pub fn pop(&mut self) -> Option<(Event, Option<Instant>)> {
        self.heap.pop().map(|Reverse(p)| (*p.event, p.arrived))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::EventBody;

    fn event(id: &str, at: &str, body: EventBody) -> Event {
        Event {
            event_id: id.into(),
            occurred_at: DateTime::parse_from_rfc3339(at).unwrap(),
            transaction_id: "T".into(),
            office_id: "K".into(),
            service_code: "S".into(),
            officer_id: None,
            body,
        }
    }

    #[test]
    fn peek_time_is_the_event_time_even_where_nanoseconds_saturate() {
        for at in [
            "2026-03-02T09:15:00.123456789+07:00",
            "1500-01-01T00:00:00.5+00:00",
            "9000-01-01T00:00:00+00:00",
        ] {
            let mut b = ReorderBuffer::default();
            b.push(event("E", at, EventBody::Cancelled), None);
            let want = DateTime::parse_from_rfc3339(at).unwrap().to_utc();
            assert_eq!(b.peek_time(), Some(want), "{at}");
        }
    }

    #[test]
    fn next_before_agrees_with_the_event_time_at_every_range() {
        for (at, w, before) in [
            (
                "2026-03-02T09:15:00.5+07:00",
                "2026-03-02T02:15:00.500000001Z",
                true,
            ),
            (
                "2026-03-02T09:15:00.5+07:00",
                "2026-03-02T02:15:00.5Z",
                false,
            ),
            ("1500-01-01T00:00:00+00:00", "1500-01-01T00:00:01Z", true),
            ("1500-01-01T00:00:01+00:00", "1500-01-01T00:00:00Z", false),
            ("1500-01-01T00:00:00+00:00", "2026-01-01T00:00:00Z", true),
            ("9000-01-01T00:00:00+00:00", "9000-01-01T00:00:01Z", true),
            ("9000-01-01T00:00:01+00:00", "9000-01-01T00:00:00Z", false),
            ("2026-01-01T00:00:00+00:00", "9000-01-01T00:00:00Z", true),
        ] {
            let mut b = ReorderBuffer::default();
            assert!(!b.next_before(&Cutoff::new(
                DateTime::parse_from_rfc3339(w).unwrap().to_utc()
            )));
            b.push(event("E", at, EventBody::Cancelled), None);
            let cutoff = Cutoff::new(DateTime::parse_from_rfc3339(w).unwrap().to_utc());
            assert_eq!(b.next_before(&cutoff), before, "{at} before {w}");
        }
    }

    #[test]
    fn leaves_in_time_then_lifecycle_then_id_order() {
        let t = "2026-03-02T09:15:00+07:00";
        let mut b = ReorderBuffer::default();
        b.push(event("b", t, EventBody::Cancelled), None);
        b.push(
            event("z", "2026-03-02T09:14:59+07:00", EventBody::Cancelled),
            None,
        );
        b.push(event("a", t, EventBody::Cancelled), None);
        b.push(
            event(
                "y",
                t,
                EventBody::Completed {
                    outcome: crate::decode::Outcome::Issued,
                },
            ),
            None,
        );
        let order: Vec<String> = std::iter::from_fn(|| b.pop())
            .map(|(e, _)| e.event_id.to_string())
            .collect();
        assert_eq!(order, ["z", "y", "a", "b"]);
    }
}
