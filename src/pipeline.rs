//! One run of a pipeline: source → decode/validate (parallel) → engine (state,
//! rules, timers) → sinks, with metrics throughout.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use serde::Serialize;

use crate::archive::{Archive, ArchiveConfig};
use crate::config::{Config, ConfigError, SinkConfig, SourceConfig};
use crate::decode::{Decoder, Event, Rejection};
use crate::engine::{Admission, Engine, EngineSettings};
use crate::metrics::{Metrics, server};
use crate::rules::custom::{CustomRules, RuleError};
use crate::sinks::{AlertSink, RejectedRecord, RejectedSink, SinkError};
use crate::source::{LineReader, RawBatch};

mod kafka;

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
}

#[derive(Debug, Clone, Default, Serialize)]
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub archive: Option<crate::archive::ArchiveStats>,
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
    fn finish(mut self, engine: &Engine, started: Instant) -> Summary {
        self.transactions_in_state = engine.transactions();
        self.open_transactions = engine.open_transactions();
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
}

type Input = LineReader<Box<dyn BufRead + Send>>;

fn open_input(config: &Config, ov: &Overrides) -> Result<(Input, Option<f64>), PipelineError> {
    let max = config.pipeline.max_event_bytes;
    match (&config.source, &ov.input) {
        (_, Some(path)) | (SourceConfig::File { path: Some(path) }, None) => {
            let shown = path.display().to_string();
            let reader: Box<dyn BufRead + Send> = if shown == "-" {
                Box::new(BufReader::with_capacity(1 << 20, io::stdin()))
            } else {
                let f = std::fs::File::open(path).map_err(|source| PipelineError::Input {
                    path: shown.clone(),
                    source,
                })?;
                Box::new(BufReader::with_capacity(1 << 20, f))
            };
            let name = if shown == "-" {
                "<stdin>".to_owned()
            } else {
                shown
            };
            Ok((LineReader::new(reader, &name, max), None))
        }
        (SourceConfig::File { path: None }, None) => Err(PipelineError::NoInput),
        (SourceConfig::Kafka, None) => Err(PipelineError::NoKafkaSection),
        (SourceConfig::Simulator(sim), None) => {
            let reference = config.load_reference()?;
            let workload =
                crate::simulate::generate(sim, &reference).map_err(PipelineError::Simulator)?;
            let name = format!("<simulator seed {}>", sim.seed);
            let reader: Box<dyn BufRead + Send> = Box::new(io::Cursor::new(workload.events));
            Ok((
                LineReader::new(reader, &name, max),
                (sim.rate > 0.0).then_some(sim.rate),
            ))
        }
    }
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
                decoder.decode(bytes)
            };
            match result {
                Ok(e) => {
                    let lag_ms = now_ms.saturating_sub(e.occurred_at.timestamp_millis());
                    metrics
                        .event_lag_seconds
                        .observe(lag_ms.max(0) as f64 / 1000.0);
                    Item::Event(e)
                }
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
    DecodedBatch { items }
}

/// The archive, if configured or asked for on the command line; the engine then
/// keeps what the archive needs.
fn open_archive(
    config: &Config,
    ov: &Overrides,
    engine: &mut Engine,
) -> Result<Option<Archive>, PipelineError> {
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
    engine.enable_archive();
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
    let mut engine = Engine::new(
        EngineSettings::from_config(config),
        reference,
        metrics.clone(),
        custom,
    );

    let mut alert_cfg = config.sinks.alerts.clone();
    if let Some(p) = &ov.alerts {
        alert_cfg = vec![SinkConfig::File { path: p.clone() }];
    }
    let rejected_cfg = ov
        .rejected
        .clone()
        .map(|path| SinkConfig::File { path })
        .or(config.sinks.rejected.clone());
    let archive = open_archive(config, ov, &mut engine)?;
    if matches!(config.source, SourceConfig::Kafka) && ov.input.is_none() {
        let kafka_cfg = config.kafka.as_ref().ok_or(PipelineError::NoKafkaSection)?;
        return kafka::run(kafka::KafkaRun {
            config,
            kafka: kafka_cfg,
            overrides: ov,
            metrics,
            ready,
            engine,
            alert_cfg,
            rejected_cfg,
            archive,
            started,
        });
    }
    let mut alert_sink = AlertSink::open(&alert_cfg, metrics.clone())?;
    // Alerts are serialised and written on a thread of their own, off the engine's path.
    let (alert_tx, alert_rx) = crossbeam_channel::bounded::<Vec<crate::alerts::Alert>>(16);
    let sink_metrics = metrics.clone();
    let writer = std::thread::Builder::new()
        .name("pantau-sink".into())
        .spawn(move || -> Result<(), SinkError> {
            let sink_time = sink_metrics.processing_seconds.with_label_values(&["sink"]);
            for alerts in alert_rx {
                let t = Instant::now();
                alert_sink.write(&alerts)?;
                sink_time.observe(t.elapsed().as_secs_f64());
            }
            alert_sink.close()
        })
        .map_err(|e| PipelineError::Thread("pantau-sink", e))?;
    let mut rejected_sink = RejectedSink::open(rejected_cfg.as_ref())?;

    let (mut input, rate) = open_input(config, ov)?;
    ready.store(true, Ordering::Relaxed);
    let batch_size = ov.batch_size.unwrap_or(config.pipeline.batch_size);
    let decoder = Decoder::new(config.pipeline.max_event_bytes);
    let (tx, rx) = crossbeam_channel::bounded::<Result<DecodedBatch, PipelineError>>(4);
    let decode_metrics = metrics.clone();
    let reader = std::thread::Builder::new()
        .name("pantau-decode".into())
        .spawn(move || {
            let begun = Instant::now();
            let mut lines = 0u64;
            loop {
                let batch = match input.next_batch(batch_size) {
                    Ok(b) => b,
                    Err(source) => {
                        let path = input.name().to_owned();
                        let _ = tx.send(Err(PipelineError::Read { path, source }));
                        return;
                    }
                };
                if batch.is_empty() {
                    return;
                }
                lines += batch.len() as u64;
                let t = Instant::now();
                let decoded = decode_batch(&decoder, &batch, &decode_metrics);
                decode_metrics
                    .processing_seconds
                    .with_label_values(&["decode"])
                    .observe(t.elapsed().as_secs_f64());
                if tx.send(Ok(decoded)).is_err() {
                    return;
                }
                if let Some(rate) = rate {
                    let due = Duration::from_secs_f64(lines as f64 / rate);
                    if let Some(wait) = due.checked_sub(begun.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
            }
        })
        .map_err(|e| PipelineError::Thread("pantau-decode", e))?;

    let mut archive = archive;
    let mut summary = Summary::default();
    let evaluate = metrics.processing_seconds.with_label_values(&["evaluate"]);
    let mut last_progress = Instant::now();
    let progress_every = Duration::from_secs(config.pipeline.progress_interval_s.max(1));
    for batch in rx {
        let batch = batch?;
        let t = Instant::now();
        for item in batch.items {
            summary.records_read += 1;
            match item {
                Item::Event(e) => {
                    let et = e.event_type();
                    let admission = engine.ingest(e);
                    metrics.count_event(et, admission.outcome());
                    summary.admitted(admission);
                }
                Item::Rejected(record, rejection) => {
                    summary.rejected(record.reason);
                    metrics.count_rejection(rejection.reason.as_str());
                    rejected_sink.write(&record)?;
                }
            }
        }
        let alerts = engine.take_alerts();
        evaluate.observe(t.elapsed().as_secs_f64());
        record_alerts(&mut summary, &alerts);
        if let Some(a) = &mut archive {
            a.send(engine.take_archived(), alerts.clone())?;
        }
        rejected_sink.flush()?;
        if !alerts.is_empty() && alert_tx.send(alerts).is_err() {
            // The writer stopped on an error; it is reported below.
            break;
        }
        if let Some(w) = engine.watermark() {
            metrics
                .watermark_seconds
                .set(w.timestamp() as f64 + f64::from(w.timestamp_subsec_millis()) / 1000.0);
        }
        if ov.progress
            && config.pipeline.progress_interval_s > 0
            && last_progress.elapsed() >= progress_every
        {
            last_progress = Instant::now();
            let secs = started.elapsed().as_secs_f64();
            eprintln!(
                "progress: {} records ({:.0}/s), {} alerts, {} transactions in state, watermark {}",
                summary.records_read,
                summary.records_read as f64 / secs,
                summary.alerts,
                engine.transactions(),
                engine
                    .watermark()
                    .map(|w| w.to_rfc3339())
                    .unwrap_or_else(|| "-".into())
            );
        }
    }
    let _ = reader.join();
    engine.end_of_input();
    let alerts = engine.take_alerts();
    record_alerts(&mut summary, &alerts);
    if let Some(mut a) = archive {
        a.send(engine.take_archived(), alerts.clone())?;
        summary.archive = Some(a.close()?);
    }
    let _ = alert_tx.send(alerts);
    drop(alert_tx);
    match writer.join() {
        Ok(result) => result?,
        Err(_) => {
            return Err(PipelineError::Thread(
                "pantau-sink",
                io::Error::other("panicked"),
            ));
        }
    }
    rejected_sink.flush()?;
    if let Some(w) = engine.watermark() {
        metrics.watermark_seconds.set(w.timestamp() as f64);
    }
    Ok(summary.finish(&engine, started))
}

pub(crate) fn record_alerts(summary: &mut Summary, alerts: &[crate::alerts::Alert]) {
    summary.alerts += alerts.len() as u64;
    for a in alerts {
        *summary
            .alerts_by_typology
            .entry(a.typology.clone())
            .or_default() += 1;
    }
}
