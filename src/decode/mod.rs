//! Decode and validate: raw bytes from a source → a typed [`Event`] or a [`Rejection`].
//!
//! Valid events take a fast path (serde derive straight into the wire struct); only
//! when that fails does the precise path walk the JSON tree to name the fault, so
//! good events pay nothing for good error messages.

pub mod event;
mod precise;
pub mod reject;
mod wire;

pub use event::*;
pub use reject::{Reason, Rejection};
pub use wire::{is_raw_nik, parse_timestamp};

/// The contract's default size limit for one event.
pub const DEFAULT_MAX_EVENT_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy)]
pub struct Decoder {
    pub max_event_bytes: usize,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            max_event_bytes: DEFAULT_MAX_EVENT_BYTES,
        }
    }
}

impl Decoder {
    pub fn new(max_event_bytes: usize) -> Self {
        Decoder { max_event_bytes }
    }

    pub fn decode(&self, bytes: &[u8]) -> Result<Event, Rejection> {
        if bytes.len() > self.max_event_bytes {
            return Err(Rejection::new(
                Reason::TooLarge,
                None,
                format!(
                    "event is {} bytes; the limit is {} bytes",
                    bytes.len(),
                    self.max_event_bytes
                ),
            ));
        }
        // The whole record must be UTF-8, unknown fields included; checked once here,
        // so the JSON parser can then skip its own per-string checks.
        // simdutf8's fast check only says yes or no; the precise path names the offset.
        let Ok(text) = simdutf8::basic::from_utf8(bytes) else {
            return self.decode_precisely(bytes);
        };
        match serde_json::from_str::<wire::Wire>(text) {
            Ok(w) => w.into_event(),
            Err(_) => self.decode_precisely(bytes),
        }
    }

    #[cold]
    fn decode_precisely(&self, bytes: &[u8]) -> Result<Event, Rejection> {
        let text = std::str::from_utf8(bytes).map_err(|e| {
            Rejection::new(
                Reason::InvalidUtf8,
                None,
                format!("not valid UTF-8 at byte offset {}", e.valid_up_to()),
            )
        })?;
        if text.trim().is_empty() {
            return Err(Rejection::new(
                Reason::InvalidJson,
                None,
                "empty line: expected one JSON object",
            ));
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Rejection::new(
                Reason::InvalidJson,
                None,
                format!("invalid JSON at column {}: {e}", e.column()),
            )
        })?;
        precise::decode_value(&value)
    }
}

#[cfg(test)]
mod tests;
