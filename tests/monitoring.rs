//! The monitoring files of deploy/ against the real tools and servers: Debian's
//! promtool, amtool and Prometheus (installed by scripts/install-monitoring.sh).

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn install() {
    let status = Command::new("bash")
        .arg(repo().join("scripts/install-monitoring.sh"))
        .status()
        .expect("install script runs");
    assert!(status.success(), "scripts/install-monitoring.sh failed");
}

fn tool_ok(program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(repo().join("deploy"))
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn prometheus_and_alertmanager_configs_pass_their_tools() {
    install();
    tool_ok(
        "promtool",
        &["check", "config", "prometheus/prometheus.yml"],
    );
    tool_ok(
        "promtool",
        &[
            "check",
            "rules",
            "prometheus/rules/pantau-recording.yml",
            "prometheus/rules/pantau-alerts.yml",
        ],
    );
    tool_ok(
        "promtool",
        &["test", "rules", "prometheus/tests/rules_test.yml"],
    );
    tool_ok("amtool", &["check-config", "alertmanager/alertmanager.yml"]);
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// A plain HTTP GET: enough for Prometheus' API without an HTTP client crate.
fn get(port: u16, path_and_query: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    write!(
        s,
        "GET {path_and_query} HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut body = String::new();
    s.read_to_string(&mut body).ok()?;
    body.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())
}

fn query(port: u16, expr: &str) -> Vec<serde_json::Value> {
    let q: String = expr
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    get(port, &format!("/api/v1/query?query={q}"))
        .and_then(|b| serde_json::from_str::<serde_json::Value>(&b).ok())
        .and_then(|v| v["data"]["result"].as_array().cloned())
        .unwrap_or_default()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn prometheus_scrapes_pantau_and_every_recording_rule_has_data() {
    install();
    let dir = tempfile::tempdir().expect("tempdir");
    let metrics_port = free_port();
    let prom_port = free_port();
    // The embedded default, slowed so the run outlives a few scrapes.
    let demo = std::fs::read_to_string(repo().join("pipelines/demo.toml")).expect("demo");
    let config = dir.path().join("demo.toml");
    let reference = repo().join("pipelines/reference");
    let text = demo
        .replace("reference/", &format!("{}/", reference.display()))
        .replace("out/demo/", &format!("{}/", dir.path().display()));
    std::fs::write(&config, text).expect("config");
    let _pantau = Killed(
        pantau()
            .args(["run", "--quiet", "--config"])
            .arg(&config)
            .arg("--metrics-listen")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .stderr(Stdio::null())
            .spawn()
            .expect("pantau"),
    );
    // The project's Prometheus configuration and rules, with the target and a
    // fast evaluation substituted.
    let prom_cfg = std::fs::read_to_string(repo().join("deploy/prometheus/prometheus.yml"))
        .expect("prometheus.yml")
        .replace("pantau:9464", &format!("127.0.0.1:{metrics_port}"))
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
        .replace(
            "rules/*.yml",
            &format!("{}/rules/*.yml", dir.path().display()),
        );
    std::fs::create_dir_all(dir.path().join("rules")).expect("rules dir");
    for f in ["pantau-recording.yml", "pantau-alerts.yml"] {
        let rules = std::fs::read_to_string(repo().join("deploy/prometheus/rules").join(f))
            .expect("rules")
            .replace("interval: 1m", "interval: 1s");
        std::fs::write(dir.path().join("rules").join(f), rules).expect("write rules");
    }
    let prom_path = dir.path().join("prometheus.yml");
    std::fs::write(&prom_path, prom_cfg).expect("write");
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", prom_path.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus"),
    );
    let recording = [
        "pantau:sla_compliance:ratio_1h",
        "pantau:sla_compliance:ratio_all",
        "pantau:events:rate5m",
        "pantau:events_rejected:ratio5m",
        "pantau:alerts:rate1h",
        "pantau:excess_fee_idr:increase1d",
    ];
    let until = Instant::now() + Duration::from_secs(40);
    let mut missing: Vec<&str> = recording.to_vec();
    let mut up = false;
    while Instant::now() < until && (!up || !missing.is_empty()) {
        std::thread::sleep(Duration::from_millis(500));
        up = query(prom_port, "up{job=\"pantau\"} == 1").len() == 1;
        missing.retain(|r| query(prom_port, r).is_empty());
    }
    assert!(up, "Prometheus scraped pantau (up == 1)");
    assert!(
        missing.is_empty(),
        "recording rules without data: {missing:?}"
    );
    // Every contract metric with labels is exposed under its exact name.
    for m in [
        "pantau_events_total",
        "pantau_alerts_total",
        "pantau_office_alerts_total",
        "pantau_transactions_completed_total",
        "pantau_excess_fee_idr_total",
        "pantau_open_transactions",
        "pantau_watermark_seconds",
        "pantau_event_lag_seconds_bucket",
        "pantau_processing_seconds_bucket",
        "pantau_build_info",
    ] {
        assert!(!query(prom_port, m).is_empty(), "{m} scraped");
    }
}
