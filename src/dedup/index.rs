//! The saved index (`--save-index`, `index/` in an output dataset): the kept documents'
//! signature records, so that a later run can dedup against this release (`--against`)
//! without reading its text; and the earlier releases a run is given.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::error::{io_err, DedupError};
use super::profile::Profile;
use super::texts::{TextStore, TextWriter};
use super::work::Layout;
use crate::dataset::Dataset;

/// The folder, inside an output dataset, of its saved index (`--save-index`).
pub const INDEX_DIR: &str = "index";
pub(super) const INDEX_FILE: &str = "index.json";
/// Format 2 added the kept documents' texts (`text-N.bin`, `text-N.off`), on which a later
/// run verifies its candidates; an index of format 1 cannot be used and is refused.
pub(super) const INDEX_FORMAT: &str = "kbcurate-dedup-index/2";

/// The text store of the index part whose signatures are in `sig_file` (`sig-N.bin` →
/// `text-N`).
pub(super) fn text_stem(sig_file: &str) -> String {
    let stem = sig_file.strip_suffix(".bin").unwrap_or(sig_file);
    match stem.strip_prefix("sig-") {
        Some(n) => format!("text-{n}"),
        None => format!("{stem}.text"),
    }
}

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
                "{}: index format `{}`, this kbcurate reads `{INDEX_FORMAT}` (an index needs its \
                 documents' texts since duplicates are verified on text); rebuild it with \
                 `kbcurate dedup --save-index`, or pass the dataset it indexes instead",
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
    Index(Box<SavedIndex>),
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
            return Ok(Earlier::Index(Box::new(idx)));
        }
        let own = path.join(INDEX_DIR);
        if own.join(INDEX_FILE).exists() {
            let idx = SavedIndex::read(&own, layout)?;
            if idx.file.profile == *profile {
                return Ok(Earlier::Index(Box::new(idx)));
            }
            tracing::info!("{}: saved with another profile; signatures computed from the text", own.display());
        }
        Ok(Earlier::Dataset(Box::new(Dataset::open(path)?)))
    }
}

/// Copies the signature records and texts of the kept documents of one part into the saved
/// index (their text is the output text, so the records describe the output documents).
pub(super) struct IndexWriter {
    from: BufReader<File>,
    from_path: PathBuf,
    from_texts: TextStore,
    to: BufWriter<File>,
    to_texts: TextWriter,
    tmp: PathBuf,
    path: PathBuf,
    rec: Vec<u8>,
    row: usize,
}

impl IndexWriter {
    /// From the part's signatures at `from` (and its texts at `texts`, `rows` of them) to the
    /// index part `path`.
    pub(super) fn create(
        from: &Path,
        texts: &[PathBuf; 2],
        rows: u64,
        path: PathBuf,
        size: usize,
    ) -> Result<IndexWriter, DedupError> {
        let tmp = path.with_extension("tmp");
        let dir = path.parent().unwrap_or(Path::new("."));
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        Ok(IndexWriter {
            from: BufReader::with_capacity(1 << 20, File::open(from).map_err(io_err(from))?),
            from_path: from.to_path_buf(),
            from_texts: TextStore::open(texts, rows)?,
            to: BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(io_err(&tmp))?),
            to_texts: TextWriter::create(super::texts::paths(dir, &text_stem(&file)))?,
            tmp,
            path,
            rec: vec![0u8; size],
            row: 0,
        })
    }

    /// The next row of the part; `kept` says whether it is in the output.
    pub(super) fn row(&mut self, kept: bool) -> Result<(), DedupError> {
        self.from.read_exact(&mut self.rec).map_err(io_err(&self.from_path))?;
        if kept {
            self.to.write_all(&self.rec).map_err(io_err(&self.tmp))?;
            self.to_texts.push(self.from_texts.get(self.row))?;
        }
        self.row += 1;
        Ok(())
    }

    pub(super) fn finish(self) -> Result<(), DedupError> {
        self.to_texts.finish()?;
        drop(self.to.into_inner().map_err(|e| DedupError::Io { path: self.tmp.clone(), source: e.into_error() })?);
        std::fs::rename(&self.tmp, &self.path).map_err(io_err(&self.path))
    }
}
