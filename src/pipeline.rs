//! One run of a pipeline: source → decode/validate (parallel) → engine (state,
//! rules, timers) → sinks, with metrics throughout.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::archive::{Archive, ArchiveConfig};
use crate::config::{Config, ConfigError, SinkConfig, SourceConfig};
use crate::decode::{Decoder, Event, Rejection};
use crate::engine::{Admission, Engine};
use crate::metrics::{Metrics, server};
use crate::rules::custom::{CustomRules, RuleError};
use crate::sinks::{RejectedRecord, SinkError};
use crate::source::{LineReader, RawBatch};

mod checkpoint;
mod embedded;
mod kafka;
mod signals;
mod stage;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Rules(#[from] RuleError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("cannot open input {path}: {source}")]
    Input { path: String, source: io::Error },
    #[error("reading input {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics { addr: SocketAddr, source: io::Error },
    #[error("no input: the source is a file without a path; pass --input FILE (or - for stdin)")]
    NoInput,
    #[error("simulator: {0}")]
    Simulator(String),
    #[error("pipeline thread {0}: {1}")]
    Thread(&'static str, io::Error),
    #[error(transparent)]
    KafkaConfig(#[from] crate::kafka::KafkaConfigError),
    #[error(transparent)]
    Produce(#[from] crate::kafka::ProduceError),
    #[error("kafka consumer: {0}")]
    Consume(#[from] rdkafka::error::KafkaError),
    #[error("the source is kafka but the configuration has no [kafka] section")]
    NoKafkaSection,
    #[error(transparent)]
    Archive(#[from] crate::archive::ArchiveError),
    #[error(transparent)]
    Checkpoint(#[from] checkpoint::CheckpointError),
    #[error(transparent)]
    Changelog(#[from] crate::kafka::changelog::ChangelogError),
    #[error("restoring a store: {0}")]
    Restore(String),
    #[error("kafka: {0}")]
    Topic(String),
}

/// Command-line overrides of the configuration.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub input: Option<PathBuf>,
    pub alerts: Option<PathBuf>,
    pub rejected: Option<PathBuf>,
    pub metrics_listen: Option<SocketAddr>,
    pub batch_size: Option<usize>,
    pub progress: bool,
    /// Kafka source: treat the stream as ended after this long without a message
    /// (the watermark then becomes the largest event time, as at the end of a file).
    pub stop_when_idle: Option<Duration>,
    /// Archive directory (replaces `[archive] dir`, or archives with defaults).
    pub archive: Option<PathBuf>,
    /// Checkpoint directory (replaces `[checkpoint] dir`).
    pub checkpoint_dir: Option<PathBuf>,
    pub checkpoint_interval: Option<Duration>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Summary {
    pub records_read: u64,
    pub accepted: u64,
    pub late: u64,
    pub duplicates: u64,
    pub rejected: u64,
    pub rejected_by_reason: BTreeMap<String, u64>,
    pub alerts: u64,
    pub alerts_by_typology: BTreeMap<String, u64>,
    pub transactions_in_state: usize,
    pub open_transactions: i64,
    pub elapsed_s: f64,
    pub records_per_s: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive: Option<crate::archive::ArchiveStats>,
    /// Stopped by a signal before the input ended (the state was checkpointed
    /// if checkpoints are on).
    #[serde(default)]
    pub interrupted: bool,
    /// Resumed from a checkpoint at this input line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_at_line: Option<u64>,
}

impl Summary {
    fn admitted(&mut self, admission: Admission) {
        match admission {
            Admission::Accepted => self.accepted += 1,
            Admission::Late => self.late += 1,
            Admission::Duplicate => self.duplicates += 1,
        }
    }

    fn rejected(&mut self, reason: &str) {
        self.rejected += 1;
        *self
            .rejected_by_reason
            .entry(reason.to_owned())
            .or_default() += 1;
    }

    /// The final figures: state left in the engine, time and rate.
    fn finish(self, engine: &Engine, started: Instant) -> Summary {
        self.finish_with(engine.transactions(), engine.open_transactions(), started)
    }

    fn finish_with(mut self, transactions: usize, open: i64, started: Instant) -> Summary {
        self.transactions_in_state = transactions;
        self.open_transactions = open;
        self.elapsed_s = started.elapsed().as_secs_f64();
        self.records_per_s = self.records_read as f64 / self.elapsed_s.max(1e-9);
        self
    }

    pub fn render(&self) -> String {
        let mut s = format!(
            "records read {}  accepted {}  late {}  duplicates {}  rejected {}\n",
            self.records_read, self.accepted, self.late, self.duplicates, self.rejected
        );
        for (reason, n) in &self.rejected_by_reason {
            s.push_str(&format!("  rejected {reason:<28} {n}\n"));
        }
        s.push_str(&format!("alerts {}\n", self.alerts));
        for (t, n) in &self.alerts_by_typology {
            s.push_str(&format!("  {t:<37} {n}\n"));
        }
        if let Some(line) = self.resumed_at_line {
            s.push_str(&format!("resumed from a checkpoint at line {line}\n"));
        }
        if self.interrupted {
            s.push_str("stopped by a signal before the end of the input\n");
        }
        if let Some(a) = &self.archive {
            s.push_str(&format!(
                "archived {} events and {} alerts in {} Parquet files\n",
                a.events, a.alerts, a.files
            ));
        }
        s.push_str(&format!(
            "transactions in state {}  open {}\nelapsed {:.2} s  throughput {:.0} records/s\n",
            self.transactions_in_state, self.open_transactions, self.elapsed_s, self.records_per_s
        ));
        s
    }
}

/// One decoded record, in input order.
enum Item {
    Event(Event),
    Rejected(RejectedRecord, Rejection),
}

struct DecodedBatch {
    items: Vec<Item>,
    /// Where the input resumes after this batch.
    end_offset: u64,
    next_line: u64,
}

type Input = LineReader<Box<dyn BufRead + Send>>;

/// The input's name, as positions and checkpoints show it.
fn input_name(config: &Config, ov: &Overrides) -> Result<String, PipelineError> {
    match (&config.source, &ov.input) {
        (_, Some(path)) | (SourceConfig::File { path: Some(path) }, None) => {
            let shown = path.display().to_string();
            Ok(if shown == "-" {
                "<stdin>".to_owned()
            } else {
                shown
            })
        }
        (SourceConfig::File { path: None }, None) => Err(PipelineError::NoInput),
        (SourceConfig::Kafka, None) => Err(PipelineError::NoKafkaSection),
        (SourceConfig::Simulator(sim), None) => Ok(format!("<simulator seed {}>", sim.seed)),
    }
}

/// Opens the input, positioned at `resume` (byte offset, next line) if given.
fn open_input(
    config: &Config,
    ov: &Overrides,
    resume: Option<(u64, u64)>,
) -> Result<(Input, Option<f64>), PipelineError> {
    let max = config.pipeline.max_event_bytes;
    let name = input_name(config, ov)?;
    let (offset, next_line) = resume.unwrap_or((0, 1));
    let (reader, rate): (Box<dyn BufRead + Send>, Option<f64>) = match (&config.source, &ov.input) {
        (_, Some(path)) | (SourceConfig::File { path: Some(path) }, None) => {
            if name == "<stdin>" {
                (
                    Box::new(BufReader::with_capacity(1 << 20, io::stdin())),
                    None,
                )
            } else {
                let fail = |source| PipelineError::Input {
                    path: name.clone(),
                    source,
                };
                let mut f = std::fs::File::open(path).map_err(fail)?;
                f.seek(SeekFrom::Start(offset)).map_err(fail)?;
                (Box::new(BufReader::with_capacity(1 << 20, f)), None)
            }
        }
        (SourceConfig::Simulator(sim), None) => {
            let reference = config.load_reference()?;
            let stream = crate::simulate::Stream::new(sim, std::sync::Arc::new(reference))
                .map_err(PipelineError::Simulator)?;
            let mut reader = crate::simulate::StreamReader::new(stream);
            // The same seed gives the same bytes: a resumed run skips what it read.
            io::copy(&mut (&mut reader).take(offset), &mut io::sink()).map_err(|source| {
                PipelineError::Input {
                    path: name.clone(),
                    source,
                }
            })?;
            (Box::new(reader), (sim.rate > 0.0).then_some(sim.rate))
        }
        (SourceConfig::File { path: None }, None) => return Err(PipelineError::NoInput),
        (SourceConfig::Kafka, None) => return Err(PipelineError::NoKafkaSection),
    };
    Ok((
        LineReader::new(reader, &name, max).resumed_at(offset, next_line),
        rate,
    ))
}

/// Decodes a batch on the rayon pool; the event-lag histogram is fed here too, off
/// the engine's thread.
fn decode_batch(decoder: &Decoder, batch: &RawBatch, metrics: &Metrics) -> DecodedBatch {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let items = (0..batch.len())
        .into_par_iter()
        .with_min_len(512)
        .map(|i| {
            let (bytes, full) = batch.record(i);
            let result = if full > bytes.len() {
                // Truncated while reading: too large, whatever the rest holds.
                decoder.decode(&bytes[..bytes.len().min(decoder.max_event_bytes + 1)])
            } else {
                stage::decode(decoder, bytes, metrics, now_ms)
            };
            match result {
                Ok(e) => Item::Event(e),
                Err(mut r) => {
                    if full > bytes.len() {
                        r.message = format!(
                            "event is {full} bytes; the limit is {} bytes",
                            decoder.max_event_bytes
                        );
                    }
                    Item::Rejected(RejectedRecord::new(bytes, full, batch.position(i), &r), r)
                }
            }
        })
        .collect();
    DecodedBatch {
        items,
        end_offset: batch.end_offset,
        next_line: batch.next_line(),
    }
}

/// Everything a pipeline's main loop starts from: the reference data, the
/// resolved outputs and the shared metrics and readiness. Each loop makes its
/// engines (one, or one per Kafka store partition).
struct Prepared<'a> {
    config: &'a Config,
    overrides: &'a Overrides,
    metrics: Arc<Metrics>,
    ready: Arc<AtomicBool>,
    reference: Arc<crate::reference::Reference>,
    /// Compiled at start, so a bad rule is a startup error in either mode.
    custom: Option<CustomRules>,
    alert_cfg: Vec<SinkConfig>,
    rejected_cfg: Option<SinkConfig>,
    archive: Option<Archive>,
    started: Instant,
}

/// The archive, if configured or asked for on the command line; the engines
/// then keep what the archive needs.
fn open_archive(config: &Config, ov: &Overrides) -> Result<Option<Archive>, PipelineError> {
    let cfg = match (&ov.archive, &config.archive) {
        (Some(dir), Some(c)) => Some(ArchiveConfig {
            dir: dir.clone(),
            ..c.clone()
        }),
        (Some(dir), None) => Some(ArchiveConfig::at(dir.clone())),
        (None, c) => c.clone(),
    };
    let Some(cfg) = cfg else {
        return Ok(None);
    };
    Ok(Some(Archive::start(&cfg)?))
}

/// Runs a pipeline to the end of its input and returns the summary.
pub fn run(config: &Config, ov: &Overrides) -> Result<Summary, PipelineError> {
    let started = Instant::now();
    let metrics = Arc::new(Metrics::new());
    let ready = Arc::new(AtomicBool::new(false));
    let listen = ov.metrics_listen.or(config.metrics.listen);
    let _server = listen
        .map(|addr| {
            server::serve(addr, metrics.clone(), ready.clone())
                .map_err(|source| PipelineError::Metrics { addr, source })
        })
        .transpose()?;
    if let Some(s) = &_server {
        tracing::info!("metrics on http://{}/metrics", s.addr);
    }
    let reference = Arc::new(config.load_reference()?);
    let custom = CustomRules::compile(&config.rules)?;
    let mut alert_cfg = config.sinks.alerts.clone();
    if let Some(p) = &ov.alerts {
        alert_cfg = vec![SinkConfig::File { path: p.clone() }];
    }
    let rejected_cfg = ov
        .rejected
        .clone()
        .map(|path| SinkConfig::File { path })
        .or(config.sinks.rejected.clone());
    let archive = open_archive(config, ov)?;
    let prepared = Prepared {
        config,
        overrides: ov,
        metrics,
        ready,
        reference,
        custom,
        alert_cfg,
        rejected_cfg,
        archive,
        started,
    };
    if matches!(config.source, SourceConfig::Kafka) && ov.input.is_none() {
        let kafka_cfg = config.kafka.as_ref().ok_or(PipelineError::NoKafkaSection)?;
        return kafka::run(prepared, kafka_cfg);
    }
    embedded::run(prepared)
}

pub(crate) fn record_typologies<'a>(
    summary: &mut Summary,
    typologies: impl Iterator<Item = &'a str>,
) {
    for t in typologies {
        summary.alerts += 1;
        match summary.alerts_by_typology.get_mut(t) {
            Some(n) => *n += 1,
            None => {
                summary.alerts_by_typology.insert(t.to_owned(), 1);
            }
        }
    }
}
