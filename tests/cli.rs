//! The smaller commands: rules check, configuration errors, simulate output.

mod common;

use common::*;

#[test]
fn rules_check_compiles_the_demo_rules() {
    let out = run_ok(pantau().args(["rules", "check", "--config", "pipelines/demo.toml"]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("2 custom rule(s) compiled"), "{text}");
    assert!(text.contains("large_cash_payment [high]"), "{text}");
}

#[test]
fn a_bad_rule_is_a_startup_error_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let base = std::fs::read_to_string(repo().join("pipelines/replay.toml")).expect("config");
    let cfg = dir.path().join("bad.toml");
    let text = base.replace(
        "reference/",
        &format!("{}/pipelines/reference/", repo().display()),
    ) + "\n[[rules]]\nid = \"broken\"\nseverity = \"low\"\nwhen = \"amount > nonexistent_column\"\nsummary_id = \"x\"\nsummary_en = \"x\"\n";
    std::fs::write(&cfg, text).expect("write");
    let check = pantau()
        .args(["rules", "check", "--config"])
        .arg(&cfg)
        .output()
        .expect("runs");
    let run = pantau()
        .args(["run", "--config"])
        .arg(&cfg)
        .args(["--input", "tests/fixtures/handcheck.ndjson"])
        .output()
        .expect("runs");
    for out in [check, run] {
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("custom rule `broken`") && err.contains("nonexistent_column"),
            "{err}"
        );
    }
}

#[test]
fn a_bad_reference_entry_names_file_and_entry() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("reference")).expect("dir");
    std::fs::copy(
        repo().join("pipelines/replay.toml"),
        dir.path().join("p.toml"),
    )
    .expect("copy");
    std::fs::copy(
        repo().join("pipelines/reference/services.toml"),
        dir.path().join("reference/services.toml"),
    )
    .expect("copy");
    std::fs::copy(
        repo().join("pipelines/reference/offices.toml"),
        dir.path().join("reference/offices.toml"),
    )
    .expect("copy");
    std::fs::write(
        dir.path().join("reference/holidays-id.csv"),
        "date,kind,name\n2026-13-01,national,X\n",
    )
    .expect("write");
    let out = pantau()
        .args(["rules", "check", "--config"])
        .arg(dir.path().join("p.toml"))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("holidays-id.csv: line 2: date \"2026-13-01\""),
        "{err}"
    );
}

#[test]
fn simulate_writes_events_labels_and_invalid_lines() {
    let dir = tempfile::tempdir().expect("tempdir");
    simulate(9, 200, dir.path());
    for f in [
        "events.ndjson",
        "expected-alerts.ndjson",
        "invalid-lines.ndjson",
    ] {
        assert!(dir.path().join(f).exists(), "{f}");
    }
    let again = tempfile::tempdir().expect("tempdir");
    simulate(9, 200, again.path());
    assert_eq!(
        std::fs::read(dir.path().join("events.ndjson")).expect("a"),
        std::fs::read(again.path().join("events.ndjson")).expect("b"),
        "the same seed gives the same workload"
    );
}
