//! Rules: the built-in typologies of ../shared/spec/typologies.md and the custom
//! rules of the pipeline configuration. A rule reads state and reports a
//! [`Finding`]; the engine decides whether it becomes an alert (once per key).
//!
//! The registry: each typology is one module below, named as the typology,
//! holding its [`TypologyDef`] (name, default severity, scope, whether it makes
//! a transaction irregular, when its verdict is final, and its evaluation
//! after each event of a transaction, if it has one), its parameters, its
//! evaluation and its alert rendering in both languages. The [`registry!`]
//! list below is the only other place that names it. Typologies that span
//! transactions keep their state in the engine (`state/`), which calls their
//! evaluation from its hooks (engine/windowed.rs).

pub mod custom;
pub mod fees;
pub mod params;

use chrono::{DateTime, FixedOffset};
use compact_str::CompactString;
use serde_json::{Map, Value};

use crate::alerts::{Scope, Severity};
use crate::decode::{Event, EventBody};
use crate::reference::{OfficeContext, Reference, Service};
use crate::state::TxnState;

pub use params::Parameters;

/// Declares the typologies: one line each, the variant and its module, in
/// the order alerts of the same event are written.
macro_rules! registry {
    ($($variant:ident => $module:ident),+ $(,)?) => {
        $(pub mod $module;)+

        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Typology {
            $($variant),+
        }

        impl Typology {
            pub const ALL: [Typology; [$(stringify!($variant)),+].len()] = [$(Typology::$variant),+];

            /// This typology's entry in the registry.
            pub const fn def(self) -> &'static TypologyDef {
                match self {
                    $(Typology::$variant => &$module::DEF),+
                }
            }
        }
    };
}

registry! {
    FeeOnFreeService => fee_on_free_service,
    FeeAboveTariff => fee_above_tariff,
    UnreceiptedPayment => unreceipted_payment,
    UnofficialChannel => unofficial_channel,
    DuplicateReceipt => duplicate_receipt,
    SlaBreach => sla_breach,
    OverdueOpen => overdue_open,
    RejectThenPay => reject_then_pay,
    OffHoursProcessing => off_hours_processing,
    SpeedMoney => speed_money,
    BrokerActivity => broker_activity,
    OfficerOutlier => officer_outlier,
}

/// What the engine needs to know of a typology.
pub struct TypologyDef {
    /// The name in alerts, metrics and configuration.
    pub name: &'static str,
    pub severity: Severity,
    pub scope: Scope,
    /// Raising it makes a transaction irregular (typologies.md).
    pub irregular: bool,
    pub finality: Finality,
    /// Its evaluation on a transaction's state after each event, for the
    /// typologies that need nothing else; `None` for those the engine judges
    /// from its cross-transaction state or timers.
    pub transaction: Option<TxnRule>,
}

/// A typology judged on one transaction's state after each of its events:
/// which events may trigger it, and its check.
pub struct TxnRule {
    pub triggered_by: fn(&EventBody) -> bool,
    pub check: fn(&RuleCtx<'_>, &TxnState) -> Option<Finding>,
}

/// Any event may trigger it.
pub fn any_event(_: &EventBody) -> bool {
    true
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

impl Typology {
    pub fn name(self) -> &'static str {
        self.def().name
    }

    pub fn from_name(name: &str) -> Option<Typology> {
        Typology::ALL.iter().copied().find(|t| t.name() == name)
    }

    pub fn default_severity(self) -> Severity {
        self.def().severity
    }

    /// This typology's bit in a transaction's fired set.
    pub fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// Typologies that make a transaction "irregular" (typologies.md).
    pub fn marks_irregular(self) -> bool {
        self.def().irregular
    }

    /// The fired bits that make a transaction irregular.
    pub const IRREGULAR: u32 = {
        let mut bits = 0;
        let mut i = 0;
        while i < Typology::ALL.len() {
            if Typology::ALL[i].def().irregular {
                bits |= 1 << i;
            }
            i += 1;
        }
        bits
    };

    /// When this typology's verdict can no longer change (docs/alerts.md).
    pub fn finality(self) -> Finality {
        self.def().finality
    }

    pub fn final_on_arrival(self) -> bool {
        self.finality() == Finality::OnArrival
    }

    pub fn scope(self) -> Scope {
        self.def().scope
    }
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
