//! `pantau publish` and `pantau simulate --to-kafka`: lines of NDJSON to the
//! events topic, keyed by `transaction_id` so a transaction stays in one
//! partition, validated with the same decoder as `pantau run`.

use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

use super::config::KafkaConfig;
use super::producer::{KafkaProducer, ProduceError};
use crate::decode::Decoder;
use crate::validate::{Report, validate_with};

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Produce(#[from] ProduceError),
    #[error("reading {0}: {1}")]
    Read(String, std::io::Error),
}

#[derive(Debug, Clone)]
pub struct PublishReport {
    pub report: Report,
    pub produced: u64,
    pub elapsed: Duration,
}

impl PublishReport {
    pub fn per_second(&self) -> f64 {
        self.produced as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// What to do with lines that fail validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    /// Report them and do not produce them (`pantau publish`).
    Skip,
    /// Report them and produce them anyway, unkeyed, so the pipeline's
    /// dead-letter path can be seen working (`pantau simulate --to-kafka`).
    Produce,
}

/// The event times a valid line is published with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Times {
    /// As written.
    AsIs,
    /// The wall clock at publication (in the event's own offset, to the
    /// microsecond): a live stream, whose watermark follows the clock, for
    /// measuring event-to-alert latency. Times rise strictly from line to
    /// line, so each transaction's events arrive in event-time order.
    Live,
}

/// `raw` with its `occurred_at` (or the CloudEvents `data`'s) set to now, and
/// after `last`.
fn live_line(
    raw: &[u8],
    offset: chrono::FixedOffset,
    last: &mut chrono::DateTime<chrono::Utc>,
) -> Option<Vec<u8>> {
    let mut v: serde_json::Value = serde_json::from_slice(raw).ok()?;
    *last = chrono::Utc::now().max(*last + chrono::Duration::microseconds(1));
    let now = last
        .with_timezone(&offset)
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let target = if v.get("occurred_at").is_some() {
        &mut v
    } else {
        v.get_mut("data")?
    };
    target["occurred_at"] = now.into();
    serde_json::to_vec(&v).ok()
}

/// Produces the lines of `reader`, at `rate` records per second when given;
/// line-numbered errors go to `errors`.
#[allow(clippy::too_many_arguments)]
pub fn publish<R: BufRead>(
    reader: R,
    name: &str,
    cfg: &KafkaConfig,
    decoder: &Decoder,
    rate: Option<f64>,
    invalid: Invalid,
    times: Times,
    errors: &mut dyn Write,
) -> Result<PublishReport, PublishError> {
    let producer = KafkaProducer::new(cfg, None, "events")?;
    let started = Instant::now();
    let mut produced = 0u64;
    let mut failure: Option<ProduceError> = None;
    let mut last_stamp = chrono::DateTime::<chrono::Utc>::MIN_UTC;
    let report = validate_with(reader, name, decoder, errors, &mut |raw, event| {
        if event.is_none() && invalid == Invalid::Skip {
            return Ok(());
        }
        let key = event.map(|e| e.transaction_id.as_bytes());
        let live = match (times, event) {
            (Times::Live, Some(e)) => live_line(raw, *e.occurred_at.offset(), &mut last_stamp),
            _ => None,
        };
        let payload = live.as_deref().unwrap_or(raw);
        if let Err(e) = producer.send(&cfg.events_topic, key, payload, None) {
            failure = Some(e);
            return Err(std::io::Error::other("produce failed"));
        }
        produced += 1;
        if let Some(rate) = rate.filter(|r| *r > 0.0) {
            let due = Duration::from_secs_f64(produced as f64 / rate);
            if let Some(wait) = due.checked_sub(started.elapsed()) {
                std::thread::sleep(wait);
            }
        }
        Ok(())
    });
    if let Some(e) = failure {
        return Err(e.into());
    }
    let report = report.map_err(|e| PublishError::Read(name.to_owned(), e))?;
    producer.flush(Duration::from_secs(120))?;
    Ok(PublishReport {
        report,
        produced,
        elapsed: started.elapsed(),
    })
}
