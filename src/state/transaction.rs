//! Per-transaction state, keyed by `transaction_id`. Serde-serialisable so a
//! checkpoint can hold it.

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use super::BaselineSnapshot;
use crate::decode::{Channel, Event, EventBody, EventTime, Method, Outcome, Payee, Status};

/// A transaction keeps at most this many payments as evidence; totals still count
/// every payment, so a flood of tiny payments cannot grow one state without bound.
pub const MAX_TRACKED_PAYMENTS: usize = 64;

/// One event remembered as evidence: when, and which.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub at: EventTime,
    pub event_id: CompactString,
}

impl Mark {
    pub fn of(e: &Event) -> Mark {
        Mark {
            at: e.occurred_at,
            event_id: e.event_id.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmittedInfo {
    pub mark: Mark,
    pub channel: Channel,
    pub applicant_ref: CompactString,
    pub agent_ref: Option<CompactString>,
    pub assessed_fee: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PaymentRecord {
    pub mark: Mark,
    pub amount: u64,
    pub method: Method,
    pub payee: Payee,
    pub receipt_no: Option<CompactString>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Closure {
    pub mark: Mark,
    /// `None` for a cancellation.
    pub outcome: Option<Outcome>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TxnState {
    pub office_id: CompactString,
    pub service_code: CompactString,
    pub submitted: Option<SubmittedInfo>,
    pub payments: Vec<PaymentRecord>,
    pub payment_count: u32,
    pub total_paid: u64,
    pub last_status: Option<(Status, Mark)>,
    /// The latest `returned`/`rejected` status, for `reject_then_pay`.
    pub last_reject: Option<Mark>,
    /// A rejection followed by an irregular payment, waiting for an approval.
    pub reject_then_pay: Option<(Mark, Mark)>,
    pub closed: Option<Closure>,
    pub deadline: Option<DateTime<Utc>>,
    pub last_officer: Option<CompactString>,
    pub last_event_at: DateTime<Utc>,
    /// Bit set of built-in typologies already alerted for this transaction.
    pub fired: u32,
    /// Custom rules (by index) already alerted for this transaction.
    pub custom_fired: Vec<u16>,
    /// Rupiah above the expected fee already counted in the excess-fee metric.
    pub excess_counted: u64,
    /// Officer of the first `completed` event.
    #[serde(default)]
    pub completed_by: Option<CompactString>,
    /// The (office, service) duration baseline as it stood at an `issued`
    /// completion, so irregularity found later is judged against the same figure.
    #[serde(default)]
    pub baseline: Option<BaselineSnapshot>,
    /// Start of the officer window this transaction's `issued` completion counts in.
    #[serde(default)]
    pub officer_week: Option<DateTime<Utc>>,
}

/// `*to = from.clone()`, skipped when they are already equal: a long id lives
/// on the heap, and it is usually the one already held.
fn assign<T: PartialEq + Clone>(to: &mut T, from: &T) {
    if to != from {
        *to = from.clone();
    }
}

impl TxnState {
    pub fn new(e: &Event) -> TxnState {
        TxnState {
            office_id: e.office_id.clone(),
            service_code: e.service_code.clone(),
            submitted: None,
            payments: Vec::new(),
            payment_count: 0,
            total_paid: 0,
            last_status: None,
            last_reject: None,
            reject_then_pay: None,
            closed: None,
            deadline: None,
            last_officer: None,
            last_event_at: e.occurred_at.to_utc(),
            fired: 0,
            custom_fired: Vec::new(),
            excess_counted: 0,
            completed_by: None,
            baseline: None,
            officer_week: None,
        }
    }

    /// Folds one event into the state. Rules read the result; they are evaluated
    /// separately so that state changes and judgements stay apart.
    pub fn apply(&mut self, e: &Event) {
        let at = e.occurred_at.to_utc();
        if at > self.last_event_at {
            self.last_event_at = at;
        }
        if e.officer_id.is_some() {
            assign(&mut self.last_officer, &e.officer_id);
        }
        match &e.body {
            EventBody::Submitted(s) => {
                // The submission defines where the transaction is served.
                assign(&mut self.office_id, &e.office_id);
                assign(&mut self.service_code, &e.service_code);
                self.submitted = Some(SubmittedInfo {
                    mark: Mark::of(e),
                    channel: s.channel,
                    applicant_ref: s.applicant_ref.clone(),
                    agent_ref: s.agent_ref.clone(),
                    assessed_fee: s.assessed_fee,
                });
            }
            EventBody::Payment(p) => {
                self.payment_count += 1;
                self.total_paid = self.total_paid.saturating_add(p.amount);
                if self.payments.len() < MAX_TRACKED_PAYMENTS {
                    self.payments.push(PaymentRecord {
                        mark: Mark::of(e),
                        amount: p.amount,
                        method: p.method,
                        payee: p.payee,
                        receipt_no: p.receipt_no.clone(),
                    });
                }
            }
            EventBody::StatusChanged(s) => {
                if matches!(s.status, Status::Returned | Status::Rejected) {
                    self.last_reject = Some(Mark::of(e));
                }
                self.last_status = Some((s.status, Mark::of(e)));
            }
            EventBody::Completed { outcome } => {
                if self.closed.is_none() {
                    self.completed_by = e.officer_id.clone();
                    self.closed = Some(Closure {
                        mark: Mark::of(e),
                        outcome: Some(*outcome),
                    });
                }
            }
            EventBody::Cancelled => {
                if self.closed.is_none() {
                    self.closed = Some(Closure {
                        mark: Mark::of(e),
                        outcome: None,
                    });
                }
            }
        }
    }

    pub fn is_open(&self) -> bool {
        self.closed.is_none()
    }

    pub fn has_fired(&self, bit: u32) -> bool {
        self.fired & bit != 0
    }

    /// Whether the first closure was an `issued` completion.
    pub fn issued(&self) -> bool {
        self.closed
            .as_ref()
            .is_some_and(|c| c.outcome == Some(Outcome::Issued))
    }

    /// Ids of the submission and the tracked payments, in event-time order.
    pub fn fee_evidence(&self) -> Vec<CompactString> {
        let mut ids: Vec<CompactString> = Vec::with_capacity(self.payments.len() + 1);
        if let Some(s) = &self.submitted {
            ids.push(s.mark.event_id.clone());
        }
        ids.extend(self.payments.iter().map(|p| p.mark.event_id.clone()));
        ids
    }
}
