//! The Kafka path against a real Kafka-protocol broker: librdkafka's mock
//! cluster, started through `pantau dev broker` (real wire protocol, in memory).

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};

/// A consumed record: key, value, headers.
type Record = (Option<Vec<u8>>, Vec<u8>, Vec<(String, String)>);

/// A development broker for one test (it creates the three topics with 4
/// partitions: the mock cluster has no admin API); killed on drop.
struct Broker {
    /// None for an external broker (`PANTAU_TEST_KAFKA_BOOTSTRAP`).
    child: Option<Child>,
    bootstrap: String,
}

impl Broker {
    fn start() -> Broker {
        Broker::start_with(&[])
    }

    /// A broker with extra arguments (more partitions, internal topics).
    fn start_with(args: &[&str]) -> Broker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pantau"))
            .args(["dev", "broker"])
            .args(args)
            .env("PANTAU_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dev broker starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("bootstrap line");
        let bootstrap = line
            .trim()
            .strip_prefix("bootstrap.servers=")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Broker {
            child: Some(child),
            bootstrap,
        }
    }

    /// A pipeline configuration on this broker: replay.toml's settings, the Kafka
    /// source, alerts to the topic and to a file, dead letters to the topic.
    fn config(&self, dir: &Path, group: &str, idle_timeout: &str) -> PathBuf {
        let reference = repo().join("pipelines/reference");
        let text = format!(
            r#"
[pipeline]
name = "kafka-test"
allowed_lateness = "10m"
batch_size = 1000

[source]
kind = "kafka"

[kafka]
bootstrap_servers = "{bootstrap}"
group_id = "{group}"
partitions = 4
idle_timeout = "{idle_timeout}"

[kafka.consumer]
# Short group timeouts: the mock cluster completes a rebalance only once the
# old members rejoin or time out.
"session.timeout.ms" = "6000"
"heartbeat.interval.ms" = "500"
"max.poll.interval.ms" = "10000"

[reference]
services = "{r}/services.toml"
holidays = "{r}/holidays-id.csv"
offices = "{r}/offices.toml"

[sinks]
alerts = [{{ kind = "kafka" }}, {{ kind = "file", path = "{alerts}" }}]
rejected = {{ kind = "kafka" }}
"#,
            bootstrap = self.bootstrap,
            r = reference.display(),
            alerts = dir.join(format!("alerts-{group}.ndjson")).display(),
        );
        let path = dir.join(format!("{group}.toml"));
        std::fs::write(&path, text).expect("config");
        path
    }

    fn consume_all(&self, topic: &str, expect: usize) -> Vec<Record> {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &self.bootstrap)
            .set("group.id", format!("reader-{topic}"))
            .set("auto.offset.reset", "earliest")
            .set("enable.auto.commit", "false")
            .create()
            .expect("consumer");
        consumer.subscribe(&[topic]).expect("subscribe");
        let mut out = Vec::new();
        let until = Instant::now() + Duration::from_secs(40);
        while out.len() < expect && Instant::now() < until {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                let headers = m
                    .headers()
                    .map(|h| {
                        h.iter()
                            .map(|x| {
                                (
                                    x.key.to_owned(),
                                    String::from_utf8_lossy(x.value.unwrap_or_default())
                                        .into_owned(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                out.push((
                    m.key().map(<[u8]>::to_vec),
                    m.payload().unwrap_or_default().to_vec(),
                    headers,
                ));
            }
        }
        consumer.unsubscribe();
        out
    }
}

impl Broker {
    /// Takes the broker down (`true`) or brings it back.
    fn set_down(&self, down: bool) {
        let sig = if down { "-USR1" } else { "-USR2" };
        let pid = self.child.as_ref().expect("a development broker").id();
        let ok = Command::new("kill")
            .args([sig, &pid.to_string()])
            .status()
            .expect("kill")
            .success();
        assert!(ok, "signal the dev broker");
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn keys_of(path: &Path) -> BTreeSet<(String, String)> {
    read_lines(path)
        .iter()
        .map(|a| (a["typology"].as_str().expect("t").to_owned(), alert_key(a)))
        .collect()
}

fn summary(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).expect("summary")).expect("json")
}

#[test]
fn consume_alerts_and_dead_letters_match_a_file_replay() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = broker.config(dir.path(), "single", "30s");

    simulate(21, 1500, dir.path());
    let events = dir.path().join("events.ndjson");
    let invalid = read_lines(&dir.path().join("invalid-lines.ndjson"));
    // `publish` produces the valid lines and names every invalid one by line.
    let out = pantau()
        .args(["publish", "--config"])
        .arg(&config)
        .arg(&events)
        .output()
        .expect("publish");
    assert_eq!(
        out.status.code(),
        Some(1),
        "invalid lines make publish fail"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    for i in &invalid {
        let needle = format!("events.ndjson:{}: ", i["line"]);
        assert!(stderr.contains(&needle), "missing {needle} in {stderr}");
    }
    // A poison message among the good ones: straight to the topic, unvalidated.
    let producer: rdkafka::producer::BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .create()
        .expect("producer");
    let payload = b"{\"schema_version\":\"1\",\"event_id\":\"P-1\",\"event_type\":\"paym";
    producer
        .send(
            rdkafka::producer::BaseRecord::to("pantau.events.v1")
                .key("POISON")
                .payload(&payload[..]),
        )
        .expect("send");
    rdkafka::producer::Producer::flush(&producer, Duration::from_secs(10)).expect("flush");

    let summary_path = dir.path().join("summary.json");
    let archive = dir.path().join("archive");
    run_ok(
        pantau()
            .args(["run", "--quiet", "--stop-when-idle", "4s", "--config"])
            .arg(&config)
            .arg("--summary-json")
            .arg(&summary_path)
            .arg("--archive")
            .arg(&archive),
    );
    let s = summary(&summary_path);
    assert_eq!(s["rejected"], 1, "{s}");
    // The archive works from Kafka as from a file: every processed event and alert.
    let counted = run_ok(
        pantau()
            .args(["query", "--format", "csv", "--archive"])
            .arg(&archive)
            .arg("SELECT (SELECT count(*) FROM events) AS e, (SELECT count(*) FROM alerts) AS a"),
    );
    let processed = s["accepted"].as_u64().expect("accepted") + s["late"].as_u64().expect("late");
    assert_eq!(
        String::from_utf8_lossy(&counted.stdout),
        format!("e,a\n{processed},{}\n", s["alerts"])
    );

    let (file_alerts, _) = replay(&events, dir.path(), &[]);
    let expected = keys_of(&file_alerts);
    let got = keys_of(&dir.path().join("alerts-single.ndjson"));
    let missed: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "one instance over 4 partitions = file replay; missed {missed:?}, extra {extra:?}"
    );

    // The alerts topic holds the same alerts, keyed by id, with headers.
    let n = read_lines(&file_alerts).len();
    let on_topic = broker.consume_all("pantau.alerts.v1", n);
    assert_eq!(on_topic.len(), n);
    for (key, value, headers) in &on_topic {
        let a: serde_json::Value = serde_json::from_slice(value).expect("alert json");
        assert_eq!(
            key.as_deref(),
            Some(a["alert_id"].as_str().expect("id").as_bytes())
        );
        assert!(headers.contains(&("typology".into(), a["typology"].as_str().unwrap().into())));
    }
    // The poison message is on the dead-letter topic, bytes and key intact.
    let dlq = broker.consume_all("pantau.events.dlq.v1", 1);
    assert_eq!(dlq.len(), 1);
    let (key, value, headers) = &dlq[0];
    assert_eq!(key.as_deref(), Some(&b"POISON"[..]));
    assert_eq!(value.as_slice(), &payload[..]);
    assert!(
        headers.contains(&("reason".into(), "invalid_json".into())),
        "{headers:?}"
    );
    assert!(headers.iter().any(|(k, _)| k == "source.offset"));
}

#[test]
fn a_restart_resumes_from_the_committed_offsets() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = broker.config(dir.path(), "restart", "30s");
    simulate(22, 400, dir.path());
    let lines: Vec<String> = std::fs::read_to_string(dir.path().join("events.ndjson"))
        .expect("events")
        .lines()
        .map(str::to_owned)
        .collect();
    let half = lines.len() / 2;
    let (first, second) = lines.split_at(half);
    let run_once = |part: &[String], name: &str| -> serde_json::Value {
        let f = dir.path().join(format!("{name}.ndjson"));
        std::fs::write(&f, part.join("\n") + "\n").expect("write");
        pantau()
            .args(["publish", "--config"])
            .arg(&config)
            .arg(&f)
            .output()
            .expect("publish");
        let s = dir.path().join(format!("{name}.summary.json"));
        run_ok(
            pantau()
                .args(["run", "--quiet", "--stop-when-idle", "3s", "--config"])
                .arg(&config)
                .arg("--summary-json")
                .arg(&s),
        );
        summary(&s)
    };
    let valid = |part: &[String]| {
        part.iter()
            .filter(|l| {
                pantau::decode::Decoder::default()
                    .decode(l.as_bytes())
                    .is_ok()
            })
            .count() as u64
    };
    let s1 = run_once(first, "first");
    assert_eq!(s1["records_read"].as_u64(), Some(valid(first)));
    // The second run reads only what was published after the first committed.
    let s2 = run_once(second, "second");
    assert_eq!(s2["records_read"].as_u64(), Some(valid(second)));
}

#[test]
fn an_idle_partition_does_not_hold_back_overdue_open() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = broker.config(dir.path(), "idle", "2s");
    let ev = |id: &str, txn: &str, at: &str, extra: &str| {
        format!(
            r#"{{"schema_version":"1","event_id":"{id}","event_type":"submitted","occurred_at":"{at}","transaction_id":"{txn}","office_id":"DUKCAPIL-3273","service_code":"KTP_EL","officer_id":null,"channel":"counter","applicant_ref":"a-1","agent_ref":null{extra}}}"#
        )
    };
    // T-OPEN (KTP_EL: 1 working day) is submitted on Monday; later submissions of
    // other transactions move event time to Thursday. Transactions hash to
    // different partitions, and after the first event most partitions fall silent.
    let mut lines = vec![ev("e-open", "T-OPEN", "2026-03-02T09:00:00+07:00", "")];
    for k in 0..12 {
        lines.push(ev(
            &format!("e-later-{k}"),
            "T-LATER",
            &format!("2026-03-05T{:02}:00:00+07:00", 8 + k),
            "",
        ));
    }
    let f = dir.path().join("idle.ndjson");
    std::fs::write(&f, lines.join("\n") + "\n").expect("write");
    run_ok(pantau().args(["publish", "--config"]).arg(&config).arg(&f));
    // No --stop-when-idle: the stream never ends, so only the per-partition
    // watermark with idleness can fire the deadline.
    let alerts = dir.path().join("alerts-idle.ndjson");
    let mut child = pantau()
        .args(["run", "--quiet", "--config"])
        .arg(&config)
        .stderr(Stdio::null())
        .spawn()
        .expect("run");
    let until = Instant::now() + Duration::from_secs(60);
    let mut found = false;
    while Instant::now() < until {
        if std::fs::read_to_string(&alerts).is_ok_and(|t| t.contains("overdue_open")) {
            found = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    // SIGTERM: a graceful stop.
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().expect("wait");
    assert!(found, "overdue_open fired while partitions were idle");
    assert!(status.success(), "graceful exit on SIGTERM: {status}");
}

#[test]
fn two_instances_with_a_rebalance_in_the_middle_lose_nothing() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    // Two workloads, the second after every event of the first (long-SLA services
    // complete weeks later), with its own transaction ids.
    let one = dir.path().join("one");
    let two = dir.path().join("two");
    run_ok(
        pantau()
            .args([
                "simulate",
                "--seed",
                "31",
                "--transactions",
                "600",
                "--days",
                "14",
                "--start",
                "2026-02-02",
                "--out",
            ])
            .arg(&one),
    );
    run_ok(
        pantau()
            .args([
                "simulate",
                "--seed",
                "32",
                "--transactions",
                "600",
                "--days",
                "14",
                "--start",
                "2026-06-01",
                "--out",
            ])
            .arg(&two),
    );
    let first = std::fs::read_to_string(one.join("events.ndjson")).expect("one");
    let second = std::fs::read_to_string(two.join("events.ndjson"))
        .expect("two")
        .replace("\"TX", "\"TY");
    let first_path = dir.path().join("first.ndjson");
    let second_path = dir.path().join("second.ndjson");
    let all_path = dir.path().join("all.ndjson");
    std::fs::write(&first_path, &first).expect("write");
    std::fs::write(&second_path, &second).expect("write");
    std::fs::write(&all_path, format!("{first}{second}")).expect("write");

    let config_a = broker.config(dir.path(), "a", "30s");
    let config_b = dir.path().join("b.toml");
    std::fs::write(
        &config_b,
        std::fs::read_to_string(&config_a)
            .expect("config")
            .replace("alerts-a.ndjson", "alerts-b.ndjson"),
    )
    .expect("write");
    let start = |config: &Path| {
        let log = std::fs::File::create(config.with_extension("log")).expect("log");
        pantau()
            .args(["run", "--quiet", "--stop-when-idle", "30s", "--config"])
            .arg(config)
            .env("PANTAU_LOG", "info")
            .stderr(log)
            .spawn()
            .expect("run")
    };
    let log_of =
        |config: &Path| std::fs::read_to_string(config.with_extension("log")).unwrap_or_default();
    let _ = pantau()
        .args(["publish", "--config"])
        .arg(&config_a)
        .arg(&first_path)
        .output();
    let mut a = start(&config_a);
    // Instance A owns every partition and works through the first month.
    std::thread::sleep(Duration::from_secs(6));
    let mut b = start(&config_b);
    // B joins: wait until the group has rebalanced and B owns partitions (and
    // restored their stores from the changelogs), then the second month arrives.
    let until = Instant::now() + Duration::from_secs(60);
    while !log_of(&config_b).contains("partitions assigned") {
        assert!(
            Instant::now() < until,
            "B was never assigned: {}",
            log_of(&config_b)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    let _ = pantau()
        .args(["publish", "--config"])
        .arg(&config_a)
        .arg(&second_path)
        .output();
    assert!(
        a.wait().expect("a").success(),
        "instance a: {}",
        log_of(&config_a)
    );
    assert!(
        b.wait().expect("b").success(),
        "instance b: {}",
        log_of(&config_b)
    );

    let mut union = keys_of(&dir.path().join("alerts-a.ndjson"));
    let b_keys = keys_of(&dir.path().join("alerts-b.ndjson"));
    assert!(
        !b_keys.is_empty(),
        "instance B took over partitions after the rebalance"
    );
    union.extend(b_keys);
    let (file_alerts, _) = replay(&all_path, dir.path(), &[]);
    let expected = keys_of(&file_alerts);
    let missed: Vec<_> = expected.difference(&union).collect();
    let extra: Vec<_> = union.difference(&expected).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "two instances = one; missed {missed:?}, extra {extra:?}"
    );
}

fn status_of(port: u16, path: &str) -> Option<String> {
    http_get(port, path).and_then(|r| r.lines().next().map(str::to_owned))
}

#[test]
fn readyz_waits_until_the_consumer_has_joined_its_group() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let wait_for = |port: u16, path: &str, code: &str, secs: u64| {
        let until = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < until {
            if status_of(port, path).is_some_and(|s| s.contains(code)) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    };
    // No broker answers: alive, never ready.
    let config = broker.config(dir.path(), "unreachable", "2s");
    let text = std::fs::read_to_string(&config)
        .expect("config")
        .replace(&broker.bootstrap, &format!("127.0.0.1:{}", free_port()));
    std::fs::write(&config, text).expect("write");
    let port = free_port();
    let mut child = pantau()
        .args(["run", "--quiet", "--config"])
        .arg(&config)
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{port}"))
        .stderr(Stdio::null())
        .spawn()
        .expect("run");
    assert!(wait_for(port, "/healthz", "200", 20), "alive");
    for _ in 0..10 {
        let s = status_of(port, "/readyz").unwrap_or_default();
        assert!(s.contains("503"), "not ready without a broker: {s}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let _ = child.kill();
    let _ = child.wait();
    // With the broker: ready once the group has assigned partitions.
    let config = broker.config(dir.path(), "ready", "2s");
    let port = free_port();
    let mut child = pantau()
        .args(["run", "--quiet", "--config"])
        .arg(&config)
        .arg("--metrics-listen")
        .arg(format!("127.0.0.1:{port}"))
        .stderr(Stdio::null())
        .spawn()
        .expect("run");
    let ready = wait_for(port, "/readyz", "200", 40);
    let _ = Command::new("kill").arg(child.id().to_string()).status();
    let status = child.wait().expect("wait");
    assert!(ready, "ready after joining the group");
    assert!(status.success(), "graceful exit on SIGTERM: {status}");
}

/// A `pantau run --stop-when-idle` instance in the background, stderr to a log.
fn start_instance(config: &Path, name: &str, idle: &str) -> Child {
    let dir = config.parent().expect("dir");
    let log = std::fs::File::create(dir.join(format!("{name}.log"))).expect("log");
    pantau()
        .args(["run", "--quiet", "--stop-when-idle", idle, "--config"])
        .arg(config)
        .arg("--alerts")
        .arg(dir.join(format!("alerts-{name}.ndjson")))
        .env("PANTAU_LOG", "info")
        .stderr(log)
        .spawn()
        .expect("run")
}

/// Publishes a workload; its invalid lines are refused (a non-zero exit) and
/// every valid one is produced.
fn publish(config: &Path, events: &Path) {
    let out = pantau()
        .args(["publish", "--config"])
        .arg(config)
        .arg(events)
        .output()
        .expect("publish");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("valid and produced"), "publish: {stderr}");
}

fn log_named(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let until = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The labelled workload of the replay test (every typology injected), and the
/// alert keys of a single uninterrupted file replay of it.
fn every_typology_workload(dir: &Path) -> (PathBuf, BTreeSet<(String, String)>) {
    let sim = dir.join("sim");
    simulate_days(11, 12_000, 21, &sim);
    let events = sim.join("events.ndjson");
    let (file_alerts, _) = replay(&events, &sim, &[]);
    let expected = keys_of(&file_alerts);
    let typologies: BTreeSet<&str> = expected.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(typologies.len(), 12, "every typology: {typologies:?}");
    (events, expected)
}

fn union_of(dir: &Path, names: &[&str]) -> BTreeSet<(String, String)> {
    names
        .iter()
        .map(|n| dir.join(format!("alerts-{n}.ndjson")))
        .filter(|p| p.exists())
        .flat_map(|p| keys_of(&p))
        .collect()
}

fn assert_same(
    got: &BTreeSet<(String, String)>,
    expected: &BTreeSet<(String, String)>,
    what: &str,
) {
    let missed: Vec<_> = expected.difference(got).collect();
    let extra: Vec<_> = got.difference(expected).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed {} {:?}, extra {} {:?}; {what}",
        missed.len(),
        &missed[..missed.len().min(5)],
        extra.len(),
        &extra[..extra.len().min(5)]
    );
}

#[test]
fn three_instances_one_killed_midway_equal_one_file_replay_for_every_typology() {
    // Eight partitions: the mock cluster keeps only 5 MiB per partition, and
    // instances that take over must re-read what was not yet committed.
    let broker = Broker::start_with(&["--partitions", "8", "--group", "g3"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let (events, expected) = every_typology_workload(dir.path());
    let text = std::fs::read_to_string(&events).expect("events");
    let lines: Vec<&str> = text.lines().collect();
    let half = dir.path().join("first-half.ndjson");
    let rest = dir.path().join("second-half.ndjson");
    std::fs::write(&half, lines[..lines.len() / 2].join("\n") + "\n").expect("write");
    std::fs::write(&rest, lines[lines.len() / 2..].join("\n") + "\n").expect("write");

    let config = broker.config(dir.path(), "g3", "30s");
    publish(&config, &half);
    let mut a = start_instance(&config, "a", "20s");
    let mut b = start_instance(&config, "b", "20s");
    let mut c = start_instance(&config, "c", "20s");
    for name in ["a", "b", "c"] {
        wait_for(
            &format!("{name} to be assigned"),
            Duration::from_secs(90),
            || log_named(dir.path(), name).contains("partitions assigned"),
        );
    }
    // B has its share and is working on it: kill it without warning.
    wait_for("B to raise alerts", Duration::from_secs(90), || {
        std::fs::metadata(dir.path().join("alerts-b.ndjson")).is_ok_and(|m| m.len() > 0)
    });
    b.kill().expect("kill -9 b");
    b.wait().expect("reap b");
    publish(&config, &rest);
    // ...and start it again while the rest of the stream arrives.
    std::thread::sleep(Duration::from_secs(3));
    let mut b2 = start_instance(&config, "b2", "20s");
    for (name, child) in [("a", &mut a), ("b2", &mut b2), ("c", &mut c)] {
        let status = child.wait().expect("wait");
        assert!(
            status.success(),
            "instance {name}: {}",
            log_named(dir.path(), name)
        );
    }
    let restored = ["a", "b2", "c"].iter().any(|n| {
        log_named(dir.path(), n)
            .lines()
            .any(|l| l.contains("restored in") && !l.contains("(generation 0,"))
    });
    assert!(
        restored,
        "store partitions were restored from their changelogs"
    );
    let got = union_of(dir.path(), &["a", "b", "b2", "c"]);
    assert_same(
        &got,
        &expected,
        "three instances, one killed, vs one file replay",
    );
}

#[test]
fn a_broker_outage_loses_nothing() {
    let broker = Broker::start_with(&["--partitions", "8", "--group", "outage"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let (events, expected) = every_typology_workload(dir.path());
    // Alerts to the topic and to alerts-outage.ndjson (the configuration's sinks).
    let config = broker.config(dir.path(), "outage", "30s");
    publish(&config, &events);
    let log = std::fs::File::create(dir.path().join("outage.log")).expect("log");
    let mut one = pantau()
        .args(["run", "--quiet", "--stop-when-idle", "20s", "--config"])
        .arg(&config)
        .env("PANTAU_LOG", "info")
        .stderr(log)
        .spawn()
        .expect("run");
    let alerts = dir.path().join("alerts-outage.ndjson");
    wait_for("the first alerts", Duration::from_secs(90), || {
        std::fs::metadata(&alerts).is_ok_and(|m| m.len() > 0)
    });
    broker.set_down(true);
    std::thread::sleep(Duration::from_secs(8));
    broker.set_down(false);
    let status = one.wait().expect("wait");
    assert!(
        status.success(),
        "instance: {}",
        log_named(dir.path(), "outage")
    );
    let got = union_of(dir.path(), &["outage"]);
    let log: String = log_named(dir.path(), "outage")
        .lines()
        .filter(|l| l.contains("pantau::"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_same(
        &got,
        &expected,
        &format!("through a broker outage vs one file replay; log:\n{log}"),
    );
    // The alerts topic holds every alert too (at least once: repeats keep their id).
    let ids: BTreeSet<String> = read_lines(&alerts)
        .iter()
        .map(|a| a["alert_id"].as_str().expect("id").to_owned())
        .collect();
    let on_topic: BTreeSet<String> = broker
        .consume_all("pantau.alerts.v1", ids.len())
        .iter()
        .map(|(k, _, _)| String::from_utf8_lossy(k.as_deref().unwrap_or_default()).into_owned())
        .collect();
    let missing = ids.difference(&on_topic).count();
    assert!(
        missing == 0 && on_topic.len() == ids.len(),
        "{missing} of {} alert ids missing from the topic ({} there)",
        ids.len(),
        on_topic.len()
    );
}

/// Against a real Kafka when one is configured, e.g.
/// `PANTAU_TEST_KAFKA_BOOTSTRAP=localhost:9092 cargo test --test kafka external`;
/// skipped otherwise. Topics get a unique prefix and are created with
/// `pantau topics create` (the admin API the development broker lacks).
#[test]
fn an_external_broker_when_configured() {
    let Ok(bootstrap) = std::env::var("PANTAU_TEST_KAFKA_BOOTSTRAP") else {
        eprintln!("skipped: PANTAU_TEST_KAFKA_BOOTSTRAP is not set");
        return;
    };
    let broker = Broker {
        child: None,
        bootstrap,
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let unique = format!(
        "pantau-it-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
    );
    let base = std::fs::read_to_string(broker.config(dir.path(), &unique, "30s")).expect("config");
    let config = dir.path().join("external.toml");
    std::fs::write(
        &config,
        base.replacen(
            "[kafka]\n",
            &format!(
                "[kafka]\nevents_topic = \"{unique}.events\"\nalerts_topic = \"{unique}.alerts\"\ndlq_topic = \"{unique}.dlq\"\n"
            ),
            1,
        ),
    )
    .expect("write");
    run_ok(pantau().args(["topics", "create", "--config"]).arg(&config));
    // Idempotent: a second run finds them all.
    let again = run_ok(pantau().args(["topics", "create", "--config"]).arg(&config));
    assert!(
        !String::from_utf8_lossy(&again.stdout).contains("created"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    simulate(23, 1500, dir.path());
    let events = dir.path().join("events.ndjson");
    publish(&config, &events);
    run_ok(
        pantau()
            .args(["run", "--quiet", "--stop-when-idle", "10s", "--config"])
            .arg(&config)
            .arg("--alerts")
            .arg(dir.path().join("alerts-external.ndjson")),
    );
    let (file_alerts, _) = replay(&events, dir.path(), &[]);
    assert_same(
        &union_of(dir.path(), &["external"]),
        &keys_of(&file_alerts),
        "external broker vs file replay",
    );
}

/// The value of an unlabelled sample in a /metrics body.
fn sample(body: &str, name: &str) -> Option<f64> {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
}

/// A `pantau run` serving metrics on `port`, stopped by SIGTERM when dropped
/// (also when an assertion fails first).
struct Running(Child);

impl Running {
    fn start(config: &Path, port: u16) -> Running {
        Running(
            pantau()
                .args(["run", "--quiet", "--config"])
                .arg(config)
                .arg("--metrics-listen")
                .arg(format!("127.0.0.1:{port}"))
                .env("PANTAU_LOG", "warn")
                .stderr(Stdio::null())
                .spawn()
                .expect("run"),
        )
    }

    /// SIGTERM, and whether the process then exited cleanly.
    fn stop(mut self) -> bool {
        let _ = Command::new("kill").arg(self.0.id().to_string()).status();
        self.0.wait().is_ok_and(|s| s.success())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn metrics_of(port: u16) -> String {
    http_get(port, "/metrics")
        .and_then(|r| body_of(&r))
        .unwrap_or_default()
}

#[test]
fn a_live_stream_gets_its_alerts_before_the_watermark_passes_them() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = broker.config(dir.path(), "live", "30s");
    let text = std::fs::read_to_string(&config).expect("config").replace(
        "batch_size = 1000",
        "batch_size = 1000\nearly_alerts = true",
    );
    std::fs::write(&config, text).expect("write");
    let port = free_port();
    let alerts_file = dir.path().join("alerts-live.ndjson");
    let run = Running::start(&config, port);
    wait_for("the group to assign", Duration::from_secs(60), || {
        status_of(port, "/readyz").is_some_and(|s| s.contains("200"))
    });
    // Event times follow the clock: the watermark stays ten minutes behind
    // the newest event, so only an early verdict can have left already.
    let out = pantau()
        .args([
            "simulate",
            "--to-kafka",
            "--live",
            "--transactions",
            "400",
            "--seed",
            "4",
        ])
        .arg("--config")
        .arg(&config)
        .output()
        .expect("simulate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let on_arrival = [
        "fee_on_free_service",
        "fee_above_tariff",
        "unreceipted_payment",
        "unofficial_channel",
        "off_hours_processing",
    ];
    let early = |alerts: &[serde_json::Value]| {
        alerts
            .iter()
            .filter(|a| on_arrival.contains(&a["typology"].as_str().unwrap_or_default()))
            .count()
    };
    wait_for("early alerts", Duration::from_secs(60), || {
        early(&read_lines(&alerts_file)) >= 20
    });
    let body = metrics_of(port);
    let alerts = read_lines(&alerts_file);
    let watermark = sample(&body, "pantau_watermark_seconds").unwrap_or(0.0);
    for a in alerts
        .iter()
        .filter(|a| on_arrival.contains(&a["typology"].as_str().unwrap_or_default()))
    {
        let at = chrono::DateTime::parse_from_rfc3339(a["event_time"].as_str().expect("time"))
            .expect("rfc 3339")
            .timestamp() as f64;
        assert!(
            at > watermark,
            "{a} left before the watermark ({watermark}) passed it"
        );
    }
    assert!(
        !alerts.iter().any(|a| a["typology"] == "duplicate_receipt"),
        "typologies final only at the watermark wait for it"
    );
    assert!(
        body.contains("pantau_alert_latency_seconds_count{typology=\"unofficial_channel\"}"),
        "the latency of early alerts is observed"
    );
    assert_eq!(
        sample(&body, "pantau_early_order_violations_total"),
        Some(0.0)
    );
    assert_eq!(
        sample(&body, "pantau_early_alert_mismatches_total"),
        Some(0.0)
    );
    assert!(run.stop(), "graceful exit on SIGTERM");
}

#[test]
fn every_documented_metric_is_observed_in_kafka_mode() {
    let broker = Broker::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let config = broker.config(dir.path(), "metrics", "30s");
    let port = free_port();
    let run = Running::start(&config, port);
    wait_for("the group to assign", Duration::from_secs(60), || {
        status_of(port, "/readyz").is_some_and(|s| s.contains("200"))
    });
    let out = pantau()
        .args([
            "simulate",
            "--to-kafka",
            "--transactions",
            "1500",
            "--seed",
            "5",
        ])
        .arg("--config")
        .arg(&config)
        .output()
        .expect("simulate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        let missing = unobserved_metrics(&metrics_of(port), true);
        if missing.is_empty() {
            break;
        }
        assert!(
            Instant::now() < until,
            "documented metrics never observed in Kafka mode: {missing:?}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(run.stop(), "graceful exit on SIGTERM");
}
