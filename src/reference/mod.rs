//! Reference data loaded at start from files under pipelines/: the service
//! catalogue, holidays, offices and office hours. Configuration, not code.

pub mod holidays;
pub mod offices;
pub mod services;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{FixedOffset, NaiveDate};
use chrono_tz::Tz;

pub use offices::{Office, OfficeCatalogue};
pub use services::{Service, ServiceCatalogue, Tariff};

use crate::time::{Calendar, OfficeHours, Zone};

#[derive(Debug, thiserror::Error)]
pub enum ReferenceError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
    #[error("{path}: {entry}: {message}")]
    Entry {
        path: PathBuf,
        entry: String,
        message: String,
    },
}

pub(crate) fn read(path: &Path) -> Result<String, ReferenceError> {
    std::fs::read_to_string(path).map_err(|source| ReferenceError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Where an event's office stands: its clock, extra holidays and hours.
#[derive(Debug, Clone, Copy)]
pub struct OfficeContext<'a> {
    pub zone: Zone,
    pub regional_holidays: Option<&'a BTreeSet<NaiveDate>>,
    pub hours: &'a OfficeHours,
    pub catalogued: bool,
}

#[derive(Debug, Clone)]
pub struct Reference {
    pub services: ServiceCatalogue,
    pub offices: OfficeCatalogue,
    pub calendar: Calendar,
    pub office_hours: OfficeHours,
    pub default_zone: Tz,
}

impl Reference {
    /// Assembles the calendar from holiday entries; `cuti_bersama_working` is the
    /// policy switch that counts collective-leave days as working days.
    pub fn new(
        services: ServiceCatalogue,
        offices: OfficeCatalogue,
        holidays: &[holidays::Holiday],
        cuti_bersama_working: bool,
        office_hours: OfficeHours,
        default_zone: Tz,
    ) -> Self {
        let calendar = Calendar::new(
            holidays
                .iter()
                .filter(|h| !(cuti_bersama_working && h.kind == holidays::HolidayKind::CutiBersama))
                .map(|h| h.date),
        );
        Reference {
            services,
            offices,
            calendar,
            office_hours,
            default_zone,
        }
    }

    /// The zone rule of typologies.md: the catalogue's zone, else the event's own
    /// offset, else (offset zero) the pipeline's default zone.
    pub fn office(&self, office_id: &str, offset: FixedOffset) -> OfficeContext<'_> {
        match self.offices.get(office_id) {
            Some(o) => OfficeContext {
                zone: Zone::Named(o.zone),
                regional_holidays: Some(&o.regional_holidays),
                hours: o.hours.as_ref().unwrap_or(&self.office_hours),
                catalogued: true,
            },
            None => OfficeContext {
                zone: if offset.local_minus_utc() == 0 {
                    Zone::Named(self.default_zone)
                } else {
                    Zone::Fixed(offset)
                },
                regional_holidays: None,
                hours: &self.office_hours,
                catalogued: false,
            },
        }
    }
}
