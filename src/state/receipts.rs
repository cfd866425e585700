//! Receipt numbers used per office, for `duplicate_receipt`: which transaction
//! used (office, receipt) first, kept for the configured window.
//!
//! The window is long (365 days by default), so over a long stream this is the
//! largest part of the state. An entry is kept small: the (office, receipt) pair
//! is held as a 128-bit hash, as duplicate event ids are, and the one use most
//! receipts ever see is held inline rather than in a list of its own.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, Duration, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceiptUse {
    pub transaction_id: CompactString,
    pub at: DateTime<Utc>,
    pub event_id: CompactString,
}

/// (office, receipt) as 128 bits of a hash: a collision (about 1 in 10^20 per
/// pair) is far below any data error. Two halves, because the state's CBOR form
/// cannot carry a u128 through the fallback to the older form.
type ReceiptKey = (u64, u64);

fn key(office: &str, receipt: &str) -> ReceiptKey {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(office.as_bytes());
    // 0xFF never occurs in UTF-8, so no two pairs hash the same bytes.
    h.update(&[0xFF]);
    h.update(receipt.as_bytes());
    let d = h.digest128();
    ((d >> 64) as u64, d as u64)
}

/// Uses of one receipt by distinct transactions, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum Uses {
    One(ReceiptUse),
    Many(Vec<ReceiptUse>),
}

impl Uses {
    fn as_slice(&self) -> &[ReceiptUse] {
        match self {
            Uses::One(u) => std::slice::from_ref(u),
            Uses::Many(v) => v,
        }
    }

    fn add(&mut self, usage: ReceiptUse) {
        let mut list = match std::mem::replace(self, Uses::Many(Vec::new())) {
            Uses::One(first) => vec![first],
            Uses::Many(v) => v,
        };
        list.push(usage);
        list.sort_by(|a, b| {
            a.at.cmp(&b.at)
                .then_with(|| a.transaction_id.cmp(&b.transaction_id))
        });
        *self = Uses::Many(list);
    }

    /// Keeps the uses at or after `horizon`; false when none is left.
    fn retain_since(&mut self, horizon: DateTime<Utc>) -> bool {
        match self {
            Uses::One(u) => u.at >= horizon,
            Uses::Many(v) => {
                v.retain(|u| u.at >= horizon);
                !v.is_empty()
            }
        }
    }
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(from = "Stored")]
pub struct ReceiptRegistry {
    uses: HashMap<ReceiptKey, Uses, ahash::RandomState>,
    /// Keys in the order their uses were recorded, with the use's time, for expiry.
    order: VecDeque<(DateTime<Utc>, ReceiptKey)>,
}

/// What a checkpoint or changelog holds: this form, or the one written before
/// entries were keyed by hash (still read, so a resumed run keeps its state).
#[derive(Deserialize)]
#[serde(untagged)]
enum Stored {
    Current {
        uses: HashMap<ReceiptKey, Uses, ahash::RandomState>,
        order: VecDeque<(DateTime<Utc>, ReceiptKey)>,
    },
    ByName {
        uses: HashMap<(CompactString, CompactString), Vec<ReceiptUse>, ahash::RandomState>,
        order: VecDeque<(DateTime<Utc>, CompactString, CompactString)>,
    },
}

impl From<Stored> for ReceiptRegistry {
    fn from(s: Stored) -> ReceiptRegistry {
        match s {
            Stored::Current { uses, order } => ReceiptRegistry { uses, order },
            Stored::ByName { uses, order } => ReceiptRegistry {
                uses: uses
                    .into_iter()
                    .filter(|(_, list)| !list.is_empty())
                    .map(|((office, receipt), mut list)| {
                        let uses = if list.len() == 1 {
                            Uses::One(list.remove(0))
                        } else {
                            Uses::Many(list)
                        };
                        (key(&office, &receipt), uses)
                    })
                    .collect(),
                order: order
                    .into_iter()
                    .map(|(at, office, receipt)| (at, key(&office, &receipt)))
                    .collect(),
            },
        }
    }
}

impl ReceiptRegistry {
    /// Records a use and returns the earliest use of the same receipt at the same
    /// office by a different transaction within `window` before `at`, if any.
    pub fn record(
        &mut self,
        office: &str,
        receipt: &str,
        usage: ReceiptUse,
        window: Duration,
    ) -> Option<ReceiptUse> {
        let k = key(office, receipt);
        let at = usage.at;
        let uses = match self.uses.entry(k) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(Uses::One(usage));
                self.order.push_back((at, k));
                return None;
            }
            std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
        };
        // Only the transaction observed second is flagged: one that used the receipt
        // before anyone else did is the first user, whatever came after.
        let list = uses.as_slice();
        let earlier = list
            .iter()
            .find(|u| u.at <= at && at - u.at <= window)
            .filter(|u| u.transaction_id != usage.transaction_id)
            .cloned();
        if !list
            .iter()
            .any(|u| u.transaction_id == usage.transaction_id)
        {
            uses.add(usage);
            self.order.push_back((at, k));
        }
        earlier
    }

    /// Drops uses older than `horizon`.
    pub fn expire_before(&mut self, horizon: DateTime<Utc>) {
        while let Some(&(at, k)) = self.order.front() {
            if at >= horizon {
                break;
            }
            self.order.pop_front();
            if let Some(uses) = self.uses.get_mut(&k)
                && !uses.retain_since(horizon)
            {
                self.uses.remove(&k);
            }
        }
    }

    pub fn len(&self) -> usize {
        self.uses.len()
    }

    pub fn is_empty(&self) -> bool {
        self.uses.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn usage(txn: &str, t: &str) -> ReceiptUse {
        ReceiptUse {
            transaction_id: txn.into(),
            at: at(t),
            event_id: format!("{txn}-p").into(),
        }
    }

    const DAY: Duration = Duration::days(1);

    #[test]
    fn second_transaction_gets_the_first_use() {
        let mut r = ReceiptRegistry::default();
        let u1 = usage("T1", "2026-03-02T01:00:00Z");
        assert_eq!(r.record("K1", "R1", u1.clone(), DAY * 365), None);
        // The same transaction again is not a reuse.
        assert_eq!(
            r.record("K1", "R1", usage("T1", "2026-03-02T02:00:00Z"), DAY * 365),
            None
        );
        let got = r.record("K1", "R1", usage("T2", "2026-03-03T01:00:00Z"), DAY * 365);
        assert_eq!(got, Some(u1));
        assert_eq!(r.len(), 1);
    }

    #[test]
    fn the_office_is_part_of_the_key() {
        let mut r = ReceiptRegistry::default();
        r.record("K1", "R1", usage("T1", "2026-03-02T01:00:00Z"), DAY);
        // Same receipt number, other office; and pairs whose concatenation is equal.
        assert_eq!(
            r.record("K2", "R1", usage("T2", "2026-03-02T02:00:00Z"), DAY),
            None
        );
        assert_eq!(
            r.record("K1R", "1", usage("T3", "2026-03-02T02:00:00Z"), DAY),
            None
        );
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn a_use_before_the_window_is_not_a_duplicate() {
        let mut r = ReceiptRegistry::default();
        r.record("K1", "R1", usage("T1", "2026-03-01T00:00:00Z"), DAY);
        let late = usage("T2", "2026-03-02T00:00:01Z");
        assert_eq!(r.record("K1", "R1", late, DAY), None);
    }

    #[test]
    fn an_earlier_use_arriving_later_flags_the_later_user() {
        let mut r = ReceiptRegistry::default();
        let later = usage("T2", "2026-03-02T05:00:00Z");
        assert_eq!(r.record("K1", "R1", later, DAY), None);
        // T1 used it first, so T1 is not flagged...
        assert_eq!(
            r.record("K1", "R1", usage("T1", "2026-03-02T01:00:00Z"), DAY),
            None
        );
        // ...and a third user is judged against T1, the first.
        let got = r.record("K1", "R1", usage("T3", "2026-03-02T06:00:00Z"), DAY);
        assert_eq!(got.map(|u| u.transaction_id), Some("T1".into()));
    }

    #[test]
    fn expiry_forgets_old_uses_and_keeps_young_ones() {
        let mut r = ReceiptRegistry::default();
        r.record("K1", "R1", usage("T1", "2026-03-01T00:00:00Z"), DAY * 30);
        r.record("K1", "R2", usage("T3", "2026-03-01T00:00:00Z"), DAY * 30);
        r.record("K1", "R1", usage("T2", "2026-03-05T00:00:00Z"), DAY * 30);
        r.expire_before(at("2026-03-02T00:00:00Z"));
        assert_eq!(r.len(), 1, "R2 is gone, R1 keeps T2's use");
        let got = r.record("K1", "R1", usage("T4", "2026-03-06T00:00:00Z"), DAY * 30);
        assert_eq!(got.map(|u| u.transaction_id), Some("T2".into()));
        r.expire_before(at("2026-04-01T00:00:00Z"));
        assert!(r.is_empty());
    }

    #[test]
    fn the_form_keyed_by_name_is_still_read() {
        // The registry as it was serialised before entries were keyed by hash.
        #[derive(Serialize)]
        struct ByName {
            uses: HashMap<(CompactString, CompactString), Vec<ReceiptUse>>,
            order: VecDeque<(DateTime<Utc>, CompactString, CompactString)>,
        }
        let t1 = usage("T1", "2026-03-01T00:00:00Z");
        let old = ByName {
            uses: [(("K1".into(), "R1".into()), vec![t1.clone()])].into(),
            order: [(t1.at, "K1".into(), "R1".into())].into(),
        };
        let mut buf = Vec::new();
        ciborium::into_writer(&old, &mut buf).unwrap();
        let mut r: ReceiptRegistry = ciborium::from_reader(buf.as_slice()).unwrap();
        let got = r.record("K1", "R1", usage("T2", "2026-03-02T00:00:00Z"), DAY * 30);
        assert_eq!(got, Some(t1));
        // And the current form round-trips.
        let mut buf = Vec::new();
        ciborium::into_writer(&r, &mut buf).unwrap();
        let back: ReceiptRegistry = ciborium::from_reader(buf.as_slice()).unwrap();
        assert_eq!(back.uses, r.uses);
        assert_eq!(back.order, r.order);
    }
}
