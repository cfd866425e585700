//! Weekly tumbling windows per (office, service) counting each officer's `issued`
//! completions and how many of them were irregular, for `officer_outlier`.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Duration, FixedOffset, Utc};
use compact_str::CompactString;
use serde::{Deserialize, Serialize};

use crate::time::Zone;

/// One office and service in one week; the start is Monday 00:00 local.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct GroupKey {
    pub office_id: CompactString,
    pub service_code: CompactString,
    pub start: DateTime<Utc>,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfficerTally {
    pub issued: u32,
    pub irregular: u32,
    /// The irregular transactions (id, completion event id), oldest first.
    pub irregular_txns: Vec<(CompactString, CompactString)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfficerGroup {
    /// Window bounds in the office's local offset, as alerts show them.
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    pub officers: BTreeMap<CompactString, OfficerTally>,
}

/// The window containing `at`: Monday 00:00 local to the next Monday 00:00.
pub fn week_of(at: DateTime<Utc>, zone: Zone) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let local = zone.local(at).date_naive();
    let monday = local - Duration::days(i64::from(local.weekday().num_days_from_monday()));
    let start = zone.start_of(monday);
    let end = zone.start_of(monday + Duration::days(7));
    (zone.local(start), zone.local(end))
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct OfficerWindows {
    /// Hashed, not ordered: a completion finds its week's group in one probe
    /// rather than a string comparison per tree level, and nothing iterates it.
    groups: HashMap<GroupKey, OfficerGroup, ahash::RandomState>,
}

impl OfficerWindows {
    /// Counts an `issued` completion; returns the group's key and whether the
    /// group is new (its closing timer must be scheduled).
    pub fn record_issued(
        &mut self,
        office_id: &CompactString,
        service_code: &CompactString,
        officer: &CompactString,
        at: DateTime<Utc>,
        zone: Zone,
    ) -> (GroupKey, bool) {
        let (start, end) = week_of(at, zone);
        let key = GroupKey {
            office_id: office_id.clone(),
            service_code: service_code.clone(),
            start: start.to_utc(),
        };
        // Looked up before inserting, so the map's own copy of the key is made
        // only for a new group and the officer's id is copied only for a new
        // tally: a long id allocates. (`key` itself is the caller's.)
        let created = !self.groups.contains_key(&key);
        if created {
            let group = OfficerGroup {
                start,
                end,
                officers: BTreeMap::new(),
            };
            self.groups.insert(key.clone(), group);
        }
        let group = self.groups.get_mut(&key).expect("present");
        match group.officers.get_mut(officer) {
            Some(tally) => tally.issued += 1,
            None => {
                let tally = OfficerTally {
                    issued: 1,
                    ..OfficerTally::default()
                };
                group.officers.insert(officer.clone(), tally);
            }
        }
        (key, created)
    }

    /// Counts a transaction of `officer` in window `key` as irregular; false when
    /// the window has already closed.
    pub fn record_irregular(
        &mut self,
        key: &GroupKey,
        officer: &CompactString,
        transaction_id: &CompactString,
        completion_event: &CompactString,
    ) -> bool {
        let Some(tally) = self
            .groups
            .get_mut(key)
            .and_then(|g| g.officers.get_mut(officer))
        else {
            return false;
        };
        tally.irregular += 1;
        tally
            .irregular_txns
            .push((transaction_id.clone(), completion_event.clone()));
        true
    }

    /// Removes a window when the watermark passes its end.
    pub fn close(&mut self, key: &GroupKey) -> Option<OfficerGroup> {
        self.groups.remove(key)
    }

    pub fn len(&self) -> usize {
        self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fixed(h: i32) -> Zone {
        Zone::Fixed(FixedOffset::east_opt(h * 3600).unwrap())
    }

    #[test]
    fn weeks_start_on_local_monday_midnight() {
        // Sunday 2026-03-08 23:30 WIB is still the week of Monday 2026-03-02.
        let at = Utc.with_ymd_and_hms(2026, 3, 8, 16, 30, 0).unwrap();
        let (start, end) = week_of(at, fixed(7));
        assert_eq!(start.to_rfc3339(), "2026-03-02T00:00:00+07:00");
        assert_eq!(end.to_rfc3339(), "2026-03-09T00:00:00+07:00");
        // The same instant is already Monday 01:30 in WIT: the next week.
        let (start, _) = week_of(at, fixed(9));
        assert_eq!(start.to_rfc3339(), "2026-03-09T00:00:00+09:00");
    }
}
