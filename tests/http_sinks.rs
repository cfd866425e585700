//! The Alertmanager and webhook sinks against local HTTP servers that fail on
//! purpose: retries, signatures, the dead-letter file, and a run that finishes
//! however dead the endpoint is. (The real Alertmanager is in monitoring.rs.)

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use hmac::{Hmac, Mac};
use sha2::Sha256;

struct Request {
    path: String,
    headers: BTreeMap<String, String>,
    body: Vec<u8>,
}

/// Reads one request from a connection; None when it breaks off.
fn read_request(stream: &std::net::TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    let path = first
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request {
        path,
        headers,
        body,
    })
}

fn answer(stream: &std::net::TcpStream, status: &str) {
    let _ = (&*stream).write_all(
        format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").as_bytes(),
    );
}

type Log = Arc<Mutex<Vec<Request>>>;

/// Listens on a free local port and hands each connection to `handle`, with
/// the log of requests.
fn serve<F>(handle: F) -> (u16, Log)
where
    F: Fn(std::net::TcpStream, Log) + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen: Log = Arc::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            handle(stream, log.clone());
        }
    });
    (port, seen)
}

/// An HTTP server answering 503 to its first `fail_first` requests, then 200.
fn fake_server(fail_first: usize) -> (u16, Log) {
    serve(move |stream, log| {
        let Some(request) = read_request(&stream) else {
            return;
        };
        let n = {
            let mut log = log.lock().expect("log");
            log.push(request);
            log.len()
        };
        let status = if n <= fail_first {
            "503 Service Unavailable"
        } else {
            "200 OK"
        };
        answer(&stream, status);
    })
}

/// An HTTP server that reads each request but answers nothing (200) until
/// `gate` is opened: a stalled endpoint.
fn gated_server(gate: Arc<AtomicBool>) -> (u16, Log) {
    serve(move |stream, log| {
        let gate = gate.clone();
        std::thread::spawn(move || {
            let Some(request) = read_request(&stream) else {
                return;
            };
            while !gate.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
            log.lock().expect("log").push(request);
            answer(&stream, "200 OK");
        });
    })
}

/// replay.toml with the given alert sinks (a file sink is always included).
fn config_with_sinks(dir: &Path, sinks: &str) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("pipelines/replay.toml")).expect("replay");
    let head = text.split("[sinks]").next().expect("sinks section");
    let reference = repo().join("pipelines/reference");
    let out = format!(
        "{}[sinks]\nalerts = [{{ kind = \"file\", path = \"{}\" }}, {sinks}]\n",
        head.replace("reference/", &format!("{}/", reference.display())),
        dir.join("alerts.ndjson").display()
    );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, out).expect("config");
    path
}

fn workload(dir: &Path) -> PathBuf {
    simulate_days(11, 300, 21, dir);
    dir.join("events.ndjson")
}

fn run_with(config: &Path, input: &Path, env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = pantau();
    cmd.args(["run", "--quiet", "--config"])
        .arg(config)
        .arg("--input")
        .arg(input)
        .arg("--rejected")
        .arg(config.with_file_name("rejected.ndjson"));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run")
}

fn alert_ids(path: &Path) -> BTreeSet<String> {
    read_lines(path)
        .iter()
        .map(|a| a["alert_id"].as_str().expect("alert_id").to_owned())
        .collect()
}

#[test]
fn a_dead_alertmanager_sends_every_alert_to_the_dead_letter_file_and_the_run_ends() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = workload(dir.path());
    let dlq = dir.path().join("am-dead.ndjson");
    let config = config_with_sinks(
        dir.path(),
        &format!(
            r#"{{ kind = "alertmanager", url = "http://127.0.0.1:{}", dead_letter = "{}", delivery = {{ max_attempts = 3, initial_backoff = "10ms", max_backoff = "40ms", timeout = "2s", probe_interval = "1h" }} }}"#,
            free_port(),
            dlq.display()
        ),
    );
    let out = run_with(&config, &input, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let alerts = alert_ids(&dir.path().join("alerts.ndjson"));
    assert!(alerts.len() > 10, "the workload raises alerts");
    let dead = read_lines(&dlq);
    let dead_ids: BTreeSet<String> = dead
        .iter()
        .map(|d| d["alert"]["alert_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(dead.len(), alerts.len(), "each alert dead-lettered once");
    assert_eq!(dead_ids, alerts);
    // The first batch used the whole retry budget; the rest met the open circuit.
    assert_eq!(dead[0]["attempts"], 3);
    assert!(dead[0]["error"].as_str().is_some_and(|e| !e.is_empty()));
    assert_eq!(dead[0]["sink"], "alertmanager");
    assert!(
        dead.last().expect("last")["error"]
            .as_str()
            .is_some_and(|e| e.contains("circuit open"))
    );
}

#[test]
fn a_flaky_alertmanager_gets_every_alert_in_batches_after_retries() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = workload(dir.path());
    let (port, seen) = fake_server(2);
    let dlq = dir.path().join("am.ndjson");
    let config = config_with_sinks(
        dir.path(),
        &format!(
            r#"{{ kind = "alertmanager", url = "http://127.0.0.1:{port}/", batch_size = 16, hold = "2h", dead_letter = "{}", delivery = {{ initial_backoff = "10ms", max_backoff = "50ms" }} }}"#,
            dlq.display()
        ),
    );
    let out = run_with(&config, &input, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = seen.lock().expect("seen");
    assert!(seen.len() > 2);
    let mut posted = BTreeSet::new();
    for r in seen.iter().skip(2) {
        assert_eq!(r.path, "/api/v2/alerts");
        let batch: Vec<serde_json::Value> = serde_json::from_slice(&r.body).expect("json");
        assert!(!batch.is_empty() && batch.len() <= 16);
        for a in batch {
            for l in ["alertname", "typology", "severity", "alert_id"] {
                assert!(a["labels"][l].is_string(), "label {l} in {a}");
            }
            assert_eq!(a["labels"]["alertname"], a["labels"]["typology"]);
            assert!(a["annotations"]["summary_id"].is_string());
            assert!(a["startsAt"].is_string() && a["endsAt"].is_string());
            posted.insert(a["labels"]["alert_id"].as_str().expect("id").to_owned());
        }
    }
    assert_eq!(posted, alert_ids(&dir.path().join("alerts.ndjson")));
    assert!(read_lines(&dlq).is_empty(), "nothing dead-lettered");
}

#[test]
fn webhook_requests_are_signed_and_retried_until_delivered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = workload(dir.path());
    let (port, seen) = fake_server(3);
    let dlq = dir.path().join("webhook.ndjson");
    let config = config_with_sinks(
        dir.path(),
        &format!(
            r#"{{ kind = "webhook", url = "http://127.0.0.1:{port}/hook", secret_env = "TEST_HOOK_SECRET", dead_letter = "{}", delivery = {{ initial_backoff = "10ms", max_backoff = "50ms" }} }}"#,
            dlq.display()
        ),
    );
    let out = run_with(&config, &input, &[("TEST_HOOK_SECRET", "rahasia")]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = seen.lock().expect("seen");
    let mut delivered = BTreeSet::new();
    for (i, r) in seen.iter().enumerate() {
        let t = &r.headers["x-pantau-timestamp"];
        let sig = &r.headers["x-pantau-signature"];
        let mut mac = Hmac::<Sha256>::new_from_slice(b"rahasia").expect("key");
        mac.update(format!("{t}.").as_bytes());
        mac.update(&r.body);
        let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(
            sig, &expected,
            "request {i} is signed over timestamp and body"
        );
        let alert: serde_json::Value = serde_json::from_slice(&r.body).expect("alert json");
        assert_eq!(
            r.headers["x-pantau-alert-id"],
            alert["alert_id"].as_str().expect("id")
        );
        if i >= 3 {
            delivered.insert(alert["alert_id"].as_str().expect("id").to_owned());
        }
    }
    // The first alert was tried four times (three 503s), then all went through.
    assert_eq!(seen[0].body, seen[3].body);
    assert_eq!(delivered, alert_ids(&dir.path().join("alerts.ndjson")));
    assert!(read_lines(&dlq).is_empty());
}

#[test]
fn a_webhook_without_its_secret_is_a_startup_error_naming_the_variable() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("empty.ndjson");
    std::fs::write(&input, "").expect("write");
    let config = config_with_sinks(
        dir.path(),
        r#"{ kind = "webhook", url = "http://127.0.0.1:9/x", secret_env = "PANTAU_TEST_UNSET_SECRET", dead_letter = "dlq.ndjson" }"#,
    );
    let out = run_with(&config, &input, &[]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PANTAU_TEST_UNSET_SECRET"), "{err}");
}

/// Every event the engine has taken in so far, whatever its type and outcome.
fn events_taken(port: u16) -> Option<u64> {
    let body = http_get(port, "/metrics")?;
    Some(
        body.lines()
            .filter(|l| l.starts_with("pantau_events_total{"))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum::<f64>() as u64,
    )
}

#[test]
fn a_stalled_webhook_holds_the_input_back_and_loses_nothing_once_it_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    simulate_days(12, 2000, 30, dir.path());
    let input = dir.path().join("events.ndjson");
    let lines = std::fs::read_to_string(&input)
        .expect("input")
        .lines()
        .count() as u64;
    let gate = Arc::new(AtomicBool::new(false));
    let (port, seen) = gated_server(gate.clone());
    let dlq = dir.path().join("webhook.ndjson");
    let config = config_with_sinks(
        dir.path(),
        &format!(
            r#"{{ kind = "webhook", url = "http://127.0.0.1:{port}/hook", secret_env = "TEST_HOOK_SECRET", dead_letter = "{}", delivery = {{ queue_capacity = 4, timeout = "300s" }} }}"#,
            dlq.display()
        ),
    );
    let metrics_port = free_port();
    let mut text = std::fs::read_to_string(&config).expect("config");
    text.push_str(&format!(
        "\n[metrics]\nlisten = \"127.0.0.1:{metrics_port}\"\n"
    ));
    std::fs::write(&config, text).expect("config");
    let mut child = pantau()
        .args(["run", "--quiet", "--batch-size", "64", "--config"])
        .arg(&config)
        .arg("--input")
        .arg(&input)
        .arg("--rejected")
        .arg(dir.path().join("rejected.ndjson"))
        .env("TEST_HOOK_SECRET", "rahasia")
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    // While the endpoint is stalled, intake must come to rest: the bounded
    // delivery queue, the sink channel and the decode channel fill, and then
    // nothing more is read. Resting means unchanged over a second.
    let started = Instant::now();
    let (mut last, mut still) = (None, 0);
    let rested = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "intake never came to rest; last count {last:?} of {lines}"
        );
        std::thread::sleep(Duration::from_millis(200));
        let now = events_taken(metrics_port);
        if now.is_some_and(|n| n > 0) && now == last {
            still += 1;
            if still == 5 {
                break now.expect("counted");
            }
        } else {
            still = 0;
        }
        last = now;
    };
    assert!(
        rested < lines / 2,
        "{rested} of {lines} events were taken in while no alert could be delivered"
    );
    assert!(seen.lock().expect("seen").is_empty());
    gate.store(true, Ordering::SeqCst);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "the run did not finish once the endpoint answered"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let delivered: BTreeSet<String> = seen
        .lock()
        .expect("seen")
        .iter()
        .map(|r| {
            let a: serde_json::Value = serde_json::from_slice(&r.body).expect("alert json");
            a["alert_id"].as_str().expect("id").to_owned()
        })
        .collect();
    let written = alert_ids(&dir.path().join("alerts.ndjson"));
    assert!(written.len() > 100, "a workload with alerts to deliver");
    assert_eq!(delivered, written);
    assert!(read_lines(&dlq).is_empty());
}
