//! `fee_above_tariff`: the total paid exceeds the expected fee plus the
//! tolerance.

use serde::Deserialize;

use crate::alerts::{Scope, Severity, rupiah};
use crate::figures;
use crate::state::TxnState;

use super::fees::{expected_fee, fee_event};
use super::{Finality, Finding, Render, Rendered, RuleCtx, TxnRule, Typology, TypologyDef};

pub const DEF: TypologyDef = TypologyDef {
    name: "fee_above_tariff",
    severity: Severity::High,
    scope: Scope::Transaction,
    irregular: true,
    finality: Finality::OnArrival,
    transaction: Some(TxnRule {
        triggered_by: fee_event,
        check: fee_above_tariff,
    }),
};

/// `[parameters]` of this typology (per service too: `[parameters.services.X]`).
#[derive(Debug, Clone, Deserialize)]
pub struct Params {
    #[serde(default = "default_fee_tolerance")]
    pub fee_tolerance_idr: u64,
}

fn default_fee_tolerance() -> u64 {
    5_000
}

impl Default for Params {
    fn default() -> Self {
        Params {
            fee_tolerance_idr: default_fee_tolerance(),
        }
    }
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
