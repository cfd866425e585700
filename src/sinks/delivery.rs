//! Reliable HTTP delivery for the Alertmanager and webhook sinks: a bounded queue
//! (when it is full the pipeline waits: backpressure, not memory growth), retries
//! with exponential backoff and jitter, a circuit breaker so a dead endpoint costs
//! one retry budget rather than one per alert, and a dead-letter file for what is
//! given up. Each sink runs on a thread of its own with a small async runtime.

use std::path::Path;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prometheus::{IntCounter, IntGauge};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use tokio::sync::mpsc;

use super::{LineWriter, SinkError};
use crate::alerts::Alert;
use crate::config::DeliveryConfig;
use crate::metrics::Metrics;

/// What differs between HTTP sinks: the request for a batch of alerts.
pub(crate) trait Transport: Send + 'static {
    /// The `sink` label of the metrics.
    fn sink(&self) -> &'static str;
    fn url(&self) -> &str;
    fn max_batch(&self) -> usize;
    /// A fresh request per attempt: signatures carry the attempt's own time.
    fn request(&self, client: &reqwest::Client, batch: &[Alert]) -> reqwest::RequestBuilder;
}

enum Msg {
    Alert(Box<Alert>),
    /// Answered once everything queued before it is delivered or dead-lettered.
    Flush(std::sync::mpsc::SyncSender<()>),
}

/// The pipeline's handle on one HTTP sink.
pub struct HttpSink {
    sink: &'static str,
    tx: Option<mpsc::Sender<Msg>>,
    worker: Option<JoinHandle<Result<(), SinkError>>>,
    depth: IntGauge,
}

/// One line of a sink's dead-letter file: the alert exactly as alerts.md, and why
/// it was not delivered.
#[derive(Serialize)]
struct DeadLetter<'a> {
    failed_at: String,
    sink: &'static str,
    url: &'a str,
    attempts: u32,
    error: &'a str,
    alert: &'a Alert,
}

/// `min(max, initial × 2^(attempt-1))`, jittered uniformly over its upper half so
/// many pantau instances don't retry in step yet every wait keeps a floor.
pub(crate) fn backoff(cfg: &DeliveryConfig, attempt: u32, rng: &mut impl Rng) -> Duration {
    let exp = cfg
        .initial_backoff
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
    let ceiling = exp.min(cfg.max_backoff);
    let half = ceiling / 2;
    half + ceiling.mul_f64(rng.random_range(0.0..=0.5))
}

/// 4xx answers other than timeouts and rate limits will not improve by retrying.
fn permanent(status: reqwest::StatusCode) -> bool {
    status.is_client_error()
        && !matches!(
            status,
            reqwest::StatusCode::REQUEST_TIMEOUT
                | reqwest::StatusCode::TOO_MANY_REQUESTS
                | reqwest::StatusCode::TOO_EARLY
        )
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

struct Worker<T: Transport> {
    transport: T,
    cfg: DeliveryConfig,
    client: reqwest::Client,
    dead_letter: LineWriter,
    rng: ChaCha8Rng,
    /// Set when a delivery exhausted its retries: until then, alerts skip straight
    /// to the dead-letter file; afterwards one attempt probes the endpoint.
    open_until: Option<Instant>,
    errors: IntCounter,
    delivered: IntCounter,
    dead: IntCounter,
    depth: IntGauge,
}

impl<T: Transport> Worker<T> {
    async fn run(mut self, mut rx: mpsc::Receiver<Msg>) -> Result<(), SinkError> {
        let mut batch: Vec<Alert> = Vec::new();
        let mut flush: Option<std::sync::mpsc::SyncSender<()>> = None;
        while let Some(first) = rx.recv().await {
            let mut next = Some(first);
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Alert(a) => {
                        self.depth.dec();
                        batch.push(*a);
                        if batch.len() < self.transport.max_batch() {
                            next = rx.try_recv().ok();
                        }
                    }
                    Msg::Flush(reply) => flush = Some(reply),
                }
            }
            if !batch.is_empty() {
                self.deliver(&batch).await?;
                batch.clear();
            }
            if let Some(reply) = flush.take() {
                let _ = reply.send(());
            }
        }
        Ok(())
    }

    async fn deliver(&mut self, batch: &[Alert]) -> Result<(), SinkError> {
        let attempts = match self.open_until {
            Some(until) if Instant::now() < until => {
                return self.dead_letter(batch, 0, "circuit open: the endpoint failed recently");
            }
            // The probe: one attempt decides whether the endpoint is back.
            Some(_) => 1,
            None => self.cfg.max_attempts,
        };
        let mut last_error = String::new();
        for attempt in 1..=attempts {
            let sent = self
                .transport
                .request(&self.client, batch)
                .timeout(self.cfg.timeout)
                .send()
                .await;
            match sent {
                Ok(resp) if resp.status().is_success() => {
                    if self.open_until.take().is_some() {
                        tracing::info!(sink = self.transport.sink(), "endpoint is back");
                    }
                    self.delivered.inc_by(batch.len() as u64);
                    return Ok(());
                }
                Ok(resp) => {
                    self.errors.inc();
                    let status = resp.status();
                    let body = resp.text().await.unwrap_or_default();
                    last_error = format!(
                        "HTTP {status}: {}",
                        body.chars().take(300).collect::<String>()
                    );
                    if permanent(status) {
                        tracing::error!(sink = self.transport.sink(), error = %last_error, "alerts refused");
                        return self.dead_letter(batch, attempt, &last_error);
                    }
                }
                Err(e) => {
                    self.errors.inc();
                    last_error = error_chain(&e);
                }
            }
            tracing::warn!(
                sink = self.transport.sink(),
                attempt,
                attempts,
                error = %last_error,
                "delivery failed"
            );
            if attempt < attempts {
                tokio::time::sleep(backoff(&self.cfg, attempt, &mut self.rng)).await;
            }
        }
        self.open_until = Some(Instant::now() + self.cfg.probe_interval);
        tracing::error!(
            sink = self.transport.sink(),
            url = self.transport.url(),
            "retries exhausted; alerts go to the dead-letter file until the endpoint answers"
        );
        self.dead_letter(batch, attempts, &last_error)
    }

    fn dead_letter(
        &mut self,
        batch: &[Alert],
        attempts: u32,
        error: &str,
    ) -> Result<(), SinkError> {
        let failed_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        for alert in batch {
            self.dead_letter.write_json(&DeadLetter {
                failed_at: failed_at.clone(),
                sink: self.transport.sink(),
                url: self.transport.url(),
                attempts,
                error,
                alert,
            })?;
        }
        self.dead_letter.flush()?;
        self.dead.inc_by(batch.len() as u64);
        Ok(())
    }
}

impl HttpSink {
    pub(crate) fn start<T: Transport>(
        transport: T,
        cfg: &DeliveryConfig,
        dead_letter: &Path,
        metrics: &Metrics,
    ) -> Result<HttpSink, SinkError> {
        let sink = transport.sink();
        let dead_letter = LineWriter::append(dead_letter)?;
        let client = reqwest::Client::builder()
            .user_agent(concat!("pantau/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SinkError::Http {
                sink,
                message: error_chain(&e),
            })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|source| SinkError::Write {
                sink: sink.to_owned(),
                source,
            })?;
        let depth = metrics.sink_queue_depth.with_label_values(&[sink]);
        let worker = Worker {
            transport,
            cfg: cfg.clone(),
            client,
            dead_letter,
            rng: ChaCha8Rng::seed_from_u64(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_nanos() as u64)
                    .unwrap_or_default(),
            ),
            open_until: None,
            errors: metrics.sink_errors_total.with_label_values(&[sink]),
            delivered: metrics.sink_delivered_total.with_label_values(&[sink]),
            dead: metrics.sink_dead_letters_total.with_label_values(&[sink]),
            depth: depth.clone(),
        };
        let (tx, rx) = mpsc::channel(cfg.queue_capacity);
        let thread = std::thread::Builder::new()
            .name(format!("pantau-{sink}"))
            .spawn(move || runtime.block_on(worker.run(rx)))
            .map_err(|source| SinkError::Write {
                sink: sink.to_owned(),
                source,
            })?;
        Ok(HttpSink {
            sink,
            tx: Some(tx),
            worker: Some(thread),
            depth,
        })
    }

    /// Closes the queue and waits for the worker: its own error, if it had one.
    fn join(&mut self) -> Result<(), SinkError> {
        self.tx = None;
        match self.worker.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(SinkError::Http {
                sink: self.sink,
                message: "delivery worker panicked".into(),
            }),
            None => Ok(()),
        }
    }

    /// The error to report when the worker is gone while alerts still arrive.
    fn stopped(&mut self) -> SinkError {
        self.join().err().unwrap_or(SinkError::Http {
            sink: self.sink,
            message: "delivery worker stopped".into(),
        })
    }

    /// Queues the alerts, waiting while the queue is full. Must not be called from
    /// inside an async runtime.
    pub fn send(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        for a in alerts {
            let Some(tx) = &self.tx else {
                return Err(self.stopped());
            };
            self.depth.inc();
            if tx.blocking_send(Msg::Alert(Box::new(a.clone()))).is_err() {
                self.depth.dec();
                return Err(self.stopped());
            }
        }
        Ok(())
    }

    /// Waits until every alert queued so far is delivered or dead-lettered.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        let Some(tx) = &self.tx else {
            return Err(self.stopped());
        };
        let (reply, done) = std::sync::mpsc::sync_channel(1);
        if tx.blocking_send(Msg::Flush(reply)).is_err() || done.recv().is_err() {
            return Err(self.stopped());
        }
        Ok(())
    }

    /// Delivers what is queued and stops the worker.
    pub fn close(mut self) -> Result<(), SinkError> {
        self.join()
    }
}

impl Drop for HttpSink {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_keeps_a_floor() {
        let cfg = DeliveryConfig {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            ..DeliveryConfig::default()
        };
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for _ in 0..200 {
            let b1 = backoff(&cfg, 1, &mut rng);
            assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
            let b3 = backoff(&cfg, 3, &mut rng);
            assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
            let b9 = backoff(&cfg, 9, &mut rng);
            assert!(b9 >= Duration::from_millis(500) && b9 <= Duration::from_secs(1));
            let huge = backoff(&cfg, u32::MAX, &mut rng);
            assert!(huge <= Duration::from_secs(1));
        }
    }

    #[test]
    fn only_lasting_client_errors_are_permanent() {
        use reqwest::StatusCode as S;
        assert!(permanent(S::BAD_REQUEST));
        assert!(permanent(S::UNAUTHORIZED));
        assert!(!permanent(S::TOO_MANY_REQUESTS));
        assert!(!permanent(S::REQUEST_TIMEOUT));
        assert!(!permanent(S::SERVICE_UNAVAILABLE));
        assert!(!permanent(S::INTERNAL_SERVER_ERROR));
    }
}
