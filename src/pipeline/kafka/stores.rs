//! Stage two of Kafka mode: the keyed stores. Each assigned partition of a
//! store's repartition topic has its own engine, restored from the store's
//! changelog before any of its messages is processed, clocked only by the
//! watermark marks of stage one, and written back to the changelog (then its
//! offset committed) every `state_interval`, on revocation and at shutdown.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::{Offset, TopicPartitionList};

use super::route::Mark;
use crate::archive::ArchivedEvent;
use crate::decode::Event;
use crate::engine::{Admission, Engine, EngineState, PendingAlerts};
use crate::kafka::consumer::{PantauConsumerContext, TopicPartition};
use crate::kafka::{KafkaConfig, KafkaProducer, Store, changelog};
use crate::metrics::Metrics;
use crate::pipeline::PipelineError;
use crate::pipeline::checkpoint::encode_engine;

/// How long a restore may take to read a changelog partition to its end.
const RESTORE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long a snapshot may wait for the brokers' acknowledgements.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(120);

/// Makes a fresh engine for a store (its typologies, its metrics).
pub type EngineFactory = Box<dyn Fn(Store) -> Result<Engine, PipelineError> + Send>;

struct Keyed {
    engine: Engine,
    /// The next offset to process; messages before it are already in the state.
    next_offset: Option<i64>,
    generation: u64,
    /// Processed something since the last snapshot.
    dirty: bool,
    snapshot_at: Instant,
}

pub struct Stores {
    kafka: KafkaConfig,
    producer: Arc<KafkaProducer>,
    factory: EngineFactory,
    metrics: Arc<Metrics>,
    keyed: BTreeMap<(Store, i32), Keyed>,
}

impl Stores {
    pub fn new(
        kafka: KafkaConfig,
        producer: Arc<KafkaProducer>,
        factory: EngineFactory,
        metrics: Arc<Metrics>,
    ) -> Stores {
        Stores {
            kafka,
            producer,
            factory,
            metrics,
            keyed: BTreeMap::new(),
        }
    }

    /// A store partition was assigned: its engine is restored from the
    /// changelog (or starts empty when there is none yet).
    pub fn assign(&mut self, store: Store, partition: i32) -> Result<(), PipelineError> {
        if self.keyed.contains_key(&(store, partition)) {
            return Ok(());
        }
        let started = Instant::now();
        self.metrics.state_restoring.inc();
        let restored = self.restore(store, partition);
        self.metrics.state_restoring.dec();
        let keyed = restored?;
        let took = started.elapsed();
        self.metrics
            .state_restore_seconds
            .with_label_values(&[store.name()])
            .observe(took.as_secs_f64());
        tracing::info!(
            "kafka: {}[{partition}] restored in {:.3} s (generation {}, next offset {:?}, {} transactions)",
            store.name(),
            took.as_secs_f64(),
            keyed.generation,
            keyed.next_offset,
            keyed.engine.transactions()
        );
        self.keyed.insert((store, partition), keyed);
        Ok(())
    }

    fn restore(&self, store: Store, partition: i32) -> Result<Keyed, PipelineError> {
        let mut engine = (self.factory)(store)?;
        let topic = self.kafka.changelog_topic(store);
        let restored = changelog::read(&self.kafka, &topic, partition, RESTORE_TIMEOUT)?;
        let (next_offset, generation) = match restored {
            Some(r) => {
                let state: EngineState =
                    ciborium::from_reader(r.state.as_slice()).map_err(|e| {
                        PipelineError::Restore(format!(
                            "{topic}[{partition}] generation {}: {e}",
                            r.generation
                        ))
                    })?;
                engine.restore(state);
                (Some(r.next_offset), r.generation)
            }
            None => (None, 0),
        };
        Ok(Keyed {
            engine,
            next_offset,
            generation,
            dirty: false,
            snapshot_at: Instant::now(),
        })
    }

    /// Whether a message at `offset` is new to the store partition's state.
    pub fn wants(&self, store: Store, partition: i32, offset: i64) -> bool {
        self.keyed
            .get(&(store, partition))
            .is_some_and(|k| k.next_offset.is_none_or(|n| offset >= n))
    }

    fn keyed(&mut self, store: Store, partition: i32, offset: i64) -> Option<&mut Engine> {
        let k = self.keyed.get_mut(&(store, partition))?;
        k.next_offset = Some(offset + 1);
        k.dirty = true;
        Some(&mut k.engine)
    }

    pub fn ingest(
        &mut self,
        store: Store,
        partition: i32,
        offset: i64,
        event: Event,
        arrived: Instant,
    ) -> Option<Admission> {
        let engine = self.keyed(store, partition, offset)?;
        engine.arrival(arrived);
        Some(engine.ingest_routed(event))
    }

    pub fn mark(&mut self, store: Store, partition: i32, offset: i64, mark: &Mark) {
        let Some(engine) = self.keyed(store, partition, offset) else {
            return;
        };
        if let Some(t) = mark.max_seen {
            engine.observe_upstream(mark.partition, t);
        }
        if mark.ended {
            engine.end_partition(mark.partition);
        } else if mark.idle {
            engine.set_partition_idle(mark.partition, true);
        }
    }

    /// Alerts of every engine, those of the by-office stores first.
    /// Every store's alerts since the last call, counted in the pipeline's
    /// metrics (a by-agent engine keeps metrics of its own, since its events
    /// are counted once, by the by-office store); `None` without stores.
    pub fn take_pending(&mut self) -> Option<PendingAlerts> {
        let mut out: Option<PendingAlerts> = None;
        for k in self.keyed.values_mut() {
            let taken = k.engine.take_pending();
            match &mut out {
                Some(o) => o.append(taken),
                None => out = Some(taken.counted_in(self.metrics.clone())),
            }
        }
        out
    }

    pub fn take_archived(&mut self) -> Vec<ArchivedEvent> {
        let mut out = Vec::new();
        for k in self.keyed.values_mut() {
            out.extend(k.engine.take_archived());
        }
        out
    }

    /// The lowest watermark over the by-office stores.
    pub fn watermark(&self) -> Option<DateTime<Utc>> {
        self.keyed
            .iter()
            .filter(|((s, _), _)| *s == Store::ByOffice)
            .filter_map(|(_, k)| k.engine.watermark())
            .min()
    }

    /// Every store partition of this instance has seen its input end.
    pub fn all_ended(&self) -> bool {
        self.keyed.values().all(|k| k.engine.is_ended())
    }

    /// Transactions in state and open transactions, over the by-office stores.
    pub fn totals(&self) -> (usize, i64) {
        self.keyed
            .iter()
            .filter(|((s, _), _)| *s == Store::ByOffice)
            .fold((0, 0), |(t, o), (_, k)| {
                (
                    t + k.engine.transactions(),
                    o + k.engine.open_transactions(),
                )
            })
    }

    /// Writes the state of the store partitions `due` selects to their
    /// changelogs, waits for the acknowledgements, then commits their offsets.
    /// Alerts must have been taken and delivered before: the commit covers them.
    fn snapshot<F>(
        &mut self,
        consumer: &BaseConsumer<PantauConsumerContext>,
        due: F,
    ) -> Result<(), PipelineError>
    where
        F: Fn(&(Store, i32), &Keyed) -> bool,
    {
        let mut tpl = TopicPartitionList::new();
        for (key, k) in &mut self.keyed {
            if !due(key, k) {
                continue;
            }
            let (store, partition) = *key;
            let Some(next) = k.next_offset else {
                continue;
            };
            let state = encode_engine(&k.engine)?;
            k.generation += 1;
            changelog::write(
                &self.producer,
                &self.kafka.changelog_topic(store),
                partition,
                k.generation,
                next,
                &state,
            )?;
            k.dirty = false;
            k.snapshot_at = Instant::now();
            tpl.add_partition_offset(
                &self.kafka.repartition_topic(store),
                partition,
                Offset::Offset(next),
            )?;
        }
        if tpl.count() == 0 {
            return Ok(());
        }
        self.producer.flush(FLUSH_TIMEOUT)?;
        // Refused during a rebalance: the next owner restores this snapshot
        // (it carries its own offset), so nothing is processed twice into state.
        if let Err(e) = consumer.commit(&tpl, CommitMode::Sync) {
            tracing::warn!("kafka: store offsets not committed ({e}); the changelog has them");
        }
        Ok(())
    }

    /// Snapshots the store partitions changed for longer than the interval.
    pub fn snapshot_due(
        &mut self,
        consumer: &BaseConsumer<PantauConsumerContext>,
    ) -> Result<(), PipelineError> {
        let interval = self.kafka.state_interval;
        self.snapshot(consumer, |_, k| {
            k.dirty && k.snapshot_at.elapsed() >= interval
        })
    }

    /// Snapshots every changed store partition (at shutdown).
    pub fn snapshot_all(
        &mut self,
        consumer: &BaseConsumer<PantauConsumerContext>,
    ) -> Result<(), PipelineError> {
        self.snapshot(consumer, |_, k| k.dirty)
    }

    /// Inside a revocation: the revoked store partitions are snapshotted,
    /// committed and dropped before the revocation completes.
    pub fn revoke(
        &mut self,
        consumer: &BaseConsumer<PantauConsumerContext>,
        revoked: &[TopicPartition],
    ) -> Result<(), PipelineError> {
        let keys: Vec<(Store, i32)> = revoked
            .iter()
            .filter_map(|(t, p)| Some((self.kafka.store_of(t)?, *p)))
            .filter(|k| self.keyed.contains_key(k))
            .collect();
        let result = self.snapshot(consumer, |key, k| k.dirty && keys.contains(key));
        for key in &keys {
            if let Some(mut k) = self.keyed.remove(key) {
                k.engine.release();
            }
        }
        result
    }

    /// Drops every engine (after the final snapshot).
    pub fn clear(&mut self) {
        for (_, mut k) in std::mem::take(&mut self.keyed) {
            k.engine.release();
        }
    }
}
