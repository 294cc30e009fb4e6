//! Dataset folders: the on-disk contract between stages.
//!
//! ```text
//! <dataset>/
//!   manifest.json                 stage, version, config as used, inputs, counts, parts
//!   data/part-00000.parquet       documents (zstd, bounded row groups)
//!   rejected/part-00000.parquet   what the stage did not keep, with a reason
//!   _parts/part-00000.json        the part's marker, written last: marks the part complete
//! ```
//!
//! The kept documents have a folder of their own, `data/`, so that a Parquet reader pointed at
//! `<dataset>/data` (pyarrow, polars, DuckDB, Hugging Face `datasets`) reads exactly them, and
//! never the rejected rows or the manifest (tests/dataset_layout.rs). Stages read a dataset through its
//! manifest, whose `file` entries are paths relative to the folder: a dataset written before
//! `data/` (parts at the top) still opens.
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
//! - what marks work complete (one `stage::Marker` type for every stage's parts and
//!   steps) names the length and xxh3 of each file it vouches for, and a file of another length
//!   (typically empty after a crash) voids it, so a resumed run redoes the part;
//! - [`Dataset::open`] checks every part against the manifest's sizes and names a part that
//!   does not match, before a later stage reads it.
//!
//! Where a crash must not cost a rerun, ask for syncing (every stage's options have `sync`: set
//! by `kbcurate --sync`, `[run] sync = true`, or `KBCURATE_SYNC=1`, which Slurm tasks inherit,
//! all read at the command line's edge: [`sync_from_env`]). A stage then syncs its
//! output once at its commit point: before it writes the manifest (itself written and synced
//! after), and at the end of a run for one shard or step, before the next job starts.
//!
//! The module is split by concern: this file holds the contract (names, manifest, counts,
//! shards, the output folder's layout), `write` the part writers and [`Codec`], `read`
//! [`Dataset`] and the Parquet readers, `durable` atomic writes and syncing.

mod durable;
mod read;
mod write;

pub use durable::{sync_from_env, sync_written, temp_file, write_atomic, write_commit, TempPath};
pub use read::{read_parquet_batches, read_parquet_column, read_parquet_projected, Dataset};
pub use write::{
    writer_properties, Codec, DocumentSink, KeptRows, ParquetPartWriter, RejectionSink, RowBatch, RowOrigin, Sink,
    TextEdits,
};

use std::collections::BTreeMap;
use std::fs::{self};
use std::io;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::document::{self};

pub const MANIFEST: &str = "manifest.json";
/// The kept documents' parts.
pub const DATA_DIR: &str = "data";
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
    #[error(
        "{path}: another kbcurate process is writing this folder (it holds {lock}); wait for it or choose another \
         output folder"
    )]
    Busy { path: PathBuf, lock: PathBuf },
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

pub(super) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DatasetError + '_ {
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

/// What a written part holds, as its marker in `_parts/` keeps it (see `stage::Marker`: the
/// marker, written after the part's files, also names the plan the part was written for).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartRecord {
    pub part: u32,
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
                // `DATASET/data` is where Parquet readers are pointed; kbcurate wants `DATASET`.
                let parent =
                    dir.parent().filter(|p| dir.ends_with(DATA_DIR) && dir.is_dir() && p.join(MANIFEST).is_file());
                let why = match parent {
                    Some(p) => format!("this is the kept documents' folder of the dataset {}: name that", p.display()),
                    None => format!("no {MANIFEST}; was the stage run to the end?"),
                };
                DatasetError::NotADataset { path: dir.to_path_buf(), why }
            } else {
                DatasetError::Io { path: path.clone(), source: e }
            }
        })?;
        serde_json::from_slice(&bytes).map_err(|e| DatasetError::NotADataset { path, why: e.to_string() })
    }

    /// Commits the dataset: with `sync`, syncs the folder's files, then writes the manifest
    /// durably; without, writes it atomically.
    pub fn write(&self, dir: &Path, sync: bool) -> Result<(), DatasetError> {
        let mut json = serde_json::to_vec_pretty(self).expect("manifest serializes");
        json.push(b'\n');
        write_commit(dir, MANIFEST, &json, sync)
    }
}

/// File names of part `i`, relative to the dataset folder.
pub fn part_name(i: u32) -> String {
    format!("{DATA_DIR}/part-{i:05}.parquet")
}

pub fn rejected_part_name(i: u32) -> String {
    format!("{REJECTED_DIR}/part-{i:05}.parquet")
}

pub fn part_record_name(i: u32) -> String {
    format!("{PARTS_DIR}/part-{i:05}.json")
}

/// Whether a part's record names the files this version writes for part `part`. A record an
/// earlier version wrote (documents at the top of the folder, before `data/`) does not: its
/// part is redone rather than reused, so a resumed folder never mixes the two layouts.
pub fn is_current_record(part: u32, record: &PartRecord) -> bool {
    record.documents.file == part_name(part) && record.rejected.file == rejected_part_name(part)
}

/// Removes temporaries left by an interrupted run, parts beyond `n_parts` left by an earlier
/// run with a different plan, and the document parts an earlier version wrote at the top of
/// the folder (before `data/`; their parts are redone, see [`is_current_record`]).
pub fn clean_stale(dir: &Path, n_parts: u32) -> Result<(), DatasetError> {
    let subs = [dir.to_path_buf(), dir.join(DATA_DIR), dir.join(REJECTED_DIR), dir.join(PARTS_DIR)];
    for (k, sub) in subs.iter().enumerate() {
        let Ok(entries) = fs::read_dir(sub) else { continue };
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let number =
                name.strip_prefix("part-").and_then(|r| r.split('.').next()).and_then(|n| n.parse::<u32>().ok());
            let top = k == 0;
            let stale_part =
                if top { number.is_some() && name.ends_with(".parquet") } else { number.is_some_and(|n| n >= n_parts) };
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Document;
    use arrow_array::RecordBatch;
    use std::fs::File;

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
