//! The saved index (`--save-index`, `index/` in an output dataset): the kept documents'
//! signature records, so that a later run can dedup against this release (`--against`)
//! without reading its text; and the earlier releases a run is given.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::error::{io_err, DedupError};
use super::profile::Profile;
use super::work::Layout;
use crate::dataset::Dataset;

/// The folder, inside an output dataset, of its saved index (`--save-index`).
pub const INDEX_DIR: &str = "index";
pub(super) const INDEX_FILE: &str = "index.json";
pub(super) const INDEX_FORMAT: &str = "kbcurate-dedup-index/1";

/// `index.json`: the signatures of a dataset's documents, reusable by a later `--against`
/// without reading the dataset's text again. Valid only for the same profile.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct IndexFile {
    pub(super) format: String,
    pub(super) kbcurate_version: String,
    pub(super) profile: Profile,
    pub(super) parts: Vec<IndexPart>,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct IndexPart {
    pub(super) file: String,
    pub(super) rows: u64,
    pub(super) bytes: u64,
}

pub(super) struct SavedIndex {
    pub(super) dir: PathBuf,
    pub(super) file: IndexFile,
    pub(super) hash: u128,
}

impl SavedIndex {
    pub(super) fn read(dir: &Path, layout: &Layout) -> Result<SavedIndex, DedupError> {
        let path = dir.join(INDEX_FILE);
        let bytes = std::fs::read(&path).map_err(io_err(&path))?;
        let file: IndexFile = serde_json::from_slice(&bytes)
            .map_err(|e| DedupError::Other(format!("{}: not a dedup index: {e}", path.display())))?;
        if file.format != INDEX_FORMAT {
            return Err(DedupError::Other(format!(
                "{}: index format `{}`, this kbcurate reads `{INDEX_FORMAT}`",
                path.display(),
                file.format
            )));
        }
        for p in &file.parts {
            let f = dir.join(&p.file);
            let len = std::fs::metadata(&f).map_err(io_err(&f))?.len();
            if len != p.bytes || (layout.perms == file.profile.banding.perms() && len != p.rows * layout.size() as u64)
            {
                return Err(DedupError::Other(format!(
                    "{}: {len} bytes where the index says {} rows ({} bytes): the index is damaged; \
                     rebuild it with `kbcurate dedup --save-index`",
                    f.display(),
                    p.rows,
                    p.bytes
                )));
            }
        }
        Ok(SavedIndex { dir: dir.to_path_buf(), file, hash: xxhash_rust::xxh3::xxh3_128(&bytes) })
    }
}

/// An earlier release given to `--against`: its documents' signatures come from its saved
/// index when it has one for this profile, else from its text.
pub(super) enum Earlier {
    Dataset(Box<Dataset>),
    Index(SavedIndex),
}

impl Earlier {
    pub(super) fn open(path: &Path, profile: &Profile, layout: &Layout) -> Result<Earlier, DedupError> {
        if path.join(INDEX_FILE).exists() {
            let idx = SavedIndex::read(path, layout)?;
            if idx.file.profile != *profile {
                return Err(DedupError::Other(format!(
                    "{}: index made with another dedup profile ({}); pass the dataset it indexes, \
                     whose signatures are then computed again, or use the same profile",
                    path.display(),
                    serde_json::to_string(&idx.file.profile).expect("profile serializes")
                )));
            }
            return Ok(Earlier::Index(idx));
        }
        let own = path.join(INDEX_DIR);
        if own.join(INDEX_FILE).exists() {
            let idx = SavedIndex::read(&own, layout)?;
            if idx.file.profile == *profile {
                return Ok(Earlier::Index(idx));
            }
            tracing::info!("{}: saved with another profile; signatures computed from the text", own.display());
        }
        Ok(Earlier::Dataset(Box::new(Dataset::open(path)?)))
    }
}

/// Copies the signature records of the kept documents of one part into the saved index
/// (their text is the output text, so the records describe the output documents).
pub(super) struct IndexWriter {
    pub(super) from: BufReader<File>,
    pub(super) from_path: PathBuf,
    pub(super) to: BufWriter<File>,
    pub(super) tmp: PathBuf,
    pub(super) path: PathBuf,
    pub(super) rec: Vec<u8>,
}

impl IndexWriter {
    pub(super) fn create(from: &Path, path: PathBuf, size: usize) -> Result<IndexWriter, DedupError> {
        let tmp = path.with_extension("tmp");
        Ok(IndexWriter {
            from: BufReader::with_capacity(1 << 20, File::open(from).map_err(io_err(from))?),
            from_path: from.to_path_buf(),
            to: BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(io_err(&tmp))?),
            tmp,
            path,
            rec: vec![0u8; size],
        })
    }

    /// The next row of the part; `kept` says whether it is in the output.
    pub(super) fn row(&mut self, kept: bool) -> Result<(), DedupError> {
        self.from.read_exact(&mut self.rec).map_err(io_err(&self.from_path))?;
        if kept {
            self.to.write_all(&self.rec).map_err(io_err(&self.tmp))?;
        }
        Ok(())
    }

    pub(super) fn finish(self) -> Result<(), DedupError> {
        drop(self.to.into_inner().map_err(|e| DedupError::Io { path: self.tmp.clone(), source: e.into_error() })?);
        std::fs::rename(&self.tmp, &self.path).map_err(io_err(&self.path))
    }
}
