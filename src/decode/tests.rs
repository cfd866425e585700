use super::*;

const VALID: &str = include_str!("../../tests/fixtures/contract-valid.ndjson");
const INVALID: &str = include_str!("../../tests/fixtures/contract-invalid.ndjson");
const EXPECTED: &str = include_str!("../../tests/fixtures/contract-invalid.expected");

fn decode(s: &str) -> Result<Event, Rejection> {
    Decoder::default().decode(s.as_bytes())
}

#[test]
fn every_valid_fixture_decodes() {
    for (i, line) in VALID.lines().enumerate() {
        decode(line).unwrap_or_else(|r| panic!("line {}: {r}", i + 1));
    }
}

#[test]
fn every_invalid_fixture_is_rejected_with_its_reason_and_field() {
    let lines: Vec<&str> = INVALID.split('\n').collect();
    for (i, expected) in EXPECTED.lines().enumerate() {
        let mut parts = expected.split_whitespace();
        let reason = parts.next().expect("reason");
        let field = parts.next();
        let r = decode(lines[i]).expect_err(&format!("line {} must be rejected", i + 1));
        assert_eq!(r.reason.as_str(), reason, "line {}: {r}", i + 1);
        assert_eq!(r.field.as_deref(), field, "line {}: {r}", i + 1);
        if let Some(f) = field {
            assert!(
                r.message.contains(&format!("`{f}`")),
                "message names the field: {}",
                r.message
            );
        }
    }
}

#[test]
fn the_spec_example_decodes_to_typed_fields() {
    let e = decode(VALID.lines().nth(1).expect("line 2")).expect("valid");
    assert_eq!(e.event_id, "e-2");
    assert_eq!(e.transaction_id, "T-1");
    assert_eq!(e.occurred_at.to_rfc3339(), "2026-03-02T09:40:00+07:00");
    assert_eq!(
        e.body,
        EventBody::Payment(Payment {
            amount: 150_000,
            method: Method::Cash,
            payee: Payee::Other,
            receipt_no: None
        })
    );
}

#[test]
fn empty_receipt_and_empty_officer_mean_none() {
    let e = decode(VALID.lines().nth(6).expect("line 7")).expect("valid");
    let EventBody::Payment(p) = e.body else {
        panic!("payment")
    };
    assert_eq!(p.receipt_no, None);
    assert_eq!(e.officer_id, None);
}

#[test]
fn cloudevents_envelope_fills_id_and_time() {
    let e = decode(VALID.lines().nth(8).expect("line 9")).expect("valid");
    assert_eq!(e.event_id, "ce-1");
    assert_eq!(e.occurred_at.to_rfc3339(), "2026-03-02T09:15:00+07:00");
    // The event's own id wins over the envelope's.
    let e = decode(VALID.lines().nth(9).expect("line 10")).expect("valid");
    assert_eq!(e.event_id, "e-9");
}

#[test]
fn size_limit_is_checked_before_parsing() {
    let d = Decoder::new(100);
    let long = format!("{{\"x\":\"{}\"}}", "a".repeat(200));
    let r = d.decode(long.as_bytes()).expect_err("too large");
    assert_eq!(r.reason, Reason::TooLarge);
    assert!(r.message.contains("limit is 100 bytes"));
}

#[test]
fn non_utf8_is_its_own_reason() {
    let r = Decoder::default()
        .decode(b"{\"a\":\"\xff\"}")
        .expect_err("not utf-8");
    assert_eq!(r.reason, Reason::InvalidUtf8);
    assert!(r.message.contains("byte offset 6"), "{}", r.message);
}

#[test]
fn event_id_length_is_counted_in_characters() {
    let base = VALID.lines().nth(4).expect("line 5");
    let ok = base.replace("\"e-5\"", &format!("\"{}\"", "é".repeat(128)));
    assert!(decode(&ok).is_ok(), "128 characters (256 bytes) is allowed");
    let too_long = base.replace("\"e-5\"", &format!("\"{}\"", "a".repeat(129)));
    assert_eq!(
        decode(&too_long).expect_err("129").reason,
        Reason::InvalidLength
    );
}

#[test]
fn raw_nik_needs_exactly_sixteen_digits() {
    assert!(is_raw_nik("3273012345678901"));
    assert!(!is_raw_nik("327301234567890"));
    assert!(!is_raw_nik("32730123456789012"));
    assert!(!is_raw_nik("3273o12345678901"));
}

#[test]
fn duplicate_keys_take_the_last_value() {
    let line = VALID.lines().nth(4).expect("line 5").replace(
        "\"schema_version\":\"1\"",
        "\"schema_version\":\"9\",\"schema_version\":\"1\"",
    );
    assert!(decode(&line).is_ok());
}

#[test]
fn raw_nik_is_refused_on_any_event_type() {
    let line = VALID.lines().nth(1).expect("line 2").replace(
        "\"receipt_no\":null",
        "\"receipt_no\":null,\"applicant_ref\":\"3273012345678901\"",
    );
    let r = decode(&line).expect_err("raw NIK on a payment");
    assert_eq!(
        (r.reason, r.field.as_deref()),
        (Reason::RawNik, Some("applicant_ref"))
    );
}
