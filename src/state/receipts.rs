//! Receipt numbers used per office, for `duplicate_receipt`: which transaction
//! used (office, receipt) first, kept for the configured window.

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

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct ReceiptRegistry {
    /// (office, receipt) → uses by distinct transactions, oldest first.
    uses: HashMap<(CompactString, CompactString), Vec<ReceiptUse>, ahash::RandomState>,
    order: VecDeque<(DateTime<Utc>, CompactString, CompactString)>,
}

impl ReceiptRegistry {
    /// Records a use and returns the earliest use of the same receipt at the same
    /// office by a different transaction within `window` before `at`, if any.
    pub fn record(
        &mut self,
        office: &CompactString,
        receipt: &CompactString,
        usage: ReceiptUse,
        window: Duration,
    ) -> Option<ReceiptUse> {
        let key = (office.clone(), receipt.clone());
        let list = self.uses.entry(key).or_default();
        // Only the transaction observed second is flagged: one that used the receipt
        // before anyone else did is the first user, whatever came after.
        let first_user = list
            .iter()
            .find(|u| u.at <= usage.at && usage.at - u.at <= window);
        let earlier = first_user
            .filter(|u| u.transaction_id != usage.transaction_id)
            .cloned();
        if !list
            .iter()
            .any(|u| u.transaction_id == usage.transaction_id)
        {
            self.order
                .push_back((usage.at, office.clone(), receipt.clone()));
            list.push(usage);
            list.sort_by(|a, b| {
                a.at.cmp(&b.at)
                    .then_with(|| a.transaction_id.cmp(&b.transaction_id))
            });
        }
        earlier
    }

    /// Drops uses older than `horizon`.
    pub fn expire_before(&mut self, horizon: DateTime<Utc>) {
        while let Some((at, _, _)) = self.order.front() {
            if *at >= horizon {
                break;
            }
            let (_, office, receipt) = self.order.pop_front().expect("front exists");
            let key = (office, receipt);
            if let Some(list) = self.uses.get_mut(&key) {
                list.retain(|u| u.at >= horizon);
                if list.is_empty() {
                    self.uses.remove(&key);
                }
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
