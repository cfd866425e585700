//! `pantau dev broker`: librdkafka's mock cluster (real Kafka wire protocol, in
//! process, in memory) so the Kafka path can be tried with no Kafka installed.
//! For development and tests only.

use std::net::SocketAddr;

use rdkafka::mocking::MockCluster;

use super::config::{KafkaConfig, Store};

#[derive(Debug, thiserror::Error)]
pub enum DevBrokerError {
    #[error("starting the mock cluster: {0}")]
    Kafka(#[from] rdkafka::error::KafkaError),
    #[error("bootstrap port {port}: {source}")]
    Port { port: u16, source: std::io::Error },
    #[error("runtime: {0}")]
    Runtime(std::io::Error),
}

/// The mock cluster's only broker.
const BROKER: i32 = 1;

/// Forwards connections on `listen` to the broker: only the bootstrap
/// connection uses it, the broker then advertises its own address.
async fn forward(listener: tokio::net::TcpListener, broker: SocketAddr) {
    loop {
        let Ok((mut inbound, _)) = listener.accept().await else {
            continue;
        };
        tokio::spawn(async move {
            if let Ok(mut outbound) = tokio::net::TcpStream::connect(broker).await {
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        });
    }
}

/// Runs until interrupted; prints `bootstrap.servers=...` on stdout first. The
/// mock cluster has no admin API (`pantau topics create` needs a real broker),
/// so the events, alerts and dead-letter topics of `topics`, and the internal
/// topics of its group and of `groups`, are created here. The mock keeps at
/// most 5 MiB or 100 000 messages per partition and drops older ones: enough
/// for demos and tests, not for replaying large files.
pub fn serve(
    port: Option<u16>,
    topics: &KafkaConfig,
    groups: &[String],
) -> Result<(), DevBrokerError> {
    let cluster = MockCluster::new(1)?;
    for t in [
        &topics.events_topic,
        &topics.alerts_topic,
        &topics.dlq_topic,
    ] {
        cluster.create_topic(t, topics.partitions, 1)?;
    }
    let mut groups: Vec<&str> = groups.iter().map(String::as_str).collect();
    groups.push(&topics.group_id);
    for group in groups {
        let group = KafkaConfig {
            group_id: group.to_owned(),
            ..topics.clone()
        };
        for store in Store::ALL {
            cluster.create_topic(&group.repartition_topic(store), topics.partitions, 1)?;
            cluster.create_topic(&group.changelog_topic(store), topics.partitions, 1)?;
        }
    }
    let bootstrap = cluster.bootstrap_servers();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(DevBrokerError::Runtime)?;
    let advertised = match port {
        Some(port) => {
            let broker: SocketAddr = bootstrap
                .split(',')
                .next()
                .and_then(|b| b.parse().ok())
                .ok_or_else(|| DevBrokerError::Port {
                    port,
                    source: std::io::Error::other(format!("unexpected bootstrap {bootstrap}")),
                })?;
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind(("127.0.0.1", port)))
                .map_err(|source| DevBrokerError::Port { port, source })?;
            runtime.spawn(forward(listener, broker));
            format!("127.0.0.1:{port}")
        }
        None => bootstrap.clone(),
    };
    eprintln!(
        "DEVELOPMENT BROKER (librdkafka mock cluster: in memory, not for production); \
         topics {}, {} and {} with {} partitions (others are created on first use). \
         Ctrl-C stops it; SIGUSR1 takes the broker down, SIGUSR2 brings it back.",
        topics.events_topic, topics.alerts_topic, topics.dlq_topic, topics.partitions
    );
    println!("bootstrap.servers={advertised}");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    runtime.block_on(async {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut down), Ok(mut up)) = (
            signal(SignalKind::user_defined1()),
            signal(SignalKind::user_defined2()),
        ) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        // An outage on demand, for trying (and testing) what clients do when
        // their broker goes away and comes back.
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = down.recv() => match cluster.broker_down(BROKER) {
                    Ok(()) => eprintln!("dev broker: broker {BROKER} is DOWN"),
                    Err(e) => eprintln!("dev broker: cannot take the broker down: {e}"),
                },
                _ = up.recv() => match cluster.broker_up(BROKER) {
                    Ok(()) => eprintln!("dev broker: broker {BROKER} is UP"),
                    Err(e) => eprintln!("dev broker: cannot bring the broker up: {e}"),
                },
            }
        }
    });
    drop(cluster);
    Ok(())
}
