//! A seeded, realistic workload generator over the service catalogue. It injects
//! every typology (with benign look-alikes), duplicates, invalid lines and
//! out-of-order arrival, and knows by construction which alerts must follow.

mod lifecycle;
mod offices;
mod windowed;

use std::collections::BTreeSet;
use std::sync::Arc;

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

/// Submissions are generated this many days at a time, so a long workload never
/// has to be held whole (a block's events and its unresolved labels are).
const BLOCK_DAYS: u32 = 28;

/// The workload as a stream of chunks, generated a block of submission days at a
/// time. Concatenated, the chunks are the workload: events in arrival order, every
/// label once.
pub struct Stream {
    cfg: SimulatorConfig,
    rng: ChaCha8Rng,
    generator: lifecycle::Generator,
    block: u32,
    blocks: u32,
    next_txn: usize,
    /// Generated events not yet written: (arrival, tie-break, JSON).
    carry: Vec<(DateTime<Utc>, u64, String)>,
    labeller: windowed::Labeller,
    /// `overdue_open` labels wait for the workload's last event time: (deadline, id).
    overdue: Vec<(DateTime<Utc>, String)>,
    max_t: Option<DateTime<Utc>>,
    /// Everything that arrives before this has been written.
    written_until: DateTime<Utc>,
    written: usize,
    pending_dups: Vec<(usize, String)>,
    line: u64,
    duplicates: u64,
    bad: usize,
}

/// One piece of the stream.
#[derive(Default)]
pub struct Chunk {
    /// NDJSON lines, continuing the previous chunk's.
    pub events: Vec<u8>,
    pub expected: Vec<ExpectedAlert>,
    pub invalid: Vec<InvalidLine>,
}

/// Totals once a stream is exhausted.
#[derive(Debug, Clone, Copy, Default)]
pub struct Totals {
    pub lines: u64,
    pub duplicates: u64,
    pub invalid: u64,
    pub transactions: usize,
}

impl Stream {
    pub fn new(cfg: &SimulatorConfig, reference: Arc<Reference>) -> Result<Self, String> {
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
        Ok(Stream {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            generator: lifecycle::Generator::new(cfg.clone(), reference),
            block: 0,
            blocks: cfg.days.div_ceil(BLOCK_DAYS),
            cfg: cfg.clone(),
            next_txn: 0,
            carry: Vec::new(),
            labeller: windowed::Labeller::default(),
            overdue: Vec::new(),
            max_t: None,
            written_until: DateTime::<Utc>::MIN_UTC,
            written: 0,
            pending_dups: Vec::new(),
            line: 0,
            duplicates: 0,
            bad: 0,
        })
    }

    /// The next chunk, or `None` when the workload is complete.
    pub fn next_chunk(&mut self) -> Option<Chunk> {
        if self.block >= self.blocks {
            return None;
        }
        let k = self.block;
        self.block += 1;
        let last = self.block == self.blocks;
        let first_day = self.cfg.start + Duration::days(i64::from(k * BLOCK_DAYS));
        let days = BLOCK_DAYS.min(self.cfg.days - k * BLOCK_DAYS);
        // Transactions up to the end of this block, in proportion to its days.
        let until = if last {
            self.cfg.transactions
        } else {
            (self.cfg.transactions as u128 * u128::from((k + 1) * BLOCK_DAYS)
                / u128::from(self.cfg.days)) as usize
        };
        self.generator.set_days(first_day, days);
        let mut txns: Vec<_> = (self.next_txn..until)
            .map(|n| self.generator.transaction(&mut self.rng, n))
            .collect();
        self.next_txn = until;
        self.generator
            .assign_duplicate_receipts(&mut self.rng, &mut txns);
        let tag = if k == 0 {
            String::new()
        } else {
            format!("{k}-")
        };
        windowed::assign_agents(&mut self.rng, &mut txns, &tag);

        let mut chunk = Chunk::default();
        let mut irregular = Vec::with_capacity(txns.len());
        for t in &txns {
            for e in t.render() {
                let at = e.at.to_utc();
                debug_assert!(at >= self.written_until, "{at} precedes a written block");
                self.max_t = Some(self.max_t.map_or(at, |m| m.max(at)));
                // Arrival = event time plus a random delay below the disorder bound.
                let delay = Duration::milliseconds(
                    self.rng
                        .random_range(0..=self.cfg.max_disorder_s as i64 * 1000),
                );
                self.carry.push((at + delay, self.rng.random(), e.json));
            }
            // By the complete story: `overdue_open` still depends on where the
            // workload ends.
            let labels = t.labels(DateTime::<Utc>::MAX_UTC);
            irregular.push(windowed::is_irregular(&labels));
            for typology in labels {
                if typology == "overdue_open" {
                    self.overdue.push((t.deadline, t.id.clone()));
                } else {
                    chunk.expected.push(ExpectedAlert {
                        typology: typology.to_owned(),
                        key: t.id.clone(),
                    });
                }
            }
        }
        self.labeller
            .add_block(&txns, &irregular, &mut chunk.expected);
        drop(txns);

        // Later blocks submit from their first local midnight on (UTC+9 at most), so
        // everything earlier than that is final.
        let complete_until = if last {
            DateTime::<Utc>::MAX_UTC
        } else {
            let next = first_day + Duration::days(i64::from(days));
            next.and_time(chrono::NaiveTime::MIN).and_utc() - Duration::hours(10)
        };
        let max_t = self.max_t.unwrap_or_else(Utc::now);
        self.labeller
            .resolve(complete_until, max_t, last, &mut chunk.expected);
        // The last event time only grows: a deadline already behind it is final;
        // the rest wait (and are dropped at the end if the workload stops first).
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.overdue)
            .into_iter()
            .partition(|(deadline, _)| *deadline < max_t);
        chunk
            .expected
            .extend(due.into_iter().map(|(_, id)| ExpectedAlert {
                typology: "overdue_open".into(),
                key: id,
            }));
        if !last {
            self.overdue = waiting;
        }
        chunk.expected.sort();

        self.carry.sort_unstable_by_key(|a| (a.0, a.1));
        let ready = self.carry.partition_point(|a| a.0 < complete_until);
        self.written_until = complete_until;
        let events: Vec<_> = self.carry.drain(..ready).collect();
        self.write_events(events, &mut chunk);
        if last {
            for (_, dup) in std::mem::take(&mut self.pending_dups) {
                push_line(&mut chunk.events, &mut self.line, &dup);
                self.duplicates += 1;
            }
        }
        Some(chunk)
    }

    /// Writes events in arrival order, with the duplicates and invalid lines.
    fn write_events(&mut self, events: Vec<(DateTime<Utc>, u64, String)>, chunk: &mut Chunk) {
        let cfg = &self.cfg;
        let out = &mut chunk.events;
        out.reserve(events.len() * 430);
        for (_, _, json) in events {
            let i = self.written;
            self.written += 1;
            push_line(out, &mut self.line, &json);
            if self.rng.random_bool(cfg.duplicate_rate.clamp(0.0, 1.0)) {
                self.pending_dups
                    .push((i + self.rng.random_range(1..40), json));
            }
            while let Some(pos) = self.pending_dups.iter().position(|(at, _)| *at <= i) {
                let (_, dup) = self.pending_dups.swap_remove(pos);
                push_line(out, &mut self.line, &dup);
                self.duplicates += 1;
            }
            if self.rng.random_bool(cfg.invalid_rate.clamp(0.0, 1.0)) {
                let (text, reason) = lifecycle::invalid_line(self.bad, cfg.start);
                self.bad += 1;
                push_line(out, &mut self.line, &text);
                chunk.invalid.push(InvalidLine {
                    line: self.line,
                    reason: reason.to_owned(),
                });
            }
        }
    }

    /// Totals so far (final once `next_chunk` has returned `None`).
    pub fn totals(&self) -> Totals {
        Totals {
            lines: self.line,
            duplicates: self.duplicates,
            invalid: self.bad as u64,
            transactions: self.next_txn,
        }
    }
}

fn push_line(out: &mut Vec<u8>, line: &mut u64, text: &str) {
    out.extend_from_slice(text.as_bytes());
    out.push(b'\n');
    *line += 1;
}

/// The whole workload in memory.
pub fn generate(cfg: &SimulatorConfig, reference: &Reference) -> Result<Workload, String> {
    let mut stream = Stream::new(cfg, Arc::new(reference.clone()))?;
    let mut events = Vec::new();
    let mut expected = BTreeSet::new();
    let mut invalid = Vec::new();
    while let Some(chunk) = stream.next_chunk() {
        events.extend_from_slice(&chunk.events);
        expected.extend(chunk.expected);
        invalid.extend(chunk.invalid);
    }
    let totals = stream.totals();
    Ok(Workload {
        events,
        expected,
        invalid,
        lines: totals.lines,
        duplicates: totals.duplicates,
        transactions: totals.transactions,
    })
}

/// The stream's events as a buffered reader (labels dropped): the simulator
/// source of `run` and of `simulate --to-kafka`.
pub struct StreamReader {
    stream: Stream,
    buf: Vec<u8>,
    pos: usize,
}

impl StreamReader {
    pub fn new(stream: Stream) -> Self {
        StreamReader {
            stream,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Moves to the next chunk that has bytes; false at the end of the workload.
    fn refill(&mut self) -> bool {
        while self.pos == self.buf.len() {
            match self.stream.next_chunk() {
                Some(chunk) => {
                    self.buf = chunk.events;
                    self.pos = 0;
                }
                None => return false,
            }
        }
        true
    }
}

impl std::io::Read for StreamReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = std::io::BufRead::fill_buf(self)?.len().min(out.len());
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A chunk is already a buffer: lines are read from it directly.
impl std::io::BufRead for StreamReader {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        if !self.refill() {
            return Ok(&[]);
        }
        Ok(&self.buf[self.pos..])
    }

    fn consume(&mut self, n: usize) {
        self.pos = (self.pos + n).min(self.buf.len());
    }
}

/// Streams a workload to `dir` as events.ndjson, expected-alerts.ndjson and
/// invalid-lines.ndjson; memory stays bounded by a block however long it is.
pub fn write_stream(mut stream: Stream, dir: &std::path::Path) -> std::io::Result<(Totals, u64)> {
    use std::io::Write;
    std::fs::create_dir_all(dir)?;
    let create = |name: &str| -> std::io::Result<std::io::BufWriter<std::fs::File>> {
        Ok(std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(dir.join(name))?,
        ))
    };
    let (mut ev, mut ex, mut inv) = (
        create("events.ndjson")?,
        create("expected-alerts.ndjson")?,
        create("invalid-lines.ndjson")?,
    );
    let mut labels = 0u64;
    while let Some(chunk) = stream.next_chunk() {
        ev.write_all(&chunk.events)?;
        for e in &chunk.expected {
            serde_json::to_writer(&mut ex, e)?;
            ex.write_all(b"\n")?;
        }
        labels += chunk.expected.len() as u64;
        for e in &chunk.invalid {
            serde_json::to_writer(&mut inv, e)?;
            inv.write_all(b"\n")?;
        }
    }
    ev.flush()?;
    ex.flush()?;
    inv.flush()?;
    Ok((stream.totals(), labels))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference() -> Reference {
        crate::config::Config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/pipelines/replay.toml"
        )))
        .expect("config")
        .load_reference()
        .expect("reference")
    }

    #[test]
    fn fewer_transactions_than_blocks_is_no_problem() {
        let reference = reference();
        for transactions in [0, 1, 3] {
            let cfg = SimulatorConfig {
                transactions,
                days: 100,
                ..SimulatorConfig::default()
            };
            let w = generate(&cfg, &reference).expect("workload");
            assert_eq!(w.transactions, transactions);
            let events = w.events.split(|&b| b == b'\n').filter(|l| !l.is_empty());
            assert!(events.count() as u64 >= w.invalid.len() as u64 + transactions as u64);
        }
    }

    #[test]
    fn the_stream_is_the_workload_in_arrival_order_whatever_the_block() {
        // 60 days are three blocks; the chunks concatenated are the workload,
        // and every transaction's events keep their own order of occurrence
        // within the disorder bound.
        let reference = reference();
        let cfg = SimulatorConfig {
            transactions: 3_000,
            days: 60,
            ..SimulatorConfig::default()
        };
        let mut stream = Stream::new(&cfg, Arc::new(reference.clone())).expect("stream");
        let mut chunks = 0;
        let mut events = Vec::new();
        while let Some(c) = stream.next_chunk() {
            chunks += 1;
            events.extend_from_slice(&c.events);
        }
        assert_eq!(chunks, 3);
        assert_eq!(events, generate(&cfg, &reference).expect("workload").events);
        let mut latest: Option<DateTime<FixedOffset>> = None;
        let mut seen = std::collections::HashSet::new();
        for line in events.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(line) else {
                continue;
            };
            // Repeats and invalid lines are dropped before the watermark sees them.
            let id = v["event_id"].as_str().unwrap_or_default().to_owned();
            if id.starts_with("INVALID-") || !seen.insert(id) {
                continue;
            }
            let Some(at) = v["occurred_at"]
                .as_str()
                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            else {
                continue;
            };
            if let Some(l) = latest {
                assert!(
                    l - at <= Duration::seconds(cfg.max_disorder_s as i64),
                    "{at} arrives after {l}: beyond the disorder bound"
                );
            }
            latest = Some(latest.map_or(at, |l| l.max(at)));
        }
    }
}
