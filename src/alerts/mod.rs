//! The alert contract (../shared/spec/alerts.md): one self-explaining record per
//! finding, with a deterministic id, figures, evidence and bilingual summaries.

mod text;

use chrono::{DateTime, FixedOffset, SecondsFormat};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use text::rupiah;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    Transaction,
    Agent,
    Officer,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Transaction => "transaction",
            Scope::Agent => "agent",
            Scope::Officer => "officer",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub alert_id: String,
    pub typology: CompactString,
    pub severity: Severity,
    pub scope: Scope,
    // Identifiers are short: `CompactString` holds them without an allocation,
    // and an alert record is made for every alert.
    pub transaction_id: Option<CompactString>,
    pub related_transaction_id: Option<CompactString>,
    pub office_id: Option<CompactString>,
    pub service_code: Option<CompactString>,
    pub officer_id: Option<CompactString>,
    pub agent_ref: Option<CompactString>,
    pub window_start: Option<String>,
    pub window_end: Option<String>,
    pub event_time: String,
    pub observed: Map<String, Value>,
    pub expected: Map<String, Value>,
    pub evidence_event_ids: Vec<CompactString>,
    pub summary_id: String,
    pub summary_en: String,
    pub pipeline: CompactString,
}

impl Alert {
    /// What a confirmed case names: the transaction, the agent, or the officer
    /// window `officer|office|service|window_start` (the simulator's labels and
    /// `backtest --labels` use it).
    pub fn label_key(&self) -> String {
        fn s<T: AsRef<str>>(v: &Option<T>) -> &str {
            v.as_ref().map_or("", AsRef::as_ref)
        }
        match self.scope {
            Scope::Transaction => s(&self.transaction_id).to_owned(),
            Scope::Agent => s(&self.agent_ref).to_owned(),
            Scope::Officer => format!(
                "{}|{}|{}|{}",
                s(&self.officer_id),
                s(&self.office_id),
                s(&self.service_code),
                s(&self.window_start)
            ),
        }
    }
}

/// Lowercase hex of the first 16 bytes of SHA-256 over `typology|scope_key`.
pub fn alert_id(typology: &str, scope_key: &str) -> String {
    let mut h = Sha256::new();
    h.update(typology.as_bytes());
    h.update(b"|");
    h.update(scope_key.as_bytes());
    // Into a fixed buffer: `hex::encode` collects char by char.
    let mut out = [0u8; 32];
    hex::encode_to_slice(&h.finalize()[..16], &mut out).expect("32 hex digits for 16 bytes");
    String::from_utf8(out.to_vec()).expect("hex digits are ASCII")
}

/// RFC 3339 with the offset the time is expressed in, seconds precision unless
/// the time carries fractions.
pub fn format_time(t: DateTime<FixedOffset>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Builds a JSON object from key/value pairs, keeping the figures readable in code.
#[macro_export]
macro_rules! figures {
    ($($k:literal : $v:expr),* $(,)?) => {{
        #[allow(unused_mut)]
        let mut m = serde_json::Map::new();
        $( m.insert($k.to_owned(), serde_json::json!($v)); )*
        m
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_id_is_sha256_prefix() {
        // sha256("fee_on_free_service|T-1"), first 16 bytes.
        let id = alert_id("fee_on_free_service", "T-1");
        assert_eq!(id.len(), 32);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        let full = hex::encode(Sha256::digest(b"fee_on_free_service|T-1"));
        assert_eq!(id, full[..32]);
        assert_ne!(id, alert_id("fee_above_tariff", "T-1"));
    }
}
