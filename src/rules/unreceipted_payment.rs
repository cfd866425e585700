//! `unreceipted_payment`: a payment without an official receipt number.

use crate::alerts::{Scope, Severity, rupiah};
use crate::figures;
use crate::state::TxnState;

use super::fees::{payment_event, this_payment};
use super::{Finality, Finding, Render, Rendered, RuleCtx, TxnRule, Typology, TypologyDef};

pub const DEF: TypologyDef = TypologyDef {
    name: "unreceipted_payment",
    severity: Severity::Medium,
    scope: Scope::Transaction,
    irregular: false,
    finality: Finality::OnArrival,
    transaction: Some(TxnRule {
        triggered_by: payment_event,
        check: unreceipted_payment,
    }),
};

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
