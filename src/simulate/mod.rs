//! A seeded, realistic workload generator over the service catalogue. It injects
//! every typology (with benign look-alikes), duplicates, invalid lines and
//! out-of-order arrival, and knows by construction which alerts must follow.

mod lifecycle;
mod offices;
mod windowed;

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::reference::Reference;

pub use lifecycle::Fault;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorConfig {
    #[serde(default = "d_seed")]
    pub seed: u64,
    #[serde(default = "d_transactions")]
    pub transactions: usize,
    /// First submission date (local).
    #[serde(default = "d_start")]
    pub start: NaiveDate,
    /// Submissions spread over this many days.
    #[serde(default = "d_days")]
    pub days: u32,
    /// Events per second when used as a live source; 0 = as fast as possible.
    #[serde(default)]
    pub rate: f64,
    /// Share of transactions with an injected irregularity.
    #[serde(default = "d_fault_rate")]
    pub fault_rate: f64,
    /// Share of extra lines that are invalid.
    #[serde(default = "d_invalid_rate")]
    pub invalid_rate: f64,
    /// Share of events delivered twice.
    #[serde(default = "d_duplicate_rate")]
    pub duplicate_rate: f64,
    /// Events arrive up to this many seconds after later events (keep it below the
    /// pipeline's allowed lateness).
    #[serde(default = "d_disorder")]
    pub max_disorder_s: u64,
}

fn d_seed() -> u64 {
    1
}
fn d_transactions() -> usize {
    10_000
}
fn d_start() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 2, 2).expect("valid date")
}
fn d_days() -> u32 {
    56
}
fn d_fault_rate() -> f64 {
    0.3
}
fn d_invalid_rate() -> f64 {
    0.004
}
fn d_duplicate_rate() -> f64 {
    0.01
}
fn d_disorder() -> u64 {
    540
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        SimulatorConfig {
            seed: d_seed(),
            transactions: d_transactions(),
            start: d_start(),
            days: d_days(),
            rate: 0.0,
            fault_rate: d_fault_rate(),
            invalid_rate: d_invalid_rate(),
            duplicate_rate: d_duplicate_rate(),
            max_disorder_s: d_disorder(),
        }
    }
}

/// An alert the workload must produce: typology and scope key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ExpectedAlert {
    pub typology: String,
    pub key: String,
}

/// An invalid line and the reason it must be rejected with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvalidLine {
    pub line: u64,
    pub reason: String,
}

pub struct Workload {
    /// NDJSON, in arrival order.
    pub events: Vec<u8>,
    pub expected: BTreeSet<ExpectedAlert>,
    pub invalid: Vec<InvalidLine>,
    pub lines: u64,
    pub duplicates: u64,
    pub transactions: usize,
}

/// One generated event: its event time, its arrival key and its JSON.
pub(crate) struct SimEvent {
    pub at: DateTime<FixedOffset>,
    pub json: String,
}

pub fn generate(cfg: &SimulatorConfig, reference: &Reference) -> Result<Workload, String> {
    if cfg.days == 0 {
        return Err("`days` must be at least 1".into());
    }
    for code in offices::OFFICES.iter().flat_map(|o| o.services.iter()) {
        if reference.services.get(code).is_none() {
            return Err(format!(
                "service {code} is missing from the service catalogue"
            ));
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut generator = lifecycle::Generator::new(cfg, reference);
    let mut txns = Vec::with_capacity(cfg.transactions);
    for n in 0..cfg.transactions {
        txns.push(generator.transaction(&mut rng, n));
    }
    generator.assign_duplicate_receipts(&mut rng, &mut txns);
    windowed::assign_agents(&mut rng, &mut txns);

    let mut events: Vec<(DateTime<Utc>, u64, String)> = Vec::new();
    let mut expected = BTreeSet::new();
    let mut max_t: Option<DateTime<Utc>> = None;
    for t in &txns {
        for e in t.render() {
            let at = e.at.to_utc();
            max_t = Some(max_t.map_or(at, |m| m.max(at)));
            // Arrival = event time plus a random delay below the disorder bound.
            let delay =
                Duration::milliseconds(rng.random_range(0..=cfg.max_disorder_s as i64 * 1000));
            events.push((at + delay, rng.random(), e.json));
        }
    }
    let max_t = max_t.unwrap_or_else(Utc::now);
    for t in &txns {
        for typology in t.labels(max_t) {
            expected.insert(ExpectedAlert {
                typology: typology.to_owned(),
                key: t.id.clone(),
            });
        }
    }
    expected.extend(windowed::labels(&txns, max_t));
    events.sort_by_key(|a| (a.0, a.1));

    let mut out = Vec::with_capacity(events.len() * 420);
    let mut invalid = Vec::new();
    let mut pending_dups: Vec<(usize, String)> = Vec::new();
    let mut line = 0u64;
    let mut duplicates = 0u64;
    let mut bad = 0usize;
    let push = |out: &mut Vec<u8>, line: &mut u64, text: &str| {
        out.extend_from_slice(text.as_bytes());
        out.push(b'\n');
        *line += 1;
    };
    for (i, (_, _, json)) in events.iter().enumerate() {
        push(&mut out, &mut line, json);
        if rng.random_bool(cfg.duplicate_rate.clamp(0.0, 1.0)) {
            pending_dups.push((i + rng.random_range(1..40), json.clone()));
        }
        while let Some(pos) = pending_dups.iter().position(|(at, _)| *at <= i) {
            let (_, dup) = pending_dups.swap_remove(pos);
            push(&mut out, &mut line, &dup);
            duplicates += 1;
        }
        if rng.random_bool(cfg.invalid_rate.clamp(0.0, 1.0)) {
            let (text, reason) = lifecycle::invalid_line(bad, cfg.start);
            bad += 1;
            push(&mut out, &mut line, &text);
            invalid.push(InvalidLine {
                line,
                reason: reason.to_owned(),
            });
        }
    }
    for (_, dup) in pending_dups {
        push(&mut out, &mut line, &dup);
        duplicates += 1;
    }
    Ok(Workload {
        events: out,
        expected,
        invalid,
        lines: line,
        duplicates,
        transactions: txns.len(),
    })
}

/// Writes events.ndjson, expected-alerts.ndjson and invalid-lines.ndjson to `dir`.
pub fn write(workload: &Workload, dir: &std::path::Path) -> std::io::Result<()> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("events.ndjson"), &workload.events)?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("expected-alerts.ndjson"))?);
    for e in &workload.expected {
        serde_json::to_writer(&mut f, e)?;
        f.write_all(b"\n")?;
    }
    f.flush()?;
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("invalid-lines.ndjson"))?);
    for e in &workload.invalid {
        serde_json::to_writer(&mut f, e)?;
        f.write_all(b"\n")?;
    }
    f.flush()
}
