//! The consumer side: a consumer-group member whose context tracks rebalances
//! (so the pipeline can drop what it polled from revoked partitions and restore
//! state for assigned ones), flushes keyed state before a revocation completes,
//! and turns librdkafka statistics into the consumer-lag metric.

use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, TopicPartitionList};

use crate::metrics::Metrics;

/// A topic and a partition of it.
pub type TopicPartition = (String, i32);

#[derive(Debug, Default)]
pub struct RebalanceLog {
    /// An assignment arrived, possibly empty: this member has joined its group.
    pub joined: bool,
    pub assigned: Vec<TopicPartition>,
    pub revoked: Vec<TopicPartition>,
}

/// Called inside the revocation, before it completes: the pipeline writes the
/// state of the revoked partitions and commits their offsets.
pub type RevokeHook =
    Box<dyn Fn(&BaseConsumer<PantauConsumerContext>, &[TopicPartition]) + Send + Sync>;

pub struct PantauConsumerContext {
    pub metrics: Arc<Metrics>,
    pub rebalances: Mutex<RebalanceLog>,
    pub on_revoke: Option<RevokeHook>,
}

fn partitions(tpl: &TopicPartitionList) -> Vec<TopicPartition> {
    tpl.elements()
        .iter()
        .map(|e| (e.topic().to_owned(), e.partition()))
        .collect()
}

impl ClientContext for PantauConsumerContext {
    fn stats(&self, statistics: Statistics) {
        for (topic, t) in &statistics.topics {
            for (p, part) in &t.partitions {
                // -1 is librdkafka's internal "unassigned" partition; a lag of -1
                // means not known yet.
                if *p >= 0 && part.consumer_lag >= 0 {
                    self.metrics
                        .kafka_consumer_lag
                        .with_label_values(&[topic.as_str(), &p.to_string()])
                        .set(part.consumer_lag);
                }
            }
        }
    }
}

impl ConsumerContext for PantauConsumerContext {
    // Offsets of routed messages are committed at the end of every batch, and
    // rebalances are served only inside poll, so a revoked source partition has
    // nothing in flight. Keyed stores commit with their snapshots; the hook
    // writes one for each revoked store partition before the revocation ends.
    // What was polled from a revoked partition but not processed is dropped by
    // the pipeline and redelivered from the committed offset.
    fn pre_rebalance(&self, consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            let revoked = partitions(tpl);
            if let Some(hook) = &self.on_revoke {
                hook(consumer, &revoked);
            }
            if let Ok(mut log) = self.rebalances.lock() {
                log.revoked.extend(revoked);
            }
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance
            && let Ok(mut log) = self.rebalances.lock()
        {
            log.joined = true;
            log.assigned.extend(partitions(tpl));
        }
    }
}
