//! Splits a byte stream into NDJSON records without ever holding more than the
//! size limit (plus one byte) of a single record in memory.

use std::io::{self, BufRead};
use std::sync::Arc;

use super::RawBatch;

pub struct LineReader<R> {
    reader: R,
    source: Arc<str>,
    keep: usize,
    next_line: u64,
    /// Bytes consumed so far, counted from the start of the input.
    offset: u64,
    done: bool,
    /// The largest batch so far (bytes, records): a new batch starts that large,
    /// rather than growing its megabyte by doubling and copying.
    sizes: (usize, usize),
}

impl<R: BufRead> LineReader<R> {
    /// `max_record` is the size limit: longer records are kept truncated to one byte
    /// over it, which is enough to reject them as too large.
    pub fn new(reader: R, source: &str, max_record: usize) -> Self {
        LineReader {
            reader,
            source: Arc::from(source),
            keep: max_record + 1,
            next_line: 1,
            offset: 0,
            done: false,
            sizes: (0, 0),
        }
    }

    /// Continues numbering from a checkpoint; the reader must already be
    /// positioned at `offset`.
    pub fn resumed_at(mut self, offset: u64, next_line: u64) -> Self {
        self.offset = offset;
        self.next_line = next_line;
        self
    }

    pub fn name(&self) -> &str {
        &self.source
    }

    /// Reads up to `max` records. An empty batch means the input has ended.
    /// A final line without a newline is a record; a trailing newline is not.
    pub fn next_batch(&mut self, max: usize) -> io::Result<RawBatch> {
        let mut batch = RawBatch {
            source: self.source.clone(),
            first_line: self.next_line,
            data: Vec::with_capacity(self.sizes.0),
            records: Vec::with_capacity(self.sizes.1.min(max)),
            ..RawBatch::default()
        };
        while !self.done && batch.records.len() < max {
            let start = batch.data.len();
            let mut full = 0usize;
            let mut saw_any = false;
            loop {
                let buf = self.reader.fill_buf()?;
                if buf.is_empty() {
                    self.done = true;
                    break;
                }
                saw_any = true;
                let (chunk, consumed, end_of_line) = match memchr::memchr(b'\n', buf) {
                    Some(i) => (&buf[..i], i + 1, true),
                    None => (buf, buf.len(), false),
                };
                let room = self.keep.saturating_sub(batch.data.len() - start);
                batch
                    .data
                    .extend_from_slice(&chunk[..chunk.len().min(room)]);
                full += chunk.len();
                self.reader.consume(consumed);
                self.offset += consumed as u64;
                if end_of_line {
                    break;
                }
            }
            if !saw_any {
                break;
            }
            let mut end = batch.data.len();
            if end > start && batch.data[end - 1] == b'\r' && full == end - start {
                end -= 1;
                full -= 1;
                batch.data.truncate(end);
            }
            batch.records.push((start, end, full));
            self.next_line += 1;
        }
        batch.end_offset = self.offset;
        self.sizes = (
            self.sizes.0.max(batch.data.len()),
            self.sizes.1.max(batch.records.len()),
        );
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(input: &str, keep: usize) -> Vec<(String, usize, u64)> {
        let mut r = LineReader::new(input.as_bytes(), "t", keep);
        let mut out = Vec::new();
        loop {
            let b = r.next_batch(2).expect("read");
            if b.is_empty() {
                return out;
            }
            for i in 0..b.len() {
                let (bytes, full) = b.record(i);
                out.push((
                    String::from_utf8_lossy(bytes).into_owned(),
                    full,
                    b.position(i).line,
                ));
            }
        }
    }

    #[test]
    fn splits_lines_and_numbers_them() {
        let got = all("a\nbb\r\n\nccc", 100);
        assert_eq!(
            got,
            vec![
                ("a".into(), 1, 1),
                ("bb".into(), 2, 2),
                ("".into(), 0, 3),
                ("ccc".into(), 3, 4)
            ]
        );
        assert!(all("a\n", 100).len() == 1);
        assert!(all("", 100).is_empty());
    }

    #[test]
    fn a_resumed_reader_continues_offsets_and_line_numbers() {
        let input = "a\nbb\nccc\n";
        let mut r = LineReader::new(input.as_bytes(), "t", 100);
        let first = r.next_batch(2).expect("read");
        assert_eq!(first.end_offset, 5);
        let mut rest = LineReader::new(&input.as_bytes()[5..], "t", 100).resumed_at(5, 3);
        let b = rest.next_batch(10).expect("read");
        assert_eq!(b.record(0).0, b"ccc");
        assert_eq!(b.position(0).line, 3);
        assert_eq!(b.end_offset, input.len() as u64);
    }

    #[test]
    fn truncates_overlong_records_but_keeps_their_length() {
        let long = "x".repeat(50);
        let got = all(&format!("{long}\nok\n"), 10);
        assert_eq!(got[0].0.len(), 11);
        assert_eq!(got[0].1, 50);
        assert_eq!(got[1], ("ok".into(), 2, 2));
    }
}
