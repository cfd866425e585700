//! The dead-letter output for file sources: each rejected record with its original
//! bytes, where it came from, when and why it was rejected.

use base64::Engine as _;
use serde::Serialize;

use super::{LineWriter, SinkError};
use crate::config::SinkConfig;
use crate::decode::Rejection;
use crate::source::Position;

#[derive(Debug, Clone, Serialize)]
pub struct RejectedRecord {
    /// The record as read, when it is UTF-8.
    pub original: Option<String>,
    /// The record base64-encoded, when it is not UTF-8.
    pub original_base64: Option<String>,
    /// Set when the record was longer than could be kept: its full length in bytes.
    pub original_truncated_from: Option<usize>,
    pub source: Position,
    pub rejected_at: String,
    pub reason: &'static str,
    pub field: Option<String>,
    pub message: String,
}

impl RejectedRecord {
    pub fn new(
        raw: &[u8],
        full_len: usize,
        source: Position,
        rejection: &Rejection,
    ) -> RejectedRecord {
        let (original, original_base64) = match std::str::from_utf8(raw) {
            Ok(s) => (Some(s.to_owned()), None),
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(raw)),
            ),
        };
        RejectedRecord {
            original,
            original_base64,
            original_truncated_from: (full_len > raw.len()).then_some(full_len),
            source,
            rejected_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            reason: rejection.reason.as_str(),
            field: rejection.field.clone(),
            message: rejection.message.clone(),
        }
    }
}

pub struct RejectedSink {
    out: Option<LineWriter>,
}

impl RejectedSink {
    /// `append` continues an existing file (a run resumed from a checkpoint).
    pub fn open(config: Option<&SinkConfig>, append: bool) -> Result<RejectedSink, SinkError> {
        let out = match config {
            Some(SinkConfig::File { path }) if append => Some(LineWriter::append(path)?),
            Some(SinkConfig::File { path }) => Some(LineWriter::file(path)?),
            Some(SinkConfig::Stdout) => Some(LineWriter::stdout()),
            // The Kafka pipeline produces to the dead-letter topic itself.
            // The Kafka pipeline produces to the dead-letter topic itself; the
            // HTTP kinds are refused for rejected records when the config loads.
            Some(SinkConfig::Kafka | SinkConfig::Alertmanager(_) | SinkConfig::Webhook(_))
            | None => None,
        };
        Ok(RejectedSink { out })
    }

    pub fn write(&mut self, r: &RejectedRecord) -> Result<(), SinkError> {
        match &mut self.out {
            Some(out) => out.write_json(r),
            None => {
                // Never silently dropped: without a configured sink, rejections go to the log.
                tracing::warn!(source = ?r.source, reason = r.reason, message = %r.message, "rejected event");
                Ok(())
            }
        }
    }

    /// The file and its current length, if the output is a file.
    pub fn file_length(&self) -> Option<Result<(std::path::PathBuf, u64), SinkError>> {
        self.out.as_ref().and_then(LineWriter::file_length)
    }

    pub fn flush(&mut self) -> Result<(), SinkError> {
        match &mut self.out {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}
