//! Event-to-alert latency on the Kafka path, from broker timestamps: for each
//! alert raised by an event (not by a timer), the time from the publication of
//! its latest evidence event to the publication of the alert.
//!
//! ```sh
//! cargo run --release --example kafka_latency -- BOOTSTRAP [EVENTS_TOPIC] [ALERTS_TOPIC]
//! ```
//! Reads both topics from the beginning until they are quiet for 5 s, then
//! prints the count and the percentiles.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;

/// Alerts a timer raises (a deadline, a window's end): their latest evidence
/// says nothing about how fast the pipeline reacts.
const TIMER_TYPOLOGIES: [&str; 2] = ["overdue_open", "officer_outlier"];

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bootstrap = args
        .first()
        .ok_or_else(|| anyhow::anyhow!("usage: kafka_latency BOOTSTRAP [EVENTS] [ALERTS]"))?;
    let events_topic = args.get(1).map_or("pantau.events.v1", String::as_str);
    let alerts_topic = args.get(2).map_or("pantau.alerts.v1", String::as_str);
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("latency-{}", std::process::id()))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()?;
    consumer.subscribe(&[events_topic, alerts_topic])?;
    let mut published: HashMap<String, i64> = HashMap::new();
    let mut alerts: Vec<(i64, Vec<String>)> = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < Duration::from_secs(5) {
        let Some(m) = consumer.poll(Duration::from_millis(200)) else {
            continue;
        };
        let m = m?;
        last = Instant::now();
        let Some(ts) = m.timestamp().to_millis() else {
            continue;
        };
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(m.payload().unwrap_or_default())
        else {
            continue;
        };
        if m.topic() == events_topic {
            if let Some(id) = v["event_id"].as_str() {
                published.entry(id.to_owned()).or_insert(ts);
            }
        } else if !TIMER_TYPOLOGIES.contains(&v["typology"].as_str().unwrap_or_default()) {
            let evidence = v["evidence_event_ids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            alerts.push((ts, evidence));
        }
    }
    consumer.unsubscribe();
    let mut latencies: Vec<i64> = alerts
        .iter()
        .filter_map(|(ts, evidence)| {
            let latest = evidence.iter().filter_map(|e| published.get(e)).max()?;
            Some(ts - latest)
        })
        .collect();
    latencies.sort_unstable();
    if latencies.is_empty() {
        anyhow::bail!("no event-triggered alert with its evidence on {events_topic}");
    }
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "alerts {}  p50 {} ms  p90 {} ms  p99 {} ms  max {} ms",
        latencies.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
    Ok(())
}
