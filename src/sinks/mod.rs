//! Sinks: where alerts and rejected records go (NDJSON file, stdout, and for
//! alerts Alertmanager and signed webhooks; Kafka is produced by its pipeline).

pub mod alertmanager;
pub mod alerts;
pub mod delivery;
pub mod rejected;
pub mod webhook;

pub use alerts::AlertSink;
pub use rejected::{RejectedRecord, RejectedSink};

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("cannot open {path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("writing to {sink}: {source}")]
    Write { sink: String, source: io::Error },
    #[error("{sink} sink: {message}")]
    Http { sink: &'static str, message: String },
}

/// An NDJSON output: a file (parent folders created) or standard output.
///
/// Each record is serialised whole into `line` and handed to the buffer in one
/// piece, so the buffer only ever writes out complete lines: a process killed
/// mid-run leaves no torn record at the end of the file.
pub(crate) struct LineWriter {
    out: Output,
    line: Vec<u8>,
}

enum Output {
    File { path: String, w: BufWriter<File> },
    Stdout(BufWriter<io::Stdout>),
}

impl LineWriter {
    /// A new file, replacing any earlier one.
    pub fn file(path: &Path) -> Result<LineWriter, SinkError> {
        Self::open(path, false)
    }

    /// Appends to the file: dead letters of earlier runs are kept.
    pub fn append(path: &Path) -> Result<LineWriter, SinkError> {
        Self::open(path, true)
    }

    fn open(path: &Path, append: bool) -> Result<LineWriter, SinkError> {
        let open = |source| SinkError::Open {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(open)?;
        }
        let f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(path)
            .map_err(open)?;
        Ok(LineWriter::new(Output::File {
            path: path.display().to_string(),
            w: BufWriter::with_capacity(1 << 16, f),
        }))
    }

    pub fn stdout() -> LineWriter {
        LineWriter::new(Output::Stdout(BufWriter::new(io::stdout())))
    }

    fn new(out: Output) -> LineWriter {
        LineWriter {
            out,
            line: Vec::with_capacity(4096),
        }
    }

    /// For a file: its path and length once flushed.
    pub fn file_length(&self) -> Option<Result<(std::path::PathBuf, u64), SinkError>> {
        match &self.out {
            Output::File { path, .. } => Some(
                std::fs::metadata(path)
                    .map(|m| (std::path::PathBuf::from(path), m.len()))
                    .map_err(|source| SinkError::Write {
                        sink: path.clone(),
                        source,
                    }),
            ),
            Output::Stdout(_) => None,
        }
    }

    pub fn name(&self) -> &str {
        match &self.out {
            Output::File { path, .. } => path,
            Output::Stdout(_) => "stdout",
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match &mut self.out {
            Output::File { w, .. } => w,
            Output::Stdout(w) => w,
        }
    }

    fn failed(&self, source: io::Error) -> SinkError {
        SinkError::Write {
            sink: self.name().to_owned(),
            source,
        }
    }

    pub fn write_json<T: serde::Serialize>(&mut self, value: &T) -> Result<(), SinkError> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let result = serde_json::to_writer(&mut line, value)
            .map_err(io::Error::from)
            .and_then(|_| {
                line.push(b'\n');
                self.writer().write_all(&line)
            });
        self.line = line;
        result.map_err(|e| self.failed(e))
    }

    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.writer().flush().map_err(|e| self.failed(e))
    }
}
