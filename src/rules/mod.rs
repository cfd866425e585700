//! Rules: the built-in typologies of ../shared/spec/typologies.md and the custom
//! rules of the pipeline configuration. A rule reads state and reports a
//! [`Finding`]; the engine decides whether it becomes an alert (once per key).

pub mod broker_activity;
pub mod custom;
pub mod fees;
pub mod off_hours;
pub mod officer_outlier;
pub mod receipts;
pub mod reject_then_pay;
pub mod sla;
pub mod speed_money;

use chrono::{DateTime, FixedOffset};
use compact_str::CompactString;
use serde_json::{Map, Value};

use crate::alerts::{Scope, Severity};
use crate::config::Parameters;
use crate::decode::{Event, EventBody};
use crate::reference::{OfficeContext, Reference, Service};
use crate::state::TxnState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Typology {
    FeeOnFreeService,
    FeeAboveTariff,
    UnreceiptedPayment,
    UnofficialChannel,
    DuplicateReceipt,
    SlaBreach,
    OverdueOpen,
    RejectThenPay,
    OffHoursProcessing,
    SpeedMoney,
    BrokerActivity,
    OfficerOutlier,
}

impl Typology {
    pub const ALL: [Typology; 12] = [
        Typology::FeeOnFreeService,
        Typology::FeeAboveTariff,
        Typology::UnreceiptedPayment,
        Typology::UnofficialChannel,
        Typology::DuplicateReceipt,
        Typology::SlaBreach,
        Typology::OverdueOpen,
        Typology::RejectThenPay,
        Typology::OffHoursProcessing,
        Typology::SpeedMoney,
        Typology::BrokerActivity,
        Typology::OfficerOutlier,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Typology::FeeOnFreeService => "fee_on_free_service",
            Typology::FeeAboveTariff => "fee_above_tariff",
            Typology::UnreceiptedPayment => "unreceipted_payment",
            Typology::UnofficialChannel => "unofficial_channel",
            Typology::DuplicateReceipt => "duplicate_receipt",
            Typology::SlaBreach => "sla_breach",
            Typology::OverdueOpen => "overdue_open",
            Typology::RejectThenPay => "reject_then_pay",
            Typology::OffHoursProcessing => "off_hours_processing",
            Typology::SpeedMoney => "speed_money",
            Typology::BrokerActivity => "broker_activity",
            Typology::OfficerOutlier => "officer_outlier",
        }
    }

    pub fn from_name(name: &str) -> Option<Typology> {
        Typology::ALL.iter().copied().find(|t| t.name() == name)
    }

    pub fn default_severity(self) -> Severity {
        match self {
            Typology::FeeOnFreeService => Severity::Critical,
            Typology::FeeAboveTariff
            | Typology::UnofficialChannel
            | Typology::DuplicateReceipt
            | Typology::RejectThenPay
            | Typology::SpeedMoney
            | Typology::OfficerOutlier => Severity::High,
            Typology::UnreceiptedPayment
            | Typology::SlaBreach
            | Typology::OverdueOpen
            | Typology::BrokerActivity => Severity::Medium,
            Typology::OffHoursProcessing => Severity::Low,
        }
    }

    /// This typology's bit in a transaction's fired set.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Typologies that make a transaction "irregular" (typologies.md).
    pub fn marks_irregular(self) -> bool {
        matches!(
            self,
            Typology::FeeOnFreeService | Typology::FeeAboveTariff | Typology::UnofficialChannel
        )
    }

    /// The fired bits that make a transaction irregular.
    pub const IRREGULAR: u32 = (1 << Typology::FeeOnFreeService as u32)
        | (1 << Typology::FeeAboveTariff as u32)
        | (1 << Typology::UnofficialChannel as u32);

    /// When this typology's verdict can no longer change (docs/alerts.md).
    pub fn finality(self) -> Finality {
        match self {
            Typology::FeeOnFreeService
            | Typology::FeeAboveTariff
            | Typology::UnreceiptedPayment
            | Typology::UnofficialChannel
            | Typology::SlaBreach
            | Typology::RejectThenPay
            | Typology::OffHoursProcessing => Finality::OnArrival,
            // Another transaction's receipt use, other transactions' durations,
            // a deadline or a window's end: the watermark decides.
            Typology::DuplicateReceipt
            | Typology::OverdueOpen
            | Typology::SpeedMoney
            | Typology::BrokerActivity
            | Typology::OfficerOutlier => Finality::Watermark,
        }
    }

    pub fn final_on_arrival(self) -> bool {
        self.finality() == Finality::OnArrival
    }

    pub fn scope(self) -> Scope {
        match self {
            Typology::BrokerActivity => Scope::Agent,
            Typology::OfficerOutlier => Scope::Officer,
            _ => Scope::Transaction,
        }
    }
}

/// When a verdict can no longer change, whatever else arrives within the
/// allowed lateness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finality {
    /// The verdict reads only its own transaction's events, up to its trigger:
    /// final on arrival once every earlier event of the transaction has
    /// arrived, which early verdicts take from per-transaction arrival order
    /// (engine/early.rs).
    OnArrival,
    /// It reads other transactions or time itself: final when the watermark
    /// passes its trigger.
    Watermark,
}

/// A typology judged on one transaction's state after each of its events:
/// which events may trigger it, and its check. The engine runs every entry of
/// [`TRANSACTION_RULES`].
pub struct TxnRule {
    pub typology: Typology,
    pub triggered_by: fn(&EventBody) -> bool,
    pub check: fn(&RuleCtx<'_>, &TxnState) -> Option<Finding>,
}

/// The transaction rules, in no particular order (findings are sorted by
/// typology).
pub const TRANSACTION_RULES: &[TxnRule] = &[
    fees::FEE_ON_FREE_SERVICE,
    fees::FEE_ABOVE_TARIFF,
    fees::UNRECEIPTED_PAYMENT,
    fees::UNOFFICIAL_CHANNEL,
    sla::SLA_BREACH,
    reject_then_pay::RULE,
    off_hours::RULE,
];

/// Any event may trigger it.
pub fn any_event(_: &EventBody) -> bool {
    true
}

/// What a rule saw: everything an alert needs except the identity and context,
/// which the engine fills in.
#[derive(Debug)]
pub struct Finding {
    pub typology: Typology,
    /// Set when the rule grades severity itself (e.g. a very late `sla_breach`).
    pub severity: Option<Severity>,
    pub event_time: DateTime<FixedOffset>,
    pub related_transaction_id: Option<CompactString>,
    pub evidence: Vec<CompactString>,
    /// The figures and summaries, written when the alert record is made.
    pub render: Render,
}

/// The parts of an alert written for its reader: figures and the two summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct Rendered {
    pub observed: Map<String, Value>,
    pub expected: Map<String, Value>,
    pub summary_id: String,
    pub summary_en: String,
}

/// The context a rendering may name: the alert's own transaction, office and
/// service (empty where the alert has none).
pub struct Subject<'a> {
    pub transaction_id: &'a str,
    pub office_id: &'a str,
    pub service_code: &'a str,
}

type RenderFn = dyn FnOnce(&Subject<'_>) -> Rendered + Send;

/// A finding's figures and summaries, deferred: a rule captures the numbers it
/// saw, and the text is formatted when the alert record is made. In the embedded
/// pipeline that is the sink thread, so the engine thread (the critical path)
/// spends no time formatting.
pub struct Render(Box<RenderFn>);

impl Render {
    pub fn new(f: impl FnOnce(&Subject<'_>) -> Rendered + Send + 'static) -> Render {
        Render(Box::new(f))
    }

    /// Figures and summaries written already (for rare, entity-scoped alerts).
    pub fn ready(rendered: Rendered) -> Render {
        Render::new(move |_| rendered)
    }

    pub fn render(self, subject: &Subject<'_>) -> Rendered {
        (self.0)(subject)
    }
}

impl std::fmt::Debug for Render {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Render(..)")
    }
}

/// A finding with its scope key and context: a transaction's, an agent's, or an
/// officer's in a window.
#[derive(Debug)]
pub struct EntityFinding {
    pub finding: Finding,
    /// What follows `typology|` in the alert id.
    pub scope_key: String,
    pub transaction_id: Option<CompactString>,
    pub office_id: Option<CompactString>,
    pub service_code: Option<CompactString>,
    pub officer_id: Option<CompactString>,
    pub agent_ref: Option<CompactString>,
    /// Set for windowed typologies.
    pub window: Option<(DateTime<FixedOffset>, DateTime<FixedOffset>)>,
}

/// What a transaction rule may look at when an event has been folded into state.
pub struct RuleCtx<'a> {
    pub event: &'a Event,
    pub service: Option<&'a Service>,
    pub office: OfficeContext<'a>,
    pub reference: &'a Reference,
    pub params: &'a Parameters,
}

impl<'a> Subject<'a> {
    pub fn of(
        transaction_id: &'a Option<CompactString>,
        office_id: &'a Option<CompactString>,
        service_code: &'a Option<CompactString>,
    ) -> Subject<'a> {
        Subject {
            transaction_id: transaction_id.as_deref().unwrap_or_default(),
            office_id: office_id.as_deref().unwrap_or_default(),
            service_code: service_code.as_deref().unwrap_or_default(),
        }
    }
}
