//! `fee_on_free_service`: a payment for a service that is free by law.

use crate::alerts::{Scope, Severity, rupiah};
use crate::figures;
use crate::state::TxnState;

use super::fees::{expected_fee, fee_event};
use super::{Finality, Finding, Render, Rendered, RuleCtx, TxnRule, Typology, TypologyDef};

pub const DEF: TypologyDef = TypologyDef {
    name: "fee_on_free_service",
    severity: Severity::Critical,
    scope: Scope::Transaction,
    irregular: true,
    finality: Finality::OnArrival,
    transaction: Some(TxnRule {
        triggered_by: fee_event,
        check: fee_on_free_service,
    }),
};

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
