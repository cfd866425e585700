//! The validated, typed form of one event of contract v1 (../shared/spec/events.md).

use chrono::{DateTime, FixedOffset};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// Event time as published: the instant plus the UTC offset the publisher wrote,
/// kept because an office outside the catalogue takes its zone from it.
pub type EventTime = DateTime<FixedOffset>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub event_id: CompactString,
    pub occurred_at: EventTime,
    pub transaction_id: CompactString,
    pub office_id: CompactString,
    pub service_code: CompactString,
    pub officer_id: Option<CompactString>,
    pub body: EventBody,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventBody {
    Submitted(Submitted),
    Payment(Payment),
    StatusChanged(StatusChanged),
    Completed { outcome: Outcome },
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submitted {
    pub channel: Channel,
    pub applicant_ref: CompactString,
    pub agent_ref: Option<CompactString>,
    pub assessed_fee: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payment {
    pub amount: u64,
    pub method: Method,
    pub payee: Payee,
    /// `None` also for an empty string: the contract treats both as "no receipt".
    pub receipt_no: Option<CompactString>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChanged {
    pub status: Status,
    pub reason: Option<CompactString>,
}

macro_rules! wire_enum {
    ($name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub const WIRE: &'static [&'static str] = &[$($wire),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire),+ }
            }

            pub fn from_wire(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(EventType {
    Submitted => "submitted",
    Payment => "payment",
    StatusChanged => "status_changed",
    Completed => "completed",
    Cancelled => "cancelled",
});
wire_enum!(Channel { Counter => "counter", Online => "online", Mobile => "mobile" });
wire_enum!(Method {
    Cash => "cash",
    BankTransfer => "bank_transfer",
    VirtualAccount => "virtual_account",
    Qris => "qris",
    BillingCode => "billing_code",
});
wire_enum!(Payee { Official => "official", Other => "other" });
wire_enum!(Status {
    Verified => "verified",
    Returned => "returned",
    Rejected => "rejected",
    Approved => "approved",
});
wire_enum!(Outcome { Issued => "issued", Refused => "refused" });

impl EventBody {
    pub fn event_type(&self) -> EventType {
        match self {
            EventBody::Submitted(_) => EventType::Submitted,
            EventBody::Payment(_) => EventType::Payment,
            EventBody::StatusChanged(_) => EventType::StatusChanged,
            EventBody::Completed { .. } => EventType::Completed,
            EventBody::Cancelled => EventType::Cancelled,
        }
    }
}

impl Event {
    pub fn event_type(&self) -> EventType {
        self.body.event_type()
    }

    /// Total order used to process events deterministically: event time, then the
    /// lifecycle position of the type (a payment stamped in the same second as its
    /// submission comes after it), then the id.
    pub fn order_key(&self) -> (i64, u32, EventType, &str) {
        (
            self.occurred_at.timestamp(),
            self.occurred_at.timestamp_subsec_nanos(),
            self.event_type(),
            self.event_id.as_str(),
        )
    }
}
