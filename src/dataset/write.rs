//! Writing dataset parts: Parquet writers that hash what they write, the sinks that bound row
//! groups, the rows a stage keeps, text edits, and how parts are compressed ([`Codec`]).

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use serde::{Deserialize, Serialize};

use crate::document::{self, Document, DocumentBatchBuilder, Rejection, RejectionBatchBuilder};

use super::{durable::temp_file, durable::TempPath, io_err, part_name, DatasetError, PartFile};

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
            score: None,
            text,
        }
    }
}

/// How a stage compresses the Parquet parts it writes (`--compression`, `[run] compression`).
///
/// zstd level 1 is the default: higher levels alone would cap ingest's throughput, and level 1
/// compresses text nearly as well at about twice the speed. `none` skips the work, for scratch
/// datasets that the next stage reads once. Negative levels (zstd's fast mode) are accepted but
/// bought nothing measurable through Parquet. The figures: benches/ingest.md and
/// docs/pipeline.md ("Compression"). Every Parquet reader (pyarrow, polars, DuckDB, Spark)
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
    tmp: TempPath,
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
        let (tmp, file) = temp_file(&dest)?;
        let sink =
            HashingWriter { inner: BufWriter::with_capacity(1 << 20, file), hasher: Default::default(), bytes: 0 };
        let writer = ArrowWriter::try_new(sink, schema, Some(props))
            .map_err(|source| DatasetError::Parquet { path: tmp.path().to_path_buf(), source })?;
        Ok(Self { writer, tmp, dest, rel: rel.to_string(), rows: 0 })
    }

    /// Writes one batch as (the end of) a row group.
    pub fn write_row_group(&mut self, batch: &RecordBatch) -> Result<(), DatasetError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows() as u64;
        let path = self.tmp.path().to_path_buf();
        self.writer.write(batch).map_err(|source| DatasetError::Parquet { path: path.clone(), source })?;
        self.writer.flush().map_err(|source| DatasetError::Parquet { path, source })
    }

    /// Closes the file and renames it into place (synced with the stage's commit).
    pub fn finish(self) -> Result<PartFile, DatasetError> {
        let path = self.tmp.path().to_path_buf();
        let sink = self.writer.into_inner().map_err(|source| DatasetError::Parquet { path: path.clone(), source })?;
        let HashingWriter { inner, hasher, bytes } = sink;
        drop(inner.into_inner().map_err(|e| DatasetError::Io { path: path.clone(), source: e.into_error() })?);
        self.tmp.persist(&self.dest)?;
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
