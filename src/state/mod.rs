//! Keyed state: transactions, seen event ids, receipt numbers.

pub mod dedup;
pub mod receipts;
pub mod transaction;

pub use dedup::Dedup;
pub use receipts::{ReceiptRegistry, ReceiptUse};
pub use transaction::{Closure, Mark, PaymentRecord, SubmittedInfo, TxnState};
