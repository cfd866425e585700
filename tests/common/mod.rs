//! Helpers shared by the integration tests: they drive the real binary.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn pantau() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_pantau"));
    c.current_dir(repo()).env("PANTAU_LOG", "warn");
    c
}

pub fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("pantau starts");
    assert!(
        out.status.success(),
        "pantau failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

pub fn read_lines(p: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("reading {}: {e}", p.display()))
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

/// `pantau run` with pipelines/replay.toml on `input` (`-` = stdin), writing
/// alerts.ndjson and rejected.ndjson into `dir`.
pub fn replay_command(input: &Path, dir: &Path) -> Command {
    let mut cmd = pantau();
    cmd.args([
        "run",
        "--config",
        "pipelines/replay.toml",
        "--quiet",
        "--input",
    ])
    .arg(input)
    .arg("--alerts")
    .arg(dir.join("alerts.ndjson"))
    .arg("--rejected")
    .arg(dir.join("rejected.ndjson"));
    cmd
}

/// Replays `input`; returns (alerts path, rejected path).
pub fn replay(input: &Path, dir: &Path, extra: &[&str]) -> (PathBuf, PathBuf) {
    run_ok(replay_command(input, dir).args(extra));
    (dir.join("alerts.ndjson"), dir.join("rejected.ndjson"))
}

pub fn simulate(seed: u64, transactions: usize, dir: &Path) {
    simulate_days(seed, transactions, 56, dir);
}

pub fn simulate_days(seed: u64, transactions: usize, days: u32, dir: &Path) {
    run_ok(
        pantau()
            .args([
                "simulate",
                "--seed",
                &seed.to_string(),
                "--transactions",
                &transactions.to_string(),
                "--days",
                &days.to_string(),
                "--out",
            ])
            .arg(dir),
    );
}

/// The key an alert is labelled by: the transaction, the agent, or the officer
/// window `officer|office|service|window_start`.
pub fn alert_key(a: &serde_json::Value) -> String {
    let s = |k: &str| a[k].as_str().unwrap_or_default().to_owned();
    match a["scope"].as_str() {
        Some("agent") => s("agent_ref"),
        Some("officer") => format!(
            "{}|{}|{}|{}",
            s("officer_id"),
            s("office_id"),
            s("service_code"),
            s("window_start")
        ),
        _ => s("transaction_id"),
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A plain HTTP/1.0 request on loopback, without an HTTP client crate: the whole
/// response (status line, headers, body), or None if nothing answered.
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Option<String> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .ok()?;
    let mut req = format!(
        "{method} {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    s.write_all(body).ok()?;
    let mut out = String::new();
    s.read_to_string(&mut out).ok()?;
    Some(out)
}

/// GET: the whole response.
pub fn http_get(port: u16, path: &str) -> Option<String> {
    http(port, "GET", path, &[], b"")
}

/// The body of a response.
pub fn body_of(response: &str) -> Option<String> {
    response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

/// The metric names of docs/metrics.md's contract table.
pub fn documented_metrics() -> Vec<String> {
    let doc = std::fs::read_to_string(repo().join("docs/metrics.md")).expect("docs/metrics.md");
    doc.split("## Extensions")
        .next()
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.strip_prefix("| `pantau_"))
        .filter_map(|l| l.split('`').next())
        .map(|n| format!("pantau_{n}"))
        .collect()
}

/// The documented metrics that a /metrics body has no sample of. A histogram
/// counts as observed once it has a `_count`; `pantau_kafka_consumer_lag`
/// belongs to Kafka sources only.
#[allow(dead_code)]
pub fn unobserved_metrics(body: &str, kafka: bool) -> Vec<String> {
    documented_metrics()
        .into_iter()
        .filter(|name| kafka || name != "pantau_kafka_consumer_lag")
        .filter(|name| {
            !body.lines().any(|l| {
                !l.starts_with('#')
                    && [name.clone(), format!("{name}_count")].iter().any(|n| {
                        l.starts_with(&format!("{n} ")) || l.starts_with(&format!("{n}{{"))
                    })
            })
        })
        .collect()
}
