//! `unofficial_channel`: a payment to someone other than the official account,
//! or in cash for a service that must be paid without cash.

use crate::alerts::{Scope, Severity, rupiah};
use crate::decode::{Method, Payee};
use crate::figures;
use crate::state::TxnState;

use super::fees::{payment_event, this_payment};
use super::{Finality, Finding, Render, Rendered, RuleCtx, TxnRule, Typology, TypologyDef};

pub const DEF: TypologyDef = TypologyDef {
    name: "unofficial_channel",
    severity: Severity::High,
    scope: Scope::Transaction,
    irregular: true,
    finality: Finality::OnArrival,
    transaction: Some(TxnRule {
        triggered_by: payment_event,
        check: unofficial_channel,
    }),
};

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
