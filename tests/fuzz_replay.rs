//! The fuzz targets' inputs replayed on stable Rust, in every `cargo test`: each file under
//! `fuzz/regressions/<target>/` (hostile inputs kept for good: truncated XML, deep nesting,
//! huge dates, malformed JSONL, broken compression) goes through that target's body
//! (`kbcurate::ingest::fuzz`, the very calls the fuzzer makes), then through the ingest stage
//! as a file of its own. Neither may panic; each reader call gives documents, rejections or an
//! error, and the stage accounts for the file: documents, or rejections that say why.
//!
//! `KBCURATE_FUZZ_REPLAY=DIR` replays `DIR/<target>/` as well: a fuzzer's corpus (the one
//! `fuzz/seed.sh` builds) or its findings. A crash the fuzzer finds, once fixed, belongs in
//! `fuzz/regressions/<target>/`.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use kbcurate::ingest::fuzz::{self, Outcome};

/// The files of `fuzz/regressions/<target>/`, and of `$KBCURATE_FUZZ_REPLAY/<target>/`.
fn inputs(target: &str) -> Vec<PathBuf> {
    let mut dirs = vec![repo().join("fuzz/regressions").join(target)];
    if let Some(extra) = std::env::var_os("KBCURATE_FUZZ_REPLAY") {
        dirs.push(PathBuf::from(extra).join(target));
    }
    let mut out = Vec::new();
    for d in &dirs {
        let Ok(entries) = std::fs::read_dir(d) else { continue };
        out.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_file()));
    }
    out.sort();
    assert!(!out.is_empty(), "no inputs for {target} in {dirs:?}");
    out
}

/// Ingests `data` as a file named `name` in a collection of its own (format detected), and
/// says what the stage made of it: (kept, rejected).
fn ingest_file(work: &Path, name: &str, data: &[u8]) -> (u64, u64) {
    let input = work.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let name = match name {
        "" => "noname",
        "." => "dot",
        n => n,
    };
    std::fs::write(input.join(name), data).unwrap();
    let out = work.join("out");
    let s = run(&config("[[collection]]\nname = \"c\"\npaths = [\"in/*\"]\n"), work, &out, |o| o.threads = Some(1));
    (s.counts.kept, s.counts.rejected_total())
}

/// What a target's body made of one input, and how the stage is to see it.
struct Replayed {
    /// The file name the stage reads the input under.
    name: String,
    /// The file's bytes (the `detect` target's input less its name byte).
    bytes: Vec<u8>,
    /// Each reader call's outcome.
    outcomes: Vec<Outcome>,
    /// What else the body found, in words.
    notes: Vec<String>,
}

impl Replayed {
    fn of(path: &Path, data: &[u8], outcomes: Vec<Outcome>) -> Replayed {
        Replayed { name: file_name(path), bytes: data.to_vec(), outcomes, notes: Vec::new() }
    }
}

/// Replays every input of `target` through `body` and through the stage.
fn replay(target: &str, body: impl Fn(&Path, &[u8]) -> Replayed) {
    let tmp = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for (i, path) in inputs(target).iter().enumerate() {
        let data = std::fs::read(path).unwrap();
        let r = body(path, &data);
        let mut said = r.notes.clone();
        for o in &r.outcomes {
            said.push(match &o.error {
                Some(e) => format!("{}: rejected ({e})", o.reader),
                None => {
                    format!("{}: {} docs, {} rejections, {} warnings", o.reader, o.documents, o.rejections, o.warnings)
                }
            });
            if o.documents + o.rejections == 0 && o.error.is_none() {
                wrong.push(format!("{}: {} read nothing and rejected nothing", path.display(), o.reader));
            }
        }
        let (kept, rejected) = ingest_file(&tmp.path().join(i.to_string()), &r.name, &r.bytes);
        eprintln!("{target}/{}: stage {kept} kept, {rejected} rejected; {}", file_name(path), said.join("; "));
        if kept + rejected == 0 {
            wrong.push(format!(
                "{} (as {:?}): the stage gave neither documents nor a rejection",
                path.display(),
                r.name
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn xml_readers_replay() {
    let tmp = tempfile::tempdir().unwrap();
    let mets = fuzz::write_package(tmp.path()).unwrap();
    let options = fuzz::xml_options();
    replay("xml_readers", |path, data| Replayed::of(path, data, fuzz::xml_readers(data, &mets, &options)));
}

#[test]
fn transcripts_replay() {
    replay("transcripts", |path, data| Replayed::of(path, data, fuzz::transcripts(data)));
}

#[test]
fn jsonl_replay() {
    let options = fuzz::jsonl_options();
    replay("jsonl", |path, data| Replayed::of(path, data, fuzz::jsonl(data, &options)));
}

#[test]
fn detect_replay() {
    replay("detect", |_, data| {
        let detected = fuzz::detect(data);
        let (name, head) = fuzz::detect_input(data).unwrap_or_default();
        Replayed { name, bytes: head.to_vec(), outcomes: Vec::new(), notes: vec![format!("detect: {detected:?}")] }
    });
}

#[test]
fn parquet_replay() {
    replay("parquet", |path, data| {
        let mut r = Replayed::of(path, data, fuzz::parquet(data));
        r.name = "fuzz.parquet".into();
        r
    });
}

#[test]
fn fields_replay() {
    replay("fields", |path, data| {
        let mut r = Replayed::of(path, data, fuzz::fields(data));
        r.name = "fuzz.jsonl".into();
        r.bytes = fuzz::fields_as_jsonl(data);
        r
    });
}
