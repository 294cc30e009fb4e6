//! The command line as users run it: the README demo, errors that say what to do.

mod common;

use std::process::Command;

fn kbcurate() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kbcurate"))
}

#[test]
fn readme_demo_ingest_dedup_filter_inspect() {
    let out = tempfile::tempdir().unwrap();
    let ds = out.path().join("ingested");
    let repo = env!("CARGO_MANIFEST_DIR");
    let o = kbcurate()
        .current_dir(repo)
        .args(["ingest", "--config", "data-samples/collections.toml", "-o"])
        .arg(&ds)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("documents kept of"), "{stderr}");
    assert!(stderr.contains("rejected xml-entities: 1"), "{stderr}");
    // The demo's few dozen kB of text read in a unit that fits, not "0.0 MB".
    assert!(stderr.contains(" kB of text") && !stderr.contains(" 0.0 MB"), "{stderr}");
    let deduped = out.path().join("deduped");
    let o = kbcurate().args(["dedup"]).arg(&ds).arg("-o").arg(&deduped).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    // The SRT and WebVTT of the same broadcast, and the near-identical letters, are duplicates.
    assert!(stderr.contains("rejected near-duplicate"), "{stderr}");
    let o = kbcurate().args(["inspect", "-n", "2"]).arg(&ds).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    assert!(stdout.contains("stage     ingest"), "{stdout}");
    assert!(stdout.contains("rejected ("), "{stdout}");
    let o = kbcurate().args(["inspect", "-n", "2"]).arg(&deduped).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("stage     dedup") && stdout.contains("near-duplicate"), "{stdout}");
    // The README's filter step.
    let filtered = out.path().join("filtered");
    let o = kbcurate()
        .current_dir(repo)
        .args(["filter"])
        .arg(&deduped)
        .arg("-o")
        .arg(&filtered)
        .args(["--config", "data-samples/filter.toml", "--compression", "none"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("filter: ") && stderr.contains("kept by language: swe"), "{stderr}");
    let manifest = std::fs::read_to_string(filtered.join("manifest.json")).unwrap();
    assert!(manifest.contains(r#""compression": "none""#), "{manifest}");
    let o = kbcurate()
        .args(["dedup"])
        .arg(&ds)
        .arg("-o")
        .arg(out.path().join("x"))
        .args(["--compression", "lz4"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("compression `lz4`") && stderr.contains("zstd:LEVEL"), "{stderr}");
    let o = kbcurate().args(["inspect", "-n", "2"]).arg(&filtered).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("stage     filter"), "{stdout}");
    // balance with the shipped democratic policy: the dry-run table, then the dataset.
    let policy = std::path::Path::new(repo).join("policies/democratic.toml");
    let o = kbcurate().arg("balance").arg(&filtered).arg("--policy").arg(&policy).arg("--dry-run").output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for want in ["genre (column `genre`, shares)", "decade (column `decade`, temperature)", "targets moved", "achieved"]
    {
        assert!(stdout.contains(want), "{want}: {stdout}");
    }
    let balanced = out.path().join("balanced");
    let o = kbcurate()
        .arg("balance")
        .arg(&filtered)
        .arg("--policy")
        .arg(&policy)
        .arg("-o")
        .arg(&balanced)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("rejected balanced-out"), "{stderr}");
    let m = kbcurate::dataset::Manifest::read(&balanced).unwrap();
    assert!(m.counts.reconciles() && m.stage == "balance");
    // tokenize with a built-in vocabulary (offline), then verify, as in the README demo.
    let shards = out.path().join("shards");
    let o = kbcurate()
        .arg("tokenize")
        .arg(&balanced)
        .arg("-o")
        .arg(&shards)
        .args(["--tokenizer", "cl100k_base", "--seq-len", "512", "--packing", "best-fit"])
        .args(["--eos", "<|endoftext|>", "--pad", "<|endoftext|>"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("train:") && stderr.contains("padding"), "{stderr}");
    let o = kbcurate().arg("verify").arg(&shards).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && stdout.contains(": ok"), "{stdout}");
    let o = kbcurate().arg("verify").arg(&shards).args(["--sequence", "train:0"]).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && stdout.contains("document "), "{stdout}");
    // A special token the tokenizer lacks is an error naming it.
    let o = kbcurate()
        .arg("tokenize")
        .arg(&balanced)
        .arg("-o")
        .arg(out.path().join("bad-shards"))
        .args(["--tokenizer", "cl100k_base", "--seq-len", "512", "--eos", "</s>"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("--eos `</s>`"), "{stderr}");
    // A policy with an error names the file, the line and the key.
    let bad = out.path().join("bad.toml");
    std::fs::write(&bad, "[dimension.genre]\nshares = { newspaper = 0.7, book = 0.2 }\n").unwrap();
    let o = kbcurate().arg("balance").arg(&filtered).arg("--policy").arg(&bad).arg("--dry-run").output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("bad.toml") && stderr.contains("line 1") && stderr.contains("sum to 0.9"), "{stderr}");
}

#[test]
fn one_collection_from_flags() {
    let Some(shared) = common::shared("alto/danish_kb_adresseavis_1795") else { return };
    let out = tempfile::tempdir().unwrap();
    let o = kbcurate()
        .args(["ingest", "--format", "alto", "--genre", "newspaper", "--source", "Adresseavisen", "--language", "da"])
        .args(["--date-regex", r"(\d{4})-(\d{2})-(\d{2})", "-j", "2", "-o"])
        .arg(out.path())
        .arg(&shared)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ds = kbcurate::dataset::Dataset::open(out.path()).unwrap();
    let docs: Vec<_> = ds.documents().map(Result::unwrap).collect();
    assert_eq!(docs.len(), 4);
    assert!(docs.iter().all(|d| d.source.as_deref() == Some("Adresseavisen") && d.language.as_deref() == Some("dan")));
    assert!(docs.iter().all(|d| d.year == Some(1795) && d.date.is_some()));
}

#[test]
fn errors_name_the_file_and_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[[collection]]\nname = \"a\"\npaths = [\"x\"]\nformt = \"alto\"\n").unwrap();
    let o = kbcurate().args(["ingest", "--config"]).arg(&cfg).args(["-o"]).arg(dir.path().join("o")).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("c.toml") && stderr.contains("line 4") && stderr.contains("formt"), "{stderr}");

    let o = kbcurate().args(["ingest", "-o"]).arg(dir.path().join("o")).output().unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("--config"));

    let o = kbcurate()
        .args(["dedup"])
        .arg(dir.path())
        .args(["-o"])
        .arg(dir.path().join("d"))
        .args(["--bands-rows", "3y"])
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("expected BANDSxROWS"));

    let o = kbcurate().args(["inspect"]).arg(dir.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("not a kbcurate dataset") && stderr.contains("manifest.json"), "{stderr}");
}

/// Without `--sync` no file is synced; with it (or `KBCURATE_SYNC=1`) the stage syncs its
/// output once before the manifest and the manifest itself, and the outputs are the same
/// bytes. The system calls are read with strace, where it is installed.
#[test]
fn sync_is_asked_for_and_changes_no_output() {
    let repo = env!("CARGO_MANIFEST_DIR");
    let out = tempfile::tempdir().unwrap();
    let ingest = |dir: &str, sync: &[&str], env: Option<&str>| {
        let mut c = kbcurate();
        c.current_dir(repo).args(sync).args(["ingest", "--config", "data-samples/collections.toml", "-o"]);
        c.arg(out.path().join(dir));
        if let Some(v) = env {
            c.env("KBCURATE_SYNC", v);
        } else {
            c.env_remove("KBCURATE_SYNC");
        }
        c
    };
    let mut plain = ingest("plain", &[], None);
    let mut synced = ingest("synced", &["--sync"], None);
    let mut by_env = ingest("env", &[], Some("1"));
    for c in [&mut plain, &mut synced, &mut by_env] {
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let files = |d: &str| {
        let dir = out.path().join(d);
        let mut v: Vec<(String, Vec<u8>)> = ["manifest.json", "data/part-00000.parquet", "rejected/part-00000.parquet"]
            .iter()
            .map(|f| (f.to_string(), std::fs::read(dir.join(f)).unwrap()))
            .collect();
        // The manifest names its own output folder; compare the rest.
        v[0].1 = String::from_utf8(v[0].1.clone()).unwrap().replace(&dir.display().to_string(), "OUT").into_bytes();
        v
    };
    assert_eq!(files("plain"), files("synced"));
    assert_eq!(files("plain"), files("env"));

    if Command::new("strace").arg("-V").output().is_err() {
        common::skip("strace", "the system-call half: strace is not installed");
        return;
    }
    let traced = |sync: &[&str], dir: &str| {
        let log = out.path().join(format!("{dir}.strace"));
        let c = ingest(dir, sync, None);
        let o = Command::new("strace")
            .args(["-f", "-qq", "-e", "trace=fsync,fdatasync,syncfs", "-o"])
            .arg(&log)
            .arg(c.get_program())
            .args(c.get_args())
            .current_dir(repo)
            .env_remove("KBCURATE_SYNC")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let text = std::fs::read_to_string(&log).unwrap();
        let count = |call: &str| text.lines().filter(|l| l.contains(&format!("{call}("))).count();
        (count("syncfs"), count("fsync") + count("fdatasync"))
    };
    assert_eq!(traced(&[], "plain-traced"), (0, 0));
    let (syncfs, fsync) = traced(&["--sync"], "synced-traced");
    assert_eq!(syncfs, 1, "one syncfs before the manifest");
    assert!(fsync >= 2, "the manifest and its folder are synced: {fsync} fsync calls");
}

/// Logs written to a file or a pipe (a Slurm log, `2> log`) carry no terminal colour codes.
#[test]
fn logs_to_a_pipe_have_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let o = kbcurate()
        .args(["-v", "ingest"])
        .arg(dir.path().join("nothing-here-*.txt"))
        .arg("-o")
        .arg(dir.path().join("out"))
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("WARN") || stderr.contains("INFO"), "the run logged nothing: {stderr}");
    assert!(!stderr.contains('\x1b'), "colour codes in a piped log: {stderr:?}");
}

/// Two writers of one output folder: the second is refused, naming the folder and the holder
/// (a stage command into a folder a pipeline's stage, or another command, is writing).
#[test]
fn a_second_writer_of_an_output_folder_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ingested");
    let held =
        kbcurate::stage::OutputLock::acquire(&out.join("_parts"), &out, kbcurate::dataset::Shard::WHOLE).unwrap();
    let o = kbcurate()
        .args(["ingest", "--config"])
        .arg(repo_file("data-samples/collections.toml"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains("another kbcurate process") && stderr.contains(&out.display().to_string()), "{stderr}");
    assert!(!out.join("manifest.json").exists());
    drop(held);
    let o = kbcurate()
        .args(["ingest", "--config"])
        .arg(repo_file("data-samples/collections.toml"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn repo_file(rel: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// Mistakes a new user makes: a path that does not exist is an error naming it (a glob that
/// matches nothing stays a warning), and each cause of an error is printed once.
#[test]
fn a_missing_input_is_an_error_and_causes_are_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-folder");
    let o = kbcurate().arg("ingest").arg(&missing).arg("-o").arg(dir.path().join("out")).output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success(), "{stderr}");
    assert!(stderr.contains(&missing.display().to_string()) && stderr.contains("does not exist"), "{stderr}");
    assert!(!dir.path().join("out/manifest.json").exists(), "no empty dataset is written");

    // A glob that matches nothing: a warning and an empty dataset, or an error under --strict.
    std::fs::write(dir.path().join("c.toml"), "[[collection]]\nname = \"c\"\npaths = [\"in/*.xml\"]\n").unwrap();
    let glob = |strict: bool, out: &str| {
        let mut c = kbcurate();
        c.arg("ingest").arg("--config").arg(dir.path().join("c.toml")).arg("-o").arg(dir.path().join(out));
        if strict {
            c.arg("--strict");
        }
        c.output().unwrap()
    };
    let o = glob(false, "lenient");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("matches no files"));
    let o = glob(true, "strict");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && stderr.contains("in/*.xml") && stderr.contains("--strict"), "{stderr}");
    assert!(!dir.path().join("strict/manifest.json").exists());

    let o = kbcurate()
        .args(["balance"])
        .arg(dir.path())
        .arg("--policy")
        .arg(dir.path().join("nope.toml"))
        .arg("-o")
        .arg(dir.path().join("b"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(stderr.matches("No such file or directory").count(), 1, "{stderr}");
}

/// A title carrying a terminal escape (an OSC sequence): `inspect` shows the escape instead of
/// sending it to the terminal, and the audit report is written.
#[test]
fn titles_with_control_characters_are_shown_safely() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("c.jsonl"),
        "{\"text\": \"Stockholm den 12 mars 1897. Väderleken var god.\", \"title\": \"\\u001b]0;owned\\u0007Rubrik\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c.toml"),
        "[[collection]]\nname = \"c\"\npaths = [\"c.jsonl\"]\nformat = \"jsonl\"\n[collection.fields]\ntitle = \"title\"\n",
    )
    .unwrap();
    let ds = dir.path().join("ds");
    let o =
        kbcurate().arg("ingest").arg("--config").arg(dir.path().join("c.toml")).arg("-o").arg(&ds).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = kbcurate().arg("inspect").arg(&ds).output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("owned") && stdout.contains("Rubrik"), "{stdout}");
    assert!(!stdout.contains('\x1b') && !stdout.contains('\x07'), "control characters reach the terminal: {stdout:?}");
    let o = kbcurate().arg("audit").arg(&ds).arg("-o").arg(dir.path().join("audit")).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}
