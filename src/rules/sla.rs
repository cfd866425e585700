//! Service-standard typologies: `sla_breach` (completed late) and `overdue_open`
//! (the watermark passed the deadline while the transaction was still open).

use chrono::{DateTime, Utc};

use crate::alerts::{Severity, format_time};
use crate::decode::EventBody;
use crate::figures;
use crate::reference::Service;
use crate::state::TxnState;
use crate::time::Zone;

use super::{Finding, Render, Rendered, RuleCtx, TxnRule, Typology, any_event};

pub const SLA_BREACH: TxnRule = TxnRule {
    typology: Typology::SlaBreach,
    triggered_by: any_event,
    check: sla_breach,
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

/// Fired by the watermark at the deadline: the alert's time is the deadline itself,
/// so it does not depend on which event moved the watermark.
pub fn overdue_open(
    state: &TxnState,
    deadline: DateTime<Utc>,
    zone: Zone,
    service: &Service,
) -> Option<Finding> {
    let submitted = state.submitted.as_ref()?;
    let due = zone.local(deadline);
    let last_status = state.last_status.as_ref().map(|(s, _)| s.as_str());
    let mut evidence = vec![submitted.mark.event_id.clone()];
    if let Some((_, m)) = &state.last_status {
        evidence.push(m.event_id.clone());
    }
    let submitted_at = submitted.mark.at;
    let sla = service.sla;
    Some(Finding {
        typology: Typology::OverdueOpen,
        severity: None,
        event_time: due,
        related_transaction_id: None,
        evidence,
        render: Render::new(move |s| Rendered {
            observed: figures! {"state": "open", "last_status": last_status, "submitted_at": format_time(submitted_at)},
            expected: figures! {"deadline": format_time(due), "sla": sla.describe_en()},
            summary_id: format!(
                "Permohonan {} belum selesai saat batas waktu {} terlewati (standar {}) (transaksi {}, kantor {}).",
                s.service_code,
                format_time(due),
                sla.describe_id(),
                s.transaction_id,
                s.office_id
            ),
            summary_en: format!(
                "{} was still open when its deadline of {} passed (standard: {}) (transaction {}, office {}).",
                s.service_code,
                format_time(due),
                sla.describe_en(),
                s.transaction_id,
                s.office_id
            ),
        }),
    })
}
