//! The run folder and what it records about itself.
//!
//! ```text
//! RUN/ingest/  RUN/dedup/  RUN/filter/  RUN/balance/   datasets, one per stage
//! RUN/tokenize/                                         shards
//! RUN/audit/                                            report.html, report.json, report.md
//! RUN/_run/state/STAGE.json                             a stage is done: its key, input, output
//! RUN/_run/done/STAGE.STEP.I-of-N                       a Slurm task is done (its task key)
//! RUN/_run/slurm/                                       job scripts and jobs.json
//! RUN/_run/logs/                                        one log per Slurm task
//! RUN/_run/lock                                         held by a local run
//! ```
//!
//! A stage is *done* when its state file names the stage's current key, the hash of the
//! manifests it read, and the hash of the manifest it wrote, and all three still hold. So a
//! changed config reruns that stage; a stage whose upstream output changed reruns; a stage
//! whose upstream was rerun but wrote the same bytes does not. Nothing else is trusted: a
//! stage that is not done is run again and reuses whatever of its parts are still valid.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{Pipeline, Stage, StageKind};
use super::PipelineError;
use crate::dataset::{self, Shard};

pub const RUN_DIR: &str = "_run";

/// A run folder (absolute, so that the paths recorded in manifests do not depend on where a
/// process was started: the local and Slurm executors write identical bytes).
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> PipelineError + '_ {
    move |source| PipelineError::Io { path: path.to_path_buf(), source }
}

impl RunDir {
    /// Creates the folder if needed.
    pub fn create(path: &Path) -> Result<RunDir, PipelineError> {
        fs::create_dir_all(path.join(RUN_DIR)).map_err(io(path))?;
        Ok(RunDir { root: fs::canonicalize(path).map_err(io(path))? })
    }

    /// An existing run folder.
    pub fn open(path: &Path) -> Result<RunDir, PipelineError> {
        if !path.join(RUN_DIR).is_dir() {
            return Err(PipelineError::Other(format!(
                "{}: not a run folder (no {RUN_DIR}/); start one with `kbcurate run pipeline.toml`",
                path.display()
            )));
        }
        Ok(RunDir { root: fs::canonicalize(path).map_err(io(path))? })
    }

    pub fn stage_dir(&self, kind: StageKind) -> PathBuf {
        self.root.join(kind.name())
    }

    /// The file a stage writes last, which says that it is complete.
    pub fn output_manifest(&self, kind: StageKind) -> PathBuf {
        match kind {
            StageKind::Audit => self.stage_dir(kind).join("report.json"),
            _ => self.stage_dir(kind).join(dataset::MANIFEST),
        }
    }

    pub fn meta(&self, sub: &str) -> PathBuf {
        self.root.join(RUN_DIR).join(sub)
    }

    fn state_path(&self, kind: StageKind) -> PathBuf {
        self.meta("state").join(format!("{kind}.json"))
    }

    pub fn logs(&self) -> PathBuf {
        self.meta("logs")
    }

    pub fn marker_path(&self, kind: StageKind, step: &str, shard: Shard) -> PathBuf {
        self.meta("done").join(format!("{kind}.{step}.{}-of-{}", shard.index, shard.count))
    }
}

/// `RUN/_run/state/STAGE.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageState {
    pub stage: StageKind,
    pub key: String,
    /// Hash of the manifests the stage read.
    pub input: String,
    /// Hash of the manifest (or report) it wrote.
    pub output: String,
}

fn file_hash(path: &Path) -> Option<String> {
    let bytes = fs::read(path).ok()?;
    Some(format!("{:032x}", xxhash_rust::xxh3::xxh3_128(&bytes)))
}

/// The dataset stage before `kind` in the pipeline (what it reads), if any.
pub fn upstream_dataset(p: &Pipeline, kind: StageKind) -> Option<StageKind> {
    p.stages.iter().map(|s| s.kind).rev().find(|k| *k < kind && k.writes_dataset())
}

/// The stages whose outputs `kind` reads: the dataset before it; for the audit, every stage
/// before it (it reports on the whole chain and on the shards).
fn upstream_outputs(p: &Pipeline, kind: StageKind) -> Vec<StageKind> {
    match kind {
        StageKind::Audit => p.stages.iter().map(|s| s.kind).filter(|k| *k < kind).collect(),
        _ => upstream_dataset(p, kind).into_iter().collect(),
    }
}

/// Hash of what `kind` reads now; `None` while an upstream output is missing.
pub fn input_hash(p: &Pipeline, run: &RunDir, kind: StageKind) -> Option<String> {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    for up in upstream_outputs(p, kind) {
        h.update(up.name().as_bytes());
        h.update(file_hash(&run.output_manifest(up))?.as_bytes());
    }
    Some(format!("{:032x}", h.digest128()))
}

pub fn read_state(run: &RunDir, kind: StageKind) -> Option<StageState> {
    serde_json::from_slice(&fs::read(run.state_path(kind)).ok()?).ok()
}

/// Whether `stage` is done for the pipeline as it is now (see the module docs).
pub fn is_done(p: &Pipeline, run: &RunDir, stage: &Stage) -> bool {
    let Some(st) = read_state(run, stage.kind) else { return false };
    st.key == stage.key
        && input_hash(p, run, stage.kind).as_deref() == Some(st.input.as_str())
        && file_hash(&run.output_manifest(stage.kind)).as_deref() == Some(st.output.as_str())
}

/// Records that `stage` completed (called after its output manifest was written).
pub fn record_done(p: &Pipeline, run: &RunDir, stage: &Stage) -> Result<(), PipelineError> {
    let out = run.output_manifest(stage.kind);
    let st = StageState {
        stage: stage.kind,
        key: stage.key.clone(),
        input: input_hash(p, run, stage.kind).ok_or_else(|| {
            PipelineError::Other(format!("{}: an input of the stage vanished while it ran", stage.kind))
        })?,
        output: file_hash(&out)
            .ok_or_else(|| PipelineError::Other(format!("{}: the stage finished without writing it", out.display())))?,
    };
    let path = run.state_path(stage.kind);
    fs::create_dir_all(path.parent().expect("state has a folder")).map_err(io(&path))?;
    dataset::write_atomic(&path, &serde_json::to_vec_pretty(&st).expect("state serializes"))?;
    Ok(())
}

/// Forgets that `stage` was done (before it is rerun, so a crash in between never leaves a
/// stale claim).
pub fn clear_done(run: &RunDir, kind: StageKind) -> Result<(), PipelineError> {
    let path = run.state_path(kind);
    match fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(PipelineError::Io { path, source: e }),
        _ => Ok(()),
    }
}

/// `RUN/_run/state/STAGE.attempt`: a local run started the stage (and, if it failed, why). It
/// lets `status` tell running, failed and interrupted apart; it is removed when the stage is done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub pid: u32,
    pub error: Option<String>,
}

fn attempt_path(run: &RunDir, kind: StageKind) -> PathBuf {
    run.meta("state").join(format!("{kind}.attempt"))
}

pub fn write_attempt(run: &RunDir, kind: StageKind, a: &Attempt) -> Result<(), PipelineError> {
    let path = attempt_path(run, kind);
    fs::create_dir_all(path.parent().expect("state has a folder")).map_err(io(&path))?;
    dataset::write_atomic(&path, &serde_json::to_vec_pretty(a).expect("attempt serializes"))?;
    Ok(())
}

pub fn read_attempt(run: &RunDir, kind: StageKind) -> Option<Attempt> {
    serde_json::from_slice(&fs::read(attempt_path(run, kind)).ok()?).ok()
}

pub fn clear_attempt(run: &RunDir, kind: StageKind) {
    let _ = fs::remove_file(attempt_path(run, kind));
}

/// What a Slurm task of `stage` is done *for*: the stage's key and its current input. `None`
/// while the input is not complete (then no task counts as done).
pub fn task_key(p: &Pipeline, run: &RunDir, stage: &Stage) -> Option<String> {
    let input = input_hash(p, run, stage.kind)?;
    Some(super::config::key_of(&serde_json::json!([stage.key, input])))
}

/// A Slurm task's marker ([`crate::stage::Marker`]): its plan is the task's key.
fn task_marker(run: &RunDir, kind: StageKind, step: &str, shard: Shard) -> crate::stage::MarkerPath {
    let path = run.marker_path(kind, step, shard);
    let name = path.file_name().expect("a marker has a name").to_string_lossy().into_owned();
    crate::stage::MarkerPath::new(path.parent().expect("marker has a folder"), name)
}

pub fn marker_ok(run: &RunDir, kind: StageKind, step: &str, shard: Shard, key: &str) -> bool {
    crate::stage::Marker::<()>::valid(&task_marker(run, kind, step, shard), key).is_some()
}

pub fn write_marker(run: &RunDir, kind: StageKind, step: &str, shard: Shard, key: &str) -> Result<(), PipelineError> {
    let at = task_marker(run, kind, step, shard);
    crate::stage::Marker { plan: key.to_string(), files: Vec::new(), data: () }.write(&at)?;
    Ok(())
}
