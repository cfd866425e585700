//! The monitoring files of deploy/ against the real tools and servers: Debian's
//! promtool, amtool and Prometheus (installed by scripts/install-monitoring.sh).

mod common;

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
    http_get(port, &format!("/api/v1/query?query={q}"))
        .as_deref()
        .and_then(body_of)
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

/// A process that is killed (and reaped) when the test ends, however it ends.
fn spawn(cmd: &mut Command, what: &str) -> Killed {
    Killed(
        cmd.stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{what}: {e}")),
    )
}

/// Every PromQL expression of the provisioned dashboards, with the template
/// variables set to "all".
fn dashboard_queries() -> Vec<String> {
    fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Object(m) => {
                if let Some(e) = m.get("expr").and_then(|e| e.as_str()) {
                    out.push(e.replace("$office_id", ".*").replace("$service_code", ".*"));
                }
                m.values().for_each(|x| walk(x, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|x| walk(x, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    for f in ["pipeline-health.json", "integrity-overview.json"] {
        let text = std::fs::read_to_string(repo().join("deploy/grafana/dashboards").join(f))
            .expect("dashboard");
        walk(
            &serde_json::from_str(&text).expect("dashboard JSON"),
            &mut out,
        );
    }
    assert!(out.len() >= 15, "dashboards have their panels");
    out
}

/// The recording rules' names, read from the project's rule file.
fn recording_rules() -> Vec<String> {
    std::fs::read_to_string(repo().join("deploy/prometheus/rules/pantau-recording.yml"))
        .expect("recording rules")
        .lines()
        .filter_map(|l| l.trim().strip_prefix("- record:"))
        .map(|r| r.trim().to_owned())
        .collect()
}

/// The whole monitoring path on real servers: pantau consuming a simulated stream
/// from the development broker, with its Alertmanager and webhook sinks on;
/// Debian's Prometheus (the project's config and rules) and Alertmanager (the
/// project's config), and deploy/webhook/receiver.py verifying signatures.
#[test]
fn prometheus_alertmanager_and_a_verifying_webhook_receiver_see_pantau() {
    install();
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let [metrics_port, prom_port, am_port, hook_port] = [0; 4].map(|_| free_port());

    let mut broker = Command::new(env!("CARGO_BIN_EXE_pantau"))
        .args(["dev", "broker"])
        .env("PANTAU_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("dev broker");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(broker.stdout.take().expect("stdout")),
        &mut line,
    )
    .expect("bootstrap line");
    let _broker = Killed(broker);
    let bootstrap = line
        .trim()
        .strip_prefix("bootstrap.servers=")
        .expect("bootstrap")
        .to_owned();

    // pipelines/compose.toml with loopback addresses and temporary paths.
    let reference = repo().join("pipelines/reference");
    let pipeline = std::fs::read_to_string(repo().join("pipelines/compose.toml"))
        .expect("compose.toml")
        .replace("reference/", &format!("{}/", reference.display()))
        .replace("out/kafka/", &format!("{}/", d.display()))
        .replace(
            "http://alertmanager:9093",
            &format!("http://127.0.0.1:{am_port}"),
        )
        .replace(
            "http://webhook-receiver:8088",
            &format!("http://127.0.0.1:{hook_port}"),
        )
        .replace("0.0.0.0:9464", &format!("127.0.0.1:{metrics_port}"));
    let config = d.join("pipeline.toml");
    std::fs::write(&config, pipeline).expect("pipeline");
    let secret = "e2e-secret";

    let _alertmanager = spawn(
        Command::new("prometheus-alertmanager")
            .arg(format!(
                "--config.file={}",
                repo()
                    .join("deploy/alertmanager/alertmanager.yml")
                    .display()
            ))
            .arg(format!("--storage.path={}", d.join("am").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            .arg("--cluster.listen-address="),
        "alertmanager",
    );
    let received = d.join("received.ndjson");
    let _receiver = spawn(
        Command::new("python3")
            .arg(repo().join("deploy/webhook/receiver.py"))
            .args(["--port", &hook_port.to_string(), "--out"])
            .arg(&received)
            .env("PANTAU_WEBHOOK_SECRET", secret),
        "webhook receiver",
    );
    // The project's Prometheus configuration and rules, with the targets and a
    // fast evaluation substituted.
    let prom_cfg = std::fs::read_to_string(repo().join("deploy/prometheus/prometheus.yml"))
        .expect("prometheus.yml")
        .replace("pantau:9464", &format!("127.0.0.1:{metrics_port}"))
        .replace("alertmanager:9093", &format!("127.0.0.1:{am_port}"))
        .replace("scrape_interval: 15s", "scrape_interval: 1s")
        .replace("evaluation_interval: 15s", "evaluation_interval: 1s")
        .replace("rules/*.yml", &format!("{}/rules/*.yml", d.display()));
    std::fs::create_dir_all(d.join("rules")).expect("rules dir");
    for f in ["pantau-recording.yml", "pantau-alerts.yml"] {
        let rules = std::fs::read_to_string(repo().join("deploy/prometheus/rules").join(f))
            .expect("rules")
            .replace("interval: 1m", "interval: 1s");
        std::fs::write(d.join("rules").join(f), rules).expect("write rules");
    }
    let prom_path = d.join("prometheus.yml");
    std::fs::write(&prom_path, prom_cfg).expect("write");
    let _prometheus = spawn(
        Command::new("prometheus")
            .arg(format!("--config.file={}", prom_path.display()))
            .arg(format!("--storage.tsdb.path={}", d.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prom_port}")),
        "prometheus",
    );
    // The simulator publishes at a steady rate, so rates and lag are live.
    let _simulator = spawn(
        pantau()
            .args([
                "simulate",
                "--seed",
                "5",
                "--transactions",
                "20000",
                "--days",
                "56",
            ])
            .args(["--to-kafka", "--rate", "1500", "--config"])
            .arg(&config)
            .env("PANTAU_KAFKA_BOOTSTRAP", &bootstrap),
        "simulator",
    );
    let pantau_run = spawn(
        pantau()
            .args(["run", "--quiet", "--config"])
            .arg(&config)
            .env("PANTAU_KAFKA_BOOTSTRAP", &bootstrap)
            .env("PANTAU_WEBHOOK_SECRET", secret),
        "pantau run",
    );

    let mut pending: Vec<String> = recording_rules();
    assert!(pending.len() >= 5, "recording rules found");
    pending.extend(dashboard_queries());
    // The metrics behind the dashboards' template variables.
    pending.push("pantau_excess_fee_idr_total".into());
    pending.push("pantau_transactions_completed_total".into());
    let am_alerts = || -> Vec<serde_json::Value> {
        http_get(am_port, "/api/v2/alerts")
            .as_deref()
            .and_then(body_of)
            .and_then(|b| serde_json::from_str::<Vec<serde_json::Value>>(&b).ok())
            .unwrap_or_default()
            .into_iter()
            .filter(|a| a["labels"]["alert_id"].is_string())
            .collect()
    };
    let verified = || {
        std::fs::read_to_string(&received)
            .map(|t| t.lines().count())
            .unwrap_or(0)
    };
    let until = Instant::now() + Duration::from_secs(120);
    let mut up = false;
    while Instant::now() < until
        && (!up || !pending.is_empty() || am_alerts().len() < 20 || verified() < 20)
    {
        std::thread::sleep(Duration::from_millis(500));
        up = query(prom_port, "up{job=\"pantau\"} == 1").len() == 1;
        pending.retain(|q| query(prom_port, q).is_empty());
    }
    assert!(up, "Prometheus scraped pantau (up == 1)");
    assert!(pending.is_empty(), "queries without data: {pending:#?}");

    // Alertmanager holds pantau's alerts with the labels routing relies on.
    let held = am_alerts();
    assert!(
        held.len() >= 20,
        "Alertmanager holds alerts: {}",
        held.len()
    );
    for a in &held {
        let l = &a["labels"];
        for k in ["alertname", "typology", "severity", "alert_id", "office_id"] {
            assert!(l[k].is_string(), "label {k} on {a}");
        }
        assert_eq!(l["alertname"], l["typology"]);
        assert!(a["annotations"]["summary_id"].is_string());
        assert!(a["annotations"]["summary_en"].is_string());
        assert!(a["annotations"]["observed"].is_string());
        let receivers: Vec<&str> = a["receivers"]
            .as_array()
            .map(|r| r.iter().filter_map(|x| x["name"].as_str()).collect())
            .unwrap_or_default();
        let expected = match l["severity"].as_str() {
            Some("critical" | "high") => "inspectorate",
            _ => "inspectorate-digest",
        };
        assert_eq!(receivers, [expected], "routing of {l}");
    }

    // The receiver verified and kept at least 20 signed alerts; a tampered copy of
    // one of them, or the same one re-signed under another time, is refused.
    let stored: Vec<serde_json::Value> = std::fs::read_to_string(&received)
        .expect("received")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON"))
        .collect();
    assert!(stored.len() >= 20, "verified deliveries: {}", stored.len());
    let first = &stored[0];
    let body = first["body"].as_str().expect("body");
    let alert: serde_json::Value = serde_json::from_str(body).expect("alert JSON");
    assert!(alert["alert_id"].is_string() && alert["summary_id"].is_string());
    let t = first["timestamp"].as_str().expect("timestamp");
    let sig = first["signature"].as_str().expect("signature");
    let post = |t: &str, body: &str| {
        http(
            hook_port,
            "POST",
            "/alerts",
            &[
                ("Content-Type", "application/json"),
                ("X-Pantau-Timestamp", t),
                ("X-Pantau-Signature", sig),
            ],
            body.as_bytes(),
        )
        .and_then(|r| r.lines().next().map(str::to_owned))
        .unwrap_or_default()
    };
    let tampered = body.replacen("\"severity\":\"", "\"severity\":\"x", 1);
    assert_ne!(tampered, body);
    assert!(post(t, &tampered).contains(" 401"), "tampered body refused");
    let later = (t.parse::<i64>().expect("unix seconds") + 60).to_string();
    assert!(
        post(&later, body).contains(" 401"),
        "re-timestamped copy refused"
    );
    assert!(
        post(t, body).contains(" 200"),
        "the genuine request is accepted"
    );
    drop(pantau_run);
}
