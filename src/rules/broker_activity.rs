//! `broker_activity`: one intermediary ("calo", "biro jasa") filing for many
//! distinct applicants within a short event-time window.

use std::time::Duration;

use compact_str::CompactString;
use serde::Deserialize;

use crate::alerts::{Scope, Severity, format_time};
use crate::figures;
use crate::state::BrokerWindow;

use super::{EntityFinding, Finality, Finding, Render, Rendered, Typology, TypologyDef};

/// Judged by the engine on each submission naming an agent, in the agent's
/// sliding window (state/agents.rs), which spans transactions.
pub const DEF: TypologyDef = TypologyDef {
    name: "broker_activity",
    severity: Severity::Medium,
    scope: Scope::Agent,
    irregular: false,
    finality: Finality::Watermark,
    transaction: None,
};

#[derive(Debug, Clone, Deserialize)]
pub struct Params {
    /// Distinct applicants of one agent within the window.
    #[serde(default = "default_min_applicants")]
    pub broker_min_applicants: u32,
    #[serde(with = "humantime_serde", default = "default_window")]
    pub broker_window: Duration,
    /// No second alert for the same agent within this period.
    #[serde(with = "humantime_serde", default = "default_suppress")]
    pub broker_suppress: Duration,
}

fn default_min_applicants() -> u32 {
    5
}
fn default_window() -> Duration {
    Duration::from_secs(7 * 86_400)
}
fn default_suppress() -> Duration {
    Duration::from_secs(30 * 86_400)
}

impl Default for Params {
    fn default() -> Self {
        Params {
            broker_min_applicants: default_min_applicants(),
            broker_window: default_window(),
            broker_suppress: default_suppress(),
        }
    }
}

/// Builds the finding for a window that reached the threshold. `nth` counts the
/// agent's alerts (1 for the first): the first is keyed by the agent alone, as
/// typologies.md says; later ones (after the suppression period) add the window
/// end so that alert ids stay unique.
pub fn broker_activity(
    agent: &CompactString,
    window: &BrokerWindow,
    nth: u32,
    min_applicants: u32,
    window_days: f64,
) -> EntityFinding {
    let first = window.submissions.first().map_or(window.end, |s| s.at);
    let trigger = window
        .submissions
        .iter()
        .rev()
        .find(|s| s.at == window.end)
        .or(window.submissions.last());
    let office = trigger.map(|s| s.office_id.clone());
    let service = trigger
        .map(|s| s.service_code.clone())
        .filter(|code| window.submissions.iter().all(|s| s.service_code == *code));
    let txns: Vec<&str> = window
        .submissions
        .iter()
        .map(|s| s.transaction_id.as_str())
        .collect();
    let offices = {
        let mut o: Vec<&str> = window
            .submissions
            .iter()
            .map(|s| s.office_id.as_str())
            .collect();
        o.sort_unstable();
        o.dedup();
        o
    };
    let scope_key = if nth <= 1 {
        agent.to_string()
    } else {
        format!("{agent}|{}", format_time(window.end))
    };
    let days = if window_days.fract() == 0.0 {
        format!("{window_days:.0}")
    } else {
        format!("{window_days:.1}")
    };
    EntityFinding {
        finding: Finding {
            typology: Typology::BrokerActivity,
            severity: None,
            event_time: window.end,
            related_transaction_id: None,
            evidence: window
                .submissions
                .iter()
                .map(|s| s.event_id.clone())
                .collect(),
            render: Render::ready(Rendered {
                observed: figures! {
                    "distinct_applicants": window.distinct_applicants,
                    "submissions": window.submissions.len(),
                    "transaction_ids": txns,
                    "offices": offices.clone(),
                },
                expected: figures! {
                    "max_distinct_applicants": min_applicants.saturating_sub(1),
                    "window_days": window_days,
                },
                summary_id: format!(
                    "Perantara {} mengajukan permohonan untuk {} pemohon berbeda dalam {} hari ({} s.d. {}), batasnya di bawah {} pemohon; kantor: {}.",
                    agent,
                    window.distinct_applicants,
                    days,
                    format_time(first),
                    format_time(window.end),
                    min_applicants,
                    offices.join(", ")
                ),
                summary_en: format!(
                    "Agent {} filed for {} distinct applicants within {} days ({} to {}), where fewer than {} is expected; offices: {}.",
                    agent,
                    window.distinct_applicants,
                    days,
                    format_time(first),
                    format_time(window.end),
                    min_applicants,
                    offices.join(", ")
                ),
            }),
        },
        scope_key,
        office_id: office,
        service_code: service,
        officer_id: None,
        agent_ref: Some(agent.clone()),
        window: Some((first, window.end)),
        transaction_id: None,
    }
}
