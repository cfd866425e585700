//! `duplicate_receipt`: one office's receipt number used by two transactions.
//! The registry of receipt uses lives in the engine's state (state/receipts.rs):
//! it spans transactions.

use chrono::{DateTime, FixedOffset};
use compact_str::CompactString;

use std::time::Duration;

use serde::Deserialize;

use crate::alerts::{Scope, Severity, format_time};
use crate::figures;
use crate::state::ReceiptUse;

use super::{Finality, Finding, Render, Rendered, Typology, TypologyDef};

/// Judged by the engine as each receipted payment is processed, against the
/// other transactions' uses.
pub const DEF: TypologyDef = TypologyDef {
    name: "duplicate_receipt",
    severity: Severity::High,
    scope: Scope::Transaction,
    irregular: false,
    finality: Finality::Watermark,
    transaction: None,
};

#[derive(Debug, Clone, Deserialize)]
pub struct Params {
    /// A receipt number may not be used again at the same office within this.
    #[serde(with = "humantime_serde", default = "default_window")]
    pub duplicate_receipt_window: Duration,
}

fn default_window() -> Duration {
    Duration::from_secs(365 * 86_400)
}

impl Default for Params {
    fn default() -> Self {
        Params {
            duplicate_receipt_window: default_window(),
        }
    }
}

pub fn duplicate_receipt(
    receipt_no: &str,
    at: DateTime<FixedOffset>,
    event_id: &compact_str::CompactString,
    earlier: &ReceiptUse,
    window_days: i64,
) -> Finding {
    let first_at = earlier.at.with_timezone(at.offset());
    let first_by = earlier.transaction_id.clone();
    let receipt_no = CompactString::from(receipt_no);
    Finding {
        typology: Typology::DuplicateReceipt,
        severity: None,
        event_time: at,
        related_transaction_id: Some(earlier.transaction_id.clone()),
        evidence: vec![earlier.event_id.clone(), event_id.clone()],
        render: Render::new(move |s| {
            let first = format_time(first_at);
            Rendered {
                observed: figures! {
                    "receipt_no": receipt_no.as_str(),
                    "first_used_by": first_by.as_str(),
                    "first_used_at": first.clone(),
                },
                expected: figures! {"unique_per_office_within_days": window_days},
                summary_id: format!(
                    "Nomor kuitansi {receipt_no} di kantor {} sudah dipakai transaksi {first_by} ({first}) dan dipakai lagi oleh transaksi {}.",
                    s.office_id, s.transaction_id
                ),
                summary_en: format!(
                    "Receipt number {receipt_no} at office {} was already used by transaction {first_by} ({first}) and is used again by transaction {}.",
                    s.office_id, s.transaction_id
                ),
            }
        }),
    }
}
