//! The local executor: each stage of the slice whole, in this process, in order.

use std::fs;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::config::{Pipeline, StageKind};
use super::state::{self, RunDir};
use super::steps::{self, RunOptions};
use super::{PipelineError, Slice};

#[derive(Debug, Clone, Default)]
pub struct LocalOptions {
    pub slice: Slice,
    /// Rerun the slice's stages even where they are recorded as done (their still-valid parts
    /// are reused; nothing is deleted).
    pub force: bool,
    pub run: RunOptions,
}

/// What happened to one stage.
#[derive(Debug, Clone)]
pub struct StageOutcome {
    pub stage: StageKind,
    /// False: it was already done and was skipped.
    pub ran: bool,
    pub summary: String,
    pub elapsed: Duration,
}

/// A held `RUN/_run/lock`: one local run per run folder at a time.
pub struct RunLock {
    _file: fs::File,
}

impl RunLock {
    pub fn acquire(run: &RunDir) -> Result<RunLock, PipelineError> {
        let path = run.meta("lock");
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|source| PipelineError::Io { path: path.clone(), source })?;
        match file.try_lock() {
            Ok(()) => {
                use std::io::Write;
                let _ = file.set_len(0);
                let _ = (&file).write_all(format!("{}\n", std::process::id()).as_bytes());
                Ok(RunLock { _file: file })
            }
            Err(fs::TryLockError::WouldBlock) => {
                let pid = fs::read_to_string(&path).unwrap_or_default();
                Err(PipelineError::Other(format!(
                    "{}: another kbcurate run (pid {}) is working in this run folder; wait for it or stop it",
                    run.root.display(),
                    pid.trim()
                )))
            }
            Err(fs::TryLockError::Error(source)) => Err(PipelineError::Io { path, source }),
        }
    }

    /// Whether a local run holds the folder now (for `kbcurate status`), and its pid.
    pub fn holder(run: &RunDir) -> Option<String> {
        let path = run.meta("lock");
        let file = fs::File::open(&path).ok()?;
        match file.try_lock_shared() {
            Ok(()) => None,
            Err(_) => Some(fs::read_to_string(&path).unwrap_or_default().trim().to_string()),
        }
    }
}

/// Runs the slice's stages that are not done; `say` gets a line as each stage starts and ends.
pub fn run_local(
    p: &Pipeline,
    run: &RunDir,
    o: &LocalOptions,
    mut say: impl FnMut(&str),
) -> Result<Vec<StageOutcome>, PipelineError> {
    let _lock = RunLock::acquire(run)?;
    let stages = o.slice.select(p)?;
    let n = stages.len();
    let mut outcomes = Vec::new();
    for (i, stage) in stages.into_iter().enumerate() {
        let start = Instant::now();
        if !o.force && state::is_done(p, run, stage) {
            say(&format!("[{}/{n}] {}: done already, skipped", i + 1, stage.kind));
            outcomes.push(StageOutcome {
                stage: stage.kind,
                ran: false,
                summary: String::new(),
                elapsed: start.elapsed(),
            });
            continue;
        }
        say(&format!("[{}/{n}] {}: running into {}", i + 1, stage.kind, run.stage_dir(stage.kind).display()));
        let spinner = if o.run.progress && stage.kind != StageKind::Ingest {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(ProgressStyle::with_template("{spinner} {msg} [{elapsed_precise}]").expect("valid template"));
            b.set_message(stage.kind.name());
            b.enable_steady_tick(Duration::from_millis(200));
            b
        } else {
            ProgressBar::hidden()
        };
        let mut attempt = state::Attempt { pid: std::process::id(), error: None };
        state::write_attempt(run, stage.kind, &attempt)?;
        let r = steps::run_stage(p, run, stage, &o.run);
        spinner.finish_and_clear();
        let summary = match r {
            Ok(s) => {
                state::clear_attempt(run, stage.kind);
                s
            }
            Err(e) => {
                attempt.error = Some(e.to_string());
                let _ = state::write_attempt(run, stage.kind, &attempt);
                return Err(e);
            }
        };
        say(summary.trim_end());
        outcomes.push(StageOutcome { stage: stage.kind, ran: true, summary, elapsed: start.elapsed() });
    }
    Ok(outcomes)
}
