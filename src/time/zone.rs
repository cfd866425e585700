//! Which clock an office keeps: a named IANA zone from the office catalogue, or the
//! fixed offset its events carry when the office is not catalogued.

use chrono::{DateTime, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    Named(Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub fn offset_at(&self, instant: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Named(tz) => tz.offset_from_utc_datetime(&instant.naive_utc()).fix(),
            Zone::Fixed(off) => *off,
        }
    }

    pub fn local(&self, instant: DateTime<Utc>) -> DateTime<FixedOffset> {
        instant.with_timezone(&self.offset_at(instant))
    }

    pub fn local_naive(&self, instant: DateTime<Utc>) -> NaiveDateTime {
        self.local(instant).naive_local()
    }

    /// The instant a local date starts (00:00, i.e. 24:00 of the day before).
    /// Indonesian zones have no daylight saving; for other zones a skipped
    /// midnight resolves to the first valid instant after it.
    pub fn start_of(&self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_hms_opt(0, 0, 0).expect("midnight exists");
        match self {
            Zone::Fixed(off) => (midnight - *off).and_utc(),
            Zone::Named(tz) => match tz.from_local_datetime(&midnight) {
                LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
                LocalResult::None => {
                    let mut probe = midnight;
                    loop {
                        probe += chrono::Duration::minutes(15);
                        if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                            return t.with_timezone(&Utc);
                        }
                    }
                }
            },
        }
    }

    pub fn name(&self) -> String {
        match self {
            Zone::Named(tz) => tz.name().to_owned(),
            Zone::Fixed(off) => format!("UTC{off}"),
        }
    }
}
