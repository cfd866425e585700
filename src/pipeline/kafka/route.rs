//! Stage one of Kafka mode: every valid event is routed to the keyed stores'
//! repartition topics (by office; and by agent when a submission names one),
//! and each source partition's progress is published to every store partition
//! as a watermark mark, so the stores know when event time has passed even
//! though events of many source partitions interleave in theirs.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rdkafka::message::{Header, OwnedHeaders};
use serde::{Deserialize, Serialize};

use crate::decode::{Event, EventBody};
use crate::kafka::{KafkaConfig, KafkaProducer, ProduceError, Store};

/// The header that tells a watermark mark from a routed event.
pub const MARK_HEADER: &str = "pantau.mark";

/// Source partition `partition` has delivered every event it read up to
/// `max_seen` (before this mark, in every store partition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub partition: i32,
    pub max_seen: Option<DateTime<Utc>>,
    /// Nothing read for the idle timeout: it should not hold time back.
    pub idle: bool,
    /// A bounded replay (`--stop-when-idle`) has ended on this partition.
    pub ended: bool,
}

impl Mark {
    fn says_something(&self) -> bool {
        self.max_seen.is_some() || self.idle || self.ended
    }
}

struct SourcePartition {
    max_seen: Option<DateTime<Utc>>,
    last_message: Instant,
    sent: Option<Mark>,
}

pub struct Router {
    topics: Vec<(Store, String, i32)>,
    sources: BTreeMap<i32, SourcePartition>,
}

impl Router {
    /// `partitions` gives each store topic's partition count.
    pub fn new(kafka: &KafkaConfig, partitions: &BTreeMap<Store, i32>) -> Router {
        Router {
            topics: partitions
                .iter()
                .map(|(s, n)| (*s, kafka.repartition_topic(*s), *n))
                .collect(),
            sources: BTreeMap::new(),
        }
    }

    pub fn assign(&mut self, partition: i32) {
        self.sources.insert(
            partition,
            SourcePartition {
                max_seen: None,
                last_message: Instant::now(),
                sent: None,
            },
        );
    }

    pub fn revoke(&mut self, partition: i32) {
        self.sources.remove(&partition);
    }

    /// A message was read from `partition`, valid or not.
    pub fn touch(&mut self, partition: i32, now: Instant) {
        if let Some(s) = self.sources.get_mut(&partition) {
            s.last_message = now;
        }
    }

    /// Sends a valid event (its original bytes) to the stores that need it.
    pub fn route(
        &mut self,
        producer: &KafkaProducer,
        partition: i32,
        payload: &[u8],
        event: &Event,
    ) -> Result<(), ProduceError> {
        for (store, topic, _) in &self.topics {
            let key = match store {
                Store::ByOffice => Some(event.office_id.as_str()),
                Store::ByAgent => match &event.body {
                    EventBody::Submitted(s) => s.agent_ref.as_deref(),
                    _ => None,
                },
            };
            if let Some(key) = key {
                producer.send(topic, Some(key.as_bytes()), payload, None)?;
            }
        }
        if let Some(s) = self.sources.get_mut(&partition) {
            let at = event.occurred_at.to_utc();
            if s.max_seen.is_none_or(|m| at > m) {
                s.max_seen = Some(at);
            }
        }
        Ok(())
    }

    /// Publishes a mark for every source partition whose progress, idleness or
    /// end changed since its last mark. Called after the batch's events were
    /// queued on the same producer, so each mark follows the events it covers.
    pub fn marks(
        &mut self,
        producer: &KafkaProducer,
        now: Instant,
        idle_timeout: Duration,
        stop_when_idle: Option<Duration>,
    ) -> Result<(), ProduceError> {
        for (p, s) in &mut self.sources {
            let quiet = now.saturating_duration_since(s.last_message);
            let mark = Mark {
                partition: *p,
                max_seen: s.max_seen,
                idle: quiet >= idle_timeout,
                ended: stop_when_idle.is_some_and(|d| quiet >= d),
            };
            if !mark.says_something() || s.sent.as_ref() == Some(&mark) {
                continue;
            }
            let payload = serde_json::to_vec(&mark).expect("marks serialise");
            for (_, topic, partitions) in &self.topics {
                for q in 0..*partitions {
                    let headers = OwnedHeaders::new().insert(Header {
                        key: MARK_HEADER,
                        value: Some("watermark"),
                    });
                    producer.send_to(topic, Some(q), None, &payload, Some(headers))?;
                }
            }
            s.sent = Some(mark);
        }
        Ok(())
    }

    /// Every source partition of this instance has published its end.
    pub fn all_ended(&self) -> bool {
        self.sources
            .values()
            .all(|s| s.sent.as_ref().is_some_and(|m| m.ended))
    }
}
