//! `sla_breach`: a transaction completed after its deadline (the legal service
//! standard, in working days or hours).

use crate::alerts::{Scope, Severity, format_time};
use crate::decode::EventBody;
use crate::figures;
use crate::state::TxnState;

use super::{Finality, Finding, Render, Rendered, RuleCtx, TxnRule, Typology, TypologyDef, any_event};

pub const DEF: TypologyDef = TypologyDef {
    name: "sla_breach",
    severity: Severity::Medium,
    scope: Scope::Transaction,
    irregular: false,
    finality: Finality::OnArrival,
    transaction: Some(TxnRule {
        triggered_by: any_event,
        check: sla_breach,
    }),
};

fn hours(d: chrono::Duration) -> f64 {
    (d.num_seconds() as f64 / 360.0).round() / 10.0
}

pub fn sla_breach(ctx: &RuleCtx<'_>, state: &TxnState) -> Option<Finding> {
    if !matches!(
        ctx.event.body,
        EventBody::Completed { .. } | EventBody::Submitted(_)
    ) {
        return None;
    }
    let closure = state.closed.as_ref()?;
    closure.outcome?;
    let deadline = state.deadline?;
    let submitted = state.submitted.as_ref()?;
    let service = ctx.service?;
    let completed_at = closure.mark.at.to_utc();
    if completed_at <= deadline {
        return None;
    }
    let allowed = deadline - submitted.mark.at.to_utc();
    let late_by = completed_at - deadline;
    let duration = completed_at - submitted.mark.at.to_utc();
    let severity = (late_by > allowed).then_some(Severity::High);
    let local_deadline = ctx.office.zone.local(deadline);
    let completed_local = closure.mark.at;
    let sla = service.sla;
    Some(Finding {
        typology: Typology::SlaBreach,
        severity,
        event_time: closure.mark.at,
        related_transaction_id: None,
        evidence: vec![
            submitted.mark.event_id.clone(),
            closure.mark.event_id.clone(),
        ],
        render: Render::new(move |s| {
            let local_deadline = format_time(local_deadline);
            Rendered {
                observed: figures! {
                    "completed_at": format_time(completed_local),
                    "duration_s": duration.num_seconds(),
                    "late_by_s": late_by.num_seconds(),
                },
                expected: figures! {
                    "deadline": local_deadline,
                    "sla": sla.describe_en(),
                    "allowed_duration_s": allowed.num_seconds(),
                },
                summary_id: format!(
                    "Layanan {} selesai {} jam melewati batas waktu {} (standar {}) (transaksi {}, kantor {}).",
                    s.service_code,
                    hours(late_by),
                    local_deadline,
                    sla.describe_id(),
                    s.transaction_id,
                    s.office_id
                ),
                summary_en: format!(
                    "{} was completed {} hours after its deadline of {} (standard: {}) (transaction {}, office {}).",
                    s.service_code,
                    hours(late_by),
                    local_deadline,
                    sla.describe_en(),
                    s.transaction_id,
                    s.office_id
                ),
            }
        }),
    })
}
