//! The Kafka path of `pantau run`: a consumer-group member that decodes and
//! validates exactly as file input, keeps one watermark per partition, produces
//! alerts and dead letters, and commits offsets only after every record those
//! messages caused has been acknowledged (at least once).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::{Offset, TopicPartitionList};

use super::{PipelineError, Prepared, Summary, record_alerts};
use crate::config::SinkConfig;
use crate::decode::{Decoder, Event, Rejection};
use crate::kafka::consumer::PantauConsumerContext;
use crate::kafka::{KafkaConfig, KafkaProducer, Role};
use crate::sinks::{AlertSink, RejectedRecord, RejectedSink};
use crate::source::Position;

/// How long to wait for the brokers to acknowledge before giving up (and not
/// committing): librdkafka retries within this time.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);
/// With `--stop-when-idle`, how much longer than the idle time an instance
/// waits for its first partition before giving up.
const ASSIGNMENT_GRACE: Duration = Duration::from_secs(60);
/// A batch is cut after this long even when not full.
const GATHER: Duration = Duration::from_millis(200);

/// One polled message, owned so the consumer can be polled again.
struct Polled {
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
}

fn dlq_headers(r: &Rejection, topic: &str, partition: i32, offset: i64) -> OwnedHeaders {
    let partition = partition.to_string();
    let offset = offset.to_string();
    let mut h = OwnedHeaders::new()
        .insert(Header {
            key: "reason",
            value: Some(r.reason.as_str()),
        })
        .insert(Header {
            key: "message",
            value: Some(r.message.as_str()),
        })
        .insert(Header {
            key: "source.topic",
            value: Some(topic),
        })
        .insert(Header {
            key: "source.partition",
            value: Some(partition.as_str()),
        })
        .insert(Header {
            key: "source.offset",
            value: Some(offset.as_str()),
        });
    if let Some(f) = &r.field {
        h = h.insert(Header {
            key: "field",
            value: Some(f.as_str()),
        });
    }
    h
}

pub(super) fn run(run: Prepared<'_>, kafka: &KafkaConfig) -> Result<Summary, PipelineError> {
    let Prepared {
        config,
        overrides: ov,
        metrics,
        ready,
        mut engine,
        alert_cfg,
        rejected_cfg,
        mut archive,
        started,
    } = run;
    let stop = super::signals::stop_flag(config.pipeline.shutdown_timeout);
    let context = PantauConsumerContext {
        metrics: metrics.clone(),
        rebalances: Mutex::default(),
    };
    let consumer: BaseConsumer<PantauConsumerContext> = kafka
        .client_config(Role::Consumer)?
        .create_with_context(context)?;
    consumer.subscribe(&[kafka.events_topic.as_str()])?;
    let mut file_alerts = AlertSink::open(&alert_cfg, metrics.clone(), false)?;
    let alerts_out = alert_cfg
        .iter()
        .any(|c| matches!(c, SinkConfig::Kafka))
        .then(|| KafkaProducer::new(kafka, Some(metrics.clone()), "alerts"))
        .transpose()?;
    let dlq_to_kafka = matches!(rejected_cfg, Some(SinkConfig::Kafka));
    let dlq_out = dlq_to_kafka
        .then(|| KafkaProducer::new(kafka, Some(metrics.clone()), "dead letters"))
        .transpose()?;
    let mut rejected_file = RejectedSink::open(rejected_cfg.as_ref(), false)?;

    let decoder = Decoder::new(config.pipeline.max_event_bytes);
    let batch_size = ov.batch_size.unwrap_or(config.pipeline.batch_size);
    let source: Arc<str> = Arc::from(kafka.events_topic.as_str());
    let mut summary = Summary::default();
    // The idle stop counts from the first assignment: a group's first rebalance
    // can take seconds.
    let mut last_message: Option<Instant> = None;
    let mut last_by_partition: BTreeMap<i32, Instant> = BTreeMap::new();
    let mut idle: BTreeSet<i32> = BTreeSet::new();
    let mut to_commit: BTreeMap<i32, i64> = BTreeMap::new();
    let evaluate = metrics.processing_seconds.with_label_values(&["evaluate"]);
    let decode_time = metrics.processing_seconds.with_label_values(&["decode"]);
    let sink_time = metrics.processing_seconds.with_label_values(&["sink"]);
    let mut ended = false;
    loop {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let mut polled: Vec<Polled> = Vec::new();
        let until = Instant::now() + GATHER;
        while polled.len() < batch_size {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            match consumer.poll(left) {
                None => break,
                Some(Err(e)) => tracing::warn!("kafka consumer: {e}"),
                Some(Ok(m)) => polled.push(Polled {
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(<[u8]>::to_vec),
                    payload: m.payload().unwrap_or_default().to_vec(),
                }),
            }
        }
        let log =
            std::mem::take(
                &mut *consumer.context().rebalances.lock().map_err(|_| {
                    PipelineError::Thread("kafka", std::io::Error::other("poisoned"))
                })?,
            );
        if !log.revoked.is_empty() {
            tracing::info!("kafka: partitions revoked: {:?}", log.revoked);
        }
        if !log.assigned.is_empty() {
            tracing::info!("kafka: partitions assigned: {:?}", log.assigned);
        }
        if log.joined {
            // Ready once the group has given this member its share (possibly
            // none, when instances outnumber partitions), not at start.
            ready.store(true, Ordering::Relaxed);
        }
        if !log.assigned.is_empty() && last_message.is_none() {
            last_message = Some(Instant::now());
        }
        for p in &log.revoked {
            engine.remove_partition(*p);
            last_by_partition.remove(p);
            idle.remove(p);
            to_commit.remove(p);
        }
        for p in &log.assigned {
            engine.add_partition(*p);
            last_by_partition.insert(*p, Instant::now());
        }
        if !log.revoked.is_empty() {
            // Polled before the revocation: redelivered to the partition's new owner.
            let revoked: BTreeSet<i32> = log.revoked.iter().copied().collect();
            let assigned: BTreeSet<i32> = log.assigned.iter().copied().collect();
            polled.retain(|m| !revoked.contains(&m.partition) || assigned.contains(&m.partition));
        }

        let now = Instant::now();
        let t = Instant::now();
        let decoded: Vec<Result<Event, Rejection>> = polled
            .par_iter()
            .with_min_len(256)
            .map(|m| decoder.decode(&m.payload))
            .collect();
        decode_time.observe(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for (m, result) in polled.iter().zip(decoded) {
            summary.records_read += 1;
            match result {
                Ok(e) => {
                    let et = e.event_type();
                    let admission = engine.ingest_from(m.partition, e);
                    metrics.count_event(et, admission.outcome());
                    summary.admitted(admission);
                }
                Err(r) => {
                    summary.rejected(r.reason.as_str());
                    metrics.count_rejection(r.reason.as_str());
                    if let Some(dlq) = &dlq_out {
                        let headers = dlq_headers(&r, &source, m.partition, m.offset);
                        dlq.send(
                            &kafka.dlq_topic,
                            m.key.as_deref(),
                            &m.payload,
                            Some(headers),
                        )?;
                    } else {
                        let position = Position {
                            file: Arc::from(format!("{source}[{}]", m.partition)),
                            line: m.offset as u64,
                        };
                        let record = RejectedRecord::new(&m.payload, m.payload.len(), position, &r);
                        rejected_file.write(&record)?;
                    }
                }
            }
            to_commit.insert(m.partition, m.offset + 1);
            last_by_partition.insert(m.partition, now);
        }
        if !polled.is_empty() {
            last_message = Some(now);
        }
        for (p, last) in &last_by_partition {
            let is_idle = now.duration_since(*last) >= kafka.idle_timeout;
            if is_idle != idle.contains(p) {
                engine.set_partition_idle(*p, is_idle);
                if is_idle {
                    idle.insert(*p);
                } else {
                    idle.remove(p);
                }
            }
        }
        if let (Some(d), None) = (ov.stop_when_idle, last_message)
            && started.elapsed() >= d + ASSIGNMENT_GRACE
        {
            return Err(PipelineError::Consume(
                rdkafka::error::KafkaError::Subscription(format!(
                    "no partition of {} was assigned to this instance within {:?}",
                    kafka.events_topic,
                    d + ASSIGNMENT_GRACE
                )),
            ));
        }
        if ov
            .stop_when_idle
            .is_some_and(|d| polled.is_empty() && last_message.is_some_and(|l| l.elapsed() >= d))
        {
            // A bounded replay through Kafka has ended.
            engine.end_of_input();
            ended = true;
        }
        let alerts = engine.take_alerts();
        evaluate.observe(t.elapsed().as_secs_f64());
        let t = Instant::now();
        record_alerts(&mut summary, &alerts);
        if let Some(a) = &mut archive {
            a.send(engine.take_archived(), alerts.clone())?;
        }
        file_alerts.write(&alerts)?;
        rejected_file.flush()?;
        if let Some(out) = &alerts_out {
            for a in &alerts {
                out.send_alert(&kafka.alerts_topic, a)?;
            }
            out.flush(FLUSH_TIMEOUT)?;
        }
        if let Some(dlq) = &dlq_out {
            dlq.flush(FLUSH_TIMEOUT)?;
        }
        file_alerts.flush()?;
        sink_time.observe(t.elapsed().as_secs_f64());
        if !to_commit.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for (p, next) in &to_commit {
                tpl.add_partition_offset(&kafka.events_topic, *p, Offset::Offset(*next))?;
            }
            // A commit refused because the group is rebalancing (or this member
            // was fenced) loses nothing: the messages are redelivered to the
            // partition's next owner, whose alerts repeat with the same ids.
            if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
                tracing::warn!("kafka: offsets not committed ({e}); they will be redelivered");
            }
            to_commit.clear();
        }
        if let Some(w) = engine.watermark() {
            metrics.watermark_seconds.set(w.timestamp() as f64);
        }
        if ended {
            break;
        }
    }
    consumer.unsubscribe();
    file_alerts.close()?;
    if let Some(a) = archive {
        summary.archive = Some(a.close()?);
    }
    Ok(summary.finish(&engine, started))
}
