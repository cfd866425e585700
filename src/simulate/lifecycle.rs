//! One simulated transaction: its events (clean, or with one injected fault) and
//! the alerts the contract says they must raise, worked out over the complete,
//! time-sorted story rather than by the streaming engine's code path.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, NaiveTime, TimeZone, Timelike, Utc};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::json;

use super::offices::{OFFICES, OfficeDef};
use super::{SimEvent, SimulatorConfig};
use crate::reference::{Reference, Service, Tariff};
use crate::time::Sla;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    FreeFeeCash,
    FreeFeeOfficial,
    FreeFeeAfterCompletion,
    AboveTariff,
    AboveTariffSplit,
    Unreceipted,
    CashForNonCash,
    DuplicateReceipt,
    SlaLate,
    Overdue,
    RejectThenPay,
    OffHours,
}

#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Submitted {
        channel: &'static str,
        applicant: String,
        agent: Option<String>,
        assessed_fee: Option<u64>,
    },
    Payment {
        amount: u64,
        method: &'static str,
        payee: &'static str,
        receipt: Option<String>,
    },
    Status(&'static str),
    Completed(&'static str),
    Cancelled,
}

#[derive(Debug, Clone)]
pub(crate) struct Ev {
    pub at: DateTime<FixedOffset>,
    pub officer: Option<String>,
    pub kind: Kind,
}

pub(crate) struct SimTxn {
    pub id: String,
    pub office: &'static OfficeDef,
    pub service: Service,
    pub use_z: bool,
    pub events: Vec<Ev>,
    pub deadline: DateTime<Utc>,
    pub expected_fee: Option<u64>,
    fault: Option<Fault>,
    /// Labels that need the whole workload (duplicate receipts).
    pub extra_labels: Vec<&'static str>,
    hours_ok: Box<dyn Fn(DateTime<FixedOffset>) -> bool>,
}

pub(crate) struct Generator {
    cfg: SimulatorConfig,
    reference: Arc<Reference>,
    receipt_counters: HashMap<&'static str, u64>,
    total_weight: u32,
    /// Submissions of the block being generated fall on these days.
    first_day: NaiveDate,
    days: u32,
}

const NON_CASH: &[&str] = &["billing_code", "virtual_account", "bank_transfer", "qris"];

fn minutes(m: i64) -> Duration {
    Duration::minutes(m)
}

impl Generator {
    pub fn new(cfg: SimulatorConfig, reference: Arc<Reference>) -> Self {
        Generator {
            first_day: cfg.start,
            days: cfg.days,
            cfg,
            reference,
            receipt_counters: HashMap::new(),
            total_weight: OFFICES.iter().map(|o| o.weight).sum(),
        }
    }

    /// Submissions generated from now on fall on `days` days from `first_day`.
    pub fn set_days(&mut self, first_day: NaiveDate, days: u32) {
        self.first_day = first_day;
        self.days = days.max(1);
    }

    fn pick_office(&self, rng: &mut impl Rng) -> &'static OfficeDef {
        let mut x = rng.random_range(0..self.total_weight);
        for o in OFFICES {
            if x < o.weight {
                return o;
            }
            x -= o.weight;
        }
        &OFFICES[0]
    }

    fn receipt(&mut self, office: &'static OfficeDef, at: DateTime<FixedOffset>) -> String {
        let n = self.receipt_counters.entry(office.id).or_insert(0);
        *n += 1;
        // Numbered per office, so other offices reuse the same numbers: a benign look-alike.
        format!("KW-{}-{:06}", at.format("%Y%m"), n)
    }

    pub fn transaction(&mut self, rng: &mut impl Rng, n: usize) -> SimTxn {
        let reference = Arc::clone(&self.reference);
        let reference = &*reference;
        let office = self.pick_office(rng);
        // The first service of an office takes half its traffic: a busy counter
        // gives the weekly officer windows enough completions to judge.
        let code = if rng.random_bool(0.5) {
            office.services[0]
        } else {
            *office.services.choose(rng).expect("office has services")
        };
        let service = reference
            .services
            .get(code)
            .expect("checked in generate")
            .clone();
        let offset = FixedOffset::east_opt(office.offset_h * 3600).expect("valid offset");
        let ctx = reference.office(office.id, offset);
        let zone = ctx.zone;
        let regional = ctx.regional_holidays.cloned();
        let hours = ctx.hours.clone();
        let calendar = reference.calendar.clone();
        let working = {
            let calendar = calendar.clone();
            let regional = regional.clone();
            move |d: NaiveDate| calendar.is_working_day(d, regional.as_ref())
        };
        let same_day = service.sla == Sla::WorkingDays(0);
        let local = |d: NaiveDate, t: NaiveTime| {
            offset
                .from_local_datetime(&d.and_time(t))
                .single()
                .expect("fixed offset")
        };
        let hm = |h: u32, m: u32| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        let secs_between = |rng: &mut dyn rand::RngCore, a: NaiveTime, b: NaiveTime| -> NaiveTime {
            let (a, b) = (a.num_seconds_from_midnight(), b.num_seconds_from_midnight());
            let s = if b > a { rng.random_range(a..b) } else { a };
            NaiveTime::from_num_seconds_from_midnight_opt(s, 0).expect("valid time")
        };
        let officers: Vec<String> = (0..office.officers)
            .map(|k| format!("ofc-{}-{k:02}", office.id.to_lowercase()))
            .collect();
        let officer = |rng: &mut dyn rand::RngCore| officers.choose(rng).cloned();
        // The officer who verifies and completes the case. Officer 01 of every office
        // is busy and clean (a benign look-alike); officer 00 of some offices takes
        // irregular payments far more often than the peers.
        let handler_k = match rng.random_range(0..office.officers + 2) {
            k if k >= office.officers => 1.min(office.officers - 1),
            k => k,
        };
        let handler = officers.get(handler_k as usize).cloned();
        let corrupt = handler_k == 0 && office.corrupt_officer;
        let busy_clean = handler_k == 1;

        let mut day = self.first_day + Duration::days(rng.random_range(0..i64::from(self.days)));
        let channel = if service.automated {
            "online"
        } else {
            *[
                "counter", "counter", "counter", "counter", "counter", "counter", "counter",
                "online", "online", "mobile",
            ]
            .choose(rng)
            .expect("non-empty")
        };
        let in_person = channel == "counter" || same_day;
        if in_person && !service.automated {
            day = calendar.working_day_on_or_after(day, regional.as_ref());
        }
        let opening = |d: NaiveDate| hours.opening(chrono::Datelike::weekday(&d));
        let t0_time = if service.automated {
            secs_between(rng, hm(0, 5), hm(22, 30))
        } else if in_person {
            let o = opening(day).expect("working day has hours");
            let latest = if same_day {
                hm(11, 30)
            } else {
                o.close - minutes(30)
            };
            secs_between(rng, o.open + minutes(10), latest)
        } else {
            secs_between(rng, hm(6, 0), hm(22, 0))
        };
        let t0 = local(day, t0_time);
        let deadline = calendar.deadline(t0.to_utc(), zone, service.sla, regional.as_ref());
        let last_day = zone.local(deadline - Duration::seconds(1)).date_naive();

        let assessed_fee = match (service.tariff, code) {
            (Tariff::Assessed, "STNK_PENGESAHAN") => {
                Some(*[25_000u64, 50_000].choose(rng).expect("non-empty"))
            }
            (Tariff::Assessed, "PBG") => Some(if rng.random_bool(0.1) {
                0
            } else {
                rng.random_range(5..80) * 100_000
            }),
            (Tariff::Assessed, _) => Some(rng.random_range(10..400) * 10_000 + 50_000),
            (Tariff::Fixed(_), "PASPOR_E10") if rng.random_bool(0.08) => Some(1_950_000),
            _ => None,
        };
        let expected_fee = assessed_fee.or(match service.tariff {
            Tariff::Fixed(f) => Some(f),
            Tariff::Assessed => None,
        });
        let expected = expected_fee.unwrap_or(0);

        let irregular_options: Vec<Fault> = if expected == 0 && !service.automated {
            vec![Fault::FreeFeeCash, Fault::FreeFeeOfficial]
        } else if expected > 0 {
            let mut o = vec![Fault::AboveTariff, Fault::AboveTariffSplit];
            if service.non_cash_required {
                o.push(Fault::CashForNonCash);
            }
            o
        } else {
            Vec::new()
        };
        let fault = if corrupt && !irregular_options.is_empty() && rng.random_bool(0.5) {
            irregular_options.choose(rng).copied()
        } else if busy_clean && rng.random_bool(0.8) {
            None
        } else if rng.random_bool(self.cfg.fault_rate.clamp(0.0, 1.0)) {
            let mut options: Vec<Fault> = Vec::new();
            if !service.automated {
                options.extend([
                    Fault::SlaLate,
                    Fault::Overdue,
                    Fault::RejectThenPay,
                    Fault::OffHours,
                ]);
                if expected == 0 {
                    options.extend([
                        Fault::FreeFeeCash,
                        Fault::FreeFeeOfficial,
                        Fault::FreeFeeAfterCompletion,
                    ]);
                }
            }
            if expected > 0 {
                options.extend([
                    Fault::AboveTariff,
                    Fault::AboveTariffSplit,
                    Fault::Unreceipted,
                    Fault::DuplicateReceipt,
                ]);
                if service.non_cash_required {
                    options.push(Fault::CashForNonCash);
                }
            }
            options.choose(rng).copied()
        } else {
            None
        };

        // Completion: a time inside office hours on a working day up to the last
        // allowed day (or later, for an injected delay), after `earliest`.
        let earliest = t0
            + minutes(if fault == Some(Fault::RejectThenPay) {
                150
            } else {
                45
            });
        let completion = |rng: &mut dyn rand::RngCore,
                          from: NaiveDate,
                          to: NaiveDate|
         -> Option<DateTime<FixedOffset>> {
            let mut candidates = Vec::new();
            let mut d = from;
            while d <= to && candidates.len() < 8 {
                if working(d)
                    && let Some(o) = opening(d)
                {
                    let lo = if d == earliest.date_naive() {
                        earliest.time().max(o.open + minutes(15))
                    } else {
                        o.open + minutes(15)
                    };
                    let hi = o.close - minutes(20);
                    if d >= earliest.date_naive() && lo < hi {
                        candidates.push((d, lo, hi));
                    }
                }
                d = d.succ_opt()?;
            }
            let (d, lo, hi) = *candidates.choose(rng)?;
            Some(local(d, secs_between(rng, lo, hi)))
        };

        let mut events = vec![Ev {
            at: t0,
            officer: if channel == "counter" {
                officer(rng)
            } else {
                None
            },
            kind: Kind::Submitted {
                channel,
                applicant: format!("a-{:014x}", rng.random::<u64>() >> 8),
                agent: None,
                assessed_fee,
            },
        }];

        if service.automated {
            let tc = t0 + Duration::seconds(rng.random_range(30..1800));
            events.push(Ev {
                at: tc,
                officer: None,
                kind: Kind::Completed("issued"),
            });
            return self.finish(
                rng,
                n,
                office,
                service,
                events,
                deadline,
                expected_fee,
                fault,
            );
        }

        // Irregular payments that buy speed, and the legitimate look-alike: the
        // passport fast-track billed through `assessed_fee`.
        let fast_track = assessed_fee == Some(1_950_000);
        let buys_speed = fault.is_some_and(|f| irregular_options.contains(&f))
            && rng.random_bool(if corrupt { 0.6 } else { 0.3 });
        let mut tc = match fault {
            _ if fast_track || buys_speed => {
                completion(rng, day, day).or_else(|| completion(rng, day, last_day))
            }
            Some(Fault::SlaLate) => {
                let late_day = calendar.nth_working_day_after(
                    last_day,
                    rng.random_range(1..4),
                    regional.as_ref(),
                );
                completion(rng, late_day, late_day)
            }
            _ => completion(rng, day, last_day),
        };
        if fault == Some(Fault::OffHours) {
            // At night on an allowed day, or on a weekend or holiday before the deadline.
            let mut d = day;
            let mut off_days = Vec::new();
            while d <= last_day {
                if !working(d) && d > day {
                    off_days.push(d);
                }
                d = d.succ_opt().expect("valid date");
            }
            tc = if !off_days.is_empty() && rng.random_bool(0.5) {
                let d = *off_days.choose(rng).expect("non-empty");
                Some(local(d, secs_between(rng, hm(9, 0), hm(14, 0))))
            } else {
                let d = tc.map_or(day, |t| t.date_naive());
                let night = local(d, secs_between(rng, hm(19, 0), hm(22, 30)));
                (night > earliest && night.to_utc() < deadline).then_some(night)
            };
        }
        let Some(tc) = tc else {
            // No room for a completion in this calendar window: leave it open.
            return self.finish(
                rng,
                n,
                office,
                service,
                events,
                deadline,
                expected_fee,
                Some(Fault::Overdue),
            );
        };

        let mut pay_at = t0 + Duration::seconds(rng.random_range(60..480));
        if expected > 0 {
            let mut amount = expected;
            let mut method = *NON_CASH.choose(rng).expect("non-empty");
            let mut receipt = Some(self.receipt(office, pay_at));
            match fault {
                Some(Fault::AboveTariff) => amount += rng.random_range(5_001..200_000),
                Some(Fault::Unreceipted) => {
                    receipt = if rng.random_bool(0.5) {
                        None
                    } else {
                        Some(String::new())
                    }
                }
                Some(Fault::CashForNonCash) => method = "cash",
                None if rng.random_bool(0.05) => amount += rng.random_range(1..=5_000),
                _ => {}
            }
            events.push(Ev {
                at: pay_at,
                officer: None,
                kind: Kind::Payment {
                    amount,
                    method,
                    payee: "official",
                    receipt,
                },
            });
        }
        let span = tc - t0;
        match fault {
            Some(Fault::FreeFeeCash) | Some(Fault::AboveTariffSplit) => {
                pay_at = t0 + span / 3;
                let amount = rng.random_range(2..30) * 10_000;
                events.push(Ev {
                    at: pay_at,
                    officer: officer(rng),
                    kind: Kind::Payment {
                        amount,
                        method: "cash",
                        payee: "other",
                        receipt: None,
                    },
                });
            }
            Some(Fault::FreeFeeOfficial) => {
                pay_at = t0 + span / 3;
                let receipt = Some(self.receipt(office, pay_at));
                let amount = rng.random_range(1..20) * 10_000;
                events.push(Ev {
                    at: pay_at,
                    officer: None,
                    kind: Kind::Payment {
                        amount,
                        method: "qris",
                        payee: "official",
                        receipt,
                    },
                });
            }
            Some(Fault::FreeFeeAfterCompletion) => {
                let at = tc + Duration::hours(rng.random_range(20..240));
                let amount = rng.random_range(5..50) * 10_000;
                events.push(Ev {
                    at,
                    officer: officer(rng),
                    kind: Kind::Payment {
                        amount,
                        method: "cash",
                        payee: "other",
                        receipt: None,
                    },
                });
            }
            Some(Fault::RejectThenPay) => {
                let returned = t0 + minutes(rng.random_range(20..40));
                events.push(Ev {
                    at: returned,
                    officer: officer(rng),
                    kind: Kind::Status(if rng.random_bool(0.5) {
                        "returned"
                    } else {
                        "rejected"
                    }),
                });
                let at = returned + minutes(rng.random_range(10..60));
                let amount = rng.random_range(5..50) * 10_000;
                events.push(Ev {
                    at,
                    officer: None,
                    kind: Kind::Payment {
                        amount,
                        method: "cash",
                        payee: "other",
                        receipt: None,
                    },
                });
            }
            None if rng.random_bool(0.06) => {
                // Benign: returned for a fix, then approved with no irregular payment.
                events.push(Ev {
                    at: t0 + span / 4,
                    officer: officer(rng),
                    kind: Kind::Status("returned"),
                });
            }
            _ => {}
        }
        if fault == Some(Fault::Overdue) {
            events.push(Ev {
                at: t0 + span / 2,
                officer: officer(rng),
                kind: Kind::Status("verified"),
            });
            return self.finish(
                rng,
                n,
                office,
                service,
                events,
                deadline,
                expected_fee,
                fault,
            );
        }
        events.push(Ev {
            at: t0 + span / 2,
            officer: handler.clone(),
            kind: Kind::Status("verified"),
        });
        let roll: f64 = rng.random();
        if fault.is_none() && roll < 0.03 {
            events.push(Ev {
                at: tc,
                officer: None,
                kind: Kind::Cancelled,
            });
        } else if fault.is_none() && roll < 0.07 {
            events.push(Ev {
                at: tc - minutes(5),
                officer: handler.clone(),
                kind: Kind::Status("rejected"),
            });
            events.push(Ev {
                at: tc,
                officer: handler,
                kind: Kind::Completed("refused"),
            });
        } else {
            let approve_at = tc - Duration::seconds(rng.random_range(60..600));
            // Benign: an approval logged at night by the system (no officer).
            let (approve_at, approver) = if fault.is_none() && rng.random_bool(0.03) {
                (
                    local(approve_at.date_naive(), hm(2, 0))
                        .max(events.last().map_or(t0, |e| e.at) + minutes(1)),
                    None,
                )
            } else {
                (approve_at, handler.clone())
            };
            events.push(Ev {
                at: approve_at,
                officer: approver,
                kind: Kind::Status("approved"),
            });
            events.push(Ev {
                at: tc,
                officer: handler,
                kind: Kind::Completed("issued"),
            });
        }
        self.finish(
            rng,
            n,
            office,
            service,
            events,
            deadline,
            expected_fee,
            fault,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &self,
        rng: &mut impl Rng,
        n: usize,
        office: &'static OfficeDef,
        service: Service,
        mut events: Vec<Ev>,
        deadline: DateTime<Utc>,
        expected_fee: Option<u64>,
        fault: Option<Fault>,
    ) -> SimTxn {
        events.sort_by_key(|e| e.at);
        let zone_name_default = office.offset_h == 7 && !office.catalogued;
        let use_z = (office.catalogued || zone_name_default) && rng.random_bool(0.08);
        let offset = FixedOffset::east_opt(office.offset_h * 3600).expect("valid offset");
        let ctx = self.reference.office(office.id, offset);
        let (calendar, regional, hours) = (
            self.reference.calendar.clone(),
            ctx.regional_holidays.cloned(),
            ctx.hours.clone(),
        );
        let zone = ctx.zone;
        SimTxn {
            id: format!("TX{:07}", n + 1),
            office,
            service,
            use_z,
            events,
            deadline,
            expected_fee,
            fault,
            extra_labels: Vec::new(),
            hours_ok: Box::new(move |t| {
                let local = zone.local(t.to_utc());
                let holiday = calendar.is_holiday(local.date_naive(), regional.as_ref());
                hours.is_open(local.naive_local(), holiday)
            }),
        }
    }

    /// Gives each `DuplicateReceipt` transaction the receipt number of an earlier
    /// payment at the same office, then labels every reuse found in the workload.
    pub fn assign_duplicate_receipts(&self, rng: &mut impl Rng, txns: &mut [SimTxn]) {
        let mut by_office: HashMap<&str, Vec<(DateTime<FixedOffset>, String)>> = HashMap::new();
        for t in txns
            .iter()
            .filter(|t| t.fault != Some(Fault::DuplicateReceipt))
        {
            for e in &t.events {
                if let Kind::Payment {
                    receipt: Some(r), ..
                } = &e.kind
                    && !r.is_empty()
                {
                    by_office
                        .entry(t.office.id)
                        .or_default()
                        .push((e.at, r.clone()));
                }
            }
        }
        for pool in by_office.values_mut() {
            pool.sort();
        }
        for t in txns
            .iter_mut()
            .filter(|t| t.fault == Some(Fault::DuplicateReceipt))
        {
            let Some(pool) = by_office.get(t.office.id) else {
                continue;
            };
            for e in &mut t.events {
                if let Kind::Payment {
                    receipt: Some(r), ..
                } = &mut e.kind
                {
                    let earlier = &pool[..pool.partition_point(|(at, _)| *at < e.at)];
                    if let Some((_, donor)) = earlier.choose(rng) {
                        *r = donor.clone();
                    }
                }
            }
        }
        // Label every (office, receipt) reuse by a later, different transaction.
        let mut uses: Vec<(&str, String, DateTime<Utc>, usize)> = Vec::new();
        for (i, t) in txns.iter().enumerate() {
            for e in &t.events {
                if let Kind::Payment {
                    receipt: Some(r), ..
                } = &e.kind
                    && !r.is_empty()
                {
                    uses.push((t.office.id, r.clone(), e.at.to_utc(), i));
                }
            }
        }
        uses.sort();
        let mut labelled = BTreeSet::new();
        // Index of the earliest use of the current (office, receipt).
        let mut first = 0;
        for i in 1..uses.len() {
            let (a, b) = (&uses[i - 1], &uses[i]);
            if a.0 != b.0 || a.1 != b.1 {
                first = i;
            } else if b.2 - a.2 <= Duration::days(365) && uses[first].3 != b.3 {
                labelled.insert(b.3);
            }
        }
        for i in labelled {
            txns[i].extra_labels.push("duplicate_receipt");
        }
    }
}

impl SimTxn {
    fn time(&self, t: DateTime<FixedOffset>) -> String {
        if self.use_z {
            t.to_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
        }
    }

    pub fn render(&self) -> Vec<SimEvent> {
        self.events
            .iter()
            .enumerate()
            .map(|(k, e)| {
                let mut v = json!({
                    "schema_version": "1",
                    "event_id": format!("{}-{}", self.id, k + 1),
                    "occurred_at": self.time(e.at),
                    "transaction_id": self.id,
                    "office_id": self.office.id,
                    "service_code": self.service.code.as_str(),
                    "officer_id": e.officer,
                });
                let m = v.as_object_mut().expect("object");
                let mut set = |k: &str, val: serde_json::Value| {
                    m.insert(k.to_owned(), val);
                };
                match &e.kind {
                    Kind::Submitted {
                        channel,
                        applicant,
                        agent,
                        assessed_fee,
                    } => {
                        set("event_type", json!("submitted"));
                        set("channel", json!(channel));
                        set("applicant_ref", json!(applicant));
                        set("agent_ref", json!(agent));
                        if let Some(f) = assessed_fee {
                            set("assessed_fee", json!(f));
                        }
                    }
                    Kind::Payment {
                        amount,
                        method,
                        payee,
                        receipt,
                    } => {
                        set("event_type", json!("payment"));
                        set("amount", json!(amount));
                        set("method", json!(method));
                        set("payee", json!(payee));
                        set("receipt_no", json!(receipt));
                    }
                    Kind::Status(s) => {
                        set("event_type", json!("status_changed"));
                        set("status", json!(s));
                        set("reason", json!(null));
                    }
                    Kind::Completed(o) => {
                        set("event_type", json!("completed"));
                        set("outcome", json!(o));
                    }
                    Kind::Cancelled => set("event_type", json!("cancelled")),
                }
                SimEvent {
                    at: e.at,
                    json: v.to_string(),
                }
            })
            .collect()
    }

    /// The typologies this transaction must raise, by the definitions of
    /// typologies.md applied to its complete story (spec default parameters).
    pub fn labels(&self, max_t: DateTime<Utc>) -> Vec<&'static str> {
        const TOLERANCE: u64 = 5_000;
        let mut out: Vec<&'static str> = self.extra_labels.clone();
        let expected = self.expected_fee;
        let mut total = 0u64;
        let mut paid_any = false;
        let mut last_reject: Option<DateTime<FixedOffset>> = None;
        let mut reject_pay: Option<DateTime<FixedOffset>> = None;
        let mut closed: Option<(DateTime<FixedOffset>, &str)> = None;
        for e in &self.events {
            match &e.kind {
                Kind::Payment {
                    amount,
                    method,
                    payee,
                    receipt,
                } => {
                    total += amount;
                    paid_any = true;
                    let no_receipt = receipt.as_deref().is_none_or(str::is_empty);
                    if no_receipt {
                        out.push("unreceipted_payment");
                    }
                    if *payee == "other" || (*method == "cash" && self.service.non_cash_required) {
                        out.push("unofficial_channel");
                    }
                    let irregular = *payee == "other"
                        || no_receipt
                        || expected.is_some_and(|f| f == 0 || total > f + TOLERANCE);
                    if irregular && let Some(r) = last_reject {
                        reject_pay = Some(r);
                    }
                }
                Kind::Status(s) => {
                    if *s == "returned" || *s == "rejected" {
                        last_reject = Some(e.at);
                    }
                    if *s == "approved" {
                        self.check_rtp(reject_pay, e.at, &mut out);
                        self.check_off_hours(e, &mut out);
                    }
                }
                Kind::Completed(o) => {
                    if *o == "issued" {
                        self.check_rtp(reject_pay, e.at, &mut out);
                        self.check_off_hours(e, &mut out);
                    }
                    closed.get_or_insert((e.at, o));
                }
                Kind::Cancelled => {
                    closed.get_or_insert((e.at, "cancelled"));
                }
                Kind::Submitted { .. } => {}
            }
        }
        match expected {
            Some(0) if paid_any => out.push("fee_on_free_service"),
            Some(f) if f > 0 && total > f + TOLERANCE => out.push("fee_above_tariff"),
            _ => {}
        }
        if let Some((at, kind)) = closed
            && kind != "cancelled"
            && at.to_utc() > self.deadline
        {
            out.push("sla_breach");
        }
        let closed_in_time = closed.is_some_and(|(at, _)| at.to_utc() <= self.deadline);
        if !closed_in_time && self.deadline < max_t {
            out.push("overdue_open");
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// When the transaction first became irregular (typologies.md): the payment
    /// that made it pay on a free service, above the tariff plus tolerance, to an
    /// unofficial payee, or in cash where non-cash is required.
    pub fn irregular_since(&self) -> Option<DateTime<FixedOffset>> {
        const TOLERANCE: u64 = 5_000;
        let mut total = 0u64;
        for e in &self.events {
            if let Kind::Payment {
                amount,
                method,
                payee,
                ..
            } = &e.kind
            {
                total += amount;
                let fee = match self.expected_fee {
                    Some(0) => *amount > 0,
                    Some(f) => total > f + TOLERANCE,
                    None => false,
                };
                let channel =
                    *payee == "other" || (*method == "cash" && self.service.non_cash_required);
                if fee || channel {
                    return Some(e.at);
                }
            }
        }
        None
    }

    pub fn submitted_at(&self) -> Option<DateTime<FixedOffset>> {
        self.events
            .iter()
            .find(|e| matches!(e.kind, Kind::Submitted { .. }))
            .map(|e| e.at)
    }

    /// The first closing event, when it is an `issued` completion: its time and officer.
    pub fn issued(&self) -> Option<(DateTime<FixedOffset>, Option<&str>)> {
        let close = self
            .events
            .iter()
            .find(|e| matches!(e.kind, Kind::Completed(_) | Kind::Cancelled))?;
        matches!(close.kind, Kind::Completed("issued"))
            .then_some((close.at, close.officer.as_deref()))
    }

    /// The applicant and agent of the submission.
    pub fn submission(&self) -> Option<(&str, Option<&str>)> {
        self.events.iter().find_map(|e| match &e.kind {
            Kind::Submitted {
                applicant, agent, ..
            } => Some((applicant.as_str(), agent.as_deref())),
            _ => None,
        })
    }

    /// The applicant and agent fields of the submission.
    pub fn applicant_mut(&mut self) -> Option<(&mut String, &mut Option<String>)> {
        self.events.iter_mut().find_map(|e| match &mut e.kind {
            Kind::Submitted {
                applicant, agent, ..
            } => Some((applicant, agent)),
            _ => None,
        })
    }

    fn check_rtp(
        &self,
        reject_pay: Option<DateTime<FixedOffset>>,
        at: DateTime<FixedOffset>,
        out: &mut Vec<&'static str>,
    ) {
        if let Some(r) = reject_pay
            && at - r <= Duration::days(30)
        {
            out.push("reject_then_pay");
        }
    }

    fn check_off_hours(&self, e: &Ev, out: &mut Vec<&'static str>) {
        if e.officer.is_some() && !self.service.automated && !(self.hours_ok)(e.at) {
            out.push("off_hours_processing");
        }
    }
}

/// The n-th invalid line (cycling through every rejection reason) and its reason.
pub(crate) fn invalid_line(n: usize, start: NaiveDate) -> (String, &'static str) {
    let id = format!("INVALID-{n}");
    let at = format!("{start}T10:00:00+07:00");
    let base = |event_type: &str| {
        json!({
            "schema_version": "1", "event_id": format!("{id}-e"), "event_type": event_type,
            "occurred_at": at, "transaction_id": id, "office_id": "DUKCAPIL-3273", "service_code": "KTP_EL",
        })
    };
    let payment = || {
        let mut v = base("payment");
        v["amount"] = json!(150_000);
        v["method"] = json!("cash");
        v["payee"] = json!("other");
        v["receipt_no"] = json!(null);
        v
    };
    let submitted = || {
        let mut v = base("submitted");
        v["channel"] = json!("counter");
        v["applicant_ref"] = json!("a-9f3c2");
        v
    };
    match n % 11 {
        0 => (
            format!("{{\"schema_version\":\"1\",\"event_id\":\"{id}-e\",\"event_type\":\"paym"),
            "invalid_json",
        ),
        1 => {
            let mut v = payment();
            v.as_object_mut().expect("object").remove("transaction_id");
            (v.to_string(), "missing_field")
        }
        2 => {
            let mut v = payment();
            v["amount"] = json!("150000");
            (v.to_string(), "wrong_type")
        }
        3 => {
            let mut v = payment();
            v["method"] = json!("crypto");
            (v.to_string(), "invalid_enum")
        }
        4 => {
            let mut v = payment();
            v["amount"] = json!(-5000);
            (v.to_string(), "invalid_amount")
        }
        5 => {
            let mut v = submitted();
            v["occurred_at"] = json!(format!("{start}T10:00:00"));
            (v.to_string(), "naive_timestamp")
        }
        6 => {
            let mut v = submitted();
            v["applicant_ref"] = json!("3273012345678901");
            (v.to_string(), "raw_nik")
        }
        7 => {
            let mut v = submitted();
            v["schema_version"] = json!("2");
            (v.to_string(), "unsupported_schema_version")
        }
        8 => ("[1,2,3]".to_owned(), "not_an_object"),
        9 => {
            let mut v = payment();
            v["amount"] = json!(1500.5);
            (v.to_string(), "invalid_amount")
        }
        _ => {
            let mut v = submitted();
            v.as_object_mut().expect("object").remove("channel");
            (v.to_string(), "missing_field")
        }
    }
}
