//! Query results as an aligned table, CSV, JSON or NDJSON.

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::json::{ArrayWriter, LineDelimitedWriter};
use datafusion::arrow::util::pretty::pretty_format_batches;

use super::HistoryError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
    Ndjson,
}

pub fn render(batches: &[RecordBatch], format: Format) -> Result<String, HistoryError> {
    let bytes = match format {
        Format::Table => {
            let mut s = pretty_format_batches(batches)?.to_string();
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            s.push_str(&format!(
                "\n{rows} row{}\n",
                if rows == 1 { "" } else { "s" }
            ));
            return Ok(s);
        }
        Format::Csv => {
            let mut out = Vec::new();
            {
                let mut w = WriterBuilder::new().with_header(true).build(&mut out);
                for b in batches {
                    w.write(b)?;
                }
            }
            out
        }
        Format::Json => {
            let mut w = ArrayWriter::new(Vec::new());
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            let mut out = w.into_inner();
            if out.is_empty() {
                out.extend_from_slice(b"[]");
            }
            out.push(b'\n');
            out
        }
        Format::Ndjson => {
            let mut w = LineDelimitedWriter::new(Vec::new());
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            w.into_inner()
        }
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
