//! The consumer side: a consumer-group member whose context tracks rebalances
//! (so the pipeline can drop what it polled from revoked partitions) and turns
//! librdkafka statistics into the consumer-lag metric.

use std::sync::{Arc, Mutex};

use rdkafka::consumer::{BaseConsumer, ConsumerContext, Rebalance};
use rdkafka::statistics::Statistics;
use rdkafka::{ClientContext, TopicPartitionList};

use crate::metrics::Metrics;

#[derive(Debug, Default)]
pub struct RebalanceLog {
    /// An assignment arrived, possibly empty: this member has joined its group.
    pub joined: bool,
    pub assigned: Vec<i32>,
    pub revoked: Vec<i32>,
}

pub struct PantauConsumerContext {
    pub metrics: Arc<Metrics>,
    pub rebalances: Mutex<RebalanceLog>,
}

fn partitions(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
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
    // Offsets of processed messages are committed at the end of every batch,
    // before the next poll, and rebalances are served only inside poll: when a
    // revocation arrives, everything processed is already committed. What was
    // polled from a revoked partition but not processed is dropped by the
    // pipeline and redelivered to the new owner.
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance
            && let Ok(mut log) = self.rebalances.lock()
        {
            log.revoked.extend(partitions(tpl));
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
