//! `[parameters]`: each typology's own parameters, declared in its module and
//! read here from one flat table, plus per-service overrides.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{broker_activity, duplicate_receipt, fee_above_tariff, officer_outlier};
use super::{reject_then_pay, speed_money};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct Parameters {
    #[serde(flatten)]
    pub fee_above_tariff: fee_above_tariff::Params,
    #[serde(flatten)]
    pub duplicate_receipt: duplicate_receipt::Params,
    #[serde(flatten)]
    pub reject_then_pay: reject_then_pay::Params,
    #[serde(flatten)]
    pub speed_money: speed_money::Params,
    #[serde(flatten)]
    pub broker_activity: broker_activity::Params,
    #[serde(flatten)]
    pub officer_outlier: officer_outlier::Params,
    /// Per-service overrides, keyed by service code.
    #[serde(default)]
    pub services: BTreeMap<String, ServiceParameters>,
    /// Keys no typology reads: refused by [`Parameters::check`], since a
    /// misspelt parameter would otherwise silently keep its default.
    #[serde(flatten)]
    unknown: BTreeMap<String, toml::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceParameters {
    pub fee_tolerance_idr: Option<u64>,
    pub speed_ratio: Option<f64>,
    pub min_baseline: Option<u32>,
}

impl Parameters {
    pub fn fee_tolerance(&self, service_code: &str) -> u64 {
        self.services
            .get(service_code)
            .and_then(|s| s.fee_tolerance_idr)
            .unwrap_or(self.fee_above_tariff.fee_tolerance_idr)
    }

    pub fn speed_ratio(&self, service_code: &str) -> f64 {
        self.services
            .get(service_code)
            .and_then(|s| s.speed_ratio)
            .unwrap_or(self.speed_money.speed_ratio)
    }

    pub fn min_baseline(&self, service_code: &str) -> u32 {
        self.services
            .get(service_code)
            .and_then(|s| s.min_baseline)
            .unwrap_or(self.speed_money.min_baseline)
    }

    /// Rejects unknown keys and values no rule can work with, naming the
    /// parameter.
    pub fn check(&self) -> Result<(), String> {
        if let Some(key) = self.unknown.keys().next() {
            return Err(format!(
                "parameters.{key} is not a parameter of any typology (see docs/configuration.md)"
            ));
        }
        let mut ratios = vec![(
            "parameters.speed_ratio".to_owned(),
            self.speed_money.speed_ratio,
        )];
        for (code, s) in &self.services {
            if let Some(r) = s.speed_ratio {
                ratios.push((format!("parameters.services.{code}.speed_ratio"), r));
            }
        }
        for (name, r) in ratios {
            if !(r.is_finite() && r > 0.0) {
                return Err(format!("{name} must be a number above 0, got {r}"));
            }
        }
        let b = &self.broker_activity;
        let o = &self.officer_outlier;
        let positive = [
            ("parameters.broker_min_applicants", b.broker_min_applicants),
            ("parameters.officer_min_issued", o.officer_min_issued),
            ("parameters.officer_min_peers", o.officer_min_peers),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if b.broker_window.is_zero() || self.speed_money.baseline_window.is_zero() {
            return Err(
                "parameters.broker_window and parameters.baseline_window must be longer than 0"
                    .into(),
            );
        }
        if !(o.officer_z_threshold.is_finite() && o.officer_min_rate.is_finite()) {
            return Err("parameters.officer_z_threshold and parameters.officer_min_rate must be finite numbers".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn parse(parameters: &str) -> Result<Config, String> {
        let text = format!(
            "[pipeline]\nname = \"t\"\n[source]\nkind = \"file\"\n[reference]\nservices = \"s.toml\"\nholidays = \"h.csv\"\n[parameters]\n{parameters}\n"
        );
        Config::parse(&text, std::path::Path::new("t.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn each_typology_reads_its_own_keys_from_the_one_table() {
        let c = parse(
            "fee_tolerance_idr = 7000\nduplicate_receipt_window = \"30days\"\nspeed_ratio = 1\nbroker_min_applicants = 6\nofficer_mad_fallback = false\n[parameters.services.SKCK]\nfee_tolerance_idr = 0",
        )
        .expect("valid");
        let p = &c.parameters;
        assert_eq!(p.fee_above_tariff.fee_tolerance_idr, 7000);
        assert_eq!(
            p.duplicate_receipt.duplicate_receipt_window,
            std::time::Duration::from_secs(30 * 86_400)
        );
        assert_eq!(p.speed_money.speed_ratio, 1.0);
        assert_eq!(p.broker_activity.broker_min_applicants, 6);
        assert!(!p.officer_outlier.officer_mad_fallback);
        assert_eq!(p.officer_outlier.officer_min_issued, 20, "defaults stay");
        assert_eq!(p.fee_tolerance("SKCK"), 0);
        assert_eq!(p.fee_tolerance("KTP_EL"), 7000);
    }

    #[test]
    fn a_misspelt_parameter_is_refused_by_name() {
        let e = parse("fee_tolerence_idr = 7000").expect_err("unknown key");
        assert!(e.contains("parameters.fee_tolerence_idr"), "{e}");
        let e = parse("speed_ratio = 0").expect_err("bad value");
        assert!(e.contains("parameters.speed_ratio"), "{e}");
    }
}
