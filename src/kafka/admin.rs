//! Topic management (`pantau topics create`) and the development broker
//! (`pantau dev broker`): librdkafka's in-process mock cluster on loopback.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::KafkaError;
use rdkafka::types::RDKafkaErrorCode;

use super::config::{KafkaConfig, KafkaConfigError, Role};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Config(#[from] KafkaConfigError),
    #[error("kafka admin: {0}")]
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

/// Creates the events, alerts and dead-letter topics with the configured
/// partitions and replication; topics that exist already are left alone.
pub fn create_topics(cfg: &KafkaConfig) -> Result<Vec<(String, TopicOutcome)>, AdminError> {
    let admin: AdminClient<DefaultClientContext> = cfg.client_config(Role::Admin)?.create()?;
    let names = [&cfg.events_topic, &cfg.alerts_topic, &cfg.dlq_topic];
    let topics: Vec<NewTopic<'_>> = names
        .iter()
        .map(|name| {
            NewTopic::new(
                name,
                cfg.partitions,
                TopicReplication::Fixed(cfg.replication_factor),
            )
        })
        .collect();
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
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
