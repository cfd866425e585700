//! The cross-transaction part of the workload: intermediaries ("calo") filing
//! for many applicants, and the labels of the windowed typologies, worked out over
//! the complete workload by the definitions of typologies.md (spec defaults), not
//! by the engine's streaming code.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveTime, TimeZone, Utc};
use rand::Rng;
use rand::seq::SliceRandom;

use super::ExpectedAlert;
use super::lifecycle::SimTxn;

const IRREGULAR: [&str; 3] = [
    "fee_on_free_service",
    "fee_above_tariff",
    "unofficial_channel",
];

/// Gives some transactions an `agent_ref`: brokers who file for 5 to 8 distinct
/// applicants within six days, and benign look-alikes below the threshold (a few
/// applicants, one applicant filing repeatedly, or a steady pace over weeks).
/// `tag` keeps the names of one block of the workload apart from another's.
pub fn assign_agents(rng: &mut impl Rng, txns: &mut [SimTxn], tag: &str) {
    if txns.is_empty() {
        // A block can be empty when there are fewer transactions than blocks.
        return;
    }
    let submitted: Vec<Option<DateTime<FixedOffset>>> =
        txns.iter().map(SimTxn::submitted_at).collect();
    let mut order: Vec<usize> = (0..txns.len()).collect();
    order.sort_by_key(|&i| (submitted[i].map(|t| t.to_utc()), i));
    // Submission times in `order`'s order (those without one first).
    let sorted: Vec<Option<DateTime<Utc>>> = order
        .iter()
        .map(|&i| submitted[i].map(|t| t.to_utc()))
        .collect();
    let mut taken = vec![false; txns.len()];
    let brokers = (txns.len() / 2500).max(2);
    let benign = (txns.len() / 1000).max(4);
    // Candidates near `order[pos]` at the same office, within `span` of it.
    let near = |txns: &[SimTxn], taken: &[bool], pos: usize, span: Duration| -> Vec<usize> {
        let anchor = order[pos];
        let Some(t0) = sorted[pos] else {
            return Vec::new();
        };
        let end = pos + sorted[pos..].partition_point(|t| t.is_some_and(|t| t - t0 <= span));
        order[pos..end]
            .iter()
            .copied()
            .filter(|&i| !taken[i] && txns[i].office.id == txns[anchor].office.id)
            .collect()
    };
    let assign = |txns: &mut [SimTxn], taken: &mut [bool], picks: &[usize], agent: &str| {
        for &i in picks {
            taken[i] = true;
            if let Some((_, a)) = txns[i].applicant_mut() {
                *a = Some(agent.to_owned());
            }
        }
    };
    for b in 0..brokers + benign * 3 {
        let pos = rng.random_range(0..order.len());
        let kind = if b < brokers {
            0
        } else {
            1 + (b - brokers) % 3
        };
        match kind {
            0 => {
                let mut c = near(txns, &taken, pos, Duration::days(6));
                if c.len() < 5 {
                    continue;
                }
                c.shuffle(rng);
                c.truncate(rng.random_range(5..=8));
                assign(txns, &mut taken, &c, &format!("calo-{tag}{b:03}"));
            }
            1 => {
                let mut c = near(txns, &taken, pos, Duration::days(6));
                c.shuffle(rng);
                c.truncate(rng.random_range(2..=4));
                assign(txns, &mut taken, &c, &format!("biro-{tag}{b:03}"));
            }
            2 => {
                // Five filings, two for the same applicant: four distinct.
                let mut c = near(txns, &taken, pos, Duration::days(6));
                if c.len() < 5 {
                    continue;
                }
                c.shuffle(rng);
                c.truncate(5);
                let repeat = txns[c[0]].applicant_mut().map(|(a, _)| a.clone());
                if let (Some(r), Some((a, _))) = (repeat, txns[c[1]].applicant_mut()) {
                    *a = r;
                }
                assign(txns, &mut taken, &c, &format!("keluarga-{tag}{b:03}"));
            }
            _ => {
                // A steady intermediary: one filing every 2-3 days, never 5 in 7 days.
                let mut picks = Vec::new();
                let mut last: Option<DateTime<FixedOffset>> = None;
                for &i in &order[pos..] {
                    if picks.len() == 8 {
                        break;
                    }
                    let Some(t) = submitted[i] else {
                        continue;
                    };
                    if !taken[i] && last.is_none_or(|l| t - l >= Duration::days(2)) {
                        picks.push(i);
                        last = Some(t + Duration::hours(rng.random_range(0..24)));
                    }
                }
                assign(txns, &mut taken, &picks, &format!("notaris-{tag}{b:03}"));
            }
        }
    }
}

fn time_key(t: DateTime<FixedOffset>, use_z: bool) -> String {
    let t = if use_z {
        t.with_timezone(&FixedOffset::east_opt(0).expect("utc"))
    } else {
        t
    };
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// Labels of `broker_activity`, `speed_money` and `officer_outlier`, worked out
/// block by block: a label is given once every transaction that can change it has
/// been generated, so the workload never has to be held whole.
#[derive(Default)]
pub struct Labeller {
    /// (office, service) -> (completion, duration in seconds) of issued
    /// transactions, oldest first, pruned to what pending judgements can still see.
    baselines: HashMap<(&'static str, String), Completions>,
    /// Irregular issued transactions waiting for their complete baseline.
    pending_speed: Vec<PendingSpeed>,
    /// (office, service, window start) -> officer -> (issued, irregular).
    weeks: BTreeMap<Week, BTreeMap<String, (u32, u32)>>,
}

struct PendingSpeed {
    office: &'static str,
    service: String,
    submitted: DateTime<Utc>,
    completed: DateTime<Utc>,
    id: String,
}

type Week = (String, String, DateTime<FixedOffset>);

/// (completion, duration in seconds), oldest first.
type Completions = Vec<(DateTime<Utc>, i64)>;

impl Labeller {
    /// Takes in one block's transactions; `irregular[i]` tells whether `txns[i]` is
    /// irregular by its complete story. Broker labels come out at once: an agent's
    /// filings never leave its block.
    pub fn add_block(&mut self, txns: &[SimTxn], irregular: &[bool], out: &mut Vec<ExpectedAlert>) {
        broker_labels(txns, out);
        for (t, &was_irregular) in txns.iter().zip(irregular) {
            let (Some(s), Some((c, officer))) = (t.submitted_at(), t.issued()) else {
                continue;
            };
            let (s_utc, c_utc) = (s.to_utc(), c.to_utc());
            let d = (c_utc - s_utc).num_seconds();
            if d >= 0 {
                self.baselines
                    .entry((t.office.id, t.service.code.to_string()))
                    .or_default()
                    .push((c_utc, d));
            }
            if was_irregular {
                self.pending_speed.push(PendingSpeed {
                    office: t.office.id,
                    service: t.service.code.to_string(),
                    submitted: s_utc,
                    completed: c_utc,
                    id: t.id.clone(),
                });
            }
            let Some(officer) = officer else { continue };
            let offset = FixedOffset::east_opt(t.office.offset_h * 3600).expect("offset");
            let local = c.with_timezone(&offset).date_naive();
            let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
            let start = offset
                .from_local_datetime(&monday.and_time(NaiveTime::MIN))
                .single()
                .expect("fixed offset");
            let end = start + Duration::days(7);
            let irregular = was_irregular
                && t.irregular_since()
                    .is_some_and(|i| i.to_utc() <= end.to_utc());
            let tally = self
                .weeks
                .entry((t.office.id.to_owned(), t.service.code.to_string(), start))
                .or_default()
                .entry(officer.to_owned())
                .or_default();
            tally.0 += 1;
            tally.1 += u32::from(irregular);
        }
        for v in self.baselines.values_mut() {
            v.sort_unstable();
        }
    }

    /// Gives every label that no later transaction can change: every event before
    /// `complete_until` has been generated, and the workload's last event time is at
    /// least `max_t` (exactly `max_t` when `last`).
    pub fn resolve(
        &mut self,
        complete_until: DateTime<Utc>,
        max_t: DateTime<Utc>,
        last: bool,
        out: &mut Vec<ExpectedAlert>,
    ) {
        let (ready, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.pending_speed)
            .into_iter()
            .partition(|p| p.completed < complete_until);
        self.pending_speed = waiting;
        for p in ready {
            if self.is_speed_money(&p) {
                out.push(ExpectedAlert {
                    typology: "speed_money".into(),
                    key: p.id,
                });
            }
        }
        // Every judgement still to come looks back from `complete_until` at the earliest.
        let horizon = complete_until - Duration::days(30);
        for v in self.baselines.values_mut() {
            let old = v.partition_point(|(at, _)| *at < horizon);
            v.drain(..old);
        }
        let closed: Vec<Week> = self
            .weeks
            .keys()
            .filter(|(_, _, start)| {
                let end = (*start + Duration::days(7)).to_utc();
                end <= complete_until && (end < max_t || last)
            })
            .cloned()
            .collect();
        for week in closed {
            let officers = self.weeks.remove(&week).expect("listed");
            if (week.2 + Duration::days(7)).to_utc() < max_t {
                officer_labels(&week, &officers, out);
            }
        }
    }

    fn is_speed_money(&self, p: &PendingSpeed) -> bool {
        let Some(all) = self.baselines.get(&(p.office, p.service.clone())) else {
            return false;
        };
        let from = all.partition_point(|(at, _)| *at < p.completed - Duration::days(30));
        let to = all.partition_point(|(at, _)| *at < p.completed);
        let mut window: Vec<f64> = all[from..to].iter().map(|(_, d)| *d as f64).collect();
        if window.len() < 30 {
            return false;
        }
        let median = median(&mut window);
        let duration = (p.completed - p.submitted).num_seconds();
        median > 0.0 && duration >= 0 && (duration as f64) < 0.5 * median
    }
}

fn broker_labels(txns: &[SimTxn], out: &mut Vec<ExpectedAlert>) {
    let mut by_agent: BTreeMap<String, Vec<(DateTime<Utc>, String, String)>> = BTreeMap::new();
    for t in txns {
        let Some(at) = t.submitted_at() else { continue };
        let Some((applicant, agent)) = t.submission() else {
            continue;
        };
        if let Some(agent) = agent {
            by_agent.entry(agent.to_owned()).or_default().push((
                at.to_utc(),
                applicant.to_owned(),
                time_key(at, t.use_z),
            ));
        }
    }
    for (agent, mut subs) in by_agent {
        subs.sort();
        let mut last_alert: Option<DateTime<Utc>> = None;
        let mut alerts = 0;
        for (end, _, end_text) in &subs {
            if last_alert.is_some_and(|a| *end < a + Duration::days(30)) {
                continue;
            }
            let distinct: BTreeSet<&str> = subs
                .iter()
                .filter(|(t, _, _)| *t > *end - Duration::days(7) && t <= end)
                .map(|(_, a, _)| a.as_str())
                .collect();
            if distinct.len() >= 5 {
                alerts += 1;
                last_alert = Some(*end);
                let key = if alerts == 1 {
                    agent.clone()
                } else {
                    format!("{agent}|{end_text}")
                };
                out.push(ExpectedAlert {
                    typology: "broker_activity".into(),
                    key,
                });
            }
        }
    }
}

pub fn is_irregular(labels: &[&str]) -> bool {
    labels.iter().any(|l| IRREGULAR.contains(l))
}

/// The median of a non-empty `v` (the mean of the middle two for an even
/// count), reordering it. By selection, not a sort: a sort per speed-money
/// judgement over a busy month made long workloads slow.
fn median(v: &mut [f64]) -> f64 {
    let n = v.len();
    let (below, &mut upper, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        upper
    } else {
        let lower = below.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + upper) / 2.0
    }
}

fn officer_labels(
    (office, service, start): &Week,
    officers: &BTreeMap<String, (u32, u32)>,
    out: &mut Vec<ExpectedAlert>,
) {
    let eligible: Vec<(&String, u32, f64)> = officers
        .iter()
        .filter(|(_, (n, _))| *n >= 20)
        .map(|(o, (n, bad))| (o, *bad, f64::from(*bad) / f64::from(*n)))
        .collect();
    if eligible.len() < 5 {
        return;
    }
    let mut rates: Vec<f64> = eligible.iter().map(|e| e.2).collect();
    let m = median(&mut rates);
    let mut dev: Vec<f64> = eligible.iter().map(|e| (e.2 - m).abs()).collect();
    let mad = median(&mut dev);
    let spread = if mad > 0.0 {
        mad
    } else {
        let mean = dev.iter().sum::<f64>() / dev.len() as f64;
        if mean <= 0.0 {
            return;
        }
        1.253314 * mean
    };
    for (officer, bad, r) in eligible {
        let z = 0.6745 * (r - m) / spread;
        if z > 3.5 && r >= 0.1 && bad >= 3 {
            out.push(ExpectedAlert {
                typology: "officer_outlier".into(),
                key: format!(
                    "{officer}|{office}|{service}|{}",
                    start.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
                ),
            });
        }
    }
}
