//! Alert sinks: every configured output gets every alert. Files and stdout take
//! one JSON object a line; Alertmanager and webhooks are delivered from queues of
//! their own (see `delivery`).

use std::sync::Arc;

use super::alertmanager::Alertmanager;
use super::delivery::HttpSink;
use super::webhook::Webhook;
use super::{LineWriter, SinkError};
use crate::alerts::Alert;
use crate::config::SinkConfig;
use crate::metrics::Metrics;

pub struct AlertSink {
    outputs: Vec<LineWriter>,
    http: Vec<HttpSink>,
    metrics: Arc<Metrics>,
}

impl AlertSink {
    /// `append` continues existing files (a run resumed from a checkpoint).
    pub fn open(
        configs: &[SinkConfig],
        metrics: Arc<Metrics>,
        append: bool,
    ) -> Result<AlertSink, SinkError> {
        let mut outputs = Vec::new();
        let mut http = Vec::new();
        for c in configs {
            match c {
                SinkConfig::File { path } if append => outputs.push(LineWriter::append(path)?),
                SinkConfig::File { path } => outputs.push(LineWriter::file(path)?),
                SinkConfig::Stdout => outputs.push(LineWriter::stdout()),
                // Produced by the Kafka pipeline, which must see the delivery
                // reports before committing offsets.
                SinkConfig::Kafka => {}
                SinkConfig::Alertmanager(am) => http.push(HttpSink::start(
                    Alertmanager::new(am),
                    &am.delivery,
                    &am.dead_letter,
                    &metrics,
                )?),
                SinkConfig::Webhook(w) => http.push(HttpSink::start(
                    Webhook::new(w)?,
                    &w.delivery,
                    &w.dead_letter,
                    &metrics,
                )?),
            }
        }
        Ok(AlertSink {
            outputs,
            http,
            metrics,
        })
    }

    /// Writes the alerts to the line outputs and queues them for the HTTP sinks
    /// (waiting while a queue is full).
    pub fn write(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
        if alerts.is_empty() {
            return Ok(());
        }
        for out in &mut self.outputs {
            let result = alerts
                .iter()
                .try_for_each(|a| out.write_json(a))
                .and_then(|_| out.flush());
            if let Err(e) = result {
                let kind = if out.name() == "stdout" {
                    "stdout"
                } else {
                    "file"
                };
                self.metrics
                    .sink_errors_total
                    .with_label_values(&[kind])
                    .inc();
                return Err(e);
            }
        }
        for h in &mut self.http {
            h.send(alerts)?;
        }
        Ok(())
    }

    /// Waits until every queued alert is delivered or dead-lettered: the Kafka
    /// pipeline commits offsets only after this.
    pub fn flush(&mut self) -> Result<(), SinkError> {
        self.http.iter_mut().try_for_each(HttpSink::flush)
    }

    /// The alert files and their current lengths (everything written is flushed).
    pub fn file_lengths(&self) -> Result<Vec<(std::path::PathBuf, u64)>, SinkError> {
        self.outputs
            .iter()
            .filter_map(LineWriter::file_length)
            .collect()
    }

    /// Delivers what is queued and stops the HTTP sinks.
    pub fn close(self) -> Result<(), SinkError> {
        self.http.into_iter().try_for_each(HttpSink::close)
    }
}
