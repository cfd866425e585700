//! Kafka: the consumer-group source, the alert and dead-letter producers, topic
//! management, and the development broker (librdkafka's mock cluster).

pub mod admin;
pub mod changelog;
pub mod config;
pub mod consumer;
pub mod dev;
pub mod producer;
pub mod publish;

pub use config::{KafkaConfig, KafkaConfigError, Role, Store};
pub use producer::{KafkaProducer, ProduceError};
