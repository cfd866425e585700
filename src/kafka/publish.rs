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

/// Produces the lines of `reader`, at `rate` records per second when given;
/// line-numbered errors go to `errors`.
pub fn publish<R: BufRead>(
    reader: R,
    name: &str,
    cfg: &KafkaConfig,
    decoder: &Decoder,
    rate: Option<f64>,
    invalid: Invalid,
    errors: &mut dyn Write,
) -> Result<PublishReport, PublishError> {
    let producer = KafkaProducer::new(cfg, None, "events")?;
    let started = Instant::now();
    let mut produced = 0u64;
    let mut failure: Option<ProduceError> = None;
    let report = validate_with(reader, name, decoder, errors, &mut |raw, event| {
        if event.is_none() && invalid == Invalid::Skip {
            return Ok(());
        }
        let key = event.map(|e| e.transaction_id.as_bytes());
        if let Err(e) = producer.send(&cfg.events_topic, key, raw, None) {
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
