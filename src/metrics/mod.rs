//! Prometheus metrics of ../shared/spec/metrics.md, with exact names and labels.
//! Each pipeline owns its registry, so tests and embedded runs don't share state.

mod children;
pub mod server;

pub use children::Children;

use prometheus::{
    Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

use crate::decode::EventType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Accepted,
    Rejected,
    Duplicate,
    Late,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Accepted,
        Outcome::Rejected,
        Outcome::Duplicate,
        Outcome::Late,
    ];
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Accepted => "accepted",
            Outcome::Rejected => "rejected",
            Outcome::Duplicate => "duplicate",
            Outcome::Late => "late",
        }
    }
}

/// `event_type` label for a rejected record whose type could not be read.
pub const UNKNOWN_EVENT_TYPE: &str = "unknown";

pub struct Metrics {
    pub registry: Registry,
    events_total: IntCounterVec,
    /// Pre-resolved `pantau_events_total` children: the hot path skips label hashing.
    events_by_type: Vec<[IntCounter; 4]>,
    pub events_rejected_total: IntCounterVec,
    pub alerts_total: IntCounterVec,
    pub office_alerts_total: IntCounterVec,
    pub transactions_completed_total: IntCounterVec,
    pub excess_fee_idr_total: IntCounterVec,
    pub open_transactions: IntGauge,
    pub watermark_seconds: Gauge,
    pub event_lag_seconds: Histogram,
    /// From the arrival of an alert's triggering event to the alert's hand-off
    /// to the sinks, by typology.
    pub alert_latency_seconds: HistogramVec,
    /// Extension (docs/metrics.md): events that arrived behind a later event of
    /// their own transaction while early verdicts were on.
    pub early_order_violations_total: IntCounter,
    /// Extension (docs/metrics.md): early alerts that the watermark-ordered
    /// evaluation did not confirm exactly.
    pub early_alert_mismatches_total: IntCounter,
    pub processing_seconds: HistogramVec,
    pub sink_errors_total: IntCounterVec,
    /// Extensions (docs/metrics.md): the HTTP sinks' deliveries, dead letters and
    /// queue depth, by sink.
    pub sink_delivered_total: IntCounterVec,
    pub sink_dead_letters_total: IntCounterVec,
    pub sink_queue_depth: IntGaugeVec,
    pub kafka_consumer_lag: IntGaugeVec,
    pub build_info: IntGaugeVec,
    /// Extension (docs/metrics.md): events accepted with reference-data problems.
    pub data_quality_total: IntCounterVec,
    /// Extension (docs/metrics.md): the `speed_money` baseline median per office
    /// and service; bounded like `pantau_excess_fee_idr_total`.
    pub baseline_median_seconds: prometheus::GaugeVec,
    pub unknown_service: IntCounter,
    pub unknown_office: IntCounter,
    /// Extension (docs/metrics.md): Kafka mode, time to restore one keyed
    /// store partition from its changelog.
    pub state_restore_seconds: HistogramVec,
    /// Extension (docs/metrics.md): Kafka mode, keyed store partitions being
    /// restored right now (`/readyz` is not ready meanwhile).
    pub state_restoring: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(c.clone())).expect("unique metric");
    c
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let r = Registry::new();
        let events_total = counter_vec(
            &r,
            "pantau_events_total",
            "Events read, by type and outcome.",
            &["event_type", "outcome"],
        );
        let events_by_type = EventType::ALL
            .iter()
            .map(|t| {
                Outcome::ALL.map(|o| events_total.with_label_values(&[t.as_str(), o.as_str()]))
            })
            .collect();
        let events_rejected_total = counter_vec(
            &r,
            "pantau_events_rejected_total",
            "Rejected events, by reason code.",
            &["reason"],
        );
        let alerts_total = counter_vec(
            &r,
            "pantau_alerts_total",
            "Alerts raised, by typology and severity.",
            &["typology", "severity"],
        );
        let office_alerts_total = counter_vec(
            &r,
            "pantau_office_alerts_total",
            "Alerts raised, by office and typology.",
            &["office_id", "typology"],
        );
        let transactions_completed_total = counter_vec(
            &r,
            "pantau_transactions_completed_total",
            "Completed transactions, by service and whether they met the service standard.",
            &["service_code", "within_sla"],
        );
        let excess_fee_idr_total = counter_vec(
            &r,
            "pantau_excess_fee_idr_total",
            "Rupiah paid above the expected fee.",
            &["service_code", "office_id"],
        );
        let open_transactions = IntGauge::new(
            "pantau_open_transactions",
            "Transactions submitted and not yet completed or cancelled.",
        )
        .expect("valid metric");
        r.register(Box::new(open_transactions.clone()))
            .expect("unique metric");
        let watermark_seconds = Gauge::new(
            "pantau_watermark_seconds",
            "Current event-time watermark as Unix seconds.",
        )
        .expect("valid metric");
        r.register(Box::new(watermark_seconds.clone()))
            .expect("unique metric");
        let event_lag_seconds = Histogram::with_opts(
            HistogramOpts::new(
                "pantau_event_lag_seconds",
                "Processing time minus event time.",
            )
            .buckets(vec![
                0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0, 604800.0,
                2592000.0,
            ]),
        )
        .expect("valid metric");
        r.register(Box::new(event_lag_seconds.clone()))
            .expect("unique metric");
        let alert_latency_seconds = HistogramVec::new(
            HistogramOpts::new(
                "pantau_alert_latency_seconds",
                "From the arrival of the alert's triggering event to the alert's hand-off to the sinks.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
                60.0, 300.0, 600.0, 900.0, 1800.0, 3600.0,
            ]),
            &["typology"],
        )
        .expect("valid metric");
        r.register(Box::new(alert_latency_seconds.clone()))
            .expect("unique metric");
        let early_order_violations_total = IntCounter::new(
            "pantau_early_order_violations_total",
            "Events that arrived behind a later event of their own transaction while early verdicts were on.",
        )
        .expect("valid metric");
        r.register(Box::new(early_order_violations_total.clone()))
            .expect("unique metric");
        let early_alert_mismatches_total = IntCounter::new(
            "pantau_early_alert_mismatches_total",
            "Early alerts that the watermark-ordered evaluation did not confirm exactly.",
        )
        .expect("valid metric");
        r.register(Box::new(early_alert_mismatches_total.clone()))
            .expect("unique metric");
        let processing_seconds = HistogramVec::new(
            HistogramOpts::new(
                "pantau_processing_seconds",
                "Time spent per stage per batch.",
            )
            .buckets(vec![
                0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
            ]),
            &["stage"],
        )
        .expect("valid metric");
        r.register(Box::new(processing_seconds.clone()))
            .expect("unique metric");
        let sink_errors_total = counter_vec(
            &r,
            "pantau_sink_errors_total",
            "Failed sink deliveries (before retry).",
            &["sink"],
        );
        // Exposed at 0 from the start, so dashboards and alert rules see the
        // series before the first failure.
        for sink in ["file", "stdout", "kafka", "alertmanager", "webhook"] {
            sink_errors_total.with_label_values(&[sink]);
        }
        let sink_delivered_total = counter_vec(
            &r,
            "pantau_sink_delivered_total",
            "Alerts delivered by an HTTP sink (Alertmanager, webhook).",
            &["sink"],
        );
        let sink_dead_letters_total = counter_vec(
            &r,
            "pantau_sink_dead_letters_total",
            "Alerts an HTTP sink gave up on and wrote to its dead-letter file.",
            &["sink"],
        );
        let sink_queue_depth = IntGaugeVec::new(
            Opts::new(
                "pantau_sink_queue_depth",
                "Alerts waiting in an HTTP sink's bounded queue.",
            ),
            &["sink"],
        )
        .expect("valid metric");
        r.register(Box::new(sink_queue_depth.clone()))
            .expect("unique metric");
        let kafka_consumer_lag = IntGaugeVec::new(
            Opts::new(
                "pantau_kafka_consumer_lag",
                "Messages behind the partition's end.",
            ),
            &["topic", "partition"],
        )
        .expect("valid metric");
        r.register(Box::new(kafka_consumer_lag.clone()))
            .expect("unique metric");
        let build_info = IntGaugeVec::new(
            Opts::new("pantau_build_info", "Build information; always 1."),
            &["version"],
        )
        .expect("valid metric");
        r.register(Box::new(build_info.clone()))
            .expect("unique metric");
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let data_quality_total = counter_vec(
            &r,
            "pantau_data_quality_total",
            "Accepted events with a reference-data problem (unknown service or office).",
            &["problem"],
        );
        let baseline_median_seconds = prometheus::GaugeVec::new(
            Opts::new(
                "pantau_baseline_median_duration_seconds",
                "Median submitted-to-issued duration over the trailing baseline window.",
            ),
            &["office_id", "service_code"],
        )
        .expect("valid metric");
        r.register(Box::new(baseline_median_seconds.clone()))
            .expect("unique metric");
        let state_restore_seconds = HistogramVec::new(
            HistogramOpts::new(
                "pantau_state_restore_seconds",
                "Time to restore one keyed store partition from its changelog.",
            )
            .buckets(vec![
                0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0,
            ]),
            &["store"],
        )
        .expect("valid metric");
        r.register(Box::new(state_restore_seconds.clone()))
            .expect("unique metric");
        let state_restoring = IntGauge::new(
            "pantau_state_restoring",
            "Keyed store partitions being restored from their changelog.",
        )
        .expect("valid metric");
        r.register(Box::new(state_restoring.clone()))
            .expect("unique metric");
        let unknown_service = data_quality_total.with_label_values(&["unknown_service"]);
        let unknown_office = data_quality_total.with_label_values(&["unknown_office"]);
        Metrics {
            registry: r,
            events_total,
            events_by_type,
            events_rejected_total,
            alerts_total,
            office_alerts_total,
            transactions_completed_total,
            excess_fee_idr_total,
            open_transactions,
            watermark_seconds,
            event_lag_seconds,
            alert_latency_seconds,
            early_order_violations_total,
            early_alert_mismatches_total,
            processing_seconds,
            sink_errors_total,
            sink_delivered_total,
            sink_dead_letters_total,
            sink_queue_depth,
            kafka_consumer_lag,
            build_info,
            data_quality_total,
            baseline_median_seconds,
            unknown_service,
            unknown_office,
            state_restore_seconds,
            state_restoring,
        }
    }

    /// Processing time (`now_ms`, Unix milliseconds) minus the event's time.
    pub fn observe_event_lag(&self, now_ms: i64, event: &crate::decode::Event) {
        let lag_ms = now_ms.saturating_sub(event.occurred_at.timestamp_millis());
        self.event_lag_seconds
            .observe(lag_ms.max(0) as f64 / 1000.0);
    }

    pub fn count_event(&self, event_type: EventType, outcome: Outcome) {
        self.events_by_type[event_type as usize][outcome as usize].inc();
    }

    pub fn count_rejection(&self, reason: &str) {
        self.events_total
            .with_label_values(&[UNKNOWN_EVENT_TYPE, Outcome::Rejected.as_str()])
            .inc();
        self.events_rejected_total
            .with_label_values(&[reason])
            .inc();
    }

    /// The text exposition format.
    pub fn render(&self) -> String {
        prometheus::TextEncoder::new()
            .encode_to_string(&self.registry.gather())
            .unwrap_or_else(|e| format!("# error encoding metrics: {e}\n"))
    }
}
