//! An archive's events back to contract-v1 NDJSON, in event-time order, so a
//! backtest replays history through exactly the code path of a live run.

use std::io::Write;
use std::path::Path;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use datafusion::arrow::json::LineDelimitedWriter;
use futures_util::StreamExt;
use serde_json::{Map, Value};

use super::{HistoryError, io_err};

const SQL: &str = "SELECT event_id, event_type, CAST(occurred_at AS BIGINT) AS occurred_us, \
    utc_offset_minutes, transaction_id, office_id, service_code, officer_id, channel, \
    applicant_ref, agent_ref, assessed_fee, amount, method, payee, receipt_no, status, reason, \
    outcome FROM events ORDER BY occurred_at, event_id";

/// One archived row (as JSON) to an event line.
fn to_event(mut row: Map<String, Value>) -> Option<Map<String, Value>> {
    let us = row.remove("occurred_us")?.as_i64()?;
    let offset_min = row.remove("utc_offset_minutes")?.as_i64()?;
    let offset = FixedOffset::east_opt(i32::try_from(offset_min * 60).ok()?)?;
    let at: DateTime<FixedOffset> = DateTime::from_timestamp_micros(us)?.with_timezone(&offset);
    row.insert(
        "occurred_at".into(),
        Value::String(at.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
    );
    row.insert("schema_version".into(), Value::String("1".into()));
    Some(row)
}

/// Writes every archived event to `out`; returns how many.
pub async fn events_to_ndjson(archive: &Path, out: &Path) -> Result<u64, HistoryError> {
    let ctx = super::session(archive).await?;
    let mut stream = ctx.sql(SQL).await?.execute_stream().await?;
    let file = std::fs::File::create(out).map_err(io_err(out))?;
    let mut w = std::io::BufWriter::new(file);
    let mut n = 0u64;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        let mut json = LineDelimitedWriter::new(Vec::new());
        json.write(&batch)?;
        json.finish()?;
        for line in json
            .into_inner()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let row: Map<String, Value> = serde_json::from_slice(line)
                .map_err(|e| HistoryError::Invalid(format!("archived row: {e}")))?;
            let event = to_event(row).ok_or_else(|| {
                HistoryError::Invalid("archived row without a valid occurred_at".into())
            })?;
            serde_json::to_writer(&mut w, &event)
                .map_err(|e| HistoryError::Invalid(e.to_string()))?;
            w.write_all(b"\n").map_err(io_err(out))?;
            n += 1;
        }
    }
    w.flush().map_err(io_err(out))?;
    Ok(n)
}
