//! The one driver of every stage's per-part work.
//!
//! A stage's work is split into parts, each an independent unit: a Slurm array task runs the
//! parts of its shard ([`Shard`]), a rerun skips the parts already complete, and the outputs do
//! not depend on how many threads ran them. This module owns that machinery once:
//! - [`install`] builds the worker pool a stage runs in (`-j`);
//! - [`run_parts`] runs a [`PartStage`]'s parts of one shard in parallel, resuming each part
//!   whose [`Marker`] is valid for its plan and writing the marker after a part's files;
//! - [`run_dataset`] is the same for stages whose parts are dataset parts (ingest, dedup's
//!   filter step, filter, balance): it prepares the output folder, keeps the per-part
//!   records in `_parts/`, sums them and commits the manifest ([`DatasetRun::commit`]) or, for
//!   one shard of a job array, makes the parts durable for the run that commits them.
//!
//! Stages whose per-part work writes something else (dedup's signature and line steps,
//! tokenize's spilled parts) implement [`PartStage`] directly.

pub mod args;
pub mod lock;
pub mod marker;

use std::path::Path;

use rayon::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub use lock::OutputLock;
pub use marker::{FileMark, Marker, MarkerPath};

use crate::dataset::{self, Codec, Counts, DatasetError, Manifest, PartFile, PartRecord, Shard};

/// A pool of `threads` workers (`None`: one per core): the one place kbcurate starts one.
pub fn thread_pool(threads: Option<usize>) -> Result<rayon::ThreadPool, String> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads.unwrap_or(0))
        .build()
        .map_err(|e| format!("cannot start worker threads: {e}"))
}

/// Runs `f` in a pool of `threads` workers ([`thread_pool`]). Every stage runs its work in one;
/// outputs never depend on its size.
pub fn install<R: Send>(threads: Option<usize>, f: impl FnOnce() -> R + Send) -> Result<R, String> {
    Ok(thread_pool(threads)?.install(f))
}

/// A stage's work, split into parts that are done independently.
pub trait PartStage: Sync {
    /// What a finished part reports. It is kept in the part's marker, so a resumed part
    /// reports the same without being redone.
    type Report: Serialize + DeserializeOwned + Send;
    type Error: From<DatasetError> + Send;

    /// How many parts there are (all shards together).
    fn parts(&self) -> usize;
    /// Where part `part`'s marker lives.
    fn marker(&self, part: u32) -> MarkerPath;
    /// What part `part` is asked to do (a hash of its inputs and configuration): a marker for
    /// another plan does not count.
    fn plan(&self, part: u32) -> String;
    /// Does part `part`'s work: returns its report and the files it wrote, named relative to
    /// the marker's base folder.
    fn run_part(&self, part: u32, plan: &str) -> Result<(Self::Report, Vec<FileMark>), Self::Error>;
    /// Called for a part found complete (e.g. to advance a progress bar).
    fn resumed(&self, _part: u32, _report: &Self::Report) {}
    /// Part `part`'s marker, if the part is complete for `plan` and is resumed, not redone:
    /// by default, whenever [`Marker::valid`] says so.
    fn completed(&self, part: u32, plan: &str) -> Option<Marker<Self::Report>> {
        Marker::valid(&self.marker(part), plan)
    }
}

/// A part's report, and whether it came from an earlier run.
#[derive(Debug, Clone)]
pub struct PartDone<R> {
    pub part: u32,
    pub report: R,
    pub resumed: bool,
}

/// Runs the parts of `stage` that belong to `shard`, in parallel in the current pool: a part
/// whose marker is valid for its plan is resumed, the others are done and marked. Reports come
/// back in part order; the first error (in part order) is returned once every part has ended.
pub fn run_parts<S: PartStage>(stage: &S, shard: Shard) -> Result<Vec<PartDone<S::Report>>, S::Error> {
    let results: Vec<Result<PartDone<S::Report>, S::Error>> = (0..stage.parts())
        .into_par_iter()
        .filter(|&i| shard.owns(i))
        .map(|i| {
            let part = i as u32;
            let plan = stage.plan(part);
            if let Some(m) = stage.completed(part, &plan) {
                stage.resumed(part, &m.data);
                return Ok(PartDone { part, report: m.data, resumed: true });
            }
            let at = stage.marker(part);
            let (report, files) = stage.run_part(part, &plan)?;
            let m = Marker { plan, files, data: report };
            m.write(&at)?;
            Ok(PartDone { part, report: m.data, resumed: false })
        })
        .collect();
    results.into_iter().collect()
}

/// Stage-specific figures of a part beyond its [`Counts`], summed over parts.
pub trait Tally: Serialize + DeserializeOwned + Default + Send {
    fn add(&mut self, other: &Self);
}

impl Tally for () {
    fn add(&mut self, _: &()) {}
}

impl Tally for u64 {
    fn add(&mut self, other: &u64) {
        *self += other;
    }
}

/// A dataset part's report, as its marker in `_parts/part-NNNNN.json` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartReport<S> {
    #[serde(flatten)]
    pub record: PartRecord,
    /// Figures only this stage keeps (filter: its rule tables; balance: repeats).
    pub stats: S,
}

/// A stage that reads parts and writes dataset parts: part `i` of the output comes from part
/// `i` of the work (the manifest lists them in that order).
pub trait DatasetStage: Sync {
    type Stats: Tally;
    type Error: From<DatasetError> + Send;

    fn parts(&self) -> usize;
    fn plan(&self, part: u32) -> String;
    /// Writes output part `part` (its documents and its rejected file).
    fn write_part(&self, part: u32, plan: &str) -> Result<(PartRecord, Self::Stats), Self::Error>;
    /// Other files (relative to the output folder) that part `part` wrote and without which
    /// it is not complete.
    fn extra_files(&self, _part: u32) -> Vec<String> {
        Vec::new()
    }
    fn resumed(&self, _record: &PartRecord) {}
}

/// The summed reports of a dataset stage's parts (those of one shard, or all).
#[derive(Debug, Clone, Default)]
pub struct DatasetRun<S> {
    pub counts: Counts,
    pub stats: S,
    pub parts: Vec<PartFile>,
    pub rejected_parts: Vec<PartFile>,
    pub text_bytes: u64,
    pub input_bytes: u64,
    /// Parts found complete from an earlier run.
    pub resumed: usize,
}

/// What a stage's manifest says beyond its parts and counts.
pub struct ManifestHead {
    pub stage: &'static str,
    pub config: serde_json::Value,
    pub inputs: serde_json::Value,
    pub compression: Codec,
    pub stats: Option<serde_json::Value>,
}

impl<S> DatasetRun<S> {
    /// Commits the output (syncing it first with `sync`): for a whole run, the manifest ([`ManifestHead`] from `head`, which
    /// may also write files the manifest stands for); for one shard, which no manifest commits,
    /// its files are made durable before its task ends. Returns whether a manifest was written.
    pub fn commit<E: From<DatasetError>>(
        &self,
        out: &Path,
        shard: Shard,
        sync: bool,
        head: impl FnOnce(&Self) -> Result<ManifestHead, E>,
    ) -> Result<bool, E> {
        if shard != Shard::WHOLE {
            dataset::sync_written(out, sync)?;
            return Ok(false);
        }
        let h = head(self)?;
        let manifest = Manifest {
            stage: h.stage.into(),
            kbcurate_version: env!("CARGO_PKG_VERSION").into(),
            config: h.config,
            inputs: h.inputs,
            counts: self.counts.clone(),
            parts: self.parts.clone(),
            rejected_parts: self.rejected_parts.clone(),
            text_bytes: self.text_bytes,
            compression: h.compression,
            stats: h.stats,
        };
        manifest.write(out, sync)?;
        Ok(true)
    }
}

/// The plan of a stage whose part `i` reads input part `i`: xxh3-128 of its configuration (as
/// JSON), of whatever else it depends on (`more`), of the compression, of the input parts'
/// checksums and of kbcurate's version. A rerun with any of them changed redoes every part.
pub fn input_parts_plan(
    config: &serde_json::Value,
    more: impl FnOnce(&mut xxhash_rust::xxh3::Xxh3),
    compression: Codec,
    inputs: &[PartFile],
) -> String {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(config.to_string().as_bytes());
    more(&mut h);
    h.update(compression.to_string().as_bytes());
    for p in inputs {
        h.update(p.xxh3.as_bytes());
    }
    h.update(env!("CARGO_PKG_VERSION").as_bytes());
    format!("{:032x}", h.digest128())
}

/// Prepares `out` for a dataset stage of `n_parts` parts: takes its writer's lock (held until
/// the returned lock is dropped: keep it for the whole run), refuses another stage's dataset,
/// removes the manifest, and, in a whole run, what an interrupted or different earlier run
/// left (a shard's run leaves them: other shards may be writing their temporaries now).
pub fn prepare_output(out: &Path, stage: &str, n_parts: usize, shard: Shard) -> Result<OutputLock, DatasetError> {
    let lock = OutputLock::acquire(&out.join(dataset::PARTS_DIR), out, shard)?;
    dataset::prepare_output(out, stage)?;
    if shard == Shard::WHOLE {
        dataset::clean_stale(out, n_parts as u32)?;
    }
    Ok(lock)
}

struct AsPartStage<'a, D> {
    stage: &'a D,
    out: &'a Path,
}

impl<D: DatasetStage> PartStage for AsPartStage<'_, D> {
    type Report = PartReport<D::Stats>;
    type Error = D::Error;

    fn parts(&self) -> usize {
        self.stage.parts()
    }

    fn marker(&self, part: u32) -> MarkerPath {
        MarkerPath::new(self.out, dataset::part_record_name(part))
    }

    fn plan(&self, part: u32) -> String {
        self.stage.plan(part)
    }

    fn run_part(&self, part: u32, plan: &str) -> Result<(Self::Report, Vec<FileMark>), D::Error> {
        let (record, stats) = self.stage.write_part(part, plan)?;
        let mut files = vec![FileMark::from(&record.documents), FileMark::from(&record.rejected)];
        for rel in self.stage.extra_files(part) {
            files.push(FileMark::of(self.out, &rel)?);
        }
        Ok((PartReport { record, stats }, files))
    }

    fn resumed(&self, _part: u32, report: &Self::Report) {
        self.stage.resumed(&report.record)
    }

    fn completed(&self, part: u32, plan: &str) -> Option<Marker<Self::Report>> {
        dataset_part_marker(self.out, part, plan)
    }
}

/// Output part `part`'s marker, if the part is complete for `plan` and its record names the
/// files of this version's layout ([`dataset::is_current_record`]).
fn dataset_part_marker<S: Tally>(out: &Path, part: u32, plan: &str) -> Option<Marker<PartReport<S>>> {
    Marker::<PartReport<S>>::valid(&MarkerPath::new(out, dataset::part_record_name(part)), plan)
        .filter(|m| dataset::is_current_record(part, &m.data.record))
}

/// Output part `part`'s report, if the part is complete for `plan` (for a step that reads the
/// records of parts another process wrote).
pub fn completed_part<S: Tally>(out: &Path, part: u32, plan: &str) -> Option<PartReport<S>> {
    dataset_part_marker(out, part, plan).map(|m| m.data)
}

/// Runs a dataset stage's parts of `shard` into `out` (already prepared with
/// [`prepare_output`]) and sums their reports, in part order.
pub fn run_dataset<D: DatasetStage>(stage: &D, out: &Path, shard: Shard) -> Result<DatasetRun<D::Stats>, D::Error> {
    let done = run_parts(&AsPartStage { stage, out }, shard)?;
    let mut run = DatasetRun::<D::Stats>::default();
    for d in done {
        let PartReport { record, stats } = d.report;
        run.counts.add(&record.counts);
        run.stats.add(&stats);
        run.text_bytes += record.text_bytes;
        run.input_bytes += record.input_bytes;
        run.resumed += d.resumed as usize;
        run.parts.push(record.documents);
        run.rejected_parts.push(record.rejected);
    }
    Ok(run)
}
