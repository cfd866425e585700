//! Edges of the windowed typologies: `speed_money`, `broker_activity` and
//! `officer_outlier`, driven through the engine.

use chrono::{DateTime, Duration, FixedOffset};
use serde_json::json;

use super::tests::{done, engine, engine_with, ev, feed, pay, run, sub};
use super::*;
use crate::alerts::Scope;

/// An office outside the catalogue: its zone comes from the events' offset.
const X: &str = "KANTOR-UJI-1";

fn at(base: &str, plus: Duration) -> String {
    let t = DateTime::parse_from_rfc3339(base).expect("valid time") + plus;
    t.to_rfc3339()
}

fn of(alerts: &[Alert], typology: &str) -> Vec<Alert> {
    alerts
        .iter()
        .filter(|a| a.typology == typology)
        .cloned()
        .collect()
}

/// `n` clean, issued KTP_EL transactions at office X, each taking `duration`,
/// completed on consecutive hours ending just before `before`.
fn baseline(n: usize, duration: Duration, before: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for k in 0..n {
        let end = at(before, -Duration::hours(k as i64 + 1));
        let start = at(&end, -duration);
        let t = format!("B{k}");
        lines.push(sub(&format!("{t}-s"), &start, &t, X, "KTP_EL"));
        lines.push(done(&format!("{t}-c"), &end, &t, X, "KTP_EL", "issued"));
    }
    lines
}

/// A KTP_EL transaction (free by law) with an irregular payment, issued after
/// `duration`; the payment comes `pay_after` after the submission.
fn irregular(t: &str, start: &str, duration: Duration, pay_after: Duration) -> Vec<String> {
    vec![
        sub(&format!("{t}-s"), start, t, X, "KTP_EL"),
        pay(
            &format!("{t}-p"),
            &at(start, pay_after),
            t,
            X,
            "KTP_EL",
            100_000,
            "cash",
            "other",
            None,
        ),
        done(
            &format!("{t}-c"),
            &at(start, duration),
            t,
            X,
            "KTP_EL",
            "issued",
        ),
    ]
}

const JUDGED_AT: &str = "2026-04-20T10:00:00+07:00";

#[test]
fn speed_money_needs_a_baseline_of_min_baseline_completions() {
    let fast = Duration::hours(24);
    let start = at(JUDGED_AT, -fast);
    for (n, alerted) in [(29, false), (30, true)] {
        let mut lines = baseline(n, Duration::days(10), &start);
        lines.extend(irregular("S", &start, fast, Duration::hours(1)));
        let alerts = of(&run(&lines), "speed_money");
        assert_eq!(!alerts.is_empty(), alerted, "baseline of {n}");
        if alerted {
            let a = &alerts[0];
            assert_eq!(a.transaction_id.as_deref(), Some("S"));
            assert_eq!(a.expected["baseline_size"], json!(30));
            assert_eq!(a.expected["baseline_median_s"], json!(864_000.0));
            assert_eq!(a.observed["duration_s"], json!(86_400));
            assert!(a.evidence_event_ids.contains(&"S-p".into()));
            assert!(a.evidence_event_ids.contains(&"S-c".into()));
        }
    }
}

#[test]
fn speed_money_ratio_is_strictly_below_half_the_median() {
    // Median 10 days: the limit is 5 days = 432 000 s.
    for (secs, alerted) in [(431_999, true), (432_000, false)] {
        let d = Duration::seconds(secs);
        let start = at(JUDGED_AT, -d);
        let mut lines = baseline(31, Duration::days(10), &start);
        lines.extend(irregular("S", &start, d, Duration::hours(1)));
        let alerts = of(&run(&lines), "speed_money");
        assert_eq!(!alerts.is_empty(), alerted, "duration {secs} s");
    }
}

#[test]
fn speed_money_baseline_only_counts_the_trailing_window() {
    let fast = Duration::hours(24);
    let start = at(JUDGED_AT, -fast);
    // 30 completions, but the oldest ends 30 days and one hour before the fast
    // one completes: only 29 remain in the trailing 30 days.
    let mut lines = baseline(29, Duration::days(10), &start);
    let old_end = at(JUDGED_AT, -Duration::days(30) - Duration::hours(1));
    lines.push(sub(
        "OLD-s",
        &at(&old_end, -Duration::days(10)),
        "OLD",
        X,
        "KTP_EL",
    ));
    lines.push(done("OLD-c", &old_end, "OLD", X, "KTP_EL", "issued"));
    lines.extend(irregular("S", &start, fast, Duration::hours(1)));
    assert!(of(&run(&lines), "speed_money").is_empty());
}

#[test]
fn speed_money_also_when_irregularity_appears_after_completion() {
    let fast = Duration::hours(24);
    let start = at(JUDGED_AT, -fast);
    let mut lines = baseline(30, Duration::days(10), &start);
    // Paid "gratitude" two days after the document was issued.
    lines.extend(irregular("S", &start, fast, fast + Duration::days(2)));
    // Later completions must not change the baseline the transaction is judged by.
    lines.extend(baseline(
        40,
        Duration::hours(1),
        &at(JUDGED_AT, Duration::days(2)),
    ));
    let alerts = of(&run(&lines), "speed_money");
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].event_time, at(JUDGED_AT, Duration::days(2)));
    assert_eq!(alerts[0].expected["baseline_size"], json!(30));
}

#[test]
fn fast_but_regular_transactions_are_not_speed_money() {
    let fast = Duration::hours(2);
    let start = at(JUDGED_AT, -fast);
    let mut lines = baseline(30, Duration::days(10), &start);
    lines.push(sub("F-s", &start, "F", X, "KTP_EL"));
    lines.push(done("F-c", JUDGED_AT, "F", X, "KTP_EL", "issued"));
    assert!(of(&run(&lines), "speed_money").is_empty());
}

fn agent_sub(id: &str, when: &str, agent: &str, applicant: &str) -> String {
    ev(
        id,
        "submitted",
        when,
        id,
        X,
        "SKCK",
        json!({"channel": "counter", "applicant_ref": applicant, "agent_ref": agent}),
    )
}

const T0: &str = "2026-03-02T09:00:00+07:00";

fn four_applicants() -> Vec<String> {
    (0..4)
        .map(|k| {
            agent_sub(
                &format!("G{k}"),
                &at(T0, Duration::days(k)),
                "calo-1",
                &format!("app-{k}"),
            )
        })
        .collect()
}

#[test]
fn broker_fifth_applicant_inside_seven_days() {
    for (offset, alerted) in [
        (Duration::days(7) - Duration::minutes(1), true),
        (Duration::days(7) + Duration::minutes(1), false),
    ] {
        let mut lines = four_applicants();
        lines.push(agent_sub("G9", &at(T0, offset), "calo-1", "app-9"));
        let alerts = of(&run(&lines), "broker_activity");
        assert_eq!(!alerts.is_empty(), alerted, "fifth at {offset}");
        if alerted {
            let a = &alerts[0];
            assert_eq!(a.alert_id, alert_id("broker_activity", "calo-1"));
            assert_eq!(a.agent_ref.as_deref(), Some("calo-1"));
            assert_eq!(a.observed["distinct_applicants"], json!(5));
            assert_eq!(a.evidence_event_ids.len(), 5);
            assert_eq!(a.window_start.as_deref(), Some(T0));
            assert_eq!(a.scope, Scope::Agent);
        }
    }
}

#[test]
fn broker_repeat_applicant_counts_once() {
    let mut lines = four_applicants();
    lines.push(agent_sub(
        "G9",
        &at(T0, Duration::days(5)),
        "calo-1",
        "app-2",
    ));
    assert!(of(&run(&lines), "broker_activity").is_empty());
    // Another agent's applicants never mix in.
    let mut lines = four_applicants();
    lines.push(agent_sub(
        "G9",
        &at(T0, Duration::days(5)),
        "calo-2",
        "app-9",
    ));
    assert!(of(&run(&lines), "broker_activity").is_empty());
}

#[test]
fn broker_suppression_then_a_fresh_alert() {
    let burst = |from: Duration, tag: &str| -> Vec<String> {
        (0..5)
            .map(|k| {
                agent_sub(
                    &format!("{tag}{k}"),
                    &at(T0, from + Duration::hours(k)),
                    "calo-1",
                    &format!("{tag}-app-{k}"),
                )
            })
            .collect()
    };
    let mut lines = burst(Duration::zero(), "A");
    lines.extend(burst(Duration::days(29), "B"));
    let alerts = of(&run(&lines), "broker_activity");
    assert_eq!(
        alerts.len(),
        1,
        "the second burst is within the suppression"
    );

    let mut lines = burst(Duration::zero(), "A");
    lines.extend(burst(Duration::days(31), "B"));
    let alerts = of(&run(&lines), "broker_activity");
    assert_eq!(alerts.len(), 2);
    assert_ne!(alerts[0].alert_id, alerts[1].alert_id);
}

#[test]
fn broker_late_submission_completes_an_earlier_window() {
    let mut lines = four_applicants();
    lines.push(agent_sub(
        "G9",
        &at(T0, Duration::days(5)),
        "calo-1",
        "app-9",
    ));
    // The fifth applicant's submission arrives first: still within the lateness.
    let last = lines.pop().expect("line");
    let mut reordered = vec![last];
    reordered.extend(lines);
    let alerts = of(&run(&reordered), "broker_activity");
    assert_eq!(alerts.len(), 1);
}

/// One week of issued KTP_EL completions at office X in zone `offset`: officer k
/// completes `issued[k]` transactions, the first `irregular[k]` of them irregular.
fn officer_week(offset: &str, issued: &[u32], irregular: &[u32]) -> Vec<String> {
    let monday = format!("2026-03-02T08:00:00{offset}");
    let mut lines = Vec::new();
    for (k, (&n, &bad)) in issued.iter().zip(irregular).enumerate() {
        for j in 0..n {
            let t = format!("O{k}-{j}");
            let start = at(&monday, Duration::minutes(i64::from(j) * 7 + k as i64));
            lines.push(sub(&format!("{t}-s"), &start, &t, X, "KTP_EL"));
            if j < bad {
                lines.push(pay(
                    &format!("{t}-p"),
                    &at(&start, Duration::minutes(1)),
                    &t,
                    X,
                    "KTP_EL",
                    50_000,
                    "cash",
                    "other",
                    None,
                ));
            }
            let mut c: serde_json::Value = serde_json::from_str(&done(
                &format!("{t}-c"),
                &at(&start, Duration::days(1)),
                &t,
                X,
                "KTP_EL",
                "issued",
            ))
            .expect("json");
            c["officer_id"] = json!(format!("petugas-{k}"));
            lines.push(c.to_string());
        }
    }
    // Something after the window end moves the watermark past it.
    lines.push(sub(
        "LATER",
        &format!("2026-03-10T08:00:00{offset}"),
        "LATER",
        X,
        "KTP_EL",
    ));
    lines
}

#[test]
fn officer_outlier_with_mad() {
    // Rates 0.5, 0.05, 0, 0.05, 0.1: median 0.05, MAD 0.05, z(0.5) = 6.07.
    let lines = officer_week("+09:00", &[20, 20, 20, 20, 20], &[10, 1, 0, 1, 2]);
    let alerts = of(&run(&lines), "officer_outlier");
    assert_eq!(alerts.len(), 1);
    let a = &alerts[0];
    assert_eq!(a.officer_id.as_deref(), Some("petugas-0"));
    assert_eq!(a.scope, Scope::Officer);
    assert_eq!(a.window_start.as_deref(), Some("2026-03-02T00:00:00+09:00"));
    assert_eq!(a.window_end.as_deref(), Some("2026-03-09T00:00:00+09:00"));
    assert_eq!(a.event_time, "2026-03-09T00:00:00+09:00");
    assert_eq!(a.expected["mad"], json!(0.05));
    assert_eq!(a.expected["peer_median_rate"], json!(0.05));
    assert_eq!(a.observed["irregular"], json!(10));
    assert_eq!(a.evidence_event_ids.len(), 10);
    assert_eq!(
        a.alert_id,
        alert_id(
            "officer_outlier",
            &format!("petugas-0|{X}|KTP_EL|2026-03-02T00:00:00+09:00")
        )
    );
}

#[test]
fn officer_outlier_needs_five_eligible_officers_with_twenty_issued() {
    let lines = officer_week("+07:00", &[20, 20, 20, 20, 19], &[10, 1, 0, 1, 2]);
    assert!(of(&run(&lines), "officer_outlier").is_empty());
    // The outlier itself below 20 completions is not judged.
    let lines = officer_week("+07:00", &[19, 20, 20, 20, 20, 20], &[10, 1, 0, 1, 2, 1]);
    assert!(of(&run(&lines), "officer_outlier").is_empty());
}

#[test]
fn officer_outlier_mad_zero_fallback() {
    // Seven clean peers: MAD = 0, mean absolute deviation 0.5/8; z = 0.6745 x 0.5 /
    // (1.253314 x 0.0625) = 4.31 > 3.5.
    let issued = [20; 8];
    let bad = [10, 0, 0, 0, 0, 0, 0, 0];
    let lines = officer_week("+07:00", &issued, &bad);
    let alerts = of(&run(&lines), "officer_outlier");
    assert_eq!(alerts.len(), 1);
    assert!(alerts[0].expected.contains_key("mad_fallback"));
    // Without the fallback, MAD = 0 gives no basis for an alert.
    let mut settings = EngineSettings::defaults("test");
    settings.params.officer_outlier.officer_mad_fallback = false;
    let mut e = engine_with(settings, None);
    feed(&mut e, &lines);
    e.end_of_input();
    assert!(of(&e.take_alerts(), "officer_outlier").is_empty());
    // Five peers: z = 0.6745 x 0.5 / (1.253314 x 0.1) = 2.69, not an outlier.
    let lines = officer_week("+07:00", &[20; 5], &[10, 0, 0, 0, 0]);
    assert!(of(&run(&lines), "officer_outlier").is_empty());
}

#[test]
fn officer_outlier_needs_min_rate_and_count() {
    // z is large but only 2 irregular transactions.
    let lines = officer_week("+07:00", &[20; 8], &[2, 0, 0, 0, 0, 0, 0, 0]);
    assert!(of(&run(&lines), "officer_outlier").is_empty());
    // 3 irregular of 40 = 0.075 < 0.1.
    let lines = officer_week(
        "+07:00",
        &[40, 20, 20, 20, 20, 20, 20, 20],
        &[3, 0, 0, 0, 0, 0, 0, 0],
    );
    assert!(of(&run(&lines), "officer_outlier").is_empty());
}

#[test]
fn officer_window_waits_for_the_watermark() {
    let mut lines = officer_week("+07:00", &[20, 20, 20, 20, 20], &[10, 1, 0, 1, 2]);
    lines.pop();
    // The input ends before the window does: W never passes its end.
    assert!(of(&run(&lines), "officer_outlier").is_empty());
}

#[test]
fn window_state_stays_flat_over_a_long_stream() {
    let mut e = engine();
    let start: DateTime<FixedOffset> = DateTime::parse_from_rfc3339(T0).expect("time");
    let mut sizes = Vec::new();
    for day in 0..240i64 {
        let mut lines = Vec::new();
        for k in 0..40i64 {
            let t = format!("L{day}-{k}");
            let s = start + Duration::days(day) + Duration::minutes(k * 5);
            let mut v: serde_json::Value =
                serde_json::from_str(&sub(&format!("{t}-s"), &s.to_rfc3339(), &t, X, "KTP_EL"))
                    .expect("json");
            v["agent_ref"] = json!(format!("agent-{}", (day * 40 + k) % 97));
            lines.push(v.to_string());
            let mut c: serde_json::Value = serde_json::from_str(&done(
                &format!("{t}-c"),
                &(s + Duration::hours(3)).to_rfc3339(),
                &t,
                X,
                "KTP_EL",
                "issued",
            ))
            .expect("json");
            c["officer_id"] = json!(format!("petugas-{}", k % 6));
            lines.push(c.to_string());
        }
        feed(&mut e, &lines);
        if day % 30 == 29 {
            sizes.push((
                e.baselines.held(),
                e.agents.held(),
                e.officers.len(),
                e.transactions(),
            ));
        }
    }
    // After the first two months every store holds a constant-size window.
    let settled = &sizes[2..];
    for w in settled.windows(2) {
        let (a, b) = (w[0], w[1]);
        assert!(
            b.0 <= a.0 + 40 && b.1 <= a.1 + 40 && b.2 <= a.2 + 1 && b.3 <= a.3 + 40,
            "{sizes:?}"
        );
    }
    assert!(
        sizes
            .iter()
            .all(|s| s.0 <= 31 * 40 && s.1 <= 8 * 40 && s.2 <= 2),
        "{sizes:?}"
    );
}
