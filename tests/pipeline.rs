//! `kbcurate run` with the local executor: the demo pipeline, resuming, invalidation by config,
//! `kbcurate status`, and runs killed at random points that resume to the same bytes.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn kbcurate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kbcurate"))
}

fn ok(o: Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{stderr}");
    stderr
}

#[test]
fn demo_pipeline_runs_resumes_and_reruns_what_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::demo_pipeline(tmp.path(), 1);
    let run = tmp.path().join("run");
    let e = ok(kbcurate().arg("run").arg(&p).args(["--quiet", "-j", "2"]).output().unwrap());
    assert!(e.contains("6 stages ran, 0 were done already"), "{e}");
    for f in ["ingest/manifest.json", "dedup/manifest.json", "filter/manifest.json", "balance/plan.json"] {
        assert!(run.join(f).exists(), "{f} missing:\n{e}");
    }
    assert!(run.join("tokenize/manifest.json").exists() && run.join("audit/report.html").exists());
    let first = common::tree(&run);

    // Done stages are skipped and nothing changes.
    let e = ok(kbcurate().arg("run").arg(&p).arg("--quiet").output().unwrap());
    assert!(e.contains("0 stages ran, 6 were done already"), "{e}");
    assert_eq!(common::tree(&run), first);

    // The same run with one thread, from scratch: the same bytes.
    std::fs::remove_dir_all(&run).unwrap();
    ok(kbcurate().arg("run").arg(&p).args(["--quiet", "-j", "1"]).output().unwrap());
    assert_eq!(common::tree(&run), first);

    // `status` names every stage as done.
    let o = kbcurate().arg("status").arg(&run).output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for stage in ["ingest", "dedup", "filter", "balance", "tokenize", "audit"] {
        assert!(s.lines().any(|l| l.starts_with(stage) && l.contains("done")), "{stage} not done:\n{s}");
    }

    // A new balance seed: balance and what follows rerun, what precedes it does not.
    let p2 = common::demo_pipeline(tmp.path(), 2);
    let s = String::from_utf8_lossy(
        &kbcurate().arg("status").arg(&run).arg("--pipeline").arg(&p2).output().unwrap().stdout,
    )
    .into_owned();
    assert!(s.lines().any(|l| l.starts_with("balance") && l.contains("stale (its config changed)")), "{s}");
    let e = ok(kbcurate().arg("run").arg(&p2).arg("--quiet").output().unwrap());
    for (stage, ran) in
        [("ingest", false), ("dedup", false), ("filter", false), ("balance", true), ("tokenize", true), ("audit", true)]
    {
        let skipped = e.contains(&format!("{stage}: done already, skipped"));
        assert_eq!(skipped, !ran, "{stage}: ran={ran} expected\n{e}");
    }
    let second = common::tree(&run);
    for f in ["ingest/manifest.json", "dedup/manifest.json", "filter/manifest.json"] {
        assert_eq!(first[f], second[f], "{f}");
    }
    assert_ne!(first["balance/plan.json"], second["balance/plan.json"]);

    // --from/--to run a slice; --force reruns a done stage without changing its bytes.
    let e = ok(kbcurate()
        .arg("run")
        .arg(&p2)
        .args(["--quiet", "--from", "dedup", "--to", "filter", "--force"])
        .output()
        .unwrap());
    assert!(e.contains("2 stages ran"), "{e}");
    assert_eq!(common::tree(&run), second);
}

#[test]
fn pipeline_errors_name_the_file_and_the_problem() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("pipeline.toml");
    std::fs::write(&p, "[ingest]\nconfig = \"missing.toml\"\n").unwrap();
    let o = kbcurate().arg("run").arg(&p).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(e.contains("pipeline.toml") && e.contains("missing.toml"), "{e}");
    // A stage whose input is not there says which stage to run first.
    let demo = common::demo_pipeline(tmp.path(), 1);
    let o = kbcurate().arg("run").arg(&demo).args(["--from", "filter"]).output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(e.contains("run the `dedup` stage first"), "{e}");
    // A stage that fails at run time: the error names it, and `status` says it failed and why.
    let collections = common::repo().join("data-samples/collections.toml");
    let bad = tmp.path().join("bad.toml");
    std::fs::write(
        &bad,
        format!(
            "[run]\ndir = \"badrun\"\n[ingest]\nconfig = {collections:?}\n[tokenize]\ntokenizer = \"nope.json\"\nseq_len = 64\neos = \"0\"\n"
        ),
    )
    .unwrap();
    let o = kbcurate().arg("run").arg(&bad).arg("--quiet").output().unwrap();
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && e.contains("stage tokenize") && e.contains("nope.json"), "{e}");
    let o = kbcurate().arg("status").arg(tmp.path().join("badrun")).output().unwrap();
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.lines().any(|l| l.starts_with("ingest") && l.contains("done")), "{s}");
    assert!(s.lines().any(|l| l.starts_with("tokenize") && l.contains("failed") && l.contains("nope.json")), "{s}");
    let o = kbcurate().arg("status").arg(tmp.path().join("nowhere")).output().unwrap();
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a run folder"));
}

/// A corpus big enough that a run takes a few seconds: JSONL letters of Swedish words, made
/// from a seeded generator, with every tenth letter a lightly edited copy of an earlier one.
fn write_corpus(dir: &Path) {
    const WORDS: &[&str] = &[
        "och",
        "att",
        "det",
        "som",
        "en",
        "på",
        "är",
        "av",
        "för",
        "med",
        "till",
        "den",
        "har",
        "de",
        "inte",
        "om",
        "ett",
        "han",
        "men",
        "var",
        "jag",
        "sig",
        "från",
        "vi",
        "så",
        "kan",
        "man",
        "när",
        "år",
        "säger",
        "hon",
        "under",
        "också",
        "efter",
        "eller",
        "nu",
        "sin",
        "där",
        "vid",
        "mot",
        "ska",
        "skulle",
        "kommer",
        "ut",
        "får",
        "finns",
        "vara",
        "hade",
        "alla",
        "andra",
        "mycket",
        "än",
        "här",
        "då",
        "sedan",
        "över",
        "bara",
        "staden",
        "kyrkan",
        "skolan",
        "bonden",
        "hustrun",
        "brevet",
        "tidningen",
        "riksdagen",
        "kungen",
        "hamnen",
        "vintern",
        "sommaren",
        "skörden",
        "priset",
        "järnvägen",
        "fabriken",
        "arbetarna",
        "läraren",
        "barnen",
    ];
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut docs: Vec<String> = Vec::new();
    let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("letters.jsonl")).unwrap());
    for i in 0..4000 {
        let text = if i % 10 == 9 {
            let mut t = docs[(next() % docs.len() as u64) as usize].clone();
            let mid = t.char_indices().map(|(i, _)| i).nth(t.chars().count() / 2).unwrap_or(0);
            t.insert_str(mid, " och så vidare ");
            t
        } else {
            let mut t = String::new();
            for s in 0..(4 + next() % 12) {
                for w in 0..(6 + next() % 10) {
                    let word = WORDS[(next() % WORDS.len() as u64) as usize];
                    if w == 0 {
                        let mut c = word.chars();
                        t.extend(c.next().unwrap().to_uppercase());
                        t.push_str(c.as_str());
                    } else {
                        t.push(' ');
                        t.push_str(word);
                    }
                }
                t.push_str(if s % 3 == 2 { ".\n" } else { ". " });
            }
            t
        };
        let year = 1880 + (next() % 60);
        let genre = ["letter", "newspaper", "book"][(next() % 3) as usize];
        writeln!(
            f,
            "{}",
            serde_json::json!({ "id": format!("doc-{i:05}"), "text": text, "date": year.to_string(), "genre": genre })
        )
        .unwrap();
        docs.push(text);
    }
}

const KILL_PIPELINE: &str = r#"
[run]
dir = "run"

[ingest]
part_size_mb = 0.25
[[ingest.collection]]
name = "letters"
paths = ["letters.jsonl"]
format = "jsonl"
source = "Brevsamlingen"
language = "swe"
date = { from = "metadata" }

[dedup]
boilerplate_min_docs = 50

[balance]
[balance.policy]
seed = 3
max_repeats = 3
[balance.policy.budget]
unit = "documents"
[balance.policy.dimension.decade]
strategy = "uniform"
[balance.policy.dimension.genre]
strategy = "proportional"

[tokenize]
tokenizer = "cl100k_base"
seq_len = 256
packing = "concat"
eos = "<|endoftext|>"
val_fraction = 0.05
seed = 9

[audit]
"#;

/// Kills `kbcurate run` with SIGKILL at seeded random moments, then reruns it: the result is
/// byte-identical to an uninterrupted run, every time.
#[test]
fn killed_runs_resume_to_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    write_corpus(tmp.path());
    let p = tmp.path().join("pipeline.toml");
    std::fs::write(&p, KILL_PIPELINE).unwrap();
    let run = tmp.path().join("run");
    let t0 = Instant::now();
    let e = ok(kbcurate().arg("run").arg(&p).arg("--quiet").output().unwrap());
    let full = t0.elapsed();
    assert!(e.contains("5 stages ran"), "{e}");
    let reference = common::tree(&run);
    assert!(
        reference.keys().any(|k| k.starts_with("ingest/data/part-00003")),
        "want several parts: {:?}",
        reference.keys()
    );
    eprintln!("uninterrupted run: {:.2}s, {} files", full.as_secs_f64(), reference.len());

    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut kills_mid_run = 0;
    // Four rounds, and more (up to eight) until three kills have landed while the run was
    // working: the uninterrupted run was timed while other tests ran, so a later run can be
    // faster and finish before a late kill.
    for round in 0..8 {
        if round >= 4 && kills_mid_run >= 3 {
            break;
        }
        std::fs::remove_dir_all(&run).unwrap();
        // One or two kills per round, at moments spread over the whole run.
        for _ in 0..(1 + round % 2) {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let at = Duration::from_secs_f64(full.as_secs_f64() * ((seed >> 11) as f64 / (1u64 << 53) as f64));
            let mut child =
                kbcurate().arg("run").arg(&p).arg("--quiet").stderr(std::process::Stdio::null()).spawn().unwrap();
            std::thread::sleep(at);
            if child.try_wait().unwrap().is_none() {
                kills_mid_run += 1;
            }
            child.kill().unwrap();
            child.wait().unwrap();
            eprintln!("round {round}: killed at {:.2}s", at.as_secs_f64());
        }
        let e = ok(kbcurate().arg("run").arg(&p).arg("--quiet").output().unwrap());
        let got = common::tree(&run);
        if got != reference {
            let differ: Vec<&String> =
                reference.keys().chain(got.keys()).filter(|k| reference.get(*k) != got.get(*k)).collect();
            panic!("round {round}: outputs differ after resuming: {differ:?}\n{e}");
        }
    }
    assert!(kills_mid_run >= 3, "only {kills_mid_run} kills landed while the run was working");
}

/// Killed in the middle of tokenizing, after some parts were encoded: the rerun keeps those
/// parts (it says so) and writes the same shards.
#[test]
fn tokenize_resumes_from_encoded_parts() {
    let tmp = tempfile::tempdir().unwrap();
    write_corpus(tmp.path());
    let p = tmp.path().join("pipeline.toml");
    std::fs::write(&p, KILL_PIPELINE).unwrap();
    let run = tmp.path().join("run");
    ok(kbcurate().arg("run").arg(&p).arg("--quiet").output().unwrap());
    let reference = common::tree(&run);
    // Rerun the tokenize stage and kill it as soon as its first part is encoded.
    let spill = run.join("tokenize/.spill");
    let mut killed_mid_stage = false;
    for attempt in 0..5 {
        let mut child = kbcurate()
            .arg("run")
            .arg(&p)
            .args(["--quiet", "--force", "--from", "tokenize", "--to", "tokenize", "-j", "1"])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() && start.elapsed() < Duration::from_secs(60) {
            // `.spill/<plan>/part-NNNNN.done` (beside the plan's folder, the writer's lock file)
            let plan_dir = std::fs::read_dir(&spill)
                .ok()
                .and_then(|mut d| d.find(|e| e.as_ref().is_ok_and(|e| e.path().is_dir())))
                .and_then(|e| e.ok())
                .map(|e| e.path());
            let encoded = plan_dir
                .and_then(|p| std::fs::read_dir(p).ok())
                .map(|d| {
                    d.flatten()
                        .filter(|e| {
                            // A marker being written (`.tmp-…`) is not one yet.
                            let n = e.file_name().to_string_lossy().into_owned();
                            n.starts_with("part-") && n.ends_with(".done")
                        })
                        .count()
                })
                .unwrap_or(0);
            if encoded >= 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        killed_mid_stage = child.try_wait().unwrap().is_none();
        child.kill().unwrap();
        child.wait().unwrap();
        if killed_mid_stage {
            break;
        }
        eprintln!("attempt {attempt}: the stage ended before it could be killed");
    }
    assert!(killed_mid_stage, "never caught tokenize between its parts");
    let e = ok(kbcurate().arg("run").arg(&p).arg("--quiet").output().unwrap());
    assert!(e.contains("parts were already encoded (by array tasks or an interrupted run) and kept"), "{e}");
    assert!(e.contains("1 stages ran") || e.contains("2 stages ran"), "{e}");
    assert_eq!(common::tree(&run), reference);
}

/// Unmounts on drop, so a failing assertion does not leave a mount behind.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let o = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).output();
        match o {
            Ok(o) if o.status.success() => Some(Tmpfs(dir.to_path_buf())),
            Ok(o) => {
                let why = format!("cannot mount a tmpfs (needs root): {}", String::from_utf8_lossy(&o.stderr).trim());
                common::skip("tmpfs", &why);
                None
            }
            Err(e) => {
                common::skip("tmpfs", &format!("cannot run mount: {e}"));
                None
            }
        }
    }

    fn resize(&self, size: &str) {
        let o = Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.0).output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The disk fills up at different points of a run: the run fails saying so, and once there is
/// room again the same command finishes with the same bytes as a run that never ran out.
#[test]
fn a_full_disk_then_room_again_gives_identical_outputs() {
    let tmp = tempfile::tempdir().unwrap();
    let p = common::demo_pipeline(tmp.path(), 1);
    let disk = tmp.path().join("disk");
    let Some(fs) = Tmpfs::mount(&disk, "16m") else { return };
    let run = disk.join("run");
    let e = ok(kbcurate().arg("run").arg(&p).arg("--run-dir").arg(&run).arg("--quiet").output().unwrap());
    assert!(e.contains("6 stages ran"), "{e}");
    let reference = common::tree(&run);
    let mut failed = 0;
    for size in ["120k", "250k", "400k", "520k"] {
        std::fs::remove_dir_all(&run).unwrap();
        fs.resize(size);
        let o = kbcurate().arg("run").arg(&p).arg("--run-dir").arg(&run).arg("--quiet").output().unwrap();
        if !o.status.success() {
            failed += 1;
            let e = String::from_utf8_lossy(&o.stderr);
            assert!(e.contains("No space left on device"), "{size}: {e}");
        }
        fs.resize("16m");
        let e = ok(kbcurate().arg("run").arg(&p).arg("--run-dir").arg(&run).arg("--quiet").output().unwrap());
        assert_eq!(common::tree(&run), reference, "{size}: outputs differ after the disk had room again\n{e}");
    }
    assert!(failed >= 3, "only {failed} runs ran out of space");
}
