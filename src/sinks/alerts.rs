//! Alert sinks: every configured output gets every alert, one JSON object a line.

use std::sync::Arc;

use super::{LineWriter, SinkError};
use crate::alerts::Alert;
use crate::config::SinkConfig;
use crate::metrics::Metrics;

pub struct AlertSink {
    outputs: Vec<LineWriter>,
    metrics: Arc<Metrics>,
}

impl AlertSink {
    pub fn open(configs: &[SinkConfig], metrics: Arc<Metrics>) -> Result<AlertSink, SinkError> {
        // Kafka outputs are produced by the Kafka pipeline, which must see their
        // delivery reports before committing offsets.
        let outputs = configs
            .iter()
            .filter_map(|c| match c {
                SinkConfig::File { path } => Some(LineWriter::file(path)),
                SinkConfig::Stdout => Some(Ok(LineWriter::stdout())),
                SinkConfig::Kafka => None,
            })
            .collect::<Result<_, _>>()?;
        Ok(AlertSink { outputs, metrics })
    }

    pub fn write(&mut self, alerts: &[Alert]) -> Result<(), SinkError> {
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
        Ok(())
    }
}
