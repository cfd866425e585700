//! `pantau validate`: checks every line of an NDJSON file against the contract.

use std::collections::BTreeMap;
use std::io::{BufRead, Write};

use crate::decode::{Decoder, Event};
use crate::source::LineReader;

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    pub lines: u64,
    pub valid: u64,
    pub invalid_by_reason: BTreeMap<&'static str, u64>,
}

impl Report {
    pub fn invalid(&self) -> u64 {
        self.invalid_by_reason.values().sum()
    }
}

/// Writes one line per invalid record (`FILE:LINE: message (reason)`) to `errors`.
pub fn validate<R: BufRead>(
    reader: R,
    name: &str,
    decoder: &Decoder,
    errors: &mut dyn Write,
) -> std::io::Result<Report> {
    validate_with(reader, name, decoder, errors, &mut |_, _| Ok(()))
}

/// Called with each record's bytes, and its event when it is valid.
pub type RecordFn<'a> = dyn FnMut(&[u8], Option<&Event>) -> std::io::Result<()> + 'a;

/// Like [`validate`], and hands every record (with its event when valid) to
/// `each`: `pantau publish` produces the valid ones.
pub fn validate_with<R: BufRead>(
    reader: R,
    name: &str,
    decoder: &Decoder,
    errors: &mut dyn Write,
    each: &mut RecordFn<'_>,
) -> std::io::Result<Report> {
    let mut lines = LineReader::new(reader, name, decoder.max_event_bytes);
    let mut report = Report::default();
    loop {
        let batch = lines.next_batch(4096)?;
        if batch.is_empty() {
            return Ok(report);
        }
        for i in 0..batch.len() {
            report.lines += 1;
            let (bytes, full) = batch.record(i);
            let result = decoder.decode(bytes);
            each(bytes, result.as_ref().ok())?;
            match result {
                Ok(_) => report.valid += 1,
                Err(mut r) => {
                    if full > bytes.len() {
                        r.message = format!(
                            "event is {full} bytes; the limit is {} bytes",
                            decoder.max_event_bytes
                        );
                    }
                    *report
                        .invalid_by_reason
                        .entry(r.reason.as_str())
                        .or_default() += 1;
                    writeln!(
                        errors,
                        "{}: {} ({})",
                        batch.position(i),
                        r.message,
                        r.reason
                    )?;
                }
            }
        }
    }
}
