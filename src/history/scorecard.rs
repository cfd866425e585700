//! `pantau scorecard`: the periodic assessment of offices (SKPD) and their
//! services over the archive, computed with DataFusion SQL. Definitions of every
//! figure: docs/history.md#scorecard.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::json::LineDelimitedWriter;
use datafusion::prelude::SessionContext;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{HistoryError, sql_on};

/// An office's row uses this as its service code.
pub const ALL_SERVICES: &str = "*";

#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ScoreRow {
    pub rank: usize,
    pub office_id: String,
    pub service_code: String,
    pub transactions: u64,
    pub completed: u64,
    pub within_sla: u64,
    pub sla_compliance_pct: Option<f64>,
    pub median_working_days: Option<f64>,
    pub p90_working_days: Option<f64>,
    pub irregular: u64,
    pub irregular_share_pct: Option<f64>,
    pub excess_fee_idr: i64,
    pub alerts_total: u64,
    pub alerts: BTreeMap<String, u64>,
    pub score: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Scorecard {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Per office and service, ranked.
    pub rows: Vec<ScoreRow>,
    /// Per office over all its services, ranked.
    pub offices: Vec<ScoreRow>,
    /// Rupiah above tariff per day of the period.
    pub daily_excess_fee_idr: Vec<(String, i64)>,
    /// Typologies with at least one alert in the period.
    pub typologies: Vec<String>,
}

fn rows_of(batches: &[RecordBatch]) -> Result<Vec<Map<String, Value>>, HistoryError> {
    let mut w = LineDelimitedWriter::new(Vec::new());
    for b in batches {
        w.write(b)?;
    }
    w.finish()?;
    w.into_inner()
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).map_err(|e| HistoryError::Invalid(e.to_string())))
        .collect()
}

fn text(r: &Map<String, Value>, k: &str) -> String {
    r.get(k).and_then(Value::as_str).unwrap_or("-").to_owned()
}

fn int(r: &Map<String, Value>, k: &str) -> i64 {
    r.get(k).and_then(Value::as_i64).unwrap_or(0)
}

fn float(r: &Map<String, Value>, k: &str) -> Option<f64> {
    r.get(k).and_then(Value::as_f64)
}

fn pct(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| 100.0 * num as f64 / den as f64)
}

/// The mean of SLA compliance and the share of regular transactions (both in
/// percent), over those that are defined.
fn score(r: &ScoreRow) -> Option<f64> {
    let parts: Vec<f64> = [
        r.sla_compliance_pct,
        r.irregular_share_pct.map(|s| 100.0 - s),
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.iter().sum::<f64>() / parts.len() as f64)
}

/// Rank 1 is the best score; rows without a score come last.
fn rank(rows: &mut [ScoreRow]) {
    for r in rows.iter_mut() {
        r.score = score(r);
    }
    rows.sort_by(|a, b| {
        let s = |r: &ScoreRow| r.score.unwrap_or(f64::NEG_INFINITY);
        s(b).total_cmp(&s(a))
            .then(b.transactions.cmp(&a.transactions))
            .then(a.office_id.cmp(&b.office_id))
            .then(a.service_code.cmp(&b.service_code))
    });
    for (i, r) in rows.iter_mut().enumerate() {
        r.rank = i + 1;
    }
}

/// Fills one level (per office and service, or per office) of the scorecard.
async fn level(
    ctx: &SessionContext,
    period: &str,
    by_service: bool,
) -> Result<Vec<ScoreRow>, HistoryError> {
    let (keys, service) = if by_service {
        ("office_id, service_code", "service_code".to_owned())
    } else {
        ("office_id", format!("'{ALL_SERVICES}'"))
    };
    let mut rows: BTreeMap<(String, String), ScoreRow> = BTreeMap::new();
    let queries = [
        (
            "transactions",
            format!(
                "WITH sub AS (SELECT DISTINCT office_id, service_code, transaction_id FROM events \
                 WHERE event_type = 'submitted' AND {period}), \
                 irr AS (SELECT DISTINCT transaction_id FROM events WHERE irregular) \
                 SELECT office_id, {service} AS service_code, COUNT(*) AS transactions, \
                 SUM(CASE WHEN irr.transaction_id IS NULL THEN 0 ELSE 1 END) AS irregular \
                 FROM sub LEFT JOIN irr ON sub.transaction_id = irr.transaction_id GROUP BY {keys}"
            ),
        ),
        (
            "completions",
            format!(
                "SELECT office_id, {service} AS service_code, COUNT(*) AS completed, \
                 SUM(CASE WHEN within_sla THEN 1 ELSE 0 END) AS within_sla, \
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY duration_working_days) AS median_wd, \
                 percentile_cont(0.9) WITHIN GROUP (ORDER BY duration_working_days) AS p90_wd \
                 FROM events WHERE event_type = 'completed' AND within_sla IS NOT NULL AND {period} \
                 GROUP BY {keys}"
            ),
        ),
        (
            "fees",
            format!(
                "SELECT office_id, {service} AS service_code, SUM(excess_fee_idr) AS excess \
                 FROM events WHERE {period} GROUP BY {keys}"
            ),
        ),
        (
            "alerts",
            format!(
                "SELECT COALESCE(office_id, '-') AS office_id, {} AS service_code, typology, \
                 COUNT(*) AS n FROM alerts WHERE {period} GROUP BY 1, 2, typology",
                if by_service {
                    "COALESCE(service_code, '-')"
                } else {
                    service.as_str()
                }
            ),
        ),
    ];
    for (what, sql) in queries {
        for r in rows_of(&sql_on(ctx, &sql).await?)? {
            let (office_id, service_code) = (text(&r, "office_id"), text(&r, "service_code"));
            let e = rows
                .entry((office_id.clone(), service_code.clone()))
                .or_insert_with(|| ScoreRow {
                    office_id,
                    service_code,
                    ..ScoreRow::default()
                });
            match what {
                "transactions" => {
                    e.transactions = int(&r, "transactions") as u64;
                    e.irregular = int(&r, "irregular") as u64;
                }
                "completions" => {
                    e.completed = int(&r, "completed") as u64;
                    e.within_sla = int(&r, "within_sla") as u64;
                    e.median_working_days = float(&r, "median_wd");
                    e.p90_working_days = float(&r, "p90_wd");
                }
                "fees" => e.excess_fee_idr = int(&r, "excess"),
                _ => {
                    let n = int(&r, "n") as u64;
                    e.alerts_total += n;
                    *e.alerts.entry(text(&r, "typology")).or_default() += n;
                }
            }
        }
    }
    let mut out: Vec<ScoreRow> = rows
        .into_values()
        .map(|mut r| {
            r.sla_compliance_pct = pct(r.within_sla, r.completed);
            r.irregular_share_pct = pct(r.irregular, r.transactions);
            r
        })
        .collect();
    rank(&mut out);
    Ok(out)
}

pub async fn compute(
    archive: &Path,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Scorecard, HistoryError> {
    if to < from {
        return Err(HistoryError::Invalid(format!(
            "--to {to} is before --from {from}"
        )));
    }
    let ctx = super::session(archive).await?;
    // Dates are formatted here from parsed values: nothing user-typed reaches the SQL.
    let period = format!("date BETWEEN '{from}' AND '{to}'");
    let rows = level(&ctx, &period, true).await?;
    let offices = level(&ctx, &period, false).await?;
    let daily = rows_of(
        &sql_on(
            &ctx,
            &format!(
                "SELECT date, SUM(excess_fee_idr) AS excess FROM events WHERE {period} \
                 GROUP BY date ORDER BY date"
            ),
        )
        .await?,
    )?
    .iter()
    .map(|r| (text(r, "date"), int(r, "excess")))
    .collect();
    let typologies: BTreeSet<String> = rows.iter().flat_map(|r| r.alerts.keys().cloned()).collect();
    Ok(Scorecard {
        from,
        to,
        rows,
        offices,
        daily_excess_fee_idr: daily,
        typologies: typologies.into_iter().collect(),
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScorecardFormat {
    Html,
    Csv,
    Md,
}

fn opt(v: Option<f64>, decimals: usize) -> String {
    v.map(|x| format!("{x:.decimals$}")).unwrap_or_default()
}

impl Scorecard {
    pub fn render(&self, format: ScorecardFormat) -> Result<String, HistoryError> {
        match format {
            ScorecardFormat::Html => Ok(super::scorecard_html::render(self)),
            ScorecardFormat::Csv => self.csv(),
            ScorecardFormat::Md => Ok(self.markdown()),
        }
    }

    fn csv(&self) -> Result<String, HistoryError> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = [
            "rank",
            "office_id",
            "service_code",
            "transactions",
            "completed",
            "within_sla",
            "sla_compliance_pct",
            "median_working_days",
            "p90_working_days",
            "irregular",
            "irregular_share_pct",
            "excess_fee_idr",
            "alerts_total",
        ]
        .map(str::to_owned)
        .to_vec();
        header.extend(self.typologies.iter().map(|t| format!("alerts_{t}")));
        header.push("score".into());
        let fail = |e: csv::Error| HistoryError::Invalid(format!("writing CSV: {e}"));
        w.write_record(&header).map_err(fail)?;
        for r in &self.rows {
            let mut rec = vec![
                r.rank.to_string(),
                r.office_id.clone(),
                r.service_code.clone(),
                r.transactions.to_string(),
                r.completed.to_string(),
                r.within_sla.to_string(),
                opt(r.sla_compliance_pct, 2),
                opt(r.median_working_days, 2),
                opt(r.p90_working_days, 2),
                r.irregular.to_string(),
                opt(r.irregular_share_pct, 2),
                r.excess_fee_idr.to_string(),
                r.alerts_total.to_string(),
            ];
            rec.extend(
                self.typologies
                    .iter()
                    .map(|t| r.alerts.get(t).copied().unwrap_or(0).to_string()),
            );
            rec.push(opt(r.score, 2));
            w.write_record(&rec).map_err(fail)?;
        }
        let bytes = w
            .into_inner()
            .map_err(|e| HistoryError::Invalid(format!("writing CSV: {e}")))?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    fn markdown(&self) -> String {
        let mut s = format!(
            "# Rapor kinerja layanan / Service scorecard, {} – {}\n\n",
            self.from, self.to
        );
        let table = |rows: &[ScoreRow], s: &mut String| {
            s.push_str("| # | kantor / office | layanan / service | transaksi / transactions | kepatuhan SLA / SLA compliance % | median hari kerja / median working days | p90 | tidak wajar / irregular % | di atas tarif / above tariff | peringatan / alerts | skor / score |\n");
            s.push_str("|---:|---|---|---:|---:|---:|---:|---:|---:|---|---:|\n");
            for r in rows {
                let alerts: Vec<String> =
                    r.alerts.iter().map(|(t, n)| format!("{t}: {n}")).collect();
                s.push_str(&format!(
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
                    r.rank,
                    r.office_id,
                    r.service_code,
                    r.transactions,
                    opt(r.sla_compliance_pct, 1),
                    opt(r.median_working_days, 1),
                    opt(r.p90_working_days, 1),
                    opt(r.irregular_share_pct, 1),
                    crate::alerts::rupiah(r.excess_fee_idr.max(0) as u64),
                    if alerts.is_empty() {
                        "-".into()
                    } else {
                        alerts.join(", ")
                    },
                    opt(r.score, 1),
                ));
            }
        };
        s.push_str("## Per kantor / By office\n\n");
        table(&self.offices, &mut s);
        s.push_str("\n## Per kantor dan layanan / By office and service\n\n");
        table(&self.rows, &mut s);
        s
    }
}
