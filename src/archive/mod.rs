//! The history archive: every event the engine processed, with the facts the
//! engine derived for it, and every alert, written as Parquet under Hive-style
//! date partitions (`events/date=YYYY-MM-DD/part-….parquet`, same for `alerts`).
//! A file becomes visible only when complete (written under a hidden name, then
//! renamed). Layout and columns: docs/history.md.

mod files;
mod rows;

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;

pub use files::PartitionedWriter;
pub use rows::{alert_schema, event_schema};

use crate::alerts::Alert;
use crate::decode::Event;

/// A processed event and what the engine knew when it processed it.
#[derive(Debug, Clone)]
pub struct ArchivedEvent {
    pub event: Event,
    pub facts: EventFacts,
}

#[derive(Debug, Clone)]
pub struct EventFacts {
    /// The expected fee of the transaction at that moment, if known.
    pub expected_fee: Option<u64>,
    /// The transaction's total paid after this event.
    pub total_paid: u64,
    /// Rupiah above the expected fee that this event added (as counted in
    /// `pantau_excess_fee_idr_total`).
    pub excess_fee_idr: u64,
    /// The transaction had raised an irregular-payment typology by then.
    pub irregular: bool,
    /// For the `completed` event that closed the transaction.
    pub completion: Option<Completion>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Completion {
    pub deadline: DateTime<Utc>,
    pub within_sla: bool,
    pub duration_s: i64,
    /// Working days after the submission day up to the completion day, in the
    /// office's zone and calendar.
    pub working_days: i64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArchiveConfig {
    pub dir: PathBuf,
    /// A file is closed (and becomes visible) once it holds about this many bytes.
    #[serde(default = "default_max_file_bytes")]
    pub max_file_bytes: u64,
    /// ... or once it has been open this long (a long-running Kafka pipeline).
    #[serde(with = "humantime_serde", default = "default_max_file_age")]
    pub max_file_age: Duration,
    #[serde(default = "default_row_group_rows")]
    pub row_group_rows: usize,
}

fn default_max_file_bytes() -> u64 {
    128 << 20
}
fn default_max_file_age() -> Duration {
    Duration::from_secs(15 * 60)
}
fn default_row_group_rows() -> usize {
    128 * 1024
}

impl ArchiveConfig {
    pub fn at(dir: PathBuf) -> ArchiveConfig {
        ArchiveConfig {
            dir,
            max_file_bytes: default_max_file_bytes(),
            max_file_age: default_max_file_age(),
            row_group_rows: default_row_group_rows(),
        }
    }

    pub fn check(&self) -> Result<(), String> {
        if self.max_file_bytes == 0 || self.row_group_rows == 0 {
            return Err(
                "archive.max_file_bytes and archive.row_group_rows must be positive".into(),
            );
        }
        if self.max_file_age.is_zero() {
            return Err("archive.max_file_age must be positive".into());
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("archive {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("archive: {0}")]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    #[error("archive: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("archive writer stopped")]
    Stopped,
}

/// Rows and files written by one run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ArchiveStats {
    pub events: u64,
    pub alerts: u64,
    pub files: u64,
}

struct Batch {
    events: Vec<ArchivedEvent>,
    alerts: Vec<Alert>,
}

/// The archive, written on a thread of its own; `send` waits when it falls behind.
pub struct Archive {
    tx: Option<crossbeam_channel::Sender<Batch>>,
    thread: Option<JoinHandle<Result<ArchiveStats, ArchiveError>>>,
}

impl Archive {
    pub fn start(cfg: &ArchiveConfig) -> Result<Archive, ArchiveError> {
        let mut events = PartitionedWriter::new(&cfg.dir.join("events"), event_schema(), cfg)?;
        let mut alerts = PartitionedWriter::new(&cfg.dir.join("alerts"), alert_schema(), cfg)?;
        let (tx, rx) = crossbeam_channel::bounded::<Batch>(8);
        let thread = std::thread::Builder::new()
            .name("pantau-archive".into())
            .spawn(move || {
                let mut stats = ArchiveStats::default();
                for b in rx {
                    stats.events += b.events.len() as u64;
                    stats.alerts += b.alerts.len() as u64;
                    for (date, batch) in rows::events_by_date(&b.events)? {
                        events.write(&date, &batch)?;
                    }
                    for (date, batch) in rows::alerts_by_date(&b.alerts)? {
                        alerts.write(&date, &batch)?;
                    }
                    events.roll_aged()?;
                    alerts.roll_aged()?;
                }
                stats.files = events.close()? + alerts.close()?;
                Ok(stats)
            })
            .map_err(|source| ArchiveError::Io {
                path: cfg.dir.display().to_string(),
                source,
            })?;
        Ok(Archive {
            tx: Some(tx),
            thread: Some(thread),
        })
    }

    pub fn send(
        &mut self,
        events: Vec<ArchivedEvent>,
        alerts: Vec<Alert>,
    ) -> Result<(), ArchiveError> {
        if events.is_empty() && alerts.is_empty() {
            return Ok(());
        }
        let sent = self
            .tx
            .as_ref()
            .is_some_and(|tx| tx.send(Batch { events, alerts }).is_ok());
        if sent { Ok(()) } else { Err(self.stopped()) }
    }

    fn stopped(&mut self) -> ArchiveError {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(Err(e))) => e,
            _ => ArchiveError::Stopped,
        }
    }

    /// Writes what is pending, closes every file and makes it visible.
    pub fn close(mut self) -> Result<ArchiveStats, ArchiveError> {
        self.tx = None;
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            _ => Err(ArchiveError::Stopped),
        }
    }
}
