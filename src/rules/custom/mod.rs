//! Custom rules without recompiling: SQL boolean expressions over the facts schema,
//! compiled once at start with DataFusion into physical expressions and evaluated
//! on Arrow record batches of facts (one micro-batch per engine flush).

pub mod facts;
pub mod template;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset};
use compact_str::CompactString;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Date32Type, Int64Type, TimestampMicrosecondType};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::DFSchema;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::prelude::SessionContext;
use serde_json::{Map, Value};

use crate::alerts::{Alert, Scope, Severity, alert_id, format_time};
use crate::config::CustomRuleConfig;
use crate::rules::{RuleCtx, Typology};
use crate::state::TxnState;

use facts::{COLUMNS, FactsBuilder, SCHEMA};
use template::Template;

#[derive(Debug, thiserror::Error)]
#[error("custom rule `{rule}`: {message}")]
pub struct RuleError {
    pub rule: String,
    pub message: String,
}

pub struct CompiledRule {
    pub id: String,
    pub severity: Severity,
    pub when: String,
    expr: Arc<dyn PhysicalExpr>,
    /// Facts columns the expression and templates read: the alert's `observed`.
    columns: Vec<usize>,
    summary_id: Template,
    summary_en: Template,
}

/// A row that matched a rule: its identity and the figures the alert shows.
#[derive(Debug, Clone)]
pub struct Hit {
    pub transaction_id: CompactString,
    pub event_id: CompactString,
    pub event_time: DateTime<FixedOffset>,
    pub officer_id: Option<CompactString>,
    pub values: Map<String, Value>,
}

struct RowMeta {
    seq: u64,
    transaction_id: CompactString,
    event_id: CompactString,
    event_time: DateTime<FixedOffset>,
    officer_id: Option<CompactString>,
}

pub struct CustomRules {
    rules: Vec<CompiledRule>,
    builder: FactsBuilder,
    rows: Vec<RowMeta>,
}

fn column_index(name: &str) -> Option<usize> {
    COLUMNS.iter().position(|(n, _, _)| *n == name)
}

/// Output rank of custom-rule alerts: after the built-ins of the same event.
const RANK_BASE: u32 = 100;

impl CustomRules {
    /// Compiles every rule; the first problem is an error naming the rule.
    pub fn compile(configs: &[CustomRuleConfig]) -> Result<Option<CustomRules>, RuleError> {
        if configs.is_empty() {
            return Ok(None);
        }
        let ctx = SessionContext::new();
        let df_schema = DFSchema::try_from(SCHEMA.as_ref().clone()).map_err(|e| RuleError {
            rule: String::new(),
            message: e.to_string(),
        })?;
        let mut rules = Vec::new();
        let mut seen = BTreeSet::new();
        for c in configs {
            let err = |message: String| RuleError {
                rule: c.id.clone(),
                message,
            };
            let valid_id = !c.id.is_empty()
                && c.id.len() <= 64
                && c.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !valid_id {
                return Err(err(
                    "the id must be 1-64 characters of a-z, 0-9 and _".into()
                ));
            }
            if Typology::from_name(&c.id).is_some() {
                return Err(err("the id is the name of a built-in typology".into()));
            }
            if !seen.insert(c.id.clone()) {
                return Err(err("duplicate rule id".into()));
            }
            let logical = ctx
                .parse_sql_expr(&c.when, &df_schema)
                .map_err(|e| err(format!("invalid expression {:?}: {e}", c.when)))?;
            let mut columns: Vec<usize> = logical
                .column_refs()
                .iter()
                .filter_map(|col| column_index(&col.name))
                .collect();
            let expr = ctx
                .create_physical_expr(logical, &df_schema)
                .map_err(|e| err(format!("cannot compile {:?}: {e}", c.when)))?;
            let ty = expr.data_type(&SCHEMA).map_err(|e| err(e.to_string()))?;
            if ty != DataType::Boolean {
                return Err(err(format!("the expression must be boolean (it is {ty})")));
            }
            let known = |n: &str| column_index(n).is_some();
            let summary_id = Template::parse(&c.summary_id, known)
                .map_err(|e| err(format!("summary_id: {e}")))?;
            let summary_en = Template::parse(&c.summary_en, known)
                .map_err(|e| err(format!("summary_en: {e}")))?;
            columns.extend(
                summary_id
                    .fields()
                    .chain(summary_en.fields())
                    .filter_map(column_index),
            );
            columns.sort_unstable();
            columns.dedup();
            rules.push(CompiledRule {
                id: c.id.clone(),
                severity: c.severity,
                when: c.when.clone(),
                expr,
                columns,
                summary_id,
                summary_en,
            });
        }
        Ok(Some(CustomRules {
            rules,
            builder: FactsBuilder::default(),
            rows: Vec::new(),
        }))
    }

    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Adds the facts of one processed event to the current micro-batch.
    pub fn record(&mut self, seq: u64, ctx: &RuleCtx<'_>, state: &TxnState) {
        self.builder.push(ctx, state);
        self.rows.push(RowMeta {
            seq,
            transaction_id: ctx.event.transaction_id.clone(),
            event_id: ctx.event.event_id.clone(),
            event_time: ctx.event.occurred_at,
            officer_id: ctx.event.officer_id.clone(),
        });
    }

    /// Evaluates every rule over the micro-batch gathered so far and clears it.
    /// Returns (sequence, rank, rule index, hit) for each matching row, in row order.
    pub fn evaluate(&mut self) -> Vec<(u64, u32, u16, Hit)> {
        if self.builder.is_empty() {
            return Vec::new();
        }
        let batch = self.builder.finish();
        let rows = std::mem::take(&mut self.rows);
        let mut hits = Vec::new();
        for (k, rule) in self.rules.iter().enumerate() {
            let Some(mask) = evaluate_mask(rule, &batch) else {
                continue;
            };
            for (i, meta) in rows.iter().enumerate() {
                if mask.get(i).copied().unwrap_or(false) {
                    let values = rule
                        .columns
                        .iter()
                        .map(|&c| (COLUMNS[c].0.to_owned(), cell(&batch, c, i)))
                        .collect();
                    let hit = Hit {
                        transaction_id: meta.transaction_id.clone(),
                        event_id: meta.event_id.clone(),
                        event_time: meta.event_time,
                        officer_id: meta.officer_id.clone(),
                        values,
                    };
                    hits.push((meta.seq, RANK_BASE + k as u32, k as u16, hit));
                }
            }
        }
        hits.sort_by_key(|(seq, rank, _, _)| (*seq, *rank));
        hits
    }

    pub fn alert(&self, pipeline: &str, rule: u16, hit: &Hit, state: &TxnState) -> Alert {
        let r = &self.rules[rule as usize];
        let mut expected = Map::new();
        expected.insert("rule".into(), Value::from(r.when.clone()));
        Alert {
            alert_id: alert_id(&r.id, &hit.transaction_id),
            typology: r.id.as_str().into(),
            severity: r.severity,
            scope: Scope::Transaction,
            transaction_id: Some(hit.transaction_id.clone()),
            related_transaction_id: None,
            office_id: Some(state.office_id.clone()),
            service_code: Some(state.service_code.clone()),
            officer_id: hit
                .officer_id
                .as_ref()
                .or(state.last_officer.as_ref())
                .cloned(),
            agent_ref: state.submitted.as_ref().and_then(|s| s.agent_ref.clone()),
            window_start: None,
            window_end: None,
            event_time: format_time(hit.event_time),
            observed: hit.values.clone(),
            expected,
            evidence_event_ids: vec![hit.event_id.clone()],
            summary_id: r.summary_id.render(&hit.values),
            summary_en: r.summary_en.render(&hit.values),
            pipeline: pipeline.into(),
        }
    }
}

/// A rule that fails at run time (e.g. an overflow in its arithmetic) matches
/// nothing in that batch and is reported once per batch, never stopping the stream.
fn evaluate_mask(rule: &CompiledRule, batch: &RecordBatch) -> Option<Vec<bool>> {
    let result = rule
        .expr
        .evaluate(batch)
        .and_then(|v| v.into_array(batch.num_rows()));
    match result {
        Ok(array) => {
            let bools = array.as_boolean_opt()?;
            Some(
                (0..bools.len())
                    .map(|i| bools.is_valid(i) && bools.value(i))
                    .collect(),
            )
        }
        Err(e) => {
            tracing::warn!(rule = %rule.id, error = %e, "custom rule failed on a batch; no rows matched");
            None
        }
    }
}

fn cell(batch: &RecordBatch, col: usize, row: usize) -> Value {
    let a = batch.column(col);
    if a.is_null(row) {
        return Value::Null;
    }
    match a.data_type() {
        DataType::Utf8 => Value::from(a.as_string::<i32>().value(row)),
        DataType::Int64 => Value::from(a.as_primitive::<Int64Type>().value(row)),
        DataType::Boolean => Value::from(a.as_boolean().value(row)),
        DataType::Timestamp(..) => {
            let micros = a.as_primitive::<TimestampMicrosecondType>().value(row);
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| Value::from(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)))
                .unwrap_or(Value::Null)
        }
        DataType::Date32 => {
            let days = a.as_primitive::<Date32Type>().value(row);
            let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
            Value::from((epoch + chrono::Duration::days(i64::from(days))).to_string())
        }
        other => Value::from(format!("<{other}>")),
    }
}
