//! Embedded-mode checkpoints: the engine's whole state, the source position and
//! the lengths of the output files, written atomically (temporary file, fsync,
//! rename, fsync of the folder) and checksummed, so a torn or damaged checkpoint
//! is detected and the previous one used instead.
//!
//! File layout: a magic line, a line with the body's length and SHA-256, then the
//! body: one JSON line of metadata followed by the engine state in CBOR.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Summary;

const MAGIC: &str = "PANTAU-CHECKPOINT v1";
/// Checkpoints kept: the newest, and the one before in case the newest is torn.
const KEEP: usize = 2;

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("checkpoint {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("checkpoint: encoding the engine state: {0}")]
    Encode(String),
    #[error(
        "checkpoint {path} is for input {found:?} of pipeline {pipeline:?}, not {expected:?}; \
         remove the checkpoint folder to start over"
    )]
    OtherInput {
        path: String,
        pipeline: String,
        found: String,
        expected: String,
    },
    #[error(
        "checkpoints need an input that can be re-read (a file or the simulator), not standard input"
    )]
    Stdin,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CheckpointError + '_ {
    move |source| CheckpointError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Where a checkpoint leaves the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub pipeline: String,
    pub input: String,
    /// Bytes of the input consumed by the events the state includes.
    pub offset: u64,
    pub next_line: u64,
    pub summary: Summary,
    /// Output files and their lengths when the state was taken: on resume they are
    /// cut back to these lengths, so nothing is lost or written twice.
    pub outputs: Vec<(PathBuf, u64)>,
    /// Written after the input ended: a new run starts over.
    pub completed: bool,
}

pub struct Restored {
    pub meta: Meta,
    pub engine: crate::engine::EngineState,
}

pub struct Checkpoints {
    dir: PathBuf,
    seq: u64,
}

fn name(seq: u64) -> String {
    format!("checkpoint-{seq:010}.bin")
}

fn seq_of(path: &Path) -> Option<u64> {
    path.file_name()?
        .to_str()?
        .strip_prefix("checkpoint-")?
        .strip_suffix(".bin")?
        .parse()
        .ok()
}

/// Reads and verifies one checkpoint file.
fn read(path: &Path) -> Result<Restored, String> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| e.to_string())?;
    let mut lines = bytes.splitn(3, |b| *b == b'\n');
    if lines.next() != Some(MAGIC.as_bytes()) {
        return Err("not a pantau checkpoint".into());
    }
    let header =
        std::str::from_utf8(lines.next().ok_or("no header")?).map_err(|e| e.to_string())?;
    let body = lines.next().ok_or("no body")?;
    let (len, sum) = header.split_once(' ').ok_or("bad header")?;
    if len.parse::<usize>().ok() != Some(body.len()) {
        return Err(format!("torn: {} bytes of {len}", body.len()));
    }
    if hex::encode(Sha256::digest(body)) != sum {
        return Err("checksum mismatch".into());
    }
    let split = body.iter().position(|b| *b == b'\n').ok_or("no metadata")?;
    let meta: Meta = serde_json::from_slice(&body[..split]).map_err(|e| e.to_string())?;
    let engine = ciborium::from_reader(&body[split + 1..]).map_err(|e| e.to_string())?;
    Ok(Restored { meta, engine })
}

impl Checkpoints {
    /// Opens the folder and finds the newest intact checkpoint.
    pub fn open(dir: &Path) -> Result<(Checkpoints, Option<Restored>), CheckpointError> {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let mut found: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
            .map_err(io(dir))?
            .flatten()
            .map(|e| e.path())
            .filter_map(|p| seq_of(&p).map(|s| (s, p)))
            .collect();
        found.sort();
        let seq = found.last().map(|(s, _)| *s).unwrap_or(0);
        let mut restored = None;
        for (_, path) in found.iter().rev() {
            match read(path) {
                Ok(r) => {
                    restored = Some(r);
                    break;
                }
                Err(reason) => tracing::warn!(
                    "checkpoint {} is damaged ({reason}); trying the one before",
                    path.display()
                ),
            }
        }
        Ok((
            Checkpoints {
                dir: dir.to_owned(),
                seq,
            },
            restored,
        ))
    }

    /// Writes a checkpoint atomically and drops all but the newest few.
    pub fn write(&mut self, meta: &Meta, engine: &[u8]) -> Result<(), CheckpointError> {
        let mut body =
            serde_json::to_vec(meta).map_err(|e| CheckpointError::Encode(e.to_string()))?;
        body.push(b'\n');
        body.extend_from_slice(engine);
        self.seq += 1;
        let path = self.dir.join(name(self.seq));
        let tmp = self.dir.join(format!(".{}.tmp", name(self.seq)));
        {
            let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
            write!(
                f,
                "{MAGIC}\n{} {}\n",
                body.len(),
                hex::encode(Sha256::digest(&body))
            )
            .and_then(|_| f.write_all(&body))
            .and_then(|_| f.sync_all())
            .map_err(io(&tmp))?;
        }
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        if self.seq > KEEP as u64 {
            for old in 1..=self.seq - KEEP as u64 {
                let p = self.dir.join(name(old));
                if p.exists() {
                    let _ = std::fs::remove_file(p);
                }
            }
        }
        Ok(())
    }
}

/// The engine state in CBOR.
pub fn encode_engine(engine: &crate::engine::Engine) -> Result<Vec<u8>, CheckpointError> {
    let mut out = Vec::new();
    ciborium::into_writer(&engine.state(), &mut out)
        .map_err(|e| CheckpointError::Encode(e.to_string()))?;
    Ok(out)
}

/// Cuts each output file back to the length it had at the checkpoint.
pub fn truncate_outputs(outputs: &[(PathBuf, u64)]) -> Result<(), CheckpointError> {
    for (path, len) in outputs {
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(path))?;
        f.set_len(*len).map_err(io(path))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(offset: u64) -> Meta {
        Meta {
            pipeline: "p".into(),
            input: "in".into(),
            offset,
            next_line: 7,
            summary: Summary::default(),
            outputs: vec![("a".into(), 3)],
            completed: false,
        }
    }

    fn engine_bytes() -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(&crate::engine::EngineState::default(), &mut out).expect("cbor");
        out
    }

    #[test]
    fn the_newest_intact_checkpoint_wins_and_a_torn_one_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (mut c, none) = Checkpoints::open(dir.path()).expect("open");
        assert!(none.is_none());
        for offset in [10, 20, 30] {
            c.write(&meta(offset), &engine_bytes()).expect("write");
        }
        // Only the newest two are kept.
        assert!(!dir.path().join(name(1)).exists());
        let (_, r) = Checkpoints::open(dir.path()).expect("open");
        assert_eq!(r.expect("restored").meta.offset, 30);
        // Tear the newest: the previous one is used.
        let newest = dir.path().join(name(3));
        let len = std::fs::metadata(&newest).expect("meta").len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&newest)
            .and_then(|f| f.set_len(len - 5))
            .expect("tear");
        let (mut c, r) = Checkpoints::open(dir.path()).expect("open");
        assert_eq!(r.expect("restored").meta.offset, 20);
        // A flipped byte is caught by the checksum.
        let mut bytes = std::fs::read(dir.path().join(name(2))).expect("read");
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(dir.path().join(name(2)), bytes).expect("write");
        let (_, r) = Checkpoints::open(dir.path()).expect("open");
        assert!(r.is_none());
        // Numbering continues after the newest file, damaged or not.
        c.write(&meta(40), &engine_bytes()).expect("write");
        assert!(dir.path().join(name(4)).exists());
    }
}
