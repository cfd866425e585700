//! Alertmanager sink: pantau alerts as Alertmanager alerts, posted in batches to
//! `POST /api/v2/alerts`. Labels carry what routing, grouping and inhibition need;
//! annotations carry the explanation (both summaries, figures, evidence).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::delivery::Transport;
use crate::alerts::Alert;
use crate::config::AlertmanagerSinkConfig;

pub(crate) struct Alertmanager {
    endpoint: String,
    hold: Duration,
    batch_size: usize,
    generator_url: Option<String>,
}

impl Alertmanager {
    pub(crate) fn new(cfg: &AlertmanagerSinkConfig) -> Alertmanager {
        Alertmanager {
            endpoint: format!("{}/api/v2/alerts", cfg.url.trim_end_matches('/')),
            hold: cfg.hold,
            batch_size: cfg.batch_size,
            generator_url: cfg.generator_url.clone(),
        }
    }
}

/// Alertmanager's `postableAlert`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PostableAlert<'a> {
    labels: BTreeMap<&'static str, &'a str>,
    annotations: BTreeMap<&'static str, String>,
    starts_at: String,
    ends_at: String,
    #[serde(rename = "generatorURL", skip_serializing_if = "Option::is_none")]
    generator_url: Option<&'a str>,
}

/// `startsAt` is the alert's event time. `endsAt` is the hold counted from when
/// the alert is sent, or from its event time if that is later: a replay of last
/// month would otherwise post alerts that are already resolved.
pub(crate) fn postable<'a>(
    a: &'a Alert,
    hold: Duration,
    now: DateTime<Utc>,
    generator_url: Option<&'a str>,
) -> PostableAlert<'a> {
    let mut labels = BTreeMap::new();
    labels.insert("alertname", a.typology.as_str());
    labels.insert("typology", a.typology.as_str());
    labels.insert("severity", a.severity.as_str());
    labels.insert("alert_id", a.alert_id.as_str());
    // Absent rather than empty: Alertmanager treats an empty label as missing.
    let optional = [
        ("office_id", &a.office_id),
        ("service_code", &a.service_code),
        ("transaction_id", &a.transaction_id),
    ];
    for (k, v) in optional {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            labels.insert(k, v);
        }
    }
    let mut annotations = BTreeMap::new();
    annotations.insert("summary_id", a.summary_id.clone());
    annotations.insert("summary_en", a.summary_en.clone());
    annotations.insert(
        "observed",
        serde_json::Value::Object(a.observed.clone()).to_string(),
    );
    annotations.insert(
        "expected",
        serde_json::Value::Object(a.expected.clone()).to_string(),
    );
    annotations.insert(
        "evidence_event_ids",
        serde_json::to_string(&a.evidence_event_ids).unwrap_or_default(),
    );
    annotations.insert("event_time", a.event_time.clone());
    annotations.insert("pipeline", a.pipeline.to_string());
    let extra = [
        (
            "related_transaction_id",
            a.related_transaction_id.as_deref(),
        ),
        ("officer_id", a.officer_id.as_deref()),
        ("agent_ref", a.agent_ref.as_deref()),
        ("window_start", a.window_start.as_deref()),
        ("window_end", a.window_end.as_deref()),
    ];
    for (k, v) in extra {
        if let Some(v) = v {
            annotations.insert(k, v.to_owned());
        }
    }
    let started = DateTime::parse_from_rfc3339(&a.event_time)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now);
    let hold = chrono::Duration::from_std(hold).unwrap_or(chrono::Duration::MAX);
    let ends = started.max(now) + hold;
    PostableAlert {
        labels,
        annotations,
        starts_at: a.event_time.clone(),
        ends_at: ends.to_rfc3339_opts(SecondsFormat::Secs, true),
        generator_url,
    }
}

impl Transport for Alertmanager {
    fn sink(&self) -> &'static str {
        "alertmanager"
    }

    fn url(&self) -> &str {
        &self.endpoint
    }

    fn max_batch(&self) -> usize {
        self.batch_size
    }

    fn request(&self, client: &reqwest::Client, batch: &[Alert]) -> reqwest::RequestBuilder {
        let now = Utc::now();
        let body: Vec<PostableAlert<'_>> = batch
            .iter()
            .map(|a| postable(a, self.hold, now, self.generator_url.as_deref()))
            .collect();
        client.post(&self.endpoint).json(&body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::{Scope, Severity};

    fn alert() -> Alert {
        Alert {
            alert_id: "abc".into(),
            typology: "fee_above_tariff".into(),
            severity: Severity::High,
            scope: Scope::Transaction,
            transaction_id: Some("T-1".into()),
            related_transaction_id: None,
            office_id: Some("3171-DUKCAPIL".into()),
            service_code: None,
            officer_id: None,
            agent_ref: None,
            window_start: None,
            window_end: None,
            event_time: "2026-03-02T10:00:00+07:00".into(),
            observed: crate::figures!("total_paid": 150000),
            expected: crate::figures!("expected_fee": 100000),
            evidence_event_ids: vec!["e1".into(), "e2".into()],
            summary_id: "Dibayar Rp 150.000".into(),
            summary_en: "Paid Rp 150,000".into(),
            pipeline: "test".into(),
        }
    }

    #[test]
    fn labels_and_annotations_carry_the_alert() {
        let a = alert();
        let now = "2026-11-28T00:00:00Z".parse().expect("time");
        let p = postable(&a, Duration::from_secs(24 * 3600), now, None);
        let v = serde_json::to_value(&p).expect("json");
        assert_eq!(v["labels"]["alertname"], "fee_above_tariff");
        assert_eq!(v["labels"]["typology"], "fee_above_tariff");
        assert_eq!(v["labels"]["severity"], "high");
        assert_eq!(v["labels"]["alert_id"], "abc");
        assert_eq!(v["labels"]["office_id"], "3171-DUKCAPIL");
        assert_eq!(v["labels"]["transaction_id"], "T-1");
        assert!(v["labels"].get("service_code").is_none());
        assert_eq!(v["annotations"]["summary_id"], "Dibayar Rp 150.000");
        assert_eq!(v["annotations"]["observed"], r#"{"total_paid":150000}"#);
        assert_eq!(v["annotations"]["evidence_event_ids"], r#"["e1","e2"]"#);
        assert_eq!(v["startsAt"], "2026-03-02T10:00:00+07:00");
        // A replayed alert from March stays active for the hold from now.
        assert_eq!(v["endsAt"], "2026-11-29T00:00:00Z");
        assert!(v.get("generatorURL").is_none());
    }

    #[test]
    fn a_future_event_time_holds_from_the_event() {
        let a = alert();
        let now = "2026-01-01T00:00:00Z".parse().expect("time");
        let p = postable(&a, Duration::from_secs(3600), now, Some("http://x"));
        let v = serde_json::to_value(&p).expect("json");
        assert_eq!(v["endsAt"], "2026-03-02T04:00:00Z");
        assert_eq!(v["generatorURL"], "http://x");
    }
}
