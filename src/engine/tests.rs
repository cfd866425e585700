//! Edge cases of every transaction typology, driven through the engine.

use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::config::{Config, CustomRuleConfig};
use crate::decode::Decoder;
use crate::rules::custom::CustomRules;

fn config() -> Config {
    Config::load(std::path::Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/pipelines/replay.toml"
    )))
    .expect("config")
}

pub(super) fn reference() -> crate::reference::Reference {
    config().load_reference().expect("reference")
}

pub(super) fn engine_with(settings: EngineSettings, custom: Option<CustomRules>) -> Engine {
    Engine::new(
        settings,
        Arc::new(reference()),
        Arc::new(Metrics::new()),
        custom,
    )
}

pub(super) fn engine() -> Engine {
    engine_with(EngineSettings::defaults("test"), None)
}

/// Builds an event line: common fields plus the given extra ones.
pub(super) fn ev(
    id: &str,
    ty: &str,
    at: &str,
    txn: &str,
    office: &str,
    service: &str,
    extra: serde_json::Value,
) -> String {
    let mut v = json!({
        "schema_version": "1", "event_id": id, "event_type": ty, "occurred_at": at,
        "transaction_id": txn, "office_id": office, "service_code": service, "officer_id": "ofc-1",
    });
    for (k, x) in extra.as_object().expect("object") {
        v[k] = x.clone();
    }
    v.to_string()
}

pub(super) fn sub(id: &str, at: &str, txn: &str, office: &str, service: &str) -> String {
    ev(
        id,
        "submitted",
        at,
        txn,
        office,
        service,
        json!({"channel": "counter", "applicant_ref": "a-1"}),
    )
}

// One argument per payment field keeps the test tables readable.
#[allow(clippy::too_many_arguments)]
pub(super) fn pay(
    id: &str,
    at: &str,
    txn: &str,
    office: &str,
    service: &str,
    amount: u64,
    method: &str,
    payee: &str,
    receipt: Option<&str>,
) -> String {
    ev(
        id,
        "payment",
        at,
        txn,
        office,
        service,
        json!({"amount": amount, "method": method, "payee": payee, "receipt_no": receipt}),
    )
}

fn status(id: &str, at: &str, txn: &str, office: &str, service: &str, s: &str) -> String {
    ev(
        id,
        "status_changed",
        at,
        txn,
        office,
        service,
        json!({"status": s}),
    )
}

pub(super) fn done(
    id: &str,
    at: &str,
    txn: &str,
    office: &str,
    service: &str,
    outcome: &str,
) -> String {
    ev(
        id,
        "completed",
        at,
        txn,
        office,
        service,
        json!({"outcome": outcome}),
    )
}

pub(super) fn feed(e: &mut Engine, lines: &[String]) -> Vec<Admission> {
    lines
        .iter()
        .map(|l| {
            e.ingest(
                Decoder::default()
                    .decode(l.as_bytes())
                    .expect("valid event"),
            )
        })
        .collect()
}

pub(super) fn run(lines: &[String]) -> Vec<Alert> {
    let mut e = engine();
    feed(&mut e, lines);
    e.end_of_input();
    e.take_alerts()
}

fn kinds(alerts: &[Alert]) -> Vec<(String, String)> {
    let mut v: Vec<_> = alerts
        .iter()
        .map(|a| {
            (
                a.typology.to_string(),
                a.transaction_id.as_deref().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

pub(super) fn has(alerts: &[Alert], typology: &str, txn: &str) -> bool {
    alerts
        .iter()
        .any(|a| a.typology == typology && a.transaction_id.as_deref() == Some(txn))
}

const D: &str = "DUKCAPIL-3273";

/// An exact, official SKCK payment at one police office with the given receipt.
fn skck_receipt(id: &str, at: &str, txn: &str, receipt: &str) -> String {
    pay(
        id,
        at,
        txn,
        "SATPAS-POLDA-JABAR",
        "SKCK",
        30_000,
        "qris",
        "official",
        Some(receipt),
    )
}

fn spec_example() -> Vec<String> {
    vec![
        sub("e-1", "2026-03-02T09:15:00+07:00", "T-1", D, "KTP_EL"),
        pay(
            "e-2",
            "2026-03-02T09:40:00+07:00",
            "T-1",
            D,
            "KTP_EL",
            150_000,
            "cash",
            "other",
            None,
        ),
        done(
            "e-3",
            "2026-03-02T10:05:00+07:00",
            "T-1",
            D,
            "KTP_EL",
            "issued",
        ),
    ]
}

#[test]
fn spec_example_raises_exactly_its_three_alerts() {
    let alerts = run(&spec_example());
    assert_eq!(
        kinds(&alerts),
        vec![
            ("fee_on_free_service".into(), "T-1".into()),
            ("unofficial_channel".into(), "T-1".into()),
            ("unreceipted_payment".into(), "T-1".into()),
        ]
    );
    let a = alerts
        .iter()
        .find(|a| a.typology == "fee_on_free_service")
        .expect("alert");
    assert_eq!(
        a.alert_id,
        crate::alerts::alert_id("fee_on_free_service", "T-1")
    );
    assert_eq!(a.severity, Severity::Critical);
    assert_eq!(a.observed["total_paid"], json!(150_000));
    assert_eq!(a.expected["expected_fee"], json!(0));
    assert_eq!(a.evidence_event_ids, vec!["e-1", "e-2"]);
    assert_eq!(a.event_time, "2026-03-02T09:40:00+07:00");
    assert!(a.summary_id.contains("Rp 150.000"), "{}", a.summary_id);
    assert!(a.summary_en.contains("Rp 150.000"), "{}", a.summary_en);
    assert_eq!(a.office_id.as_deref(), Some(D));
    assert_eq!(a.officer_id.as_deref(), Some("ofc-1"));
}

#[test]
fn payment_arriving_before_its_submission_is_judged_the_same() {
    let mut lines = spec_example();
    lines.swap(0, 1);
    let reordered = run(&lines);
    assert_eq!(reordered, run(&spec_example()));
}

#[test]
fn fee_above_tariff_threshold_is_exclusive() {
    let s = "SATPAS-POLDA-JABAR";
    let case = |txn: &str, amounts: &[u64]| {
        let mut l = vec![sub(
            &format!("{txn}-s"),
            "2026-03-02T09:00:00+07:00",
            txn,
            s,
            "SIM_A_BARU",
        )];
        for (i, a) in amounts.iter().enumerate() {
            l.push(pay(
                &format!("{txn}-p{i}"),
                "2026-03-02T09:10:00+07:00",
                txn,
                s,
                "SIM_A_BARU",
                *a,
                "billing_code",
                "official",
                Some(&format!("R-{txn}-{i}")),
            ));
        }
        l
    };
    let mut lines = case("at-limit", &[125_000]);
    lines.extend(case("over", &[125_001]));
    lines.extend(case("split", &[120_000, 5_001]));
    let alerts = run(&lines);
    assert!(!has(&alerts, "fee_above_tariff", "at-limit"));
    assert!(has(&alerts, "fee_above_tariff", "over"));
    let split: Vec<_> = alerts
        .iter()
        .filter(|a| a.transaction_id.as_deref() == Some("split"))
        .collect();
    assert_eq!(
        split.len(),
        1,
        "one alert for the transaction, on the payment that crossed the line"
    );
    assert_eq!(split[0].observed["excess_idr"], json!(5_001));
    assert_eq!(
        split[0].evidence_event_ids,
        vec!["split-s", "split-p0", "split-p1"]
    );
}

#[test]
fn per_service_tolerance_overrides_the_pipeline_default() {
    let mut settings = EngineSettings::defaults("test");
    settings.params.services.insert(
        "SIM_A_BARU".into(),
        crate::rules::params::ServiceParameters {
            fee_tolerance_idr: Some(0),
            ..Default::default()
        },
    );
    let mut e = engine_with(settings, None);
    let s = "SATPAS-POLDA-JABAR";
    feed(
        &mut e,
        &[
            sub("s", "2026-03-02T09:00:00+07:00", "T", s, "SIM_A_BARU"),
            pay(
                "p",
                "2026-03-02T09:10:00+07:00",
                "T",
                s,
                "SIM_A_BARU",
                120_001,
                "qris",
                "official",
                Some("R1"),
            ),
        ],
    );
    e.end_of_input();
    assert!(has(&e.take_alerts(), "fee_above_tariff", "T"));
}

#[test]
fn assessed_fee_overrides_the_catalogue_tariff() {
    let k = "KANIM-JAKARTA-SELATAN";
    let with_fee = |id: &str, fee: u64| {
        ev(
            id,
            "submitted",
            "2026-03-02T09:00:00+07:00",
            id,
            k,
            "PASPOR_E10",
            json!({"channel": "counter", "applicant_ref": "a", "assessed_fee": fee}),
        )
    };
    let alerts = run(&[
        with_fee("fast", 1_950_000),
        pay(
            "fast-p",
            "2026-03-02T09:05:00+07:00",
            "fast",
            k,
            "PASPOR_E10",
            1_950_000,
            "billing_code",
            "official",
            Some("R1"),
        ),
        with_fee("fast-over", 1_950_000),
        pay(
            "fast-over-p",
            "2026-03-02T09:05:00+07:00",
            "fast-over",
            k,
            "PASPOR_E10",
            1_955_001,
            "billing_code",
            "official",
            Some("R2"),
        ),
        with_fee("free-pbg", 0),
    ]);
    assert!(
        !has(&alerts, "fee_above_tariff", "fast"),
        "legitimate paid acceleration"
    );
    assert!(has(&alerts, "fee_above_tariff", "fast-over"));
}

#[test]
fn billed_per_case_service_without_assessment_is_not_judged_on_fees() {
    let alerts = run(&[
        sub(
            "s",
            "2026-03-02T09:00:00+07:00",
            "T",
            "BPN-1",
            "TANAH_PENDAFTARAN_PERTAMA",
        ),
        pay(
            "p",
            "2026-03-02T09:10:00+07:00",
            "T",
            "BPN-1",
            "TANAH_PENDAFTARAN_PERTAMA",
            9_000_000,
            "billing_code",
            "official",
            Some("R"),
        ),
    ]);
    assert!(!has(&alerts, "fee_above_tariff", "T") && !has(&alerts, "fee_on_free_service", "T"));
}

#[test]
fn receipts_and_channels() {
    let s = "SATPAS-POLDA-JABAR";
    let alerts = run(&[
        sub("a-s", "2026-03-02T09:00:00+07:00", "A", s, "SIM_C_BARU"),
        pay(
            "a-p",
            "2026-03-02T09:10:00+07:00",
            "A",
            s,
            "SIM_C_BARU",
            100_000,
            "qris",
            "official",
            Some(""),
        ),
        sub("b-s", "2026-03-02T09:00:00+07:00", "B", s, "SIM_C_BARU"),
        pay(
            "b-p",
            "2026-03-02T09:10:00+07:00",
            "B",
            s,
            "SIM_C_BARU",
            100_000,
            "cash",
            "official",
            Some("R-B"),
        ),
        sub("c-s", "2026-03-02T09:00:00+07:00", "C", D, "KK"),
        pay(
            "c-p",
            "2026-03-02T09:10:00+07:00",
            "C",
            D,
            "KK",
            10_000,
            "cash",
            "official",
            Some("R-C"),
        ),
    ]);
    assert_eq!(
        kinds(&alerts),
        vec![
            ("fee_on_free_service".into(), "C".into()),
            ("unofficial_channel".into(), "B".into()),
            ("unreceipted_payment".into(), "A".into()),
        ],
        "cash is only unofficial where the catalogue requires non-cash"
    );
}

#[test]
fn duplicate_receipt_names_the_first_transaction() {
    let s = "SATPAS-POLDA-JABAR";
    let p = |id: &str, at: &str, txn: &str, office: &str, r: &str| {
        pay(
            id,
            at,
            txn,
            office,
            "SKCK",
            30_000,
            "qris",
            "official",
            Some(r),
        )
    };
    let alerts = run(&[
        sub("1s", "2026-03-02T09:00:00+07:00", "T1", s, "SKCK"),
        p("1p", "2026-03-02T09:05:00+07:00", "T1", s, "KW-1"),
        sub("2s", "2026-03-03T09:00:00+07:00", "T2", s, "SKCK"),
        p("2p", "2026-03-03T09:05:00+07:00", "T2", s, "KW-1"),
        // The same number at another office is not a duplicate.
        sub("3s", "2026-03-03T09:00:00+07:00", "T3", "POLRES-X", "SKCK"),
        p("3p", "2026-03-03T09:06:00+07:00", "T3", "POLRES-X", "KW-1"),
        // A transaction reusing its own receipt is not one either.
        p("2q", "2026-03-03T09:07:00+07:00", "T2", s, "KW-1"),
    ]);
    let dups: Vec<_> = alerts
        .iter()
        .filter(|a| a.typology == "duplicate_receipt")
        .collect();
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0].transaction_id.as_deref(), Some("T2"));
    assert_eq!(dups[0].related_transaction_id.as_deref(), Some("T1"));
    assert_eq!(dups[0].evidence_event_ids, vec!["1p", "2p"]);
}

#[test]
fn duplicate_receipt_window_is_365_days() {
    let p = |id: &str, at: &str, txn: &str| skck_receipt(id, at, txn, "KW-9");
    let alerts = run(&[
        p("1", "2025-01-10T09:00:00+07:00", "OLD"),
        p("2", "2026-01-10T09:00:00+07:00", "IN"),
        p("3", "2027-01-11T09:00:01+07:00", "OUT"),
    ]);
    assert!(
        has(&alerts, "duplicate_receipt", "IN"),
        "365 days apart is within the window"
    );
    let out = alerts
        .iter()
        .find(|a| a.typology == "duplicate_receipt" && a.transaction_id.as_deref() == Some("OUT"));
    assert!(
        out.is_none(),
        "366 days after IN and more after OLD: no alert"
    );
}

#[test]
fn sla_breach_edges_at_the_deadline() {
    // KTP_EL, 1 working day: submitted Monday → deadline Wednesday 00:00 WIB.
    let case = |txn: &str, at: &str| {
        vec![
            sub(
                &format!("{txn}s"),
                "2026-03-02T10:00:00+07:00",
                txn,
                D,
                "KTP_EL",
            ),
            done(&format!("{txn}c"), at, txn, D, "KTP_EL", "issued"),
        ]
    };
    let mut lines = case("before", "2026-03-03T15:59:59+07:00");
    lines.extend(case("exact", "2026-03-04T00:00:00+07:00"));
    lines.extend(case("after", "2026-03-04T09:00:00+07:00"));
    lines.extend(case("verylate", "2026-03-06T09:00:00+07:00"));
    let alerts = run(&lines);
    assert!(!has(&alerts, "sla_breach", "before") && !has(&alerts, "sla_breach", "exact"));
    let after = alerts
        .iter()
        .find(|a| a.typology == "sla_breach" && a.transaction_id.as_deref() == Some("after"))
        .expect("breach");
    assert_eq!(after.severity, Severity::Medium);
    assert_eq!(
        after.expected["deadline"],
        json!("2026-03-04T00:00:00+07:00")
    );
    let very = alerts
        .iter()
        .find(|a| a.typology == "sla_breach" && a.transaction_id.as_deref() == Some("verylate"))
        .expect("breach");
    assert_eq!(
        very.severity,
        Severity::High,
        "later than the deadline plus the whole allowed duration"
    );
    // Open when the watermark passed the deadline: both typologies, as in the spec.
    assert!(has(&alerts, "overdue_open", "after"));
    assert!(!has(&alerts, "overdue_open", "exact"));
}

#[test]
fn overdue_open_fires_by_watermark_at_the_deadline() {
    let mut e = engine();
    feed(
        &mut e,
        &[sub("s", "2026-03-02T10:00:00+07:00", "T", D, "KTP_EL")],
    );
    // Deadline 2026-03-04T00:00+07:00; an event 10 minutes past it does not move W past it.
    feed(
        &mut e,
        &[sub("x", "2026-03-04T00:10:00+07:00", "OTHER", D, "KK")],
    );
    assert!(e.take_alerts().is_empty());
    feed(
        &mut e,
        &[sub("y", "2026-03-04T00:10:01+07:00", "OTHER2", D, "KK")],
    );
    let alerts = e.take_alerts();
    assert_eq!(kinds(&alerts), vec![("overdue_open".into(), "T".into())]);
    assert_eq!(alerts[0].event_time, "2026-03-04T00:00:00+07:00");
    assert_eq!(alerts[0].evidence_event_ids, vec!["s"]);
}

#[test]
fn overdue_open_at_end_of_input_needs_the_watermark_past_the_deadline() {
    let exact = run(&[
        sub("s", "2026-03-02T10:00:00+07:00", "T", D, "KTP_EL"),
        sub("x", "2026-03-04T00:00:00+07:00", "LAST", D, "KK"),
    ]);
    assert!(
        !has(&exact, "overdue_open", "T"),
        "W equal to the deadline has not passed it"
    );
    let past = run(&[
        sub("s", "2026-03-02T10:00:00+07:00", "T", D, "KTP_EL"),
        sub("x", "2026-03-04T00:00:01+07:00", "LAST", D, "KK"),
    ]);
    assert!(has(&past, "overdue_open", "T"));
}

#[test]
fn completion_or_cancellation_before_the_deadline_prevents_overdue_even_when_it_arrives_late() {
    let alerts = run(&[
        sub("s", "2026-03-02T10:00:00+07:00", "T", D, "KTP_EL"),
        sub("x", "2026-03-04T00:05:00+07:00", "X", D, "KK"),
        // Arrives after an event 8 minutes later in event time: within the lateness.
        done("c", "2026-03-03T23:57:00+07:00", "T", D, "KTP_EL", "issued"),
        ev(
            "k",
            "cancelled",
            "2026-03-03T23:58:00+07:00",
            "U",
            D,
            "KTP_EL",
            json!({}),
        ),
        sub("u", "2026-03-02T11:00:00+07:00", "U", D, "KTP_EL"),
        sub("z", "2026-03-09T00:00:00+07:00", "Z", D, "KK"),
    ]);
    assert!(!has(&alerts, "overdue_open", "T") && !has(&alerts, "overdue_open", "U"));
    assert!(has(&alerts, "overdue_open", "X"));
}

#[test]
fn overdue_uses_the_offices_zone() {
    // Not catalogued, +09:00: submitted Monday 23:30 WIT → deadline Wednesday 00:00 WIT.
    let o = "DUKCAPIL-9471";
    let alerts = run(&[
        sub("s", "2026-03-02T23:30:00+09:00", "T", o, "KTP_EL"),
        sub("x", "2026-03-03T15:00:01Z", "LAST", o, "KK"),
    ]);
    let a = alerts
        .iter()
        .find(|a| a.typology == "overdue_open")
        .expect("overdue");
    assert_eq!(a.event_time, "2026-03-04T00:00:00+09:00");
}

#[test]
fn reject_then_pay_needs_the_order_and_the_window() {
    let case = |txn: &str,
                reject_at: &str,
                pay_at: &str,
                approve_at: &str,
                payee: &str,
                receipt: Option<&str>| {
        vec![
            sub(
                &format!("{txn}s"),
                "2026-03-02T08:00:00+07:00",
                txn,
                D,
                "PBG",
            ),
            status(&format!("{txn}r"), reject_at, txn, D, "PBG", "returned"),
            pay(
                &format!("{txn}p"),
                pay_at,
                txn,
                D,
                "PBG",
                200_000,
                "cash",
                payee,
                receipt,
            ),
            status(&format!("{txn}a"), approve_at, txn, D, "PBG", "approved"),
        ]
    };
    let t1 = "2026-03-02T09:00:00+07:00";
    let t2 = "2026-03-02T10:00:00+07:00";
    let t3 = "2026-03-02T11:00:00+07:00";
    let mut lines = case("yes", t1, t2, t3, "other", None);
    lines.extend(case("paybefore", t2, t1, t3, "other", None));
    lines.extend(case(
        "late",
        t1,
        t2,
        "2026-04-01T09:00:01+07:00",
        "other",
        None,
    ));
    lines.extend(case("regular", t1, t2, t3, "official", Some("SKRD-1")));
    let alerts = run(&lines);
    assert!(has(&alerts, "reject_then_pay", "yes"));
    assert!(!has(&alerts, "reject_then_pay", "paybefore"));
    assert!(
        !has(&alerts, "reject_then_pay", "late"),
        "approval more than 30 days after the rejection"
    );
    assert!(
        !has(&alerts, "reject_then_pay", "regular"),
        "PBG without assessment: an official receipted payment is not irregular"
    );
    let a = alerts
        .iter()
        .find(|a| a.typology == "reject_then_pay")
        .expect("alert");
    assert_eq!(a.evidence_event_ids, vec!["yesr", "yesp", "yesa"]);
}

#[test]
fn off_hours_edges() {
    let approve = |txn: &str, at: &str, office: &str, service: &str, officer: Option<&str>| {
        let mut v: serde_json::Value = serde_json::from_str(&status(
            &format!("{txn}a"),
            at,
            txn,
            office,
            service,
            "approved",
        ))
        .expect("json");
        v["officer_id"] = json!(officer);
        v.to_string()
    };
    let alerts = run(&[
        approve("closing", "2026-03-02T16:00:00+07:00", D, "KK", Some("o")),
        approve("open", "2026-03-02T15:59:59+07:00", D, "KK", Some("o")),
        approve("saturday", "2026-03-07T10:00:00+07:00", D, "KK", Some("o")),
        approve("nyepi", "2026-03-19T10:00:00+07:00", D, "KK", Some("o")),
        approve("nobody", "2026-03-02T22:00:00+07:00", D, "KK", None),
        approve(
            "robot",
            "2026-03-02T22:00:00+07:00",
            "OSS",
            "NIB",
            Some("o"),
        ),
        // Uncatalogued office in WIT: 07:00 is before opening.
        approve(
            "wit",
            "2026-03-03T07:00:00+09:00",
            "DUKCAPIL-9471",
            "KK",
            Some("o"),
        ),
        // Uncatalogued, zero offset: the default zone (WIB) says 08:00, open.
        approve(
            "utc",
            "2026-03-03T01:00:00Z",
            "DUKCAPIL-3578",
            "KK",
            Some("o"),
        ),
        // Catalogued in WITA, zero offset: 16:15 WITA on a Tuesday, closed.
        approve(
            "wita",
            "2026-03-03T08:15:00Z",
            "DUKCAPIL-5171",
            "KK",
            Some("o"),
        ),
    ]);
    let mut fired: Vec<_> = alerts
        .iter()
        .filter(|a| a.typology == "off_hours_processing")
        .map(|a| a.transaction_id.clone().unwrap_or_default())
        .collect();
    fired.sort();
    assert_eq!(fired, vec!["closing", "nyepi", "saturday", "wit", "wita"]);
    let wita = alerts
        .iter()
        .find(|a| a.transaction_id.as_deref() == Some("wita"))
        .expect("alert");
    assert_eq!(
        wita.observed["local_time"],
        json!("2026-03-03T16:15:00+08:00")
    );
}

#[test]
fn duplicates_are_ignored_and_late_events_still_count() {
    let mut e = engine();
    let lines = spec_example();
    let adm = feed(
        &mut e,
        &[lines[0].clone(), lines[0].clone(), lines[1].clone()],
    );
    assert_eq!(
        adm,
        vec![
            Admission::Accepted,
            Admission::Duplicate,
            Admission::Accepted
        ]
    );
    feed(
        &mut e,
        &[sub("far", "2026-03-02T12:00:00+07:00", "F", D, "KK")],
    );
    // 2h15m behind the newest event: beyond the 10-minute lateness, yet processed.
    let adm = feed(
        &mut e,
        &[done(
            "e-3",
            "2026-03-02T09:45:00+07:00",
            "T-1",
            D,
            "KTP_EL",
            "issued",
        )],
    );
    assert_eq!(adm, vec![Admission::Late]);
    e.end_of_input();
    assert_eq!(e.take_alerts().len(), 3);
}

#[test]
fn late_gratitude_payment_after_completion_is_judged_within_retention() {
    let alerts = run(&[
        sub("s", "2026-03-02T09:00:00+07:00", "T", D, "KTP_EL"),
        done("c", "2026-03-02T11:00:00+07:00", "T", D, "KTP_EL", "issued"),
        sub("x1", "2026-03-15T09:00:00+07:00", "X1", D, "KK"),
        pay(
            "p",
            "2026-03-22T10:00:00+07:00",
            "T",
            D,
            "KTP_EL",
            100_000,
            "qris",
            "official",
            Some("R"),
        ),
    ]);
    let a = alerts
        .iter()
        .find(|a| a.typology == "fee_on_free_service" && a.transaction_id.as_deref() == Some("T"))
        .expect("alert");
    assert_eq!(a.event_time, "2026-03-22T10:00:00+07:00");
    assert_eq!(a.evidence_event_ids, vec!["s", "p"]);
}

#[test]
fn state_is_dropped_after_retention() {
    let mut e = engine();
    feed(
        &mut e,
        &[
            sub("s", "2026-03-02T09:00:00+07:00", "T", D, "KTP_EL"),
            done("c", "2026-03-02T11:00:00+07:00", "T", D, "KTP_EL", "issued"),
            sub("x", "2026-03-31T09:00:00+07:00", "X", D, "KK"),
        ],
    );
    assert_eq!(
        e.transactions(),
        1,
        "T in state; X still waits for the watermark"
    );
    feed(
        &mut e,
        &[sub("y", "2026-04-01T11:20:00+07:00", "Y", D, "KK")],
    );
    assert_eq!(
        e.transactions(),
        1,
        "T dropped 30 days after its last event; X in state; Y waits"
    );
    e.end_of_input();
    assert_eq!(e.transactions(), 2);
    assert_eq!(e.open_transactions(), 2);
}

#[test]
fn arrival_order_within_lateness_does_not_change_the_output() {
    let lines = vec![
        sub("a", "2026-03-02T09:20:00+07:00", "A", D, "KK"),
        status("b", "2026-03-02T09:21:00+07:00", "A", D, "KK", "returned"),
        pay(
            "c",
            "2026-03-02T09:22:00+07:00",
            "A",
            D,
            "KK",
            50_000,
            "cash",
            "other",
            None,
        ),
        status("d", "2026-03-02T09:23:00+07:00", "A", D, "KK", "approved"),
        sub("e", "2026-03-02T09:24:00+07:00", "B", D, "KTP_EL"),
        pay(
            "f",
            "2026-03-02T09:25:00+07:00",
            "B",
            D,
            "KTP_EL",
            10_000,
            "qris",
            "official",
            Some("R"),
        ),
        done("g", "2026-03-02T09:26:00+07:00", "B", D, "KTP_EL", "issued"),
        done("h", "2026-03-02T16:30:00+07:00", "A", D, "KK", "issued"),
    ];
    let expected = run(&lines);
    assert!(has(&expected, "reject_then_pay", "A") && has(&expected, "off_hours_processing", "A"));
    assert!(has(&expected, "fee_on_free_service", "B"));
    // Every rotation and the reversal of the first seven lines stay within the lateness.
    for k in 1..7 {
        let mut l = lines.clone();
        l[..7].rotate_left(k);
        assert_eq!(run(&l), expected, "rotation {k}");
    }
    let mut l = lines.clone();
    l[..7].reverse();
    assert_eq!(run(&l), expected, "reversed");
}

fn rule(id: &str, when: &str) -> CustomRuleConfig {
    CustomRuleConfig {
        id: id.into(),
        severity: Severity::Medium,
        when: when.into(),
        summary_id: "Pembayaran {amount|rp} di {office_id}".into(),
        summary_en: "Payment of {amount|rp} at {office_id}".into(),
    }
}

#[test]
fn custom_rules_fire_once_per_transaction_after_the_built_ins() {
    let custom = CustomRules::compile(&[rule(
        "big_cash",
        "event_type = 'payment' AND method = 'cash' AND amount >= 100000",
    )])
    .expect("compiles");
    let mut e = engine_with(EngineSettings::defaults("test"), custom);
    let mut lines = spec_example();
    lines.push(pay(
        "e-4",
        "2026-03-02T09:41:00+07:00",
        "T-1",
        D,
        "KTP_EL",
        200_000,
        "cash",
        "other",
        None,
    ));
    feed(&mut e, &lines);
    e.end_of_input();
    let alerts = e.take_alerts();
    let custom: Vec<_> = alerts.iter().filter(|a| a.typology == "big_cash").collect();
    assert_eq!(custom.len(), 1);
    assert_eq!(
        custom[0].summary_en,
        "Payment of Rp 150.000 at DUKCAPIL-3273"
    );
    assert_eq!(custom[0].observed["amount"], json!(150_000));
    assert_eq!(
        custom[0].alert_id,
        crate::alerts::alert_id("big_cash", "T-1")
    );
    // Built-ins triggered by the same event come first.
    let order: Vec<_> = alerts.iter().map(|a| a.typology.as_str()).collect();
    assert_eq!(
        order,
        vec![
            "fee_on_free_service",
            "unreceipted_payment",
            "unofficial_channel",
            "big_cash"
        ]
    );
}

#[test]
fn custom_rules_see_state_and_calendar_facts() {
    let custom = CustomRules::compile(&[
        rule(
            "weekend_paid",
            "event_type = 'payment' AND NOT is_working_day AND total_paid > expected_fee",
        ),
        rule(
            "slow",
            "event_type = 'completed' AND duration_s > 3600 AND local_hour >= 10",
        ),
    ])
    .expect("compiles");
    let mut e = engine_with(EngineSettings::defaults("test"), custom);
    feed(
        &mut e,
        &[
            sub("s", "2026-03-07T09:00:00+07:00", "W", D, "KTP_EL"),
            pay(
                "p",
                "2026-03-07T09:30:00+07:00",
                "W",
                D,
                "KTP_EL",
                20_000,
                "qris",
                "official",
                Some("R"),
            ),
            done("c", "2026-03-09T10:30:00+07:00", "W", D, "KTP_EL", "issued"),
        ],
    );
    e.end_of_input();
    let alerts = e.take_alerts();
    assert!(has(&alerts, "weekend_paid", "W"));
    assert!(has(&alerts, "slow", "W"));
}

#[test]
fn bad_custom_rules_are_startup_errors_naming_the_rule() {
    let err = |r: CustomRuleConfig| CustomRules::compile(&[r]).err().expect("error").to_string();
    assert!(err(rule("typo", "amout > 5")).contains("custom rule `typo`"));
    assert!(err(rule("syntax", "amount >")).contains("custom rule `syntax`"));
    assert!(err(rule("number", "amount + 1")).contains("must be boolean"));
    assert!(err(rule("sla_breach", "amount > 1")).contains("built-in"));
    let mut bad_template = rule("tpl", "amount > 1");
    bad_template.summary_en = "{nope}".into();
    assert!(err(bad_template).contains("summary_en"));
}

#[test]
fn the_first_user_of_a_receipt_is_never_flagged() {
    let p = |id: &str, at: &str, txn: &str| skck_receipt(id, at, txn, "KW-7");
    let alerts = run(&[
        p("a1", "2026-03-02T09:00:00+07:00", "A"),
        p("b1", "2026-03-03T09:00:00+07:00", "B"),
        p("a2", "2026-03-04T09:00:00+07:00", "A"),
    ]);
    let flagged: Vec<_> = alerts
        .iter()
        .filter(|a| a.typology == "duplicate_receipt")
        .map(|a| a.transaction_id.clone())
        .collect();
    assert_eq!(flagged, vec![Some("B".into())]);
}

#[test]
fn off_hours_judges_an_unknown_service() {
    let alerts = run(&[status(
        "x",
        "2026-03-07T10:00:00+07:00",
        "T",
        D,
        "NOT_IN_CATALOGUE",
        "approved",
    )]);
    assert!(has(&alerts, "off_hours_processing", "T"));
}

#[test]
fn an_open_transaction_outlives_the_retention_and_is_still_judged_late() {
    let alerts = run(&[
        sub("s", "2026-02-02T09:00:00+07:00", "T", D, "KTP_EL"),
        sub("x", "2026-02-20T09:00:00+07:00", "X", D, "KK"),
        done("xc", "2026-02-20T10:00:00+07:00", "X", D, "KK", "issued"),
        sub("y", "2026-03-08T09:00:00+07:00", "Y", D, "KK"),
        done("yc", "2026-03-08T10:00:00+07:00", "Y", D, "KK", "issued"),
        done("c", "2026-03-09T10:00:00+07:00", "T", D, "KTP_EL", "issued"),
    ]);
    let breach = alerts
        .iter()
        .find(|a| a.typology == "sla_breach" && a.transaction_id.as_deref() == Some("T"));
    assert_eq!(
        breach.expect("judged against its deadline").severity,
        Severity::High
    );
}

/// Kafka mode: a store partition's events come from several source partitions,
/// interleaved however the router read them; only the upstream marks move time.
#[test]
fn routed_events_wait_for_the_slowest_source_partition() {
    let a = sub("a", "2026-03-02T09:00:00+07:00", "A", D, "KTP_EL");
    let b = done("b", "2026-03-02T10:00:00+07:00", "A", D, "KTP_EL", "issued");
    let z = sub("z", "2026-04-06T09:00:00+07:00", "Z", D, "KTP_EL");
    let expected = run(&[a.clone(), b.clone(), z.clone()]);
    assert!(!has(&expected, "overdue_open", "A"));
    // One clock over the interleaving: A's completion comes a month late, and
    // its deadline has fired by then.
    assert!(has(
        &run(&[a.clone(), z.clone(), b.clone()]),
        "overdue_open",
        "A"
    ));

    let decode = |l: &String| Decoder::default().decode(l.as_bytes()).expect("valid");
    let at = |l: &String| decode(l).occurred_at.to_utc();
    let mut e = engine();
    e.add_partition(0);
    e.add_partition(1);
    // Source partition 0 has read a and z; partition 1, lagging, nothing yet.
    assert_eq!(e.ingest_routed(decode(&a)), Admission::Accepted);
    e.observe_upstream(0, at(&a));
    assert_eq!(e.ingest_routed(decode(&z)), Admission::Accepted);
    e.observe_upstream(0, at(&z));
    assert_eq!(e.watermark(), None, "partition 1 holds time back");
    assert_eq!(e.ingest_routed(decode(&b)), Admission::Accepted, "not late");
    e.observe_upstream(1, at(&b));
    // A repeat routed after a source partition was re-read is still a duplicate.
    assert_eq!(e.ingest_routed(decode(&b)), Admission::Duplicate);
    e.end_partition(0);
    assert!(!e.is_ended());
    e.end_partition(1);
    assert!(e.is_ended());
    assert_eq!(e.take_alerts(), expected);
}
