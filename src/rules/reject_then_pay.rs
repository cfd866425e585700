//! `reject_then_pay`: an application returned or rejected, then an irregular
//! payment, then approval or issuance, all within the window.

use chrono::Duration;
use serde::Deserialize;

use crate::alerts::{Scope, Severity, format_time};
use crate::decode::{EventBody, Outcome, Status};
use crate::figures;
use crate::state::{Mark, TxnState};

use super::{
    Finality, Finding, Render, Rendered, RuleCtx, TxnRule, Typology, TypologyDef, any_event, fees,
};

pub const DEF: TypologyDef = TypologyDef {
    name: "reject_then_pay",
    severity: Severity::High,
    scope: Scope::Transaction,
    irregular: false,
    finality: Finality::OnArrival,
    transaction: Some(TxnRule {
        triggered_by: any_event,
        check: reject_then_pay,
    }),
};

#[derive(Debug, Clone, Deserialize)]
pub struct Params {
    /// From the rejection to the approval.
    #[serde(with = "humantime_serde", default = "default_window")]
    pub reject_then_pay_window: std::time::Duration,
}

fn default_window() -> std::time::Duration {
    std::time::Duration::from_secs(30 * 86_400)
}

impl Default for Params {
    fn default() -> Self {
        Params {
            reject_then_pay_window: default_window(),
        }
    }
}

/// Updates the pending rejection→payment pair after a payment was folded in.
pub fn observe(ctx: &RuleCtx<'_>, state: &mut TxnState) {
    if !matches!(ctx.event.body, EventBody::Payment(_)) {
        return;
    }
    let Some(reject) = state.last_reject.clone() else {
        return;
    };
    if reject.at <= ctx.event.occurred_at && fees::payment_is_irregular(ctx, state) {
        state.reject_then_pay = Some((reject, Mark::of(ctx.event)));
    }
}

pub fn reject_then_pay(ctx: &RuleCtx<'_>, state: &TxnState) -> Option<Finding> {
    let approving = match &ctx.event.body {
        EventBody::StatusChanged(s) => s.status == Status::Approved,
        EventBody::Completed { outcome } => *outcome == Outcome::Issued,
        _ => false,
    };
    if !approving {
        return None;
    }
    let (reject, payment) = state.reject_then_pay.as_ref()?;
    let window = Duration::from_std(ctx.params.reject_then_pay.reject_then_pay_window).unwrap_or(Duration::MAX);
    let at = ctx.event.occurred_at;
    if at < payment.at || at - reject.at > window {
        return None;
    }
    let amount = state
        .payments
        .iter()
        .find(|p| p.mark.event_id == payment.event_id)
        .map(|p| p.amount)
        .unwrap_or(0);
    let (rejected_at, paid_at) = (reject.at, payment.at);
    Some(Finding {
        typology: Typology::RejectThenPay,
        severity: None,
        event_time: at,
        related_transaction_id: None,
        evidence: vec![
            reject.event_id.clone(),
            payment.event_id.clone(),
            ctx.event.event_id.clone(),
        ],
        render: Render::new(move |s| Rendered {
            observed: figures! {
                "rejected_at": format_time(rejected_at),
                "irregular_payment_at": format_time(paid_at),
                "irregular_payment_amount": amount,
                "approved_at": format_time(at),
            },
            expected: figures! {"window_days": window.num_days(), "irregular_payment_between": false},
            summary_id: format!(
                "Permohonan {} dikembalikan/ditolak, lalu ada pembayaran tidak wajar {}, lalu disetujui (transaksi {}, kantor {}).",
                s.service_code,
                crate::alerts::rupiah(amount),
                s.transaction_id,
                s.office_id
            ),
            summary_en: format!(
                "{} was returned or rejected, then an irregular payment of {} was made, then it was approved (transaction {}, office {}).",
                s.service_code,
                crate::alerts::rupiah(amount),
                s.transaction_id,
                s.office_id
            ),
        }),
    })
}
