//! Early verdicts: the alerts fired on arrival are exactly, byte for byte, the
//! alerts of the watermark-ordered evaluation, for any arrival order within
//! the lateness that keeps each transaction's own events in order; and an
//! order that breaks the guarantee is caught, never sent twice.

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::tests::{done, engine_with, ev, pay, sub};
use super::*;
use crate::decode::Decoder;

fn early_engine() -> Engine {
    let mut s = EngineSettings::defaults("test");
    s.early = true;
    engine_with(s, None)
}

fn decode(line: &str) -> Event {
    Decoder::default()
        .decode(line.as_bytes())
        .expect("valid event")
}

fn json_lines(alerts: &[Alert]) -> Vec<String> {
    let mut v: Vec<String> = alerts
        .iter()
        .map(|a| serde_json::to_string(a).expect("alert serialises"))
        .collect();
    v.sort();
    v
}

/// The reference: every event in event-time order, early verdicts off.
fn watermark_ordered(lines: &[(i64, String)]) -> Vec<Alert> {
    let mut sorted: Vec<&(i64, String)> = lines.iter().collect();
    sorted.sort_by_key(|(t, _)| *t);
    let mut e = super::tests::engine();
    for (_, l) in sorted {
        e.ingest(decode(l));
    }
    e.end_of_input();
    e.take_alerts()
}

const D: &str = "DUKCAPIL-3273";

#[test]
fn a_free_service_paid_in_cash_to_a_person_alerts_on_the_payment_not_ten_minutes_later() {
    let mut e = early_engine();
    e.ingest(decode(&sub(
        "e-1",
        "2026-03-02T09:15:00+07:00",
        "T-1",
        D,
        "KTP_EL",
    )));
    assert!(e.take_alerts().is_empty());
    e.ingest(decode(&pay(
        "e-2",
        "2026-03-02T09:40:00+07:00",
        "T-1",
        D,
        "KTP_EL",
        150_000,
        "cash",
        "other",
        None,
    )));
    // The watermark (09:30) has not reached the payment: only early verdicts.
    let early = e.take_alerts();
    let mut kinds: Vec<&str> = early.iter().map(|a| a.typology.as_str()).collect();
    kinds.sort();
    assert_eq!(
        kinds,
        [
            "fee_on_free_service",
            "unofficial_channel",
            "unreceipted_payment"
        ]
    );
    e.ingest(decode(&done(
        "e-3",
        "2026-03-02T10:05:00+07:00",
        "T-1",
        D,
        "KTP_EL",
        "issued",
    )));
    e.end_of_input();
    let rest = e.take_alerts();
    assert!(rest.is_empty(), "nothing twice: {rest:?}");
    let all: Vec<Alert> = early.into_iter().chain(rest).collect();
    let reference = super::tests::run(&[
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
    ]);
    assert_eq!(json_lines(&all), json_lines(&reference));
}

#[test]
fn cross_transaction_typologies_still_wait_for_the_watermark() {
    let mut e = early_engine();
    for l in [
        sub("a-1", "2026-03-02T09:00:00+07:00", "T-A", D, "SKCK"),
        pay(
            "a-2",
            "2026-03-02T09:05:00+07:00",
            "T-A",
            D,
            "SKCK",
            30_000,
            "qris",
            "official",
            Some("R-1"),
        ),
        sub("b-1", "2026-03-02T09:06:00+07:00", "T-B", D, "SKCK"),
        pay(
            "b-2",
            "2026-03-02T09:07:00+07:00",
            "T-B",
            D,
            "SKCK",
            30_000,
            "qris",
            "official",
            Some("R-1"),
        ),
    ] {
        e.ingest(decode(&l));
    }
    assert!(
        e.take_alerts().is_empty(),
        "duplicate_receipt reads another transaction"
    );
    e.end_of_input();
    let alerts = e.take_alerts();
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].typology, "duplicate_receipt");
}

#[test]
fn an_earlier_payment_arriving_after_an_early_alert_is_caught_and_never_sent_twice() {
    let mut e = early_engine();
    let lines = [
        sub("e-1", "2026-03-02T09:15:00+07:00", "T-1", D, "SKCK"),
        // Arrives first, but the unreceipted payment at 09:20 is earlier.
        pay(
            "e-3",
            "2026-03-02T09:24:00+07:00",
            "T-1",
            D,
            "SKCK",
            30_000,
            "qris",
            "official",
            None,
        ),
        pay(
            "e-2",
            "2026-03-02T09:20:00+07:00",
            "T-1",
            D,
            "SKCK",
            30_000,
            "qris",
            "official",
            None,
        ),
    ];
    let mut all = Vec::new();
    for l in &lines {
        e.ingest(decode(l));
        all.extend(e.take_alerts());
    }
    e.end_of_input();
    all.extend(e.take_alerts());
    let unreceipted: Vec<&Alert> = all
        .iter()
        .filter(|a| a.typology == "unreceipted_payment")
        .collect();
    assert_eq!(unreceipted.len(), 1, "one alert per transaction, even here");
    assert_eq!(e.metrics.early_order_violations_total.get(), 1);
    assert_eq!(e.metrics.early_alert_mismatches_total.get(), 1);
}

#[test]
fn a_payment_arriving_before_its_submission_waits_for_the_watermark() {
    let submission = sub("e-1", "2026-03-02T09:15:00+07:00", "T-1", D, "KTP_EL");
    let payment = pay(
        "e-2",
        "2026-03-02T09:20:00+07:00",
        "T-1",
        D,
        "KTP_EL",
        10_000,
        "qris",
        "official",
        Some("R-9"),
    );
    let mut e = early_engine();
    e.ingest(decode(&payment));
    assert!(
        e.take_alerts().is_empty(),
        "no submission yet: not judged early"
    );
    e.ingest(decode(&submission));
    e.end_of_input();
    let all = e.take_alerts();
    let reference = watermark_ordered(&[(0, submission), (1, payment)]);
    assert_eq!(json_lines(&all), json_lines(&reference));
    assert_eq!(e.metrics.early_order_violations_total.get(), 1);
    assert_eq!(e.metrics.early_alert_mismatches_total.get(), 0);
}

#[test]
fn early_state_survives_a_checkpoint() {
    let mut e = early_engine();
    e.ingest(decode(&sub(
        "e-1",
        "2026-03-02T09:15:00+07:00",
        "T-1",
        D,
        "KTP_EL",
    )));
    e.ingest(decode(&pay(
        "e-2",
        "2026-03-02T09:40:00+07:00",
        "T-1",
        D,
        "KTP_EL",
        150_000,
        "cash",
        "other",
        None,
    )));
    assert_eq!(e.take_alerts().len(), 3);
    let bytes = serde_json::to_vec(&e.state()).expect("state serialises");
    let state: EngineState = serde_json::from_slice(&bytes).expect("state reads back");
    let mut resumed = early_engine();
    resumed.restore(state);
    resumed.end_of_input();
    assert!(
        resumed.take_alerts().is_empty(),
        "the early alerts are not sent again"
    );
    assert_eq!(resumed.metrics.early_alert_mismatches_total.get(), 0);
}

/// A random workload: transactions at three offices, each a submission, some
/// payments (free and paid services, cash and non-cash, official and other
/// payees, shared receipt numbers), statuses and a closure, in event-time
/// order within the transaction. Returns (event time in seconds, line).
fn workload(rng: &mut ChaCha8Rng) -> Vec<(i64, String)> {
    const OFFICES: [&str; 3] = ["DUKCAPIL-3273", "DUKCAPIL-5171", "SATPAS-POLDA-JABAR"];
    const SERVICES: [&str; 5] = ["KTP_EL", "SKCK", "SIM_A_BARU", "PASPOR_E10", "KK"];
    // Monday 2026-03-02 00:00 WIB, as Unix seconds.
    let base = 1_772_384_400_i64;
    let mut out = Vec::new();
    let txns = rng.random_range(5..40);
    for t in 0..txns {
        let txn = format!("T-{t}");
        let office = OFFICES[rng.random_range(0..OFFICES.len())];
        let service = SERVICES[rng.random_range(0..SERVICES.len())];
        let mut at = base + rng.random_range(0..4 * 86_400);
        let mut n = 0;
        let mut line = |at: i64, ty: &str, extra: serde_json::Value, rng: &mut ChaCha8Rng| {
            n += 1;
            let time = chrono::DateTime::from_timestamp(at, 0)
                .expect("time")
                .with_timezone(&chrono::FixedOffset::east_opt(7 * 3600).expect("offset"))
                .to_rfc3339();
            let mut l: serde_json::Value = serde_json::from_str(&ev(
                &format!("{txn}-{n}"),
                ty,
                &time,
                &txn,
                office,
                service,
                extra,
            ))
            .expect("json");
            if rng.random_bool(0.2) {
                l["officer_id"] = serde_json::Value::Null;
            } else {
                l["officer_id"] = format!("ofc-{}", rng.random_range(1..4)).into();
            }
            (at, l.to_string())
        };
        let agent = rng
            .random_bool(0.3)
            .then(|| format!("agent-{}", rng.random_range(0..3)));
        out.push(line(
            at,
            "submitted",
            serde_json::json!({"channel": "counter", "applicant_ref": format!("ap-{t}"), "agent_ref": agent}),
            rng,
        ));
        for _ in 0..rng.random_range(0..4) {
            at += rng.random_range(1..7200);
            let amount = [10_000, 30_000, 120_000, 150_000, 950_000][rng.random_range(0..5)];
            let method = ["cash", "qris", "bank_transfer"][rng.random_range(0..3)];
            let payee = if rng.random_bool(0.2) {
                "other"
            } else {
                "official"
            };
            let receipt = rng
                .random_bool(0.7)
                .then(|| format!("R-{}", rng.random_range(0..30)));
            out.push(line(
                at,
                "payment",
                serde_json::json!({"amount": amount, "method": method, "payee": payee, "receipt_no": receipt}),
                rng,
            ));
        }
        for _ in 0..rng.random_range(0..3) {
            at += rng.random_range(1..86_400);
            let status = ["verified", "returned", "rejected", "approved"][rng.random_range(0..4)];
            out.push(line(
                at,
                "status_changed",
                serde_json::json!({"status": status}),
                rng,
            ));
            if rng.random_bool(0.3) {
                at += rng.random_range(1..3600);
                out.push(line(
                    at,
                    "payment",
                    serde_json::json!({"amount": 50_000, "method": "cash", "payee": "other", "receipt_no": null}),
                    rng,
                ));
            }
        }
        if rng.random_bool(0.8) {
            at += rng.random_range(1..4 * 86_400);
            if rng.random_bool(0.9) {
                let outcome = if rng.random_bool(0.85) {
                    "issued"
                } else {
                    "refused"
                };
                out.push(line(
                    at,
                    "completed",
                    serde_json::json!({"outcome": outcome}),
                    rng,
                ));
            } else {
                out.push(line(at, "cancelled", serde_json::json!({}), rng));
            }
        }
    }
    out
}

/// An arrival order within the lateness that keeps each transaction's own
/// events in the engine's order: each event arrives up to half the lateness
/// after its time, and never before an earlier event of its transaction.
fn arrival_order(lines: &[(i64, String)], rng: &mut ChaCha8Rng, lateness_s: i64) -> Vec<usize> {
    let events: Vec<Event> = lines.iter().map(|(_, l)| decode(l)).collect();
    let mut by_txn: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        by_txn.entry(e.transaction_id.as_str()).or_default().push(i);
    }
    let mut keyed: Vec<(i64, usize, usize)> = Vec::with_capacity(lines.len());
    let mut txns: Vec<Vec<usize>> = by_txn.into_values().collect();
    txns.sort();
    for mut txn in txns {
        txn.sort_by(|a, b| events[*a].order_key().cmp(&events[*b].order_key()));
        let mut last = i64::MIN;
        for (rank, i) in txn.into_iter().enumerate() {
            let jitter = rng.random_range(0..lateness_s / 2);
            last = (lines[i].0 + jitter).max(last);
            keyed.push((last, rank, i));
        }
    }
    keyed.sort();
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn early_firing_gives_exactly_the_watermark_ordered_alerts(seed in any::<u64>()) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let lines = workload(&mut rng);
        let order = arrival_order(&lines, &mut rng, 600);
        let mut e = early_engine();
        let mut all = Vec::new();
        let mut early = 0;
        for i in order {
            let event = decode(&lines[i].1);
            let at = crate::alerts::format_time(event.occurred_at);
            let admission = e.ingest(event);
            prop_assert_ne!(admission, Admission::Late, "the order stays within the lateness");
            for a in e.take_alerts() {
                let typology = Typology::from_name(&a.typology).expect("built-in");
                if typology.final_on_arrival() {
                    // Fired by the event just ingested, not by the watermark.
                    prop_assert_eq!(&a.event_time, &at);
                    early += 1;
                }
                all.push(a);
            }
        }
        e.end_of_input();
        for a in e.take_alerts() {
            prop_assert!(!Typology::from_name(&a.typology).expect("built-in").final_on_arrival());
            all.push(a);
        }
        let reference = watermark_ordered(&lines);
        prop_assert_eq!(json_lines(&all), json_lines(&reference));
        let on_arrival = reference
            .iter()
            .filter(|a| Typology::from_name(&a.typology).expect("built-in").final_on_arrival())
            .count();
        prop_assert_eq!(early, on_arrival);
        prop_assert_eq!(e.metrics.early_order_violations_total.get(), 0);
        prop_assert_eq!(e.metrics.early_alert_mismatches_total.get(), 0);
    }
}

/// The simulator's labelled workload (all twelve typologies, duplicates,
/// invalid lines), its valid events with (event time, line).
fn simulated(seed: u64) -> Vec<(i64, String)> {
    let reference = super::tests::reference();
    let cfg = crate::simulate::SimulatorConfig {
        seed,
        transactions: 1500,
        days: 28,
        ..crate::simulate::SimulatorConfig::default()
    };
    let w = crate::simulate::generate(&cfg, &reference).expect("workload");
    String::from_utf8(w.events)
        .expect("utf-8")
        .lines()
        .filter_map(|l| {
            let e = Decoder::default().decode(l.as_bytes()).ok()?;
            Some((e.occurred_at.timestamp(), l.to_owned()))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    #[test]
    fn early_firing_on_the_simulated_workload_gives_the_replays_alerts(seed in 1..1000u64, order in any::<u64>()) {
        let lines = simulated(seed);
        let mut rng = ChaCha8Rng::seed_from_u64(order);
        let mut e = early_engine();
        let mut all = Vec::new();
        for i in arrival_order(&lines, &mut rng, 600) {
            e.ingest(decode(&lines[i].1));
            all.extend(e.take_alerts());
        }
        e.end_of_input();
        all.extend(e.take_alerts());
        let reference = watermark_ordered(&lines);
        let typologies: std::collections::BTreeSet<&str> =
            reference.iter().map(|a| a.typology.as_str()).collect();
        prop_assert!(typologies.len() >= 10, "the workload exercises the typologies: {typologies:?}");
        prop_assert_eq!(json_lines(&all), json_lines(&reference));
        prop_assert_eq!(e.metrics.early_order_violations_total.get(), 0);
        prop_assert_eq!(e.metrics.early_alert_mismatches_total.get(), 0);
    }
}
