//! Topic management (`pantau topics create`) and the development broker
//! (`pantau dev broker`): librdkafka's in-process mock cluster on loopback.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::config::{KafkaConfig, KafkaConfigError, Role, Store};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Config(#[from] KafkaConfigError),
    #[error(
        "kafka admin: {0} (is the broker reachable, and does it serve the admin API? `pantau dev broker` does not: it creates its topics itself)"
    )]
    Kafka(#[from] KafkaError),
    #[error("creating topic {topic}: {code}")]
    Topic {
        topic: String,
        code: RDKafkaErrorCode,
    },
}

/// What happened to one topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TopicOutcome {
    Created,
    AlreadyExists,
}

/// The topics a pipeline needs, with their cleanup policy: the events, alerts
/// and dead-letter topics, and the consumer group's internal topics (each
/// store's repartition topic, and its changelog, compacted).
pub fn topic_plan(cfg: &KafkaConfig) -> Vec<(String, &'static str)> {
    let mut plan = vec![
        (cfg.events_topic.clone(), "delete"),
        (cfg.alerts_topic.clone(), "delete"),
        (cfg.dlq_topic.clone(), "delete"),
    ];
    for store in Store::ALL {
        plan.push((cfg.repartition_topic(store), "delete"));
        plan.push((cfg.changelog_topic(store), "compact"));
    }
    plan
}

/// Creates the pipeline's topics with the configured partitions and
/// replication; topics that exist already are left alone.
pub fn create_topics(cfg: &KafkaConfig) -> Result<Vec<(String, TopicOutcome)>, AdminError> {
    let admin: AdminClient<DefaultClientContext> = cfg.client_config(Role::Admin)?.create()?;
    let plan = topic_plan(cfg);
    let topics: Vec<NewTopic<'_>> = plan
        .iter()
        .map(|(name, cleanup)| {
            NewTopic::new(
                name,
                cfg.partitions,
                TopicReplication::Fixed(cfg.replication_factor),
            )
            .set("cleanup.policy", cleanup)
        })
        .collect();
    // A bounded wait: a broker that does not answer admin requests (the
    // development broker has no admin API) is an error, not a hang.
    let opts = AdminOptions::new()
        .operation_timeout(Some(Duration::from_secs(30)))
        .request_timeout(Some(Duration::from_secs(30)));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| KafkaError::AdminOpCreation(e.to_string()))?;
    let results = runtime.block_on(admin.create_topics(&topics, &opts))?;
    results
        .into_iter()
        .map(|r| match r {
            Ok(topic) => Ok((topic, TopicOutcome::Created)),
            Err((topic, RDKafkaErrorCode::TopicAlreadyExists)) => {
                Ok((topic, TopicOutcome::AlreadyExists))
            }
            Err((topic, code)) => Err(AdminError::Topic { topic, code }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_holds_every_topic_with_compacted_changelogs() {
        let cfg = KafkaConfig {
            group_id: "inspektorat".into(),
            ..KafkaConfig::default()
        };
        let plan = topic_plan(&cfg);
        assert_eq!(plan.len(), 7);
        assert!(plan.contains(&("inspektorat.by-office.changelog".into(), "compact")));
        assert!(plan.contains(&("inspektorat.by-agent.repartition".into(), "delete")));
        assert!(plan.contains(&("pantau.events.v1".into(), "delete")));
    }
}
