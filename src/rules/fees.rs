//! What the fee typologies share: the expected fee, the payment an event
//! carries, and which payments are irregular by themselves.

use crate::decode::{EventBody, Payee, Payment};
use crate::reference::{Service, Tariff};
use crate::state::TxnState;

use super::RuleCtx;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeeSource {
    AssessedFee,
    Catalogue,
}

impl FeeSource {
    pub fn as_str(self) -> &'static str {
        match self {
            FeeSource::AssessedFee => "assessed_fee",
            FeeSource::Catalogue => "catalogue",
        }
    }
}

/// The expected fee (typologies.md): the submission's `assessed_fee` when present,
/// else the catalogue tariff. Unknown for an unknown service, or for one billed per
/// case whose submission carried no assessment.
pub fn expected_fee(state: &TxnState, service: Option<&Service>) -> Option<(u64, FeeSource)> {
    if let Some(fee) = state.submitted.as_ref().and_then(|s| s.assessed_fee) {
        return Some((fee, FeeSource::AssessedFee));
    }
    match service?.tariff {
        Tariff::Fixed(fee) => Some((fee, FeeSource::Catalogue)),
        Tariff::Assessed => None,
    }
}

pub(super) fn this_payment<'a>(ctx: &'a RuleCtx<'_>) -> Option<&'a Payment> {
    match &ctx.event.body {
        EventBody::Payment(p) => Some(p),
        _ => None,
    }
}

/// A submission (it may set the expected fee) or a payment.
pub(super) fn fee_event(body: &EventBody) -> bool {
    matches!(body, EventBody::Payment(_) | EventBody::Submitted(_))
}

pub(super) fn payment_event(body: &EventBody) -> bool {
    matches!(body, EventBody::Payment(_))
}

/// Whether the payment just folded into `state` is irregular by itself, as
/// `reject_then_pay` defines it.
pub fn payment_is_irregular(ctx: &RuleCtx<'_>, state: &TxnState) -> bool {
    let Some(p) = this_payment(ctx) else {
        return false;
    };
    if p.payee == Payee::Other || p.receipt_no.is_none() {
        return true;
    }
    match expected_fee(state, ctx.service) {
        Some((0, _)) => true,
        Some((fee, _)) => {
            state.total_paid > fee.saturating_add(ctx.params.fee_tolerance(&state.service_code))
        }
        None => false,
    }
}
