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
pub(crate) enum LineWriter {
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
        Ok(LineWriter::File {
            path: path.display().to_string(),
            w: BufWriter::with_capacity(1 << 16, f),
        })
    }

    pub fn stdout() -> LineWriter {
        LineWriter::Stdout(BufWriter::new(io::stdout()))
    }

    /// For a file: its path and length once flushed.
    pub fn file_length(&self) -> Option<Result<(std::path::PathBuf, u64), SinkError>> {
        match self {
            LineWriter::File { path, .. } => Some(
                std::fs::metadata(path)
                    .map(|m| (std::path::PathBuf::from(path), m.len()))
                    .map_err(|source| SinkError::Write {
                        sink: path.clone(),
                        source,
                    }),
            ),
            LineWriter::Stdout(_) => None,
        }
    }

    pub fn name(&self) -> &str {
        match self {
            LineWriter::File { path, .. } => path,
            LineWriter::Stdout(_) => "stdout",
        }
    }

    fn writer(&mut self) -> &mut dyn Write {
        match self {
            LineWriter::File { w, .. } => w,
            LineWriter::Stdout(w) => w,
        }
    }

    pub fn write_json<T: serde::Serialize>(&mut self, value: &T) -> Result<(), SinkError> {
        let name = self.name().to_owned();
        let w = self.writer();
        serde_json::to_writer(&mut *w, value)
            .map_err(io::Error::from)
            .and_then(|_| w.write_all(b"\n"))
            .map_err(|source| SinkError::Write { sink: name, source })
    }

    pub fn flush(&mut self) -> Result<(), SinkError> {
        let name = self.name().to_owned();
        self.writer()
            .flush()
            .map_err(|source| SinkError::Write { sink: name, source })
    }
}
