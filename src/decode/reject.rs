//! Rejection reasons: stable machine-readable codes plus a message naming the field.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Not UTF-8.
    InvalidUtf8,
    /// Larger than the configured size limit.
    TooLarge,
    /// Not parseable as JSON (including an empty line).
    InvalidJson,
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A required field is absent or null.
    MissingField,
    /// A field has the wrong JSON type.
    WrongType,
    /// A string that must be one of a fixed set of values is not.
    InvalidEnum,
    /// A money amount is negative, zero where it must be positive, or not an integer.
    InvalidAmount,
    /// A timestamp without a UTC offset.
    NaiveTimestamp,
    /// A timestamp that is not RFC 3339.
    InvalidTimestamp,
    /// A string shorter or longer than the contract allows.
    InvalidLength,
    /// A raw 16-digit NIK where a pseudonymous reference is required.
    RawNik,
    /// `schema_version` is not "1".
    UnsupportedSchemaVersion,
    /// A CloudEvents envelope that breaks CloudEvents 1.0 structured mode.
    InvalidCloudevent,
}

impl Reason {
    pub const ALL: &'static [Reason] = &[
        Reason::InvalidUtf8,
        Reason::TooLarge,
        Reason::InvalidJson,
        Reason::NotAnObject,
        Reason::MissingField,
        Reason::WrongType,
        Reason::InvalidEnum,
        Reason::InvalidAmount,
        Reason::NaiveTimestamp,
        Reason::InvalidTimestamp,
        Reason::InvalidLength,
        Reason::RawNik,
        Reason::UnsupportedSchemaVersion,
        Reason::InvalidCloudevent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::TooLarge => "too_large",
            Reason::InvalidJson => "invalid_json",
            Reason::NotAnObject => "not_an_object",
            Reason::MissingField => "missing_field",
            Reason::WrongType => "wrong_type",
            Reason::InvalidEnum => "invalid_enum",
            Reason::InvalidAmount => "invalid_amount",
            Reason::NaiveTimestamp => "naive_timestamp",
            Reason::InvalidTimestamp => "invalid_timestamp",
            Reason::InvalidLength => "invalid_length",
            Reason::RawNik => "raw_nik",
            Reason::UnsupportedSchemaVersion => "unsupported_schema_version",
            Reason::InvalidCloudevent => "invalid_cloudevent",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one record was rejected. `field` is the JSON path of the offending field
/// (`data.amount` inside a CloudEvents envelope) when one field is to blame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {message}")]
pub struct Rejection {
    pub reason: Reason,
    pub field: Option<String>,
    pub message: String,
}

impl Rejection {
    pub fn new(reason: Reason, field: Option<&str>, message: impl Into<String>) -> Self {
        Rejection {
            reason,
            field: field.map(str::to_owned),
            message: message.into(),
        }
    }

    pub fn field(reason: Reason, field: &str, message: impl std::fmt::Display) -> Self {
        Rejection::new(reason, Some(field), format!("`{field}` {message}"))
    }

    /// Re-roots the field path under a CloudEvents `data` object.
    pub(crate) fn within(mut self, parent: &str) -> Self {
        if let Some(f) = &self.field {
            let path = format!("{parent}.{f}");
            self.message = self
                .message
                .replacen(&format!("`{f}`"), &format!("`{path}`"), 1);
            self.field = Some(path);
        }
        self
    }
}
