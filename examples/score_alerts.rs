//! Scores an alert file against labels (the simulator's expected-alerts.ndjson)
//! without holding the alerts themselves: only their (typology, key) pairs and ids.
//! `pantau backtest` replays and scores in one go; this is for an alert file that
//! already exists, such as the output of the 10 M-transaction soak.
//!
//! ```sh
//! cargo run --release --example score_alerts -- ALERTS LABELS
//! ```
//! Exits non-zero on any missed label, false positive or repeated alert id.

use std::collections::{BTreeSet, HashSet};
use std::process::ExitCode;

use anyhow::bail;
use pantau::history::backtest::{for_each_alert, read_labels, score};

fn main() -> anyhow::Result<ExitCode> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [alerts_path, labels_path] = args.as_slice() else {
        bail!("usage: score_alerts ALERTS LABELS");
    };
    let mut alerted = BTreeSet::new();
    let mut ids = HashSet::new();
    let mut repeated = 0u64;
    for_each_alert(alerts_path.as_ref(), |alert| {
        if !ids.insert(alert.alert_id.clone()) {
            repeated += 1;
        }
        let key = alert.label_key();
        alerted.insert((alert.typology.into(), key));
    })?;
    let labels = read_labels(labels_path.as_ref())?;
    println!(
        "{:<22} {:>9} {:>9} {:>7} {:>7} {:>9} {:>9}",
        "typology", "alerts", "labelled", "missed", "extra", "precision", "recall"
    );
    let mut wrong = repeated;
    for s in score(&alerted, &labels) {
        wrong += s.false_positives + s.false_negatives;
        let pct = |r: Option<f64>| r.map_or("-".into(), |r| format!("{:.4}", r));
        println!(
            "{:<22} {:>9} {:>9} {:>7} {:>7} {:>9} {:>9}",
            s.typology,
            s.alerts,
            s.labelled,
            s.false_negatives,
            s.false_positives,
            pct(s.precision),
            pct(s.recall)
        );
    }
    println!("{} alerts, {repeated} repeated alert ids", ids.len());
    Ok(if wrong == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
