//! A keyed store's changelog: snapshots of one partition's state on a compacted
//! topic, co-partitioned with the store's repartition topic.
//!
//! A snapshot is written as chunks (`snapshot/<slot>/<i>`, at most 512 KiB each,
//! under the brokers' default message size) and then a manifest
//! (`manifest/<slot>`) naming the generation, the chunk count, the SHA-256 of
//! the whole and the input offset the state covers. Two slots alternate, so a
//! crash in the middle of a snapshot leaves the previous one whole: restore takes
//! the newest manifest whose chunks check out. Compaction keeps exactly the
//! latest record per key, which is all restore reads.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::config::{KafkaConfig, KafkaConfigError, Role};
use super::producer::{KafkaProducer, ProduceError};

const CHUNK: usize = 512 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ChangelogError {
    #[error(transparent)]
    Config(#[from] KafkaConfigError),
    #[error("changelog {topic}[{partition}]: {source}")]
    Kafka {
        topic: String,
        partition: i32,
        source: rdkafka::error::KafkaError,
    },
    #[error("changelog {topic}[{partition}]: not read to its end within {timeout:?}")]
    Timeout {
        topic: String,
        partition: i32,
        timeout: Duration,
    },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Manifest {
    generation: u64,
    chunks: u32,
    bytes: u64,
    sha256: String,
    /// The next input offset: the state covers everything before it.
    next_offset: i64,
}

/// A state read back from a changelog.
#[derive(Debug)]
pub struct Restored {
    pub generation: u64,
    pub next_offset: i64,
    pub state: Vec<u8>,
    /// Records read from the changelog to find it.
    pub records: u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Queues one snapshot of `state` (covering input up to `next_offset`); the
/// caller flushes the producer before committing that offset.
pub fn write(
    producer: &KafkaProducer,
    topic: &str,
    partition: i32,
    generation: u64,
    next_offset: i64,
    state: &[u8],
) -> Result<(), ProduceError> {
    let slot = generation % 2;
    let mut chunks = 0u32;
    for (i, chunk) in state.chunks(CHUNK).enumerate() {
        let key = format!("snapshot/{slot}/{i}");
        producer.send_to(topic, Some(partition), Some(key.as_bytes()), chunk, None)?;
        chunks += 1;
    }
    let manifest = Manifest {
        generation,
        chunks,
        bytes: state.len() as u64,
        sha256: hex(&Sha256::digest(state)),
        next_offset,
    };
    let key = format!("manifest/{slot}");
    let value = serde_json::to_vec(&manifest).expect("manifests serialise");
    producer.send_to(topic, Some(partition), Some(key.as_bytes()), &value, None)
}

/// The newest whole snapshot on partition `partition` of `topic`, if any.
pub fn read(
    cfg: &KafkaConfig,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<Option<Restored>, ChangelogError> {
    let kafka = |source| ChangelogError::Kafka {
        topic: topic.to_owned(),
        partition,
        source,
    };
    // Reads by assignment, never joining the group, never committing.
    let consumer: BaseConsumer = cfg
        .client_config(Role::Consumer)?
        .set("statistics.interval.ms", "0")
        .create()
        .map_err(kafka)?;
    let (low, high) = consumer
        .fetch_watermarks(topic, partition, timeout)
        .map_err(kafka)?;
    if high <= low {
        return Ok(None);
    }
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(low))
        .map_err(kafka)?;
    consumer.assign(&tpl).map_err(kafka)?;
    let mut latest: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let mut records = 0u64;
    let deadline = Instant::now() + timeout;
    let mut position = low;
    while position < high {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ChangelogError::Timeout {
                topic: topic.to_owned(),
                partition,
                timeout,
            });
        }
        match consumer.poll(left.min(Duration::from_millis(500))) {
            None => continue,
            Some(Err(e)) => return Err(kafka(e)),
            Some(Ok(m)) => {
                position = m.offset() + 1;
                records += 1;
                if let Some(k) = m.key() {
                    latest.insert(k.to_vec(), m.payload().unwrap_or_default().to_vec());
                }
            }
        }
    }
    let _ = consumer.unassign();
    let mut manifests: Vec<(u64, Manifest)> = (0..2u64)
        .filter_map(|slot| {
            let raw = latest.get(format!("manifest/{slot}").as_bytes())?;
            let m: Manifest = serde_json::from_slice(raw).ok()?;
            Some((slot, m))
        })
        .collect();
    manifests.sort_by_key(|(_, m)| std::cmp::Reverse(m.generation));
    for (slot, m) in manifests {
        let mut state = Vec::with_capacity(m.bytes as usize);
        let whole =
            (0..m.chunks).all(
                |i| match latest.get(format!("snapshot/{slot}/{i}").as_bytes()) {
                    Some(c) => {
                        state.extend_from_slice(c);
                        true
                    }
                    None => false,
                },
            );
        if whole && state.len() as u64 == m.bytes && hex(&Sha256::digest(&state)) == m.sha256 {
            return Ok(Some(Restored {
                generation: m.generation,
                next_offset: m.next_offset,
                state,
                records,
            }));
        }
        tracing::warn!(
            "changelog {topic}[{partition}]: snapshot generation {} is torn; trying the previous one",
            m.generation
        );
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rdkafka::mocking::MockCluster;

    const T: Duration = Duration::from_secs(30);

    #[test]
    fn restore_takes_the_newest_whole_snapshot_and_survives_a_torn_one() {
        let cluster = MockCluster::new(1).expect("mock cluster");
        cluster
            .create_topic("g.by-office.changelog", 2, 1)
            .expect("topic");
        let cfg = KafkaConfig {
            bootstrap_servers: cluster.bootstrap_servers(),
            group_id: "g".into(),
            ..KafkaConfig::default()
        };
        let topic = "g.by-office.changelog";
        assert!(read(&cfg, topic, 1, T).expect("read").is_none(), "empty");
        let producer = KafkaProducer::new(&cfg, None, "changelog").expect("producer");
        // Bigger than one chunk, so a snapshot spans several records.
        let big: Vec<u8> = (0..CHUNK * 2 + 10).map(|i| (i % 251) as u8).collect();
        write(&producer, topic, 1, 1, 100, b"first").expect("write");
        write(&producer, topic, 1, 2, 200, &big).expect("write");
        producer.flush(T).expect("flush");
        let r = read(&cfg, topic, 1, T).expect("read").expect("snapshot");
        assert_eq!((r.generation, r.next_offset), (2, 200));
        assert_eq!(r.state, big);
        assert!(
            read(&cfg, topic, 0, T).expect("read").is_none(),
            "other partition"
        );
        // Generation 3 dies half-way: one chunk of slot 1 overwritten, no manifest.
        // Slot 1's manifest (generation 1) no longer checks out; slot 0 does.
        producer
            .send_to(topic, Some(1), Some(b"snapshot/1/0"), b"torn", None)
            .expect("send");
        producer.flush(T).expect("flush");
        let r = read(&cfg, topic, 1, T).expect("read").expect("snapshot");
        assert_eq!((r.generation, r.next_offset), (2, 200));
        // Generation 3 completes: it wins.
        write(&producer, topic, 1, 3, 300, b"third").expect("write");
        producer.flush(T).expect("flush");
        let r = read(&cfg, topic, 1, T).expect("read").expect("snapshot");
        assert_eq!((r.generation, r.state.as_slice()), (3, &b"third"[..]));
        // The newest snapshot damaged after the fact: the previous one is used.
        producer
            .send_to(topic, Some(1), Some(b"snapshot/1/0"), b"THIRD", None)
            .expect("send");
        producer.flush(T).expect("flush");
        let r = read(&cfg, topic, 1, T).expect("read").expect("snapshot");
        assert_eq!((r.generation, r.next_offset), (2, 200));
    }
}
