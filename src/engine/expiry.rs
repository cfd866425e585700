//! When transaction state may be dropped: hour buckets keyed by due time. Expiry
//! raises no alerts, so it needs no exact order, only never to come early; a
//! bucket map is far cheaper than one heap entry per transaction.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

const BUCKET_S: i64 = 3600;

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ExpiryWheel {
    buckets: BTreeMap<i64, Vec<CompactString>>,
}

impl ExpiryWheel {
    /// Asks for `id` to be looked at once the watermark is past `due`.
    pub fn schedule(&mut self, due: DateTime<Utc>, id: CompactString) {
        // The bucket after the one holding `due`: never checked before `due`.
        let bucket = due.timestamp().div_euclid(BUCKET_S) + 1;
        self.buckets.entry(bucket).or_default().push(id);
    }

    /// Takes the ids of every bucket that ends at or before `w`.
    pub fn due(&mut self, w: DateTime<Utc>) -> Vec<CompactString> {
        let mut out = Vec::new();
        while let Some(entry) = self.buckets.first_entry() {
            if *entry.key() * BUCKET_S > w.timestamp() {
                break;
            }
            out.extend(entry.remove());
        }
        out
    }

    pub fn len(&self) -> usize {
        self.buckets.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.buckets.is_empty()
    }
}
