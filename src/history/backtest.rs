//! `pantau backtest`: history (an NDJSON file or an archive) replayed through the
//! same engine and configuration as a live run, scored against confirmed cases
//! and compared with another configuration.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{HistoryError, io_err};
use crate::alerts::Alert;
use crate::config::Config;
use crate::pipeline::{self, Overrides};

pub struct BacktestOptions {
    pub config: PathBuf,
    /// An NDJSON file of events, or an archive directory.
    pub input: PathBuf,
    pub labels: Option<PathBuf>,
    pub compare: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TypologyScore {
    pub typology: String,
    pub alerts: u64,
    pub labelled: u64,
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
    pub precision: Option<f64>,
    pub recall: Option<f64>,
    pub f1: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct Change {
    pub typology: String,
    pub key: String,
    pub alert_id: String,
    pub summary_en: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub other_config: String,
    pub other_alerts_by_typology: BTreeMap<String, u64>,
    pub gained: Vec<Change>,
    pub lost: Vec<Change>,
}

#[derive(Debug, Clone, Serialize)]
pub struct BacktestReport {
    pub config: String,
    pub input: String,
    pub records_read: u64,
    pub alerts: u64,
    pub alerts_by_typology: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scores: Option<Vec<TypologyScore>>,
    /// Labelled typology → alerted typology → keys, `none` where one side has nothing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confusion: Option<BTreeMap<String, BTreeMap<String, u64>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comparison: Option<Comparison>,
}

/// A scratch folder removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, HistoryError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let dir =
            std::env::temp_dir().join(format!("pantau-backtest-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one replay produced, without holding its alerts (a replay of years of
/// history raises millions): each alert's (typology, key) and id, counts per
/// typology, and the file to read summaries back from.
struct Replayed {
    records_read: u64,
    alerts_path: PathBuf,
    alerts: u64,
    by_typology: BTreeMap<String, u64>,
    /// (typology, label key) → alert id.
    keys: BTreeMap<(String, String), String>,
}

/// One replay of `input` with the configuration at `config`: alerts to a scratch
/// file, no metrics endpoint, no archive, the configured alert sinks left alone.
fn replay(
    config: &Path,
    input: &Path,
    scratch: &Path,
    tag: &str,
) -> Result<Replayed, HistoryError> {
    let mut cfg = Config::load(config)?;
    cfg.metrics.listen = None;
    cfg.archive = None;
    let alerts_path = scratch.join(format!("alerts-{tag}.ndjson"));
    let ov = Overrides {
        input: Some(input.to_owned()),
        alerts: Some(alerts_path.clone()),
        rejected: Some(scratch.join(format!("rejected-{tag}.ndjson"))),
        ..Overrides::default()
    };
    let summary = pipeline::run(&cfg, &ov)?;
    let (mut alerts, mut by_typology, mut keys) = (0, BTreeMap::new(), BTreeMap::new());
    for_each_alert(&alerts_path, |a| {
        alerts += 1;
        *by_typology.entry(a.typology.to_string()).or_default() += 1;
        let key = a.label_key();
        keys.insert((a.typology.into(), key), a.alert_id);
    })?;
    Ok(Replayed {
        records_read: summary.records_read,
        alerts_path,
        alerts,
        by_typology,
        keys,
    })
}

/// Calls `f` with each alert of an NDJSON alert file, one at a time.
pub fn for_each_alert(path: &Path, mut f: impl FnMut(Alert)) -> Result<(), HistoryError> {
    use std::io::BufRead;
    let file = std::fs::File::open(path).map_err(io_err(path))?;
    for (n, line) in std::io::BufReader::with_capacity(1 << 20, file)
        .lines()
        .enumerate()
    {
        let line = line.map_err(io_err(path))?;
        let alert = serde_json::from_str::<Alert>(&line)
            .map_err(|e| HistoryError::Invalid(format!("{}:{}: {e}", path.display(), n + 1)))?;
        f(alert);
    }
    Ok(())
}

/// Confirmed cases: NDJSON lines `{"typology": …, "key": …}` (the simulator's
/// expected-alerts.ndjson), or CSV with a `typology,key` header.
pub fn read_labels(path: &Path) -> Result<BTreeSet<(String, String)>, HistoryError> {
    let text = std::fs::read_to_string(path).map_err(io_err(path))?;
    let bad = |line: usize, message: String| HistoryError::Labels {
        path: path.display().to_string(),
        line,
        message,
    };
    let mut labels = BTreeSet::new();
    let csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let (typology, key) = if csv {
            if n == 1 {
                if line.trim() != "typology,key" {
                    return Err(bad(n, "the CSV header must be `typology,key`".into()));
                }
                continue;
            }
            let (t, k) = line
                .split_once(',')
                .ok_or_else(|| bad(n, "expected `typology,key`".into()))?;
            (t.trim().to_owned(), k.trim().to_owned())
        } else {
            let v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| bad(n, format!("not JSON: {e}")))?;
            let field = |f: &str| {
                v[f].as_str()
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .ok_or_else(|| bad(n, format!("`{f}` must be a non-empty string")))
            };
            (field("typology")?, field("key")?)
        };
        if typology.is_empty() || key.is_empty() {
            return Err(bad(n, "typology and key must not be empty".into()));
        }
        labels.insert((typology, key));
    }
    Ok(labels)
}

fn ratio(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// Precision, recall and F1 per typology, over (typology, key) pairs.
pub fn score(
    alerted: &BTreeSet<(String, String)>,
    labels: &BTreeSet<(String, String)>,
) -> Vec<TypologyScore> {
    let typologies: BTreeSet<&String> = alerted.iter().chain(labels).map(|(t, _)| t).collect();
    typologies
        .into_iter()
        .map(|t| {
            let a: BTreeSet<&String> = alerted
                .iter()
                .filter(|(x, _)| x == t)
                .map(|(_, k)| k)
                .collect();
            let l: BTreeSet<&String> = labels
                .iter()
                .filter(|(x, _)| x == t)
                .map(|(_, k)| k)
                .collect();
            let tp = a.intersection(&l).count() as u64;
            let (fp, fn_) = (a.len() as u64 - tp, l.len() as u64 - tp);
            let precision = ratio(tp, tp + fp);
            let recall = ratio(tp, tp + fn_);
            let f1 = match (precision, recall) {
                (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
                (Some(_), Some(_)) => Some(0.0),
                _ => None,
            };
            TypologyScore {
                typology: t.clone(),
                alerts: a.len() as u64,
                labelled: l.len() as u64,
                true_positives: tp,
                false_positives: fp,
                false_negatives: fn_,
                precision,
                recall,
                f1,
            }
        })
        .collect()
}

/// Per key: labelled typologies against alerted ones. Matches count on the
/// diagonal; a missed label pairs with what was alerted instead for the same key
/// (or `none`), a false alert with `none` when the key had no other label.
pub fn confusion(
    alerted: &BTreeSet<(String, String)>,
    labels: &BTreeSet<(String, String)>,
) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut per_key: BTreeMap<&String, (BTreeSet<&String>, BTreeSet<&String>)> = BTreeMap::new();
    for (t, k) in labels {
        per_key.entry(k).or_default().0.insert(t);
    }
    for (t, k) in alerted {
        per_key.entry(k).or_default().1.insert(t);
    }
    let none = "none".to_owned();
    let mut m: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut add = |l: &String, a: &String| {
        *m.entry(l.clone())
            .or_default()
            .entry(a.clone())
            .or_default() += 1
    };
    for (l, a) in per_key.values() {
        for t in l.intersection(a) {
            add(t, t);
        }
        let missed: Vec<&&String> = l.difference(a).collect();
        let extra: Vec<&&String> = a.difference(l).collect();
        for m in &missed {
            if extra.is_empty() {
                add(m, &none);
            }
            for x in &extra {
                add(m, x);
            }
        }
        if missed.is_empty() {
            for x in &extra {
                add(&none, x);
            }
        }
    }
    m
}

/// The alerts of `from` whose (typology, key) `without` lacks, with their
/// summaries read back from `from`'s file.
fn changes(from: &Replayed, without: &Replayed) -> Result<Vec<Change>, HistoryError> {
    let changed: BTreeSet<&(String, String)> = from
        .keys
        .keys()
        .filter(|k| !without.keys.contains_key(*k))
        .collect();
    let mut found: BTreeMap<(String, String), Change> = BTreeMap::new();
    if !changed.is_empty() {
        for_each_alert(&from.alerts_path, |a| {
            let key = (a.typology.to_string(), a.label_key());
            if changed.contains(&key) && from.keys.get(&key) == Some(&a.alert_id) {
                found.insert(
                    key.clone(),
                    Change {
                        typology: key.0,
                        key: key.1,
                        alert_id: a.alert_id,
                        summary_en: a.summary_en,
                    },
                );
            }
        })?;
    }
    Ok(found.into_values().collect())
}

pub fn backtest(opts: &BacktestOptions) -> Result<BacktestReport, HistoryError> {
    let scratch = Scratch::new()?;
    let input = if opts.input.is_dir() {
        let events = scratch.0.join("archived-events.ndjson");
        super::runtime()?.block_on(super::export::events_to_ndjson(&opts.input, &events))?;
        events
    } else {
        opts.input.clone()
    };
    let a = replay(&opts.config, &input, &scratch.0, "a")?;
    let alerted: BTreeSet<(String, String)> = a.keys.keys().cloned().collect();
    let (scores, confusion) = match &opts.labels {
        Some(path) => {
            let labels = read_labels(path)?;
            (
                Some(score(&alerted, &labels)),
                Some(confusion(&alerted, &labels)),
            )
        }
        None => (None, None),
    };
    let comparison = match &opts.compare {
        Some(other) => {
            let b = replay(other, &input, &scratch.0, "b")?;
            Some(Comparison {
                other_config: other.display().to_string(),
                gained: changes(&b, &a)?,
                lost: changes(&a, &b)?,
                other_alerts_by_typology: b.by_typology,
            })
        }
        None => None,
    };
    Ok(BacktestReport {
        config: opts.config.display().to_string(),
        input: opts.input.display().to_string(),
        records_read: a.records_read,
        alerts: a.alerts,
        alerts_by_typology: a.by_typology,
        scores,
        confusion,
        comparison,
    })
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map(|v| format!("{v:.3}")).unwrap_or_else(|| "-".into())
}

/// How many changed alerts the text report lists (the JSON report has all).
const LISTED: usize = 50;

impl BacktestReport {
    pub fn render(&self) -> String {
        let mut s = format!(
            "backtest of {} on {}\n{} records read, {} alerts\n",
            self.config, self.input, self.records_read, self.alerts
        );
        if let Some(scores) = &self.scores {
            s.push_str(&format!(
                "\n{:<34} {:>7} {:>8} {:>6} {:>6} {:>6} {:>9} {:>7} {:>7}\n",
                "typology", "alerts", "labelled", "TP", "FP", "FN", "precision", "recall", "F1"
            ));
            for t in scores {
                s.push_str(&format!(
                    "{:<34} {:>7} {:>8} {:>6} {:>6} {:>6} {:>9} {:>7} {:>7}\n",
                    t.typology,
                    t.alerts,
                    t.labelled,
                    t.true_positives,
                    t.false_positives,
                    t.false_negatives,
                    fmt_ratio(t.precision),
                    fmt_ratio(t.recall),
                    fmt_ratio(t.f1)
                ));
            }
        } else {
            s.push('\n');
            for (t, n) in &self.alerts_by_typology {
                s.push_str(&format!("{t:<34} {n:>7}\n"));
            }
        }
        if let Some(c) = &self.confusion {
            let off: Vec<(&String, &String, &u64)> = c
                .iter()
                .flat_map(|(l, m)| m.iter().map(move |(a, n)| (l, a, n)))
                .filter(|(l, a, _)| l != a)
                .collect();
            if off.is_empty() {
                s.push_str("\nconfusion: every label matched by an alert of its typology, no other alerts\n");
            } else {
                s.push_str("\nconfusion (labelled -> alerted, keys):\n");
                for (l, a, n) in off {
                    s.push_str(&format!("  {l} -> {a}: {n}\n"));
                }
            }
        }
        if let Some(cmp) = &self.comparison {
            s.push_str(&format!("\ncompared with {}:\n", cmp.other_config));
            let typologies: BTreeSet<&String> = self
                .alerts_by_typology
                .keys()
                .chain(cmp.other_alerts_by_typology.keys())
                .collect();
            for t in typologies {
                let a = self.alerts_by_typology.get(t).copied().unwrap_or(0);
                let b = cmp.other_alerts_by_typology.get(t).copied().unwrap_or(0);
                let gained = cmp.gained.iter().filter(|c| &c.typology == t).count();
                let lost = cmp.lost.iter().filter(|c| &c.typology == t).count();
                s.push_str(&format!("  {t:<34} {a:>7} -> {b:<7} +{gained} -{lost}\n"));
            }
            for (name, list) in [("gained", &cmp.gained), ("lost", &cmp.lost)] {
                s.push_str(&format!("{name}: {}\n", list.len()));
                for c in list.iter().take(LISTED) {
                    s.push_str(&format!("  {} {}  {}\n", c.typology, c.key, c.summary_en));
                }
                if list.len() > LISTED {
                    s.push_str(&format!(
                        "  ... and {} more (--json lists all)\n",
                        list.len() - LISTED
                    ));
                }
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(v: &[(&str, &str)]) -> BTreeSet<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn precision_recall_and_f1_per_typology() {
        let alerted = set(&[("a", "1"), ("a", "2"), ("a", "3"), ("b", "9")]);
        let labels = set(&[("a", "1"), ("a", "2"), ("a", "4"), ("c", "7")]);
        let s = score(&alerted, &labels);
        let a = &s[0];
        assert_eq!(
            (a.true_positives, a.false_positives, a.false_negatives),
            (2, 1, 1)
        );
        assert_eq!(a.precision, Some(2.0 / 3.0));
        assert_eq!(a.recall, Some(2.0 / 3.0));
        assert!((a.f1.expect("f1") - 2.0 / 3.0).abs() < 1e-12);
        let b = &s[1];
        assert_eq!((b.precision, b.recall, b.f1), (Some(0.0), None, None));
        let c = &s[2];
        assert_eq!((c.precision, c.recall), (None, Some(0.0)));
    }

    #[test]
    fn confusion_pairs_a_missed_label_with_what_was_alerted_instead() {
        let alerted = set(&[("a", "1"), ("b", "2"), ("b", "3")]);
        let labels = set(&[("a", "1"), ("c", "2"), ("c", "4")]);
        let m = confusion(&alerted, &labels);
        assert_eq!(m["a"]["a"], 1);
        assert_eq!(m["c"]["b"], 1);
        assert_eq!(m["c"]["none"], 1);
        assert_eq!(m["none"]["b"], 1);
    }
}
