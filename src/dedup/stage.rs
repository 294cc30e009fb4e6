//! `kbcurate dedup`: reads a dataset, writes a dataset without exact and near duplicates.
//!
//! The stage runs in six steps ([`Step`]) whose memory is bounded by one part, never by the
//! corpus; the per-part ones run through the stage runner ([`crate::stage`]), each part marked
//! complete in `_work/` (records: `work`) or `_parts/`:
//! 1. **lines** (per input part): how many documents of each source every line occurs in, as
//!    a sorted run.
//! 2. **boilerplate** (once): the lines frequent enough to be boilerplate.
//! 3. **signatures** (per input part, and per part of an earlier release's dataset or saved
//!    index, `index`): each document's exact-text hash (xxh3-128 of the normalized text,
//!    boilerplate removed), MinHash signature and ranking fields go to a fixed-size record
//!    file, its normalized text to a text store (`texts`); its band keys and exact hash go to
//!    a sorted run file.
//! 4. **cluster** (once, streaming): the parts' runs are merged; documents sharing a band key
//!    whose estimated Jaccard reaches the profile's threshold, or sharing the exact hash, are
//!    candidate pairs. Documents are then visited best copy first (`keep_order`, then the
//!    smallest id): each is aligned with the kept copies near it in the candidate graph and
//!    joins the first it is verified against ([`super::align`], [`super::cluster::assign`]),
//!    or is kept itself. Decisions are written per part.
//! 5. **filter** (per part, `output`): kept documents get `dup_cluster` (the kept copy's id)
//!    and `dup_cluster_size`; the others go to `rejected/` as `exact-duplicate` or
//!    `near-duplicate`, naming the copy that was kept and their measured similarity.
//! 6. **finalize** (once): the manifest, and the saved index's description.
//!
//! Outputs do not depend on the thread count: the candidate pairs are a set, documents are
//! visited in a total order, and every part is written in input order.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rayon::prelude::*;

use super::align::Prepared;
use super::batch::BatchSigner;
use super::cluster::{assign, better_by, Graph, KeepKey, Rank, Role, WordCounts};
use super::containment::{self, ContainedPolicy};
use super::error::io_err;
pub use super::index::INDEX_DIR;
use super::index::{Earlier, IndexFile, IndexPart, IndexWriter, INDEX_FILE, INDEX_FORMAT};
use super::output::filter_part;
use super::runs::{self};
use super::texts::TextStore;
use super::work::*;
use crate::dataset::{self, Counts, Dataset, Manifest, PartRecord};
use crate::stage::{self, DatasetStage, FileMark, Marker, MarkerPath, OutputLock, PartStage};

pub use super::args::{DedupOptions, Signer};
pub use super::error::DedupError;
pub use super::STAGE;

#[derive(Debug, Clone)]
pub struct DedupSummary {
    pub counts: Counts,
    pub clusters: u64,
    /// Pairs met in a shared band (before the estimate).
    pub candidate_pairs: u64,
    /// Copies removed, each verified against its kept copy.
    pub verified_pairs: u64,
    /// Pairs whose texts were aligned (exact copies need none).
    pub aligned_pairs: u64,
    pub elapsed: Duration,
}

impl DedupSummary {
    pub fn render(&self) -> String {
        let mut s = format!(
            "dedup: {} documents kept of {} in {:.2}s; {} duplicate clusters; {} candidate pairs, {} aligned, {} verified\n",
            self.counts.kept,
            self.counts.input,
            self.elapsed.as_secs_f64(),
            self.clusters,
            self.candidate_pairs,
            self.aligned_pairs,
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

/// One step of the stage. Steps run in this order; the per-part ones (`lines`, `signatures`,
/// `filter`) can be split into shards that run as separate processes (e.g. the tasks of a
/// Slurm job array), the others are single jobs. `kbcurate dedup` without `--step` runs all
/// of them in one process. State between steps lives in the output's `_work/` folder, each
/// file marked with the plan (a hash of options and inputs) so that a step never builds on
/// the leftovers of a different run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Per part: count the documents each (source, line) occurs in.
    Lines,
    /// Once: the lines frequent enough to be boilerplate.
    Boilerplate,
    /// Per part: signatures, exact hashes and band keys (as sorted runs).
    Signatures,
    /// Once: merge the runs into buckets, verify candidates, cluster, choose the kept copies.
    Cluster,
    /// Per part: write the kept documents and the rejections.
    Filter,
    /// Once: the manifest (and the saved index's description).
    Finalize,
}

impl Step {
    pub const ALL: [Step; 6] =
        [Step::Lines, Step::Boilerplate, Step::Signatures, Step::Cluster, Step::Filter, Step::Finalize];

    pub const fn name(self) -> &'static str {
        match self {
            Step::Lines => "lines",
            Step::Boilerplate => "boilerplate",
            Step::Signatures => "signatures",
            Step::Cluster => "cluster",
            Step::Filter => "filter",
            Step::Finalize => "finalize",
        }
    }

    /// Whether the step handles parts independently, and so can be sharded.
    pub const fn per_part(self) -> bool {
        matches!(self, Step::Lines | Step::Signatures | Step::Filter)
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Step::ALL.into_iter().find(|st| st.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Step::ALL.iter().map(|s| s.name()).collect();
            format!("unknown step `{s}`; expected one of {}", names.join(", "))
        })
    }
}

pub use crate::dataset::Shard;

/// What one step did.
#[derive(Debug, Clone)]
pub struct StepReport {
    pub step: Step,
    pub shard: Shard,
    /// Parts this process worked on (not counting parts already done by an earlier run).
    pub parts: usize,
    pub elapsed: Duration,
    /// The stage's summary, from the `finalize` step.
    pub summary: Option<DedupSummary>,
}

impl StepReport {
    pub fn render(&self) -> String {
        match &self.summary {
            Some(s) => s.render(),
            None => format!(
                "dedup step {} (shard {}): {} parts in {:.2}s\n",
                self.step,
                self.shard,
                self.parts,
                self.elapsed.as_secs_f64()
            ),
        }
    }
}

/// Runs the dedup stage on the dataset at `input`: every step, in one process.
pub fn dedup(input: &Path, opts: &DedupOptions) -> Result<DedupSummary, DedupError> {
    let start = Instant::now();
    pool(opts)?.install(|| {
        let ctx = Ctx::new(input, opts, Shard::WHOLE)?;
        let mut summary = None;
        for step in Step::ALL {
            summary = ctx.step(step, Shard::WHOLE)?.summary;
        }
        let mut s = summary.expect("finalize gives the summary");
        s.elapsed = start.elapsed();
        Ok(s)
    })
}

/// Runs one step (for one shard of the parts, where the step is per part).
pub fn dedup_step(input: &Path, opts: &DedupOptions, step: Step, shard: Shard) -> Result<StepReport, DedupError> {
    if !step.per_part() && shard != Shard::WHOLE {
        return Err(DedupError::Other(format!(
            "step `{step}` is a single job; shards apply to the lines, signatures and filter steps"
        )));
    }
    let report = pool(opts)?.install(|| Ctx::new(input, opts, shard)?.step(step, shard))?;
    // The next step may run on another node: what this one wrote goes to disk before it ends.
    dataset::sync_written(&opts.output, opts.sync)?;
    Ok(report)
}

fn pool(opts: &DedupOptions) -> Result<rayon::ThreadPool, DedupError> {
    stage::thread_pool(opts.threads).map_err(DedupError::Other)
}

/// Where the documents of one part of the clustering come from.
#[derive(Debug, Clone, Copy)]
enum Source {
    /// A part of the input (`set: None`) or of an earlier dataset.
    Part { set: Option<usize>, part: usize },
    /// A part of an earlier release's saved index.
    Index { set: usize, part: usize },
}

/// What every step knows: the input, the earlier releases, the parts in clustering order
/// (the input's first) and the plan.
struct Ctx<'a> {
    input: &'a Path,
    opts: &'a DedupOptions,
    ds: Dataset,
    earlier: Vec<Earlier>,
    sources: Vec<Source>,
    base: Vec<u64>,
    total: u64,
    n_input: usize,
    layout: Layout,
    plan: String,
    work: PathBuf,
    /// This process's hold on the output folder, for as long as the steps run.
    _lock: OutputLock,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct ClusterStats {
    clusters: u64,
    candidate_pairs: u64,
    verified_pairs: u64,
    aligned_pairs: u64,
    removed_similarity: Vec<u64>,
    /// Documents found contained in longer kept ones (flagged or removed, as the policy says).
    contained: u64,
    /// Short documents aligned with a passage of a longer one.
    contained_pairs: u64,
}

/// The removed copies' similarity to their kept copy, in bins of 0.05 from 0.5 up (the last
/// bin holds 1.0, an exact copy).
pub const SIMILARITY_BINS: usize = 11;

fn similarity_bin(s: f32) -> usize {
    (((s as f64 - 0.5) / 0.05).floor().max(0.0) as usize).min(SIMILARITY_BINS - 1)
}

/// Step markers ([`crate::stage::Marker`]) live in `_work/` and name the files they vouch for
/// relative to it (a saved index's signatures, read where they are, by their full path).
fn work_marker(work: &Path, name: String) -> MarkerPath {
    MarkerPath::new(work, name)
}

/// Measures the files a step wrote, for its marker.
fn marks(work: &Path, files: &[PathBuf]) -> Result<Vec<FileMark>, DedupError> {
    files
        .iter()
        .map(|f| {
            let rel = f.strip_prefix(work).unwrap_or(f);
            Ok(FileMark::of(work, &rel.to_string_lossy())?)
        })
        .collect()
}

/// The lines step's parts: each input part's line hashes, as a sorted run.
struct LinesStep<'c, 'a>(&'c Ctx<'a>);

impl PartStage for LinesStep<'_, '_> {
    type Report = ();
    type Error = DedupError;

    fn parts(&self) -> usize {
        self.0.n_input
    }

    fn marker(&self, part: u32) -> MarkerPath {
        work_marker(&self.0.work, format!("lines-{part}.done"))
    }

    fn plan(&self, _part: u32) -> String {
        self.0.plan.clone()
    }

    fn run_part(&self, part: u32, _plan: &str) -> Result<((), Vec<FileMark>), DedupError> {
        let ctx = self.0;
        let i = part as usize;
        let run = ctx.work.join(format!("lines-{i}.run"));
        let (d, p) = ctx.part(i).expect("input parts are dataset parts");
        super::boilerplate::count_part(d, p, ctx.opts.profile.line_normalization(), &run)?;
        Ok(((), marks(&ctx.work, &[run])?))
    }
}

/// The signatures step's parts: every source's signature records and band-key run.
struct SignStep<'c, 'a> {
    ctx: &'c Ctx<'a>,
    boiler: HashSet<u64>,
    signer: Option<Arc<dyn BatchSigner>>,
}

impl PartStage for SignStep<'_, '_> {
    type Report = ();
    type Error = DedupError;

    fn parts(&self) -> usize {
        self.ctx.sources.len()
    }

    fn marker(&self, part: u32) -> MarkerPath {
        work_marker(&self.ctx.work, format!("sig-{part}.done"))
    }

    fn plan(&self, _part: u32) -> String {
        self.ctx.plan.clone()
    }

    fn run_part(&self, part: u32, _plan: &str) -> Result<((), Vec<FileMark>), DedupError> {
        let ctx = self.ctx;
        let i = part as usize;
        match ctx.part(i) {
            Some((d, p)) => {
                let (work, profile, layout) = (&ctx.work, &ctx.opts.profile, &ctx.layout);
                signatures(d, p, i, ctx.base[i], work, profile, layout, &self.boiler, self.signer.as_deref())?
            }
            None => ctx.index_keys(i)?,
        }
        Ok(((), marks(&ctx.work, &ctx.signature_files(i))?))
    }
}

/// The filter step's parts: part `i` of the output is input part `i` without its duplicates.
struct FilterStep<'c, 'a> {
    ctx: &'c Ctx<'a>,
    boiler: HashSet<u64>,
}

impl DatasetStage for FilterStep<'_, '_> {
    type Stats = ();
    type Error = DedupError;

    fn parts(&self) -> usize {
        self.ctx.n_input
    }

    fn plan(&self, _part: u32) -> String {
        self.ctx.plan.clone()
    }

    fn write_part(&self, part: u32, _plan: &str) -> Result<(PartRecord, ()), DedupError> {
        let ctx = self.ctx;
        let i = part as usize;
        let path = ctx.work.join(format!("decisions-{i}.bin"));
        let mut r = BufReader::with_capacity(1 << 16, File::open(&path).map_err(io_err(&path))?);
        let mut b = [0u8; DECISION];
        let decide = |_row: u64| -> Result<Decision, DedupError> {
            r.read_exact(&mut b).map_err(io_err(&path))?;
            let size = u32::from_le_bytes(b[1..5].try_into().expect("4 bytes"));
            Ok(Decision {
                keep: b[0] & KEEP != 0,
                cluster: (size > 1).then(|| hex(b[5..21].try_into().expect("16 bytes"))),
                size,
                exact: b[0] & EXACT != 0,
                earlier: b[0] & EARLIER != 0,
                similarity: f32::from_le_bytes(b[21..25].try_into().expect("4 bytes")),
                contained: (b[0] & CONTAINED != 0).then(|| {
                    (
                        hex(b[25..41].try_into().expect("16 bytes")),
                        f32::from_le_bytes(b[41..45].try_into().expect("4 bytes")),
                    )
                }),
            })
        };
        let mut index = if ctx.opts.save_index {
            Some(IndexWriter::create(
                &ctx.sig_path(i),
                &ctx.text_paths(i),
                ctx.rows(i),
                ctx.index_part_path(i),
                ctx.layout.size(),
            )?)
        } else {
            None
        };
        let (d, p) = ctx.part(i).expect("input parts are dataset parts");
        let o = ctx.opts;
        let norm = o.profile.line_normalization();
        let rec = filter_part(d, p, part, &o.output, o.compression, &self.boiler, norm, decide, index.as_mut())?;
        if let Some(ix) = index {
            ix.finish()?;
        }
        Ok((rec, ()))
    }

    /// The saved index's part, when one is asked for: without it the part is not complete.
    fn extra_files(&self, part: u32) -> Vec<String> {
        if self.ctx.opts.save_index {
            vec![
                format!("{INDEX_DIR}/sig-{part}.bin"),
                format!("{INDEX_DIR}/text-{part}.bin"),
                format!("{INDEX_DIR}/text-{part}.off"),
            ]
        } else {
            Vec::new()
        }
    }
}

/// One band's candidate pairs (how many) and the pairs of them that verified, in merge order.
type BandPairs = (u64, Vec<(u32, u32)>);

impl<'a> Ctx<'a> {
    fn new(input: &'a Path, opts: &'a DedupOptions, shard: Shard) -> Result<Ctx<'a>, DedupError> {
        let ds = Dataset::open(input)?;
        let out = &opts.output;
        let work = out.join("_work");
        let lock = OutputLock::acquire(&out.join(dataset::PARTS_DIR), out, shard)?;
        dataset::prepare_output(out, STAGE)?;
        std::fs::create_dir_all(&work).map_err(io_err(&work))?;
        let layout = Layout { perms: opts.profile.banding.perms() };
        let earlier: Vec<Earlier> =
            opts.against.iter().map(|p| Earlier::open(p, &opts.profile, &layout)).collect::<Result<_, _>>()?;
        let mut sources: Vec<Source> =
            (0..ds.manifest.parts.len()).map(|part| Source::Part { set: None, part }).collect();
        let n_input = sources.len();
        for (set, e) in earlier.iter().enumerate() {
            match e {
                Earlier::Dataset(d) => {
                    sources.extend((0..d.manifest.parts.len()).map(|part| Source::Part { set: Some(set), part }))
                }
                Earlier::Index(ix) => sources.extend((0..ix.file.parts.len()).map(|part| Source::Index { set, part })),
            }
        }
        let mut ctx = Ctx {
            input,
            opts,
            ds,
            earlier,
            sources,
            base: Vec::new(),
            total: 0,
            n_input,
            layout,
            plan: String::new(),
            work,
            _lock: lock,
        };
        let mut total = 0u64;
        for i in 0..ctx.sources.len() {
            ctx.base.push(total);
            total += ctx.rows(i);
        }
        if total > u32::MAX as u64 {
            return Err(DedupError::Other(format!(
                "{total} documents: more than one dedup run can index (2^32); split the dataset"
            )));
        }
        ctx.total = total;
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(serde_json::to_string(&opts.profile).expect("profile serializes").as_bytes());
        h.update(&opts.boilerplate_min_docs.to_le_bytes());
        // The decision records' layout (their size changed with containment) is part of it.
        h.update(
            format!("{:?} {} contained={} decisions={DECISION}", opts.keep_order, opts.save_index, opts.contained)
                .as_bytes(),
        );
        h.update(opts.compression.to_string().as_bytes());
        for p in &ctx.ds.manifest.parts {
            h.update(p.xxh3.as_bytes());
        }
        for e in &ctx.earlier {
            match e {
                Earlier::Dataset(d) => d.manifest.parts.iter().for_each(|p| h.update(p.xxh3.as_bytes())),
                Earlier::Index(ix) => h.update(&ix.hash.to_le_bytes()),
            }
        }
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        ctx.plan = format!("{:032x}", h.digest128());
        Ok(ctx)
    }

    fn rows(&self, i: usize) -> u64 {
        match self.sources[i] {
            Source::Part { .. } => self.part(i).expect("a dataset part").1.rows,
            Source::Index { set, part } => match &self.earlier[set] {
                Earlier::Index(ix) => ix.file.parts[part].rows,
                Earlier::Dataset(_) => unreachable!("index sources point at indexes"),
            },
        }
    }

    /// The dataset and part file of source `i`, unless it comes from a saved index.
    fn part(&self, i: usize) -> Option<(&Dataset, &dataset::PartFile)> {
        match self.sources[i] {
            Source::Part { set: None, part } => Some((&self.ds, &self.ds.manifest.parts[part])),
            Source::Part { set: Some(s), part } => match &self.earlier[s] {
                Earlier::Dataset(d) => Some((d, &d.manifest.parts[part])),
                Earlier::Index(_) => unreachable!("part sources point at datasets"),
            },
            Source::Index { .. } => None,
        }
    }

    fn lines_done(&self, i: usize) -> bool {
        Marker::<()>::valid(&LinesStep(self).marker(i as u32), &self.plan).is_some()
    }

    fn boilerplate_marker(&self) -> MarkerPath {
        work_marker(&self.work, "boilerplate.done".into())
    }

    fn boilerplate_done(&self) -> bool {
        Marker::<()>::valid(&self.boilerplate_marker(), &self.plan).is_some()
    }

    /// What the signatures step writes for source `i` (a saved index's signatures and texts
    /// are read where they are, and vouched for by size all the same).
    fn signature_files(&self, i: usize) -> Vec<PathBuf> {
        let mut files = vec![self.sig_path(i), self.work.join(format!("keys-{i}.run"))];
        files.extend(self.text_paths(i));
        files
    }

    /// The text store of source `i` ([`super::texts`]).
    fn text_paths(&self, i: usize) -> [PathBuf; 2] {
        match self.sources[i] {
            Source::Index { set, part } => match &self.earlier[set] {
                Earlier::Index(ix) => super::texts::paths(&ix.dir, &super::index::text_stem(&ix.file.parts[part].file)),
                Earlier::Dataset(_) => unreachable!("index sources point at indexes"),
            },
            Source::Part { .. } => super::texts::paths(&self.work, &format!("text-{i}")),
        }
    }

    fn signatures_done(&self, i: usize) -> bool {
        Marker::<()>::valid(&work_marker(&self.work, format!("sig-{i}.done")), &self.plan).is_some()
    }

    fn sig_path(&self, i: usize) -> PathBuf {
        match self.sources[i] {
            Source::Index { set, part } => match &self.earlier[set] {
                Earlier::Index(ix) => ix.dir.join(&ix.file.parts[part].file),
                Earlier::Dataset(_) => unreachable!("index sources point at indexes"),
            },
            Source::Part { .. } => self.work.join(format!("sig-{i}.bin")),
        }
    }

    fn needs(&self, what: &str, ok: bool, step: Step) -> Result<(), DedupError> {
        if ok {
            return Ok(());
        }
        Err(DedupError::Other(format!(
            "{}: {what}: missing, or made by a run with other options or inputs; run step `{step}` \
             (every shard) with the same options first",
            self.opts.output.display()
        )))
    }

    fn step(&self, step: Step, shard: Shard) -> Result<StepReport, DedupError> {
        let start = Instant::now();
        let (parts, summary) = match step {
            Step::Lines => (self.lines(shard)?, None),
            Step::Boilerplate => (self.boilerplate()?, None),
            Step::Signatures => (self.signatures(shard)?, None),
            Step::Cluster => (self.cluster()?, None),
            Step::Filter => (self.filter(shard)?, None),
            Step::Finalize => (0, Some(self.finalize()?)),
        };
        let summary = summary.map(|s| DedupSummary { elapsed: start.elapsed(), ..s });
        tracing::info!("step {step} (shard {shard}): {parts} parts ({:.2}s)", start.elapsed().as_secs_f64());
        Ok(StepReport { step, shard, parts, elapsed: start.elapsed(), summary })
    }

    fn lines(&self, shard: Shard) -> Result<usize, DedupError> {
        if self.opts.boilerplate_min_docs == 0 {
            return Ok(0);
        }
        let done = stage::run_parts(&LinesStep(self), shard)?;
        Ok(done.iter().filter(|d| !d.resumed).count())
    }

    fn boilerplate(&self) -> Result<usize, DedupError> {
        let path = self.work.join("boilerplate.bin");
        if self.boilerplate_done() {
            return Ok(0);
        }
        let mut lines: Vec<u64> = if self.opts.boilerplate_min_docs > 0 {
            let runs: Vec<PathBuf> = (0..self.n_input).map(|i| self.work.join(format!("lines-{i}.run"))).collect();
            let done = (0..self.n_input).all(|i| self.lines_done(i));
            self.needs("the line counts of every part", done, Step::Lines)?;
            let set =
                super::boilerplate::frequent(&runs, self.opts.boilerplate_min_docs).map_err(io_err(&self.work))?;
            set.into_iter().collect()
        } else {
            Vec::new()
        };
        lines.sort_unstable();
        let bytes: Vec<u8> = lines.iter().flat_map(|l| l.to_le_bytes()).collect();
        dataset::write_atomic(&path, &bytes)?;
        Marker { plan: self.plan.clone(), files: marks(&self.work, &[path])?, data: () }
            .write(&self.boilerplate_marker())?;
        tracing::info!("{} boilerplate lines", lines.len());
        Ok(0)
    }

    fn boilerplate_set(&self) -> Result<HashSet<u64>, DedupError> {
        let path = self.work.join("boilerplate.bin");
        self.needs("the boilerplate lines", self.boilerplate_done(), Step::Boilerplate)?;
        let bytes = std::fs::read(&path).map_err(io_err(&path))?;
        Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect())
    }

    fn signatures(&self, shard: Shard) -> Result<usize, DedupError> {
        let boiler = self.boilerplate_set()?;
        let todo = (0..self.sources.len()).filter(|&i| shard.owns(i)).any(|i| !self.signatures_done(i));
        // A batched signer when one is given, or a GPU is asked for (and found); the CPU path
        // otherwise.
        let signer = match (&self.opts.signer, &self.opts.device) {
            (Some(given), _) => Some(given.0.clone()),
            (None, Some(device)) if todo => device.open(&self.opts.profile.hasher())?,
            _ => None,
        };
        let done = stage::run_parts(&SignStep { ctx: self, boiler, signer }, shard)?;
        Ok(done.iter().filter(|d| !d.resumed).count())
    }

    /// The band keys of a saved index's part (its signatures are read where they are).
    fn index_keys(&self, i: usize) -> Result<(), DedupError> {
        let path = self.sig_path(i);
        let mut r = BufReader::with_capacity(1 << 20, File::open(&path).map_err(io_err(&path))?);
        let banding = &self.opts.profile.banding;
        let mut entries = key_groups(banding, self.rows(i) as usize);
        let (mut rec, mut keys) = (vec![0u8; self.layout.size()], Vec::new());
        for row in 0..self.rows(i) {
            r.read_exact(&mut rec).map_err(io_err(&path))?;
            let d = decode(&rec, self.layout.perms);
            push_keys(&mut entries, banding, &d.sig, d.exact, self.base[i] + row, &mut keys);
        }
        let run = self.work.join(format!("keys-{i}.run"));
        entries.write_run(&run).map_err(io_err(&run))
    }

    fn cluster(&self) -> Result<usize, DedupError> {
        if self.cluster_stats().is_some() {
            return Ok(0);
        }
        let done = (0..self.sources.len()).all(|i| self.signatures_done(i));
        self.needs("the signatures of every part", done, Step::Signatures)?;
        let (layout, base, work) = (&self.layout, &self.base, &self.work);
        // The candidates' records are read where they lie: mapped, not copied out with a read
        // call each (a group's first record and every candidate; the system calls were a third
        // of this serial step) nor decoded into vectors.
        let maps: Vec<memmap2::Mmap> = (0..self.sources.len())
            .map(|i| {
                let p = self.sig_path(i);
                let f = File::open(&p).map_err(io_err(&p))?;
                // SAFETY: the signature files are this stage's own (`_work/`) or a saved index's,
                // complete before this step starts (their markers say so) and not written while
                // it runs; the length is checked against the rows before any record is read.
                let map = unsafe { memmap2::Mmap::map(&f) }.map_err(io_err(&p))?;
                let want = self.rows(i) * layout.size() as u64;
                if map.len() as u64 != want {
                    return Err(DedupError::Other(format!(
                        "{}: {} bytes, expected {want} ({} records); run the signatures step again",
                        p.display(),
                        map.len(),
                        self.rows(i)
                    )));
                }
                Ok(map)
            })
            .collect::<Result<_, _>>()?;
        let texts: Vec<TextStore> = (0..self.sources.len())
            .map(|i| TextStore::open(&self.text_paths(i), self.rows(i)))
            .collect::<Result<_, _>>()?;
        let part_of = |doc: u64| base.partition_point(|&b| b <= doc) - 1;
        let record = |doc: u64| -> &[u8] {
            let i = part_of(doc);
            let at = (doc - base[i]) as usize * layout.size();
            &maps[i][at..at + layout.size()]
        };
        let text = |doc: u32| -> &str {
            let i = part_of(doc as u64);
            texts[i].get((doc as u64 - base[i]) as usize)
        };
        let run_paths: Vec<PathBuf> = (0..self.sources.len()).map(|i| work.join(format!("keys-{i}.run"))).collect();
        let runs = runs::MappedRuns::open(&run_paths).map_err(io_err(work))?;
        let profile = &self.opts.profile;
        let clock = Instant::now();
        // 1. Candidates: documents sharing a band key whose estimate reaches the threshold, or
        //    sharing the exact hash. The bands are merged in parallel, a wave at a time; the
        //    pairs are a set, so neither the waves nor the threads change it.
        let mut candidates = 0u64;
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        let mut deduped = 0usize;
        let bands: Vec<u64> = (0..profile.banding.bands as u64).chain([EXACT_BAND]).collect();
        // A short text inside a long one shares few shingles with all of it: such pairs are
        // candidates when the short one's share in the long one (estimated from the Jaccard
        // and the lengths) reaches what the threshold means for texts of equal length.
        let look_for_contained = self.opts.contained != ContainedPolicy::Off;
        let contained_threshold = 2.0 * profile.threshold / (1.0 + profile.threshold);
        for wave in bands.chunks(rayon::current_num_threads().max(1)) {
            let found: Vec<io::Result<BandPairs>> = wave
                .par_iter()
                .map(|&band| {
                    let (mut seen, mut ok_pairs) = (0u64, Vec::new());
                    runs.merge_in(band..=band, 2, |_, docs| {
                        let first = record(docs[0]);
                        for &d in &docs[1..] {
                            seen += 1;
                            let other = record(d);
                            let ok = if band == EXACT_BAND {
                                other[..16] == first[..16]
                            } else {
                                let j = agreement(&first[Layout::HEAD..], &other[Layout::HEAD..]);
                                j >= profile.threshold
                                    || (look_for_contained
                                        && containment_estimate(j, first, other) >= contained_threshold)
                            };
                            if ok {
                                ok_pairs.push((docs[0].min(d) as u32, docs[0].max(d) as u32));
                            }
                        }
                        Ok(())
                    })?;
                    Ok((seen, ok_pairs))
                })
                .collect();
            for band in found {
                let (seen, ok_pairs) = band.map_err(io_err(work))?;
                candidates += seen;
                pairs.extend(ok_pairs);
            }
            // Large clusters repeat their pairs in every band: keep the set small as it grows.
            if pairs.len() > 2 * deduped.max(1 << 16) {
                pairs.sort_unstable();
                pairs.dedup();
                deduped = pairs.len();
            }
            runs.release_through(*wave.last().expect("a wave has bands"));
        }
        let graph = Graph::new(&pairs);
        tracing::debug!("candidates: {:.2}s", clock.elapsed().as_secs_f64());
        drop(pairs);
        tracing::info!("{candidates} band pairs, {} candidate pairs", graph.pairs());

        // 2. Every document of the graph, best copy first: an earlier release's documents
        //    (released already), then the keep order, then the id.
        let is_earlier = |doc: u32| part_of(doc as u64) >= self.n_input;
        let nodes = graph.nodes();
        // The text-quality key, over the documents that have candidates (the copies of one
        // text among them).
        let counts = self.opts.keep_order.contains(&KeepKey::CommonWords).then(|| {
            let mut c = WordCounts::default();
            nodes.iter().for_each(|&d| c.add(text(d)));
            c
        });
        let mut order: Vec<(u32, Rank)> = nodes
            .into_iter()
            .map(|d| {
                let mut rank = decode(record(d as u64), 0).rank;
                if let Some(c) = &counts {
                    rank.common_words = c.common_words(text(d));
                }
                (d, rank)
            })
            .collect();
        drop(counts);
        order.sort_by(|(a, ra), (b, rb)| {
            is_earlier(*b).cmp(&is_earlier(*a)).then_with(|| better_by(&self.opts.keep_order, ra, rb)).then(a.cmp(b))
        });
        let order: Vec<u32> = graph.by_component(&order.into_iter().map(|(d, _)| d).collect::<Vec<_>>());
        tracing::debug!("keep order: {:.2}s", clock.elapsed().as_secs_f64());

        // 3. Centres and their verified members. The kept copy's text is the prepared side:
        //    the other copy's misread words are then looked up among its words as near misses
        //    (a copy prepared against the clean text aligns 0.05 lower at the low end).
        let verify = profile.verify;
        let (mut aligned, mut bounded, mut prepares) = (0u64, 0u64, 0u64);
        // Kept copies are tried again and again (each of their copies, and the documents near
        // them): a few are kept prepared. Which ones changes nothing but time.
        let mut prepared: HashMap<u32, Prepared> = HashMap::new();
        let words = |t: &str| t.split(' ').filter(|w| !w.is_empty()).count();
        let likely = |d: u32, c: u32| agreement(&record(d as u64)[Layout::HEAD..], &record(c as u64)[Layout::HEAD..]);
        let roles = assign(&order, &graph, is_earlier, likely, |d, c| {
            let (rd, rc) = (record(d as u64), record(c as u64));
            if rd[..16] == rc[..16] {
                return Some(1.0);
            }
            if prepared.len() >= 64 && !prepared.contains_key(&c) {
                prepared.clear();
            }
            let centre = prepared.entry(c).or_insert_with(|| {
                prepares += 1;
                Prepared::new(text(c))
            });
            // At most the shorter text's words align: a length ratio below the bar decides.
            let (nc, nd) = (centre.len(), words(text(d)));
            if (nc.min(nd) as f64) < verify.min_alignment * nc.max(nd) as f64 {
                return None;
            }
            aligned += 1;
            let Some(a) = centre.align_unless_below(text(d), verify.min_figures, verify.min_alignment) else {
                bounded += 1;
                return None;
            };
            (a.score >= verify.min_alignment && a.figure_conflict <= verify.max_figure_conflict)
                .then_some(a.score as f32)
        });
        drop(prepared);

        tracing::debug!("centres and members: {:.2}s ({prepares} kept copies prepared)", clock.elapsed().as_secs_f64());
        // 4. Kept documents whose text is a passage of a longer kept one.
        let mut roles = roles;
        let removing = self.opts.contained == ContainedPolicy::Remove;
        let mut contained_pairs = 0u64;
        let contained: HashMap<u32, (u32, f32)> = if look_for_contained {
            let mut measure = |d: u32, c: u32| {
                contained_pairs += 1;
                containment::align_in_passage(text(d), text(c), &verify)
                    .filter(|a| containment::verified(a, &verify))
                    .map(|a| a.score as f32)
            };
            let likely = |d: u32, c: u32| {
                let (rd, rc) = (record(d as u64), record(c as u64));
                containment_estimate(agreement(&rd[Layout::HEAD..], &rc[Layout::HEAD..]), rd, rc)
            };
            let mut found = containment::find(
                &roles,
                &graph,
                verify.min_alignment,
                is_earlier,
                |d| words(text(d)),
                likely,
                &mut measure,
            );
            if removing {
                // The copies removed in favour of a contained document go with it when their
                // own text is verified against the same container; the others are kept.
                let mut members: Vec<(u32, u32)> = roles
                    .iter()
                    .filter_map(|(&d, r)| match r {
                        Role::Member { centre, .. } if found.contains_key(centre) => Some((d, *centre)),
                        _ => None,
                    })
                    .collect();
                members.sort_unstable();
                for (d, centre) in members {
                    let c = found[&centre].0;
                    match measure(d, c) {
                        Some(score) => {
                            found.insert(d, (c, score));
                        }
                        None => {
                            roles.insert(d, Role::Centre);
                        }
                    }
                }
            }
            found
        } else {
            HashMap::new()
        };
        let removed_as_contained = |d: u32| removing && contained.contains_key(&d);
        tracing::info!(
            "{} documents contained in longer kept ones ({contained_pairs} passages aligned; {})",
            contained.len(),
            if removing { "removed" } else { "flagged" }
        );

        let mut size: HashMap<u32, u32> = HashMap::new();
        let mut histogram = [0u64; SIMILARITY_BINS];
        for (&d, r) in &roles {
            if let Role::Member { centre, similarity } = r {
                if !removed_as_contained(d) {
                    *size.entry(*centre).or_insert(1) += 1;
                    histogram[similarity_bin(*similarity)] += 1;
                }
            }
        }
        let members: u64 = histogram.iter().sum();
        tracing::info!(
            "{aligned} pairs verified ({bounded} decided by the equal-word bound); {members} copies removed around {} \
             kept copies",
            size.len()
        );

        // Each input part's decisions, a fixed-size record per row, for the filter step.
        (0..self.n_input).into_par_iter().try_for_each(|i| -> Result<(), DedupError> {
            let mut out = Vec::with_capacity(self.rows(i) as usize * DECISION);
            for row in 0..self.rows(i) {
                let doc = (base[i] + row) as u32;
                let (mut flags, mut n, mut kept, mut similarity) = match roles.get(&doc) {
                    Some(Role::Member { centre, similarity }) => {
                        let (own, theirs) = (record(doc as u64), record(*centre as u64));
                        let exact = own[..16] == theirs[..16];
                        let flags = if exact { EXACT } else { 0 } | if is_earlier(*centre) { EARLIER } else { 0 };
                        // (A copy removed with its contained centre is not counted in its size.)
                        (flags, size.get(centre).copied().unwrap_or(1), decode(theirs, 0).rank.id, *similarity)
                    }
                    Some(Role::Centre) if size.contains_key(&doc) => {
                        (KEEP, size[&doc], decode(record(doc as u64), 0).rank.id, 1.0)
                    }
                    _ => (KEEP, 1, [0; 16], 1.0),
                };
                let mut container = ([0u8; 16], 0f32);
                if let Some(&(c, score)) = contained.get(&doc) {
                    container = (decode(record(c as u64), 0).rank.id, score);
                    if removed_as_contained(doc) {
                        // Removed in favour of the container: its cluster is the container's.
                        let earlier = if is_earlier(c) { EARLIER } else { 0 };
                        (flags, n, kept, similarity) =
                            (CONTAINED | earlier, size.get(&c).copied().unwrap_or(1), container.0, score);
                    } else {
                        flags |= CONTAINED;
                    }
                }
                out.push(flags);
                out.extend_from_slice(&n.to_le_bytes());
                out.extend_from_slice(&kept);
                out.extend_from_slice(&similarity.to_le_bytes());
                out.extend_from_slice(&container.0);
                out.extend_from_slice(&container.1.to_le_bytes());
            }
            dataset::write_atomic(&work.join(format!("decisions-{i}.bin")), &out)?;
            Ok(())
        })?;
        let stats = ClusterStats {
            clusters: size.len() as u64,
            candidate_pairs: candidates,
            verified_pairs: members,
            aligned_pairs: aligned,
            contained: contained.len() as u64,
            contained_pairs,
            removed_similarity: histogram.to_vec(),
        };
        let decisions: Vec<PathBuf> = (0..self.n_input).map(|i| work.join(format!("decisions-{i}.bin"))).collect();
        Marker { plan: self.plan.clone(), files: marks(work, &decisions)?, data: stats }
            .write(&work_marker(work, "cluster.json".into()))?;
        Ok(0)
    }

    /// The cluster step's figures, if it is complete for this plan (its decision files, one
    /// per input part, all as written).
    fn cluster_stats(&self) -> Option<ClusterStats> {
        Marker::<ClusterStats>::valid(&work_marker(&self.work, "cluster.json".into()), &self.plan).map(|m| m.data)
    }

    fn index_part_path(&self, i: usize) -> PathBuf {
        self.opts.output.join(INDEX_DIR).join(format!("sig-{i}.bin"))
    }

    fn filter(&self, shard: Shard) -> Result<usize, DedupError> {
        self.needs("the clusters", self.cluster_stats().is_some(), Step::Cluster)?;
        let boiler = self.boilerplate_set()?;
        if self.opts.save_index {
            let dir = self.opts.output.join(INDEX_DIR);
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        }
        let run = stage::run_dataset(&FilterStep { ctx: self, boiler }, &self.opts.output, shard)?;
        Ok(run.parts.len() - run.resumed)
    }

    fn finalize(&self) -> Result<DedupSummary, DedupError> {
        let stats = self.cluster_stats();
        self.needs("the clusters", stats.is_some(), Step::Cluster)?;
        let stats = stats.expect("checked");
        let out = &self.opts.output;
        let mut counts = Counts::default();
        let (mut parts, mut rejected_parts, mut text_bytes, mut index_parts) = (Vec::new(), Vec::new(), 0, Vec::new());
        for i in 0..self.n_input {
            let rec = stage::completed_part::<()>(out, i as u32, &self.plan);
            self.needs(&format!("part {i}"), rec.is_some(), Step::Filter)?;
            let rec = rec.expect("checked").record;
            if self.opts.save_index {
                let p = self.index_part_path(i);
                let bytes = std::fs::metadata(&p).map_err(io_err(&p))?.len();
                index_parts.push(IndexPart { file: format!("sig-{i}.bin"), rows: rec.counts.kept, bytes });
            }
            counts.add(&rec.counts);
            text_bytes += rec.text_bytes;
            parts.push(rec.documents);
            rejected_parts.push(rec.rejected);
        }
        let index_dir = out.join(INDEX_DIR);
        if self.opts.save_index {
            let file = IndexFile {
                format: INDEX_FORMAT.into(),
                kbcurate_version: env!("CARGO_PKG_VERSION").into(),
                profile: self.opts.profile.clone(),
                parts: index_parts,
            };
            dataset::write_atomic(&index_dir.join(INDEX_FILE), &serde_json::to_vec_pretty(&file).expect("serializes"))?;
        } else if index_dir.join(INDEX_FILE).exists() {
            // An index left by an earlier run would describe other documents.
            std::fs::remove_dir_all(&index_dir).map_err(io_err(&index_dir))?;
        }
        dataset::clean_stale(out, self.n_input as u32)?;
        let against: Vec<serde_json::Value> = self
            .opts
            .against
            .iter()
            .zip(&self.earlier)
            .map(|(p, e)| match e {
                Earlier::Dataset(d) => {
                    serde_json::json!({ "dataset": p.display().to_string(), "parts": d.manifest.parts })
                }
                Earlier::Index(ix) => serde_json::json!({
                    "index": ix.dir.display().to_string(),
                    "index_xxh3": format!("{:032x}", ix.hash),
                }),
            })
            .collect();
        let manifest = Manifest {
            stage: STAGE.into(),
            kbcurate_version: env!("CARGO_PKG_VERSION").into(),
            config: serde_json::json!({
                "profile": self.opts.profile,
                "boilerplate_min_docs": self.opts.boilerplate_min_docs,
                "keep_order": self.opts.keep_order,
                "contained": self.opts.contained,
                "save_index": self.opts.save_index,
            }),
            inputs: serde_json::json!({
                "dataset": self.input.display().to_string(),
                "stage": self.ds.manifest.stage,
                "parts": self.ds.manifest.parts,
                "against": against,
            }),
            counts: counts.clone(),
            parts,
            rejected_parts,
            text_bytes,
            compression: self.opts.compression,
            stats: Some(serde_json::json!({
                "clusters": stats.clusters,
                "band_pairs": stats.candidate_pairs,
                "aligned_pairs": stats.aligned_pairs,
                "removed": stats.verified_pairs,
                "contained": stats.contained,
                "contained_policy": self.opts.contained,
                "contained_pairs": stats.contained_pairs,
                "removed_similarity": {
                    "bins": (0..SIMILARITY_BINS).map(|b| match b {
                        0 => "< 0.55".to_string(),
                        b if b == SIMILARITY_BINS - 1 => "1.00".to_string(),
                        b => format!("{:.2}–{:.2}", 0.5 + 0.05 * b as f64, 0.55 + 0.05 * b as f64),
                    }).collect::<Vec<_>>(),
                    "counts": stats.removed_similarity,
                },
            })),
        };
        manifest.write(out, self.opts.sync)?;
        let _ = std::fs::remove_dir_all(&self.work);
        Ok(DedupSummary {
            counts,
            clusters: stats.clusters,
            candidate_pairs: stats.candidate_pairs,
            verified_pairs: stats.verified_pairs,
            aligned_pairs: stats.aligned_pairs,
            elapsed: Duration::ZERO,
        })
    }
}
