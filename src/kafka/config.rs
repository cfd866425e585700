//! The `[kafka]` section: brokers, topics, the consumer group, and librdkafka
//! properties passed through unchanged (TLS, SASL, tuning), with secrets taken
//! from environment variables rather than the configuration file.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::ClientConfig;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// `bootstrap.servers`; `${VAR}` takes it from the environment.
    #[serde(default = "d_bootstrap")]
    pub bootstrap_servers: String,
    #[serde(default = "d_events")]
    pub events_topic: String,
    #[serde(default = "d_alerts")]
    pub alerts_topic: String,
    #[serde(default = "d_dlq")]
    pub dlq_topic: String,
    #[serde(default = "d_group")]
    pub group_id: String,
    /// For `pantau topics create`.
    #[serde(default = "d_partitions")]
    pub partitions: i32,
    #[serde(default = "d_replication")]
    pub replication_factor: i32,
    /// A partition with no message for this long stops holding the watermark back.
    #[serde(with = "humantime_serde", default = "d_idle")]
    pub idle_timeout: Duration,
    /// How often each keyed store writes its state to its changelog topic; the
    /// store's input offsets are committed then (see docs/reliability.md).
    #[serde(with = "humantime_serde", default = "d_state_interval")]
    pub state_interval: Duration,
    /// librdkafka properties for every client; values may hold `${VAR}`.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// Extra properties for the consumer only.
    #[serde(default)]
    pub consumer: BTreeMap<String, String>,
    /// Extra properties for the producers only.
    #[serde(default)]
    pub producer: BTreeMap<String, String>,
}

fn d_bootstrap() -> String {
    "127.0.0.1:9092".into()
}
fn d_events() -> String {
    "pantau.events.v1".into()
}
fn d_alerts() -> String {
    "pantau.alerts.v1".into()
}
fn d_dlq() -> String {
    "pantau.events.dlq.v1".into()
}
fn d_group() -> String {
    "pantau".into()
}
fn d_partitions() -> i32 {
    4
}
fn d_replication() -> i32 {
    1
}
fn d_idle() -> Duration {
    Duration::from_secs(30)
}
fn d_state_interval() -> Duration {
    Duration::from_secs(5)
}

/// The keyed state stores of Kafka mode, each behind its own repartition topic
/// and backed by its own changelog topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Store {
    /// Every valid event, keyed by `office_id`: transactions, receipts,
    /// duration baselines and officer windows all live within one office.
    ByOffice,
    /// `submitted` events naming an agent, keyed by `agent_ref`.
    ByAgent,
}

impl Store {
    pub const ALL: [Store; 2] = [Store::ByOffice, Store::ByAgent];

    pub fn name(self) -> &'static str {
        match self {
            Store::ByOffice => "by-office",
            Store::ByAgent => "by-agent",
        }
    }
}

impl Default for KafkaConfig {
    fn default() -> Self {
        KafkaConfig {
            bootstrap_servers: d_bootstrap(),
            events_topic: d_events(),
            alerts_topic: d_alerts(),
            dlq_topic: d_dlq(),
            group_id: d_group(),
            partitions: d_partitions(),
            replication_factor: d_replication(),
            idle_timeout: d_idle(),
            state_interval: d_state_interval(),
            properties: BTreeMap::new(),
            consumer: BTreeMap::new(),
            producer: BTreeMap::new(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KafkaConfigError {
    #[error("[kafka] {property}: environment variable {var} is not set")]
    MissingEnv { property: String, var: String },
    #[error("[kafka] {property}: unclosed ${{ in {value:?}")]
    Unclosed { property: String, value: String },
}

/// Replaces every `${VAR}` in a property value with the variable's value.
pub fn expand_env(property: &str, value: &str) -> Result<String, KafkaConfigError> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            return Err(KafkaConfigError::Unclosed {
                property: property.to_owned(),
                value: value.to_owned(),
            });
        };
        let var = &after[..end];
        let v = std::env::var(var).map_err(|_| KafkaConfigError::MissingEnv {
            property: property.to_owned(),
            var: var.to_owned(),
        })?;
        out.push_str(&v);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Consumer,
    Producer,
    Admin,
}

impl KafkaConfig {
    /// librdkafka configuration for one client: pantau's settings first, then the
    /// pass-through properties, which win.
    /// The internal topic a store reads, named after the consumer group (as
    /// Kafka Streams names them after the application id), so two pipelines on
    /// one cluster never share one.
    pub fn repartition_topic(&self, store: Store) -> String {
        format!("{}.{}.repartition", self.group_id, store.name())
    }

    /// The compacted topic a store's state is written to, co-partitioned with
    /// its repartition topic.
    pub fn changelog_topic(&self, store: Store) -> String {
        format!("{}.{}.changelog", self.group_id, store.name())
    }

    /// Which store an internal topic feeds, if it is one.
    pub fn store_of(&self, topic: &str) -> Option<Store> {
        Store::ALL
            .into_iter()
            .find(|s| self.repartition_topic(*s) == topic)
    }

    pub fn client_config(&self, role: Role) -> Result<ClientConfig, KafkaConfigError> {
        let mut c = ClientConfig::new();
        c.set(
            "bootstrap.servers",
            expand_env("bootstrap_servers", &self.bootstrap_servers)?,
        );
        c.set("client.id", "pantau");
        match role {
            Role::Consumer => {
                c.set("group.id", &self.group_id);
                // Offsets are committed by pantau once the sinks have acknowledged.
                c.set("enable.auto.commit", "false");
                c.set("enable.auto.offset.store", "false");
                c.set("auto.offset.reset", "earliest");
                c.set("statistics.interval.ms", "5000");
                // A quiet partition answers a fetch after 10 ms, not 500: each
                // of the two hops (events, repartition) adds at most that to
                // an alert's latency. A busy one answers at once either way.
                c.set("fetch.wait.max.ms", "10");
            }
            Role::Producer => {
                c.set("enable.idempotence", "true");
                c.set("acks", "all");
                c.set("linger.ms", "5");
            }
            Role::Admin => {}
        }
        let extra = match role {
            Role::Consumer => Some(&self.consumer),
            Role::Producer => Some(&self.producer),
            Role::Admin => None,
        };
        for (k, v) in self.properties.iter().chain(extra.into_iter().flatten()) {
            c.set(k, expand_env(k, v)?);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_expansion_names_the_property() {
        // SAFETY: tests in this module do not read this variable concurrently.
        unsafe { std::env::set_var("PANTAU_TEST_SECRET", "s3cret") };
        assert_eq!(
            expand_env("sasl.password", "x-${PANTAU_TEST_SECRET}-y").unwrap(),
            "x-s3cret-y"
        );
        let e = expand_env("sasl.password", "${PANTAU_NOT_SET_ANYWHERE}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "[kafka] sasl.password: environment variable PANTAU_NOT_SET_ANYWHERE is not set"
        );
        assert!(expand_env("p", "${open").is_err());
    }
}
