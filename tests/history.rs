//! The archive, `query`, `backtest` and `scorecard` on real runs of the binary.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

fn archived_run(input: &Path, dir: &Path) -> (PathBuf, serde_json::Value) {
    let archive = dir.join("archive");
    let summary = dir.join("summary.json");
    run_ok(
        replay_command(input, dir)
            .arg("--archive")
            .arg(&archive)
            .arg("--summary-json")
            .arg(&summary),
    );
    let s =
        serde_json::from_str(&std::fs::read_to_string(&summary).expect("summary")).expect("json");
    (archive, s)
}

fn query_json(archive: &Path, sql: &str) -> Vec<serde_json::Value> {
    let out = run_ok(
        pantau()
            .args(["query", "--format", "json", "--archive"])
            .arg(archive)
            .arg(sql),
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).expect("JSON rows")
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn archive_round_trip_matches_the_replay_summary() {
    let dir = tempfile::tempdir().expect("tempdir");
    simulate_days(5, 1500, 28, dir.path());
    let (archive, summary) = archived_run(&dir.path().join("events.ndjson"), dir.path());
    let processed =
        summary["accepted"].as_u64().expect("accepted") + summary["late"].as_u64().expect("late");
    let rows = query_json(&archive, "SELECT count(*) AS n FROM events");
    assert_eq!(rows[0]["n"].as_u64(), Some(processed));
    assert_eq!(summary["archive"]["events"].as_u64(), Some(processed));
    let by_typology = query_json(
        &archive,
        "SELECT typology, count(*) AS n FROM alerts GROUP BY typology ORDER BY typology",
    );
    let got: BTreeMap<String, u64> = by_typology
        .iter()
        .map(|r| {
            (
                r["typology"].as_str().expect("t").to_owned(),
                r["n"].as_u64().expect("n"),
            )
        })
        .collect();
    let want: BTreeMap<String, u64> =
        serde_json::from_value(summary["alerts_by_typology"].clone()).expect("map");
    assert_eq!(got, want);
    // Alerts in the archive are the alerts of the run, id for id.
    let ids: std::collections::BTreeSet<String> = read_lines(&dir.path().join("alerts.ndjson"))
        .iter()
        .map(|a| a["alert_id"].as_str().expect("id").to_owned())
        .collect();
    let archived: std::collections::BTreeSet<String> =
        query_json(&archive, "SELECT alert_id FROM alerts")
            .iter()
            .map(|r| r["alert_id"].as_str().expect("id").to_owned())
            .collect();
    assert_eq!(archived, ids);
    // Only complete files, each in a date=YYYY-MM-DD folder.
    let files = files_under(&archive);
    assert!(!files.is_empty());
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).expect("name");
        assert!(
            name.starts_with("part-") && name.ends_with(".parquet"),
            "{}",
            f.display()
        );
        let partition = f
            .parent()
            .and_then(|p| p.file_name())
            .and_then(|n| n.to_str())
            .expect("dir");
        let date = partition.strip_prefix("date=").expect("hive partition");
        chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").expect("a date");
    }
    // Partition pruning: one day's count plus the rest is the whole.
    let day = query_json(
        &archive,
        "SELECT count(*) AS n FROM events WHERE date = '2026-02-10'",
    );
    let rest = query_json(
        &archive,
        "SELECT count(*) AS n FROM events WHERE date <> '2026-02-10'",
    );
    assert!(day[0]["n"].as_u64().expect("n") > 0);
    assert_eq!(
        day[0]["n"].as_u64().expect("n") + rest[0]["n"].as_u64().expect("n"),
        processed
    );
    // Derived facts: every closing completion carries its SLA verdict.
    let c = query_json(
        &archive,
        "SELECT count(*) AS n FROM events WHERE event_type = 'completed' AND within_sla IS NOT NULL AND duration_working_days IS NOT NULL",
    );
    assert!(c[0]["n"].as_u64().expect("n") > 100);
    // The other output formats.
    let csv = run_ok(
        pantau()
            .args(["query", "--format", "csv", "--archive"])
            .arg(&archive)
            .arg("SELECT event_type, count(*) AS n FROM events GROUP BY event_type ORDER BY event_type"),
    );
    let text = String::from_utf8_lossy(&csv.stdout).into_owned();
    assert!(text.starts_with("event_type,n\ncancelled,"), "{text}");
    let table = run_ok(
        pantau()
            .args(["query", "--archive"])
            .arg(&archive)
            .arg("SELECT count(*) AS n FROM alerts WHERE typology = 'no_such'"),
    );
    assert!(String::from_utf8_lossy(&table.stdout).contains("| n |"));
}

#[test]
fn bad_sql_and_missing_archives_are_clear_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("e.ndjson");
    std::fs::write(&events, "").expect("write");
    let (archive, _) = archived_run(&events, dir.path());
    let fail = |args: &[&str], archive: &Path| {
        let out = pantau()
            .args(["query", "--archive"])
            .arg(archive)
            .args(args)
            .output()
            .expect("query");
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let e = fail(&["SELEC * FROM events"], &archive);
    assert!(e.contains("query failed") && e.contains("SELEC"), "{e}");
    let e = fail(&["SELECT no_such_column FROM events"], &archive);
    assert!(e.contains("no_such_column"), "{e}");
    let e = fail(&["SELECT 1"], &dir.path().join("nowhere"));
    assert!(e.contains("not an archive"), "{e}");
}

fn backtest_json(args: &[&str], extra: &[&Path]) -> serde_json::Value {
    let mut cmd = pantau();
    cmd.args(["backtest", "--json"]).args(args);
    for p in extra {
        cmd.arg(p);
    }
    serde_json::from_slice(&run_ok(&mut cmd).stdout).expect("report")
}

fn score_of<'a>(report: &'a serde_json::Value, typology: &str) -> &'a serde_json::Value {
    report["scores"]
        .as_array()
        .expect("scores")
        .iter()
        .find(|s| s["typology"] == typology)
        .unwrap_or_else(|| panic!("{typology} scored"))
}

#[test]
fn backtest_reproduces_known_precision_and_recall() {
    let dir = tempfile::tempdir().expect("tempdir");
    simulate_days(9, 1500, 28, dir.path());
    let events = dir.path().join("events.ndjson");
    let labels = dir.path().join("expected-alerts.ndjson");
    let report = backtest_json(
        &["--config", "pipelines/replay.toml", "--input"],
        &[&events],
    );
    assert!(report.get("scores").is_none());
    let mut cmd_args = vec!["--config", "pipelines/replay.toml"];
    cmd_args.push("--input");
    let exact = {
        let mut cmd = pantau();
        cmd.args(["backtest", "--json"])
            .args(&cmd_args)
            .arg(&events)
            .arg("--labels")
            .arg(&labels);
        serde_json::from_slice::<serde_json::Value>(&run_ok(&mut cmd).stdout).expect("report")
    };
    let scores = exact["scores"].as_array().expect("scores");
    assert!(scores.len() >= 11);
    for s in scores {
        assert_eq!(s["precision"], 1.0, "{s}");
        assert_eq!(s["recall"], 1.0, "{s}");
        assert_eq!(s["f1"], 1.0, "{s}");
    }
    // Confirmed cases that differ from the alerts: two fee_above_tariff labels
    // dropped, one invented. TP = n - 2, FP = 2, FN = 1.
    let all = std::fs::read_to_string(&labels).expect("labels");
    let mut dropped = 0;
    let mut csv = String::from("typology,key\n");
    for line in all.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("label");
        if v["typology"] == "fee_above_tariff" && dropped < 2 {
            dropped += 1;
            continue;
        }
        csv.push_str(&format!(
            "{},{}\n",
            v["typology"].as_str().expect("t"),
            v["key"].as_str().expect("k")
        ));
    }
    csv.push_str("fee_above_tariff,TX-NEVER-SEEN\n");
    let csv_path = dir.path().join("confirmed.csv");
    std::fs::write(&csv_path, csv).expect("write");
    let mut cmd = pantau();
    cmd.args(["backtest", "--json"])
        .args(&cmd_args)
        .arg(&events)
        .arg("--labels")
        .arg(&csv_path);
    let report: serde_json::Value =
        serde_json::from_slice(&run_ok(&mut cmd).stdout).expect("report");
    let fat = score_of(&report, "fee_above_tariff");
    let n = fat["alerts"].as_u64().expect("alerts");
    assert_eq!(fat["true_positives"].as_u64(), Some(n - 2));
    assert_eq!(fat["false_positives"].as_u64(), Some(2));
    assert_eq!(fat["false_negatives"].as_u64(), Some(1));
    let p = fat["precision"].as_f64().expect("p");
    let r = fat["recall"].as_f64().expect("r");
    assert!((p - (n - 2) as f64 / n as f64).abs() < 1e-12);
    assert!((r - (n - 2) as f64 / (n - 1) as f64).abs() < 1e-12);
    assert_eq!(report["confusion"]["none"]["fee_above_tariff"], 2);
    assert_eq!(report["confusion"]["fee_above_tariff"]["none"], 1);
    assert_eq!(score_of(&report, "sla_breach")["precision"], 1.0);
    // The text report says the same.
    let mut cmd = pantau();
    cmd.args(["backtest"])
        .args(&cmd_args)
        .arg(&events)
        .arg("--labels")
        .arg(&csv_path);
    let text = String::from_utf8_lossy(&run_ok(&mut cmd).stdout).into_owned();
    assert!(text.contains("none -> fee_above_tariff: 2"), "{text}");

    // The same history from an archive gives the same alerts.
    let (archive, _) = archived_run(&events, dir.path());
    let mut cmd = pantau();
    cmd.args(["backtest", "--json"])
        .args(&cmd_args)
        .arg(&archive)
        .arg("--labels")
        .arg(&labels);
    let from_archive: serde_json::Value =
        serde_json::from_slice(&run_ok(&mut cmd).stdout).expect("report");
    assert_eq!(
        from_archive["alerts_by_typology"],
        exact["alerts_by_typology"]
    );
    assert_eq!(from_archive["scores"], exact["scores"]);
    // A malformed labels file names its line.
    let bad = dir.path().join("bad.ndjson");
    std::fs::write(
        &bad,
        "{\"typology\":\"a\",\"key\":\"b\"}\n{\"typology\":\"a\"}\n",
    )
    .expect("write");
    let out = pantau()
        .args(["backtest", "--config", "pipelines/replay.toml", "--input"])
        .arg(&events)
        .arg("--labels")
        .arg(&bad)
        .output()
        .expect("backtest");
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("line 2") && e.contains("key"), "{e}");
}

#[test]
fn compare_shows_the_alerts_a_wider_fee_tolerance_loses() {
    let dir = tempfile::tempdir().expect("tempdir");
    simulate_days(13, 1500, 28, dir.path());
    let events = dir.path().join("events.ndjson");
    let reference = repo().join("pipelines/reference");
    let lenient = std::fs::read_to_string(repo().join("pipelines/replay.toml"))
        .expect("replay")
        .replace("fee_tolerance_idr = 5000", "fee_tolerance_idr = 1000000000")
        .replace("reference/", &format!("{}/", reference.display()));
    let other = dir.path().join("lenient.toml");
    std::fs::write(&other, lenient).expect("write");
    let report = backtest_json(
        &["--config", "pipelines/replay.toml", "--input"],
        &[&events, Path::new("--compare"), &other],
    );
    let cmp = &report["comparison"];
    let before = report["alerts_by_typology"]["fee_above_tariff"]
        .as_u64()
        .expect("some");
    assert!(before > 0);
    assert!(
        cmp["other_alerts_by_typology"]
            .get("fee_above_tariff")
            .is_none()
    );
    let lost: Vec<&serde_json::Value> = cmp["lost"]
        .as_array()
        .expect("lost")
        .iter()
        .filter(|c| c["typology"] == "fee_above_tariff")
        .collect();
    assert_eq!(lost.len() as u64, before);
    assert!(
        cmp["gained"]
            .as_array()
            .expect("gained")
            .iter()
            .all(|c| c["typology"] != "fee_above_tariff")
    );
    // Typologies that do not depend on the tolerance are unchanged.
    for t in [
        "fee_on_free_service",
        "unreceipted_payment",
        "unofficial_channel",
        "duplicate_receipt",
        "sla_breach",
        "overdue_open",
        "off_hours_processing",
        "broker_activity",
    ] {
        assert_eq!(
            report["alerts_by_typology"][t], cmp["other_alerts_by_typology"][t],
            "{t} unchanged"
        );
    }
}

/// Five transactions at two offices outside the catalogue, checked by hand.
const FIXTURE: &[&str] = &[
    // KANTOR-A (+07:00), KTP_EL: free, 1 working day.
    r#"{"schema_version":"1","event_id":"a1","event_type":"submitted","occurred_at":"2026-03-02T09:00:00+07:00","transaction_id":"T1","office_id":"KANTOR-A","service_code":"KTP_EL","officer_id":"o1","channel":"counter","applicant_ref":"p1","agent_ref":null}"#,
    r#"{"schema_version":"1","event_id":"a2","event_type":"completed","occurred_at":"2026-03-03T10:00:00+07:00","transaction_id":"T1","office_id":"KANTOR-A","service_code":"KTP_EL","officer_id":"o1","outcome":"issued"}"#,
    r#"{"schema_version":"1","event_id":"b1","event_type":"submitted","occurred_at":"2026-03-02T10:00:00+07:00","transaction_id":"T2","office_id":"KANTOR-A","service_code":"KTP_EL","officer_id":"o1","channel":"counter","applicant_ref":"p2","agent_ref":null}"#,
    r#"{"schema_version":"1","event_id":"b2","event_type":"payment","occurred_at":"2026-03-02T11:00:00+07:00","transaction_id":"T2","office_id":"KANTOR-A","service_code":"KTP_EL","officer_id":"o1","amount":50000,"method":"qris","payee":"official","receipt_no":"R-1"}"#,
    r#"{"schema_version":"1","event_id":"b3","event_type":"completed","occurred_at":"2026-03-05T10:00:00+07:00","transaction_id":"T2","office_id":"KANTOR-A","service_code":"KTP_EL","officer_id":"o1","outcome":"issued"}"#,
    r#"{"schema_version":"1","event_id":"c1","event_type":"submitted","occurred_at":"2026-03-04T09:00:00+07:00","transaction_id":"T3","office_id":"KANTOR-A","service_code":"KTP_EL","officer_id":"o1","channel":"counter","applicant_ref":"p3","agent_ref":null}"#,
    r#"{"schema_version":"1","event_id":"c2","event_type":"completed","occurred_at":"2026-03-04T15:00:00+07:00","transaction_id":"T3","office_id":"KANTOR-A","service_code":"KTP_EL","officer_id":"o1","outcome":"issued"}"#,
    // KANTOR-B (+08:00).
    r#"{"schema_version":"1","event_id":"d1","event_type":"submitted","occurred_at":"2026-03-02T09:00:00+08:00","transaction_id":"T4","office_id":"KANTOR-B","service_code":"KTP_EL","officer_id":"o2","channel":"counter","applicant_ref":"p4","agent_ref":null}"#,
    r#"{"schema_version":"1","event_id":"d2","event_type":"completed","occurred_at":"2026-03-06T09:30:00+08:00","transaction_id":"T4","office_id":"KANTOR-B","service_code":"KTP_EL","officer_id":"o2","outcome":"issued"}"#,
    r#"{"schema_version":"1","event_id":"e1","event_type":"submitted","occurred_at":"2026-03-03T09:00:00+08:00","transaction_id":"T5","office_id":"KANTOR-B","service_code":"KTP_EL","officer_id":"o2","channel":"counter","applicant_ref":"p5","agent_ref":null}"#,
];

fn scorecard_csv(archive: &Path, from: &str, to: &str) -> Vec<BTreeMap<String, String>> {
    let out = run_ok(
        pantau()
            .args([
                "scorecard",
                "--format",
                "csv",
                "--from",
                from,
                "--to",
                to,
                "--archive",
            ])
            .arg(archive),
    );
    let mut r = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = r.headers().expect("header").clone();
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            headers
                .iter()
                .map(str::to_owned)
                .zip(rec.iter().map(str::to_owned))
                .collect()
        })
        .collect()
}

#[test]
fn scorecard_figures_match_a_hand_computed_fixture() {
    let dir = tempfile::tempdir().expect("tempdir");
    let events = dir.path().join("fixture.ndjson");
    std::fs::write(&events, FIXTURE.join("\n") + "\n").expect("write");
    let (archive, _) = archived_run(&events, dir.path());
    let rows = scorecard_csv(&archive, "2026-03-01", "2026-03-31");
    assert_eq!(rows.len(), 2);
    let (a, b) = (&rows[0], &rows[1]);
    // KANTOR-A: T1 in 1 working day, T2 in 3 (late, and Rp 50.000 on a free
    // service), T3 the same day.
    assert_eq!(a["rank"], "1");
    assert_eq!(a["office_id"], "KANTOR-A");
    assert_eq!(a["transactions"], "3");
    assert_eq!(a["completed"], "3");
    assert_eq!(a["within_sla"], "2");
    assert_eq!(a["sla_compliance_pct"], "66.67");
    assert_eq!(a["median_working_days"], "1.00");
    // percentile_cont(0.9) of [0, 1, 3]: 1 + 0.8 × (3 − 1).
    assert_eq!(a["p90_working_days"], "2.60");
    assert_eq!(a["irregular"], "1");
    assert_eq!(a["irregular_share_pct"], "33.33");
    assert_eq!(a["excess_fee_idr"], "50000");
    assert_eq!(a["alerts_fee_on_free_service"], "1");
    assert_eq!(a["alerts_sla_breach"], "1");
    // T2 was still open when its deadline (24:00 on 3 March) passed.
    assert_eq!(a["alerts_overdue_open"], "1");
    assert_eq!(a["alerts_total"], "3");
    assert_eq!(a["score"], "66.67");
    // KANTOR-B: T4 in 4 working days (late); T5 never completed (overdue).
    assert_eq!(b["rank"], "2");
    assert_eq!(b["office_id"], "KANTOR-B");
    assert_eq!(b["transactions"], "2");
    assert_eq!(b["completed"], "1");
    assert_eq!(b["sla_compliance_pct"], "0.00");
    assert_eq!(b["median_working_days"], "4.00");
    assert_eq!(b["irregular_share_pct"], "0.00");
    assert_eq!(b["excess_fee_idr"], "0");
    assert_eq!(b["alerts_sla_breach"], "1");
    assert_eq!(b["alerts_overdue_open"], "2");
    assert_eq!(b["alerts_fee_on_free_service"], "0");
    assert_eq!(b["score"], "50.00");
    // One day: only what happened on 4 March (T3, and the overdue alerts that
    // fired at midnight starting the day).
    let day = scorecard_csv(&archive, "2026-03-04", "2026-03-04");
    assert_eq!(day.len(), 2);
    assert_eq!(day[0]["office_id"], "KANTOR-A");
    assert_eq!(day[0]["transactions"], "1");
    assert_eq!(day[0]["completed"], "1");
    assert_eq!(day[0]["median_working_days"], "0.00");
    assert_eq!(day[0]["alerts_overdue_open"], "1");
    assert_eq!(day[1]["office_id"], "KANTOR-B");
    assert_eq!(day[1]["transactions"], "0");
    assert_eq!(day[1]["sla_compliance_pct"], "");
    assert_eq!(day[1]["alerts_overdue_open"], "1");
    // Markdown has both tables.
    let md = run_ok(
        pantau()
            .args([
                "scorecard",
                "--format",
                "md",
                "--from",
                "2026-03-01",
                "--to",
                "2026-03-31",
                "--archive",
            ])
            .arg(&archive),
    );
    let md = String::from_utf8_lossy(&md.stdout);
    assert!(md.contains("| 1 | KANTOR-A | * | 3 | 66.7 |"), "{md}");
    assert!(md.contains("Rp 50.000"));
    // A reversed period is refused.
    let out = pantau()
        .args([
            "scorecard",
            "--from",
            "2026-03-31",
            "--to",
            "2026-03-01",
            "--archive",
        ])
        .arg(&archive)
        .output()
        .expect("scorecard");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("before"));
}

#[test]
fn html_scorecard_renders_in_headless_chromium() {
    let status = Command::new("bash")
        .arg(repo().join("scripts/install-chromium.sh"))
        .status()
        .expect("install script");
    assert!(status.success(), "scripts/install-chromium.sh failed");
    let dir = tempfile::tempdir().expect("tempdir");
    simulate_days(21, 800, 28, dir.path());
    let (archive, _) = archived_run(&dir.path().join("events.ndjson"), dir.path());
    let html = dir.path().join("scorecard.html");
    run_ok(
        pantau()
            .args([
                "scorecard",
                "--from",
                "2026-02-01",
                "--to",
                "2026-03-31",
                "--out",
            ])
            .arg(&html)
            .arg("--archive")
            .arg(&archive),
    );
    let page = std::fs::read_to_string(&html).expect("html");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "self-contained"
    );
    assert!(page.contains("<svg") && page.contains("Kepatuhan SLA"));
    let shot = repo().join("target/scorecard-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let chromium = |extra: &[&str]| {
        Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--enable-logging=stderr",
                "--v=0",
                "--window-size=1280,1800",
            ])
            .arg(format!(
                "--user-data-dir={}",
                dir.path().join("profile").display()
            ))
            .args(extra)
            .arg(format!("file://{}", html.display()))
            .output()
            .expect("chromium")
    };
    let dom = chromium(&["--dump-dom"]);
    let dom_text = String::from_utf8_lossy(&dom.stdout);
    // The page's script ran to its end.
    assert!(dom_text.contains("data-ready=\"1\""), "script did not run");
    let shot_arg = format!("--screenshot={}", shot.display());
    let out = chromium(&[&shot_arg]);
    for stream in [&dom.stderr, &out.stderr] {
        let log = String::from_utf8_lossy(stream);
        let console: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught"))
            .collect();
        assert!(console.is_empty(), "console messages: {console:?}");
    }
    let png = std::fs::read(&shot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "a real screenshot"
    );
}
