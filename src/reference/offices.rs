//! The optional office catalogue: an office's time zone, regional holidays and,
//! where it differs from the default, its own office hours.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use chrono_tz::Tz;
use compact_str::CompactString;
use serde::Deserialize;

use super::ReferenceError;
use crate::time::OfficeHours;

#[derive(Debug, Clone)]
pub struct Office {
    pub id: CompactString,
    pub name: String,
    pub zone: Tz,
    pub regional_holidays: BTreeSet<NaiveDate>,
    pub hours: Option<OfficeHours>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficeFile {
    #[serde(default)]
    office: Vec<OfficeEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OfficeEntry {
    id: String,
    #[serde(default)]
    name: String,
    time_zone: String,
    #[serde(default)]
    regional_holidays: Vec<String>,
    #[serde(default)]
    hours: Option<OfficeHours>,
}

#[derive(Debug, Clone, Default)]
pub struct OfficeCatalogue {
    offices: HashMap<CompactString, Office, ahash::RandomState>,
}

impl OfficeCatalogue {
    pub fn load(path: &Path) -> Result<Self, ReferenceError> {
        let text = super::read(path)?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ReferenceError> {
        let file: OfficeFile = toml::from_str(text).map_err(|e| ReferenceError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let mut offices = HashMap::default();
        for (i, e) in file.office.into_iter().enumerate() {
            let bad = |message: String| ReferenceError::Entry {
                path: path.to_owned(),
                entry: format!("office #{} ({})", i + 1, e.id),
                message,
            };
            let zone: Tz = e.time_zone.parse().map_err(|_| {
                bad(format!(
                    "unknown time zone {:?} (use e.g. Asia/Jakarta)",
                    e.time_zone
                ))
            })?;
            let regional_holidays = e
                .regional_holidays
                .iter()
                .map(|d| {
                    NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|err| {
                        bad(format!("regional holiday {d:?} is not YYYY-MM-DD ({err})"))
                    })
                })
                .collect::<Result<_, _>>()?;
            let id = CompactString::from(e.id.as_str());
            let office = Office {
                id: id.clone(),
                name: e.name,
                zone,
                regional_holidays,
                hours: e.hours,
            };
            if offices.insert(id, office).is_some() {
                return Err(bad("duplicate office id".into()));
            }
        }
        Ok(OfficeCatalogue { offices })
    }

    pub fn get(&self, id: &str) -> Option<&Office> {
        self.offices.get(id)
    }

    pub fn len(&self) -> usize {
        self.offices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offices.is_empty()
    }
}
