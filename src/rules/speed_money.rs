//! `speed_money`: an irregular transaction issued much faster than its office
//! and service usually take: irregular payments that buy fast service.

use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

use crate::alerts::{Scope, Severity};
use crate::figures;
use crate::state::TxnState;

use super::{Finality, Finding, Render, Rendered, Typology, TypologyDef};

/// Judged by the engine at an issued completion (or when an issued transaction
/// turns irregular), against the office and service's duration baseline
/// (state/baseline.rs), which spans transactions.
pub const DEF: TypologyDef = TypologyDef {
    name: "speed_money",
    severity: Severity::High,
    scope: Scope::Transaction,
    irregular: false,
    finality: Finality::Watermark,
    transaction: None,
};

/// `[parameters]` of this typology (`speed_ratio` and `min_baseline` per
/// service too: `[parameters.services.X]`).
#[derive(Debug, Clone, Deserialize)]
pub struct Params {
    /// Completion faster than this share of the baseline median.
    #[serde(default = "default_speed_ratio")]
    pub speed_ratio: f64,
    /// The trailing window of issued completions in the baseline.
    #[serde(with = "humantime_serde", default = "default_baseline_window")]
    pub baseline_window: Duration,
    /// Fewest completions a baseline must hold to be used.
    #[serde(default = "default_min_baseline")]
    pub min_baseline: u32,
}

fn default_speed_ratio() -> f64 {
    0.5
}
fn default_baseline_window() -> Duration {
    Duration::from_secs(30 * 86_400)
}
fn default_min_baseline() -> u32 {
    30
}

impl Default for Params {
    fn default() -> Self {
        Params {
            speed_ratio: default_speed_ratio(),
            baseline_window: default_baseline_window(),
            min_baseline: default_min_baseline(),
        }
    }
}

/// Hours with one decimal, for the summaries.
fn hours(seconds: f64) -> String {
    format!("{:.1}", seconds / 3600.0)
}

/// Judges an issued, irregular transaction against the baseline snapshot taken
/// at its completion. `trigger` is the time of the event that made the judgement
/// possible (the completion, or the irregular payment after it); `irregular_bits`
/// the irregular typologies raised so far, including by that event.
pub fn speed_money(
    state: &TxnState,
    trigger: DateTime<FixedOffset>,
    irregular_bits: u32,
    ratio: f64,
    min_baseline: u32,
    baseline_days: i64,
) -> Option<Finding> {
    if !state.issued() || irregular_bits & Typology::IRREGULAR == 0 {
        return None;
    }
    let baseline = state.baseline?;
    if baseline.size < min_baseline || baseline.median_s <= 0.0 {
        return None;
    }
    let submitted = state.submitted.as_ref()?;
    let closure = state.closed.as_ref()?;
    let duration = (closure.mark.at.to_utc() - submitted.mark.at.to_utc()).num_seconds();
    if duration < 0 {
        return None;
    }
    let limit = ratio * baseline.median_s;
    if (duration as f64) >= limit {
        return None;
    }
    let irregular: Vec<&'static str> = Typology::ALL
        .iter()
        .filter(|t| t.marks_irregular() && irregular_bits & t.bit() != 0)
        .map(|t| t.name())
        .collect();
    let share = duration as f64 / baseline.median_s;
    let mut evidence = state.fee_evidence();
    evidence.push(closure.mark.event_id.clone());
    let total_paid = state.total_paid;
    Some(Finding {
        typology: Typology::SpeedMoney,
        severity: None,
        event_time: trigger,
        related_transaction_id: None,
        evidence,
        render: Render::new(move |s| Rendered {
            observed: figures! {
                "duration_s": duration,
                "ratio_to_median": (share * 1000.0).round() / 1000.0,
                "irregular_typologies": irregular.clone(),
                "total_paid": total_paid,
            },
            expected: figures! {
                "baseline_median_s": baseline.median_s,
                "baseline_size": baseline.size,
                "speed_ratio": ratio,
                "min_duration_s": limit.round(),
                "baseline_window_days": baseline_days,
            },
            summary_id: format!(
                "Layanan {} diselesaikan dalam {} jam, kurang dari {} × median {} jam untuk layanan yang sama di kantor {} ({} transaksi dalam {} hari terakhir), padahal transaksi ini tercatat tidak wajar ({}) (transaksi {}).",
                s.service_code,
                hours(duration as f64),
                ratio,
                hours(baseline.median_s),
                s.office_id,
                baseline.size,
                baseline_days,
                irregular.join(", "),
                s.transaction_id
            ),
            summary_en: format!(
                "{} was issued in {} hours, under {} × the median of {} hours for the same service at office {} ({} transactions over the last {} days), while this transaction is irregular ({}) (transaction {}).",
                s.service_code,
                hours(duration as f64),
                ratio,
                hours(baseline.median_s),
                s.office_id,
                baseline.size,
                baseline_days,
                irregular.join(", "),
                s.transaction_id
            ),
        }),
    })
}
