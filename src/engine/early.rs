//! Early verdicts: transaction-scoped typologies judged when an event arrives,
//! not when the watermark passes it.
//!
//! A verdict that reads only its own transaction's events is final on arrival
//! once every earlier event of that transaction has arrived. No engine can know
//! that from the stream alone (an earlier payment may still be on its way, and
//! it would be the alert's trigger), so early verdicts rest on one stated
//! guarantee: each transaction's events arrive in event-time order, as they do
//! when one system publishes them as they happen, keyed by `transaction_id`
//! (docs/alerts.md, "When an alert fires"). Under it, a shadow of the
//! transaction's state, folded in arrival order, is exactly the state that the
//! watermark-ordered evaluation will have at the same event, so the alert made
//! from it is the same alert, byte for byte.
//!
//! The guarantee is checked, not trusted: an event that arrives behind a later
//! one of its own transaction stops early verdicts for that transaction until
//! the watermark catches up, and every early alert is confirmed against the
//! watermark-ordered evaluation; a mismatch is counted and logged.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::TxnMap;
use crate::decode::{Event, EventTime};
use crate::metrics::Metrics;
use crate::rules::Finding;
use crate::state::TxnState;

/// An event's place in the engine's total order: (seconds, nanoseconds,
/// lifecycle position of its type, id), as [`Event::order_key`] gives it.
type OrderKey = (i64, u32, u8, CompactString);

fn order_key(e: &Event) -> OrderKey {
    let (s, n, ty, _) = e.order_key();
    (s, n, ty as u8, e.event_id.clone())
}

/// An alert fired early, remembered until the watermark-ordered evaluation
/// reaches its trigger.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Fired {
    bit: u32,
    event_time: EventTime,
    evidence: Vec<CompactString>,
    /// The officer and agent the alert names: they come from the state, not
    /// only from the evidence.
    officer_id: Option<CompactString>,
    agent_ref: Option<CompactString>,
    confirmed: bool,
}

impl Fired {
    fn matches(&self, f: &Finding, officer_id: Option<&CompactString>, state: &TxnState) -> bool {
        self.event_time == f.event_time
            && self.evidence == f.evidence
            && self.officer_id.as_ref() == officer_id
            && self.agent_ref.as_ref() == agent_of(state)
    }
}

fn agent_of(state: &TxnState) -> Option<&CompactString> {
    state.submitted.as_ref().and_then(|s| s.agent_ref.as_ref())
}

/// One transaction while it has events waiting in the reorder buffer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Shadow {
    /// The transaction's state with every arrived event folded in.
    pub state: Box<TxnState>,
    last: OrderKey,
    /// Latest event time (ns) of this transaction in the reorder buffer.
    until: i64,
    /// An event arrived out of order: no early verdicts until released.
    broken: bool,
    fired: Vec<Fired>,
}

impl Shadow {
    /// Remembers an alert made early from this shadow; `officer_id` is the
    /// one the alert names.
    pub fn record(&mut self, f: &Finding, officer_id: Option<&CompactString>) {
        self.state.fired |= f.typology.bit();
        self.fired.push(Fired {
            bit: f.typology.bit(),
            event_time: f.event_time,
            evidence: f.evidence.clone(),
            officer_id: officer_id.cloned(),
            agent_ref: agent_of(&self.state).cloned(),
            confirmed: false,
        });
    }
}

/// The shadows, and when each may be dropped.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub(crate) struct Early {
    shadows: HashMap<CompactString, Shadow, ahash::RandomState>,
    /// (event time ns, transaction): a shadow is dropped once the watermark is
    /// past its latest buffered event. Entries made stale by a later event are
    /// skipped when they come up.
    release: BinaryHeap<Reverse<(i64, CompactString)>>,
}

impl Early {
    /// The shadow an arriving (not late) event is judged in, with the event
    /// not yet folded in; `None` when its transaction's events are out of order.
    /// `processed` is the transaction's state as the watermark-ordered
    /// evaluation holds it, which a new shadow starts from: by then it has
    /// processed every event of the transaction that arrived before.
    pub fn arrive(
        &mut self,
        event: &Event,
        nanos: i64,
        processed: Option<&TxnState>,
        metrics: &Metrics,
    ) -> Option<&mut Shadow> {
        let key = order_key(event);
        let shadow = self
            .shadows
            .entry(event.transaction_id.clone())
            .or_insert_with(|| Shadow {
                state: Box::new(processed.cloned().unwrap_or_else(|| TxnState::new(event))),
                last: (i64::MIN, 0, 0, CompactString::default()),
                until: i64::MIN,
                broken: false,
                fired: Vec::new(),
            });
        if nanos > shadow.until {
            shadow.until = nanos;
            self.release
                .push(Reverse((nanos, event.transaction_id.clone())));
        }
        if shadow.broken {
            return None;
        }
        if key <= shadow.last {
            tracing::debug!(
                "early verdicts stop for transaction {}: event {} arrived after {}",
                event.transaction_id,
                event.event_id,
                shadow.last.3
            );
            shadow.broken = true;
            metrics.early_order_violations_total.inc();
            return None;
        }
        shadow.last = key;
        Some(shadow)
    }

    /// A late event (behind the watermark) was processed at once: the shadow
    /// of its transaction, if any, no longer matches the processed order.
    pub fn late(&mut self, transaction_id: &str, metrics: &Metrics) {
        if let Some(s) = self.shadows.get_mut(transaction_id)
            && !s.broken
        {
            tracing::debug!(
                "early verdicts stop for transaction {transaction_id}: a late event arrived"
            );
            s.broken = true;
            metrics.early_order_violations_total.inc();
        }
    }

    /// The watermark-ordered evaluation made finding `f`: true when it went out
    /// early already (and must not go out again). A difference from the early
    /// alert is counted: the arrival-order guarantee did not hold.
    pub fn confirm(
        &mut self,
        transaction_id: &str,
        f: &Finding,
        officer_id: Option<&CompactString>,
        state: &TxnState,
        metrics: &Metrics,
    ) -> bool {
        let Some(fired) = self
            .shadows
            .get_mut(transaction_id)
            .and_then(|s| s.fired.iter_mut().find(|x| x.bit == f.typology.bit()))
        else {
            return false;
        };
        if fired.confirmed || !fired.matches(f, officer_id, state) {
            metrics.early_alert_mismatches_total.inc();
            tracing::warn!(
                "early {} alert of transaction {transaction_id} differs from the watermark-ordered one: \
                 its events did not arrive in event-time order",
                f.typology.name()
            );
        }
        fired.confirmed = true;
        true
    }

    /// Drops the shadows whose buffered events the watermark has released
    /// (all of them when `before` is `None`: the input ended). An early alert
    /// never confirmed is counted as a mismatch, and its typology marked as
    /// fired so that it is never sent twice.
    pub fn release(&mut self, before: Option<i64>, txns: &mut TxnMap, metrics: &Metrics) {
        while let Some(Reverse((nanos, _))) = self.release.peek() {
            if before.is_some_and(|w| *nanos >= w) {
                break;
            }
            let Some(Reverse((nanos, id))) = self.release.pop() else {
                break;
            };
            let std::collections::hash_map::Entry::Occupied(entry) = self.shadows.entry(id) else {
                continue;
            };
            if entry.get().until != nanos {
                continue;
            }
            let (id, shadow) = entry.remove_entry();
            for f in shadow.fired.iter().filter(|f| !f.confirmed) {
                metrics.early_alert_mismatches_total.inc();
                if let Some(state) = txns.get_mut(&id) {
                    state.fired |= f.bit;
                }
            }
        }
    }

    pub fn len(&self) -> usize {
        self.shadows.len()
    }
}
