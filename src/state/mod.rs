//! Keyed state: transactions, seen event ids, receipt numbers, and the
//! cross-transaction windows (agents, officers, duration baselines).

pub mod agents;
pub mod baseline;
pub mod dedup;
pub mod officers;
pub mod receipts;
pub mod transaction;

pub use agents::{AgentSubmission, AgentWindow, Agents, BrokerWindow};
pub use baseline::{BaselineSnapshot, Baselines, DurationBaseline};
pub use dedup::Dedup;
pub use officers::{GroupKey, OfficerGroup, OfficerTally, OfficerWindows};
pub use receipts::{ReceiptRegistry, ReceiptUse};
pub use transaction::{Closure, Mark, PaymentRecord, SubmittedInfo, TxnState};
