//! `kbcurate status RUN`: per stage, done / stale / partly written / not started, and for a
//! Slurm run, the state of each submitted job and task (with its log) from `squeue`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::config::{Pipeline, StageKind};
use super::local::RunLock;
use super::slurm::{self, Client, Jobs};
use super::state::{self, RunDir};
use super::PipelineError;
use crate::dataset::{self, Manifest};

/// Where a run was started from (`RUN/_run/pipeline`), so that `status` needs only the folder.
pub fn remember_pipeline(run: &RunDir, p: &Pipeline) -> Result<(), PipelineError> {
    dataset::write_atomic(&run.meta("pipeline"), p.path.display().to_string().as_bytes())?;
    Ok(())
}

pub fn remembered_pipeline(run: &RunDir) -> Option<PathBuf> {
    std::fs::read_to_string(run.meta("pipeline")).ok().map(|s| PathBuf::from(s.trim()))
}

/// One stage's line.
#[derive(Debug, Clone, PartialEq)]
pub struct StageStatus {
    pub stage: StageKind,
    /// `done`, `stale (...)`, `incomplete`, `not started`.
    pub state: String,
    pub detail: String,
}

fn part_records(dir: &Path) -> usize {
    std::fs::read_dir(dir.join(dataset::PARTS_DIR))
        .map(|d| {
            d.flatten()
                .filter(|e| {
                    let n = e.file_name().to_string_lossy().into_owned();
                    n.starts_with("part-") && n.ends_with(".json")
                })
                .count()
        })
        .unwrap_or(0)
}

pub fn stage_statuses(p: &Pipeline, run: &RunDir) -> Vec<StageStatus> {
    p.stages
        .iter()
        .map(|stage| {
            let kind = stage.kind;
            let dir = run.stage_dir(kind);
            let detail = match Manifest::read(&dir) {
                Ok(m) => format!(
                    "{} documents in, {} kept, {} rejected",
                    m.counts.input,
                    m.counts.kept,
                    m.counts.rejected_total()
                ),
                Err(_) if kind.writes_dataset() => {
                    let n_in = state::upstream_dataset(p, kind)
                        .and_then(|u| Manifest::read(&run.stage_dir(u)).ok())
                        .map(|m| format!(" of {}", m.parts.len()))
                        .unwrap_or_default();
                    match part_records(&dir) {
                        0 => String::new(),
                        k => format!("{k}{n_in} parts written"),
                    }
                }
                Err(_) => match kind {
                    StageKind::Tokenize => crate::tokenize::stage::ShardsManifest::read(&dir)
                        .map(|m| {
                            let splits: Vec<String> = m
                                .splits
                                .iter()
                                .map(|(name, sp)| {
                                    format!("{name} {} tokens in {} windows", sp.packing.tokens, sp.packing.windows)
                                })
                                .collect();
                            splits.join(", ")
                        })
                        .unwrap_or_default(),
                    StageKind::Audit if run.output_manifest(kind).exists() => {
                        dir.join("report.html").display().to_string()
                    }
                    _ => String::new(),
                },
            };
            let held = RunLock::holder(run);
            let st = if state::is_done(p, run, stage) {
                "done".to_string()
            } else if let Some(a) = state::read_attempt(run, kind) {
                match (&a.error, &held) {
                    (Some(e), _) => {
                        return StageStatus { stage: kind, state: "failed".into(), detail: e.clone() };
                    }
                    (None, Some(_)) => format!("running (pid {})", a.pid),
                    (None, None) => "interrupted (rerun to resume)".into(),
                }
            } else {
                match state::read_state(run, kind) {
                    Some(s) if s.key != stage.key => "stale (its config changed)".into(),
                    Some(_) => "stale (its input changed)".into(),
                    None if dir.exists() => "incomplete".into(),
                    None => "not started".into(),
                }
            };
            StageStatus { stage: kind, state: st, detail }
        })
        .collect()
}

/// The whole status report, for people.
pub fn render(p: &Pipeline, run: &RunDir) -> String {
    let mut s = format!("run {} (pipeline {})\n", run.root.display(), p.path.display());
    if let Some(pid) = RunLock::holder(run) {
        s.push_str(&format!("a local run is working here now (pid {pid})\n"));
    }
    s.push('\n');
    let rows = stage_statuses(p, run);
    s.push_str(&format!("{:<10} {:<28} {}\n", "stage", "state", "detail"));
    for r in &rows {
        s.push_str(&format!("{:<10} {:<28} {}\n", r.stage.name(), r.state, r.detail));
    }
    let jobs = Jobs::read(run);
    let latest = jobs.latest();
    if !latest.is_empty() {
        s.push_str(&format!("\nslurm: submission {} of {}\n", jobs.submissions.len(), jobs.submissions.len()));
        let client = Client { timeout: Duration::from_secs(p.slurm.client_timeout_s.max(1)) };
        match slurm::task_states(&client, latest) {
            Ok(states) => s.push_str(&render_tasks(&states)),
            Err(e) => {
                s.push_str(&format!("  (cannot ask Slurm: {e})\n"));
                for j in latest {
                    s.push_str(&format!("  job {:<8} {}.{}\n", j.job_id, j.stage, j.step));
                }
            }
        }
    }
    s
}

/// Per job: counts of task states, and every task that did not complete with its log.
pub fn render_tasks(states: &[slurm::TaskState]) -> String {
    let mut s = String::new();
    let mut i = 0;
    while i < states.len() {
        let j = &states[i].job;
        let mut k = i;
        while k < states.len() && states[k].job.job_id == j.job_id {
            k += 1;
        }
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for t in &states[i..k] {
            *counts.entry(t.state.as_str()).or_default() += 1;
        }
        let counts: Vec<String> = counts.iter().map(|(st, n)| format!("{n} {st}")).collect();
        let what = j.array.as_deref().map(|a| format!(" array {a}")).unwrap_or_default();
        s.push_str(&format!(
            "  job {:<8} {:<22}{what}: {}\n",
            j.job_id,
            format!("{}.{}", j.stage, j.step),
            counts.join(", ")
        ));
        for t in &states[i..k] {
            if t.state != "COMPLETED" && t.state != "GONE" && !slurm::is_live(&t.state) {
                let shard = t.task.map(|a| format!(" shard {}", a + j.offset)).unwrap_or_default();
                let why =
                    if t.reason.is_empty() || t.reason == "None" { String::new() } else { format!(" ({})", t.reason) };
                // A task cancelled for its dependency never ran: it has no log.
                let log = if t.reason.contains("Dependency") {
                    String::new()
                } else {
                    format!("; log {}", j.log_of(t.task).display())
                };
                s.push_str(&format!("    {}{shard}: {}{why}{log}\n", j.job_id, t.state));
            }
        }
        i = k;
    }
    s
}
