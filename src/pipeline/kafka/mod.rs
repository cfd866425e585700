//! The Kafka path of `pantau run`: a consumer-group member in two stages, the
//! way Kafka Streams splits a topology at a repartition.
//!
//! 1. **Route** (`route`): events from the events topic are decoded and
//!    validated exactly as file input; rejections go to the dead-letter sink;
//!    valid events go, as their original bytes, to the keyed stores'
//!    repartition topics, followed by watermark marks.
//! 2. **Stores** (`stores`): each assigned partition of a repartition topic has
//!    its own engine, restored from a changelog, clocked by the marks.
//!
//! Every typology's state then lives in exactly one store partition, so N
//! instances in one group raise the same alerts as one. Offsets are committed
//! only after every record they caused has been acknowledged: routed events,
//! marks and dead letters for the events topic (every batch); alerts and the
//! changelog snapshot for a store's topic (every `state_interval`).

mod route;
mod stores;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rayon::prelude::*;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders};
use rdkafka::{Offset, TopicPartitionList};

use super::stage::{self, Stage};
use super::{PipelineError, Prepared, Summary};
use crate::config::SinkConfig;
use crate::decode::{Decoder, Event, Rejection};
use crate::engine::{Engine, EngineSettings};
use crate::kafka::consumer::{PantauConsumerContext, RevokeHook};
use crate::kafka::{KafkaConfig, KafkaProducer, Role, Store};
use crate::metrics::Metrics;
use crate::rules::Typology;
use crate::rules::custom::CustomRules;
use crate::sinks::{AlertSink, RejectedRecord, RejectedSink};
use crate::source::Position;
use route::{MARK_HEADER, Mark, Router};
use stores::Stores;

/// How long to wait for the brokers to acknowledge before giving up (and not
/// committing): librdkafka retries within this time.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);
/// With `--stop-when-idle`, how much longer than the idle time an instance
/// waits for its first partition before giving up.
const ASSIGNMENT_GRACE: Duration = Duration::from_secs(60);
/// A batch is cut after this long even when not full.
const GATHER: Duration = Duration::from_millis(200);
/// Once a batch has messages, how long to wait for more before processing it.
const TRICKLE: Duration = Duration::from_millis(5);
/// Watermark marks go out at most this often, a partition's only when it changed
/// (a partition turning idle or ending is in the next round): each is sent to
/// every store partition.
const MARK_EVERY: Duration = Duration::from_millis(200);
/// With `--stop-when-idle`, an instance whose stores never see every source
/// partition end (a source partition nobody owns) gives up after this many
/// idle times.
const END_PATIENCE: u32 = 6;

/// Where a polled message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Origin {
    Events,
    Store(Store),
}

/// One polled message, owned so the consumer can be polled again.
struct Polled {
    from: Origin,
    partition: i32,
    offset: i64,
    key: Option<Vec<u8>>,
    payload: Vec<u8>,
    mark: bool,
    /// When it was polled: its arrival, for the alert latency.
    at: Instant,
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

/// The number of partitions of `topic` (created by the broker on first use
/// when it allows that, as the development broker does).
fn partition_count(producer: &KafkaProducer, topic: &str) -> Result<i32, PipelineError> {
    let n = producer.partition_count(topic, Duration::from_secs(30))?;
    if n == 0 {
        return Err(PipelineError::Topic(format!(
            "topic {topic} does not exist; create it with `pantau topics create` (or let the broker auto-create topics)"
        )));
    }
    Ok(n)
}

/// The engine for one store partition: the by-office stores judge every
/// typology but `broker_activity`, the by-agent stores only that one. Custom
/// rules keep per-engine state, so each by-office engine compiles its own (the
/// start-up compile has already rejected bad rules).
fn engine_factory(run: &Prepared<'_>, upstream: i32) -> stores::EngineFactory {
    let base = EngineSettings::from_config(run.config);
    let rules = run.config.rules.clone();
    let reference = run.reference.clone();
    let metrics = run.metrics.clone();
    let archive = run.archive.is_some();
    Box::new(move |store| {
        let mut settings = base.clone();
        for t in Typology::ALL {
            let by_agent = t == Typology::BrokerActivity;
            if by_agent != (store == Store::ByAgent) {
                settings.set_enabled(t, false);
            }
        }
        let (custom, metrics) = match store {
            Store::ByOffice => (CustomRules::compile(&rules)?, metrics.clone()),
            Store::ByAgent => (None, Arc::new(Metrics::new())),
        };
        let mut engine = Engine::new(settings, reference.clone(), metrics, custom);
        for p in 0..upstream {
            engine.add_partition(p);
        }
        if archive && store == Store::ByOffice {
            engine.enable_archive();
        }
        Ok(engine)
    })
}

pub(super) fn run(run: Prepared<'_>, kafka: &KafkaConfig) -> Result<Summary, PipelineError> {
    let stop = super::signals::stop_flag(run.config.pipeline.shutdown_timeout);
    let metrics = run.metrics.clone();
    let ov = run.overrides;
    let internal = Arc::new(KafkaProducer::new(
        kafka,
        Some(metrics.clone()),
        "internal topics",
    )?);

    // The stores sit behind a mutex only so the revocation callback, which runs
    // inside `poll` on this same thread, can snapshot them; never held across a poll.
    let stores: Arc<Mutex<Option<Stores>>> = Arc::new(Mutex::new(None));
    let hook_stores = stores.clone();
    let on_revoke: RevokeHook = Box::new(move |consumer, revoked| {
        let Ok(mut guard) = hook_stores.lock() else {
            return;
        };
        if let Some(stores) = guard.as_mut()
            && let Err(e) = stores.revoke(consumer, revoked)
        {
            tracing::error!(
                "kafka: revoked store partitions not snapshotted ({e}); their next owner replays from the previous snapshot"
            );
        }
    });
    let context = PantauConsumerContext {
        metrics: metrics.clone(),
        rebalances: Mutex::default(),
        on_revoke: Some(on_revoke),
    };
    let consumer: BaseConsumer<PantauConsumerContext> = kafka
        .client_config(Role::Consumer)?
        .create_with_context(context)?;

    let upstream = partition_count(&internal, &kafka.events_topic)?;
    let mut store_partitions = BTreeMap::new();
    for store in Store::ALL {
        let repartition = kafka.repartition_topic(store);
        let n = partition_count(&internal, &repartition)?;
        let changelog = kafka.changelog_topic(store);
        let c = partition_count(&internal, &changelog)?;
        if c != n {
            return Err(PipelineError::Topic(format!(
                "{changelog} has {c} partitions but {repartition} has {n}: a changelog must be co-partitioned with its store's topic"
            )));
        }
        store_partitions.insert(store, n);
    }
    *stores.lock().map_err(|_| poisoned())? = Some(Stores::new(
        kafka.clone(),
        internal.clone(),
        engine_factory(&run, upstream),
        metrics.clone(),
    ));
    let mut router = Router::new(kafka, &store_partitions);
    let mut topics = vec![kafka.events_topic.clone()];
    topics.extend(Store::ALL.map(|s| kafka.repartition_topic(s)));
    let topic_refs: Vec<&str> = topics.iter().map(String::as_str).collect();
    consumer.subscribe(&topic_refs)?;

    let Prepared {
        config,
        ready,
        alert_cfg,
        rejected_cfg,
        archive,
        started,
        ..
    } = run;
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
    let mut stage = Stage::new(metrics.clone(), Summary::default(), archive);
    // The idle stop counts from the first assignment: a group's first rebalance
    // can take seconds.
    let mut last_message: Option<Instant> = None;
    let mut to_commit: BTreeMap<i32, i64> = BTreeMap::new();
    // What this member owns now: after a revocation (a broker outage, say) it
    // owns nothing until the group has rebalanced, and must not call that the end.
    let mut owned: BTreeSet<(String, i32)> = BTreeSet::new();
    let mut last_marks = Instant::now();
    let evaluate = metrics.processing_seconds.with_label_values(&["evaluate"]);
    let decode_time = metrics.processing_seconds.with_label_values(&["decode"]);
    let sink_time = metrics.processing_seconds.with_label_values(&["sink"]);
    let origin = |topic: &str| {
        if topic == kafka.events_topic {
            Some(Origin::Events)
        } else {
            kafka.store_of(topic).map(Origin::Store)
        }
    };
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
            // Wait for the first message; after it, take only what has already
            // arrived, so a trickle is processed at once rather than after the
            // whole gather time.
            let wait = if polled.is_empty() {
                left
            } else {
                left.min(TRICKLE)
            };
            match consumer.poll(wait) {
                None => break,
                Some(Err(e)) => tracing::warn!("kafka consumer: {e}"),
                Some(Ok(m)) => {
                    let Some(from) = origin(m.topic()) else {
                        continue;
                    };
                    let mark = m
                        .headers()
                        .is_some_and(|h| h.iter().any(|h| h.key == MARK_HEADER));
                    polled.push(Polled {
                        from,
                        partition: m.partition(),
                        offset: m.offset(),
                        key: m.key().map(<[u8]>::to_vec),
                        payload: m.payload().unwrap_or_default().to_vec(),
                        mark,
                        at: Instant::now(),
                    })
                }
            }
        }
        let log = std::mem::take(
            &mut *consumer
                .context()
                .rebalances
                .lock()
                .map_err(|_| poisoned())?,
        );
        let mut guard = stores.lock().map_err(|_| poisoned())?;
        let stores = guard.as_mut().expect("set before subscribing");
        for tp in &log.revoked {
            owned.remove(tp);
        }
        owned.extend(log.assigned.iter().cloned());
        if !log.revoked.is_empty() {
            tracing::info!("kafka: partitions revoked: {:?}", log.revoked);
            // Polled before the revocation: redelivered from the committed
            // offsets (or the restored snapshot's) to whoever owns them now.
            let revoked: BTreeSet<(Origin, i32)> = log
                .revoked
                .iter()
                .filter_map(|(t, p)| Some((origin(t)?, *p)))
                .collect();
            polled.retain(|m| !revoked.contains(&(m.from, m.partition)));
            for (from, p) in &revoked {
                if *from == Origin::Events {
                    router.revoke(*p);
                    to_commit.remove(p);
                }
            }
        }
        if !log.assigned.is_empty() {
            tracing::info!("kafka: partitions assigned: {:?}", log.assigned);
            if last_message.is_none() {
                last_message = Some(Instant::now());
            }
        }
        for (topic, p) in &log.assigned {
            match origin(topic) {
                Some(Origin::Events) => router.assign(*p),
                Some(Origin::Store(store)) => {
                    ready.store(false, Ordering::Relaxed);
                    stores.assign(store, *p)?;
                }
                None => {}
            }
        }
        if log.joined || !log.assigned.is_empty() {
            // Ready once the group has given this member its share (possibly
            // none, when instances outnumber partitions) and its stores are
            // restored.
            ready.store(true, Ordering::Relaxed);
        }

        let now = Instant::now();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let t = now;
        let decoded: Vec<Option<Result<Event, Rejection>>> = polled
            .par_iter()
            .with_min_len(256)
            .map(|m| match m.from {
                // The source's events feed the lag histogram once, here.
                Origin::Events => Some(stage::decode(&decoder, &m.payload, &metrics, now_ms)),
                Origin::Store(_) => (!m.mark).then(|| decoder.decode(&m.payload)),
            })
            .collect();
        decode_time.observe(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for (m, result) in polled.iter().zip(decoded) {
            match m.from {
                Origin::Events => {
                    stage.read();
                    router.touch(m.partition, now);
                    match result {
                        Some(Ok(e)) => router.route(&internal, m.partition, &m.payload, &e)?,
                        Some(Err(r)) => {
                            stage.rejected(&r);
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
                                let record =
                                    RejectedRecord::new(&m.payload, m.payload.len(), position, &r);
                                rejected_file.write(&record)?;
                            }
                        }
                        None => {}
                    }
                    to_commit.insert(m.partition, m.offset + 1);
                }
                Origin::Store(store) => {
                    if !stores.wants(store, m.partition, m.offset) {
                        continue;
                    }
                    if m.mark {
                        match serde_json::from_slice::<Mark>(&m.payload) {
                            Ok(mark) => stores.mark(store, m.partition, m.offset, &mark),
                            Err(e) => tracing::warn!(
                                "kafka: unreadable mark at {}[{}]@{}: {e}",
                                kafka.repartition_topic(store),
                                m.partition,
                                m.offset
                            ),
                        }
                        continue;
                    }
                    match result {
                        Some(Ok(e)) => {
                            let et = e.event_type();
                            let admission = stores.ingest(store, m.partition, m.offset, e, m.at);
                            if let (Store::ByOffice, Some(a)) = (store, admission) {
                                stage.admitted(et, a);
                            }
                        }
                        // Validated once already, so only a changed size limit
                        // between stages gets here.
                        Some(Err(r)) => tracing::warn!(
                            "kafka: routed event at {}[{}]@{} no longer decodes: {}",
                            kafka.repartition_topic(store),
                            m.partition,
                            m.offset,
                            r.message
                        ),
                        None => {}
                    }
                }
            }
        }
        if !polled.is_empty() {
            last_message = Some(now);
        }
        if last_marks.elapsed() >= MARK_EVERY {
            router.marks(&internal, now, kafka.idle_timeout, ov.stop_when_idle)?;
            last_marks = now;
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
        let alerts = match stores.take_pending() {
            Some(pending) => stage
                .emit(pending, || stores.take_archived())?
                .into_alerts(),
            None => Vec::new(),
        };
        evaluate.observe(t.elapsed().as_secs_f64());
        let t = Instant::now();
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
        internal.flush(FLUSH_TIMEOUT)?;
        sink_time.observe(t.elapsed().as_secs_f64());
        if !to_commit.is_empty() {
            let mut tpl = TopicPartitionList::new();
            for (p, next) in &to_commit {
                tpl.add_partition_offset(&kafka.events_topic, *p, Offset::Offset(*next))?;
            }
            // A commit refused because the group is rebalancing (or this member
            // was fenced) loses nothing: the messages are redelivered to the
            // partition's next owner, and routed again; the stores drop the
            // repeated event ids.
            if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
                tracing::warn!("kafka: offsets not committed ({e}); they will be redelivered");
            }
            to_commit.clear();
        }
        stores.snapshot_due(&consumer)?;
        stage.watermark(stores.watermark());
        if let (Some(d), Some(last)) = (ov.stop_when_idle, last_message) {
            let quiet = last.elapsed();
            // A bounded replay through Kafka has ended once this instance's
            // source partitions have published their end and its stores have
            // seen every source partition end.
            if quiet >= d && !owned.is_empty() && router.all_ended() && stores.all_ended() {
                break;
            }
            if quiet >= d * END_PATIENCE {
                tracing::warn!(
                    "kafka: stopping after {quiet:?} without a message, though not every source partition has ended"
                );
                break;
            }
        }
    }
    let mut guard = stores.lock().map_err(|_| poisoned())?;
    let stores = guard.as_mut().expect("set before subscribing");
    stores.snapshot_all(&consumer)?;
    let (transactions, open) = stores.totals();
    stores.clear();
    drop(guard);
    consumer.unsubscribe();
    file_alerts.close()?;
    Ok(stage.close()?.finish_with(transactions, open, started))
}

fn poisoned() -> PipelineError {
    PipelineError::Thread("kafka", std::io::Error::other("poisoned"))
}
