//! The Slurm executor: one sbatch script per step of each stage that is not done; per-part
//! steps as job arrays (`--array=0-N%max`, each task's shard from `SLURM_ARRAY_TASK_ID`), split
//! into several jobs where the cluster's `MaxArraySize` is smaller; single steps as one job;
//! each step depending on the previous one with `afterok` and `--kill-on-invalid-dep=yes`, so
//! a failure cancels what depends on it instead of leaving it pending for ever.
//!
//! Job ids go to `RUN/_run/slurm/jobs.json`. A task that succeeds leaves a marker
//! (`RUN/_run/done/`), so a resubmission after a failure submits only the tasks that did not
//! complete (and everything after them). Only the plain-text forms of `sbatch --parsable`,
//! `squeue -o` and `scontrol show config` are parsed (their JSON forms change between Slurm
//! versions), and every client call has a timeout: misconfigured clients can hang for ever.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::config::{Pipeline, SlurmSettings, StageKind};
use super::state::{self, RunDir};
use super::steps::{self, StepSpec};
use super::{PipelineError, Slice};
use crate::dataset::{self, Shard};

/// Runs Slurm's client commands with a timeout.
#[derive(Debug, Clone)]
pub struct Client {
    pub timeout: Duration,
}

impl Client {
    /// Runs `program args`, returning its stdout; an error with its stderr if it fails, and
    /// an error (after killing it) if it takes longer than the timeout.
    pub fn call(&self, program: &str, args: &[String]) -> Result<String, PipelineError> {
        let shown = format!("{program} {}", args.join(" "));
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                PipelineError::Slurm(format!(
                    "cannot run `{program}`: {e} (is this a Slurm login node with the client commands on PATH?)"
                ))
            })?;
        // Read both pipes on threads so a chatty command cannot block on a full pipe.
        let mut out = child.stdout.take().expect("piped");
        let mut err = child.stderr.take().expect("piped");
        let t_out = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        });
        let t_err = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        });
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(st)) => break st,
                Ok(None) if start.elapsed() > self.timeout => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(PipelineError::Slurm(format!(
                        "`{shown}` did not answer within {} s (is slurmctld reachable? SLURM_CONF?)",
                        self.timeout.as_secs()
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(PipelineError::Slurm(format!("`{shown}`: {e}"))),
            }
        };
        let (stdout, stderr) = (t_out.join().unwrap_or_default(), t_err.join().unwrap_or_default());
        if !status.success() {
            return Err(PipelineError::Slurm(format!("`{shown}` failed ({status}): {}", stderr.trim())));
        }
        Ok(stdout)
    }

    /// The cluster's `MaxArraySize` (array indices must be below it).
    pub fn max_array_size(&self) -> Result<u32, PipelineError> {
        let text = self.call("scontrol", &["show".into(), "config".into()])?;
        text.lines()
            .find_map(|l| {
                let (k, v) = l.split_once('=')?;
                (k.trim() == "MaxArraySize").then(|| v.trim().parse().ok()).flatten()
            })
            .ok_or_else(|| PipelineError::Slurm("`scontrol show config` gave no MaxArraySize".into()))
    }

    /// This user's jobs (array tasks one per line), finished ones included while Slurm still
    /// remembers them (`MinJobAge`).
    pub fn queue(&self) -> Result<Vec<QueueEntry>, PipelineError> {
        let text = self.call(
            "squeue",
            &["--me".into(), "-h".into(), "-r".into(), "-t".into(), "all".into(), "-o".into(), "%i|%T|%r".into()],
        )?;
        Ok(text.lines().filter_map(QueueEntry::parse).collect())
    }
}

/// One line of `squeue -r -o '%i|%T|%r'`: `%i` is `JOB` or `JOB_TASK` (`%A`/`%a` are not used:
/// Slurm 22.05 prints a finished array task's own job id and `(null)` there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueEntry {
    pub job: String,
    /// The array task, for array jobs.
    pub task: Option<u32>,
    pub state: String,
    pub reason: String,
}

impl QueueEntry {
    fn parse(line: &str) -> Option<QueueEntry> {
        let mut f = line.trim().split('|');
        let (id, state, reason) = (f.next()?, f.next()?, f.next().unwrap_or(""));
        let (job, task) = match id.trim().split_once('_') {
            Some((j, t)) => (j, t.parse().ok()),
            None => (id.trim(), None),
        };
        Some(QueueEntry {
            job: job.to_string(),
            task,
            state: state.trim().to_string(),
            reason: reason.trim().to_string(),
        })
    }

    /// Still queued or running.
    pub fn live(&self) -> bool {
        is_live(&self.state)
    }
}

/// Whether a job state means queued or running (not ended).
pub fn is_live(state: &str) -> bool {
    matches!(
        state,
        "PENDING"
            | "RUNNING"
            | "CONFIGURING"
            | "COMPLETING"
            | "SUSPENDED"
            | "REQUEUED"
            | "REQUEUE_HOLD"
            | "RESIZING"
            | "SIGNALING"
            | "STAGE_OUT"
    )
}

/// One submitted job: a step of a stage, for some of its shards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub stage: StageKind,
    pub step: String,
    pub job_id: String,
    /// The shards this job runs (its array indices plus `offset`); `[0]` for a single job.
    pub shards: Vec<u32>,
    /// Shards of the step in all.
    pub shard_count: u32,
    /// Array index + offset = shard (arrays larger than MaxArraySize are split).
    pub offset: u32,
    /// `--array=` value, for array jobs.
    pub array: Option<String>,
    pub dependency: Vec<String>,
    pub script: PathBuf,
    /// The log file's pattern (`%A`: job id, `%a`: array index, `%j`: job id).
    pub log: String,
}

impl JobRecord {
    pub fn log_of(&self, task: Option<u32>) -> PathBuf {
        let mut s = self.log.replace("%A", &self.job_id).replace("%j", &self.job_id);
        if let Some(t) = task {
            s = s.replace("%a", &t.to_string());
        }
        PathBuf::from(s)
    }
}

/// `RUN/_run/slurm/jobs.json`: every submission, the latest last.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Jobs {
    pub submissions: Vec<Vec<JobRecord>>,
}

impl Jobs {
    pub fn path(run: &RunDir) -> PathBuf {
        run.meta("slurm").join("jobs.json")
    }

    pub fn read(run: &RunDir) -> Jobs {
        std::fs::read(Jobs::path(run)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    fn write(&self, run: &RunDir) -> Result<(), PipelineError> {
        dataset::write_atomic(&Jobs::path(run), &serde_json::to_vec_pretty(self).expect("jobs serialize"))?;
        Ok(())
    }

    pub fn latest(&self) -> &[JobRecord] {
        self.submissions.last().map(Vec::as_slice).unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Default)]
pub struct SlurmOptions {
    pub slice: Slice,
    /// Rerun the slice's stages even where they are recorded as done.
    pub force: bool,
    /// Poll the queue until the submitted jobs end.
    pub wait: bool,
}

/// `0-3,5,7-9` from sorted indices.
pub fn array_spec(indices: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { indices[i].to_string() } else { format!("{}-{}", indices[i], indices[j]) });
        i = j + 1;
    }
    parts.join(",")
}

/// Splits shard indices into (offset, array indices) groups whose indices stay below
/// `max_array_size`.
pub fn split_arrays(shards: &[u32], max_array_size: u32) -> Vec<(u32, Vec<u32>)> {
    let m = max_array_size.max(1);
    let mut groups: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &s in shards {
        groups.entry(s / m * m).or_default().push(s % m);
    }
    groups.into_iter().collect()
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A value on an `#SBATCH` line, double-quoted as sbatch reads it, so that a space or a quote
/// in a run folder's path stays inside the option. (Control characters are refused earlier:
/// `SlurmSettings::check` and `submit`.)
fn sbatch_value(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', r"\\").replace('"', r#"\""#))
}

/// The text of one job script.
#[allow(clippy::too_many_arguments)]
pub fn script(
    p: &Pipeline,
    run: &RunDir,
    binary: &Path,
    kind: StageKind,
    step: &StepSpec,
    shard_count: u32,
    array: Option<(&str, u32)>,
    settings: &SlurmSettings,
    log: &str,
) -> String {
    let mut s = String::from("#!/bin/bash\n");
    s.push_str(&format!("#SBATCH --job-name=kbc-{kind}-{}\n", step.name));
    s.push_str(&format!("#SBATCH --output={}\n", sbatch_value(log)));
    if let Some((spec, _)) = array {
        let limit = settings.max_parallel.map(|m| format!("%{m}")).unwrap_or_default();
        s.push_str(&format!("#SBATCH --array={spec}{limit}\n"));
    }
    s.push_str(&format!("#SBATCH --cpus-per-task={}\n", settings.cpus_per_task.unwrap_or(1)));
    for (opt, v) in [
        ("partition", &settings.partition),
        ("account", &settings.account),
        ("time", &settings.time),
        ("mem", &settings.mem),
    ] {
        if let Some(v) = v {
            s.push_str(&format!("#SBATCH --{opt}={}\n", sbatch_value(v)));
        }
    }
    for e in &settings.extra {
        s.push_str(&format!("#SBATCH {e}\n"));
    }
    s.push_str("#SBATCH --kill-on-invalid-dep=yes\n");
    s.push_str("set -euo pipefail\n");
    // `kbcurate --sync` lives in the submitting process only (the command line sets `[run]
    // sync` of the pipeline it read); a site that submits with `--export=NONE` would drop an
    // inherited KBCURATE_SYNC too. (`[run] sync` in the file is read by the task itself.)
    if p.run.sync {
        s.push_str("export KBCURATE_SYNC=1\n");
    }
    for line in &settings.setup {
        s.push_str(line);
        s.push('\n');
    }
    let shard = match array {
        Some((_, offset)) => format!(" --shard $((SLURM_ARRAY_TASK_ID + {offset}))/{shard_count}"),
        None => String::new(),
    };
    s.push_str(&format!(
        "exec {} run {} --run-dir {} --task {kind}.{}{shard} -j \"${{SLURM_CPUS_PER_TASK:-1}}\"\n",
        quote(&binary.display().to_string()),
        quote(&p.path.display().to_string()),
        quote(&run.root.display().to_string()),
        step.name,
    ));
    s
}

/// Submits the slice's stages that are not done; returns the jobs submitted (none when
/// everything is done).
pub fn submit(
    p: &Pipeline,
    run: &RunDir,
    o: &SlurmOptions,
    mut say: impl FnMut(&str),
) -> Result<Vec<JobRecord>, PipelineError> {
    let client = Client { timeout: Duration::from_secs(p.slurm.client_timeout_s.max(1)) };
    let mut jobs = Jobs::read(run);
    let live: Vec<String> = {
        let ours: Vec<&str> = jobs.latest().iter().map(|j| j.job_id.as_str()).collect();
        if ours.is_empty() {
            Vec::new()
        } else {
            let mut v: Vec<String> = client
                .queue()?
                .into_iter()
                .filter(|e| e.live() && ours.contains(&e.job.as_str()))
                .map(|e| e.job)
                .collect();
            v.dedup();
            v
        }
    };
    if !live.is_empty() {
        return Err(PipelineError::Slurm(format!(
            "jobs of the previous submission are still queued or running ({}): wait for them \
             (`kbcurate status {}`) or cancel them (`scancel {}`)",
            live.join(", "),
            run.root.display(),
            live.join(" ")
        )));
    }
    let stages = o.slice.select(p)?;
    let binary = match &p.slurm.binary {
        Some(b) => b.clone(),
        None => std::env::current_exe().map_err(|e| PipelineError::Other(format!("where is this kbcurate? {e}")))?,
    };
    let max_array = match p.slurm.max_array_size {
        Some(m) => m,
        None => client.max_array_size()?,
    };
    let scripts = run.meta("slurm").join("scripts");
    std::fs::create_dir_all(&scripts).map_err(|source| PipelineError::Io { path: scripts.clone(), source })?;
    std::fs::create_dir_all(run.logs()).map_err(|source| PipelineError::Io { path: run.logs(), source })?;
    let n_sub = jobs.submissions.len();
    let mut submitted: Vec<JobRecord> = Vec::new();
    let mut deps: Vec<String> = Vec::new();
    // Markers count only while everything upstream is done and unchanged.
    let mut upstream_settled = true;
    for stage in stages {
        // Once a stage is submitted, every later one is too: its input is about to change.
        if upstream_settled && !o.force && state::is_done(p, run, stage) {
            say(&format!("{}: done already, not submitted", stage.kind));
            continue;
        }
        state::clear_done(run, stage.kind)?;
        let task_key = if upstream_settled && !o.force { state::task_key(p, run, stage) } else { None };
        upstream_settled = false;
        let settings = p.slurm.settings.overridden(stage.slurm.as_ref());
        for step in steps::steps(stage.kind) {
            let count = if step.per_part { stage.shards() } else { 1 };
            let todo: Vec<u32> = (0..count)
                .filter(|&i| {
                    let shard = if step.per_part { Shard { index: i, count } } else { Shard::WHOLE };
                    !task_key.as_deref().is_some_and(|k| state::marker_ok(run, stage.kind, step.name, shard, k))
                })
                .collect();
            if todo.is_empty() {
                say(&format!("{}.{}: all {count} tasks done already", stage.kind, step.name));
                continue;
            }
            let groups: Vec<(u32, Vec<u32>)> =
                if step.per_part { split_arrays(&todo, max_array) } else { vec![(0, Vec::new())] };
            let mut step_ids = Vec::new();
            for (g, (offset, idx)) in groups.into_iter().enumerate() {
                let name = format!("{n_sub:03}-{}.{}.{g}", stage.kind, step.name);
                let (array, log) = if step.per_part {
                    (Some(array_spec(&idx)), run.logs().join(format!("{}.{}-%A_%a.log", stage.kind, step.name)))
                } else {
                    (None, run.logs().join(format!("{}.{}-%j.log", stage.kind, step.name)))
                };
                let log = log.display().to_string();
                if log.chars().any(char::is_control) {
                    return Err(PipelineError::Other(format!(
                        "{}: the run folder's path holds a control character (a newline?), which a job script \
                         cannot carry: choose another --run-dir",
                        log.escape_debug()
                    )));
                }
                let text = script(
                    p,
                    run,
                    &binary,
                    stage.kind,
                    step,
                    count,
                    array.as_deref().map(|a| (a, offset)),
                    &settings,
                    &log,
                );
                let path = scripts.join(format!("{name}.sbatch"));
                dataset::write_atomic(&path, text.as_bytes())?;
                let mut args = vec!["--parsable".to_string()];
                if !deps.is_empty() {
                    args.push(format!("--dependency=afterok:{}", deps.join(":")));
                }
                args.push(path.display().to_string());
                let out = client.call("sbatch", &args)?;
                // `--parsable` prints `jobid` or `jobid;cluster`.
                let job_id = out.trim().split(';').next().unwrap_or("").to_string();
                if job_id.is_empty() || !job_id.chars().all(|c| c.is_ascii_digit()) {
                    return Err(PipelineError::Slurm(format!(
                        "sbatch {} printed `{}`, not a job id",
                        path.display(),
                        out.trim()
                    )));
                }
                let shards: Vec<u32> = if step.per_part { idx.iter().map(|i| i + offset).collect() } else { vec![0] };
                say(&format!(
                    "{}.{}: job {job_id}{}",
                    stage.kind,
                    step.name,
                    array.as_deref().map(|a| format!(" (array {a}, shards of {count})")).unwrap_or_default()
                ));
                step_ids.push(job_id.clone());
                submitted.push(JobRecord {
                    stage: stage.kind,
                    step: step.name.to_string(),
                    job_id,
                    shards,
                    shard_count: count,
                    offset,
                    array,
                    dependency: deps.clone(),
                    script: path,
                    log,
                });
            }
            deps = step_ids;
        }
    }
    if !submitted.is_empty() {
        jobs.submissions.push(submitted.clone());
        jobs.write(run)?;
    }
    Ok(submitted)
}

/// Cancels the latest submission's jobs that are still queued or running; returns their ids.
pub fn cancel(p: &Pipeline, run: &RunDir) -> Result<Vec<String>, PipelineError> {
    let client = Client { timeout: Duration::from_secs(p.slurm.client_timeout_s.max(1)) };
    let jobs = Jobs::read(run);
    let ours: Vec<&str> = jobs.latest().iter().map(|j| j.job_id.as_str()).collect();
    let mut live: Vec<String> =
        client.queue()?.into_iter().filter(|e| e.live() && ours.contains(&e.job.as_str())).map(|e| e.job).collect();
    live.sort();
    live.dedup();
    if !live.is_empty() {
        client.call("scancel", &live)?;
    }
    Ok(live)
}

/// A task's final state as far as the queue knows.
#[derive(Debug, Clone)]
pub struct TaskState {
    pub job: JobRecord,
    pub task: Option<u32>,
    pub state: String,
    pub reason: String,
}

/// The latest submission's tasks with their queue states (`GONE` once Slurm forgot them).
pub fn task_states(client: &Client, jobs: &[JobRecord]) -> Result<Vec<TaskState>, PipelineError> {
    let q = client.queue()?;
    let mut out = Vec::new();
    for j in jobs {
        let entries: Vec<&QueueEntry> = q.iter().filter(|e| e.job == j.job_id).collect();
        if entries.is_empty() {
            out.push(TaskState { job: j.clone(), task: None, state: "GONE".into(), reason: String::new() });
        }
        for e in entries {
            out.push(TaskState { job: j.clone(), task: e.task, state: e.state.clone(), reason: e.reason.clone() });
        }
    }
    Ok(out)
}

/// Polls until none of `jobs` is queued or running; returns their last states.
pub fn wait(p: &Pipeline, jobs: &[JobRecord], mut say: impl FnMut(&str)) -> Result<Vec<TaskState>, PipelineError> {
    let client = Client { timeout: Duration::from_secs(p.slurm.client_timeout_s.max(1)) };
    let poll = Duration::from_secs_f64(p.slurm.poll_s.max(0.1));
    let mut last = String::new();
    loop {
        let states = task_states(&client, jobs)?;
        let live = states.iter().filter(|t| is_live(&t.state)).count();
        let line = format!("{live} of {} tasks queued or running", states.len());
        if line != last {
            say(&line);
            last = line;
        }
        if live == 0 {
            return Ok(states);
        }
        std::thread::sleep(poll);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_compress_runs() {
        assert_eq!(array_spec(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_spec(&[1]), "1");
        assert_eq!(array_spec(&[0, 2, 3, 4, 7, 9, 10]), "0,2-4,7,9-10");
    }

    #[test]
    fn arrays_split_below_max_array_size() {
        let all: Vec<u32> = (0..2500).collect();
        let groups = split_arrays(&all, 1001);
        assert_eq!(groups.len(), 3);
        assert_eq!(groups[0].0, 0);
        assert_eq!(groups[1].0, 1001);
        assert_eq!(groups[2].0, 2002);
        assert!(groups.iter().all(|(_, idx)| idx.iter().all(|&i| i < 1001)));
        let back: Vec<u32> = groups.iter().flat_map(|(o, idx)| idx.iter().map(move |i| i + o)).collect();
        assert_eq!(back, all);
        assert_eq!(split_arrays(&[3, 1500], 1001), vec![(0, vec![3]), (1001, vec![499])]);
    }

    #[test]
    fn squeue_lines_parse() {
        let e = QueueEntry::parse("30_1|FAILED|NonZeroExitCode").unwrap();
        assert_eq!((e.job.as_str(), e.task, e.state.as_str()), ("30", Some(1), "FAILED"));
        assert!(!e.live());
        let e = QueueEntry::parse("31|PENDING|Dependency").unwrap();
        assert_eq!((e.job.as_str(), e.task), ("31", None));
        assert!(e.live());
        let e = QueueEntry::parse("32_[0-7%2]|PENDING|Dependency").unwrap();
        assert_eq!((e.job.as_str(), e.task), ("32", None));
    }

    #[test]
    fn scripts_carry_the_settings_and_the_shard() {
        let dir = std::env::temp_dir().join(format!("kbc-slurm-script-{}", std::process::id()));
        let run = RunDir::create(&dir).unwrap();
        let p = Pipeline::parse(
            "[ingest]\nconfig = \"collections.toml\"\nshards = 1500\n[slurm]\npartition = \"main\"\nmem = \"8G\"\n\
             max_parallel = 16\nextra = [\"--qos=long\"]\nsetup = [\"module load zstd\"]\n",
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/p.toml"),
        )
        .unwrap();
        let st = &p.stages[0];
        let settings = p.slurm.settings.overridden(st.slurm.as_ref());
        let text = script(
            &p,
            &run,
            Path::new("/opt/kb/kbcurate"),
            st.kind,
            &steps::steps(st.kind)[0],
            1500,
            Some(("0-498", 1001)),
            &settings,
            "/logs/x-%A_%a.log",
        );
        for want in [
            "#SBATCH --array=0-498%16\n",
            "#SBATCH --partition=\"main\"\n",
            "#SBATCH --mem=\"8G\"\n",
            "#SBATCH --qos=long\n",
            "#SBATCH --kill-on-invalid-dep=yes\n",
            "#SBATCH --output=\"/logs/x-%A_%a.log\"\n",
            "module load zstd\n",
            "--task ingest.parts --shard $((SLURM_ARRAY_TASK_ID + 1001))/1500",
            "exec '/opt/kb/kbcurate' run '",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        let single =
            script(&p, &run, Path::new("/k"), st.kind, &steps::steps(st.kind)[1], 1, None, &settings, "/l-%j.log");
        assert!(!single.contains("--array") && !single.contains("--shard"), "{single}");
        // A run folder with a space and a quote stays one sbatch value (sbatch reads the
        // double quotes and the backslash; checked against the local Slurm by hand).
        let odd = script(
            &p,
            &run,
            Path::new("/k"),
            st.kind,
            &steps::steps(st.kind)[1],
            1,
            None,
            &settings,
            "/runs/a b\"c/l-%j.log",
        );
        assert!(odd.contains("#SBATCH --output=\"/runs/a b\\\"c/l-%j.log\"\n"), "{odd}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A submission with syncing asked for (`kbcurate --sync run`) passes it to every task.
    /// Setting it here makes this test process's other stages sync too: slower, same outputs.
    #[test]
    fn scripts_carry_sync_when_asked() {
        let dir = std::env::temp_dir().join(format!("kbc-slurm-sync-{}", std::process::id()));
        let run = RunDir::create(&dir).unwrap();
        let mut p = Pipeline::parse(
            "[ingest]\nconfig = \"collections.toml\"\n",
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/p.toml"),
        )
        .unwrap();
        let without = {
            let st = &p.stages[0];
            let settings = p.slurm.settings.overridden(st.slurm.as_ref());
            script(&p, &run, Path::new("/k"), st.kind, &steps::steps(st.kind)[1], 1, None, &settings, "/l-%j.log")
        };
        assert!(!without.contains("KBCURATE_SYNC"), "{without}");
        p.run.sync = true;
        let st = &p.stages[0];
        let settings = p.slurm.settings.overridden(st.slurm.as_ref());
        let step = &steps::steps(st.kind)[1];
        let text = script(&p, &run, Path::new("/k"), st.kind, step, 1, None, &settings, "/l-%j.log");
        assert!(text.contains("\nexport KBCURATE_SYNC=1\n"), "{text}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
