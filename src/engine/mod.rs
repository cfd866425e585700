//! The stateful detection engine: admits decoded events (dedup, lateness), orders
//! them by event time behind the watermark, folds them into transaction state,
//! runs the rules and fires event-time timers. Alerts come out in a deterministic
//! order whatever the batch size or arrival order.

mod early;
mod expiry;
mod reorder;
mod timers;
mod watermark;
mod windowed;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

pub use expiry::ExpiryWheel;
pub use timers::{Timer, TimerKind, Timers};
pub use watermark::Watermark;

use crate::alerts::{Alert, Severity, alert_id, format_time};
use crate::archive::{ArchivedEvent, Completion, EventFacts};
use crate::config::Config;
use crate::decode::{Event, EventBody};
use crate::metrics::{Children, Metrics, Outcome};
use crate::reference::{OfficeContext, Reference, Service};
use crate::rules::Parameters;
use crate::rules::custom::CustomRules;
use crate::rules::{self, EntityFinding, Finding, RuleCtx, Subject, Typology, fees};
use crate::state::{
    Agents, Baselines, Dedup, OfficerWindows, ReceiptRegistry, ReceiptUse, TxnState,
};
use prometheus::IntCounter;

use early::Early;
use reorder::{Cutoff, ReorderBuffer, nanos_of};

/// What moves the watermark when an event is admitted.
enum Clock {
    /// The event's own time (files, the simulator).
    Own,
    /// Only upstream marks (keyed stores behind a repartition topic).
    Upstream,
}

/// What the engine made of one decoded event on arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Accepted,
    Duplicate,
    /// Older than the watermark: processed at once, out of event-time order.
    Late,
}

impl Admission {
    pub fn outcome(self) -> Outcome {
        match self {
            Admission::Accepted => Outcome::Accepted,
            Admission::Duplicate => Outcome::Duplicate,
            Admission::Late => Outcome::Late,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub pipeline: String,
    pub lateness: Duration,
    pub retention: Duration,
    /// How long an open transaction is kept after its last event (or deadline).
    pub open_retention: Duration,
    pub params: Parameters,
    /// Judge the typologies that are final on arrival when an event arrives
    /// (engine/early.rs); off, every alert waits for the watermark.
    pub early: bool,
    enabled: [bool; Typology::ALL.len()],
    severity: [Severity; Typology::ALL.len()],
}

impl EngineSettings {
    pub fn from_config(c: &Config) -> EngineSettings {
        EngineSettings {
            pipeline: c.pipeline.name.clone(),
            lateness: to_duration(c.pipeline.allowed_lateness),
            retention: to_duration(c.pipeline.retention),
            open_retention: to_duration(c.pipeline.open_retention),
            params: c.parameters.clone(),
            early: c.pipeline.early_alerts,
            enabled: Typology::ALL.map(|t| c.typology_enabled(t)),
            severity: Typology::ALL.map(|t| c.typology_severity(t)),
        }
    }

    /// Spec defaults everywhere; for tests and tools.
    pub fn defaults(pipeline: &str) -> EngineSettings {
        EngineSettings {
            pipeline: pipeline.to_owned(),
            lateness: Duration::minutes(10),
            retention: Duration::days(30),
            open_retention: Duration::days(365),
            params: Parameters::default(),
            early: false,
            enabled: [true; Typology::ALL.len()],
            severity: Typology::ALL.map(|t| t.default_severity()),
        }
    }

    pub fn set_enabled(&mut self, t: Typology, on: bool) {
        self.enabled[t as usize] = on;
    }

    fn active(&self, t: Typology) -> bool {
        self.enabled[t as usize]
    }
}

pub fn to_duration(d: std::time::Duration) -> Duration {
    Duration::from_std(d).unwrap_or(Duration::MAX)
}

/// Housekeeping runs once per minute of event time: expiry need not be exact,
/// only never early, and the per-event cost adds up. Window state is swept hourly.
const SWEEP_EVERY: Duration = Duration::minutes(1);
const WINDOWS_SWEEP_EVERY: Duration = Duration::hours(1);

/// `t + d`, or the end of time where that overflows.
fn later(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

type TxnMap = HashMap<CompactString, Box<TxnState>, ahash::RandomState>;

/// The engine's state as a checkpoint holds it (metric handles and caches are
/// rebuilt on demand; alerts are always taken before a checkpoint).
#[derive(Serialize)]
pub struct EngineStateRef<'a> {
    watermark: &'a Watermark,
    buffer: &'a ReorderBuffer,
    timers: &'a Timers,
    expiry: &'a ExpiryWheel,
    txns: &'a TxnMap,
    dedup: &'a Dedup,
    receipts: &'a ReceiptRegistry,
    baselines: &'a Baselines,
    agents: &'a Agents,
    officers: &'a OfficerWindows,
    seq: u64,
    open: i64,
    swept_at: Option<DateTime<Utc>>,
    windows_swept_at: Option<DateTime<Utc>>,
    early: Option<&'a Early>,
}

/// The owned form of [`EngineStateRef`], read back from a checkpoint.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct EngineState {
    watermark: Watermark,
    buffer: ReorderBuffer,
    timers: Timers,
    expiry: ExpiryWheel,
    txns: TxnMap,
    dedup: Dedup,
    receipts: ReceiptRegistry,
    baselines: Baselines,
    agents: Agents,
    officers: OfficerWindows,
    seq: u64,
    open: i64,
    swept_at: Option<DateTime<Utc>>,
    windows_swept_at: Option<DateTime<Utc>>,
    /// Absent in checkpoints written before early verdicts existed.
    #[serde(default)]
    early: Option<Early>,
}

/// An alert with its place in the deterministic output order.
#[derive(Debug)]
struct Sequenced {
    seq: u64,
    rank: u32,
    /// When the triggering event arrived, for the alert-latency histogram.
    arrived: Option<Instant>,
    alert: Pending,
}

/// An alert as the engine leaves it. A built-in finding becomes an alert record
/// (id, formatted times, counters) only when taken, so the embedded pipeline
/// can do that on its sink thread, off the engine's critical path.
#[derive(Debug)]
enum Pending {
    Finding(Box<EntityFinding>),
    Built(Box<Alert>),
}

impl Pending {
    fn typology(&self) -> &str {
        match self {
            Pending::Finding(f) => f.finding.typology.name(),
            Pending::Built(a) => &a.typology,
        }
    }
}

/// Alerts taken from the engine, in output order, with what turning them into
/// alert records takes.
#[derive(Debug)]
pub struct PendingAlerts {
    /// Each with its triggering event's arrival, where known.
    items: Vec<(Pending, Option<Instant>)>,
    pipeline: String,
    severity: [Severity; Typology::ALL.len()],
    metrics: Arc<Metrics>,
}

impl PendingAlerts {
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Adds `other`'s alerts after these (engines of one pipeline: the same
    /// names and severities); all of them are counted in this one's metrics.
    pub fn append(&mut self, other: PendingAlerts) {
        self.items.extend(other.items);
    }

    /// The same alerts, counted (alerts, latency) in `metrics` instead.
    pub fn counted_in(mut self, metrics: Arc<Metrics>) -> PendingAlerts {
        self.metrics = metrics;
        self
    }

    pub fn typologies(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(p, _)| p.typology())
    }

    /// The alert records, counted in the alert metrics: this is their hand-off
    /// to the sinks, where the alert latency is observed.
    pub fn build(self) -> Vec<Alert> {
        let PendingAlerts {
            items,
            pipeline,
            severity,
            metrics,
        } = self;
        items
            .into_iter()
            .map(|(p, arrived)| {
                let alert = match p {
                    Pending::Finding(ef) => alert_from(&pipeline, &severity, &metrics, *ef),
                    Pending::Built(a) => *a,
                };
                if let Some(at) = arrived {
                    metrics
                        .alert_latency_seconds
                        .with_label_values(&[alert.typology.as_str()])
                        .observe(at.elapsed().as_secs_f64());
                }
                alert
            })
            .collect()
    }
}

pub struct Engine {
    settings: EngineSettings,
    reference: Arc<Reference>,
    metrics: Arc<Metrics>,
    watermark: Watermark,
    buffer: ReorderBuffer,
    timers: Timers,
    expiry: ExpiryWheel,
    /// Boxed: a state is several hundred bytes, and growing the map would
    /// otherwise move every one of them.
    txns: TxnMap,
    dedup: Dedup,
    receipts: ReceiptRegistry,
    baselines: Baselines,
    agents: Agents,
    officers: OfficerWindows,
    custom: Option<CustomRules>,
    out: Vec<Sequenced>,
    /// Counts processed events and fired timers: the output order.
    seq: u64,
    open: i64,
    receipt_window: Duration,
    /// Resolved metric children, so the per-event path skips label hashing.
    completed: Children<IntCounter>,
    excess: Children<IntCounter>,
    baseline_gauges: Children<prometheus::Gauge>,
    /// When the next housekeeping (expiry of state, ids and receipts) and
    /// window expiry are due: one comparison per event rather than date
    /// arithmetic. A checkpoint holds the sweep instants, one interval earlier.
    sweep_due: Option<DateTime<Utc>>,
    windows_sweep_due: Option<DateTime<Utc>>,
    /// Processed events with their derived facts, for the history archive.
    archive: Option<Vec<ArchivedEvent>>,
    /// Transactions judged early, when on (engine/early.rs).
    early: Option<Early>,
    /// Alerts fired early, in arrival order, ahead of the watermark's.
    early_out: Vec<(Pending, Option<Instant>)>,
    /// When the events now being ingested arrived (set per batch).
    arrived: Option<Instant>,
}

impl Engine {
    pub fn new(
        settings: EngineSettings,
        reference: Arc<Reference>,
        metrics: Arc<Metrics>,
        custom: Option<CustomRules>,
    ) -> Engine {
        let receipt_window =
            to_duration(settings.params.duplicate_receipt.duplicate_receipt_window);
        let settings_early = settings.early;
        Engine {
            watermark: Watermark::new(settings.lateness),
            settings,
            reference,
            metrics,
            buffer: ReorderBuffer::default(),
            timers: Timers::default(),
            expiry: ExpiryWheel::default(),
            txns: HashMap::default(),
            dedup: Dedup::default(),
            receipts: ReceiptRegistry::default(),
            baselines: Baselines::default(),
            agents: Agents::default(),
            officers: OfficerWindows::default(),
            custom,
            out: Vec::new(),
            seq: 0,
            open: 0,
            receipt_window,
            completed: Children::default(),
            excess: Children::default(),
            baseline_gauges: Children::default(),
            sweep_due: None,
            windows_sweep_due: None,
            archive: None,
            early: settings_early.then(Early::default),
            early_out: Vec::new(),
            arrived: None,
        }
    }

    /// The whole state, for a checkpoint. Call after `take_alerts`: alerts not yet
    /// taken are not part of it.
    pub fn state(&self) -> EngineStateRef<'_> {
        debug_assert!(
            self.out.is_empty() && self.early_out.is_empty(),
            "alerts are taken before a checkpoint"
        );
        EngineStateRef {
            watermark: &self.watermark,
            buffer: &self.buffer,
            timers: &self.timers,
            expiry: &self.expiry,
            txns: &self.txns,
            dedup: &self.dedup,
            receipts: &self.receipts,
            baselines: &self.baselines,
            agents: &self.agents,
            officers: &self.officers,
            seq: self.seq,
            open: self.open,
            swept_at: self.sweep_due.map(|d| d - SWEEP_EVERY),
            windows_swept_at: self.windows_sweep_due.map(|d| d - WINDOWS_SWEEP_EVERY),
            early: self.early.as_ref(),
        }
    }

    /// Continues from a checkpointed state, as if the events it covers had just
    /// been processed by this engine.
    pub fn restore(&mut self, s: EngineState) {
        self.watermark = s.watermark;
        self.buffer = s.buffer;
        self.timers = s.timers;
        self.expiry = s.expiry;
        self.txns = s.txns;
        self.dedup = s.dedup;
        self.receipts = s.receipts;
        self.baselines = s.baselines;
        self.agents = s.agents;
        self.officers = s.officers;
        self.seq = s.seq;
        self.sweep_due = s.swept_at.map(|t| later(t, SWEEP_EVERY));
        self.windows_sweep_due = s.windows_swept_at.map(|t| later(t, WINDOWS_SWEEP_EVERY));
        self.out.clear();
        self.early_out.clear();
        if self.settings.early {
            self.early = Some(s.early.unwrap_or_default());
        }
        self.metrics.open_transactions.add(s.open - self.open);
        self.open = s.open;
    }

    /// Keeps every processed event with its derived facts for `take_archived`.
    pub fn enable_archive(&mut self) {
        self.archive.get_or_insert_with(Vec::new);
    }

    /// Events processed since the last call, in processing order.
    pub fn take_archived(&mut self) -> Vec<ArchivedEvent> {
        self.archive
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    }

    pub fn watermark(&self) -> Option<DateTime<Utc>> {
        self.watermark.current()
    }

    pub fn transactions(&self) -> usize {
        self.txns.len()
    }

    /// Entries held by each part of the state, for the debug progress log.
    pub fn state_sizes(&self) -> String {
        format!(
            "txns {} open {} dedup {} receipts {} baselines {} agents {} officer groups {} timers {} expiry {} buffered {} early {}",
            self.txns.len(),
            self.open,
            self.dedup.len(),
            self.receipts.len(),
            self.baselines.held(),
            self.agents.held(),
            self.officers.len(),
            self.timers.len(),
            self.expiry.len(),
            self.buffer.len(),
            self.early.as_ref().map_or(0, Early::len)
        )
    }

    /// The events ingested from now on arrived at `at` (the time their batch
    /// was read): the start of each alert's latency.
    pub fn arrival(&mut self, at: Instant) {
        self.arrived = Some(at);
    }

    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    pub fn open_transactions(&self) -> i64 {
        self.open
    }

    /// Admits one decoded event. Events behind the watermark are processed at once;
    /// the others wait in the reorder buffer until the watermark passes them.
    pub fn ingest(&mut self, event: Event) -> Admission {
        self.admit(Clock::Own, event)
    }

    /// Admits an event whose time does not move the watermark: it moves only by
    /// the upstream marks of [`Engine::observe_upstream`] (a keyed store fed by a
    /// repartition topic, where events of many source partitions interleave).
    pub fn ingest_routed(&mut self, event: Event) -> Admission {
        self.admit(Clock::Upstream, event)
    }

    /// A watermark mark from upstream partition `partition`: every event it had
    /// read up to `max_seen` has been delivered before the mark.
    pub fn observe_upstream(&mut self, partition: i32, max_seen: DateTime<Utc>) {
        self.watermark.observe_partition(partition, max_seen);
        self.advance();
    }

    /// An upstream partition's bounded input has ended.
    pub fn end_partition(&mut self, partition: i32) {
        self.watermark.end_partition(partition);
        self.advance();
    }

    fn admit(&mut self, clock: Clock, event: Event) -> Admission {
        let at = event.occurred_at.to_utc();
        if !self.dedup.first_sighting(&event.event_id, at) {
            return Admission::Duplicate;
        }
        let w = self.watermark.current();
        if w.is_some_and(|w| at < w) {
            if let Some(early) = &mut self.early {
                early.late(&event.transaction_id, &self.metrics);
            }
            self.process(event, self.arrived);
            return Admission::Late;
        }
        if self.early.is_some() {
            self.judge_early(&event, nanos_of(at));
        }
        self.buffer.push(event, self.arrived);
        if let Clock::Own = clock {
            self.watermark.observe(at);
            self.advance();
        }
        Admission::Accepted
    }

    /// A partition was assigned: it holds the watermark back until its first event.
    pub fn add_partition(&mut self, partition: i32) {
        self.watermark.add_partition(partition);
    }

    /// Marks a partition idle (nothing new for the idle timeout) or active again.
    pub fn set_partition_idle(&mut self, partition: i32, idle: bool) {
        self.watermark.set_idle(partition, idle);
        self.advance();
    }

    /// Takes this engine's open transactions out of the shared gauge, before
    /// it is dropped (its partition went to another instance).
    pub fn release(&mut self) {
        self.metrics.open_transactions.sub(self.open);
        self.open = 0;
    }

    pub fn is_ended(&self) -> bool {
        self.watermark.is_ended()
    }

    /// A bounded input has ended: the watermark becomes the largest event time
    /// seen, releasing every buffered event and every timer it passes.
    pub fn end_of_input(&mut self) {
        self.watermark.end_of_input();
        self.advance();
    }

    fn advance(&mut self) {
        let Some(w) = self.watermark.current() else {
            return;
        };
        let ended = self.watermark.is_ended();
        let cutoff = Cutoff::new(w);
        loop {
            let event_due = if ended {
                !self.buffer.is_empty()
            } else {
                self.buffer.next_before(&cutoff)
            };
            let timer_due = self.timers.peek_due().filter(|t| *t < w);
            match (event_due, timer_due) {
                // An event at the very instant of a timer happened before it passed.
                (true, Some(t)) if self.buffer.peek_time().is_some_and(|e| e <= t) => {
                    self.process_next()
                }
                (true, None) => self.process_next(),
                (_, Some(_)) => {
                    let timer = self.timers.pop().expect("peeked");
                    match timer.kind {
                        TimerKind::Deadline(id) => self.fire_deadline(id, timer.due),
                        TimerKind::OfficerWindow(key) => self.fire_officer_window(key),
                    }
                }
                (false, None) => break,
            }
        }
        if let Some(early) = &mut self.early {
            let before = (!ended).then(|| nanos_of(w));
            early.release(before, &mut self.txns, &self.metrics);
        }
        if ended || self.sweep_due.is_none_or(|d| w >= d) {
            self.sweep_due = Some(later(w, SWEEP_EVERY));
            for id in self.expiry.due(w) {
                self.expire(id, w);
            }
            self.dedup.expire_before(w - self.settings.retention);
            // Hash tables keep their peak capacity; after a wave of expiry, give
            // the memory back rather than holding the busiest month's size.
            let len = self.txns.len();
            if self.txns.capacity() > 4 * len + 4096 {
                self.txns.shrink_to(2 * len);
            }
            self.dedup.shrink();
            self.receipts.expire_before(w - self.receipt_window);
        }
        if ended || self.windows_sweep_due.is_none_or(|d| w >= d) {
            self.windows_sweep_due = Some(later(w, WINDOWS_SWEEP_EVERY));
            self.expire_windows(w);
        }
    }

    fn process_next(&mut self) {
        let (e, arrived) = self.buffer.pop().expect("peeked");
        self.process(e, arrived);
    }

    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// Judges an arriving event early, in its transaction's shadow: the
    /// typologies whose verdict is final on arrival fire now, and the
    /// watermark-ordered evaluation later confirms them (engine/early.rs).
    fn judge_early(&mut self, event: &Event, nanos: i64) {
        let Engine {
            settings,
            reference,
            metrics,
            txns,
            early,
            early_out,
            arrived,
            ..
        } = self;
        let Some(early) = early else {
            return;
        };
        let processed = txns.get(&event.transaction_id).map(|s| &**s);
        let Some(shadow) = early.arrive(event, nanos, processed, metrics) else {
            return;
        };
        let folded = fold(reference, &mut shadow.state, event);
        let ctx = RuleCtx {
            event,
            service: folded.service,
            office: folded.office,
            reference,
            params: &settings.params,
        };
        let mut findings = transaction_findings(settings, &ctx, &mut shadow.state);
        findings.sort_by_key(|f| f.typology);
        // Before its submission has arrived, a transaction is more likely to
        // have events still on their way than not (the submission is often
        // published by another system): its findings wait for the watermark.
        let judged = shadow.state.submitted.is_some();
        for f in findings {
            if !judged || !f.typology.final_on_arrival() {
                // Marked as fired all the same, as the watermark-ordered
                // evaluation will mark it, so that the shadow keeps in step.
                shadow.state.fired |= f.typology.bit();
                continue;
            }
            let officer = named_officer(&shadow.state, event).cloned();
            shadow.record(&f, officer.as_ref());
            let alert = build_alert(
                &event.transaction_id,
                &shadow.state,
                event.officer_id.as_ref(),
                f,
            );
            early_out.push((alert, *arrived));
        }
    }

    fn process(&mut self, event: Event, arrived: Option<Instant>) {
        let seq = self.next_seq();
        let Engine {
            settings,
            reference,
            metrics,
            timers,
            expiry,
            txns,
            receipts,
            baselines,
            officers,
            baseline_gauges,
            custom,
            out,
            open,
            completed,
            excess,
            archive,
            early,
            ..
        } = self;
        let reference: &Reference = reference;
        let state = txns.entry(event.transaction_id.clone()).or_insert_with(|| {
            expiry.schedule(
                event.occurred_at.to_utc() + settings.retention,
                event.transaction_id.clone(),
            );
            Box::new(TxnState::new(&event))
        });
        let was_open = state.submitted.is_some() && state.is_open();
        let Folded {
            office,
            service,
            new_deadline,
        } = fold(reference, state, &event);
        if service.is_none() {
            metrics.unknown_service.inc();
        }
        if !office.catalogued {
            metrics.unknown_office.inc();
        }
        if let Some(deadline) = new_deadline
            && state.is_open()
            && settings.active(Typology::OverdueOpen)
        {
            timers.schedule(deadline, TimerKind::Deadline(event.transaction_id.clone()));
        }
        let ctx = RuleCtx {
            event: &event,
            service,
            office,
            reference,
            params: &settings.params,
        };
        let mut findings = transaction_findings(settings, &ctx, state);
        let fee_relevant = matches!(event.body, EventBody::Payment(_) | EventBody::Submitted(_));
        findings.extend(receipt_use(settings, receipts, state, &event));
        let irregular_bits = findings
            .iter()
            .filter(|f| f.typology.marks_irregular())
            .fold(state.fired & Typology::IRREGULAR, |b, f| {
                b | f.typology.bit()
            });
        let completes_now = windowed::completes(&event, state);
        if state.issued() && (completes_now || irregular_bits != state.fired & Typology::IRREGULAR)
        {
            windowed::on_transaction(
                windowed::WindowParts {
                    settings,
                    metrics,
                    baselines,
                    officers,
                    timers,
                    baseline_gauges,
                },
                state,
                &event,
                office,
                completes_now,
                irregular_bits,
                &mut findings,
            );
        }
        findings.sort_by_key(|f| f.typology);
        for f in findings {
            state.fired |= f.typology.bit();
            if let Some(early) = early.as_mut()
                && early.confirm(
                    &event.transaction_id,
                    &f,
                    named_officer(state, &event),
                    state,
                    metrics,
                )
            {
                continue;
            }
            let alert = build_alert(&event.transaction_id, state, event.officer_id.as_ref(), f);
            out.push(Sequenced {
                seq,
                rank: 0,
                arrived,
                alert,
            });
        }
        let completion = count_completion(
            CompletionParts {
                reference,
                metrics,
                completed,
            },
            state,
            &event,
            office,
            archive.is_some(),
        );
        // Needed by the excess-fee metric for fee events, and by the archive always.
        let expected_fee = (fee_relevant || archive.is_some())
            .then(|| fees::expected_fee(state, service).map(|(fee, _)| fee))
            .flatten();
        let excess_added = match expected_fee {
            Some(expected) if fee_relevant => count_excess(metrics, excess, state, expected),
            _ => 0,
        };
        if let Some(custom) = custom {
            custom.record(seq, &ctx, state);
        }
        let now_open = state.submitted.is_some() && state.is_open();
        let delta = i64::from(now_open) - i64::from(was_open);
        if delta != 0 {
            // Added, not set: in Kafka mode several engines (one per partition)
            // share the gauge.
            *open += delta;
            metrics.open_transactions.add(delta);
        }
        let facts = archive.is_some().then_some(EventFacts {
            expected_fee,
            total_paid: state.total_paid,
            excess_fee_idr: excess_added,
            irregular: state.fired & Typology::IRREGULAR != 0,
            completion,
        });
        self.windowed_agent(&event, seq, arrived);
        if let (Some(facts), Some(out)) = (facts, &mut self.archive) {
            out.push(ArchivedEvent { event, facts });
        }
    }

    fn fire_deadline(&mut self, transaction_id: CompactString, due: DateTime<Utc>) {
        let t = Typology::OverdueOpen;
        let Some(state) = self.txns.get(&transaction_id) else {
            return;
        };
        if !state.is_open() || state.has_fired(t.bit()) || state.deadline != Some(due) {
            return;
        }
        let Some(service) = self.reference.services.get(&state.service_code) else {
            return;
        };
        let Some(submitted) = &state.submitted else {
            return;
        };
        let zone = self
            .reference
            .office(&state.office_id, *submitted.mark.at.offset())
            .zone;
        let Some(finding) = rules::overdue_open::overdue_open(state, due, zone, service) else {
            return;
        };
        let seq = self.next_seq();
        let state = self.txns.get_mut(&transaction_id).expect("present");
        state.fired |= t.bit();
        let officer = state.last_officer.clone();
        let alert = build_alert(&transaction_id, state, officer.as_ref(), finding);
        self.out.push(Sequenced {
            seq,
            rank: 0,
            arrived: None,
            alert,
        });
    }

    /// Drops a transaction whose retention has passed: `retention` after its last
    /// event once closed; `open_retention` after its last event or its deadline
    /// while still open, so a late completion is still judged against its deadline.
    fn expire(&mut self, id: CompactString, w: DateTime<Utc>) {
        // One lookup serves both the look and the removal: the state is rarely
        // in cache by the time its expiry comes due.
        let std::collections::hash_map::Entry::Occupied(entry) = self.txns.entry(id) else {
            return;
        };
        let state = entry.get();
        let until = if state.is_open() {
            state
                .last_event_at
                .max(state.deadline.unwrap_or(state.last_event_at))
                + self.settings.open_retention
        } else {
            state.last_event_at + self.settings.retention
        };
        if until >= w {
            let id = entry.key().clone();
            self.expiry.schedule(until, id);
            return;
        }
        let (_, state) = entry.remove_entry();
        if state.submitted.is_some() && state.is_open() {
            self.open -= 1;
            self.metrics.open_transactions.dec();
        }
    }

    /// Alerts raised since the last call, in deterministic order (event-time order
    /// of their triggers). Custom rules are evaluated here, one micro-batch at once.
    pub fn take_alerts(&mut self) -> Vec<Alert> {
        self.take_pending().build()
    }

    /// [`Engine::take_alerts`], with the built-in findings not yet made into
    /// alert records: [`PendingAlerts::build`] does that, on any thread.
    pub fn take_pending(&mut self) -> PendingAlerts {
        if let Some(custom) = &mut self.custom {
            for (seq, rank, rule, row) in custom.evaluate() {
                let Some(state) = self.txns.get_mut(&row.transaction_id) else {
                    continue;
                };
                if state.custom_fired.contains(&rule) {
                    continue;
                }
                state.custom_fired.push(rule);
                let alert = custom.alert(&self.settings.pipeline, rule, &row, state);
                count_alert(&self.metrics, &alert);
                self.out.push(Sequenced {
                    seq,
                    rank,
                    arrived: None,
                    alert: Pending::Built(Box::new(alert)),
                });
            }
        }
        self.out.sort_by_key(|s| (s.seq, s.rank));
        let mut items = std::mem::take(&mut self.early_out);
        items.extend(self.out.drain(..).map(|s| (s.alert, s.arrived)));
        PendingAlerts {
            items,
            pipeline: self.settings.pipeline.clone(),
            severity: self.settings.severity,
            metrics: self.metrics.clone(),
        }
    }
}

/// A receipted payment's use of its receipt number, recorded across
/// transactions: a `duplicate_receipt` finding when another transaction used it
/// first within the window.
fn receipt_use(
    settings: &EngineSettings,
    receipts: &mut ReceiptRegistry,
    state: &TxnState,
    event: &Event,
) -> Option<Finding> {
    let EventBody::Payment(p) = &event.body else {
        return None;
    };
    let receipt = p.receipt_no.as_ref()?;
    let usage = ReceiptUse {
        transaction_id: event.transaction_id.clone(),
        at: event.occurred_at.to_utc(),
        event_id: event.event_id.clone(),
    };
    let window = to_duration(settings.params.duplicate_receipt.duplicate_receipt_window);
    let earlier = receipts.record(&event.office_id, receipt, usage, window)?;
    let t = Typology::DuplicateReceipt;
    (settings.active(t) && !state.has_fired(t.bit())).then(|| {
        rules::duplicate_receipt::duplicate_receipt(
            receipt,
            event.occurred_at,
            &event.event_id,
            &earlier,
            window.num_days(),
        )
    })
}

/// What counting a completion reads and writes.
struct CompletionParts<'a> {
    reference: &'a Reference,
    metrics: &'a Metrics,
    completed: &'a mut Children<IntCounter>,
}

/// A transaction's closing completion, with its deadline known: counted for
/// SLA compliance, and its facts for the archive when `archived`.
fn count_completion(
    parts: CompletionParts<'_>,
    state: &TxnState,
    event: &Event,
    office: OfficeContext<'_>,
    archived: bool,
) -> Option<Completion> {
    let EventBody::Completed { .. } = event.body else {
        return None;
    };
    let (Some(deadline), Some(closure)) = (state.deadline, &state.closed) else {
        return None;
    };
    if closure.mark.event_id != event.event_id {
        return None;
    }
    let within = event.occurred_at.to_utc() <= deadline;
    let label = if within { "true" } else { "false" };
    parts
        .completed
        .get(&state.service_code, label, || {
            parts
                .metrics
                .transactions_completed_total
                .with_label_values(&[state.service_code.as_str(), label])
        })
        .inc();
    let submitted = state.submitted.as_ref().filter(|_| archived)?;
    let from = submitted.mark.at.to_utc();
    let to = event.occurred_at.to_utc();
    Some(Completion {
        deadline,
        within_sla: within,
        duration_s: (to - from).num_seconds(),
        working_days: parts.reference.calendar.working_days_between(
            office.zone.local_naive(from).date(),
            office.zone.local_naive(to).date(),
            office.regional_holidays,
        ),
    })
}

/// Counts the Rupiah paid above `expected` that the metric has not counted
/// yet; returns that amount.
fn count_excess(
    metrics: &Metrics,
    excess: &mut Children<IntCounter>,
    state: &mut TxnState,
    expected: u64,
) -> u64 {
    let excess_now = state.total_paid.saturating_sub(expected);
    if excess_now <= state.excess_counted {
        return 0;
    }
    let added = excess_now - state.excess_counted;
    excess
        .get(&state.service_code, &state.office_id, || {
            metrics
                .excess_fee_idr_total
                .with_label_values(&[state.service_code.as_str(), state.office_id.as_str()])
        })
        .inc_by(added);
    state.excess_counted = excess_now;
    added
}

/// What folding an event into a transaction's state found out about it.
struct Folded<'r> {
    office: OfficeContext<'r>,
    service: Option<&'r Service>,
    /// The deadline, when this event (a submission) set or changed it.
    new_deadline: Option<DateTime<Utc>>,
}

/// Folds `event` into `state` and derives the deadline from a submission: the
/// part of processing that the watermark-ordered evaluation and an early
/// verdict's shadow share.
fn fold<'r>(reference: &'r Reference, state: &mut TxnState, event: &Event) -> Folded<'r> {
    state.apply(event);
    let office = reference.office(&event.office_id, *event.occurred_at.offset());
    let service = reference.services.get(&state.service_code);
    let mut new_deadline = None;
    if let (EventBody::Submitted(_), Some(svc)) = (&event.body, service) {
        let deadline = reference.calendar.deadline(
            event.occurred_at.to_utc(),
            office.zone,
            svc.sla,
            office.regional_holidays,
        );
        if state.deadline != Some(deadline) {
            state.deadline = Some(deadline);
            new_deadline = Some(deadline);
        }
    }
    Folded {
        office,
        service,
        new_deadline,
    }
}

/// The transaction rules of the registry that this event may trigger and that
/// have not fired for the transaction yet.
fn transaction_findings(
    settings: &EngineSettings,
    ctx: &RuleCtx<'_>,
    state: &mut TxnState,
) -> Vec<Finding> {
    rules::reject_then_pay::observe(ctx, state);
    let mut findings = Vec::new();
    for t in Typology::ALL {
        if let Some(rule) = &t.def().transaction
            && (rule.triggered_by)(&ctx.event.body)
            && settings.active(t)
            && !state.has_fired(t.bit())
        {
            findings.extend((rule.check)(ctx, state));
        }
    }
    findings
}

pub fn count_alert(metrics: &Metrics, alert: &Alert) {
    metrics
        .alerts_total
        .with_label_values(&[alert.typology.as_str(), alert.severity.as_str()])
        .inc();
    if let Some(office) = &alert.office_id {
        metrics
            .office_alerts_total
            .with_label_values(&[office.as_str(), alert.typology.as_str()])
            .inc();
    }
}

/// The officer a transaction alert raised by `event` names.
fn named_officer<'a>(state: &'a TxnState, event: &'a Event) -> Option<&'a CompactString> {
    event.officer_id.as_ref().or(state.last_officer.as_ref())
}

/// A transaction-scoped finding: its context is the transaction's.
fn build_alert(
    txn_id: &str,
    state: &TxnState,
    officer: Option<&CompactString>,
    f: Finding,
) -> Pending {
    let finding = EntityFinding {
        finding: f,
        scope_key: txn_id.to_owned(),
        transaction_id: Some(txn_id.into()),
        office_id: Some(state.office_id.clone()),
        service_code: Some(state.service_code.clone()),
        officer_id: officer.or(state.last_officer.as_ref()).cloned(),
        agent_ref: state.submitted.as_ref().and_then(|s| s.agent_ref.clone()),
        window: None,
    };
    Pending::Finding(Box::new(finding))
}

/// Every built-in alert is made here: id, configured severity, context, and
/// the alert counters.
fn alert_from(
    pipeline: &str,
    severities: &[Severity; Typology::ALL.len()],
    metrics: &Metrics,
    ef: EntityFinding,
) -> Alert {
    let EntityFinding {
        finding: f,
        scope_key,
        transaction_id,
        office_id,
        service_code,
        officer_id,
        agent_ref,
        window,
    } = ef;
    let r = f
        .render
        .render(&Subject::of(&transaction_id, &office_id, &service_code));
    let typology = f.typology.name();
    let configured = severities[f.typology as usize];
    let severity = f.severity.map_or(configured, |s| s.max(configured));
    let alert = Alert {
        alert_id: alert_id(typology, &scope_key),
        typology: typology.into(),
        severity,
        scope: f.typology.scope(),
        transaction_id,
        related_transaction_id: f.related_transaction_id,
        office_id,
        service_code,
        officer_id,
        agent_ref,
        window_start: window.map(|w| format_time(w.0)),
        window_end: window.map(|w| format_time(w.1)),
        event_time: format_time(f.event_time),
        observed: r.observed,
        expected: r.expected,
        evidence_event_ids: f.evidence,
        summary_id: r.summary_id,
        summary_en: r.summary_en,
        pipeline: pipeline.into(),
    };
    count_alert(metrics, &alert);
    alert
}

#[cfg(test)]
mod early_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod windowed_tests;
