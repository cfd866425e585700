//! Rolling Parquet files under `date=YYYY-MM-DD/` folders. Each file is written
//! under a hidden in-progress name and renamed once its footer is written and
//! synced, so a reader (or a crash) never sees a partial file as part of a table.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Instant;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;

use super::{ArchiveConfig, ArchiveError};

/// Open files beyond this many are closed, least recently written first: a
/// stream's dates move forward, so old partitions stop receiving rows.
const MAX_OPEN: usize = 4;

struct OpenFile {
    writer: ArrowWriter<File>,
    tmp: PathBuf,
    done: PathBuf,
    opened: Instant,
    last_write: u64,
}

pub struct PartitionedWriter {
    root: PathBuf,
    schema: SchemaRef,
    props: WriterProperties,
    max_file_bytes: u64,
    max_file_age: std::time::Duration,
    open: BTreeMap<String, OpenFile>,
    /// Distinguishes this run's files from those of earlier runs and other
    /// instances writing to the same archive.
    run_id: String,
    seq: u64,
    writes: u64,
    closed: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ArchiveError + '_ {
    move |source| ArchiveError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl PartitionedWriter {
    pub fn new(root: &Path, schema: SchemaRef, cfg: &ArchiveConfig) -> Result<Self, ArchiveError> {
        std::fs::create_dir_all(root).map_err(io(root))?;
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::default()))
            .set_max_row_group_row_count(Some(cfg.row_group_rows))
            .build();
        let now = chrono::Utc::now();
        Ok(PartitionedWriter {
            root: root.to_owned(),
            schema,
            props,
            max_file_bytes: cfg.max_file_bytes,
            max_file_age: cfg.max_file_age,
            open: BTreeMap::new(),
            run_id: format!("{}-{}", now.format("%Y%m%dT%H%M%S%3f"), std::process::id()),
            seq: 0,
            writes: 0,
            closed: 0,
        })
    }

    pub fn write(&mut self, date: &str, batch: &RecordBatch) -> Result<(), ArchiveError> {
        self.writes += 1;
        if !self.open.contains_key(date) {
            if self.open.len() >= MAX_OPEN
                && let Some(oldest) = self
                    .open
                    .iter()
                    .min_by_key(|(_, f)| f.last_write)
                    .map(|(d, _)| d.clone())
            {
                self.close_one(&oldest)?;
            }
            let f = self.create(date)?;
            self.open.insert(date.to_owned(), f);
        }
        let f = self.open.get_mut(date).expect("opened above");
        f.writer.write(batch)?;
        f.last_write = self.writes;
        let size = f.writer.bytes_written() as u64 + f.writer.in_progress_size() as u64;
        if size >= self.max_file_bytes {
            self.close_one(date)?;
        }
        Ok(())
    }

    /// Closes files open longer than the maximum age.
    pub fn roll_aged(&mut self) -> Result<(), ArchiveError> {
        let aged: Vec<String> = self
            .open
            .iter()
            .filter(|(_, f)| f.opened.elapsed() >= self.max_file_age)
            .map(|(d, _)| d.clone())
            .collect();
        aged.iter().try_for_each(|d| self.close_one(d))
    }

    /// Closes every open file; returns how many files this writer completed.
    pub fn close(mut self) -> Result<u64, ArchiveError> {
        let dates: Vec<String> = self.open.keys().cloned().collect();
        dates.iter().try_for_each(|d| self.close_one(d))?;
        Ok(self.closed)
    }

    fn create(&mut self, date: &str) -> Result<OpenFile, ArchiveError> {
        let dir = self.root.join(format!("date={date}"));
        std::fs::create_dir_all(&dir).map_err(io(&dir))?;
        self.seq += 1;
        let name = format!("part-{}-{:05}.parquet", self.run_id, self.seq);
        let tmp = dir.join(format!(".{name}.inprogress"));
        let file = File::create(&tmp).map_err(io(&tmp))?;
        let writer = ArrowWriter::try_new(file, self.schema.clone(), Some(self.props.clone()))?;
        Ok(OpenFile {
            writer,
            done: dir.join(name),
            tmp,
            opened: Instant::now(),
            last_write: self.writes,
        })
    }

    fn close_one(&mut self, date: &str) -> Result<(), ArchiveError> {
        let Some(f) = self.open.remove(date) else {
            return Ok(());
        };
        let file = f.writer.into_inner()?;
        file.sync_all().map_err(io(&f.tmp))?;
        std::fs::rename(&f.tmp, &f.done).map_err(io(&f.done))?;
        if let Some(dir) = f.done.parent()
            && let Ok(d) = File::open(dir)
        {
            // The rename itself must survive a crash.
            let _ = d.sync_all();
        }
        self.closed += 1;
        Ok(())
    }
}
