//! The Slurm executor on a real (one-node) Slurm: the demo pipeline through sbatch gives the
//! same bytes as the local executor; a failing task cancels its dependants; a resubmission
//! runs only what is missing and completes.
//!
//! Needs a running cluster and `KBC_SLURM_TESTS=1`: `.ci/run` starts one when it runs as root
//! (`../shared/slurm/start-local-slurm.sh`). Elsewhere the test prints why it skips.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn kbcurate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kbcurate"))
}

/// Runs `cmd`, killing it after `secs` (a stuck scheduler must fail the test, not hang it).
fn run_for(mut cmd: Command, secs: u64) -> Output {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(secs) {
            child.kill().unwrap();
            let o = child.wait_with_output().unwrap();
            panic!("timed out after {secs}s:\n{}", String::from_utf8_lossy(&o.stderr));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

fn cluster_ready() -> bool {
    if std::env::var("KBC_SLURM_TESTS").ok().as_deref() != Some("1") {
        common::skip(
            "slurm",
            "KBC_SLURM_TESTS=1 not set (.ci/run sets it after starting a one-node Slurm as root; \
             see ../shared/slurm/README.md)",
        );
        return false;
    }
    let mut c = Command::new("sinfo");
    c.arg("-h");
    match c.stdin(Stdio::null()).output() {
        Ok(o) if o.status.success() => true,
        Ok(o) => panic!("KBC_SLURM_TESTS=1 but sinfo fails: {}", String::from_utf8_lossy(&o.stderr)),
        Err(e) => panic!("KBC_SLURM_TESTS=1 but sinfo cannot run: {e}"),
    }
}

fn jobs(run: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(run.join("_run/slurm/jobs.json")).unwrap()).unwrap()
}

#[test]
fn slurm_matches_local_and_resubmits_only_failed_tasks() {
    if !cluster_ready() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let p = common::demo_pipeline(tmp.path(), 1);
    let run = tmp.path().join("run");

    let o = run_for(
        {
            let mut c = kbcurate();
            c.arg("run").arg(&p).arg("--quiet");
            c
        },
        300,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let local = common::tree(&run);
    std::fs::remove_dir_all(&run).unwrap();

    // The whole pipeline through sbatch.
    let submit = |fail: Option<&str>| {
        let mut c = kbcurate();
        c.arg("run").arg(&p).args(["--executor", "slurm", "--wait"]).env_remove("KBCURATE_FAIL_TASK");
        if let Some(f) = fail {
            c.env("KBCURATE_FAIL_TASK", f);
        }
        run_for(c, 600)
    };
    let o = submit(None);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{e}");
    assert!(e.contains("all stages done"), "{e}");
    assert_eq!(common::tree(&run), local, "Slurm and local outputs differ");
    let j = jobs(&run);
    let first = j["submissions"][0].as_array().unwrap();
    assert!(first.iter().any(|r| r["step"] == "signatures" && r["array"] == "0-1"), "{j:#}");
    assert!(run.join("_run/logs").read_dir().unwrap().count() >= first.len());

    // Submitted without --wait, then cancelled: nothing of it is left in the queue, and a
    // resubmission is refused while something is.
    std::fs::remove_dir_all(&run).unwrap();
    let o = run_for(
        {
            let mut c = kbcurate();
            c.arg("run").arg(&p).args(["--executor", "slurm"]);
            c
        },
        120,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = run_for(
        {
            let mut c = kbcurate();
            c.arg("run").arg(&p).args(["--executor", "slurm"]);
            c
        },
        120,
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("still queued or running"), "{e}");
    let o = run_for(
        {
            let mut c = kbcurate();
            c.arg("run").arg(&p).args(["--executor", "slurm", "--cancel"]);
            c
        },
        120,
    );
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success() && e.contains("cancelled"), "{e}");
    let st = String::from_utf8_lossy(&kbcurate().arg("status").arg(&run).output().unwrap().stdout).into_owned();
    assert!(st.contains("CANCELLED") && !st.contains("PENDING") && !st.contains("RUNNING"), "{st}");

    // A failing task: its dependants are cancelled, the stages after it are not done.
    std::fs::remove_dir_all(&run).unwrap();
    let o = submit(Some("filter.parts.1"));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{e}");
    assert!(e.contains("shard 1: FAILED"), "{e}");
    assert!(e.contains("CANCELLED (DependencyNeverSatisfied)"), "{e}");
    let st = String::from_utf8_lossy(&kbcurate().arg("status").arg(&run).output().unwrap().stdout).into_owned();
    for (stage, want) in [("dedup", "done"), ("filter", "incomplete"), ("tokenize", "not started")] {
        assert!(st.lines().any(|l| l.starts_with(stage) && l.contains(want)), "{stage} not {want}:\n{st}");
    }
    let log = std::fs::read_dir(run.join("_run/logs"))
        .unwrap()
        .flatten()
        .find(|e| {
            e.file_name().to_string_lossy().starts_with("filter.parts-")
                && e.file_name().to_string_lossy().ends_with("_1.log")
        })
        .expect("the failed task's log");
    assert!(std::fs::read_to_string(log.path()).unwrap().contains("fails on purpose"));

    // The resubmission runs the failed task alone, then everything after it.
    let o = submit(None);
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{e}");
    let j = jobs(&run);
    let second = j["submissions"].as_array().unwrap().last().unwrap().as_array().unwrap();
    assert_eq!(second[0]["stage"], "filter", "{j:#}");
    assert_eq!(second[0]["step"], "parts");
    assert_eq!(second[0]["array"], "1", "only the failed shard: {j:#}");
    assert!(!second.iter().any(|r| r["stage"] == "ingest" || r["stage"] == "dedup"), "{j:#}");
    assert_eq!(common::tree(&run), local, "outputs after the resubmission differ from the local run");
}
