//! `overdue_open`: the watermark passed a transaction's deadline while it was
//! still open.

use chrono::{DateTime, Utc};

use crate::alerts::{Scope, Severity, format_time};
use crate::figures;
use crate::reference::Service;
use crate::state::TxnState;
use crate::time::Zone;

use super::{Finality, Finding, Render, Rendered, Typology, TypologyDef};

/// Fired by the engine's deadline timer, not after an event.
pub const DEF: TypologyDef = TypologyDef {
    name: "overdue_open",
    severity: Severity::Medium,
    scope: Scope::Transaction,
    irregular: false,
    finality: Finality::Watermark,
    transaction: None,
};

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
