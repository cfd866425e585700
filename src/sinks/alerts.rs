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
        let outputs = configs
            .iter()
            .map(|c| match c {
                SinkConfig::File { path } => LineWriter::file(path),
                SinkConfig::Stdout => Ok(LineWriter::stdout()),
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
