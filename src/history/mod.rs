//! Looking back over the archive: DataFusion SQL (`pantau query`), replays of
//! history through the same engine (`pantau backtest`) and the periodic office
//! assessment (`pantau scorecard`).

pub mod backtest;
mod export;
mod output;
pub mod scorecard;
mod scorecard_html;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::{ParquetReadOptions, SessionContext};

pub use output::{Format, render};

use crate::archive::{alert_schema, event_schema};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("{0} is not an archive: it has no events/ or alerts/ folder")]
    NoArchive(PathBuf),
    #[error("query failed: {0}")]
    Query(#[from] datafusion::error::DataFusionError),
    #[error("formatting the result: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {message}")]
    Labels {
        path: String,
        line: usize,
        message: String,
    },
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Invalid(String),
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> HistoryError + '_ {
    move |source| HistoryError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// A runtime for DataFusion from the synchronous command line.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, HistoryError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(io_err(Path::new("tokio runtime")))
}

/// A session with the archive's `events` and `alerts` tables registered, each
/// partitioned by `date` (a string `YYYY-MM-DD`, so `date BETWEEN '2026-02-01'
/// AND '2026-02-28'` prunes whole folders).
pub async fn session(archive: &Path) -> Result<SessionContext, HistoryError> {
    let events = archive.join("events");
    let alerts = archive.join("alerts");
    if !events.is_dir() && !alerts.is_dir() {
        return Err(HistoryError::NoArchive(archive.to_owned()));
    }
    let ctx = SessionContext::new();
    for (name, dir, schema) in [
        ("events", events, event_schema()),
        ("alerts", alerts, alert_schema()),
    ] {
        if !dir.is_dir() {
            // Nothing archived yet (a run without alerts): an empty table.
            let mut fields: Vec<_> = schema.fields().iter().cloned().collect();
            fields.push(Arc::new(Field::new("date", DataType::Utf8, true)));
            let schema = Arc::new(Schema::new(fields));
            let table = MemTable::try_new(schema, vec![vec![]])?;
            ctx.register_table(name, Arc::new(table))?;
            continue;
        }
        let path = format!("{}/", dir.display());
        let options = ParquetReadOptions::default()
            .file_extension(".parquet")
            .schema(&schema)
            .table_partition_cols(vec![("date".to_owned(), DataType::Utf8)]);
        ctx.register_parquet(name, &path, options).await?;
    }
    Ok(ctx)
}

/// Runs one SQL statement over the archive; an empty result keeps its columns.
pub async fn query_async(archive: &Path, sql: &str) -> Result<Vec<RecordBatch>, HistoryError> {
    let ctx = session(archive).await?;
    sql_on(&ctx, sql).await
}

pub(crate) async fn sql_on(
    ctx: &SessionContext,
    sql: &str,
) -> Result<Vec<RecordBatch>, HistoryError> {
    let df = ctx.sql(sql).await?;
    let schema = Arc::new(df.schema().as_arrow().clone());
    let batches = df.collect().await?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(vec![RecordBatch::new_empty(schema)]);
    }
    Ok(batches)
}

/// `pantau query`: one SQL statement, rendered.
pub fn query(archive: &Path, sql: &str, format: Format) -> Result<String, HistoryError> {
    let batches = runtime()?.block_on(query_async(archive, sql))?;
    render(&batches, format)
}
