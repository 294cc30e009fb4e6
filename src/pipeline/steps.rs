//! What each stage runs: the whole stage in one process (the local executor), or its steps
//! one at a time, per-part steps split into shards (the tasks of a Slurm job array).
//!
//! Every stage ends with a single `finalize` step that runs the whole stage: after the per-part
//! tasks it finds their parts complete and only writes the manifest, and where a task's work is
//! missing (or no longer valid) it does that work itself, so the result never depends on which
//! tasks ran. `finalize` also records the stage as done.

use std::path::{Path, PathBuf};

use super::config::{Pipeline, Stage, StageConfig, StageKind};
use super::state::{self, RunDir};
use super::PipelineError;
use crate::dataset::Shard;
use crate::dedup::stage::Step as DedupStep;

/// One step of a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepSpec {
    pub name: &'static str,
    /// Handles parts independently: runs as `shards` array tasks.
    pub per_part: bool,
}

const fn step(name: &'static str, per_part: bool) -> StepSpec {
    StepSpec { name, per_part }
}

/// The steps of a stage, in order.
pub fn steps(kind: StageKind) -> &'static [StepSpec] {
    const PARTS: &[StepSpec] = &[step("parts", true), step("finalize", false)];
    // Dedup's own steps, as the stage declares them.
    const DEDUP: &[StepSpec] = &{
        let mut out = [step("", false); DedupStep::ALL.len()];
        let mut i = 0;
        while i < out.len() {
            out[i] = step(DedupStep::ALL[i].name(), DedupStep::ALL[i].per_part());
            i += 1;
        }
        out
    };
    const TOKENIZE: &[StepSpec] = &[step("encode", true), step("finalize", false)];
    const SINGLE: &[StepSpec] = &[step("finalize", false)];
    match kind {
        StageKind::Ingest | StageKind::Filter | StageKind::Balance => PARTS,
        StageKind::Dedup => DEDUP,
        StageKind::Tokenize => TOKENIZE,
        StageKind::Audit => SINGLE,
    }
}

/// How stages run in this process.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub threads: Option<usize>,
    /// Progress bars (ingest's) on a terminal.
    pub progress: bool,
}

fn stage_err(kind: StageKind) -> impl FnOnce(String) -> PipelineError {
    move |message| PipelineError::Stage { stage: kind, message }
}

fn input_dir(p: &Pipeline, run: &RunDir, kind: StageKind) -> Result<PathBuf, PipelineError> {
    let up = state::upstream_dataset(p, kind)
        .ok_or_else(|| PipelineError::Other(format!("[{kind}] has no dataset stage before it to read")))?;
    let dir = run.stage_dir(up);
    if !run.output_manifest(up).exists() {
        return Err(PipelineError::Other(format!(
            "{kind} reads {}, which is not complete: run the `{up}` stage first",
            dir.display()
        )));
    }
    Ok(dir)
}

/// Runs `stage` whole (for the part `shard` only, where the step allows it) and returns its
/// summary for people. `step` names the dedup step; other stages have `parts` or `finalize`.
fn run(
    p: &Pipeline,
    run: &RunDir,
    stage: &Stage,
    dedup_step: Option<DedupStep>,
    shard: Shard,
    o: &RunOptions,
) -> Result<String, PipelineError> {
    let kind = stage.kind;
    let out = run.stage_dir(kind);
    let err = |e: &dyn std::fmt::Display| PipelineError::Stage { stage: kind, message: format!("{e:#}") };
    match &stage.config {
        StageConfig::Ingest { config, base, args, .. } => {
            let mut opts = args.resolve(&out).map_err(stage_err(kind))?;
            opts.threads = o.threads;
            opts.sync = p.run.sync;
            opts.compression = p.run.compression;
            opts.progress = o.progress;
            opts.shard = shard;
            crate::ingest::ingest(config, base, &opts).map(|s| s.render()).map_err(|e| err(&e))
        }
        StageConfig::Dedup { args, profile, .. } => {
            let input = input_dir(p, run, kind)?;
            // `against` was resolved when the pipeline was read.
            let mut opts = args.resolve(&out, Path::new("")).map_err(stage_err(kind))?;
            debug_assert_eq!(&opts.profile, profile);
            opts.compression = p.run.compression;
            opts.device = crate::gpu::signer_source(args.device);
            opts.threads = o.threads;
            opts.sync = p.run.sync;
            match dedup_step {
                Some(s) => crate::dedup::stage::dedup_step(&input, &opts, s, shard).map(|r| r.render()),
                None => crate::dedup::stage::dedup(&input, &opts).map(|s| s.render()),
            }
            .map_err(|e| err(&e))
        }
        StageConfig::Filter { config, .. } => {
            let input = input_dir(p, run, kind)?;
            let mut opts = crate::filter::stage::FilterOptions::new(&out);
            opts.config = config.clone();
            opts.compression = p.run.compression;
            opts.threads = o.threads;
            opts.sync = p.run.sync;
            opts.shard = shard;
            crate::filter::stage::filter(&input, &opts).map(|s| s.render()).map_err(|e| err(&e))
        }
        StageConfig::Balance { policy, .. } => {
            let input = input_dir(p, run, kind)?;
            let mut opts = crate::balance::stage::BalanceOptions::new(&out);
            opts.compression = p.run.compression;
            opts.threads = o.threads;
            opts.sync = p.run.sync;
            opts.shard = shard;
            crate::balance::stage::balance(&input, policy, &opts).map(|s| s.render()).map_err(|e| err(&e))
        }
        StageConfig::Tokenize { args, .. } => {
            let input = input_dir(p, run, kind)?;
            let mut opts = args.resolve(&out);
            opts.device = crate::gpu::encoder_placement(args.device);
            opts.threads = o.threads;
            opts.sync = p.run.sync;
            opts.shard = shard;
            if shard == Shard::WHOLE {
                crate::tokenize::stage::tokenize(&input, &opts).map(|s| s.render()).map_err(|e| err(&e))
            } else {
                crate::tokenize::stage::tokenize_encode_shard(&input, &opts).map(|r| r.render()).map_err(|e| err(&e))
            }
        }
        StageConfig::Audit => {
            let input = input_dir(p, run, kind)?;
            let r = crate::audit::audit(&input, &out).map_err(|e| err(&e))?;
            Ok(format!(
                "audit: {} stages, {} documents; wrote {}\n",
                r.stages.len(),
                r.composition.total.docs_repeated,
                out.join("report.html").display()
            ))
        }
    }
}

/// Runs `stage` whole and records it as done.
pub fn run_stage(p: &Pipeline, run_dir: &RunDir, stage: &Stage, o: &RunOptions) -> Result<String, PipelineError> {
    state::clear_done(run_dir, stage.kind)?;
    let summary = run(p, run_dir, stage, None, Shard::WHOLE, o)?;
    state::record_done(p, run_dir, stage)?;
    Ok(summary)
}

/// Set to `STAGE.STEP.INDEX` (e.g. `filter.parts.1`), the matching task fails on purpose. For
/// testing executors: a failing task, its dependants cancelled, a resubmission.
pub const FAIL_ENV: &str = "KBCURATE_FAIL_TASK";

/// Runs one step of `stage` (for one shard where the step is per part), as a Slurm task does,
/// and marks it done.
pub fn run_task(
    p: &Pipeline,
    run_dir: &RunDir,
    stage: &Stage,
    step_name: &str,
    shard: Shard,
    o: &RunOptions,
) -> Result<String, PipelineError> {
    let kind = stage.kind;
    let spec = steps(kind).iter().find(|s| s.name == step_name).ok_or_else(|| {
        let names: Vec<&str> = steps(kind).iter().map(|s| s.name).collect();
        PipelineError::Other(format!("stage {kind} has no step `{step_name}`; its steps: {}", names.join(", ")))
    })?;
    if !spec.per_part && shard != Shard::WHOLE {
        return Err(PipelineError::Other(format!("{kind}.{step_name} is a single job; it takes no shard")));
    }
    if std::env::var(FAIL_ENV).ok().as_deref() == Some(&format!("{kind}.{step_name}.{}", shard.index)) {
        return Err(stage_err(kind)(format!(
            "{kind}.{step_name} task {} fails on purpose ({FAIL_ENV} is set)",
            shard.index
        )));
    }
    let summary = match (kind, step_name) {
        (_, "finalize") if kind != StageKind::Dedup => run_stage(p, run_dir, stage, o)?,
        (StageKind::Dedup, name) => {
            let s: DedupStep = name.parse().map_err(stage_err(kind))?;
            // The dedup steps keep their own state in `_work/`; the last one writes the manifest.
            if s == DedupStep::Finalize {
                state::clear_done(run_dir, kind)?;
            }
            let summary = run(p, run_dir, stage, Some(s), shard, o)?;
            if s == DedupStep::Finalize {
                state::record_done(p, run_dir, stage)?;
            }
            summary
        }
        _ => run(p, run_dir, stage, None, shard, o)?,
    };
    if let Some(key) = state::task_key(p, run_dir, stage) {
        state::write_marker(run_dir, kind, step_name, shard, &key)?;
    }
    Ok(summary)
}
