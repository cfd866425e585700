//! Duplicate suppression by `event_id`, with memory bounded by retention: an id is
//! forgotten once the watermark is past its event time plus the retention.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// 128 bits of an id: storing the hash instead of the string halves the memory of
/// the set, and a collision (about 1 in 10^20 per pair) is far below any data error.
type IdHash = u128;

fn hash_id(id: &str) -> IdHash {
    xxhash_rust::xxh3::xxh3_128(id.as_bytes())
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Dedup {
    seen: HashSet<IdHash, ahash::RandomState>,
    /// Ids in arrival order with their event time, for expiry.
    order: VecDeque<(DateTime<Utc>, IdHash)>,
}

impl Dedup {
    /// Records an id; returns false when it was seen before.
    pub fn first_sighting(&mut self, id: &str, at: DateTime<Utc>) -> bool {
        let h = hash_id(id);
        if !self.seen.insert(h) {
            return false;
        }
        self.order.push_back((at, h));
        true
    }

    /// Forgets ids whose event time is before `horizon`. Arrival order is close to
    /// event-time order (within the allowed lateness), so this stops at the first
    /// younger id rather than scanning everything.
    pub fn expire_before(&mut self, horizon: DateTime<Utc>) {
        while let Some(&(at, h)) = self.order.front() {
            if at >= horizon {
                break;
            }
            self.order.pop_front();
            self.seen.remove(&h);
        }
    }

    /// Releases table capacity far beyond what the live ids need.
    pub fn shrink(&mut self) {
        let len = self.seen.len();
        if self.seen.capacity() > 4 * len + 4096 {
            self.seen.shrink_to(2 * len);
            self.order.shrink_to(2 * len);
        }
    }

    pub fn len(&self) -> usize {
        self.seen.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}
