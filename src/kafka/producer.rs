//! Producing to Kafka: alerts (keyed by `alert_id`), dead-letter records (the
//! original bytes and key, with the reason in headers) and, for `pantau publish`,
//! events. Idempotent; every delivery report is checked before offsets move on.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rdkafka::ClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};

use super::config::{KafkaConfig, KafkaConfigError, Role};
use crate::alerts::Alert;
use crate::metrics::Metrics;

pub struct DeliveryContext {
    metrics: Option<Arc<Metrics>>,
    failed: AtomicU64,
    delivered: AtomicU64,
    /// The last delivery error, for the message of a failed flush.
    last_error: Mutex<Option<String>>,
}

impl ClientContext for DeliveryContext {}

impl ProducerContext for DeliveryContext {
    type DeliveryOpaque = ();

    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, _)) => {
                self.failed.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut last) = self.last_error.lock() {
                    *last = Some(e.to_string());
                }
                if let Some(m) = &self.metrics {
                    m.sink_errors_total.with_label_values(&["kafka"]).inc();
                }
            }
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProduceError {
    #[error(transparent)]
    Config(#[from] KafkaConfigError),
    #[error("kafka producer: {0}")]
    Kafka(#[from] KafkaError),
    #[error("kafka: {failed} message(s) to {what} were not delivered: {last}")]
    Undelivered {
        what: &'static str,
        failed: u64,
        last: String,
    },
    #[error("kafka: flushing the producer timed out after {0:?}")]
    FlushTimeout(Duration),
}

pub struct KafkaProducer {
    producer: ThreadedProducer<DeliveryContext>,
    what: &'static str,
}

impl KafkaProducer {
    /// `what` names the output in errors (`alerts`, `dead letters`, `events`).
    pub fn new(
        cfg: &KafkaConfig,
        metrics: Option<Arc<Metrics>>,
        what: &'static str,
    ) -> Result<KafkaProducer, ProduceError> {
        let context = DeliveryContext {
            metrics,
            failed: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            last_error: Mutex::new(None),
        };
        let producer = cfg
            .client_config(Role::Producer)?
            .create_with_context(context)?;
        Ok(KafkaProducer { producer, what })
    }

    /// Queues one record, waiting while librdkafka's queue is full.
    pub fn send(
        &self,
        topic: &str,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
    ) -> Result<(), ProduceError> {
        self.send_to(topic, None, key, payload, headers)
    }

    /// Like [`KafkaProducer::send`], to an explicit partition when one is given
    /// (otherwise the key's partition).
    pub fn send_to(
        &self,
        topic: &str,
        partition: Option<i32>,
        key: Option<&[u8]>,
        payload: &[u8],
        headers: Option<OwnedHeaders>,
    ) -> Result<(), ProduceError> {
        let mut record: BaseRecord<'_, [u8], [u8]> = BaseRecord::to(topic).payload(payload);
        if let Some(p) = partition {
            record = record.partition(p);
        }
        if let Some(k) = key {
            record = record.key(k);
        }
        if let Some(h) = headers {
            record = record.headers(h);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => return Ok(()),
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
    }

    pub fn send_alert(&self, topic: &str, alert: &Alert) -> Result<(), ProduceError> {
        let payload = serde_json::to_vec(alert).expect("alerts serialise");
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "typology",
                value: Some(alert.typology.as_str()),
            })
            .insert(Header {
                key: "severity",
                value: Some(alert.severity.as_str()),
            });
        self.send(
            topic,
            Some(alert.alert_id.as_bytes()),
            &payload,
            Some(headers),
        )
    }

    /// Waits until every queued record is acknowledged; an error when any
    /// record since the last flush could not be delivered.
    pub fn flush(&self, timeout: Duration) -> Result<(), ProduceError> {
        // librdkafka's flush with no wait sends what lingers at once. The
        // wait is ours: rdkafka's own flush polls for delivery reports in
        // 100 ms steps, which the producer's polling thread has already
        // served, so every flush took 100 ms and every alert waited for it.
        match self.producer.flush(Duration::ZERO) {
            Ok(()) | Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {}
            Err(e) => return Err(ProduceError::Kafka(e)),
        }
        let deadline = std::time::Instant::now() + timeout;
        while self.producer.in_flight_count() > 0 {
            if std::time::Instant::now() >= deadline {
                return Err(ProduceError::FlushTimeout(timeout));
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        let failed = self.producer.context().failed.swap(0, Ordering::Relaxed);
        if failed > 0 {
            return Err(ProduceError::Undelivered {
                what: self.what,
                failed,
                last: self
                    .producer
                    .context()
                    .last_error
                    .lock()
                    .ok()
                    .and_then(|mut l| l.take())
                    .unwrap_or_default(),
            });
        }
        Ok(())
    }

    /// The number of partitions of `topic`, 0 when it does not exist. Asked as
    /// a producer, so a broker that auto-creates topics creates it.
    pub fn partition_count(&self, topic: &str, timeout: Duration) -> Result<i32, KafkaError> {
        let md = self
            .producer
            .client()
            .fetch_metadata(Some(topic), timeout)?;
        Ok(md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())
            .map_or(0, |t| t.partitions().len() as i32))
    }

    pub fn delivered(&self) -> u64 {
        self.producer.context().delivered.load(Ordering::Relaxed)
    }
}
