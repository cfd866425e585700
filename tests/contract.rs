//! The published contract (docs/schema/event-v1.json) and the validator agree, and
//! `pantau validate` reports line-numbered errors for integrators.

mod common;

use common::*;

fn schema() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo().join("docs/schema/event-v1.json")).expect("schema");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("schema is JSON");
    jsonschema::validator_for(&schema).expect("schema compiles")
}

#[test]
fn schema_accepts_every_valid_fixture() {
    let v = schema();
    let text = std::fs::read_to_string(repo().join("tests/fixtures/contract-valid.ndjson"))
        .expect("fixture");
    for (i, line) in text.lines().enumerate() {
        let doc: serde_json::Value = serde_json::from_str(line).expect("JSON");
        let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "line {}: {errors:?}", i + 1);
    }
}

#[test]
fn schema_rejects_every_invalid_fixture_it_can_express() {
    let v = schema();
    let text = std::fs::read_to_string(repo().join("tests/fixtures/contract-invalid.ndjson"))
        .expect("fixture");
    for (i, line) in text.split('\n').enumerate() {
        // Unparseable lines never reach a schema validator.
        let Ok(doc) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        assert!(
            !v.is_valid(&doc),
            "line {} should fail the schema: {line}",
            i + 1
        );
    }
}

#[test]
fn schema_accepts_every_simulated_valid_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    simulate(3, 300, dir.path());
    let v = schema();
    let invalid: Vec<u64> = read_lines(&dir.path().join("invalid-lines.ndjson"))
        .iter()
        .map(|i| i["line"].as_u64().expect("line"))
        .collect();
    let text = std::fs::read_to_string(dir.path().join("events.ndjson")).expect("events");
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let valid = serde_json::from_str::<serde_json::Value>(line).is_ok_and(|d| v.is_valid(&d));
        assert_eq!(valid, !invalid.contains(&n), "line {n}: {line}");
    }
}

#[test]
fn validate_reports_line_numbers_fields_and_a_summary() {
    let out = pantau()
        .args(["validate", "tests/fixtures/contract-invalid.ndjson"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "invalid lines → non-zero exit");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("tests/fixtures/contract-invalid.ndjson:4: `amount` must be an integer (got a string) (wrong_type)"),
        "{text}"
    );
    assert!(
        text.contains("contract-invalid.ndjson:11: `applicant_ref` looks like a raw 16-digit NIK"),
        "{text}"
    );
    assert!(text.contains("23 lines: 0 valid, 23 invalid"), "{text}");
    let ok = run_ok(pantau().args(["validate", "tests/fixtures/contract-valid.ndjson"]));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("10 lines: 10 valid, 0 invalid"));
}
