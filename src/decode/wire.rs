//! The loosely-typed wire form of an event, shared by the fast (serde derive) and the
//! precise (field-by-field) decoding paths, and its checks into a typed [`Event`].

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime};
use compact_str::CompactString;
use serde::Deserialize;

use super::event::*;
use super::reject::{Reason, Rejection};

/// Every field of every event type, all optional: which ones are required depends
/// on `event_type`, and that is checked in [`Wire::into_event`].
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Wire<'a> {
    pub schema_version: Option<CompactString>,
    pub event_id: Option<CompactString>,
    pub event_type: Option<EventType>,
    /// Borrowed from the line: a timestamp with its offset is longer than a
    /// `CompactString` holds inline, so owning it would allocate for every event.
    #[serde(borrow)]
    pub occurred_at: Option<Cow<'a, str>>,
    pub transaction_id: Option<CompactString>,
    pub office_id: Option<CompactString>,
    pub service_code: Option<CompactString>,
    pub officer_id: Option<CompactString>,
    pub channel: Option<Channel>,
    pub applicant_ref: Option<CompactString>,
    pub agent_ref: Option<CompactString>,
    pub assessed_fee: Option<u64>,
    pub amount: Option<u64>,
    pub method: Option<Method>,
    pub payee: Option<Payee>,
    pub receipt_no: Option<CompactString>,
    pub status: Option<Status>,
    pub reason: Option<CompactString>,
    pub outcome: Option<Outcome>,
    // CloudEvents 1.0 structured-mode envelope.
    pub specversion: Option<CompactString>,
    pub id: Option<CompactString>,
    #[serde(borrow)]
    pub time: Option<Cow<'a, str>>,
    #[serde(rename = "type")]
    pub ce_type: Option<CompactString>,
    pub source: Option<CompactString>,
    #[serde(borrow)]
    pub data: Option<Box<Wire<'a>>>,
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, Rejection> {
    value.ok_or_else(|| Rejection::field(Reason::MissingField, field, "is required"))
}

fn check_length(s: CompactString, field: &str, max: usize) -> Result<CompactString, Rejection> {
    // Byte length bounds the character count, so counting is needed only for long values.
    let too_long = s.len() > max && s.chars().count() > max;
    if s.is_empty() || too_long {
        return Err(Rejection::field(
            Reason::InvalidLength,
            field,
            format!(
                "must be 1 to {max} characters long (got {})",
                s.chars().count()
            ),
        ));
    }
    Ok(s)
}

/// A raw NIK is the 16-digit national identity number; the contract only admits
/// pseudonymous references, so publishing one is a privacy breach to refuse.
pub fn is_raw_nik(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit())
}

fn check_ref(s: CompactString, field: &str) -> Result<CompactString, Rejection> {
    if is_raw_nik(&s) {
        return Err(Rejection::field(
            Reason::RawNik,
            field,
            "looks like a raw 16-digit NIK; publish a salted hash instead",
        ));
    }
    Ok(s)
}

pub fn parse_timestamp(s: &str, field: &str) -> Result<EventTime, Rejection> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t);
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .any(|f| NaiveDateTime::parse_from_str(s, f).is_ok());
    if naive {
        Err(Rejection::field(
            Reason::NaiveTimestamp,
            field,
            format!("{s:?} has no UTC offset; write e.g. 2026-03-02T09:15:00+07:00"),
        ))
    } else {
        Err(Rejection::field(
            Reason::InvalidTimestamp,
            field,
            format!("{s:?} is not an RFC 3339 timestamp"),
        ))
    }
}

fn non_empty(s: Option<CompactString>) -> Option<CompactString> {
    s.filter(|s| !s.is_empty())
}

impl Wire<'_> {
    pub fn is_envelope(&self) -> bool {
        self.specversion.is_some()
    }

    /// Checks a decoded wire record against the contract and builds the event.
    pub fn into_event(self) -> Result<Event, Rejection> {
        if self.is_envelope() {
            return self.unwrap_envelope();
        }
        self.into_plain_event()
    }

    fn unwrap_envelope(self) -> Result<Event, Rejection> {
        let version = self.specversion.unwrap_or_default();
        if version != "1.0" {
            return Err(Rejection::field(
                Reason::InvalidCloudevent,
                "specversion",
                format!("must be \"1.0\" (got {version:?})"),
            ));
        }
        for (value, field) in [
            (&self.id, "id"),
            (&self.source, "source"),
            (&self.ce_type, "type"),
        ] {
            if value.as_deref().is_none_or(str::is_empty) {
                return Err(Rejection::field(
                    Reason::InvalidCloudevent,
                    field,
                    "is a required CloudEvents attribute",
                ));
            }
        }
        let Some(mut inner) = self.data else {
            return Err(Rejection::field(
                Reason::InvalidCloudevent,
                "data",
                "must hold the event as a JSON object",
            ));
        };
        if inner.event_id.is_none() {
            inner.event_id = self.id;
        }
        if inner.occurred_at.is_none() {
            inner.occurred_at = self.time;
        }
        inner.into_plain_event().map_err(|r| r.within("data"))
    }

    fn into_plain_event(self) -> Result<Event, Rejection> {
        let version = required(self.schema_version, "schema_version")?;
        if version != "1" {
            return Err(Rejection::field(
                Reason::UnsupportedSchemaVersion,
                "schema_version",
                format!("must be \"1\" (got {version:?})"),
            ));
        }
        let event_id = check_length(required(self.event_id, "event_id")?, "event_id", 128)?;
        let event_type = required(self.event_type, "event_type")?;
        let occurred_at =
            parse_timestamp(&required(self.occurred_at, "occurred_at")?, "occurred_at")?;
        let transaction_id = check_length(
            required(self.transaction_id, "transaction_id")?,
            "transaction_id",
            128,
        )?;
        let office_id = check_length(required(self.office_id, "office_id")?, "office_id", 64)?;
        let service_code = check_length(
            required(self.service_code, "service_code")?,
            "service_code",
            64,
        )?;
        // A raw NIK is refused wherever these fields appear, whatever the event type.
        let applicant_ref = self
            .applicant_ref
            .map(|a| check_ref(a, "applicant_ref"))
            .transpose()?;
        let agent_ref = non_empty(self.agent_ref)
            .map(|a| check_ref(a, "agent_ref"))
            .transpose()?;
        let body = match event_type {
            EventType::Submitted => EventBody::Submitted(Submitted {
                channel: required(self.channel, "channel")?,
                applicant_ref: required(applicant_ref, "applicant_ref")?,
                agent_ref,
                assessed_fee: self.assessed_fee,
            }),
            EventType::Payment => {
                let amount = required(self.amount, "amount")?;
                if amount == 0 {
                    return Err(Rejection::field(
                        Reason::InvalidAmount,
                        "amount",
                        "must be an integer > 0 (got 0)",
                    ));
                }
                EventBody::Payment(Payment {
                    amount,
                    method: required(self.method, "method")?,
                    payee: required(self.payee, "payee")?,
                    receipt_no: non_empty(self.receipt_no),
                })
            }
            EventType::StatusChanged => EventBody::StatusChanged(StatusChanged {
                status: required(self.status, "status")?,
                reason: self.reason,
            }),
            EventType::Completed => EventBody::Completed {
                outcome: required(self.outcome, "outcome")?,
            },
            EventType::Cancelled => EventBody::Cancelled,
        };
        Ok(Event {
            event_id,
            occurred_at,
            transaction_id,
            office_id,
            service_code,
            officer_id: non_empty(self.officer_id),
            body,
        })
    }
}
