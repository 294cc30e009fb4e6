//! `kbcurate ingest`: format readers and the parallel driver that turns a library's files into
//! a dataset (see [`crate::dataset`]).
//!
//! How the work is cut, so that output is the same whatever the thread count:
//! 1. **Plan.** Every collection's globs are expanded and sorted; files referenced by a METS
//!    package are read through the package, not again on their own. Files are grouped, in
//!    order, into *parts* of about `part_size` input bytes. A part is the unit of resume.
//! 2. **Run.** Parts run in parallel. Inside a part, inputs are cut into *tasks* (a whole file,
//!    a chunk of JSONL lines, a tar member, a Parquet batch) that are parsed in parallel in
//!    windows of about `window` bytes, and written in order. Memory is bounded by threads ×
//!    window, not by the size of any input.

pub mod alto;
pub mod asr_json;
pub mod config;
pub mod ctm;
pub mod format;
pub mod hocr;
pub mod input;
pub mod jsonl;
pub mod mets;
pub mod page;
pub mod parquet_input;
pub mod source;
pub mod subtitles;
pub mod tei;
pub mod text;
pub mod xml;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;
use serde_json::json;
use unicode_normalization::UnicodeNormalization;

use crate::dataset::{self, Counts, DatasetError, DocumentSink, Manifest, PartRecord, RejectionSink};
use crate::date::PartialDate;
use crate::document::{count_words, document_id, Document, Rejection};
use crate::reject::Reason;
use config::{Collection, DateResolver, IngestConfig};
use format::Format;
use source::{Emit, RawDoc, ReadContext, ReadError, ReaderOptions};

pub const STAGE: &str = "ingest";

/// How the run is carried out (not what it produces: outputs do not depend on `threads`).
#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub output: PathBuf,
    /// Worker threads; `None`: one per core.
    pub threads: Option<usize>,
    /// Input bytes per part (the unit of resume and of parallelism across files).
    pub part_size: u64,
    /// Input bytes parsed in parallel at a time inside a part (bounds memory).
    pub window: usize,
    /// Bytes per chunk of a line-oriented input (JSONL).
    pub chunk: usize,
    /// Row groups hold at most this many bytes of text.
    pub row_group_bytes: usize,
    pub zstd_level: i32,
    /// Draw a progress bar (only ever on a terminal).
    pub progress: bool,
}

impl IngestOptions {
    pub fn new(output: impl Into<PathBuf>) -> Self {
        Self {
            output: output.into(),
            threads: None,
            part_size: 256 << 20,
            window: 32 << 20,
            chunk: 4 << 20,
            row_group_bytes: 64 << 20,
            zstd_level: 1,
            progress: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{0}")]
    Other(String),
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct IngestSummary {
    pub counts: Counts,
    pub parts: usize,
    pub parts_resumed: usize,
    pub files: usize,
    pub input_bytes: u64,
    pub text_bytes: u64,
    pub elapsed: Duration,
    pub output: PathBuf,
}

impl IngestSummary {
    pub fn render(&self) -> String {
        let secs = self.elapsed.as_secs_f64().max(1e-9);
        let mut s = format!(
            "ingest: {} documents kept of {} ({} rejected) from {} files, {:.1} MB read, {:.1} MB of text, in {:.2}s ({:.0} docs/s, {:.1} MB/s)\n",
            self.counts.kept,
            self.counts.input,
            self.counts.rejected_total(),
            self.files,
            self.input_bytes as f64 / 1e6,
            self.text_bytes as f64 / 1e6,
            secs,
            self.counts.input as f64 / secs,
            self.input_bytes as f64 / 1e6 / secs,
        );
        for (reason, n) in &self.counts.rejected {
            s.push_str(&format!("  rejected {reason}: {n}\n"));
        }
        for (kind, n) in &self.counts.warnings {
            s.push_str(&format!("  warning {kind}: {n}\n"));
        }
        if self.parts_resumed > 0 {
            s.push_str(&format!("  {} of {} parts were already complete and kept\n", self.parts_resumed, self.parts));
        }
        if let Some(kb) = peak_rss_kb() {
            s.push_str(&format!("  peak memory: {:.1} MB\n", kb as f64 / 1024.0));
        }
        s.push_str(&format!("  dataset: {}\n", self.output.display()));
        s
    }
}

/// The process's peak resident memory (Linux `VmHWM`), for the run summary and benchmarks.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// One input file of the plan.
#[derive(Debug, Clone)]
struct Unit {
    collection: usize,
    path: PathBuf,
    /// Provenance path (relative to the config's folder), part of document ids.
    rel: String,
    /// `Err` when the format could not be detected or the file not opened.
    format: Result<Format, ReadError>,
    size: u64,
}

/// A collection with everything compiled.
struct CollectionPlan {
    c: Collection,
    options: ReaderOptions,
    dates: DateResolver,
    language: Option<String>,
}

/// Runs ingest for `config`, whose relative paths are resolved against `base`.
pub fn ingest(config: &IngestConfig, base: &Path, opts: &IngestOptions) -> Result<IngestSummary, IngestError> {
    config.validate("config")?;
    let start = Instant::now();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(opts.threads.unwrap_or(0))
        .build()
        .map_err(|e| IngestError::Other(format!("cannot start worker threads: {e}")))?;
    pool.install(|| run(config, base, opts, start))
}

fn run(config: &IngestConfig, base: &Path, opts: &IngestOptions, start: Instant) -> Result<IngestSummary, IngestError> {
    let colls: Vec<CollectionPlan> = config
        .collections
        .iter()
        .map(|c| CollectionPlan {
            options: c.reader_options(&config.defaults),
            dates: DateResolver::new(c.date.as_ref()),
            language: c
                .language
                .as_deref()
                .or(config.defaults.language.as_deref())
                .and_then(crate::language::normalize),
            c: c.clone(),
        })
        .collect();
    let (units, inputs) = plan_units(&colls, base, &opts.output)?;
    let parts = group_parts(&units, opts.part_size);
    let config_json = serde_json::to_value(config).expect("config serializes");
    let out = &opts.output;
    std::fs::create_dir_all(out).map_err(|source| DatasetError::Io { path: out.clone(), source })?;
    if let Ok(m) = Manifest::read(out) {
        if m.stage != STAGE {
            return Err(IngestError::Other(format!(
                "{}: holds a `{}` dataset; choose another output folder for ingest",
                out.display(),
                m.stage
            )));
        }
    }
    // The manifest is written last; without it the folder does not claim to be complete.
    let _ = std::fs::remove_file(out.join(dataset::MANIFEST));
    dataset::clean_stale(out, parts.len() as u32)?;

    let total_bytes: u64 = units.iter().map(|u| u.size).sum();
    let bar = if opts.progress {
        let b = ProgressBar::with_draw_target(Some(total_bytes), ProgressDrawTarget::stderr());
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} ingest [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .expect("valid template"),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let docs_done = AtomicU64::new(0);
    let shared = Shared { colls: &colls, opts, bar: &bar, docs_done: &docs_done, start };
    let plan_salt =
        format!("{}|{}|{}|{}", config_json, opts.zstd_level, opts.row_group_bytes, env!("CARGO_PKG_VERSION"));

    let records: Vec<Result<(PartRecord, bool), IngestError>> = parts
        .par_iter()
        .enumerate()
        .map(|(i, part)| {
            let plan = part_plan_hash(&plan_salt, &units, part);
            if let Some(rec) = dataset::completed_part(out, i as u32, &plan) {
                bar.inc(rec.input_bytes);
                return Ok((rec, true));
            }
            let rec = run_part(&shared, &units, i as u32, part, plan)?;
            dataset::write_part_record(out, &rec)?;
            Ok((rec, false))
        })
        .collect();
    bar.finish_and_clear();
    let mut counts = Counts::default();
    let mut manifest_parts = Vec::new();
    let mut rejected_parts = Vec::new();
    let (mut text_bytes, mut input_bytes, mut resumed) = (0, 0, 0);
    for r in records {
        let (rec, was_done) = r?;
        counts.add(&rec.counts);
        text_bytes += rec.text_bytes;
        input_bytes += rec.input_bytes;
        resumed += was_done as usize;
        manifest_parts.push(rec.documents);
        rejected_parts.push(rec.rejected);
    }
    debug_assert!(counts.reconciles());
    let manifest = Manifest {
        stage: STAGE.into(),
        kbcurate_version: env!("CARGO_PKG_VERSION").into(),
        config: config_json,
        inputs,
        counts: counts.clone(),
        parts: manifest_parts,
        rejected_parts,
        text_bytes,
    };
    manifest.write(out)?;
    Ok(IngestSummary {
        counts,
        parts: parts.len(),
        parts_resumed: resumed,
        files: units.len(),
        input_bytes,
        text_bytes,
        elapsed: start.elapsed(),
        output: out.clone(),
    })
}

struct Shared<'a> {
    colls: &'a [CollectionPlan],
    opts: &'a IngestOptions,
    bar: &'a ProgressBar,
    docs_done: &'a AtomicU64,
    start: Instant,
}

fn part_plan_hash(salt: &str, units: &[Unit], part: &[usize]) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(salt.as_bytes());
    for &u in part {
        let u = &units[u];
        h.update(
            format!("\0{}\0{}\0{}\0{:?}", u.collection, u.rel, u.size, u.format.as_ref().map(|f| f.as_str()))
                .as_bytes(),
        );
    }
    format!("{:032x}", h.digest128())
}

/// Expands the collections' globs into the sorted list of input units.
fn plan_units(
    colls: &[CollectionPlan],
    base: &Path,
    output: &Path,
) -> Result<(Vec<Unit>, serde_json::Value), IngestError> {
    let out_abs = std::fs::canonicalize(output).ok();
    let mut files: Vec<(usize, PathBuf)> = Vec::new();
    let mut inputs = Vec::new();
    for (ci, cp) in colls.iter().enumerate() {
        let mut found: BTreeSet<PathBuf> = BTreeSet::new();
        let excludes: Vec<glob::Pattern> = cp.c.exclude.iter().filter_map(|p| glob::Pattern::new(p).ok()).collect();
        for pattern in &cp.c.paths {
            let full = if Path::new(pattern).is_absolute() { PathBuf::from(pattern) } else { base.join(pattern) };
            let full_str = full.to_string_lossy().into_owned();
            let matches: Vec<PathBuf> = if full.is_dir() {
                vec![full.clone()]
            } else {
                glob::glob(&full_str)
                    .map_err(|e| IngestError::Other(format!("collection `{}`: bad glob `{pattern}`: {e}", cp.c.name)))?
                    .filter_map(Result::ok)
                    .collect()
            };
            let before = found.len();
            for m in matches {
                walk(&m, &mut found);
            }
            let n = found.len() - before;
            if n == 0 {
                tracing::warn!("collection `{}`: `{}` matches no files", cp.c.name, pattern);
            }
            inputs.push(json!({"collection": cp.c.name, "pattern": pattern, "files": n}));
        }
        for f in found {
            if out_abs.as_ref().is_some_and(|o| std::fs::canonicalize(&f).is_ok_and(|a| a.starts_with(o))) {
                continue; // never read our own output
            }
            let rel = rel_path(&f, base);
            if excludes.iter().any(|p| p.matches(&rel) || p.matches_path(&f)) {
                continue;
            }
            files.push((ci, f));
        }
    }
    // Detect formats (reading each file's first bytes) in parallel.
    let mut units: Vec<Unit> = files
        .par_iter()
        .map(|(ci, path)| {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            let rel = rel_path(path, base);
            let format = detect_file(path, colls[*ci].c.format);
            Unit { collection: *ci, path: path.clone(), rel, format, size }
        })
        .collect();
    // Pages of METS packages are read through their package.
    let claimed: BTreeSet<PathBuf> = units
        .par_iter()
        .filter(|u| matches!(u.format, Ok(Format::Mets)))
        .flat_map_iter(|u| std::fs::read(&u.path).map(|b| mets::referenced_files(&u.path, &b)).unwrap_or_default())
        .collect();
    if !claimed.is_empty() {
        units.retain(|u| !claimed.contains(&u.path));
        for u in units.iter_mut().filter(|u| matches!(u.format, Ok(Format::Mets))) {
            if let Ok(b) = std::fs::read(&u.path) {
                u.size += mets::referenced_files(&u.path, &b)
                    .iter()
                    .filter_map(|p| std::fs::metadata(p).ok())
                    .map(|m| m.len())
                    .sum::<u64>();
            }
        }
    }
    Ok((units, json!(inputs)))
}

fn walk(p: &Path, out: &mut BTreeSet<PathBuf>) {
    let hidden = p.file_name().is_some_and(|n| n.to_string_lossy().starts_with('.'));
    if p.is_dir() {
        if hidden {
            return;
        }
        let Ok(entries) = std::fs::read_dir(p) else { return };
        for e in entries.flatten() {
            walk(&e.path(), out);
        }
    } else if p.is_file() && !hidden {
        out.insert(p.to_path_buf());
    }
}

fn rel_path(p: &Path, base: &Path) -> String {
    let base = if base.as_os_str().is_empty() { Path::new(".") } else { base };
    let s = p.strip_prefix(base).unwrap_or(p);
    s.to_string_lossy().replace('\\', "/")
}

fn detect_file(path: &Path, declared: Option<Format>) -> Result<Format, ReadError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let head = input::head(path, 8192).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof => {
            ReadError::new(Reason::CorruptCompression, e.to_string())
        }
        _ => ReadError::new(Reason::IoError, e.to_string()),
    });
    let head = match head {
        Ok(h) => h,
        Err(e) => {
            // A truncated gzip can still fail on its first bytes; let the reader report it.
            if e.reason == Reason::CorruptCompression {
                return Ok(declared.unwrap_or(Format::Text));
            }
            return Err(e);
        }
    };
    let detected = format::detect(&name, &head);
    if detected == Some(Format::Tar) {
        return Ok(Format::Tar);
    }
    if let Some(d) = declared {
        return Ok(d);
    }
    if head.iter().all(u8::is_ascii_whitespace) {
        return Err(ReadError::new(Reason::EmptyFile, "the file is empty"));
    }
    if detected.is_none() && String::from_utf8_lossy(&head).contains("<!ENTITY") {
        return Err(ReadError::new(
            Reason::XmlEntities,
            "the DTD declares entities; kbcurate refuses entity declarations (entity expansion, external entities)",
        ));
    }
    detected.ok_or_else(|| {
        ReadError::new(
            Reason::UnknownFormat,
            "no reader recognises this file; set `format` for the collection (see `kbcurate ingest --help`)",
        )
    })
}

fn group_parts(units: &[Unit], part_size: u64) -> Vec<Vec<usize>> {
    let mut parts: Vec<Vec<usize>> = Vec::new();
    let mut cur = Vec::new();
    let mut size = 0u64;
    for (i, u) in units.iter().enumerate() {
        if !cur.is_empty() && size + u.size > part_size {
            parts.push(std::mem::take(&mut cur));
            size = 0;
        }
        cur.push(i);
        size += u.size;
    }
    if !cur.is_empty() || parts.is_empty() {
        parts.push(cur);
    }
    parts
}

/// A piece of work inside a part.
struct Task {
    collection: usize,
    /// Provenance path (`file`, or `archive.tar!member`).
    rel: String,
    format: Option<Format>,
    input_bytes: u64,
    work: Work,
}

enum Work {
    Whole(Vec<u8>),
    Lines { bytes: Vec<u8>, first_line: u64 },
    Mets { path: PathBuf, bytes: Vec<u8> },
    Done(Vec<Emit>),
    Failed(ReadError),
}

impl Task {
    fn weight(&self) -> usize {
        match &self.work {
            Work::Whole(b) | Work::Lines { bytes: b, .. } | Work::Mets { bytes: b, .. } => {
                b.len().max(self.input_bytes as usize)
            }
            _ => 1024,
        }
    }

    /// Parses the task. Readers never panic on input, but if one ever did, the panic is caught
    /// and the task rejected, so a single bad file cannot take the run down.
    fn run(&self, options: &ReaderOptions) -> Result<Vec<Emit>, ReadError> {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.run_inner(options)));
        result.unwrap_or_else(|p| {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            Err(ReadError::new(
                Reason::MalformedRecord,
                format!("reader failed unexpectedly (please report this input): {msg}"),
            ))
        })
    }

    fn run_inner(&self, options: &ReaderOptions) -> Result<Vec<Emit>, ReadError> {
        let mut emits = Vec::new();
        let ctx = ReadContext { path: &self.rel, options };
        let mut out = |e: Emit| emits.push(e);
        match &self.work {
            Work::Done(e) => return Ok(e.clone()),
            Work::Failed(e) => return Err(e.clone()),
            Work::Lines { bytes, first_line } => jsonl::read_lines(bytes, *first_line, &ctx, &mut out)?,
            Work::Mets { path, bytes } => mets::read_package(path, bytes, &ctx, &mut out)?,
            Work::Whole(bytes) => {
                if bytes.iter().all(u8::is_ascii_whitespace) {
                    return Err(ReadError::new(Reason::EmptyFile, "the file is empty"));
                }
                let f = self
                    .format
                    .ok_or_else(|| ReadError::new(Reason::UnknownFormat, "no reader recognises this input"))?;
                read_whole(f, bytes, &ctx, &mut out)?;
            }
        }
        Ok(emits)
    }
}

fn read_whole(f: Format, bytes: &[u8], ctx: &ReadContext, out: &mut dyn FnMut(Emit)) -> Result<(), ReadError> {
    match f {
        Format::Alto => alto::read(bytes, ctx, out),
        Format::Hocr => hocr::read(bytes, ctx, out),
        Format::Page => page::read(bytes, ctx, out),
        Format::Tei => tei::read(bytes, ctx, out),
        Format::Srt => subtitles::read_srt(bytes, ctx, out),
        Format::Vtt => subtitles::read_vtt(bytes, ctx, out),
        Format::Ctm => ctm::read(bytes, ctx, out),
        Format::AsrJson => asr_json::read(bytes, ctx, out),
        Format::Text => text::read(bytes, ctx, out),
        Format::Jsonl => jsonl::read_lines(bytes, 1, ctx, out),
        Format::Mets => Err(ReadError::new(
            Reason::UnknownFormat,
            "a METS package inside an archive cannot reach its pages; unpack the archive and ingest the folder",
        )),
        Format::Parquet => parquet_input::read(bytes::Bytes::copy_from_slice(bytes), ctx, &mut |e| {
            e.into_iter().for_each(&mut *out);
            Ok(())
        }),
        Format::Tar => {
            Err(ReadError::new(Reason::UnknownFormat, "archives inside archives are not read; unpack the outer one"))
        }
    }
}

/// Writes one part: produces tasks from its units in order, parses them in parallel windows,
/// and writes the results in order.
fn run_part(
    sh: &Shared,
    units: &[Unit],
    part: u32,
    unit_ids: &[usize],
    plan: String,
) -> Result<PartRecord, IngestError> {
    let out = &sh.opts.output;
    let props = dataset::writer_properties(sh.opts.zstd_level);
    let mut docs =
        DocumentSink::create(out, &dataset::part_name(part), props.clone(), 1 << 16, sh.opts.row_group_bytes)?;
    let mut rejected = RejectionSink::create(out, &dataset::rejected_part_name(part), props)?;
    let mut counts = Counts::default();
    let mut window: Vec<Task> = Vec::new();
    let mut window_bytes = 0usize;
    let mut input_bytes = 0u64;

    let mut flush = |window: &mut Vec<Task>, counts: &mut Counts| -> Result<(), IngestError> {
        let results: Vec<Result<Vec<Emit>, ReadError>> =
            window.par_iter().map(|t| t.run(&sh.colls[t.collection].options)).collect();
        for (task, result) in window.drain(..).zip(results) {
            let cp = &sh.colls[task.collection];
            match result {
                Ok(emits) => {
                    for e in emits {
                        match e {
                            Emit::Doc(raw) => match finalize(cp, &task, raw) {
                                Ok(d) => {
                                    counts.input += 1;
                                    counts.kept += 1;
                                    docs.push(&d)?;
                                }
                                Err(r) => {
                                    counts.input += 1;
                                    *counts.rejected.entry(r.reason.clone()).or_default() += 1;
                                    rejected.push(&r)?;
                                }
                            },
                            Emit::Reject { locator, reason, detail } => {
                                counts.input += 1;
                                *counts.rejected.entry(reason.to_string()).or_default() += 1;
                                rejected.push(&rejection(cp, &task, &locator, reason, detail, None))?;
                            }
                            Emit::Warning { kind, detail } => {
                                tracing::warn!("{kind}: {detail}");
                                *counts.warnings.entry(kind).or_default() += 1;
                            }
                        }
                    }
                }
                Err(e) => {
                    tracing::debug!("{}: {}", task.rel, e);
                    counts.input += 1;
                    *counts.rejected.entry(e.reason.to_string()).or_default() += 1;
                    rejected.push(&rejection(cp, &task, "", e.reason, e.detail, None))?;
                }
            }
            sh.bar.inc(task.input_bytes);
        }
        let done = sh.docs_done.fetch_add(0, Ordering::Relaxed);
        let secs = sh.start.elapsed().as_secs_f64().max(1e-3);
        sh.bar.set_message(format!("{done} docs, {:.0} docs/s", done as f64 / secs));
        Ok(())
    };

    let mut push = |task: Task, window: &mut Vec<Task>, counts: &mut Counts| -> Result<(), IngestError> {
        input_bytes += task.input_bytes;
        window_bytes += task.weight();
        window.push(task);
        if window_bytes >= sh.opts.window {
            window_bytes = 0;
            flush(window, counts)?;
        }
        Ok(())
    };

    for &ui in unit_ids {
        let unit = &units[ui];
        produce(sh, unit, &mut |t| push(t, &mut window, &mut counts))?;
    }
    flush(&mut window, &mut counts)?;
    sh.docs_done.fetch_add(counts.kept, Ordering::Relaxed);
    let text_bytes = docs.text_bytes;
    let documents = docs.finish()?;
    let rejected = rejected.finish()?;
    Ok(PartRecord { part, plan, counts, documents, rejected, input_bytes, text_bytes })
}

/// Cuts one input unit into tasks.
fn produce(sh: &Shared, unit: &Unit, push: &mut dyn FnMut(Task) -> Result<(), IngestError>) -> Result<(), IngestError> {
    let cp = &sh.colls[unit.collection];
    let task = |format: Option<Format>, rel: &str, input_bytes: u64, work: Work| Task {
        collection: unit.collection,
        rel: rel.to_string(),
        format,
        input_bytes,
        work,
    };
    let format = match &unit.format {
        Ok(f) => *f,
        Err(e) => return push(task(None, &unit.rel, unit.size, Work::Failed(e.clone()))),
    };
    let io_fail = |e: std::io::Error| -> Work {
        let reason = match e.kind() {
            std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other => {
                Reason::CorruptCompression
            }
            _ => Reason::IoError,
        };
        Work::Failed(ReadError::new(reason, e.to_string()))
    };
    match format {
        Format::Mets => {
            let work = match std::fs::read(&unit.path) {
                Ok(bytes) => Work::Mets { path: unit.path.clone(), bytes },
                Err(e) => io_fail(e),
            };
            push(task(Some(format), &unit.rel, unit.size, work))
        }
        Format::Parquet => {
            let file = match std::fs::File::open(&unit.path) {
                Ok(f) => f,
                Err(e) => return push(task(Some(format), &unit.rel, unit.size, io_fail(e))),
            };
            let ctx = ReadContext { path: &unit.rel, options: &cp.options };
            let mut first = true;
            let res = parquet_input::read(file, &ctx, &mut |emits| {
                let bytes = if std::mem::take(&mut first) { unit.size } else { 0 };
                push(task(Some(format), &unit.rel, bytes, Work::Done(emits)))
                    .map_err(|e| ReadError::new(Reason::IoError, e.to_string()))
            });
            match res {
                Ok(()) => Ok(()),
                Err(e) => push(task(Some(format), &unit.rel, if first { unit.size } else { 0 }, Work::Failed(e))),
            }
        }
        Format::Tar => produce_tar(sh, unit, push),
        f if f.is_line_oriented() => {
            let reader = match input::open(&unit.path) {
                Ok((r, _)) => r,
                Err(e) => return push(task(Some(f), &unit.rel, unit.size, io_fail(e))),
            };
            produce_lines(unit.collection, &unit.rel, f, reader, cp, sh.opts.chunk, unit.size, push)
        }
        f => {
            let work = match input::open(&unit.path) {
                Ok((mut r, _)) => match input::read_bounded(&mut r, max_file_bytes(&cp.options)) {
                    Ok(Ok(bytes)) => Work::Whole(bytes),
                    Ok(Err(n)) => Work::Failed(ReadError::new(
                        Reason::TooLarge,
                        format!(
                            "more than {n} bytes; the limit for a {f} file is {} (max_doc_mb × 4)",
                            max_file_bytes(&cp.options)
                        ),
                    )),
                    Err(e) => io_fail(e),
                },
                Err(e) => io_fail(e),
            };
            push(task(Some(f), &unit.rel, unit.size, work))
        }
    }
}

/// Markup-heavy formats hold several bytes of file per byte of text.
fn max_file_bytes(o: &ReaderOptions) -> usize {
    o.max_doc_bytes.saturating_mul(4)
}

#[allow(clippy::too_many_arguments)]
fn produce_lines(
    collection: usize,
    rel: &str,
    f: Format,
    reader: impl Read,
    cp: &CollectionPlan,
    chunk: usize,
    size: u64,
    push: &mut dyn FnMut(Task) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let max_line = cp.options.max_doc_bytes;
    let mut accounted = 0u64;
    for c in input::LineChunker::new(reader, chunk, max_line) {
        match c {
            Ok(c) => {
                let mut emits: Vec<Emit> = c
                    .oversized
                    .iter()
                    .map(|(line, n)| Emit::Reject {
                        locator: format!("line={line}"),
                        reason: Reason::TooLarge,
                        detail: format!("a {n}-byte line exceeds max_doc_bytes {max_line}"),
                    })
                    .collect();
                // Share the file's size among chunks for the progress bar (decompressed sizes differ).
                let share = c.input_bytes.min(size.saturating_sub(accounted));
                accounted += share;
                if !emits.is_empty() {
                    push(Task {
                        collection,
                        rel: rel.into(),
                        format: Some(f),
                        input_bytes: 0,
                        work: Work::Done(std::mem::take(&mut emits)),
                    })?;
                }
                if !c.bytes.is_empty() {
                    push(Task {
                        collection,
                        rel: rel.into(),
                        format: Some(f),
                        input_bytes: share,
                        work: Work::Lines { bytes: c.bytes, first_line: c.first_line },
                    })?;
                }
            }
            Err(e) => {
                let reason = if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidData | std::io::ErrorKind::UnexpectedEof | std::io::ErrorKind::Other
                ) {
                    Reason::CorruptCompression
                } else {
                    Reason::IoError
                };
                return push(Task {
                    collection,
                    rel: rel.into(),
                    format: Some(f),
                    input_bytes: size.saturating_sub(accounted),
                    work: Work::Failed(ReadError::new(reason, format!("stopped reading: {e}"))),
                });
            }
        }
    }
    if accounted < size {
        // Compressed inputs: the rest of the file's bytes for the progress bar.
        push(Task {
            collection,
            rel: rel.into(),
            format: Some(f),
            input_bytes: size - accounted,
            work: Work::Done(Vec::new()),
        })?;
    }
    Ok(())
}

fn produce_tar(
    sh: &Shared,
    unit: &Unit,
    push: &mut dyn FnMut(Task) -> Result<(), IngestError>,
) -> Result<(), IngestError> {
    let cp = &sh.colls[unit.collection];
    let fail = |reason: Reason, detail: String, rel: &str, bytes: u64| Task {
        collection: unit.collection,
        rel: rel.to_string(),
        format: Some(Format::Tar),
        input_bytes: bytes,
        work: Work::Failed(ReadError::new(reason, detail)),
    };
    let reader = match input::open(&unit.path) {
        Ok((r, _)) => r,
        Err(e) => return push(fail(Reason::IoError, e.to_string(), &unit.rel, unit.size)),
    };
    let mut archive = tar::Archive::new(reader);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return push(fail(Reason::CorruptArchive, e.to_string(), &unit.rel, unit.size)),
    };
    let mut members = 0usize;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                return push(fail(Reason::CorruptArchive, format!("after {members} members: {e}"), &unit.rel, 0));
            }
        };
        let member = entry.path().map(|p| p.to_path_buf()).unwrap_or_default();
        let member_str = member.to_string_lossy().replace('\\', "/");
        let rel = format!("{}!{}", unit.rel, member_str);
        let kind = entry.header().entry_type();
        if kind.is_dir() || kind.is_pax_global_extensions() || kind.is_pax_local_extensions() || kind.is_gnu_longname()
        {
            continue;
        }
        members += 1;
        if !input::safe_member_path(&member) {
            push(fail(
                Reason::UnsafeArchivePath,
                format!("member path `{member_str}` leaves the archive; skipped"),
                &rel,
                0,
            ))?;
            continue;
        }
        if kind.is_symlink() || kind.is_hard_link() {
            push(fail(
                Reason::UnsafeArchivePath,
                format!("member `{member_str}` is a link; links are not followed"),
                &rel,
                0,
            ))?;
            continue;
        }
        if !kind.is_file() {
            continue;
        }
        let name = member.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let size = entry.size();
        let mut head = [0u8; 4];
        let limit = max_file_bytes(&cp.options);
        let raw = match input::read_bounded(&mut entry, limit) {
            Ok(Ok(b)) => b,
            Ok(Err(_)) => {
                push(fail(Reason::TooLarge, format!("member of {size} bytes exceeds {limit}"), &rel, 0))?;
                continue;
            }
            Err(e) => return push(fail(Reason::CorruptArchive, format!("member `{member_str}`: {e}"), &rel, 0)),
        };
        let n = raw.len().min(4);
        head[..n].copy_from_slice(&raw[..n]);
        let bytes = match format::Compression::sniff(&head) {
            format::Compression::None => raw,
            c => {
                let mut r = match input::decompress(Box::new(std::io::Cursor::new(raw)), c) {
                    Ok(r) => r,
                    Err(e) => {
                        push(fail(Reason::CorruptCompression, e.to_string(), &rel, 0))?;
                        continue;
                    }
                };
                match input::read_bounded(&mut r, limit) {
                    Ok(Ok(b)) => b,
                    Ok(Err(_)) => {
                        push(fail(
                            Reason::TooLarge,
                            format!("member decompresses to more than {limit} bytes"),
                            &rel,
                            0,
                        ))?;
                        continue;
                    }
                    Err(e) => {
                        push(fail(Reason::CorruptCompression, e.to_string(), &rel, 0))?;
                        continue;
                    }
                }
            }
        };
        let detected = format::detect(&name, &bytes[..bytes.len().min(8192)]);
        let f = cp.c.format.filter(|f| *f != Format::Tar).or(detected);
        let t = |work| Task { collection: unit.collection, rel: rel.clone(), format: f, input_bytes: 0, work };
        match f {
            Some(f) if f.is_line_oriented() => {
                produce_lines(unit.collection, &rel, f, std::io::Cursor::new(bytes), cp, sh.opts.chunk, 0, push)?
            }
            Some(_) => push(t(Work::Whole(bytes)))?,
            None if bytes.iter().all(u8::is_ascii_whitespace) => {
                push(t(Work::Failed(ReadError::new(Reason::EmptyFile, "the member is empty"))))?
            }
            None => push(t(Work::Failed(ReadError::new(Reason::UnknownFormat, "no reader recognises this member"))))?,
        }
    }
    // Account the archive's bytes once, at its end.
    push(Task {
        collection: unit.collection,
        rel: unit.rel.clone(),
        format: Some(Format::Tar),
        input_bytes: unit.size,
        work: Work::Done(Vec::new()),
    })
}

fn rejection(
    cp: &CollectionPlan,
    task: &Task,
    locator: &str,
    reason: Reason,
    detail: String,
    text: Option<String>,
) -> Rejection {
    Rejection {
        id: document_id(&cp.c.name, &task.rel, locator),
        collection: cp.c.name.clone(),
        path: task.rel.clone(),
        locator: locator.to_string(),
        format: task.format.map(|f| f.as_str().to_string()),
        stage: STAGE.into(),
        reason: reason.to_string(),
        detail,
        text,
    }
}

/// Turns a reader's document into a dataset row: NFC text, collection metadata, date and
/// language normalized, id and counts. Empty or oversized text is a rejection.
#[allow(clippy::result_large_err)] // a rejection is a normal outcome here, not an error path
fn finalize(cp: &CollectionPlan, task: &Task, raw: RawDoc) -> Result<Document, Rejection> {
    let RawDoc { text, locator, title, author, date, language, genre, source, ocr_confidence, duration_s, mut meta } =
        raw;
    let text = match unicode_normalization::is_nfc_quick(text.chars()) {
        unicode_normalization::IsNormalized::Yes => text,
        _ => text.nfc().collect(),
    };
    let text = {
        let t = text.trim();
        if t.len() == text.len() {
            text
        } else {
            t.to_string()
        }
    };
    if text.is_empty() {
        return Err(rejection(cp, task, &locator, Reason::EmptyText, "no text after parsing".into(), None));
    }
    if text.len() > cp.options.max_doc_bytes {
        let detail = format!("{} bytes of text exceed max_doc_bytes {}", text.len(), cp.options.max_doc_bytes);
        return Err(rejection(cp, task, &locator, Reason::TooLarge, detail, Some(text)));
    }
    let date_text = cp.dates.resolve(&task.rel, date.as_deref());
    let parsed = date_text.as_deref().and_then(PartialDate::parse);
    if let (Some(d), None) = (&date, &parsed) {
        meta.insert("date_text".into(), json!(d));
    }
    let language = language.as_deref().and_then(crate::language::normalize).or_else(|| cp.language.clone());
    let genre = match (&cp.c.genre, genre) {
        (Some(g), own) => {
            if let Some(o) = own.filter(|o| o != g) {
                meta.insert("genre_declared".into(), json!(o));
            }
            Some(g.clone())
        }
        (None, own) => own,
    };
    let source = source.or_else(|| cp.c.source.clone());
    Ok(Document {
        id: document_id(&cp.c.name, &task.rel, &locator),
        n_chars: text.chars().count().min(u32::MAX as usize) as u32,
        n_words: count_words(&text),
        text,
        collection: cp.c.name.clone(),
        source,
        genre,
        date: parsed.and_then(|p| p.days_since_epoch()),
        year: parsed.map(|p| p.year),
        decade: parsed.map(|p| p.decade()),
        title,
        author,
        language,
        language_score: None,
        ocr_confidence,
        duration_s: duration_s.map(|d| d as f32),
        format: task.format.map(|f| f.as_str()).unwrap_or("").to_string(),
        path: task.rel.clone(),
        locator,
        meta: serde_json::to_string(&meta).expect("meta serializes"),
    })
}

/// A config for the one-collection case (`kbcurate ingest DIR --format alto --genre ...`).
pub fn single_collection(paths: Vec<String>, name: &str) -> Collection {
    Collection { name: name.to_string(), paths, ..Default::default() }
}

/// Which collection-level keys a run set (for `inspect` and reports).
pub fn collection_names(config: &IngestConfig) -> BTreeMap<usize, String> {
    config.collections.iter().enumerate().map(|(i, c)| (i, c.name.clone())).collect()
}
