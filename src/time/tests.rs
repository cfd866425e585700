use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Timelike, Utc};
use proptest::prelude::*;

use super::*;

/// The shipped holiday file through the production policy switch for cuti bersama.
fn calendar(cuti_bersama_working: bool) -> Calendar {
    let csv = include_str!("../../pipelines/reference/holidays-id.csv");
    let hs = crate::reference::holidays::parse(csv, std::path::Path::new("holidays-id.csv"))
        .expect("valid");
    crate::reference::Reference::new(
        Default::default(),
        Default::default(),
        &hs,
        cuti_bersama_working,
        OfficeHours::default(),
        chrono_tz::Asia::Jakarta,
    )
    .calendar
}

fn holidays_2026() -> Calendar {
    calendar(false)
}

fn national_only() -> Calendar {
    calendar(true)
}

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("valid").to_utc()
}

fn wib() -> Zone {
    Zone::Named(chrono_tz::Asia::Jakarta)
}

fn show(d: DateTime<Utc>, z: Zone) -> String {
    z.local(d).to_rfc3339()
}

#[test]
fn one_working_day_ends_at_midnight_of_the_next_working_day() {
    let c = holidays_2026();
    // Monday → end of Tuesday.
    let d = c.deadline(
        t("2026-03-02T09:15:00+07:00"),
        wib(),
        Sla::WorkingDays(1),
        None,
    );
    assert_eq!(show(d, wib()), "2026-03-04T00:00:00+07:00");
    // Friday → end of Monday.
    let d = c.deadline(
        t("2026-03-06T15:00:00+07:00"),
        wib(),
        Sla::WorkingDays(1),
        None,
    );
    assert_eq!(show(d, wib()), "2026-03-10T00:00:00+07:00");
}

#[test]
fn nyepi_and_idulfitri_2026_push_the_deadline() {
    // Tue 17 Mar; 18 cuti, 19 Nyepi, 20 cuti, 21-22 Idulfitri (weekend), 23-24 cuti.
    let d = holidays_2026().deadline(
        t("2026-03-17T10:00:00+07:00"),
        wib(),
        Sla::WorkingDays(1),
        None,
    );
    assert_eq!(show(d, wib()), "2026-03-26T00:00:00+07:00");
    // With cuti bersama counted as working days, the 18th is the next working day.
    let d = national_only().deadline(
        t("2026-03-17T10:00:00+07:00"),
        wib(),
        Sla::WorkingDays(1),
        None,
    );
    assert_eq!(show(d, wib()), "2026-03-19T00:00:00+07:00");
}

#[test]
fn working_days_between_skips_weekends_holidays_and_the_first_day() {
    let c = holidays_2026();
    let d = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date");
    // Tue 17 Mar to Thu 26 Mar 2026: 18 to 24 are holidays, cuti bersama or weekend.
    assert_eq!(
        c.working_days_between(d("2026-03-17"), d("2026-03-26"), None),
        2
    );
    assert_eq!(
        c.working_days_between(d("2026-03-17"), d("2026-03-17"), None),
        0
    );
    // Fri to Mon: the weekend does not count, Monday does.
    assert_eq!(
        c.working_days_between(d("2026-03-06"), d("2026-03-09"), None),
        1
    );
    // Backwards is zero, not negative.
    assert_eq!(
        c.working_days_between(d("2026-03-09"), d("2026-03-06"), None),
        0
    );
    let regional: BTreeSet<NaiveDate> = [d("2026-03-09")].into();
    assert_eq!(
        c.working_days_between(d("2026-03-06"), d("2026-03-09"), Some(&regional)),
        0
    );
}

#[test]
fn same_day_service_ends_today_or_on_the_next_working_day() {
    let c = holidays_2026();
    let d = c.deadline(
        t("2026-03-02T09:00:00+07:00"),
        wib(),
        Sla::WorkingDays(0),
        None,
    );
    assert_eq!(show(d, wib()), "2026-03-03T00:00:00+07:00");
    // Saturday → end of Monday.
    let d = c.deadline(
        t("2026-03-07T09:00:00+07:00"),
        wib(),
        Sla::WorkingDays(0),
        None,
    );
    assert_eq!(show(d, wib()), "2026-03-10T00:00:00+07:00");
    // Imlek cuti (Mon 16 Feb) and Imlek (Tue 17 Feb): Sunday 15th → end of Wednesday 18th.
    let d = c.deadline(
        t("2026-02-15T09:00:00+07:00"),
        wib(),
        Sla::WorkingDays(0),
        None,
    );
    assert_eq!(show(d, wib()), "2026-02-19T00:00:00+07:00");
}

#[test]
fn hour_standards_ignore_the_calendar() {
    let d = holidays_2026().deadline(t("2026-03-19T10:00:00+07:00"), wib(), Sla::Hours(24), None);
    assert_eq!(d, t("2026-03-20T10:00:00+07:00"));
}

#[test]
fn the_local_date_decides_across_zones() {
    let c = holidays_2026();
    // 23:30 WIB on Monday is already Tuesday 01:30 in WIT.
    let at = t("2026-03-02T23:30:00+07:00");
    let wit = Zone::Named(chrono_tz::Asia::Jayapura);
    assert_eq!(
        show(c.deadline(at, wib(), Sla::WorkingDays(1), None), wib()),
        "2026-03-04T00:00:00+07:00"
    );
    assert_eq!(
        show(c.deadline(at, wit, Sla::WorkingDays(1), None), wit),
        "2026-03-05T00:00:00+09:00"
    );
    let fixed = Zone::Fixed(FixedOffset::east_opt(8 * 3600).expect("valid"));
    assert_eq!(
        show(c.deadline(at, fixed, Sla::WorkingDays(1), None), fixed),
        "2026-03-05T00:00:00+08:00"
    );
}

#[test]
fn regional_holidays_count_only_where_given() {
    let c = holidays_2026();
    let regional: BTreeSet<NaiveDate> =
        [NaiveDate::from_ymd_opt(2026, 3, 3).expect("valid")].into();
    let d = c.deadline(
        t("2026-03-02T09:00:00+07:00"),
        wib(),
        Sla::WorkingDays(1),
        Some(&regional),
    );
    assert_eq!(show(d, wib()), "2026-03-05T00:00:00+07:00");
}

#[test]
fn office_hours_boundaries() {
    let h = OfficeHours::default();
    let at =
        |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").expect("valid");
    assert!(!h.is_open(at("2026-03-02 07:29:59"), false));
    assert!(h.is_open(at("2026-03-02 07:30:00"), false));
    assert!(h.is_open(at("2026-03-02 15:59:59"), false));
    assert!(!h.is_open(at("2026-03-02 16:00:00"), false));
    // Friday closes at 16:30.
    assert!(h.is_open(at("2026-03-06 16:15:00"), false));
    assert!(!h.is_open(at("2026-03-06 16:30:00"), false));
    // Weekends and holidays are closed all day.
    assert!(!h.is_open(at("2026-03-07 10:00:00"), false));
    assert!(!h.is_open(at("2026-03-02 10:00:00"), true));
    assert_eq!(h.describe(), "Mon-Thu 07:30-16:00, Fri 07:30-16:30");
}

#[test]
fn office_hours_parse_errors_are_clear() {
    assert!(
        Opening::try_from("16:00-07:30".to_owned())
            .unwrap_err()
            .contains("after")
    );
    assert!(
        Opening::try_from("7.30-16".to_owned())
            .unwrap_err()
            .contains("HH:MM")
    );
}

fn arb_sla() -> impl Strategy<Value = Sla> {
    prop_oneof![
        (0u32..30).prop_map(Sla::WorkingDays),
        (1u32..200).prop_map(Sla::Hours)
    ]
}

fn arb_zone() -> impl Strategy<Value = Zone> {
    prop_oneof![
        Just(Zone::Named(chrono_tz::Asia::Jakarta)),
        Just(Zone::Named(chrono_tz::Asia::Makassar)),
        Just(Zone::Named(chrono_tz::Asia::Jayapura)),
        (-12i32..=14).prop_map(|h| Zone::Fixed(FixedOffset::east_opt(h * 3600).expect("valid"))),
    ]
}

fn arb_instant() -> impl Strategy<Value = DateTime<Utc>> {
    // 2025-01-01 .. 2026-12-31
    (1_735_689_600i64..1_798_761_600).prop_map(|s| DateTime::from_timestamp(s, 0).expect("valid"))
}

proptest! {
    #[test]
    fn working_day_deadlines_fall_at_midnight_after_a_working_day(
        at in arb_instant(), n in 0u32..30, zone in arb_zone()
    ) {
        let c = holidays_2026();
        let d = c.deadline(at, zone, Sla::WorkingDays(n), None);
        let local = zone.local(d);
        prop_assert_eq!((local.hour(), local.minute(), local.second()), (0, 0, 0));
        let last = local.date_naive().pred_opt().expect("valid");
        prop_assert!(c.is_working_day(last, None));
        prop_assert!(d > at);
        // The deadline spends exactly N working days after the submission day (N ≥ 1).
        if n >= 1 {
            let d0 = zone.local(at).date_naive();
            let mut count = 0;
            let mut day = d0.succ_opt().expect("valid");
            while day <= last {
                if c.is_working_day(day, None) { count += 1; }
                day = day.succ_opt().expect("valid");
            }
            prop_assert_eq!(count, n);
            prop_assert_eq!(c.working_days_between(d0, last, None), i64::from(n));
        }
    }

    #[test]
    fn adding_a_holiday_never_makes_a_deadline_earlier(
        at in arb_instant(), sla in arb_sla(), zone in arb_zone(), extra in 0i64..730
    ) {
        let c = holidays_2026();
        let day = NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid") + chrono::Duration::days(extra);
        let regional: BTreeSet<NaiveDate> = [day].into();
        let before = c.deadline(at, zone, sla, None);
        let after = c.deadline(at, zone, sla, Some(&regional));
        prop_assert!(after >= before);
    }

    #[test]
    fn a_longer_standard_never_ends_earlier(at in arb_instant(), n in 0u32..29, zone in arb_zone()) {
        let c = holidays_2026();
        let (longer, shorter) = (c.deadline(at, zone, Sla::WorkingDays(n + 1), None), c.deadline(at, zone, Sla::WorkingDays(n), None));
        // From a non-working day, "same day" and "1 working day" both end on the next working day.
        if n == 0 { prop_assert!(longer >= shorter) } else { prop_assert!(longer > shorter) }
    }

    #[test]
    fn weekends_are_never_working_days(day in 0i64..730) {
        let d = NaiveDate::from_ymd_opt(2025, 1, 1).expect("valid") + chrono::Duration::days(day);
        let weekend = d.weekday().number_from_monday() >= 6;
        prop_assert!(!(weekend && holidays_2026().is_working_day(d, None)));
    }
}
