//! `officer_outlier`: within one office, service and week, an officer whose rate
//! of irregular transactions stands far from the peers' (modified z-score).

use compact_str::CompactString;
use serde::Deserialize;

use crate::alerts::{Scope, Severity, format_time};
use crate::figures;
use crate::state::OfficerGroup;

use super::{EntityFinding, Finality, Finding, Render, Rendered, Typology, TypologyDef};

/// Judged by the engine's window timer when the watermark passes the end of a
/// weekly officer window (state/officers.rs).
pub const DEF: TypologyDef = TypologyDef {
    name: "officer_outlier",
    severity: Severity::High,
    scope: Scope::Officer,
    irregular: false,
    finality: Finality::Watermark,
    transaction: None,
};

#[derive(Debug, Clone, Deserialize)]
pub struct Params {
    /// Fewest `issued` completions for an officer to be judged.
    #[serde(default = "default_min_issued")]
    pub officer_min_issued: u32,
    /// Fewest eligible officers in a peer group.
    #[serde(default = "default_min_peers")]
    pub officer_min_peers: u32,
    #[serde(default = "default_z")]
    pub officer_z_threshold: f64,
    #[serde(default = "default_min_rate")]
    pub officer_min_rate: f64,
    #[serde(default = "default_min_irregular")]
    pub officer_min_irregular: u32,
    /// When the peers' MAD is 0, use 1.253314 x the mean absolute deviation.
    #[serde(default = "default_true")]
    pub officer_mad_fallback: bool,
}

fn default_min_issued() -> u32 {
    20
}
fn default_min_peers() -> u32 {
    5
}
fn default_z() -> f64 {
    3.5
}
fn default_min_rate() -> f64 {
    0.1
}
fn default_min_irregular() -> u32 {
    3
}
fn default_true() -> bool {
    true
}

impl Default for Params {
    fn default() -> Self {
        Params {
            officer_min_issued: default_min_issued(),
            officer_min_peers: default_min_peers(),
            officer_z_threshold: default_z(),
            officer_min_rate: default_min_rate(),
            officer_min_irregular: default_min_irregular(),
            officer_mad_fallback: true,
        }
    }
}

/// How the peers' spread was measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Spread {
    Mad(f64),
    /// MAD was 0: 1.253314 x the mean absolute deviation.
    MeanAbsoluteDeviation(f64),
}

impl Spread {
    pub fn value(self) -> f64 {
        match self {
            Spread::Mad(v) | Spread::MeanAbsoluteDeviation(v) => v,
        }
    }
}

/// The peer statistics of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct PeerStats {
    pub median: f64,
    pub spread: Spread,
    pub peers: usize,
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n == 0 {
        0.0
    } else if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Median and spread of the eligible officers' rates; `None` when there are too
/// few peers or no spread to measure against.
pub fn peer_stats(rates: &[f64], min_peers: usize, fallback: bool) -> Option<PeerStats> {
    if rates.len() < min_peers || rates.is_empty() {
        return None;
    }
    let m = median(&mut rates.to_vec());
    let mut deviations: Vec<f64> = rates.iter().map(|r| (r - m).abs()).collect();
    let mad = median(&mut deviations);
    let spread = if mad > 0.0 {
        Spread::Mad(mad)
    } else if fallback {
        let mean_ad = deviations.iter().sum::<f64>() / deviations.len() as f64;
        if mean_ad <= 0.0 {
            return None;
        }
        Spread::MeanAbsoluteDeviation(1.253314 * mean_ad)
    } else {
        return None;
    };
    Some(PeerStats {
        median: m,
        spread,
        peers: rates.len(),
    })
}

/// The modified z-score of typologies.md: 0.6745 (r - median) / MAD, with the
/// fallback spread standing in for MAD when MAD is 0.
pub fn z_score(rate: f64, stats: &PeerStats) -> f64 {
    0.6745 * (rate - stats.median) / stats.spread.value()
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// Judges a closed weekly window; findings come in officer order.
pub fn officer_outlier(
    office_id: &CompactString,
    service_code: &CompactString,
    group: &OfficerGroup,
    p: &Params,
) -> Vec<EntityFinding> {
    let eligible: Vec<(&CompactString, f64)> = group
        .officers
        .iter()
        .filter(|(_, t)| t.issued >= p.officer_min_issued)
        .map(|(o, t)| (o, f64::from(t.irregular) / f64::from(t.issued)))
        .collect();
    let rates: Vec<f64> = eligible.iter().map(|(_, r)| *r).collect();
    let Some(stats) = peer_stats(&rates, p.officer_min_peers as usize, p.officer_mad_fallback)
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (officer, rate) in eligible {
        let tally = &group.officers[officer];
        let z = z_score(rate, &stats);
        if !(z > p.officer_z_threshold
            && rate >= p.officer_min_rate
            && tally.irregular >= p.officer_min_irregular)
        {
            continue;
        }
        let (spread_name, spread_id) = match stats.spread {
            Spread::Mad(_) => ("mad", "MAD"),
            Spread::MeanAbsoluteDeviation(_) => {
                ("mad_fallback", "1,253314 × rata-rata deviasi absolut")
            }
        };
        let start = format_time(group.start);
        let end = format_time(group.end);
        let txns: Vec<&str> = tally
            .irregular_txns
            .iter()
            .map(|(t, _)| t.as_str())
            .collect();
        let pct = |x: f64| format!("{:.1}%", x * 100.0);
        let mut expected = figures! {
            "peer_median_rate": round4(stats.median),
            "peer_officers": stats.peers,
            "z_threshold": p.officer_z_threshold,
            "min_rate": p.officer_min_rate,
            "min_irregular": p.officer_min_irregular,
        };
        expected.insert(spread_name.to_owned(), round4(stats.spread.value()).into());
        out.push(EntityFinding {
            finding: Finding {
                typology: Typology::OfficerOutlier,
                severity: None,
                event_time: group.end,
                related_transaction_id: None,
                evidence: tally
                    .irregular_txns
                    .iter()
                    .map(|(_, e)| e.clone())
                    .collect(),
                render: Render::ready(Rendered {
                observed: figures! {
                    "issued": tally.issued,
                    "irregular": tally.irregular,
                    "irregular_rate": round4(rate),
                    "z_score": round4(z),
                    "transaction_ids": txns,
                },
                expected,
                summary_id: format!(
                    "Petugas {} di kantor {} layanan {} pada pekan {} s.d. {}: {} dari {} transaksi terbit tidak wajar ({}), jauh di atas median rekan {} ({} petugas; skor-z termodifikasi {:.2} > {}; sebaran: {}).",
                    officer,
                    office_id,
                    service_code,
                    start,
                    end,
                    tally.irregular,
                    tally.issued,
                    pct(rate),
                    pct(stats.median),
                    stats.peers,
                    z,
                    p.officer_z_threshold,
                    spread_id
                ),
                summary_en: format!(
                    "Officer {} at office {}, service {}, in the week {} to {}: {} of {} issued transactions were irregular ({}), far above the peer median of {} ({} officers; modified z-score {:.2} > {}; spread: {}).",
                    officer,
                    office_id,
                    service_code,
                    start,
                    end,
                    tally.irregular,
                    tally.issued,
                    pct(rate),
                    pct(stats.median),
                    stats.peers,
                    z,
                    p.officer_z_threshold,
                    spread_name
                ),
                }),
            },
            scope_key: format!("{officer}|{office_id}|{service_code}|{start}"),
            office_id: Some(office_id.clone()),
            service_code: Some(service_code.clone()),
            officer_id: Some(officer.clone()),
            agent_ref: None,
            window: Some((group.start, group.end)),
            transaction_id: None,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mad_is_used_when_positive() {
        let rates = [0.0, 0.05, 0.1, 0.05, 0.6];
        let s = peer_stats(&rates, 5, true).unwrap();
        assert_eq!(s.median, 0.05);
        // Deviations 0.05, 0, 0.05, 0, 0.55: median 0.05.
        assert!(matches!(s.spread, Spread::Mad(m) if (m - 0.05).abs() < 1e-12));
        let z = z_score(0.6, &s);
        assert!((z - 0.6745 * 0.55 / 0.05).abs() < 1e-9);
    }

    #[test]
    fn mad_zero_falls_back_to_scaled_mean_absolute_deviation() {
        let rates = [0.0, 0.0, 0.0, 0.0, 0.5];
        let s = peer_stats(&rates, 5, true).unwrap();
        assert_eq!(s.median, 0.0);
        let expected = 1.253314 * (0.5 / 5.0);
        assert!(
            matches!(s.spread, Spread::MeanAbsoluteDeviation(v) if (v - expected).abs() < 1e-12)
        );
        // Without the fallback there is no alert basis.
        assert_eq!(peer_stats(&rates, 5, false), None);
    }

    #[test]
    fn no_spread_at_all_means_no_statistics() {
        assert_eq!(peer_stats(&[0.2; 6], 5, true), None);
    }

    #[test]
    fn fewer_than_min_peers_gives_nothing() {
        assert_eq!(peer_stats(&[0.0, 0.0, 0.0, 0.9], 5, true), None);
    }
}
