//! The precise decoding path: taken only when the fast path fails, it walks the
//! JSON tree field by field to name exactly what is wrong.

use std::borrow::Cow;

use compact_str::CompactString;
use serde_json::{Map, Value};

use super::event::*;
use super::reject::{Reason, Rejection};
use super::wire::Wire;

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

struct Fields<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn present(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|v| !v.is_null())
    }

    fn string(&self, field: &str) -> Result<Option<CompactString>, Rejection> {
        Ok(self.text(field)?.map(|s| CompactString::from(s.as_ref())))
    }

    /// A string field borrowed from the tree.
    fn text(&self, field: &str) -> Result<Option<Cow<'a, str>>, Rejection> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(Cow::Borrowed(s.as_str()))),
            Some(v) => Err(Rejection::field(
                Reason::WrongType,
                field,
                format!("must be a string (got {})", type_name(v)),
            )),
        }
    }

    fn enumerated<T>(
        &self,
        field: &str,
        parse: fn(&str) -> Option<T>,
        allowed: &[&str],
    ) -> Result<Option<T>, Rejection> {
        let Some(s) = self.string(field)? else {
            return Ok(None);
        };
        parse(&s).map(Some).ok_or_else(|| {
            Rejection::field(
                Reason::InvalidEnum,
                field,
                format!(
                    "has unknown value {:?}; expected one of {}",
                    s.as_str(),
                    allowed.join(", ")
                ),
            )
        })
    }

    fn amount(&self, field: &str) -> Result<Option<u64>, Rejection> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) => Ok(Some(v)),
                None => Err(Rejection::field(
                    Reason::InvalidAmount,
                    field,
                    format!("must be a non-negative whole number of Rupiah (got {n})"),
                )),
            },
            Some(v) => Err(Rejection::field(
                Reason::WrongType,
                field,
                format!("must be an integer (got {})", type_name(v)),
            )),
        }
    }
}

/// Decodes one JSON object by hand. Fields that do not belong to the event's type
/// are ignored, as the contract allows unknown fields.
pub(crate) fn decode_value(value: &Value) -> Result<Event, Rejection> {
    let Value::Object(map) = value else {
        return Err(Rejection::new(
            Reason::NotAnObject,
            None,
            format!("an event must be a JSON object (got {})", type_name(value)),
        ));
    };
    let f = Fields { map };
    if map.contains_key("specversion") {
        let mut envelope = Wire {
            specversion: Some(f.string("specversion").map_err(ce)?.unwrap_or_default()),
            id: f.string("id").map_err(ce)?,
            time: f.text("time").map_err(ce)?,
            ce_type: f.string("type").map_err(ce)?,
            source: f.string("source").map_err(ce)?,
            ..Wire::default()
        };
        match f.present("data") {
            Some(Value::Object(inner)) => {
                let inner = wire_of(&Fields { map: inner }).map_err(|r| r.within("data"))?;
                envelope.data = Some(Box::new(inner));
            }
            Some(v) => {
                return Err(Rejection::field(
                    Reason::InvalidCloudevent,
                    "data",
                    format!(
                        "must hold the event as a JSON object (got {})",
                        type_name(v)
                    ),
                ));
            }
            None => {}
        }
        return envelope.into_event();
    }
    wire_of(&f)?.into_event()
}

fn ce(r: Rejection) -> Rejection {
    Rejection {
        reason: Reason::InvalidCloudevent,
        ..r
    }
}

fn wire_of<'a>(f: &Fields<'a>) -> Result<Wire<'a>, Rejection> {
    let event_type = f.enumerated("event_type", EventType::from_wire, EventType::WIRE)?;
    let mut w = Wire {
        schema_version: f.string("schema_version")?,
        event_id: f.string("event_id")?,
        event_type,
        occurred_at: f.text("occurred_at")?,
        transaction_id: f.string("transaction_id")?,
        office_id: f.string("office_id")?,
        service_code: f.string("service_code")?,
        officer_id: f.string("officer_id")?,
        applicant_ref: f.string("applicant_ref")?,
        agent_ref: f.string("agent_ref")?,
        ..Wire::default()
    };
    match event_type {
        Some(EventType::Submitted) => {
            w.channel = f.enumerated("channel", Channel::from_wire, Channel::WIRE)?;
            w.assessed_fee = f.amount("assessed_fee")?;
        }
        Some(EventType::Payment) => {
            w.amount = f.amount("amount")?;
            w.method = f.enumerated("method", Method::from_wire, Method::WIRE)?;
            w.payee = f.enumerated("payee", Payee::from_wire, Payee::WIRE)?;
            w.receipt_no = f.string("receipt_no")?;
        }
        Some(EventType::StatusChanged) => {
            w.status = f.enumerated("status", Status::from_wire, Status::WIRE)?;
            w.reason = f.string("reason")?;
        }
        Some(EventType::Completed) => {
            w.outcome = f.enumerated("outcome", Outcome::from_wire, Outcome::WIRE)?;
        }
        Some(EventType::Cancelled) | None => {}
    }
    Ok(w)
}
