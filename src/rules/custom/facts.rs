//! The facts schema: one row per processed event, the event's fields joined with
//! its transaction state (after the event) and catalogue data. Custom rules are SQL
//! expressions over these columns (docs/rules.md).

use std::sync::{Arc, LazyLock};

use chrono::{Datelike, Timelike};
use datafusion::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;

use crate::decode::EventBody;
use crate::reference::Tariff;
use crate::rules::{RuleCtx, Typology, fees};
use crate::state::TxnState;
use crate::time::Sla;

/// Column name, type, and a one-line meaning (shown by `pantau rules check`).
pub const COLUMNS: &[(&str, DataType, &str)] = &[
    ("event_id", DataType::Utf8, "the event's id"),
    (
        "event_type",
        DataType::Utf8,
        "submitted, payment, status_changed, completed, cancelled",
    ),
    ("occurred_at", TS, "event time (UTC timestamp)"),
    ("transaction_id", DataType::Utf8, "transaction id"),
    ("office_id", DataType::Utf8, "office of the event"),
    (
        "service_code",
        DataType::Utf8,
        "service code of the transaction",
    ),
    (
        "officer_id",
        DataType::Utf8,
        "officer on this event (nullable)",
    ),
    (
        "channel",
        DataType::Utf8,
        "submission channel (submitted events)",
    ),
    (
        "applicant_ref",
        DataType::Utf8,
        "pseudonymous applicant (submitted events)",
    ),
    (
        "agent_ref",
        DataType::Utf8,
        "intermediary, if any (transaction)",
    ),
    (
        "assessed_fee",
        DataType::Int64,
        "official bill of the submission, IDR (transaction)",
    ),
    (
        "amount",
        DataType::Int64,
        "payment amount, IDR (payment events)",
    ),
    ("method", DataType::Utf8, "payment method (payment events)"),
    (
        "payee",
        DataType::Utf8,
        "official or other (payment events)",
    ),
    (
        "receipt_no",
        DataType::Utf8,
        "receipt number, null when none (payment events)",
    ),
    (
        "status",
        DataType::Utf8,
        "new status (status_changed events)",
    ),
    (
        "outcome",
        DataType::Utf8,
        "issued or refused (completed events)",
    ),
    (
        "total_paid",
        DataType::Int64,
        "sum of the transaction's payments so far, IDR",
    ),
    (
        "payment_count",
        DataType::Int64,
        "number of payments so far",
    ),
    (
        "expected_fee",
        DataType::Int64,
        "assessed fee, else catalogue tariff, IDR (null if unknown)",
    ),
    (
        "excess_fee",
        DataType::Int64,
        "total_paid - expected_fee when positive, else 0 (null if unknown)",
    ),
    (
        "submitted_at",
        TS,
        "time of the submission (null until seen)",
    ),
    (
        "deadline",
        TS,
        "service-standard deadline (null when unknown)",
    ),
    (
        "duration_s",
        DataType::Int64,
        "seconds from submission to this event",
    ),
    (
        "late_by_s",
        DataType::Int64,
        "seconds this event is past the deadline (negative: before it)",
    ),
    (
        "is_open",
        DataType::Boolean,
        "not yet completed or cancelled",
    ),
    (
        "irregular",
        DataType::Boolean,
        "fee_on_free_service, fee_above_tariff or unofficial_channel already raised",
    ),
    (
        "service_known",
        DataType::Boolean,
        "the service code is in the catalogue",
    ),
    (
        "tariff_idr",
        DataType::Int64,
        "catalogue tariff (null when billed per case)",
    ),
    (
        "non_cash_required",
        DataType::Boolean,
        "catalogue: payment must be non-cash",
    ),
    (
        "sla_working_days",
        DataType::Int64,
        "catalogue: service standard in working days",
    ),
    (
        "sla_hours",
        DataType::Int64,
        "catalogue: service standard in hours",
    ),
    (
        "automated",
        DataType::Boolean,
        "catalogue: processed automatically",
    ),
    (
        "office_known",
        DataType::Boolean,
        "the office is in the office catalogue",
    ),
    (
        "local_date",
        DataType::Date32,
        "event date in the office's zone",
    ),
    (
        "local_hour",
        DataType::Int64,
        "hour 0-23 in the office's zone",
    ),
    (
        "local_minute",
        DataType::Int64,
        "minute 0-59 in the office's zone",
    ),
    (
        "local_weekday",
        DataType::Int64,
        "1 = Monday ... 7 = Sunday, in the office's zone",
    ),
    (
        "is_working_day",
        DataType::Boolean,
        "the local date is a working day",
    ),
    (
        "is_office_hours",
        DataType::Boolean,
        "the local time is within office hours",
    ),
];

const TS: DataType = DataType::Timestamp(TimeUnit::Microsecond, None);

pub static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(
        COLUMNS
            .iter()
            .map(|(name, ty, _)| {
                let ty = if matches!(ty, DataType::Timestamp(..)) {
                    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
                } else {
                    ty.clone()
                };
                Field::new(*name, ty, true)
            })
            .collect::<Vec<_>>(),
    ))
});

/// Builds facts batches column by column.
pub struct FactsBuilder {
    strings: Vec<StringBuilder>,
    ints: Vec<Int64Builder>,
    bools: Vec<BooleanBuilder>,
    times: Vec<TimestampMicrosecondBuilder>,
    dates: Date32Builder,
    rows: usize,
}

/// Where a column lives in the builder.
#[derive(Clone, Copy)]
enum Slot {
    S(usize),
    I(usize),
    B(usize),
    T(usize),
    D,
}

fn slots() -> Vec<Slot> {
    let (mut s, mut i, mut b, mut t) = (0, 0, 0, 0);
    COLUMNS
        .iter()
        .map(|(_, ty, _)| match ty {
            DataType::Utf8 => {
                s += 1;
                Slot::S(s - 1)
            }
            DataType::Int64 => {
                i += 1;
                Slot::I(i - 1)
            }
            DataType::Boolean => {
                b += 1;
                Slot::B(b - 1)
            }
            DataType::Timestamp(..) => {
                t += 1;
                Slot::T(t - 1)
            }
            _ => Slot::D,
        })
        .collect()
}

static SLOTS: LazyLock<Vec<Slot>> = LazyLock::new(slots);

fn count(pred: fn(&DataType) -> bool) -> usize {
    COLUMNS.iter().filter(|(_, t, _)| pred(t)).count()
}

impl Default for FactsBuilder {
    fn default() -> Self {
        FactsBuilder {
            strings: (0..count(|t| *t == DataType::Utf8))
                .map(|_| StringBuilder::new())
                .collect(),
            ints: (0..count(|t| *t == DataType::Int64))
                .map(|_| Int64Builder::new())
                .collect(),
            bools: (0..count(|t| *t == DataType::Boolean))
                .map(|_| BooleanBuilder::new())
                .collect(),
            times: (0..count(|t| matches!(t, DataType::Timestamp(..))))
                .map(|_| TimestampMicrosecondBuilder::new().with_timezone("UTC"))
                .collect(),
            dates: Date32Builder::new(),
            rows: 0,
        }
    }
}

/// One value of a row, in column order.
enum V<'a> {
    S(Option<&'a str>),
    I(Option<i64>),
    B(Option<bool>),
    T(Option<i64>),
    D(Option<i32>),
}

impl FactsBuilder {
    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    pub fn push(&mut self, ctx: &RuleCtx<'_>, state: &TxnState) {
        let e = ctx.event;
        let svc = ctx.service;
        let at = e.occurred_at.to_utc();
        let local = ctx.office.zone.local(at);
        let date = local.date_naive();
        let holiday = ctx
            .reference
            .calendar
            .is_holiday(date, ctx.office.regional_holidays);
        let expected = fees::expected_fee(state, svc).map(|(f, _)| f);
        let (
            mut channel,
            mut applicant,
            mut amount,
            mut method,
            mut payee,
            mut receipt,
            mut status,
            mut outcome,
        ) = (None, None, None, None, None, None, None, None);
        match &e.body {
            EventBody::Submitted(s) => {
                channel = Some(s.channel.as_str());
                applicant = Some(s.applicant_ref.as_str());
            }
            EventBody::Payment(p) => {
                amount = Some(p.amount as i64);
                method = Some(p.method.as_str());
                payee = Some(p.payee.as_str());
                receipt = p.receipt_no.as_deref();
            }
            EventBody::StatusChanged(s) => status = Some(s.status.as_str()),
            EventBody::Completed { outcome: o } => outcome = Some(o.as_str()),
            EventBody::Cancelled => {}
        }
        let submitted = state.submitted.as_ref();
        let irregular = Typology::ALL
            .iter()
            .any(|t| t.marks_irregular() && state.has_fired(t.bit()));
        let (sla_days, sla_hours) = match svc.map(|s| s.sla) {
            Some(Sla::WorkingDays(n)) => (Some(i64::from(n)), None),
            Some(Sla::Hours(h)) => (None, Some(i64::from(h))),
            None => (None, None),
        };
        let micros = |t: chrono::DateTime<chrono::Utc>| t.timestamp_micros();
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
        let values = [
            V::S(Some(&e.event_id)),
            V::S(Some(e.event_type().as_str())),
            V::T(Some(micros(at))),
            V::S(Some(&e.transaction_id)),
            V::S(Some(&e.office_id)),
            V::S(Some(&state.service_code)),
            V::S(e.officer_id.as_deref()),
            V::S(channel),
            V::S(applicant),
            V::S(submitted.and_then(|s| s.agent_ref.as_deref())),
            V::I(submitted.and_then(|s| s.assessed_fee).map(|f| f as i64)),
            V::I(amount),
            V::S(method),
            V::S(payee),
            V::S(receipt),
            V::S(status),
            V::S(outcome),
            V::I(Some(state.total_paid as i64)),
            V::I(Some(i64::from(state.payment_count))),
            V::I(expected.map(|f| f as i64)),
            V::I(expected.map(|f| state.total_paid.saturating_sub(f) as i64)),
            V::T(submitted.map(|s| micros(s.mark.at.to_utc()))),
            V::T(state.deadline.map(micros)),
            V::I(submitted.map(|s| (at - s.mark.at.to_utc()).num_seconds())),
            V::I(state.deadline.map(|d| (at - d).num_seconds())),
            V::B(Some(state.is_open())),
            V::B(Some(irregular)),
            V::B(Some(svc.is_some())),
            V::I(svc.and_then(|s| match s.tariff {
                Tariff::Fixed(f) => Some(f as i64),
                Tariff::Assessed => None,
            })),
            V::B(svc.map(|s| s.non_cash_required)),
            V::I(sla_days),
            V::I(sla_hours),
            V::B(svc.map(|s| s.automated)),
            V::B(Some(ctx.office.catalogued)),
            V::D(Some((date - epoch).num_days() as i32)),
            V::I(Some(i64::from(local.hour()))),
            V::I(Some(i64::from(local.minute()))),
            V::I(Some(i64::from(local.weekday().number_from_monday()))),
            V::B(Some(
                ctx.reference
                    .calendar
                    .is_working_day(date, ctx.office.regional_holidays),
            )),
            V::B(Some(ctx.office.hours.is_open(local.naive_local(), holiday))),
        ];
        debug_assert_eq!(values.len(), COLUMNS.len());
        for (v, slot) in values.into_iter().zip(SLOTS.iter()) {
            match (v, *slot) {
                (V::S(x), Slot::S(k)) => self.strings[k].append_option(x),
                (V::I(x), Slot::I(k)) => self.ints[k].append_option(x),
                (V::B(x), Slot::B(k)) => self.bools[k].append_option(x),
                (V::T(x), Slot::T(k)) => self.times[k].append_option(x),
                (V::D(x), Slot::D) => self.dates.append_option(x),
                _ => unreachable!("facts value does not match its column type"),
            }
        }
        self.rows += 1;
    }

    pub fn finish(&mut self) -> RecordBatch {
        let columns: Vec<ArrayRef> = SLOTS
            .iter()
            .map(|slot| -> ArrayRef {
                match *slot {
                    Slot::S(k) => Arc::new(self.strings[k].finish()),
                    Slot::I(k) => Arc::new(self.ints[k].finish()),
                    Slot::B(k) => Arc::new(self.bools[k].finish()),
                    Slot::T(k) => Arc::new(self.times[k].finish()),
                    Slot::D => Arc::new(self.dates.finish()),
                }
            })
            .collect();
        self.rows = 0;
        RecordBatch::try_new(SCHEMA.clone(), columns).expect("facts columns match the schema")
    }
}
