//! Working days and service-level deadlines (typologies.md, "Deadline of a transaction").

use std::collections::{BTreeSet, HashSet};

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc, Weekday};
use serde::{Deserialize, Serialize};

use super::zone::Zone;

/// A service standard: a number of working days, or a number of hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sla {
    WorkingDays(u32),
    Hours(u32),
}

impl Sla {
    pub fn describe_en(&self) -> String {
        match self {
            Sla::WorkingDays(0) => "same working day".to_owned(),
            Sla::WorkingDays(1) => "1 working day".to_owned(),
            Sla::WorkingDays(n) => format!("{n} working days"),
            Sla::Hours(h) => format!("{h} hours"),
        }
    }

    pub fn describe_id(&self) -> String {
        match self {
            Sla::WorkingDays(0) => "hari kerja yang sama".to_owned(),
            Sla::WorkingDays(n) => format!("{n} hari kerja"),
            Sla::Hours(h) => format!("{h} jam"),
        }
    }
}

/// A search for the next working day gives up after this many days, so a calendar
/// that (wrongly) makes every day a holiday cannot hang the pipeline.
const MAX_SEARCH_DAYS: u32 = 3660;

/// The national holiday calendar (holidays, plus cuti bersama unless the policy
/// counts them as working days).
#[derive(Debug, Clone, Default)]
pub struct Calendar {
    non_working: HashSet<NaiveDate, ahash::RandomState>,
}

impl Calendar {
    pub fn new(non_working: impl IntoIterator<Item = NaiveDate>) -> Self {
        Calendar {
            non_working: non_working.into_iter().collect(),
        }
    }

    pub fn is_holiday(&self, date: NaiveDate, regional: Option<&BTreeSet<NaiveDate>>) -> bool {
        self.non_working.contains(&date) || regional.is_some_and(|r| r.contains(&date))
    }

    pub fn is_working_day(&self, date: NaiveDate, regional: Option<&BTreeSet<NaiveDate>>) -> bool {
        !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !self.is_holiday(date, regional)
    }

    /// The first working day on or after `date`.
    pub fn working_day_on_or_after(
        &self,
        date: NaiveDate,
        regional: Option<&BTreeSet<NaiveDate>>,
    ) -> NaiveDate {
        let mut d = date;
        for _ in 0..MAX_SEARCH_DAYS {
            if self.is_working_day(d, regional) {
                return d;
            }
            d = d.succ_opt().unwrap_or(d);
        }
        d
    }

    /// The N-th working day strictly after `date` (N ≥ 1).
    pub fn nth_working_day_after(
        &self,
        date: NaiveDate,
        n: u32,
        regional: Option<&BTreeSet<NaiveDate>>,
    ) -> NaiveDate {
        let mut d = date;
        let mut counted = 0;
        for _ in 0..(MAX_SEARCH_DAYS + n) {
            d = d.succ_opt().unwrap_or(d);
            if self.is_working_day(d, regional) {
                counted += 1;
                if counted == n {
                    break;
                }
            }
        }
        d
    }

    /// Working days strictly after `from` up to and including `to`: a transaction
    /// submitted on `from` and completed on `to` took this many working days, so
    /// it met an N-working-day standard exactly when the count is at most N.
    pub fn working_days_between(
        &self,
        from: NaiveDate,
        to: NaiveDate,
        regional: Option<&BTreeSet<NaiveDate>>,
    ) -> i64 {
        from.iter_days()
            .skip(1)
            .take_while(|d| *d <= to)
            .take(MAX_SEARCH_DAYS as usize)
            .filter(|d| self.is_working_day(*d, regional))
            .count() as i64
    }

    /// The deadline of a transaction submitted at `submitted`, in the office's zone.
    /// Working-day deadlines fall at 24:00 local of the last allowed working day.
    pub fn deadline(
        &self,
        submitted: DateTime<Utc>,
        zone: Zone,
        sla: Sla,
        regional: Option<&BTreeSet<NaiveDate>>,
    ) -> DateTime<Utc> {
        match sla {
            Sla::Hours(h) => submitted + Duration::hours(i64::from(h)),
            Sla::WorkingDays(n) => {
                let d0 = zone.local_naive(submitted).date();
                let last = if n == 0 {
                    self.working_day_on_or_after(d0, regional)
                } else {
                    self.nth_working_day_after(d0, n, regional)
                };
                zone.start_of(last.succ_opt().unwrap_or(last))
            }
        }
    }
}
