//! The service catalogue: tariff, payment rule, service standard and automation of
//! every service code (built from ../shared/domain/services.md).

use std::collections::HashMap;
use std::path::Path;

use compact_str::CompactString;
use serde::Deserialize;

use super::ReferenceError;
use crate::time::Sla;

/// The official tariff: a fixed amount (0 = free by law) or one billed per case
/// through the `submitted` event's `assessed_fee`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tariff {
    Fixed(u64),
    Assessed,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub code: CompactString,
    pub name: String,
    pub agency: String,
    pub tariff: Tariff,
    pub non_cash_required: bool,
    pub sla: Sla,
    pub automated: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    service: Vec<ServiceEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceEntry {
    code: String,
    name: String,
    agency: String,
    /// Fixed official fee in IDR; omit and set `assessed_fee = true` when it varies.
    fee_idr: Option<u64>,
    #[serde(default)]
    assessed_fee: bool,
    non_cash_required: bool,
    sla_working_days: Option<u32>,
    sla_hours: Option<u32>,
    automated: bool,
    #[serde(default)]
    #[allow(dead_code)]
    source: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct ServiceCatalogue {
    services: HashMap<CompactString, Service, ahash::RandomState>,
}

impl ServiceCatalogue {
    pub fn load(path: &Path) -> Result<Self, ReferenceError> {
        let text = super::read(path)?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self, ReferenceError> {
        let file: ServiceFile = toml::from_str(text).map_err(|e| ReferenceError::Syntax {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        let mut services = HashMap::default();
        for (i, e) in file.service.into_iter().enumerate() {
            let bad = |message: String| ReferenceError::Entry {
                path: path.to_owned(),
                entry: format!("service #{} ({})", i + 1, e.code),
                message,
            };
            if e.code.is_empty() || e.code.len() > 64 {
                return Err(bad("`code` must be 1 to 64 characters".into()));
            }
            let tariff = match (e.fee_idr, e.assessed_fee) {
                (Some(fee), false) => Tariff::Fixed(fee),
                (None, true) => Tariff::Assessed,
                (Some(_), true) => {
                    return Err(bad(
                        "set either `fee_idr` or `assessed_fee = true`, not both".into(),
                    ));
                }
                (None, false) => {
                    return Err(bad(
                        "missing `fee_idr` (use 0 for free services, or `assessed_fee = true`)"
                            .into(),
                    ));
                }
            };
            let sla = match (e.sla_working_days, e.sla_hours) {
                (Some(n), None) => Sla::WorkingDays(n),
                (None, Some(h)) if h > 0 => Sla::Hours(h),
                (None, Some(_)) => return Err(bad("`sla_hours` must be > 0".into())),
                _ => {
                    return Err(bad(
                        "set exactly one of `sla_working_days` and `sla_hours`".into()
                    ));
                }
            };
            let code = CompactString::from(e.code.as_str());
            let service = Service {
                code: code.clone(),
                name: e.name,
                agency: e.agency,
                tariff,
                non_cash_required: e.non_cash_required,
                sla,
                automated: e.automated,
            };
            if services.insert(code, service).is_some() {
                return Err(bad("duplicate service code".into()));
            }
        }
        Ok(ServiceCatalogue { services })
    }

    pub fn get(&self, code: &str) -> Option<&Service> {
        self.services.get(code)
    }

    pub fn len(&self) -> usize {
        self.services.len()
    }

    pub fn is_empty(&self) -> bool {
        self.services.is_empty()
    }

    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.services.keys().map(|k| k.as_str())
    }
}
