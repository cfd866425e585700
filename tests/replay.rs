//! The real binary on real inputs: hand-checked fixtures, simulated workloads,
//! determinism across batch sizes and arrival orders.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::*;

#[test]
fn handchecked_fixture_gives_exactly_the_expected_alerts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.json");
    let (alerts, rejected) = replay(
        &repo().join("tests/fixtures/handcheck.ndjson"),
        dir.path(),
        &["--summary-json", summary.to_str().expect("utf-8")],
    );
    let got = read_lines(&alerts);
    let expected = read_lines(&repo().join("tests/fixtures/handcheck.expected.ndjson"));
    assert_eq!(got.len(), expected.len(), "alerts: {got:#?}");
    for (g, e) in got.iter().zip(&expected) {
        for (k, v) in e.as_object().expect("object") {
            assert_eq!(&g[k], v, "field {k} of {g:#}");
        }
        if e.get("related_transaction_id").is_none() {
            assert!(g["related_transaction_id"].is_null());
        }
        assert_eq!(g["pipeline"], "replay");
        assert_eq!(g["scope"], "transaction");
        assert_eq!(g["alert_id"].as_str().expect("id").len(), 32);
        assert!(!g["summary_id"].as_str().expect("text").is_empty());
        assert!(
            !g["evidence_event_ids"]
                .as_array()
                .expect("array")
                .is_empty()
        );
    }
    let rejected = read_lines(&rejected);
    let lines: Vec<u64> = rejected
        .iter()
        .map(|r| r["source"]["line"].as_u64().expect("line"))
        .collect();
    assert_eq!(lines, vec![13, 24]);
    assert_eq!(rejected[0]["reason"], "invalid_json");
    assert_eq!(rejected[1]["reason"], "naive_timestamp");
    assert_eq!(rejected[1]["field"], "occurred_at");
    assert!(
        rejected[1]["original"]
            .as_str()
            .expect("original")
            .contains("BAD-2")
    );
    assert!(
        rejected[1]["source"]["file"]
            .as_str()
            .expect("file")
            .ends_with("handcheck.ndjson")
    );
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(summary).expect("summary")).expect("json");
    assert_eq!(s["records_read"], 27);
    assert_eq!(s["rejected"], 2);
    assert_eq!(s["duplicates"], 1);
    // B1, B2, E1, E2 and E6 arrive more than 10 minutes behind the newest event:
    // late, yet processed, and the alerts above are still exact.
    assert_eq!(s["late"], 5);
    assert_eq!(s["alerts"], 13);
}

fn keys(alerts: &Path) -> (BTreeSet<(String, String)>, usize) {
    let lines = read_lines(alerts);
    let ids: BTreeSet<String> = lines
        .iter()
        .map(|a| a["alert_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), lines.len(), "no alert id repeats");
    let keys = lines
        .iter()
        .map(|a| (a["typology"].as_str().expect("t").to_owned(), alert_key(a)))
        .collect();
    (keys, lines.len())
}

#[test]
fn simulate_then_run_recovers_every_injected_alert_and_rejection() {
    // Three weeks of a busy region: enough completions per office, service and
    // week for the officer windows, and a month-long baseline is not needed for
    // every service to be judged.
    recovers_every_label(11, 12_000, 21);
}

#[test]
fn a_workload_generated_block_by_block_is_recovered_exactly() {
    // 60 days are three blocks of the simulator (28 + 28 + 4 days): labels that
    // span a block boundary (baselines, officer weeks, late completions, overdue
    // cases) must come out the same as the engine's alerts.
    recovers_every_label(12, 30_000, 60);
}

fn recovers_every_label(seed: u64, transactions: usize, days: u32) {
    let dir = tempfile::tempdir().expect("tempdir");
    simulate_days(seed, transactions, days, dir.path());
    let (alerts, rejected) = replay(&dir.path().join("events.ndjson"), dir.path(), &[]);
    let (got, _) = keys(&alerts);
    let expected: BTreeSet<(String, String)> =
        read_lines(&dir.path().join("expected-alerts.ndjson"))
            .iter()
            .map(|e| {
                (
                    e["typology"].as_str().expect("t").to_owned(),
                    e["key"].as_str().expect("k").to_owned(),
                )
            })
            .collect();
    let missed: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missed.is_empty() && extra.is_empty(),
        "missed {missed:?}\nfalse positives {extra:?}"
    );
    let typologies: BTreeSet<&str> = expected.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        typologies.len(),
        12,
        "every typology is injected: {typologies:?}"
    );

    let invalid: Vec<(u64, String)> = read_lines(&dir.path().join("invalid-lines.ndjson"))
        .iter()
        .map(|i| {
            (
                i["line"].as_u64().expect("line"),
                i["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    let got: Vec<(u64, String)> = read_lines(&rejected)
        .iter()
        .map(|r| {
            (
                r["source"]["line"].as_u64().expect("line"),
                r["reason"].as_str().expect("reason").to_owned(),
            )
        })
        .collect();
    assert!(!invalid.is_empty());
    assert_eq!(got, invalid);
}

#[test]
fn output_is_byte_identical_across_runs_batch_sizes_and_arrival_orders() {
    let dir = tempfile::tempdir().expect("tempdir");
    simulate(5, 1500, dir.path());
    let events = dir.path().join("events.ndjson");
    let run = |name: &str, input: &Path, extra: &[&str]| {
        let d = dir.path().join(name);
        std::fs::create_dir_all(&d).expect("dir");
        let (alerts, _) = replay(input, &d, extra);
        std::fs::read(alerts).expect("alerts")
    };
    let reference = run("a", &events, &[]);
    assert!(!reference.is_empty());
    assert_eq!(run("b", &events, &[]), reference, "second run");
    assert_eq!(
        run("c", &events, &["--batch-size", "1"]),
        reference,
        "batch size 1"
    );
    assert_eq!(
        run("d", &events, &["--batch-size", "7"]),
        reference,
        "batch size 7"
    );

    // Another arrival order: each event delayed by a different pseudo-random amount
    // below the 10-minute lateness, then re-sorted by arrival.
    let text = std::fs::read_to_string(&events).expect("events");
    let mut lines: Vec<(i64, usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| {
            let t = serde_json::from_str::<serde_json::Value>(l)
                .ok()
                .and_then(|v| v["occurred_at"].as_str().map(str::to_owned))
                .and_then(|s| chrono::DateTime::parse_from_rfc3339(&s).ok())
                .map(|t| t.timestamp())
                .unwrap_or(0);
            let jitter = (i as i64 * 7919 + 13) % 500;
            (
                if t == 0 {
                    i64::MIN + i as i64
                } else {
                    t + jitter
                },
                i,
                l,
            )
        })
        .collect();
    lines.sort();
    let shuffled = dir.path().join("shuffled.ndjson");
    let body: Vec<&str> = lines.iter().map(|(_, _, l)| *l).collect();
    std::fs::write(&shuffled, body.join("\n") + "\n").expect("write");
    assert_eq!(
        run("e", &shuffled, &[]),
        reference,
        "another arrival order within the lateness"
    );
}

#[test]
fn stdin_input_works_like_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let input =
        std::fs::File::open(repo().join("tests/fixtures/handcheck.ndjson")).expect("fixture");
    run_ok(replay_command(Path::new("-"), dir.path()).stdin(input));
    assert_eq!(read_lines(&dir.path().join("alerts.ndjson")).len(), 13);
}

#[test]
fn a_missing_input_is_a_clear_error() {
    let out = pantau()
        .args([
            "run",
            "--config",
            "pipelines/replay.toml",
            "--input",
            "/nonexistent/events.ndjson",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open input /nonexistent/events.ndjson"),
        "{err}"
    );
}
