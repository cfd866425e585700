//! `duplicate_receipt`: one office's receipt number used by two transactions.

use chrono::{DateTime, FixedOffset};

use crate::alerts::format_time;
use crate::figures;
use crate::state::{ReceiptUse, TxnState};

use super::{Finding, Typology};

pub fn duplicate_receipt(
    txn_id: &str,
    state: &TxnState,
    receipt_no: &str,
    at: DateTime<FixedOffset>,
    event_id: &compact_str::CompactString,
    earlier: &ReceiptUse,
    window_days: i64,
) -> Finding {
    let first = format_time(earlier.at.with_timezone(at.offset()));
    Finding {
        typology: Typology::DuplicateReceipt,
        severity: None,
        event_time: at,
        related_transaction_id: Some(earlier.transaction_id.clone()),
        observed: figures! {
            "receipt_no": receipt_no,
            "first_used_by": earlier.transaction_id.as_str(),
            "first_used_at": first.clone(),
        },
        expected: figures! {"unique_per_office_within_days": window_days},
        evidence: vec![earlier.event_id.clone(), event_id.clone()],
        summary_id: format!(
            "Nomor kuitansi {receipt_no} di kantor {} sudah dipakai transaksi {} ({first}) dan dipakai lagi oleh transaksi {txn_id}.",
            state.office_id, earlier.transaction_id
        ),
        summary_en: format!(
            "Receipt number {receipt_no} at office {} was already used by transaction {} ({first}) and is used again by transaction {txn_id}.",
            state.office_id, earlier.transaction_id
        ),
    }
}
