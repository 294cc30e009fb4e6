//! `kbcurate dedup`: reads a dataset, writes a dataset without exact and near duplicates.
//!
//! The stage runs in steps whose memory is bounded by one part, never by the corpus:
//! 1. **signatures** (per input part, in parallel): each document's exact-text hash (xxh3-128
//!    of the normalized text), MinHash signature and ranking fields go to a fixed-size record
//!    file; its band keys and exact hash go to a sorted run file.
//! 2. **buckets** (global, streaming): the parts' runs are merged; documents sharing a band key
//!    become candidates, verified by estimated Jaccard (≥ the profile's threshold) before they
//!    are joined in a union-find (4 bytes per document); equal 128-bit exact hashes are joined
//!    without further check. Only verified edges join clusters, which guards against chaining
//!    through weak links.
//! 3. **decide**: in each cluster the best copy (highest OCR confidence, longest, earliest,
//!    smallest id) is kept; decisions are written per part.
//! 4. **filter** (per part, in parallel): kept documents get `dup_cluster` (the kept copy's id)
//!    and `dup_cluster_size`; the others go to `rejected/` as `exact-duplicate` or
//!    `near-duplicate`, naming the copy that was kept.
//!
//! Outputs do not depend on the thread count: clusters are sets, the kept copy follows a total
//! order, and every part is written in input order.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_array::builder::{LargeStringBuilder, StringBuilder, UInt32Builder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float32Type, UInt32Type};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use rayon::prelude::*;

use super::boilerplate::strip;
use super::cluster::{better_by, Rank, UnionFind};
use super::minhash::estimated_jaccard;
use super::profile::Profile;
use super::runs::{self, Entry};
use crate::dataset::{self, Counts, Dataset, DatasetError, Manifest, ParquetPartWriter, PartRecord, RejectionSink};
use crate::document::Rejection;
use crate::reject::Reason;

pub const STAGE: &str = "dedup";
const EXACT_BAND: u64 = u64::MAX;

#[derive(Debug, Clone)]
pub struct DedupOptions {
    pub output: PathBuf,
    pub profile: Profile,
    /// A line that recurs in at least this many documents of one source is boilerplate and is
    /// removed from the kept documents' text (0: keep all lines).
    pub boilerplate_min_docs: u64,
    /// An earlier dataset (an earlier release): input documents that duplicate one of its
    /// documents are removed, naming the earlier document. Its documents are not written.
    pub against: Option<PathBuf>,
    /// How the kept copy is chosen (the id breaks the last tie).
    pub keep_order: Vec<super::cluster::KeepKey>,
    pub threads: Option<usize>,
    pub zstd_level: i32,
}

impl DedupOptions {
    pub fn new(output: impl Into<PathBuf>) -> Self {
        Self {
            output: output.into(),
            profile: Profile::ocr(),
            boilerplate_min_docs: 20,
            against: None,
            keep_order: super::cluster::DEFAULT_KEEP_ORDER.to_vec(),
            threads: None,
            zstd_level: 1,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DedupError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{0}")]
    Other(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> DedupError + '_ {
    move |source| DedupError::Io { path: path.to_path_buf(), source }
}

#[derive(Debug, Clone)]
pub struct DedupSummary {
    pub counts: Counts,
    pub clusters: u64,
    pub candidate_pairs: u64,
    pub verified_pairs: u64,
    pub elapsed: Duration,
}

impl DedupSummary {
    pub fn render(&self) -> String {
        let mut s = format!(
            "dedup: {} documents kept of {} in {:.2}s; {} duplicate clusters; {} candidate pairs, {} verified\n",
            self.counts.kept,
            self.counts.input,
            self.elapsed.as_secs_f64(),
            self.clusters,
            self.candidate_pairs,
            self.verified_pairs
        );
        for (r, n) in &self.counts.rejected {
            s.push_str(&format!("  rejected {r}: {n}\n"));
        }
        for (why, n) in &self.counts.lines_removed {
            s.push_str(&format!("  lines removed ({why}): {n}\n"));
        }
        s
    }
}

/// Fixed-size per-document record in `_work/sig-N.bin`.
struct Layout {
    perms: usize,
}

impl Layout {
    const HEAD: usize = 16 + 4 + 4 + 4 + 16;
    fn size(&self) -> usize {
        Self::HEAD + 4 * self.perms
    }
}

struct DocRecord {
    exact: u128,
    rank: Rank,
    sig: Vec<u32>,
}

fn encode(r: &DocRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.exact.to_le_bytes());
    out.extend_from_slice(&r.rank.ocr_confidence.to_le_bytes());
    out.extend_from_slice(&r.rank.n_chars.to_le_bytes());
    out.extend_from_slice(&r.rank.date.to_le_bytes());
    out.extend_from_slice(&r.rank.id);
    for v in &r.sig {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn decode(b: &[u8], perms: usize) -> DocRecord {
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    DocRecord {
        exact: u128::from_le_bytes(b[..16].try_into().expect("16 bytes")),
        rank: Rank {
            ocr_confidence: f32::from_le_bytes(b[16..20].try_into().expect("4 bytes")),
            n_chars: u32_at(20),
            date: i32::from_le_bytes(b[24..28].try_into().expect("4 bytes")),
            id: b[28..44].try_into().expect("16 bytes"),
        },
        sig: (0..perms).map(|k| u32_at(Layout::HEAD + 4 * k)).collect(),
    }
}

fn id_bytes(id: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    if id.len() == 32 {
        if let Ok(v) = u128::from_str_radix(id, 16) {
            return v.to_be_bytes();
        }
    }
    // Ids not written by kbcurate: a hash, still a total order.
    out.copy_from_slice(&xxhash_rust::xxh3::xxh3_128(id.as_bytes()).to_be_bytes());
    out
}

/// Runs the dedup stage on the dataset at `input`.
pub fn dedup(input: &Path, opts: &DedupOptions) -> Result<DedupSummary, DedupError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.unwrap_or(0))
        .build()
        .map_err(|e| DedupError::Other(format!("cannot start worker threads: {e}")))?;
    pool.install(|| run(input, opts))
}

fn run(input: &Path, opts: &DedupOptions) -> Result<DedupSummary, DedupError> {
    let start = Instant::now();
    let ds = Dataset::open(input)?;
    let out = &opts.output;
    let work = out.join("_work");
    std::fs::create_dir_all(&work).map_err(io_err(&work))?;
    if let Ok(m) = Manifest::read(out) {
        if m.stage != STAGE {
            return Err(DedupError::Other(format!(
                "{}: holds a `{}` dataset; choose another output folder",
                out.display(),
                m.stage
            )));
        }
    }
    let _ = std::fs::remove_file(out.join(dataset::MANIFEST));
    let parts = &ds.manifest.parts;
    dataset::clean_stale(out, parts.len() as u32)?;
    let earlier = opts.against.as_deref().map(Dataset::open).transpose()?;
    // Every part that takes part in clustering: the input's, then the earlier dataset's.
    let all: Vec<(&Dataset, &dataset::PartFile)> = parts
        .iter()
        .map(|p| (&ds, p))
        .chain(earlier.iter().flat_map(|e| e.manifest.parts.iter().map(move |p| (e, p))))
        .collect();
    let n_input = parts.len();
    let mut base = Vec::with_capacity(all.len());
    let mut total = 0u64;
    for (_, p) in &all {
        base.push(total);
        total += p.rows;
    }
    if total > u32::MAX as u64 {
        return Err(DedupError::Other(format!(
            "{total} documents: more than one dedup run can index (2^32); split the dataset"
        )));
    }
    let layout = Layout { perms: opts.profile.banding.perms() };
    let plan = {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(serde_json::to_string(&opts.profile).expect("profile serializes").as_bytes());
        h.update(&opts.boilerplate_min_docs.to_le_bytes());
        h.update(format!("{:?}", opts.keep_order).as_bytes());
        for (_, p) in &all {
            h.update(p.xxh3.as_bytes());
        }
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        format!("{:032x}", h.digest128())
    };

    // 0. boilerplate lines
    let boiler: HashSet<u64> = if opts.boilerplate_min_docs > 0 {
        let line_runs: Vec<PathBuf> = (0..parts.len()).map(|i| work.join(format!("lines-{i}.run"))).collect();
        parts
            .par_iter()
            .zip(&line_runs)
            .try_for_each(|(part, run)| super::boilerplate::count_part(&ds, part, opts.profile.normalization, run))?;
        let set = super::boilerplate::frequent(&line_runs, opts.boilerplate_min_docs).map_err(io_err(&work))?;
        tracing::info!("{} boilerplate lines ({:.2}s)", set.len(), start.elapsed().as_secs_f64());
        set
    } else {
        HashSet::new()
    };

    // 1. signatures
    all.par_iter().enumerate().try_for_each(|(i, (d, part))| {
        signatures(d, part, i, base[i], &work, &opts.profile, &layout, &plan, &boiler)
    })?;
    tracing::info!("signatures of {total} documents ({:.2}s)", start.elapsed().as_secs_f64());

    // 2. buckets, verified into clusters
    let sig_files: Vec<File> = (0..all.len())
        .map(|i| {
            let p = work.join(format!("sig-{i}.bin"));
            File::open(&p).map_err(io_err(&p))
        })
        .collect::<Result<_, _>>()?;
    let part_of = |doc: u64| base.partition_point(|&b| b <= doc) - 1;
    let read_record = |doc: u64, buf: &mut Vec<u8>| -> io::Result<DocRecord> {
        let i = part_of(doc);
        buf.resize(layout.size(), 0);
        sig_files[i].read_exact_at(buf, (doc - base[i]) * layout.size() as u64)?;
        Ok(decode(buf, layout.perms))
    };
    let mut uf = UnionFind::new(total as usize);
    let (mut candidates, mut verified) = (0u64, 0u64);
    let run_paths: Vec<PathBuf> = (0..all.len()).map(|i| work.join(format!("keys-{i}.run"))).collect();
    let mut buf = Vec::new();
    runs::merge_groups(&run_paths, |key, docs| {
        let first = read_record(docs[0], &mut buf)?;
        let exact = (key >> 64) as u64 == EXACT_BAND;
        for &d in &docs[1..] {
            candidates += 1;
            if uf.find(d as u32) == uf.find(docs[0] as u32) {
                continue;
            }
            let other = read_record(d, &mut buf)?;
            let ok = if exact {
                other.exact == first.exact
            } else {
                estimated_jaccard(&first.sig, &other.sig) >= opts.profile.threshold
            };
            if ok {
                verified += 1;
                uf.union(docs[0] as u32, d as u32);
            }
        }
        Ok(())
    })
    .map_err(io_err(&work))?;
    tracing::info!("{candidates} candidate pairs, {verified} joined ({:.2}s)", start.elapsed().as_secs_f64());

    // 3. decide: cluster sizes, then the best copy of each cluster.
    let mut size: Vec<u32> = vec![0; total as usize];
    let mut roots: Vec<u32> = Vec::with_capacity(total as usize);
    for d in 0..total as u32 {
        let r = uf.find(d);
        roots.push(r);
        size[r as usize] += 1;
    }
    drop(uf);
    // The kept copy of each cluster; a document of the earlier dataset always wins (it has
    // been released already), then the total order of `better`.
    let mut best: HashMap<u32, (u64, Rank, u128, bool)> = HashMap::new();
    for (i, f) in sig_files.iter().enumerate() {
        let mut r = BufReader::with_capacity(1 << 20, f.try_clone().map_err(io_err(&work))?);
        let mut rec = vec![0u8; layout.size()];
        let is_earlier = i >= n_input;
        for row in 0..all[i].1.rows {
            r.read_exact(&mut rec).map_err(io_err(&work))?;
            let doc = base[i] + row;
            let root = roots[doc as usize];
            if size[root as usize] < 2 {
                continue;
            }
            let d = decode(&rec, 0);
            let e = best.entry(root).or_insert((doc, d.rank, d.exact, is_earlier));
            let wins = match (is_earlier, e.3) {
                (true, false) => true,
                (false, true) => false,
                _ => better_by(&opts.keep_order, &d.rank, &e.1) == std::cmp::Ordering::Less,
            };
            if wins {
                *e = (doc, d.rank, d.exact, is_earlier);
            }
        }
    }
    let clusters = best.len() as u64;

    // 4. filter, per part
    let rank_of = |doc: u64| -> Result<DocRecord, DedupError> {
        let mut b = Vec::new();
        read_record(doc, &mut b).map_err(io_err(&work))
    };
    let records: Vec<Result<PartRecord, DedupError>> = parts
        .par_iter()
        .enumerate()
        .map(|(i, part)| {
            if let Some(rec) = dataset::completed_part(out, i as u32, &plan) {
                return Ok(rec);
            }
            let decide = |row: u64| -> Result<Decision, DedupError> {
                let doc = base[i] + row;
                let root = roots[doc as usize];
                let n = size[root as usize];
                if n < 2 {
                    return Ok(Decision { keep: true, cluster: None, size: 1, exact: false, earlier: false });
                }
                let (kept, rank, kept_exact, earlier) = best[&root];
                let exact = doc != kept && rank_of(doc)?.exact == kept_exact;
                Ok(Decision { keep: doc == kept, cluster: Some(hex(&rank.id)), size: n, exact, earlier })
            };
            let rec = filter_part(
                &ds,
                part,
                i as u32,
                &plan,
                out,
                opts.zstd_level,
                &boiler,
                opts.profile.normalization,
                decide,
            )?;
            dataset::write_part_record(out, &rec)?;
            Ok(rec)
        })
        .collect();
    let mut counts = Counts::default();
    let (mut manifest_parts, mut rejected_parts, mut text_bytes) = (Vec::new(), Vec::new(), 0);
    for r in records {
        let r = r?;
        counts.add(&r.counts);
        text_bytes += r.text_bytes;
        manifest_parts.push(r.documents);
        rejected_parts.push(r.rejected);
    }
    let manifest = Manifest {
        stage: STAGE.into(),
        kbcurate_version: env!("CARGO_PKG_VERSION").into(),
        config: serde_json::json!({
            "profile": opts.profile,
            "boilerplate_min_docs": opts.boilerplate_min_docs,
            "keep_order": opts.keep_order,
        }),
        inputs: serde_json::json!({
            "dataset": input.display().to_string(),
            "stage": ds.manifest.stage,
            "parts": ds.manifest.parts,
            "against": opts.against.as_ref().map(|p| p.display().to_string()),
            "against_parts": earlier.as_ref().map(|e| &e.manifest.parts),
        }),
        counts: counts.clone(),
        parts: manifest_parts,
        rejected_parts,
        text_bytes,
        stats: None,
    };
    manifest.write(out)?;
    let _ = std::fs::remove_dir_all(&work);
    Ok(DedupSummary {
        counts,
        clusters,
        candidate_pairs: candidates,
        verified_pairs: verified,
        elapsed: start.elapsed(),
    })
}

struct Decision {
    keep: bool,
    /// The kept copy's id, for documents in a cluster of two or more.
    cluster: Option<String>,
    size: u32,
    exact: bool,
    /// The kept copy is in the earlier dataset (`--against`).
    earlier: bool,
}

impl Decision {
    /// Why a document that is not kept is removed.
    fn reason(&self) -> Reason {
        if self.exact {
            Reason::ExactDuplicate
        } else {
            Reason::NearDuplicate
        }
    }
}

fn hex(id: &[u8; 16]) -> String {
    format!("{:032x}", u128::from_be_bytes(*id))
}

#[allow(clippy::too_many_arguments)]
fn signatures(
    ds: &Dataset,
    part: &dataset::PartFile,
    i: usize,
    base: u64,
    work: &Path,
    profile: &Profile,
    layout: &Layout,
    plan: &str,
    boiler: &HashSet<u64>,
) -> Result<(), DedupError> {
    let sig_path = work.join(format!("sig-{i}.bin"));
    let run_path = work.join(format!("keys-{i}.run"));
    let marker = work.join(format!("sig-{i}.done"));
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == plan) && sig_path.exists() && run_path.exists() {
        return Ok(());
    }
    let mut hasher = profile.hasher();
    let tmp = sig_path.with_extension("tmp");
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(io_err(&tmp))?);
    let mut entries: Vec<Entry> = Vec::with_capacity(part.rows as usize * (profile.banding.bands + 1));
    let (mut sig, mut keys, mut rec) = (Vec::new(), Vec::new(), Vec::with_capacity(layout.size()));
    let mut scratch = String::new();
    let mut row = 0u64;
    for batch in ds.batches(part)? {
        let batch = batch?;
        let text = batch
            .column_by_name("text")
            .ok_or_else(|| DedupError::Other("no `text` column".into()))?
            .as_string::<i64>()
            .clone();
        let ids = batch
            .column_by_name("id")
            .ok_or_else(|| DedupError::Other("no `id` column".into()))?
            .as_string::<i32>()
            .clone();
        let conf = batch.column_by_name("ocr_confidence").map(|c| c.as_primitive::<Float32Type>().clone());
        let chars = batch.column_by_name("n_chars").map(|c| c.as_primitive::<UInt32Type>().clone());
        let dates = batch.column_by_name("date").map(|c| c.as_primitive::<Date32Type>().clone());
        let sources = batch.column_by_name("source").map(|c| c.as_string::<i32>().clone());
        for r in 0..batch.num_rows() {
            // Compare documents without their boilerplate: shared mastheads are not shared text.
            let src = sources.as_ref().filter(|s| s.is_valid(r)).map_or("", |s| s.value(r));
            let stripped = strip(text.value(r), src, boiler, profile.normalization, &mut scratch);
            let t = stripped.as_ref().map_or(text.value(r), |(s, _)| s.as_str());
            hasher.signature(t, &mut sig);
            let exact = xxhash_rust::xxh3::xxh3_128(hasher.normalized().as_bytes());
            let rank = Rank {
                ocr_confidence: conf.as_ref().filter(|c| c.is_valid(r)).map_or(f32::NAN, |c| c.value(r)),
                n_chars: chars.as_ref().map_or(t.chars().count() as u32, |c| c.value(r)),
                date: dates.as_ref().filter(|c| c.is_valid(r)).map_or(i32::MAX, |c| c.value(r)),
                id: id_bytes(ids.value(r)),
            };
            rec.clear();
            encode(&DocRecord { exact, rank, sig: sig.clone() }, &mut rec);
            w.write_all(&rec).map_err(io_err(&tmp))?;
            let doc = base + row;
            profile.banding.keys(&sig, &mut keys);
            for (b, k) in keys.iter().enumerate() {
                entries.push(Entry { key: (b as u128) << 64 | *k as u128, doc });
            }
            entries.push(Entry { key: (EXACT_BAND as u128) << 64 | (exact as u64) as u128, doc });
            row += 1;
        }
    }
    w.into_inner()
        .map_err(|e| DedupError::Io { path: tmp.clone(), source: e.into_error() })?
        .sync_all()
        .map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, &sig_path).map_err(io_err(&sig_path))?;
    runs::write_run(&run_path, &mut entries).map_err(io_err(&run_path))?;
    std::fs::write(&marker, plan).map_err(io_err(&marker))?;
    Ok(())
}

/// The output schema: the input's columns plus `dup_cluster` and `dup_cluster_size`.
fn output_schema(input: &Schema) -> SchemaRef {
    let mut fields: Vec<Field> = input
        .fields()
        .iter()
        .filter(|f| f.name() != "dup_cluster" && f.name() != "dup_cluster_size")
        .map(|f| f.as_ref().clone())
        .collect();
    fields.push(Field::new("dup_cluster", DataType::Utf8, false));
    fields.push(Field::new("dup_cluster_size", DataType::UInt32, false));
    Arc::new(Schema::new(fields))
}

#[allow(clippy::too_many_arguments)]
fn filter_part(
    ds: &Dataset,
    part: &dataset::PartFile,
    i: u32,
    plan: &str,
    out: &Path,
    zstd_level: i32,
    boiler: &HashSet<u64>,
    norm: super::normalize::Normalization,
    decide: impl Fn(u64) -> Result<Decision, DedupError>,
) -> Result<PartRecord, DedupError> {
    let mut scratch = String::new();
    let props = dataset::writer_properties(zstd_level);
    let mut writer: Option<ParquetPartWriter> = None;
    let mut rejected = RejectionSink::create(out, &dataset::rejected_part_name(i), props.clone(), 4096, 32 << 20)?;
    let mut counts = Counts::default();
    let (mut row, mut text_bytes, mut rows_out) = (0u64, 0u64, 0u64);
    let mut schema: Option<SchemaRef> = None;
    for batch in ds.batches(part)? {
        let batch = batch?;
        let sch = schema.get_or_insert_with(|| output_schema(&batch.schema())).clone();
        let w = match writer.as_mut() {
            Some(w) => w,
            None => writer.insert(ParquetPartWriter::create(out, &dataset::part_name(i), sch.clone(), props.clone())?),
        };
        let text = batch
            .column_by_name("text")
            .ok_or_else(|| DedupError::Other("no `text` column".into()))?
            .as_string::<i64>()
            .clone();
        let s = |name: &str| batch.column_by_name(name).map(|c| c.as_string::<i32>().clone());
        let (ids, colls, paths, locs, formats) = (s("id"), s("collection"), s("path"), s("locator"), s("format"));
        let get = |c: &Option<arrow_array::StringArray>, r: usize| {
            c.as_ref().filter(|c| c.is_valid(r)).map(|c| c.value(r).to_string())
        };
        let sources = s("source");
        let mut keep = Vec::with_capacity(batch.num_rows());
        let mut cluster = StringBuilder::new();
        let mut size = UInt32Builder::new();
        // Text without boilerplate lines (and its counts), for the kept documents.
        let mut new_text = LargeStringBuilder::new();
        let mut new_chars = UInt32Builder::new();
        let mut new_words = UInt32Builder::new();
        for r in 0..batch.num_rows() {
            let d = decide(row)?;
            row += 1;
            counts.input += 1;
            let id = get(&ids, r).unwrap_or_default();
            let src = get(&sources, r).unwrap_or_default();
            let stripped = if d.keep { strip(text.value(r), &src, boiler, norm, &mut scratch) } else { None };
            // Nothing but boilerplate: not a document any more.
            let emptied = stripped.as_ref().is_some_and(|(t, _)| t.is_empty());
            if d.keep && !emptied {
                let t = stripped.as_ref().map_or(text.value(r), |(t, _)| t.as_str());
                if let Some((_, n)) = &stripped {
                    *counts.lines_removed.entry("boilerplate".into()).or_default() += n;
                }
                counts.kept += 1;
                text_bytes += t.len() as u64;
                new_text.append_value(t);
                new_chars.append_value(t.chars().count() as u32);
                new_words.append_value(crate::document::count_words(t));
                cluster.append_value(d.cluster.as_deref().unwrap_or(&id));
                size.append_value(d.size);
                keep.push(true);
                continue;
            }
            let kept = d.cluster.clone().unwrap_or_default();
            let (reason, detail) = if emptied {
                (Reason::EmptyText, "every line is boilerplate of its source".to_string())
            } else if d.earlier {
                (d.reason(), format!("kept {kept} (cluster of {}; in the earlier dataset)", d.size))
            } else {
                (d.reason(), format!("kept {kept} (cluster of {})", d.size))
            };
            *counts.rejected.entry(reason.as_str().to_string()).or_default() += 1;
            rejected.push(&Rejection {
                id,
                collection: get(&colls, r).unwrap_or_default(),
                path: get(&paths, r).unwrap_or_default(),
                locator: get(&locs, r).unwrap_or_default(),
                format: get(&formats, r),
                stage: STAGE.into(),
                reason: reason.as_str().into(),
                detail,
                text: Some(text.value(r).to_string()),
            })?;
            // Placeholders: the row is filtered out below.
            new_text.append_value("");
            new_chars.append_value(0);
            new_words.append_value(0);
            cluster.append_value(&kept);
            size.append_value(d.size);
            keep.push(false);
        }
        let (new_text, new_chars, new_words): (ArrayRef, ArrayRef, ArrayRef) =
            (Arc::new(new_text.finish()), Arc::new(new_chars.finish()), Arc::new(new_words.finish()));
        let mut columns: Vec<ArrayRef> = batch
            .schema()
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| f.name() != "dup_cluster" && f.name() != "dup_cluster_size")
            .map(|(k, f)| match f.name().as_str() {
                "text" if f.data_type() == &DataType::LargeUtf8 => new_text.clone(),
                "n_chars" if f.data_type() == &DataType::UInt32 => new_chars.clone(),
                "n_words" if f.data_type() == &DataType::UInt32 => new_words.clone(),
                _ => batch.column(k).clone(),
            })
            .collect();
        columns.push(Arc::new(cluster.finish()));
        columns.push(Arc::new(size.finish()));
        let full = RecordBatch::try_new(sch, columns).map_err(|e| DedupError::Other(e.to_string()))?;
        let kept = arrow_select::filter::filter_record_batch(&full, &BooleanArray::from(keep))
            .map_err(|e| DedupError::Other(e.to_string()))?;
        rows_out += kept.num_rows() as u64;
        w.write_row_group(&kept)?;
    }
    let documents = match writer {
        Some(w) => w.finish()?,
        None => {
            ParquetPartWriter::create(out, &dataset::part_name(i), output_schema(&crate::document::schema()), props)?
                .finish()?
        }
    };
    debug_assert_eq!(rows_out, counts.kept);
    let rejected = rejected.finish()?;
    Ok(PartRecord { part: i, plan: plan.to_string(), counts, documents, rejected, input_bytes: part.bytes, text_bytes })
}
