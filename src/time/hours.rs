//! Office hours (Perpres 21/2023): when an approval or issuance is expected to happen.

use chrono::{Datelike, NaiveDateTime, NaiveTime, Weekday};
use serde::{Deserialize, Serialize};

/// Opening interval of one weekday, as `"07:30-16:00"`; the end is exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Opening {
    pub open: NaiveTime,
    pub close: NaiveTime,
}

impl TryFrom<String> for Opening {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        let (a, b) = s
            .split_once('-')
            .ok_or_else(|| format!("office hours {s:?} must look like \"07:30-16:00\""))?;
        let parse = |t: &str| {
            NaiveTime::parse_from_str(t.trim(), "%H:%M")
                .map_err(|e| format!("office hours {s:?}: {t:?} is not HH:MM ({e})"))
        };
        let (open, close) = (parse(a)?, parse(b)?);
        if close <= open {
            return Err(format!(
                "office hours {s:?}: closing time must be after opening time"
            ));
        }
        Ok(Opening { open, close })
    }
}

impl From<Opening> for String {
    fn from(o: Opening) -> String {
        format!("{}-{}", o.open.format("%H:%M"), o.close.format("%H:%M"))
    }
}

/// Weekly schedule; a day with no entry is closed. Holidays are closed all day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeHours {
    #[serde(default)]
    pub mon: Option<Opening>,
    #[serde(default)]
    pub tue: Option<Opening>,
    #[serde(default)]
    pub wed: Option<Opening>,
    #[serde(default)]
    pub thu: Option<Opening>,
    #[serde(default)]
    pub fri: Option<Opening>,
    #[serde(default)]
    pub sat: Option<Opening>,
    #[serde(default)]
    pub sun: Option<Opening>,
}

impl Default for OfficeHours {
    fn default() -> Self {
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("valid time");
        let weekday = Some(Opening {
            open: t(7, 30),
            close: t(16, 0),
        });
        OfficeHours {
            mon: weekday,
            tue: weekday,
            wed: weekday,
            thu: weekday,
            fri: Some(Opening {
                open: t(7, 30),
                close: t(16, 30),
            }),
            sat: None,
            sun: None,
        }
    }
}

impl OfficeHours {
    pub fn opening(&self, day: Weekday) -> Option<Opening> {
        match day {
            Weekday::Mon => self.mon,
            Weekday::Tue => self.tue,
            Weekday::Wed => self.wed,
            Weekday::Thu => self.thu,
            Weekday::Fri => self.fri,
            Weekday::Sat => self.sat,
            Weekday::Sun => self.sun,
        }
    }

    /// Whether a local time falls inside office hours; `holiday` closes the whole day.
    pub fn is_open(&self, local: NaiveDateTime, holiday: bool) -> bool {
        if holiday {
            return false;
        }
        self.opening(local.weekday())
            .is_some_and(|o| local.time() >= o.open && local.time() < o.close)
    }

    /// A short schedule for alert texts, e.g. "Mon-Thu 07:30-16:00, Fri 07:30-16:30".
    pub fn describe(&self) -> String {
        let days = [
            ("Mon", self.mon),
            ("Tue", self.tue),
            ("Wed", self.wed),
            ("Thu", self.thu),
            ("Fri", self.fri),
            ("Sat", self.sat),
            ("Sun", self.sun),
        ];
        let mut parts: Vec<String> = Vec::new();
        let mut i = 0;
        while i < days.len() {
            let Some(o) = days[i].1 else {
                i += 1;
                continue;
            };
            let mut j = i;
            while j + 1 < days.len() && days[j + 1].1 == Some(o) {
                j += 1;
            }
            let range = if i == j {
                days[i].0.to_owned()
            } else {
                format!("{}-{}", days[i].0, days[j].0)
            };
            parts.push(format!("{range} {}", String::from(o)));
            i = j + 1;
        }
        if parts.is_empty() {
            "closed".to_owned()
        } else {
            parts.join(", ")
        }
    }
}
