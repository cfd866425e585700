//! The stage core: what every run loop does with a batch, whatever its source.
//! The embedded loop and the Kafka loop decode records through it, hand it
//! what their engines made of each record and the alerts each batch raised;
//! it counts them (metrics and the run's summary), archives them and sets the
//! watermark gauge, so that both modes observe every metric the same way.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{PipelineError, Summary};
use crate::alerts::Alert;
use crate::archive::{Archive, ArchivedEvent};
use crate::decode::{Decoder, Event, EventType, Rejection};
use crate::engine::{Admission, PendingAlerts};
use crate::metrics::Metrics;

/// Decodes one source record; a valid event feeds the event-lag histogram
/// (`now_ms`: the batch's wall-clock time, Unix milliseconds). Called on the
/// decode workers, off the engine's thread.
pub(super) fn decode(
    decoder: &Decoder,
    bytes: &[u8],
    metrics: &Metrics,
    now_ms: i64,
) -> Result<Event, Rejection> {
    let event = decoder.decode(bytes)?;
    metrics.observe_event_lag(now_ms, &event);
    Ok(event)
}

/// A batch's alerts, as the sinks are to get them.
pub(super) enum Emitted {
    None,
    /// Alert records, made here because the archive needed them.
    Built(Vec<Alert>),
    /// Not yet made into records: the caller may do that on another thread.
    Pending(PendingAlerts),
}

pub(super) struct Stage {
    metrics: Arc<Metrics>,
    pub summary: Summary,
    archive: Option<Archive>,
}

impl Stage {
    pub fn new(metrics: Arc<Metrics>, summary: Summary, archive: Option<Archive>) -> Stage {
        Stage {
            metrics,
            summary,
            archive,
        }
    }

    /// A record read from the source.
    pub fn read(&mut self) {
        self.summary.records_read += 1;
    }

    /// A decoded event, and what its engine made of it.
    pub fn admitted(&mut self, event_type: EventType, admission: Admission) {
        self.metrics.count_event(event_type, admission.outcome());
        self.summary.admitted(admission);
    }

    /// A record the decoder refused.
    pub fn rejected(&mut self, rejection: &Rejection) {
        let reason = rejection.reason.as_str();
        self.summary.rejected(reason);
        self.metrics.count_rejection(reason);
    }

    /// The alerts a batch raised, counted into the summary and archived with
    /// the events processed meanwhile.
    pub fn emit(
        &mut self,
        pending: PendingAlerts,
        archived: impl FnOnce() -> Vec<ArchivedEvent>,
    ) -> Result<Emitted, PipelineError> {
        if pending.is_empty() && self.archive.is_none() {
            return Ok(Emitted::None);
        }
        super::record_typologies(&mut self.summary, pending.typologies());
        Ok(match &mut self.archive {
            Some(a) => {
                let alerts = pending.build();
                a.send(archived(), alerts.clone())?;
                if alerts.is_empty() {
                    Emitted::None
                } else {
                    Emitted::Built(alerts)
                }
            }
            None => Emitted::Pending(pending),
        })
    }

    pub fn watermark(&self, w: Option<DateTime<Utc>>) {
        if let Some(w) = w {
            self.metrics
                .watermark_seconds
                .set(w.timestamp() as f64 + f64::from(w.timestamp_subsec_millis()) / 1000.0);
        }
    }

    /// The summary, with the archive closed into it.
    pub fn close(mut self) -> Result<Summary, PipelineError> {
        if let Some(a) = self.archive.take() {
            self.summary.archive = Some(a.close()?);
        }
        Ok(self.summary)
    }
}

impl Emitted {
    /// The alert records, made now if they were still pending.
    pub fn into_alerts(self) -> Vec<Alert> {
        match self {
            Emitted::None => Vec::new(),
            Emitted::Built(alerts) => alerts,
            Emitted::Pending(p) => p.build(),
        }
    }
}
