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
