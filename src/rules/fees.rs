//! Fee typologies: `fee_on_free_service`, `fee_above_tariff`, `unreceipted_payment`,
//! `unofficial_channel`.

use crate::alerts::rupiah;
use crate::decode::{EventBody, Method, Payee, Payment};
use crate::figures;
use crate::reference::{Service, Tariff};
use crate::state::TxnState;

use super::{Finding, Render, Rendered, RuleCtx, TxnRule, Typology};

/// A submission (it may set the expected fee) or a payment.
fn fee_event(body: &EventBody) -> bool {
    matches!(body, EventBody::Payment(_) | EventBody::Submitted(_))
}

fn payment_event(body: &EventBody) -> bool {
    matches!(body, EventBody::Payment(_))
}

pub const FEE_ON_FREE_SERVICE: TxnRule = TxnRule {
    typology: Typology::FeeOnFreeService,
    triggered_by: fee_event,
    check: fee_on_free_service,
};

pub const FEE_ABOVE_TARIFF: TxnRule = TxnRule {
    typology: Typology::FeeAboveTariff,
    triggered_by: fee_event,
    check: fee_above_tariff,
};

pub const UNRECEIPTED_PAYMENT: TxnRule = TxnRule {
    typology: Typology::UnreceiptedPayment,
    triggered_by: payment_event,
    check: unreceipted_payment,
};

pub const UNOFFICIAL_CHANNEL: TxnRule = TxnRule {
    typology: Typology::UnofficialChannel,
    triggered_by: payment_event,
    check: unofficial_channel,
};

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

fn this_payment<'a>(ctx: &'a RuleCtx<'_>) -> Option<&'a Payment> {
    match &ctx.event.body {
        EventBody::Payment(p) => Some(p),
        _ => None,
    }
}

pub fn fee_on_free_service(ctx: &RuleCtx<'_>, state: &TxnState) -> Option<Finding> {
    let (expected, source) = expected_fee(state, ctx.service)?;
    if expected != 0 || state.total_paid == 0 {
        return None;
    }
    let (total_paid, payment_count) = (state.total_paid, state.payment_count);
    Some(Finding {
        typology: Typology::FeeOnFreeService,
        severity: None,
        event_time: ctx.event.occurred_at,
        related_transaction_id: None,
        evidence: state.fee_evidence(),
        render: Render::new(move |s| {
            let paid = rupiah(total_paid);
            Rendered {
                observed: figures! {"total_paid": total_paid, "payment_count": payment_count},
                expected: figures! {"expected_fee": 0, "fee_source": source.as_str()},
                summary_id: format!(
                    "Pembayaran {paid} tercatat untuk layanan {} yang seharusnya gratis (transaksi {}, kantor {}).",
                    s.service_code, s.transaction_id, s.office_id
                ),
                summary_en: format!(
                    "{paid} was paid for {}, a service that should cost nothing (transaction {}, office {}).",
                    s.service_code, s.transaction_id, s.office_id
                ),
            }
        }),
    })
}

pub fn fee_above_tariff(ctx: &RuleCtx<'_>, state: &TxnState) -> Option<Finding> {
    let (expected, source) = expected_fee(state, ctx.service)?;
    let tolerance = ctx.params.fee_tolerance(&state.service_code);
    if expected == 0 || state.total_paid <= expected.saturating_add(tolerance) {
        return None;
    }
    let (total_paid, payment_count) = (state.total_paid, state.payment_count);
    let excess = total_paid - expected;
    Some(Finding {
        typology: Typology::FeeAboveTariff,
        severity: None,
        event_time: ctx.event.occurred_at,
        related_transaction_id: None,
        evidence: state.fee_evidence(),
        render: Render::new(move |s| Rendered {
            observed: figures! {"total_paid": total_paid, "excess_idr": excess, "payment_count": payment_count},
            expected: figures! {"expected_fee": expected, "fee_source": source.as_str(), "fee_tolerance_idr": tolerance},
            summary_id: format!(
                "Total pembayaran {} melebihi tarif resmi {} sebesar {} untuk layanan {} (transaksi {}, kantor {}).",
                rupiah(total_paid),
                rupiah(expected),
                rupiah(excess),
                s.service_code,
                s.transaction_id,
                s.office_id
            ),
            summary_en: format!(
                "{} was paid against an official fee of {}, {} too much, for {} (transaction {}, office {}).",
                rupiah(total_paid),
                rupiah(expected),
                rupiah(excess),
                s.service_code,
                s.transaction_id,
                s.office_id
            ),
        }),
    })
}

pub fn unreceipted_payment(ctx: &RuleCtx<'_>, _state: &TxnState) -> Option<Finding> {
    let p = this_payment(ctx)?;
    if p.receipt_no.is_some() {
        return None;
    }
    let (amount, method, payee) = (p.amount, p.method, p.payee);
    Some(Finding {
        typology: Typology::UnreceiptedPayment,
        severity: None,
        event_time: ctx.event.occurred_at,
        related_transaction_id: None,
        evidence: vec![ctx.event.event_id.clone()],
        render: Render::new(move |s| {
            let paid = rupiah(amount);
            Rendered {
                observed: figures! {"amount": amount, "method": method.as_str(), "payee": payee.as_str(), "receipt_no": serde_json::Value::Null},
                expected: figures! {"receipt_no": "an official receipt or billing proof number"},
                summary_id: format!(
                    "Pembayaran {paid} ({method}) tanpa nomor kuitansi resmi untuk layanan {} (transaksi {}, kantor {}).",
                    s.service_code, s.transaction_id, s.office_id
                ),
                summary_en: format!(
                    "A payment of {paid} ({method}) has no official receipt number, for {} (transaction {}, office {}).",
                    s.service_code, s.transaction_id, s.office_id
                ),
            }
        }),
    })
}

pub fn unofficial_channel(ctx: &RuleCtx<'_>, _state: &TxnState) -> Option<Finding> {
    let p = this_payment(ctx)?;
    let non_cash = ctx.service.is_some_and(|s| s.non_cash_required);
    let other_payee = p.payee == Payee::Other;
    let forbidden_cash = p.method == Method::Cash && non_cash;
    if !other_payee && !forbidden_cash {
        return None;
    }
    let (amount, method, payee) = (p.amount, p.method, p.payee);
    Some(Finding {
        typology: Typology::UnofficialChannel,
        severity: None,
        event_time: ctx.event.occurred_at,
        related_transaction_id: None,
        evidence: vec![ctx.event.event_id.clone()],
        render: Render::new(move |s| {
            let paid = rupiah(amount);
            let (why_id, why_en) = if other_payee {
                (
                    "dibayarkan kepada pihak selain kas/rekening resmi",
                    "was paid to someone other than the official account",
                )
            } else {
                (
                    "dibayar tunai padahal layanan ini wajib non-tunai",
                    "was paid in cash although this service requires non-cash payment",
                )
            };
            Rendered {
                observed: figures! {"amount": amount, "payee": payee.as_str(), "method": method.as_str()},
                expected: figures! {"payee": "official", "non_cash_required": non_cash},
                summary_id: format!(
                    "Sebesar {paid} {why_id} untuk layanan {} (transaksi {}, kantor {}).",
                    s.service_code, s.transaction_id, s.office_id
                ),
                summary_en: format!(
                    "{paid} {why_en}, for {} (transaction {}, office {}).",
                    s.service_code, s.transaction_id, s.office_id
                ),
            }
        }),
    })
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
