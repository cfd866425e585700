//! Rows to Arrow record batches, grouped by the date partition they belong in.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Int32Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;

use super::ArchivedEvent;
use crate::alerts::Alert;
use crate::decode::EventBody;

fn ts() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Columns of the `events` table (the `date` partition column comes from the path).
pub fn event_schema() -> SchemaRef {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    let i = |n: &str| Field::new(n, DataType::Int64, true);
    Arc::new(Schema::new(vec![
        s("event_id", false),
        s("event_type", false),
        Field::new("occurred_at", ts(), false),
        Field::new("utc_offset_minutes", DataType::Int32, false),
        s("transaction_id", false),
        s("office_id", false),
        s("service_code", false),
        s("officer_id", true),
        s("channel", true),
        s("applicant_ref", true),
        s("agent_ref", true),
        i("assessed_fee"),
        i("amount"),
        s("method", true),
        s("payee", true),
        s("receipt_no", true),
        s("status", true),
        s("reason", true),
        s("outcome", true),
        i("expected_fee"),
        Field::new("total_paid", DataType::Int64, false),
        Field::new("excess_fee_idr", DataType::Int64, false),
        Field::new("irregular", DataType::Boolean, false),
        Field::new("deadline", ts(), true),
        Field::new("within_sla", DataType::Boolean, true),
        i("duration_s"),
        i("duration_working_days"),
    ]))
}

/// Columns of the `alerts` table.
pub fn alert_schema() -> SchemaRef {
    let s = |n: &str, null: bool| Field::new(n, DataType::Utf8, null);
    Arc::new(Schema::new(vec![
        s("alert_id", false),
        s("typology", false),
        s("severity", false),
        s("scope", false),
        s("transaction_id", true),
        s("related_transaction_id", true),
        s("office_id", true),
        s("service_code", true),
        s("officer_id", true),
        s("agent_ref", true),
        Field::new("window_start", ts(), true),
        Field::new("window_end", ts(), true),
        Field::new("event_time", ts(), false),
        s("observed", false),
        s("expected", false),
        Field::new(
            "evidence_event_ids",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            false,
        ),
        s("summary_id", false),
        s("summary_en", false),
        s("pipeline", false),
    ]))
}

/// The partition of an event: its date in the offset it was published with (the
/// office's local date, for publishers that follow the contract).
fn date_of(t: &DateTime<FixedOffset>) -> NaiveDate {
    t.date_naive()
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) fn events_by_date(
    rows: &[ArchivedEvent],
) -> Result<Vec<(String, RecordBatch)>, ArrowError> {
    let mut by_date: BTreeMap<NaiveDate, Vec<&ArchivedEvent>> = BTreeMap::new();
    for r in rows {
        by_date
            .entry(date_of(&r.event.occurred_at))
            .or_default()
            .push(r);
    }
    by_date
        .into_iter()
        .map(|(d, rows)| Ok((d.to_string(), event_batch(&rows)?)))
        .collect()
}

fn event_batch(rows: &[&ArchivedEvent]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let str_col = || StringBuilder::with_capacity(n, n * 16);
    let (mut event_id, mut event_type, mut txn, mut office, mut service) =
        (str_col(), str_col(), str_col(), str_col(), str_col());
    let mut occurred = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut offset = Int32Builder::with_capacity(n);
    let (mut officer, mut channel, mut applicant, mut agent) =
        (str_col(), str_col(), str_col(), str_col());
    let mut assessed = Int64Builder::with_capacity(n);
    let mut amount = Int64Builder::with_capacity(n);
    let (mut method, mut payee, mut receipt, mut status, mut reason, mut outcome) = (
        str_col(),
        str_col(),
        str_col(),
        str_col(),
        str_col(),
        str_col(),
    );
    let mut expected = Int64Builder::with_capacity(n);
    let mut total = Int64Builder::with_capacity(n);
    let mut excess = Int64Builder::with_capacity(n);
    let mut irregular = BooleanBuilder::with_capacity(n);
    let mut deadline = TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let mut within = BooleanBuilder::with_capacity(n);
    let mut duration = Int64Builder::with_capacity(n);
    let mut working = Int64Builder::with_capacity(n);
    for r in rows {
        let e = &r.event;
        event_id.append_value(&e.event_id);
        event_type.append_value(e.event_type().as_str());
        occurred.append_value(micros(e.occurred_at.to_utc()));
        offset.append_value(e.occurred_at.offset().local_minus_utc() / 60);
        txn.append_value(&e.transaction_id);
        office.append_value(&e.office_id);
        service.append_value(&e.service_code);
        officer.append_option(e.officer_id.as_deref());
        let (mut ch, mut ap, mut ag, mut fee) = (None, None, None, None);
        let (mut am, mut me, mut pa, mut rc) = (None, None, None, None);
        let (mut st, mut re, mut oc) = (None, None, None);
        match &e.body {
            EventBody::Submitted(s) => {
                ch = Some(s.channel.as_str());
                ap = Some(s.applicant_ref.as_str());
                ag = s.agent_ref.as_deref();
                fee = s.assessed_fee.map(to_i64);
            }
            EventBody::Payment(p) => {
                am = Some(to_i64(p.amount));
                me = Some(p.method.as_str());
                pa = Some(p.payee.as_str());
                rc = p.receipt_no.as_deref();
            }
            EventBody::StatusChanged(s) => {
                st = Some(s.status.as_str());
                re = s.reason.as_deref();
            }
            EventBody::Completed { outcome } => oc = Some(outcome.as_str()),
            EventBody::Cancelled => {}
        }
        channel.append_option(ch);
        applicant.append_option(ap);
        agent.append_option(ag);
        assessed.append_option(fee);
        amount.append_option(am);
        method.append_option(me);
        payee.append_option(pa);
        receipt.append_option(rc);
        status.append_option(st);
        reason.append_option(re);
        outcome.append_option(oc);
        expected.append_option(r.facts.expected_fee.map(to_i64));
        total.append_value(to_i64(r.facts.total_paid));
        excess.append_value(to_i64(r.facts.excess_fee_idr));
        irregular.append_value(r.facts.irregular);
        deadline.append_option(r.facts.completion.map(|c| micros(c.deadline)));
        within.append_option(r.facts.completion.map(|c| c.within_sla));
        duration.append_option(r.facts.completion.map(|c| c.duration_s));
        working.append_option(r.facts.completion.map(|c| c.working_days));
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(event_id.finish()),
        Arc::new(event_type.finish()),
        Arc::new(occurred.finish()),
        Arc::new(offset.finish()),
        Arc::new(txn.finish()),
        Arc::new(office.finish()),
        Arc::new(service.finish()),
        Arc::new(officer.finish()),
        Arc::new(channel.finish()),
        Arc::new(applicant.finish()),
        Arc::new(agent.finish()),
        Arc::new(assessed.finish()),
        Arc::new(amount.finish()),
        Arc::new(method.finish()),
        Arc::new(payee.finish()),
        Arc::new(receipt.finish()),
        Arc::new(status.finish()),
        Arc::new(reason.finish()),
        Arc::new(outcome.finish()),
        Arc::new(expected.finish()),
        Arc::new(total.finish()),
        Arc::new(excess.finish()),
        Arc::new(irregular.finish()),
        Arc::new(deadline.finish()),
        Arc::new(within.finish()),
        Arc::new(duration.finish()),
        Arc::new(working.finish()),
    ];
    RecordBatch::try_new(event_schema(), columns)
}

fn parse_time(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_rfc3339(s).ok()
}

pub(super) fn alerts_by_date(alerts: &[Alert]) -> Result<Vec<(String, RecordBatch)>, ArrowError> {
    let mut by_date: BTreeMap<NaiveDate, Vec<&Alert>> = BTreeMap::new();
    for a in alerts {
        let date = parse_time(&a.event_time)
            .map(|t| date_of(&t))
            .unwrap_or_default();
        by_date.entry(date).or_default().push(a);
    }
    by_date
        .into_iter()
        .map(|(d, rows)| Ok((d.to_string(), alert_batch(&rows)?)))
        .collect()
}

fn alert_batch(rows: &[&Alert]) -> Result<RecordBatch, ArrowError> {
    let n = rows.len();
    let str_col = || StringBuilder::with_capacity(n, n * 24);
    let mut cols: Vec<StringBuilder> = (0..10).map(|_| str_col()).collect();
    let ts_col = || TimestampMicrosecondBuilder::with_capacity(n).with_timezone("UTC");
    let (mut ws, mut we, mut at) = (ts_col(), ts_col(), ts_col());
    let (mut observed, mut expected) = (str_col(), str_col());
    let mut evidence = ListBuilder::new(StringBuilder::new());
    let (mut sid, mut sen, mut pipeline) = (str_col(), str_col(), str_col());
    let time = |s: Option<&str>| s.and_then(parse_time).map(|t| micros(t.to_utc()));
    for a in rows {
        let values: [Option<&str>; 10] = [
            Some(a.alert_id.as_str()),
            Some(a.typology.as_str()),
            Some(a.severity.as_str()),
            Some(a.scope.as_str()),
            a.transaction_id.as_deref(),
            a.related_transaction_id.as_deref(),
            a.office_id.as_deref(),
            a.service_code.as_deref(),
            a.officer_id.as_deref(),
            a.agent_ref.as_deref(),
        ];
        for (c, v) in cols.iter_mut().zip(values) {
            c.append_option(v);
        }
        ws.append_option(time(a.window_start.as_deref()));
        we.append_option(time(a.window_end.as_deref()));
        at.append_value(time(Some(&a.event_time)).unwrap_or_default());
        observed.append_value(serde_json::Value::Object(a.observed.clone()).to_string());
        expected.append_value(serde_json::Value::Object(a.expected.clone()).to_string());
        for id in &a.evidence_event_ids {
            evidence.values().append_value(id);
        }
        evidence.append(true);
        sid.append_value(&a.summary_id);
        sen.append_value(&a.summary_en);
        pipeline.append_value(&a.pipeline);
    }
    let mut columns: Vec<ArrayRef> = cols
        .into_iter()
        .map(|mut c| Arc::new(c.finish()) as ArrayRef)
        .collect();
    columns.push(Arc::new(ws.finish()));
    columns.push(Arc::new(we.finish()));
    columns.push(Arc::new(at.finish()));
    columns.push(Arc::new(observed.finish()));
    columns.push(Arc::new(expected.finish()));
    columns.push(Arc::new(evidence.finish()));
    columns.push(Arc::new(sid.finish()));
    columns.push(Arc::new(sen.finish()));
    columns.push(Arc::new(pipeline.finish()));
    RecordBatch::try_new(alert_schema(), columns)
}
