//! Pipeline configuration (TOML under pipelines/): source, reference data,
//! parameters, custom rules, sinks and the metrics address.
//!
//! Reference-data paths are relative to the configuration file; input and output
//! paths are relative to the working directory, like command-line paths.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono_tz::Tz;
use serde::Deserialize;

use crate::alerts::Severity;
use crate::reference::{self, Reference};
use crate::rules::{Parameters, Typology};
use crate::time::OfficeHours;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read pipeline configuration {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("pipeline configuration {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(transparent)]
    Reference(#[from] reference::ReferenceError),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub pipeline: PipelineSection,
    pub source: SourceConfig,
    pub reference: ReferenceConfig,
    #[serde(default)]
    pub parameters: Parameters,
    #[serde(default)]
    pub typologies: BTreeMap<String, TypologySettings>,
    #[serde(default)]
    pub rules: Vec<CustomRuleConfig>,
    #[serde(default)]
    pub sinks: SinksConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub kafka: Option<crate::kafka::KafkaConfig>,
    /// The Parquet history archive (docs/history.md); absent = not written.
    #[serde(default)]
    pub archive: Option<crate::archive::ArchiveConfig>,
    /// Embedded-mode checkpoints (docs/reliability.md); absent = none.
    #[serde(default)]
    pub checkpoint: Option<CheckpointConfig>,
    /// Directory of the configuration file, for resolving reference paths.
    #[serde(skip)]
    pub base_dir: PathBuf,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSection {
    pub name: String,
    #[serde(with = "humantime_serde", default = "default_lateness")]
    pub allowed_lateness: Duration,
    #[serde(with = "humantime_serde", default = "default_retention")]
    pub retention: Duration,
    /// How long an open transaction is kept after its last event or deadline.
    #[serde(with = "humantime_serde", default = "default_open_retention")]
    pub open_retention: Duration,
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    #[serde(default = "default_max_event_bytes")]
    pub max_event_bytes: usize,
    #[serde(default = "default_zone")]
    pub default_time_zone: Tz,
    /// Seconds between progress lines on stderr; 0 disables them.
    #[serde(default = "default_progress")]
    pub progress_interval_s: u64,
    /// After SIGTERM/SIGINT, how long draining, flushing and the final checkpoint
    /// or commit may take before the process exits regardless.
    #[serde(with = "humantime_serde", default = "default_shutdown_timeout")]
    pub shutdown_timeout: Duration,
    /// Fire the typologies that are final on arrival when their event arrives,
    /// on the guarantee that each transaction's events arrive in event-time
    /// order (docs/alerts.md). Off: every alert waits for the watermark. Bounded
    /// inputs (files, the simulator) are always replayed in watermark order.
    #[serde(default)]
    pub early_alerts: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointConfig {
    pub dir: PathBuf,
    /// Time between checkpoints (one is also written at shutdown and at the end).
    #[serde(with = "humantime_serde", default = "default_checkpoint_interval")]
    pub interval: Duration,
}

fn default_checkpoint_interval() -> Duration {
    Duration::from_secs(30)
}

fn default_shutdown_timeout() -> Duration {
    Duration::from_secs(30)
}

fn default_lateness() -> Duration {
    Duration::from_secs(600)
}
fn default_retention() -> Duration {
    Duration::from_secs(30 * 86_400)
}
fn default_open_retention() -> Duration {
    Duration::from_secs(365 * 86_400)
}
fn default_batch_size() -> usize {
    4096
}
fn default_max_event_bytes() -> usize {
    crate::decode::DEFAULT_MAX_EVENT_BYTES
}
fn default_zone() -> Tz {
    chrono_tz::Asia::Jakarta
}
fn default_progress() -> u64 {
    5
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SourceConfig {
    /// An NDJSON file (`-` for standard input); `--input` overrides the path.
    File {
        #[serde(default)]
        path: Option<PathBuf>,
    },
    /// The built-in workload simulator.
    Simulator(crate::simulate::SimulatorConfig),
    /// A Kafka consumer group on `[kafka] events_topic`.
    Kafka,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceConfig {
    pub services: PathBuf,
    pub holidays: PathBuf,
    #[serde(default)]
    pub offices: Option<PathBuf>,
    /// Policy switch: count cuti bersama (collective leave) as working days.
    #[serde(default)]
    pub cuti_bersama_is_working_day: bool,
    #[serde(default)]
    pub office_hours: OfficeHours,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TypologySettings {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub severity: Option<Severity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomRuleConfig {
    pub id: String,
    pub severity: Severity,
    /// SQL boolean expression over the facts schema (docs/rules.md).
    pub when: String,
    pub summary_id: String,
    pub summary_en: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    File {
        path: PathBuf,
    },
    Stdout,
    /// `[kafka] alerts_topic` for alerts, `[kafka] dlq_topic` for rejected records.
    Kafka,
    /// Alertmanager's `POST /api/v2/alerts` (alerts only).
    Alertmanager(AlertmanagerSinkConfig),
    /// A signed HTTP POST of each alert (alerts only).
    Webhook(WebhookSinkConfig),
}

impl SinkConfig {
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::File { .. } => "file",
            SinkConfig::Stdout => "stdout",
            SinkConfig::Kafka => "kafka",
            SinkConfig::Alertmanager(_) => "alertmanager",
            SinkConfig::Webhook(_) => "webhook",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertmanagerSinkConfig {
    /// Alertmanager's base URL, e.g. `http://alertmanager:9093`.
    pub url: String,
    /// How long an alert stays active in Alertmanager after pantau sends it
    /// (`endsAt`), so alerts resolve on their own.
    #[serde(with = "humantime_serde", default = "default_hold")]
    pub hold: Duration,
    /// Alerts per POST.
    #[serde(default = "default_am_batch")]
    pub batch_size: usize,
    /// Shown as each alert's source link in Alertmanager.
    #[serde(default)]
    pub generator_url: Option<String>,
    /// NDJSON file for alerts not delivered within the retry budget.
    pub dead_letter: PathBuf,
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSinkConfig {
    pub url: String,
    /// Name of the environment variable holding the HMAC-SHA256 secret.
    pub secret_env: String,
    /// NDJSON file for alerts not delivered within the retry budget.
    pub dead_letter: PathBuf,
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

/// Retry, queue and circuit-breaker settings shared by the HTTP sinks.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryConfig {
    /// Alerts held in memory; when full, the pipeline waits (backpressure).
    #[serde(default = "default_queue_capacity")]
    pub queue_capacity: usize,
    /// Attempts per delivery, the first included.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    #[serde(with = "humantime_serde", default = "default_initial_backoff")]
    pub initial_backoff: Duration,
    #[serde(with = "humantime_serde", default = "default_max_backoff")]
    pub max_backoff: Duration,
    /// Per request.
    #[serde(with = "humantime_serde", default = "default_request_timeout")]
    pub timeout: Duration,
    /// After a delivery exhausts its retries, later alerts go straight to the
    /// dead-letter file until one probe per this interval succeeds.
    #[serde(with = "humantime_serde", default = "default_probe_interval")]
    pub probe_interval: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            queue_capacity: default_queue_capacity(),
            max_attempts: default_max_attempts(),
            initial_backoff: default_initial_backoff(),
            max_backoff: default_max_backoff(),
            timeout: default_request_timeout(),
            probe_interval: default_probe_interval(),
        }
    }
}

impl DeliveryConfig {
    fn check(&self, sink: &str) -> Result<(), String> {
        if self.queue_capacity == 0 {
            return Err(format!("{sink}.delivery.queue_capacity must be at least 1"));
        }
        if self.max_attempts == 0 {
            return Err(format!("{sink}.delivery.max_attempts must be at least 1"));
        }
        if self.initial_backoff > self.max_backoff {
            return Err(format!(
                "{sink}.delivery.initial_backoff must not exceed max_backoff"
            ));
        }
        if self.timeout.is_zero() {
            return Err(format!("{sink}.delivery.timeout must be positive"));
        }
        Ok(())
    }
}

fn default_hold() -> Duration {
    Duration::from_secs(24 * 3600)
}
fn default_am_batch() -> usize {
    64
}
fn default_queue_capacity() -> usize {
    10_000
}
fn default_max_attempts() -> u32 {
    8
}
fn default_initial_backoff() -> Duration {
    Duration::from_millis(500)
}
fn default_max_backoff() -> Duration {
    Duration::from_secs(30)
}
fn default_request_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_probe_interval() -> Duration {
    Duration::from_secs(30)
}

fn check_url(sink: &str, url: &str) -> Result<(), String> {
    if url.starts_with("http://") || url.starts_with("https://") {
        Ok(())
    } else {
        Err(format!(
            "{sink}.url must start with http:// or https://, got {url:?}"
        ))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinksConfig {
    #[serde(default)]
    pub alerts: Vec<SinkConfig>,
    #[serde(default)]
    pub rejected: Option<SinkConfig>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Address of the /metrics and /healthz endpoint; absent = not served.
    #[serde(default)]
    pub listen: Option<SocketAddr>,
}

impl Config {
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
            path: path.to_owned(),
            source,
        })?;
        let mut config = Self::parse(&text, path)?;
        config.base_dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Ok(config)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        };
        let config: Config = toml::from_str(text).map_err(|e| invalid(e.to_string()))?;
        if config.pipeline.batch_size == 0 {
            return Err(invalid("pipeline.batch_size must be at least 1".into()));
        }
        if config.pipeline.max_event_bytes == 0 {
            return Err(invalid(
                "pipeline.max_event_bytes must be at least 1".into(),
            ));
        }
        config.parameters.check().map_err(invalid)?;
        if let Some(a) = &config.archive {
            a.check().map_err(invalid)?;
        }
        let uses_kafka = matches!(config.source, SourceConfig::Kafka)
            || config
                .sinks
                .alerts
                .iter()
                .chain(config.sinks.rejected.iter())
                .any(|s| matches!(s, SinkConfig::Kafka));
        if uses_kafka && config.kafka.is_none() {
            return Err(invalid(
                "a kafka source or sink needs a [kafka] section (bootstrap_servers, topics)".into(),
            ));
        }
        for (i, sink) in config.sinks.alerts.iter().enumerate() {
            let at = format!("sinks.alerts[{i}] ({})", sink.kind());
            match sink {
                SinkConfig::Alertmanager(am) => {
                    check_url(&at, &am.url).map_err(invalid)?;
                    if am.batch_size == 0 {
                        return Err(invalid(format!("{at}.batch_size must be at least 1")));
                    }
                    am.delivery.check(&at).map_err(invalid)?;
                }
                SinkConfig::Webhook(w) => {
                    check_url(&at, &w.url).map_err(invalid)?;
                    if w.secret_env.is_empty() {
                        return Err(invalid(format!("{at}.secret_env must name a variable")));
                    }
                    w.delivery.check(&at).map_err(invalid)?;
                }
                _ => {}
            }
        }
        if let Some(r) = &config.sinks.rejected
            && matches!(r, SinkConfig::Alertmanager(_) | SinkConfig::Webhook(_))
        {
            return Err(invalid(format!(
                "sinks.rejected: kind {} carries alerts only; use file, stdout or kafka",
                r.kind()
            )));
        }
        for name in config.typologies.keys() {
            if Typology::from_name(name).is_none() {
                return Err(invalid(format!(
                    "[typologies.{name}]: unknown typology; known: {}",
                    Typology::ALL
                        .iter()
                        .map(|t| t.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(config)
    }

    fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() {
            p.to_owned()
        } else {
            self.base_dir.join(p)
        }
    }

    pub fn load_reference(&self) -> Result<Reference, ConfigError> {
        let r = &self.reference;
        let services = reference::ServiceCatalogue::load(&self.resolve(&r.services))?;
        let holidays = reference::holidays::load(&self.resolve(&r.holidays))?;
        let offices = match &r.offices {
            Some(p) => reference::OfficeCatalogue::load(&self.resolve(p))?,
            None => reference::OfficeCatalogue::default(),
        };
        Ok(Reference::new(
            services,
            offices,
            &holidays,
            r.cuti_bersama_is_working_day,
            r.office_hours.clone(),
            self.pipeline.default_time_zone,
        ))
    }

    pub fn typology_enabled(&self, t: Typology) -> bool {
        self.typologies
            .get(t.name())
            .and_then(|s| s.enabled)
            .unwrap_or(true)
    }

    pub fn typology_severity(&self, t: Typology) -> Severity {
        self.typologies
            .get(t.name())
            .and_then(|s| s.severity)
            .unwrap_or_else(|| t.default_severity())
    }
}
