//! Dataset folders: the on-disk contract between stages.
//!
//! ```text
//! <dataset>/
//!   manifest.json                 stage, version, config as used, inputs, counts, parts
//!   part-00000.parquet            documents (zstd, bounded row groups)
//!   rejected/part-00000.parquet   what the stage did not keep, with a reason
//!   _parts/part-00000.json        per-part record, written last: marks the part complete
//! ```
//!
//! Every file is written under a temporary name in the same folder and renamed into place when
//! complete, so a reader never sees a half-written file and an interrupted run leaves only
//! temporaries, which the next run removes and redoes.
//!
//! # Durability
//!
//! Files are not synced to disk as they are renamed into place. The rename alone guards
//! against the usual interruptions (a killed process, a Slurm time limit, Ctrl-C): the
//! operating system keeps what was written. Waiting for the disk is what syncing costs, and it
//! was a quarter of the wall time of ingest and dedup on this machine (58 `fsync`s in one
//! dedup run; one `syncfs` per step instead saved nothing, since the data itself has to reach
//! the disk). Peers do the same: datatrove's writers and megatron-core's indexed-dataset
//! builder make no `fsync` call (their installed sources; megatron-core syncs checkpoints only).
//!
//! A machine crash (power, kernel) can still lose data the system had not written yet. That
//! is detected, not trusted:
//! - what marks work complete names the sizes of the files it vouches for (part records here,
//!   dedup's step markers, tokenize's per-part spill markers), and a file of another size
//!   (typically empty after a crash) voids it, so a resumed run redoes the part;
//! - [`Dataset::open`] checks every part against the manifest's sizes and names a part that
//!   does not match, before a later stage reads it.
//!
//! Where a crash must not cost a rerun, ask for syncing ([`set_sync`]: `kbcurate --sync`,
//! `[run] sync = true`, or `KBCURATE_SYNC=1`, which Slurm tasks inherit). A stage then syncs its
//! output once at its commit point: before it writes the manifest (itself written and synced
//! after), and at the end of a run for one shard or step, before the next job starts.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use crate::document::{self, Document, DocumentBatchBuilder, Rejection, RejectionBatchBuilder};

pub const MANIFEST: &str = "manifest.json";
pub const REJECTED_DIR: &str = "rejected";
pub const PARTS_DIR: &str = "_parts";
pub const TMP_PREFIX: &str = ".tmp-";

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path}: {source}")]
    Parquet { path: PathBuf, source: parquet::errors::ParquetError },
    #[error("{path}: not a kbcurate dataset ({why})")]
    NotADataset { path: PathBuf, why: String },
    #[error("{path}: {source}")]
    Schema { path: PathBuf, source: document::SchemaMismatch },
    #[error(
        "{path}: {len} bytes, the manifest says {want}: the part changed or was cut short after its stage \
         wrote it (a machine crash before it reached the disk?); run that stage again"
    )]
    PartSize { path: PathBuf, len: u64, want: u64 },
    #[error("{path}: holds a `{stage}` dataset; choose another output folder")]
    OtherStage { path: PathBuf, stage: String },
}

/// Prepares a stage's output folder: creates it, refuses one that holds another stage's
/// dataset, and removes the manifest (the dataset is complete again only when the stage
/// rewrites it; the parts already written stay for resuming).
pub fn prepare_output(out: &Path, stage: &str) -> Result<(), DatasetError> {
    fs::create_dir_all(out.join(PARTS_DIR)).map_err(io_err(out))?;
    if let Ok(m) = Manifest::read(out) {
        if m.stage != stage {
            return Err(DatasetError::OtherStage { path: out.to_path_buf(), stage: m.stage });
        }
    }
    match fs::remove_file(out.join(MANIFEST)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(DatasetError::Io { path: out.join(MANIFEST), source: e }),
        _ => Ok(()),
    }
}

/// A stage's output part, written batch by batch with only the rows the stage keeps. A part
/// whose input had no rows still gets a file, with the schema the stage would have written.
pub struct KeptRows {
    dir: PathBuf,
    name: String,
    props: WriterProperties,
    writer: Option<ParquetPartWriter>,
    rows: u64,
}

impl KeptRows {
    pub fn new(dir: &Path, part: u32, props: WriterProperties) -> KeptRows {
        KeptRows { dir: dir.to_path_buf(), name: part_name(part), props, writer: None, rows: 0 }
    }

    /// Writes the rows of `batch` (in the stage's output schema) where `keep` is true.
    pub fn write(&mut self, batch: &RecordBatch, keep: Vec<bool>) -> Result<(), DatasetError> {
        let kept =
            arrow_select::filter::filter_record_batch(batch, &arrow_array::BooleanArray::from(keep)).map_err(|e| {
                DatasetError::Parquet {
                    path: self.dir.join(&self.name),
                    source: parquet::errors::ParquetError::ArrowError(e.to_string()),
                }
            })?;
        let w = match self.writer.as_mut() {
            Some(w) => w,
            None => self.writer.insert(ParquetPartWriter::create(
                &self.dir,
                &self.name,
                batch.schema(),
                self.props.clone(),
            )?),
        };
        self.rows += kept.num_rows() as u64;
        w.write_row_group(&kept)
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Finishes the part; `empty_schema` is used only when no batch was written.
    pub fn finish(self, empty_schema: SchemaRef) -> Result<PartFile, DatasetError> {
        match self.writer {
            Some(w) => w.finish(),
            None => ParquetPartWriter::create(&self.dir, &self.name, empty_schema, self.props)?.finish(),
        }
    }
}

/// New texts for some rows of a batch (boilerplate lines removed, PII masked, garbage lines
/// dropped), applied to its `text`, `n_chars` and `n_words` columns.
///
/// Most documents leave a stage with the text they came with, so the untouched rows keep
/// their values as they are — the columns are shared, not copied, when no row changed, and
/// `n_chars`/`n_words` are recounted only for the rows that did.
#[derive(Debug, Default)]
pub struct TextEdits {
    /// (row, new text, its word count), rows increasing.
    rows: Vec<(usize, String, u32)>,
}

impl TextEdits {
    pub fn new() -> Self {
        Self::default()
    }

    /// Row `row` (after every earlier edited row) gets `text`, which has `words` words.
    pub fn push(&mut self, row: usize, text: String, words: u32) {
        debug_assert!(self.rows.last().is_none_or(|(r, _, _)| *r < row), "rows are edited in order");
        self.rows.push((row, text, words));
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// `batch` with the edits applied. Its `text` column must be LargeUtf8 and `n_chars` and
    /// `n_words` (when present) UInt32, as in [`crate::document::schema`].
    pub fn apply(self, batch: &RecordBatch) -> Result<RecordBatch, arrow_schema::ArrowError> {
        use arrow_array::builder::{LargeStringBuilder, UInt32Builder};
        use arrow_array::cast::AsArray;
        use arrow_array::types::UInt32Type;
        use arrow_array::{Array, ArrayRef};
        use std::sync::Arc;
        if self.rows.is_empty() {
            return Ok(batch.clone());
        }
        let schema = batch.schema();
        let index = |name: &str| schema.index_of(name).ok();
        let text_at = index("text").ok_or_else(|| arrow_schema::ArrowError::SchemaError("no `text` column".into()))?;
        let text = batch
            .column(text_at)
            .as_string_opt::<i64>()
            .ok_or_else(|| arrow_schema::ArrowError::SchemaError("the `text` column is not LargeUtf8".into()))?;
        let counts = |name: &str| {
            index(name).and_then(|k| batch.column(k).as_primitive_opt::<UInt32Type>().map(|a| (k, a.clone())))
        };
        let (chars, words) = (counts("n_chars"), counts("n_words"));
        let n = batch.num_rows();
        let edited_bytes: usize = self.rows.iter().map(|(_, t, _)| t.len()).sum();
        let mut new_text = LargeStringBuilder::with_capacity(n, text.value_data().len() + edited_bytes);
        let (mut new_chars, mut new_words) = (UInt32Builder::with_capacity(n), UInt32Builder::with_capacity(n));
        let mut edits = self.rows.into_iter().peekable();
        for r in 0..n {
            match edits.next_if(|(row, _, _)| *row == r) {
                Some((_, t, w)) => {
                    new_text.append_value(&t);
                    new_chars.append_value(t.chars().count() as u32);
                    new_words.append_value(w);
                }
                None => {
                    if text.is_valid(r) {
                        new_text.append_value(text.value(r));
                    } else {
                        new_text.append_null();
                    }
                    let old = |c: &Option<(usize, arrow_array::UInt32Array)>| {
                        c.as_ref().filter(|(_, a)| a.is_valid(r)).map(|(_, a)| a.value(r))
                    };
                    new_chars.append_option(old(&chars));
                    new_words.append_option(old(&words));
                }
            }
        }
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        columns[text_at] = Arc::new(new_text.finish());
        if let Some((k, _)) = chars {
            columns[k] = Arc::new(new_chars.finish());
        }
        if let Some((k, _)) = words {
            columns[k] = Arc::new(new_words.finish());
        }
        RecordBatch::try_new(schema, columns)
    }
}

/// Where the rows of a batch came from (id, collection, path, locator, format), for the
/// rejections a stage writes about them.
pub struct RowOrigin {
    columns: [Option<arrow_array::StringArray>; 5],
}

impl RowOrigin {
    pub fn of(batch: &RecordBatch) -> RowOrigin {
        use arrow_array::cast::AsArray;
        let col = |name: &str| {
            batch
                .column_by_name(name)
                .filter(|c| c.data_type() == &arrow_schema::DataType::Utf8)
                .map(|c| c.as_string::<i32>().clone())
        };
        RowOrigin { columns: [col("id"), col("collection"), col("path"), col("locator"), col("format")] }
    }

    fn get(&self, k: usize, r: usize) -> Option<String> {
        use arrow_array::Array;
        self.columns[k].as_ref().filter(|c| c.is_valid(r)).map(|c| c.value(r).to_string())
    }

    /// The rejection of row `r`.
    pub fn rejection(&self, r: usize, stage: &str, reason: &str, detail: String, text: Option<String>) -> Rejection {
        Rejection {
            id: self.get(0, r).unwrap_or_default(),
            collection: self.get(1, r).unwrap_or_default(),
            path: self.get(2, r).unwrap_or_default(),
            locator: self.get(3, r).unwrap_or_default(),
            format: self.get(4, r),
            stage: stage.to_string(),
            reason: reason.to_string(),
            detail,
            text,
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DatasetError + '_ {
    move |source| DatasetError::Io { path: path.to_path_buf(), source }
}

/// Counts for a stage. `input = kept + Σ rejected`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    pub input: u64,
    pub kept: u64,
    pub rejected: BTreeMap<String, u64>,
    /// Events that did not lose a document (e.g. a page a METS lists that is missing).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub warnings: BTreeMap<String, u64>,
    /// Lines removed from kept documents, by why (dedup: `boilerplate`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub lines_removed: BTreeMap<String, u64>,
}

impl Counts {
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }

    pub fn reconciles(&self) -> bool {
        self.input == self.kept + self.rejected_total()
    }

    pub fn add(&mut self, other: &Counts) {
        self.input += other.input;
        self.kept += other.kept;
        for (k, v) in &other.rejected {
            *self.rejected.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.warnings {
            *self.warnings.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &other.lines_removed {
            *self.lines_removed.entry(k.clone()).or_default() += v;
        }
    }
}

/// A Parquet file of the dataset, as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartFile {
    /// Path relative to the dataset folder.
    pub file: String,
    pub rows: u64,
    pub bytes: u64,
    /// xxh3-64 of the file's bytes, 16 hex digits.
    pub xxh3: String,
}

/// The per-part record in `_parts/`, written after the part's files: its presence with a
/// matching `plan` means the part is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRecord {
    pub part: u32,
    /// Hash of what this part was asked to do (its inputs and the config); a rerun with a
    /// different plan redoes the part.
    pub plan: String,
    pub counts: Counts,
    pub documents: PartFile,
    pub rejected: PartFile,
    /// Input bytes the part read (for throughput reporting).
    pub input_bytes: u64,
    pub text_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub stage: String,
    pub kbcurate_version: String,
    /// The configuration as given (the `[defaults]` table kept separate; unset keys are `null`).
    pub config: serde_json::Value,
    /// What the stage read: input globs and files, or the upstream dataset.
    pub inputs: serde_json::Value,
    pub counts: Counts,
    pub parts: Vec<PartFile>,
    pub rejected_parts: Vec<PartFile>,
    /// Bytes of text in the kept documents.
    pub text_bytes: u64,
    /// How the parts are compressed (manifests written before this field: zstd level 1).
    #[serde(default)]
    pub compression: Codec,
    /// Stage-specific tables (filter: each rule's sequential and marginal counts, PII masked,
    /// languages). Left out when a stage has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<serde_json::Value>,
}

impl Manifest {
    pub fn read(dir: &Path) -> Result<Manifest, DatasetError> {
        let path = dir.join(MANIFEST);
        let bytes = fs::read(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                DatasetError::NotADataset {
                    path: dir.to_path_buf(),
                    why: format!("no {MANIFEST}; was the stage run to the end?"),
                }
            } else {
                DatasetError::Io { path: path.clone(), source: e }
            }
        })?;
        serde_json::from_slice(&bytes).map_err(|e| DatasetError::NotADataset { path, why: e.to_string() })
    }

    /// Commits the dataset: syncs the folder's files, then writes the manifest durably.
    pub fn write(&self, dir: &Path) -> Result<(), DatasetError> {
        let mut json = serde_json::to_vec_pretty(self).expect("manifest serializes");
        json.push(b'\n');
        write_commit(dir, MANIFEST, &json)
    }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename (not
/// synced: see [Durability](self#durability)).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), DatasetError> {
    let tmp = tmp_path(path);
    fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))
}

static SYNC: AtomicBool = AtomicBool::new(false);

/// Makes every stage in this process sync its output at its commit points (see
/// [Durability](self#durability)). Also on where the environment has `KBCURATE_SYNC=1`.
pub fn set_sync(on: bool) {
    SYNC.store(on, Ordering::Relaxed);
}

/// Whether stages sync their output ([`set_sync`], `KBCURATE_SYNC=1`).
pub fn sync_requested() -> bool {
    SYNC.load(Ordering::Relaxed) || std::env::var_os("KBCURATE_SYNC").is_some_and(|v| v == "1")
}

/// Writes the file that commits the output in `dir` (a manifest). When syncing is asked for,
/// everything already written there is synced first ([`sync_written`]), then `name` is
/// written, synced, renamed into place and the rename synced, so the commit never reaches the
/// disk before what it describes. Otherwise it is [`write_atomic`].
pub fn write_commit(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), DatasetError> {
    if !sync_requested() {
        return write_atomic(&dir.join(name), bytes);
    }
    sync_written(dir)?;
    let path = dir.join(name);
    let tmp = tmp_path(&path);
    let mut f = File::create(&tmp).map_err(io_err(&tmp))?;
    f.write_all(bytes).map_err(io_err(&tmp))?;
    f.sync_all().map_err(io_err(&tmp))?;
    drop(f);
    fs::rename(&tmp, &path).map_err(io_err(&path))?;
    sync_dir(dir)
}

/// When syncing is asked for ([`sync_requested`]), makes the files written under `dir`
/// durable, in one go: on Linux one `syncfs` for the filesystem that holds it (one journal
/// commit for all, instead of one per file); elsewhere every file under `dir` is synced, then
/// the folders.
pub fn sync_written(dir: &Path) -> Result<(), DatasetError> {
    if !sync_requested() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let d = File::open(dir).map_err(io_err(dir))?;
        // SAFETY: `d` is an open descriptor for the life of the call; syncfs reads nothing else.
        if unsafe { libc::syncfs(d.as_raw_fd()) } != 0 {
            return Err(DatasetError::Io { path: dir.to_path_buf(), source: io::Error::last_os_error() });
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        fn walk(dir: &Path) -> Result<(), DatasetError> {
            for e in fs::read_dir(dir).map_err(io_err(dir))? {
                let e = e.map_err(io_err(dir))?;
                let path = e.path();
                if e.file_type().map_err(io_err(&path))?.is_dir() {
                    walk(&path)?;
                } else {
                    File::open(&path).and_then(|f| f.sync_all()).map_err(io_err(&path))?;
                }
            }
            sync_dir(dir)
        }
        walk(dir)
    }
}

/// Syncs a folder's entries (the renames into it). Folders cannot be opened for syncing on
/// every platform; there it is a no-op.
fn sync_dir(dir: &Path) -> Result<(), DatasetError> {
    #[cfg(unix)]
    File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn tmp_path(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{TMP_PREFIX}{name}"))
}

/// How a stage compresses the Parquet parts it writes (`--compression`, `[run] compression`).
///
/// zstd level 1 is the default: level 3 ran at ~100 MB/s of text per core here, which alone
/// would cap ingest at its target, and level 1 compresses text nearly as well at about twice the
/// speed (README, "Compression"). `none` skips the work, for scratch datasets that the next stage
/// reads once: on the dedup benchmark's 48.5 MB JSONL, ingest took 0.43–0.47 s against
/// 0.61–0.73 s with level 1, into 47 MB instead of 25 MB. Negative levels (zstd's fast mode)
/// are accepted but bought nothing there through Parquet: `zstd:-1` and `zstd:-5` took as long
/// as level 1 and wrote 37 and 42 MB. Every Parquet reader (pyarrow, polars, DuckDB, Spark)
/// reads all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// zstd at this level (-7..=22 accepted; below 1 is zstd's fast mode).
    Zstd(i32),
    /// Uncompressed pages.
    None,
}

impl Default for Codec {
    fn default() -> Self {
        Codec::Zstd(1)
    }
}

impl std::fmt::Display for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Codec::Zstd(level) => write!(f, "zstd:{level}"),
            Codec::None => f.write_str("none"),
        }
    }
}

impl std::str::FromStr for Codec {
    type Err = String;

    /// `zstd` (level 1), `zstd:LEVEL` or `none`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("compression `{s}`: expected `zstd`, `zstd:LEVEL` (-7 to 22) or `none`");
        match s.trim() {
            "none" | "uncompressed" => Ok(Codec::None),
            "zstd" => Ok(Codec::default()),
            other => {
                let level: i32 = other.strip_prefix("zstd:").and_then(|l| l.trim().parse().ok()).ok_or_else(bad)?;
                if (-7..=22).contains(&level) {
                    Ok(Codec::Zstd(level))
                } else {
                    Err(bad())
                }
            }
        }
    }
}

impl Serialize for Codec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Codec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// Parquet settings shared by all parts, compressed with `codec`.
///
/// Unique, long columns (text, meta, ids, locators) get neither a dictionary nor min/max
/// statistics: both cost a hash or a comparison per value and buy nothing there. Short
/// repeated columns (collection, genre, source, language, format, path) keep their dictionary.
pub fn writer_properties(codec: Codec) -> WriterProperties {
    let compression = match codec {
        Codec::Zstd(level) => Compression::ZSTD(ZstdLevel::try_new(level).unwrap_or_default()),
        Codec::None => Compression::UNCOMPRESSED,
    };
    let mut b = WriterProperties::builder()
        .set_compression(compression)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by(format!("kbcurate {}", env!("CARGO_PKG_VERSION")));
    for col in ["text", "meta", "id", "locator", "detail"] {
        let c = ColumnPath::from(col);
        b = b.set_column_dictionary_enabled(c.clone(), false).set_column_statistics_enabled(c, EnabledStatistics::None);
    }
    b.build()
}

/// A `Write` that hashes (xxh3-64) and counts what goes through it.
struct HashingWriter<W: Write> {
    inner: W,
    hasher: xxhash_rust::xxh3::Xxh3,
    bytes: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Streams record batches into one Parquet file, written atomically.
pub struct ParquetPartWriter {
    writer: ArrowWriter<HashingWriter<BufWriter<File>>>,
    tmp: PathBuf,
    dest: PathBuf,
    rel: String,
    rows: u64,
}

impl ParquetPartWriter {
    /// `rel` is the file's path relative to `dir` (e.g. `rejected/part-00003.parquet`).
    pub fn create(dir: &Path, rel: &str, schema: SchemaRef, props: WriterProperties) -> Result<Self, DatasetError> {
        let dest = dir.join(rel);
        if let Some(parent) = dest.parent() {
            fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let tmp = tmp_path(&dest);
        let file = File::create(&tmp).map_err(io_err(&tmp))?;
        let sink =
            HashingWriter { inner: BufWriter::with_capacity(1 << 20, file), hasher: Default::default(), bytes: 0 };
        let writer = ArrowWriter::try_new(sink, schema, Some(props))
            .map_err(|source| DatasetError::Parquet { path: tmp.clone(), source })?;
        Ok(Self { writer, tmp, dest, rel: rel.to_string(), rows: 0 })
    }

    /// Writes one batch as (the end of) a row group.
    pub fn write_row_group(&mut self, batch: &RecordBatch) -> Result<(), DatasetError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows() as u64;
        let path = self.tmp.clone();
        self.writer.write(batch).map_err(|source| DatasetError::Parquet { path: path.clone(), source })?;
        self.writer.flush().map_err(|source| DatasetError::Parquet { path, source })
    }

    /// Closes the file and renames it into place (synced with the stage's commit).
    pub fn finish(self) -> Result<PartFile, DatasetError> {
        let path = self.tmp.clone();
        let sink = self.writer.into_inner().map_err(|source| DatasetError::Parquet { path: path.clone(), source })?;
        let HashingWriter { inner, hasher, bytes } = sink;
        drop(inner.into_inner().map_err(|e| DatasetError::Io { path: path.clone(), source: e.into_error() })?);
        fs::rename(&self.tmp, &self.dest).map_err(io_err(&self.dest))?;
        Ok(PartFile { file: self.rel, rows: self.rows, bytes, xxh3: format!("{:016x}", hasher.digest()) })
    }
}

/// A batch builder for one row type (documents, rejections), so one sink serves both.
pub trait RowBatch: Default {
    type Row;
    fn schema() -> SchemaRef;
    /// Adds a row; returns the bytes of text it holds.
    fn push_row(&mut self, row: &Self::Row) -> usize;
    fn rows(&self) -> usize;
    fn take_batch(&mut self) -> RecordBatch;
}

impl RowBatch for DocumentBatchBuilder {
    type Row = Document;
    fn schema() -> SchemaRef {
        document::schema()
    }
    fn push_row(&mut self, d: &Document) -> usize {
        self.push(d);
        d.text.len()
    }
    fn rows(&self) -> usize {
        self.len()
    }
    fn take_batch(&mut self) -> RecordBatch {
        self.finish()
    }
}

impl RowBatch for RejectionBatchBuilder {
    type Row = Rejection;
    fn schema() -> SchemaRef {
        document::rejected_schema()
    }
    fn push_row(&mut self, r: &Rejection) -> usize {
        self.push(r);
        r.text.as_ref().map_or(0, |t| t.len().min(document::REJECTED_TEXT_MAX))
    }
    fn rows(&self) -> usize {
        self.len()
    }
    fn take_batch(&mut self) -> RecordBatch {
        self.finish()
    }
}

/// Buffers rows and writes them in row groups bounded by rows and text bytes, so memory stays
/// bounded by the row group, not the part.
pub struct Sink<B: RowBatch> {
    writer: ParquetPartWriter,
    batch: B,
    max_rows: usize,
    max_text_bytes: usize,
    buffered_bytes: usize,
    /// Bytes of text written so far.
    pub text_bytes: u64,
}

pub type DocumentSink = Sink<DocumentBatchBuilder>;
pub type RejectionSink = Sink<RejectionBatchBuilder>;

impl<B: RowBatch> Sink<B> {
    pub fn create(
        dir: &Path,
        rel: &str,
        props: WriterProperties,
        max_rows: usize,
        max_text_bytes: usize,
    ) -> Result<Self, DatasetError> {
        Ok(Self {
            writer: ParquetPartWriter::create(dir, rel, B::schema(), props)?,
            batch: B::default(),
            max_rows,
            max_text_bytes,
            buffered_bytes: 0,
            text_bytes: 0,
        })
    }

    pub fn push(&mut self, row: &B::Row) -> Result<(), DatasetError> {
        let n = self.batch.push_row(row);
        self.buffered_bytes += n;
        self.text_bytes += n as u64;
        if self.batch.rows() >= self.max_rows || self.buffered_bytes >= self.max_text_bytes {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DatasetError> {
        if self.batch.rows() > 0 {
            let b = self.batch.take_batch();
            self.writer.write_row_group(&b)?;
        }
        self.buffered_bytes = 0;
        Ok(())
    }

    pub fn finish(mut self) -> Result<PartFile, DatasetError> {
        self.flush()?;
        self.writer.finish()
    }
}

/// File names of part `i`.
pub fn part_name(i: u32) -> String {
    format!("part-{i:05}.parquet")
}

pub fn rejected_part_name(i: u32) -> String {
    format!("{REJECTED_DIR}/part-{i:05}.parquet")
}

pub fn part_record_name(i: u32) -> String {
    format!("{PARTS_DIR}/part-{i:05}.json")
}

/// The part's record if the part is complete for this `plan` (record present, plan equal,
/// files present with the recorded sizes).
pub fn completed_part(dir: &Path, part: u32, plan: &str) -> Option<PartRecord> {
    let bytes = fs::read(dir.join(part_record_name(part))).ok()?;
    let rec: PartRecord = serde_json::from_slice(&bytes).ok()?;
    let size_ok = |f: &PartFile| fs::metadata(dir.join(&f.file)).map(|m| m.len() == f.bytes).unwrap_or(false);
    (rec.part == part && rec.plan == plan && size_ok(&rec.documents) && size_ok(&rec.rejected)).then_some(rec)
}

pub fn write_part_record(dir: &Path, rec: &PartRecord) -> Result<(), DatasetError> {
    let path = dir.join(part_record_name(rec.part));
    fs::create_dir_all(dir.join(PARTS_DIR)).map_err(io_err(&path))?;
    write_atomic(&path, &serde_json::to_vec_pretty(rec).expect("part record serializes"))
}

/// Removes temporaries left by an interrupted run and parts beyond `n_parts` left by an
/// earlier run with a different plan.
pub fn clean_stale(dir: &Path, n_parts: u32) -> Result<(), DatasetError> {
    for sub in [dir.to_path_buf(), dir.join(REJECTED_DIR), dir.join(PARTS_DIR)] {
        let Ok(entries) = fs::read_dir(&sub) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let stale_part = name
                .strip_prefix("part-")
                .and_then(|r| r.split('.').next())
                .and_then(|n| n.parse::<u32>().ok())
                .is_some_and(|n| n >= n_parts);
            if name.starts_with(TMP_PREFIX) || stale_part {
                fs::remove_file(e.path()).map_err(io_err(&e.path()))?;
            }
        }
    }
    Ok(())
}

/// Which parts a process handles: part `p` belongs to shard `p % count`. A stage run for one
/// shard (e.g. one task of a Slurm job array) writes only its parts and no manifest; a run
/// for the whole ([`Shard::WHOLE`]) then finds them complete and writes the manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    pub fn owns(self, part: usize) -> bool {
        part as u64 % self.count as u64 == self.index as u64
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.split_once('/')
            .and_then(|(i, n)| Some(Shard { index: i.trim().parse().ok()?, count: n.trim().parse().ok()? }))
            .filter(|sh| sh.index < sh.count)
            .ok_or_else(|| format!("shard `{s}`: expected INDEX/COUNT with 0 <= INDEX < COUNT, e.g. 3/8"))
    }
}

/// An existing dataset, opened for reading.
pub struct Dataset {
    pub dir: PathBuf,
    pub manifest: Manifest,
}

impl Dataset {
    /// Opens the dataset in `dir`: its manifest, and every part it lists checked for its
    /// recorded size (a part cut short by a crash is named here, not met halfway through a
    /// read; see [Durability](self#durability)).
    pub fn open(dir: &Path) -> Result<Dataset, DatasetError> {
        let manifest = Manifest::read(dir)?;
        for p in manifest.parts.iter().chain(&manifest.rejected_parts) {
            let path = dir.join(&p.file);
            let len = fs::metadata(&path).map_err(io_err(&path))?.len();
            if len != p.bytes {
                return Err(DatasetError::PartSize { path, len, want: p.bytes });
            }
        }
        Ok(Dataset { dir: dir.to_path_buf(), manifest })
    }

    /// Record batches of one Parquet file of the dataset, streamed.
    pub fn batches(
        &self,
        part: &PartFile,
    ) -> Result<impl Iterator<Item = Result<RecordBatch, DatasetError>>, DatasetError> {
        read_parquet_batches(&self.dir.join(&part.file), 1024)
    }

    /// As [`Dataset::batches`], with only the named columns that the part has (the others are
    /// not read at all).
    pub fn batches_of(
        &self,
        part: &PartFile,
        columns: &[&str],
    ) -> Result<impl Iterator<Item = Result<RecordBatch, DatasetError>>, DatasetError> {
        read_parquet_projected(&self.dir.join(&part.file), columns, 1024)
    }

    /// All kept documents, part by part (streamed; each batch materialized at a time).
    pub fn documents(&self) -> impl Iterator<Item = Result<Document, DatasetError>> + '_ {
        self.manifest.parts.iter().flat_map(move |p| {
            let path = self.dir.join(&p.file);
            let batches: Box<dyn Iterator<Item = Result<RecordBatch, DatasetError>>> = match self.batches(p) {
                Ok(b) => Box::new(b),
                Err(e) => Box::new(std::iter::once(Err(e))),
            };
            batches.flat_map(move |b| {
                let docs: Vec<Result<Document, DatasetError>> = match b {
                    Ok(b) => match document::documents_from_batch(&b) {
                        Ok(d) => d.into_iter().map(Ok).collect(),
                        Err(source) => vec![Err(DatasetError::Schema { path: path.clone(), source })],
                    },
                    Err(e) => vec![Err(e)],
                };
                docs
            })
        })
    }

    /// All rejections of the stage that wrote this dataset.
    pub fn rejections(&self) -> Result<Vec<Rejection>, DatasetError> {
        let mut out = Vec::new();
        for p in &self.manifest.rejected_parts {
            let path = self.dir.join(&p.file);
            for b in read_parquet_batches(&path, 4096)? {
                out.extend(
                    document::rejections_from_batch(&b?)
                        .map_err(|source| DatasetError::Schema { path: path.clone(), source })?,
                );
            }
        }
        Ok(out)
    }
}

/// One string column of a Parquet file, read alone (projected).
pub fn read_parquet_column(path: &Path, name: &str) -> Result<Vec<String>, DatasetError> {
    use arrow_array::cast::AsArray;
    let file = File::open(path).map_err(io_err(path))?;
    let perr = |source: parquet::errors::ParquetError| DatasetError::Parquet { path: path.to_path_buf(), source };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(perr)?;
    let Some(idx) = builder.schema().fields().iter().position(|f| f.name() == name) else { return Ok(Vec::new()) };
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), [idx]);
    let reader = builder.with_projection(mask).with_batch_size(65_536).build().map_err(perr)?;
    let mut out = Vec::new();
    for b in reader {
        let b = b.map_err(|e| perr(e.into()))?;
        let c = b.column(0);
        match c.as_string_opt::<i32>() {
            Some(s) => out.extend(s.iter().map(|v| v.unwrap_or_default().to_string())),
            None => out.extend(c.as_string::<i64>().iter().map(|v| v.unwrap_or_default().to_string())),
        }
    }
    Ok(out)
}

/// The batches of a Parquet file with only the `columns` it has among those named (the others
/// are not read at all).
pub fn read_parquet_projected(
    path: &Path,
    columns: &[&str],
    batch_size: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch, DatasetError>>, DatasetError> {
    let file = File::open(path).map_err(io_err(path))?;
    let perr = |source: parquet::errors::ParquetError| DatasetError::Parquet { path: path.to_path_buf(), source };
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(perr)?;
    let idx: Vec<usize> = builder
        .schema()
        .fields()
        .iter()
        .enumerate()
        .filter(|(_, f)| columns.contains(&f.name().as_str()))
        .map(|(i, _)| i)
        .collect();
    let mask = parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), idx);
    let reader = builder.with_projection(mask).with_batch_size(batch_size).build().map_err(perr)?;
    let path = path.to_path_buf();
    Ok(reader.map(move |r| r.map_err(|e| DatasetError::Parquet { path: path.clone(), source: e.into() })))
}

pub fn read_parquet_batches(
    path: &Path,
    batch_size: usize,
) -> Result<impl Iterator<Item = Result<RecordBatch, DatasetError>>, DatasetError> {
    let file = File::open(path).map_err(io_err(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .and_then(|b| b.with_batch_size(batch_size).build())
        .map_err(|source| DatasetError::Parquet { path: path.to_path_buf(), source })?;
    let path = path.to_path_buf();
    Ok(reader.map(move |r| r.map_err(|e| DatasetError::Parquet { path: path.clone(), source: e.into() })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecs_parse_and_print() {
        for (text, codec) in
            [("zstd", Codec::Zstd(1)), ("zstd:3", Codec::Zstd(3)), ("zstd:-5", Codec::Zstd(-5)), ("none", Codec::None)]
        {
            let c: Codec = text.parse().unwrap();
            assert_eq!(c, codec);
            assert_eq!(c.to_string().parse::<Codec>().unwrap(), c);
        }
        for bad in ["zstd:23", "zstd:-8", "zstd:", "lz4", "gzip:1", ""] {
            let e = bad.parse::<Codec>().unwrap_err();
            assert!(e.contains(&format!("`{bad}`")) && e.contains("none"), "{e}");
        }
        // In configs and manifests: the same strings.
        let v: serde_json::Value = serde_json::json!({ "c": "zstd:2" });
        assert_eq!(
            serde_json::from_value::<std::collections::BTreeMap<String, Codec>>(v).unwrap()["c"],
            Codec::Zstd(2)
        );
    }

    #[test]
    fn text_edits_recount_only_the_edited_rows() {
        use arrow_array::cast::AsArray;
        use arrow_array::types::UInt32Type;
        use arrow_array::{ArrayRef, LargeStringArray, StringArray, UInt32Array};
        use arrow_schema::{DataType, Field, Schema};
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Utf8, false),
            Field::new("text", DataType::LargeUtf8, false),
            Field::new("n_chars", DataType::UInt32, false),
            Field::new("n_words", DataType::UInt32, false),
        ]));
        // The untouched rows' counts are wrong on purpose: they must come through as they are.
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec!["a", "b", "c"])),
            Arc::new(LargeStringArray::from(vec!["ett två", "Sid. 4\nTre ord här", "fyra"])),
            Arc::new(UInt32Array::from(vec![70, 80, 90])),
            Arc::new(UInt32Array::from(vec![7, 8, 9])),
        ];
        let batch = RecordBatch::try_new(schema, cols).unwrap();
        let same = TextEdits::new().apply(&batch).unwrap();
        assert!(Arc::ptr_eq(same.column(1), batch.column(1)), "no edit: the text column is shared");

        let mut edits = TextEdits::new();
        edits.push(1, "Tre ord här".into(), 3);
        let out = edits.apply(&batch).unwrap();
        let text = out.column(1).as_string::<i64>();
        assert_eq!((text.value(0), text.value(1), text.value(2)), ("ett två", "Tre ord här", "fyra"));
        let chars = out.column(2).as_primitive::<UInt32Type>();
        let words = out.column(3).as_primitive::<UInt32Type>();
        assert_eq!(chars.values().to_vec(), vec![70, 11, 90]);
        assert_eq!(words.values().to_vec(), vec![7, 3, 9]);
        assert_eq!(out.column(0).as_ref(), batch.column(0).as_ref());
    }

    #[test]
    fn counts_reconcile_and_add() {
        let mut a = Counts { input: 3, kept: 2, ..Default::default() };
        a.rejected.insert("empty-text".into(), 1);
        assert!(a.reconciles());
        let mut b = a.clone();
        b.add(&a);
        assert_eq!(b.input, 6);
        assert_eq!(b.rejected["empty-text"], 2);
        assert!(b.reconciles());
        b.kept += 1;
        assert!(!b.reconciles());
    }

    #[test]
    fn part_writer_is_atomic_and_checksummed() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink =
            DocumentSink::create(dir.path(), &part_name(0), writer_properties(Codec::default()), 2, 1 << 20).unwrap();
        for i in 0..5 {
            sink.push(&Document {
                id: format!("d{i}"),
                text: "ord".repeat(i),
                meta: "{}".into(),
                ..Default::default()
            })
            .unwrap();
        }
        assert!(!dir.path().join(part_name(0)).exists(), "the part appears only when finished");
        let pf = sink.finish().unwrap();
        assert_eq!(pf.rows, 5);
        let bytes = fs::read(dir.path().join(part_name(0))).unwrap();
        assert_eq!(pf.bytes, bytes.len() as u64);
        assert_eq!(pf.xxh3, format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes)));
        let meta = parquet::file::reader::SerializedFileReader::new(File::open(dir.path().join(part_name(0))).unwrap())
            .unwrap();
        use parquet::file::reader::FileReader;
        assert_eq!(meta.metadata().num_row_groups(), 3, "row groups bounded by max_rows=2");
        let docs: Vec<Document> = read_parquet_batches(&dir.path().join(part_name(0)), 100)
            .unwrap()
            .flat_map(|b| document::documents_from_batch(&b.unwrap()).unwrap())
            .collect();
        assert_eq!(docs.len(), 5);
        assert_eq!(docs[3].text, "ordordord");
    }
}
