//! One pipeline from one file, on a laptop or a Slurm cluster: `kbcurate run pipeline.toml`.
//!
//! The stages (ingest → dedup → filter → balance → tokenize → audit) each write a folder in the
//! run folder. A stage is skipped when it is done for the current config and inputs
//! ([`state`]); otherwise it runs again and reuses whatever of its parts is still valid (every
//! stage keys its parts with a hash of its options and inputs), so a crashed, killed or
//! out-of-disk run is resumed by running the same command, and gives the same bytes.
//!
//! Two executors run the same [`steps`]: [`local`] runs each stage whole in this process;
//! [`slurm`] writes one sbatch script per step, per-part steps as job arrays whose tasks
//! find their shard in `SLURM_ARRAY_TASK_ID`, chained with `afterok` dependencies.

pub mod config;
pub mod local;
pub mod slurm;
pub mod state;
pub mod status;
pub mod steps;

use std::path::PathBuf;

pub use config::{Pipeline, Stage, StageKind};
pub use state::RunDir;

#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{path}: {message}")]
    Config { path: PathBuf, message: String },
    #[error("stage {stage}: {message}")]
    Stage { stage: StageKind, message: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Dataset(#[from] crate::dataset::DatasetError),
    #[error("slurm: {0}")]
    Slurm(String),
    #[error("{0}")]
    Other(String),
}

/// Which stages an invocation runs: `--from` and `--to`, both included.
#[derive(Debug, Clone, Copy, Default)]
pub struct Slice {
    pub from: Option<StageKind>,
    pub to: Option<StageKind>,
}

impl Slice {
    /// The pipeline's stages in the slice; an error if `from` or `to` is not in the pipeline.
    pub fn select<'a>(&self, p: &'a Pipeline) -> Result<Vec<&'a Stage>, PipelineError> {
        for k in [self.from, self.to].into_iter().flatten() {
            if p.stage(k).is_none() {
                let have: Vec<&str> = p.stages.iter().map(|s| s.kind.name()).collect();
                return Err(PipelineError::Other(format!(
                    "{}: has no [{k}] stage (it has {})",
                    p.path.display(),
                    have.join(", ")
                )));
            }
        }
        let v: Vec<&Stage> = p
            .stages
            .iter()
            .filter(|s| self.from.is_none_or(|f| s.kind >= f) && self.to.is_none_or(|t| s.kind <= t))
            .collect();
        if v.is_empty() {
            return Err(PipelineError::Other("--from comes after --to: no stage to run".into()));
        }
        Ok(v)
    }
}
