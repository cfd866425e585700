//! `run` serves /metrics, /healthz and /readyz while it runs.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn accepted(body: &str) -> u64 {
    body.lines()
        .find_map(|l| {
            l.strip_prefix("pantau_events_total{event_type=\"submitted\",outcome=\"accepted\"} ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn metrics_are_served_with_contract_names_during_a_run() {
    let port = free_port();
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(repo().join("pipelines/demo.toml")).expect("config");
    let cfg = dir.path().join("demo.toml");
    let text = base
        .replace(
            "reference/",
            &format!("{}/pipelines/reference/", repo().display()),
        )
        .replace("transactions = 20000", "transactions = 3000")
        .replace("rate = 2000", "rate = 1500")
        .replace("out/demo/", &format!("{}/", dir.path().display()))
        .replace("127.0.0.1:9464", &format!("127.0.0.1:{port}"));
    std::fs::write(&cfg, text).expect("write");
    let mut child = pantau()
        .args(["run", "--quiet", "--config"])
        .arg(&cfg)
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    let mut metrics = None;
    // Until every documented metric has been observed (the first alerts and
    // rejections come within seconds of the simulated stream).
    while started.elapsed() < Duration::from_secs(60) {
        if let Some(body) = http_get(port, "/metrics")
            && accepted(&body) > 0
        {
            let done = unobserved_metrics(&body, false).is_empty();
            metrics = Some(body);
            if done {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let health = http_get(port, "/healthz").unwrap_or_default();
    let ready = http_get(port, "/readyz").unwrap_or_default();
    let status = child.wait().expect("exit");
    assert!(status.success());
    let body = metrics.expect("metrics served during the run");
    let missing = unobserved_metrics(&body, false);
    assert!(
        missing.is_empty(),
        "documented metrics never observed in embedded mode: {missing:?}"
    );
    assert!(
        documented_metrics().len() >= 14,
        "the contract table is read"
    );
    for name in [
        "pantau_events_total",
        "pantau_open_transactions",
        "pantau_watermark_seconds",
        "pantau_event_lag_seconds_bucket",
        "pantau_processing_seconds_count{stage=\"decode\"}",
        "pantau_build_info{version=",
    ] {
        assert!(body.contains(name), "{name} missing from:\n{body}");
    }
    assert!(
        health.starts_with("HTTP/1.0 200") && health.contains("ok"),
        "{health}"
    );
    assert!(ready.starts_with("HTTP/1.0 200"), "{ready}");
    let alerts = read_lines(&dir.path().join("alerts.ndjson"));
    assert!(
        alerts.iter().any(|a| a["typology"] == "large_cash_payment"),
        "custom rules fire in the demo"
    );
}
