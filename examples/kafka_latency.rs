//! Event-to-alert latency on the Kafka path, from broker timestamps: for each
//! alert raised by an event (not by a timer), the time from the publication of
//! its latest evidence event to the publication of the alert, in all and by
//! typology. With `pantau simulate --to-kafka --live`, event times follow the
//! clock, so this is the latency an inspector sees.
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
    let mut alerts: Vec<(i64, String, Vec<String>)> = Vec::new();
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
        } else if let Some(typology) = v["typology"]
            .as_str()
            .filter(|t| !TIMER_TYPOLOGIES.contains(t))
        {
            let evidence = v["evidence_event_ids"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|e| e.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            alerts.push((ts, typology.to_owned(), evidence));
        }
    }
    consumer.unsubscribe();
    let mut by_typology: std::collections::BTreeMap<String, Vec<i64>> = Default::default();
    for (ts, typology, evidence) in &alerts {
        if let Some(latest) = evidence.iter().filter_map(|e| published.get(e)).max() {
            by_typology
                .entry(typology.clone())
                .or_default()
                .push(ts - latest);
        }
    }
    let mut all: Vec<i64> = by_typology.values().flatten().copied().collect();
    if all.is_empty() {
        anyhow::bail!("no event-triggered alert with its evidence on {events_topic}");
    }
    print_row("all", &mut all);
    for (typology, latencies) in &mut by_typology {
        print_row(typology, latencies);
    }
    Ok(())
}

fn print_row(name: &str, latencies: &mut [i64]) {
    latencies.sort_unstable();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!(
        "{name:<22} alerts {:>6}  p50 {:>7} ms  p90 {:>7} ms  p99 {:>7} ms  max {:>7} ms",
        latencies.len(),
        pct(0.50),
        pct(0.90),
        pct(0.99),
        latencies[latencies.len() - 1]
    );
}
