//! The `tokenize` stage: a dataset in, trainer-ready shards out.
//!
//! ```text
//! <shards>/
//!   manifest.json                      tokenizer, special tokens, packing, counts, checksums
//!   train/shard-00000.bin .idx         Megatron (--format megatron), one window per sequence
//!   train/shard-00000.docs.parquet     per window: cu_seqlens, doc_ids, doc_starts
//!   train/shard-00000.parquet          (--format parquet) input_ids + the same columns
//!   validation/...
//! ```
//! Pass one (rayon over parts, and over documents inside a batch) encodes each document once and
//! spills one record per repeat into its bucket (see `shuffle.rs`). Pass two (rayon over
//! buckets) sorts each bucket by key, packs it and writes one shard per non-empty bucket. Same
//! input, options and seed ⇒ byte-identical shards on any number of threads.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{Int32Builder, ListBuilder, StringBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Int16Type, UInt32Type};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::encoder::{self, Encoder};
use super::megatron::{DType, FileSum, MegatronWriter};
use super::pack::{self, PackStats, Packing, Strategy};
use super::shuffle::{self, Record, Spiller, SPLITS};
use super::special::{self, Specials};
use super::{io_err, TokenizeError};
use crate::dataset::{self, Dataset, ParquetPartWriter};
use crate::stage::{self, FileMark, Marker, MarkerPath, PartStage};

pub use super::args::{Format, TokenizeOptions};

pub const STAGE: &str = "tokenize";
pub const SPILL_DIR: &str = ".spill";
const NONE: &str = "(none)";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenizerInfo {
    pub spec: String,
    pub backend: String,
    /// xxh3-128 of the tokenizer's definition.
    pub fingerprint: String,
    pub vocab_size: usize,
}

/// One shard: a bucket's windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Shard {
    /// Path stem relative to the shards folder, e.g. `train/shard-00003`.
    pub name: String,
    pub windows: u64,
    /// Document tokens (BOS/EOS included), padding excluded.
    pub tokens: u64,
    pub pad_tokens: u64,
    /// Documents in it, counting repeats (pieces of one document count once).
    pub documents: u64,
    pub files: Vec<FileSum>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SplitSummary {
    /// Distinct documents.
    pub documents: u64,
    /// Documents counting repeats.
    pub documents_with_repeats: u64,
    pub packing: PackStats,
    pub padding_share: f64,
    /// Tokens (with repeats, BOS/EOS included) by genre, decade and source.
    pub tokens_by: BTreeMap<String, BTreeMap<String, u64>>,
    pub shards: Vec<Shard>,
}

/// `<shards>/manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShardsManifest {
    pub stage: String,
    pub kbcurate_version: String,
    pub input: serde_json::Value,
    pub tokenizer: TokenizerInfo,
    pub special_tokens: Specials,
    pub seq_len: u32,
    pub packing: Strategy,
    pub format: Format,
    /// Token dtype of the Megatron `.bin` (uint16 below 65,500 ids, else int32).
    pub dtype: DType,
    pub seed: u64,
    pub val_fraction: f64,
    /// Per genre: documents and documents in validation (empty without a validation split).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub validation_by_genre: BTreeMap<String, super::split::Stratum>,
    pub shuffle: String,
    pub buckets: u32,
    pub splits: BTreeMap<String, SplitSummary>,
}

impl ShardsManifest {
    pub fn read(dir: &Path) -> Result<Self, TokenizeError> {
        let path = dir.join(dataset::MANIFEST);
        let b = fs::read(&path).map_err(io_err(&path))?;
        let m: ShardsManifest = serde_json::from_slice(&b)
            .map_err(|e| TokenizeError::Invalid(format!("{}: not a shards manifest: {e}", path.display())))?;
        if m.stage != STAGE {
            return Err(TokenizeError::Invalid(format!("{}: stage `{}`, not `{STAGE}`", path.display(), m.stage)));
        }
        Ok(m)
    }
}

#[derive(Debug, Clone)]
pub struct TokenizeSummary {
    pub manifest: ShardsManifest,
    pub text_bytes: u64,
    pub elapsed: Duration,
    pub encode_elapsed: Duration,
    /// Parts an interrupted run had already encoded, reused.
    pub parts_resumed: usize,
}

impl TokenizeSummary {
    pub fn render(&self) -> String {
        let m = &self.manifest;
        let mut s = format!(
            "tokenize: {} ({}), seq_len {}, {} packing, {} format, in {:.2}s ({} of text in pass one)\n",
            m.tokenizer.spec,
            m.tokenizer.backend,
            m.seq_len,
            m.packing.as_str(),
            match m.format {
                Format::Megatron => "megatron",
                Format::Parquet => "parquet",
            },
            self.elapsed.as_secs_f64(),
            crate::size::Rate { bytes: self.text_bytes, seconds: self.encode_elapsed.as_secs_f64() },
        );
        for (name, sp) in &m.splits {
            let p = &sp.packing;
            s.push_str(&format!(
                "  {name}: {} documents ({} with repeats), {} tokens in {} windows of {} shards; padding {:.2}%, {} \
                 documents truncated\n",
                sp.documents,
                sp.documents_with_repeats,
                p.tokens,
                p.windows,
                sp.shards.len(),
                100.0 * sp.padding_share,
                p.truncated_documents
            ));
        }
        if self.parts_resumed > 0 {
            s.push_str(&format!(
                "  {} parts were already encoded (by array tasks or an interrupted run) and kept\n",
                self.parts_resumed
            ));
        }
        s
    }
}

fn invalid(s: String) -> TokenizeError {
    TokenizeError::Invalid(s)
}

/// Σ n_chars × repeats over the dataset, reading those two columns only.
fn weighted_chars(ds: &Dataset) -> Result<u64, TokenizeError> {
    let mut total = 0u64;
    for part in &ds.manifest.parts {
        let path = ds.dir.join(&part.file);
        for batch in crate::dataset::read_parquet_projected(&path, &["n_chars", "repeats"], 8192)? {
            let batch = batch?;
            let chars = batch.column_by_name("n_chars").map(|c| c.as_primitive::<UInt32Type>().clone());
            let reps = batch.column_by_name("repeats").map(|c| c.as_primitive::<UInt32Type>().clone());
            for r in 0..batch.num_rows() {
                let c = chars.as_ref().map_or(0, |c| c.value(r) as u64);
                let n = reps.as_ref().map_or(1, |c| c.value(r) as u64);
                total += c * n;
            }
        }
    }
    Ok(total)
}

pub fn tokenize(input: &Path, opts: &TokenizeOptions) -> Result<TokenizeSummary, TokenizeError> {
    let start = Instant::now();
    let enc = on_device(encoder::load(&opts.tokenizer)?, opts)?;
    let specials = special::resolve_all(enc.as_ref(), opts.bos.as_ref(), opts.eos.as_ref(), opts.pad.as_ref())?;
    tokenize_with(input, enc.as_ref(), specials, opts, start)
}

/// What a shard's encoding pass did (see [`TokenizeOptions::shard`]).
#[derive(Debug, Clone)]
pub struct EncodeReport {
    pub shard: crate::dataset::Shard,
    /// Parts encoded now, and parts found encoded by an earlier run.
    pub parts: usize,
    pub parts_resumed: usize,
    pub text_bytes: u64,
    pub elapsed: Duration,
}

impl EncodeReport {
    pub fn render(&self) -> String {
        format!(
            "tokenize encode (shard {}): {} parts encoded ({} were already), {} of text in {:.2}s\n",
            self.shard,
            self.parts,
            self.parts_resumed,
            crate::size::Bytes(self.text_bytes),
            self.elapsed.as_secs_f64()
        )
    }
}

/// Pass one for the parts of `opts.shard` only (a job array task); a whole [`tokenize`] run
/// afterwards finds them encoded and packs.
pub fn tokenize_encode_shard(input: &Path, opts: &TokenizeOptions) -> Result<EncodeReport, TokenizeError> {
    let start = Instant::now();
    let enc = on_device(encoder::load(&opts.tokenizer)?, opts)?;
    let specials = special::resolve_all(enc.as_ref(), opts.bos.as_ref(), opts.eos.as_ref(), opts.pad.as_ref())?;
    match run(input, enc.as_ref(), specials, opts, start)? {
        Outcome::Encoded(r) => Ok(r),
        Outcome::Packed(_) => unreachable!("a shard run stops after encoding"),
    }
}

enum Outcome {
    Packed(Box<TokenizeSummary>),
    Encoded(EncodeReport),
}

/// `enc` with its work on the device the options name, if any.
fn on_device(enc: Box<dyn Encoder>, opts: &TokenizeOptions) -> Result<Box<dyn Encoder>, TokenizeError> {
    Ok(match &opts.device {
        Some(d) => d.place(enc)?,
        None => enc,
    })
}

/// [`tokenize`] with an encoder already loaded (another backend, or a test's).
pub fn tokenize_with(
    input: &Path,
    enc: &dyn Encoder,
    specials: Specials,
    opts: &TokenizeOptions,
    start: Instant,
) -> Result<TokenizeSummary, TokenizeError> {
    let whole = TokenizeOptions { shard: crate::dataset::Shard::WHOLE, ..opts.clone() };
    match run(input, enc, specials, &whole, start)? {
        Outcome::Packed(s) => Ok(*s),
        Outcome::Encoded(_) => unreachable!("a whole run packs"),
    }
}

fn run(
    input: &Path,
    enc: &dyn Encoder,
    specials: Specials,
    opts: &TokenizeOptions,
    start: Instant,
) -> Result<Outcome, TokenizeError> {
    if opts.seq_len < 2 {
        return Err(invalid(format!("--seq-len {}: must be at least 2", opts.seq_len)));
    }
    if !(0.0..1.0).contains(&opts.val_fraction) {
        return Err(invalid(format!("--val-fraction {}: must be in [0, 1)", opts.val_fraction)));
    }
    if opts.packing == Strategy::Concat && specials.eos.is_none() {
        return Err(invalid(
            "concat packing joins documents: give --eos (e.g. --eos '<|endoftext|>'); kbcurate picks no default".into(),
        ));
    }
    if opts.packing == Strategy::BestFit && specials.pad.is_none() {
        return Err(invalid(
            "best-fit packing pads windows: give --pad (a name or an id); kbcurate picks no default".into(),
        ));
    }
    stage::install(opts.threads, || run_in_pool(input, enc, specials, opts, start)).map_err(invalid)?
}

/// Pass one's parts: each input part encoded and spilled to the buckets.
struct SpillStep<'a> {
    ds: &'a Dataset,
    enc: &'a dyn Encoder,
    opts: &'a TokenizeOptions,
    to: SpillTo<'a>,
    plan: &'a str,
}

impl PartStage for SpillStep<'_> {
    type Report = PartCounts;
    type Error = TokenizeError;

    fn parts(&self) -> usize {
        self.ds.manifest.parts.len()
    }

    fn marker(&self, part: u32) -> MarkerPath {
        MarkerPath::new(self.to.dir, spilled_name(part))
    }

    fn plan(&self, _part: u32) -> String {
        self.plan.to_string()
    }

    fn run_part(&self, part: u32, _plan: &str) -> Result<(PartCounts, Vec<FileMark>), TokenizeError> {
        let input = &self.ds.manifest.parts[part as usize];
        let (c, files) = spill_part(self.ds, input, part, self.enc, self.opts, &self.to)?;
        let marks = files.iter().map(|(name, _)| FileMark::of(self.to.dir, name)).collect::<Result<_, _>>()?;
        Ok((c, marks))
    }
}

fn run_in_pool(
    input: &Path,
    enc: &dyn Encoder,
    specials: Specials,
    opts: &TokenizeOptions,
    start: Instant,
) -> Result<Outcome, TokenizeError> {
    let whole = opts.shard == crate::dataset::Shard::WHOLE;
    let ds = Dataset::open(input)?;
    let out = &opts.output;

    // Buckets: ~1.2 bytes of spill (u32 ids + fields) per character of text, per repeat.
    let est = weighted_chars(&ds)? as f64 * 1.2;
    let budget = opts.bucket_bytes.max(1) as f64;
    let buckets = ((est / budget).ceil() as u32).clamp(1, 100_000);
    let n_parts = ds.manifest.parts.len() as u32;

    // What a part's spill files depend on: parts spilled by an interrupted run with the same
    // plan are kept (pass one is the expensive pass), everything else is redone.
    let spill_plan = {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        for p in &ds.manifest.parts {
            h.update(p.xxh3.as_bytes());
        }
        h.update(enc.fingerprint().as_bytes());
        h.update(format!("{} {} {buckets} {}", opts.seed, opts.val_fraction, env!("CARGO_PKG_VERSION")).as_bytes());
        format!("{:032x}", h.digest128())
    };
    // The writer's lock lives in the spill folder, which a tokenize run owns from its start.
    if !out.join(SPILL_DIR).exists() {
        check_output(out)?;
    }
    let _lock = stage::OutputLock::acquire(&out.join(SPILL_DIR), out, opts.shard)?;
    prepare_output(out, &spill_plan, whole)?;
    // One folder per plan: tasks of different plans never share files.
    let spill = out.join(SPILL_DIR).join(&spill_plan[..16]);
    fs::create_dir_all(&spill).map_err(io_err(&spill))?;
    let done: Vec<bool> = (0..n_parts)
        .map(|i| Marker::<PartCounts>::valid(&MarkerPath::new(&spill, spilled_name(i)), &spill_plan).is_some())
        .collect();
    let parts_resumed = done.iter().filter(|&&d| d).count();
    let split = super::split::ValidationSplit::plan(&ds, opts.seed, opts.val_fraction)?;
    // Partial spills of unfinished parts (only this shard's: others may be writing theirs).
    shuffle::remove_spills(&spill, |p| opts.shard.owns(p as usize) && !done.get(p as usize).is_some_and(|&d| d))?;

    // Pass one: encode and spill.
    let t_enc = Instant::now();
    let to = SpillTo { split: &split, dir: &spill, buckets };
    let passes = stage::run_parts(&SpillStep { ds: &ds, enc, opts, to, plan: &spill_plan }, opts.shard)?;
    let mut counts = [PartCounts::default(), PartCounts::default()];
    let mut text_bytes = 0;
    for p in passes.into_iter().map(|d| d.report) {
        text_bytes += p.text_bytes;
        counts[0].documents += p.documents;
        counts[1].documents += p.val_documents;
    }
    let encode_elapsed = t_enc.elapsed();
    if !whole {
        // No manifest commits a shard's spill files: they are made durable before its task ends.
        dataset::sync_written(out, opts.sync)?;
        let mine = (0..n_parts as usize).filter(|&i| opts.shard.owns(i)).count();
        let resumed = (0..n_parts as usize).filter(|&i| opts.shard.owns(i) && done[i]).count();
        return Ok(Outcome::Encoded(EncodeReport {
            shard: opts.shard,
            parts: mine - resumed,
            parts_resumed: resumed,
            text_bytes,
            elapsed: start.elapsed(),
        }));
    }

    // Pass two: per bucket, sort, pack, write.
    let dtype = DType::for_vocab(enc.vocab_size());
    let jobs: Vec<(usize, u32)> = (0..2).flat_map(|s| (0..buckets).map(move |b| (s, b))).collect();
    let shards: Vec<Result<Option<(usize, ShardOut)>, TokenizeError>> = jobs
        .par_iter()
        .map(|&(s, b)| {
            let recs = shuffle::load_bucket(&spill, s, b, n_parts)?;
            if recs.is_empty() {
                return Ok(None);
            }
            let name = format!("{}/shard-{b:05}", SPLITS[s]);
            Ok(Some((s, write_shard(out, &name, recs, &specials, opts, dtype)?)))
        })
        .collect();
    let mut splits: BTreeMap<String, SplitSummary> = BTreeMap::new();
    for r in shards {
        let Some((s, so)) = r? else { continue };
        let sp = splits.entry(SPLITS[s].to_string()).or_default();
        sp.packing.add(&so.stats);
        sp.documents_with_repeats += so.shard.documents;
        for (dim, m) in so.tokens_by {
            let e = sp.tokens_by.entry(dim).or_default();
            for (k, v) in m {
                *e.entry(k).or_default() += v;
            }
        }
        sp.shards.push(so.shard);
    }
    for (s, name) in SPLITS.iter().enumerate() {
        if let Some(sp) = splits.get_mut(*name) {
            sp.documents = counts[s].documents;
            // A document split over windows is one document here.
            sp.packing.documents = sp.documents_with_repeats;
            sp.padding_share = sp.packing.padding_share();
        }
    }
    let spill_root = out.join(SPILL_DIR);
    fs::remove_dir_all(&spill_root).map_err(io_err(&spill_root))?;
    let manifest = ShardsManifest {
        stage: STAGE.into(),
        kbcurate_version: env!("CARGO_PKG_VERSION").into(),
        input: serde_json::json!({
            "dataset": input.display().to_string(),
            "stage": ds.manifest.stage,
            "parts": ds.manifest.parts,
        }),
        tokenizer: TokenizerInfo {
            spec: opts.tokenizer.clone(),
            backend: enc.describe(),
            fingerprint: enc.fingerprint(),
            vocab_size: enc.vocab_size(),
        },
        special_tokens: specials,
        seq_len: opts.seq_len,
        packing: opts.packing,
        format: opts.format,
        dtype,
        seed: opts.seed,
        val_fraction: opts.val_fraction,
        validation_by_genre: split.strata.clone(),
        shuffle: "global: (document, repeat) sorted by xxh3 key over seeded buckets (external sort)".into(),
        buckets,
        splits,
    };
    let mut json = serde_json::to_vec_pretty(&manifest).expect("manifest serializes");
    json.push(b'\n');
    dataset::write_commit(out, dataset::MANIFEST, &json, opts.sync)?;
    Ok(Outcome::Packed(Box::new(TokenizeSummary {
        manifest,
        text_bytes,
        elapsed: start.elapsed(),
        encode_elapsed,
        parts_resumed,
    })))
}

fn spilled_name(part: u32) -> String {
    format!("part-{part:05}.done")
}

/// Refuses a folder holding something else; clears an earlier tokenize run's output, keeping
/// the spill files of an interrupted run with the same `spill_plan`. A shard's run (`whole`
/// false) removes nothing but the manifest: other shards are working beside it.
/// Refuses a folder that holds something other than a tokenize run's output.
fn check_output(out: &Path) -> Result<(), TokenizeError> {
    if !out.exists() {
        return Ok(());
    }
    let ours = ShardsManifest::read(out).is_ok();
    // An interrupted tokenize run leaves only its own folders (and temporaries).
    let only_ours = fs::read_dir(out).map_err(io_err(out))?.flatten().all(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        SPLITS.contains(&name.as_str()) || name == SPILL_DIR || name.starts_with(dataset::TMP_PREFIX)
    });
    if !ours && !only_ours {
        let what = if out.join(dataset::MANIFEST).exists() {
            "another stage's output"
        } else {
            "files but no shards manifest"
        };
        return Err(invalid(format!("{}: holds {what}; choose an empty or new folder", out.display())));
    }
    Ok(())
}

fn prepare_output(out: &Path, spill_plan: &str, whole: bool) -> Result<(), TokenizeError> {
    if out.exists() {
        check_output(out)?;
        let manifest = out.join(dataset::MANIFEST);
        let _ = fs::remove_file(&manifest);
        if whole {
            for d in SPLITS {
                let p = out.join(d);
                if p.exists() {
                    fs::remove_dir_all(&p).map_err(io_err(&p))?;
                }
            }
            // Spill folders of other plans (the writer's lock stays).
            if let Ok(entries) = fs::read_dir(out.join(SPILL_DIR)) {
                for e in entries.flatten() {
                    let name = e.file_name().to_string_lossy().into_owned();
                    if name != spill_plan[..16] && name != stage::lock::LOCK_FILE {
                        let p = e.path();
                        if p.is_dir() {
                            fs::remove_dir_all(&p).map_err(io_err(&p))?;
                        } else {
                            fs::remove_file(&p).map_err(io_err(&p))?;
                        }
                    }
                }
            }
        }
    }
    fs::create_dir_all(out).map_err(io_err(out))
}

#[derive(Default, Clone, serde::Serialize, serde::Deserialize)]
struct PartCounts {
    documents: u64,
    val_documents: u64,
    text_bytes: u64,
}

/// Where pass one puts a part's records: which split, which bucket of which folder.
struct SpillTo<'a> {
    split: &'a super::split::ValidationSplit,
    dir: &'a Path,
    buckets: u32,
}

fn spill_part(
    ds: &Dataset,
    part: &dataset::PartFile,
    i: u32,
    enc: &dyn Encoder,
    opts: &TokenizeOptions,
    to: &SpillTo,
) -> Result<(PartCounts, Vec<(String, u64)>), TokenizeError> {
    let (split, buckets) = (to.split, to.buckets);
    let path = ds.dir.join(&part.file);
    let mut spiller = Spiller::new(to.dir, i, buckets);
    let mut c = PartCounts::default();
    for batch in dataset::read_parquet_batches(&path, 1024)? {
        let batch = batch?;
        let col = |name: &str| -> Result<ArrayRef, TokenizeError> {
            batch
                .column_by_name(name)
                .cloned()
                .ok_or_else(|| invalid(format!("{}: no `{name}` column", path.display())))
        };
        let (ids, text) = (col("id")?, col("text")?);
        let ids = ids.as_string::<i32>();
        let text = text.as_string::<i64>();
        let s = |name: &str| batch.column_by_name(name).map(|c| c.as_string::<i32>().clone());
        let (genre, source) = (s("genre"), s("source"));
        let decade = batch.column_by_name("decade").map(|c| c.as_primitive::<Int16Type>().clone());
        let reps = batch.column_by_name("repeats").map(|c| c.as_primitive::<UInt32Type>().clone());
        let texts: Vec<&str> = (0..batch.num_rows()).map(|r| text.value(r)).collect();
        let tokens = enc.encode_batch(&texts)?;
        for (r, toks) in tokens.iter().enumerate() {
            let id = ids.value(r);
            let n = reps.as_ref().map_or(1, |c| if c.is_valid(r) { c.value(r) } else { 1 });
            if n == 0 {
                continue;
            }
            let g = genre.as_ref().filter(|a| a.is_valid(r)).map(|a| a.value(r));
            let split = usize::from(split.is_validation(id, g));
            if split == 1 {
                c.val_documents += 1;
            } else {
                c.documents += 1;
            }
            c.text_bytes += texts[r].len() as u64;
            let src = source.as_ref().filter(|a| a.is_valid(r)).map(|a| a.value(r));
            let dec = decade.as_ref().filter(|a| a.is_valid(r)).map(|a| a.value(r));
            for rep in 0..n {
                let key = shuffle::key(opts.seed, id, rep);
                let buf = spiller.buf(split, shuffle::bucket(key, buckets));
                shuffle::encode_record(buf, key, id, rep, g, dec, src, toks);
            }
        }
        spiller.flush(false)?;
    }
    spiller.flush(true)?;
    Ok((c, spiller.files()))
}

struct ShardOut {
    shard: Shard,
    stats: PackStats,
    tokens_by: BTreeMap<String, BTreeMap<String, u64>>,
}

/// The columns describing windows: cu_seqlens (piece offsets, from 0 to the tokens used),
/// doc_ids and doc_starts (each piece's document and its first token within the document).
fn bounds_fields() -> Vec<Field> {
    let list =
        |name: &str, t: DataType| Field::new(name, DataType::List(Arc::new(Field::new_list_field(t, true))), false);
    vec![list("cu_seqlens", DataType::Int32), list("doc_ids", DataType::Utf8), list("doc_starts", DataType::Int32)]
}

pub fn shard_schema(with_ids: bool) -> SchemaRef {
    let mut f = Vec::new();
    if with_ids {
        f.push(Field::new("input_ids", DataType::List(Arc::new(Field::new_list_field(DataType::Int32, true))), false));
    }
    f.extend(bounds_fields());
    Arc::new(Schema::new(f))
}

struct Columns {
    ids: ListBuilder<Int32Builder>,
    cu: ListBuilder<Int32Builder>,
    docs: ListBuilder<StringBuilder>,
    starts: ListBuilder<Int32Builder>,
    rows: usize,
}

impl Columns {
    fn new() -> Self {
        Columns {
            ids: ListBuilder::new(Int32Builder::new()),
            cu: ListBuilder::new(Int32Builder::new()),
            docs: ListBuilder::new(StringBuilder::new()),
            starts: ListBuilder::new(Int32Builder::new()),
            rows: 0,
        }
    }
    fn finish(&mut self, with_ids: bool) -> RecordBatch {
        let mut cols: Vec<ArrayRef> = Vec::new();
        if with_ids {
            cols.push(Arc::new(self.ids.finish()));
        }
        cols.push(Arc::new(self.cu.finish()));
        cols.push(Arc::new(self.docs.finish()));
        cols.push(Arc::new(self.starts.finish()));
        self.rows = 0;
        RecordBatch::try_new(shard_schema(with_ids), cols).expect("columns match the schema")
    }
}

fn write_shard(
    out: &Path,
    name: &str,
    mut recs: Vec<Record>,
    sp: &Specials,
    opts: &TokenizeOptions,
    dtype: DType,
) -> Result<ShardOut, TokenizeError> {
    for r in &mut recs {
        if let Some(b) = &sp.bos {
            r.tokens.insert(0, b.id);
        }
        if let Some(e) = &sp.eos {
            r.tokens.push(e.id);
        }
    }
    let lengths: Vec<u32> = recs.iter().map(|r| r.tokens.len() as u32).collect();
    let packing: Packing = match opts.packing {
        Strategy::Concat => pack::concat(&lengths, opts.seq_len),
        Strategy::BestFit => pack::best_fit(&lengths, opts.seq_len),
    };
    let mut stats = packing.stats(&lengths);
    let pad = sp.pad.as_ref().map(|p| p.id);
    let with_ids = opts.format == Format::Parquet;
    let props = dataset::writer_properties(dataset::Codec::Zstd(3));
    let rel = if with_ids { format!("{name}.parquet") } else { format!("{name}.docs.parquet") };
    let mut pq = ParquetPartWriter::create(out, &rel, shard_schema(with_ids), props)?;
    let mut mg = if with_ids { None } else { Some(MegatronWriter::create(out, name, dtype)?) };
    let mut cols = Columns::new();
    let mut window: Vec<u32> = Vec::with_capacity(opts.seq_len as usize);
    let mut pad_written = 0u64;
    for w in 0..packing.windows() {
        window.clear();
        let mut cu = vec![0i32];
        for p in packing.window(w) {
            let r = &recs[p.doc as usize];
            window.extend_from_slice(&r.tokens[p.start as usize..(p.start + p.len) as usize]);
            cu.push(window.len() as i32);
            cols.docs.values().append_value(&r.id);
            cols.starts.values().append_value(p.start as i32);
        }
        if let Some(pad) = pad {
            while window.len() < opts.seq_len as usize {
                window.push(pad);
                pad_written += 1;
            }
        }
        cols.cu.values().append_slice(&cu);
        cols.cu.append(true);
        cols.docs.append(true);
        cols.starts.append(true);
        if let Some(m) = mg.as_mut() {
            m.add_sequence(&window)?;
            m.end_document();
        } else {
            cols.ids.values().append_slice(&window.iter().map(|&t| t as i32).collect::<Vec<_>>());
            cols.ids.append(true);
        }
        cols.rows += 1;
        if cols.rows == 4096 {
            pq.write_row_group(&cols.finish(with_ids))?;
        }
    }
    if cols.rows > 0 {
        pq.write_row_group(&cols.finish(with_ids))?;
    }
    let mut files = Vec::new();
    if let Some(m) = mg {
        let (bin, idx) = m.finish()?;
        files.push(bin);
        files.push(idx);
    }
    let pf = pq.finish()?;
    files.push(FileSum { file: pf.file, bytes: pf.bytes, xxh3: pf.xxh3 });
    // Padding actually written (concat without --pad leaves the last window short).
    stats.pad_tokens = pad_written;
    let mut tokens_by: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for r in &recs {
        let n = r.tokens.len() as u64;
        let dec = r.decade.map(|d| d.to_string());
        for (dim, v) in [("genre", r.genre.as_deref()), ("decade", dec.as_deref()), ("source", r.source.as_deref())] {
            *tokens_by.entry(dim.into()).or_default().entry(v.unwrap_or(NONE).to_string()).or_default() += n;
        }
    }
    let shard = Shard {
        name: name.to_string(),
        windows: stats.windows,
        tokens: stats.tokens,
        pad_tokens: stats.pad_tokens,
        documents: recs.len() as u64,
        files,
    };
    Ok(ShardOut { shard, stats, tokens_by })
}
