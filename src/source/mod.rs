//! Sources: where raw records come from (an NDJSON file, standard input, or the
//! built-in simulator), in batches that keep each record's position.

pub mod lines;

use std::sync::Arc;

use serde::Serialize;

pub use lines::LineReader;

/// Where a record was read, for dead-letter records and error messages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Position {
    pub file: Arc<str>,
    /// 1-based line number.
    pub line: u64,
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.file, self.line)
    }
}

/// A run of consecutive records: their bytes in one buffer.
#[derive(Debug, Default)]
pub struct RawBatch {
    pub source: Arc<str>,
    pub first_line: u64,
    pub data: Vec<u8>,
    /// (start, end, full length) of each record in `data`; the full length exceeds
    /// `end - start` only for a record too long to keep whole.
    pub records: Vec<(usize, usize, usize)>,
    /// Input bytes consumed once this batch was read: where to resume after it.
    pub end_offset: u64,
}

impl RawBatch {
    /// The line number after this batch's last record.
    pub fn next_line(&self) -> u64 {
        self.first_line + self.records.len() as u64
    }
}

impl RawBatch {
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    pub fn record(&self, i: usize) -> (&[u8], usize) {
        let (s, e, full) = self.records[i];
        (&self.data[s..e], full)
    }

    pub fn position(&self, i: usize) -> Position {
        Position {
            file: self.source.clone(),
            line: self.first_line + i as u64,
        }
    }
}
