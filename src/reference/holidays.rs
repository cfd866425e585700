//! The national holiday calendar file: `date,kind,name` with kind `national` or
//! `cuti_bersama` (collective leave).

use std::path::Path;

use chrono::NaiveDate;

use super::ReferenceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolidayKind {
    National,
    CutiBersama,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    pub kind: HolidayKind,
    pub name: String,
}

pub fn load(path: &Path) -> Result<Vec<Holiday>, ReferenceError> {
    let text = super::read(path)?;
    parse(&text, path)
}

pub fn parse(text: &str, path: &Path) -> Result<Vec<Holiday>, ReferenceError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| ReferenceError::Syntax {
        path: path.to_owned(),
        message: e.to_string(),
    })?;
    if headers.iter().collect::<Vec<_>>() != ["date", "kind", "name"] {
        return Err(ReferenceError::Syntax {
            path: path.to_owned(),
            message: "the header must be `date,kind,name`".into(),
        });
    }
    let mut out = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let bad = |message: String| ReferenceError::Entry {
            path: path.to_owned(),
            entry: format!("line {line}"),
            message,
        };
        let record = record.map_err(|e| bad(e.to_string()))?;
        let date = NaiveDate::parse_from_str(&record[0], "%Y-%m-%d")
            .map_err(|e| bad(format!("date {:?} is not YYYY-MM-DD ({e})", &record[0])))?;
        let kind = match &record[1] {
            "national" => HolidayKind::National,
            "cuti_bersama" => HolidayKind::CutiBersama,
            other => {
                return Err(bad(format!(
                    "kind {other:?} must be `national` or `cuti_bersama`"
                )));
            }
        };
        out.push(Holiday {
            date,
            kind,
            name: record[2].to_owned(),
        });
    }
    Ok(out)
}
