//! `off_hours_processing`: an approval or issuance by a named officer outside
//! office hours (weekends and holidays entirely outside), for a manual service.

use chrono::Datelike;

use crate::alerts::{Scope, Severity, format_time};
use crate::decode::{EventBody, Outcome, Status};
use crate::figures;
use crate::state::TxnState;

use super::{Finality, Finding, Render, Rendered, RuleCtx, TxnRule, Typology, TypologyDef, any_event};

pub const DEF: TypologyDef = TypologyDef {
    name: "off_hours_processing",
    severity: Severity::Low,
    scope: Scope::Transaction,
    irregular: false,
    finality: Finality::OnArrival,
    transaction: Some(TxnRule {
        triggered_by: any_event,
        check: off_hours_processing,
    }),
};

pub fn off_hours_processing(ctx: &RuleCtx<'_>, _state: &TxnState) -> Option<Finding> {
    let action = match &ctx.event.body {
        EventBody::StatusChanged(s) if s.status == Status::Approved => "approved",
        EventBody::Completed {
            outcome: Outcome::Issued,
        } => "issued",
        _ => return None,
    };
    let officer = ctx.event.officer_id.as_ref()?;
    // An unknown service is not marked automated, so it is judged.
    if ctx.service.is_some_and(|s| s.automated) {
        return None;
    }
    let local = ctx.office.zone.local(ctx.event.occurred_at.to_utc());
    let date = local.date_naive();
    let holiday = ctx
        .reference
        .calendar
        .is_holiday(date, ctx.office.regional_holidays);
    if ctx.office.hours.is_open(local.naive_local(), holiday) {
        return None;
    }
    let working_day = ctx
        .reference
        .calendar
        .is_working_day(date, ctx.office.regional_holidays);
    let officer = officer.clone();
    let hours = ctx.office.hours.clone();
    let zone = ctx.office.zone;
    Some(Finding {
        typology: Typology::OffHoursProcessing,
        severity: None,
        event_time: ctx.event.occurred_at,
        related_transaction_id: None,
        evidence: vec![ctx.event.event_id.clone()],
        render: Render::new(move |s| {
            let when = format_time(local);
            Rendered {
                observed: figures! {
                    "action": action,
                    "local_time": when.clone(),
                    "weekday": local.weekday().to_string(),
                    "is_working_day": working_day,
                    "holiday": holiday,
                },
                expected: figures! {"office_hours": hours.describe(), "time_zone": zone.name()},
                summary_id: format!(
                    "Layanan {} {} oleh petugas {} pada {} ({}), di luar jam kerja (transaksi {}, kantor {}).",
                    s.service_code,
                    if action == "approved" {
                        "disetujui"
                    } else {
                        "diterbitkan"
                    },
                    officer,
                    when,
                    if working_day {
                        "hari kerja"
                    } else {
                        "hari libur/akhir pekan"
                    },
                    s.transaction_id,
                    s.office_id
                ),
                summary_en: format!(
                    "{} was {} by officer {} at {} ({}), outside office hours (transaction {}, office {}).",
                    s.service_code,
                    action,
                    officer,
                    when,
                    if working_day {
                        "a working day"
                    } else {
                        "a weekend or holiday"
                    },
                    s.transaction_id,
                    s.office_id
                ),
            }
        }),
    })
}
