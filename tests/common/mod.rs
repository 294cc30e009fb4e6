//! Helpers shared by the integration tests.
#![allow(dead_code)]

mod skip;
pub mod texts;

pub use skip::skip;

use std::path::{Path, PathBuf};

use kbcurate::dataset::Dataset;
use kbcurate::document::{Document, Rejection};
use kbcurate::ingest::config::IngestConfig;
use kbcurate::ingest::{self, IngestOptions, IngestSummary};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Where the real public samples are: `../shared/data` beside the repository, or
/// `KBCURATE_SHARED_DATA` (CI sets it to a folder that does not exist to run the suite as a
/// fresh clone sees it).
pub fn shared_root() -> PathBuf {
    match std::env::var_os("KBCURATE_SHARED_DATA") {
        Some(p) => PathBuf::from(p),
        None => repo().join("../shared/data"),
    }
}

/// `<shared_root>/<rel>` when present; otherwise skips (component `shared-data`), saying why.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = shared_root().join(rel);
    if p.exists() {
        Some(p)
    } else {
        skip("shared-data", &format!("{} not found (the real public samples live in ../shared/data)", p.display()));
        None
    }
}

pub fn run(config: &IngestConfig, base: &Path, out: &Path, tweak: impl FnOnce(&mut IngestOptions)) -> IngestSummary {
    let mut o = IngestOptions::new(out);
    tweak(&mut o);
    ingest::ingest(config, base, &o).unwrap()
}

pub fn config(toml: &str) -> IngestConfig {
    IngestConfig::from_toml(toml, "test.toml").unwrap()
}

pub fn documents(dir: &Path) -> Vec<Document> {
    Dataset::open(dir).unwrap().documents().map(Result::unwrap).collect()
}

pub fn rejections(dir: &Path) -> Vec<Rejection> {
    Dataset::open(dir).unwrap().rejections().unwrap()
}

/// Every file of a dataset folder (relative path → bytes), for byte-for-byte comparison.
pub fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in glob::glob(&format!("{}/**/*", dir.display())).unwrap().flatten() {
        if entry.is_file() {
            let rel = entry.strip_prefix(dir).unwrap().to_string_lossy().to_string();
            out.push((rel, std::fs::read(&entry).unwrap()));
        }
    }
    out.sort();
    out
}

/// The demo pipeline with its references made absolute, so it can live in a temp folder.
pub fn demo_pipeline(dir: &Path, seed: u64) -> PathBuf {
    let samples = repo().join("data-samples");
    let text = std::fs::read_to_string(samples.join("pipeline.toml"))
        .unwrap()
        .replace("dir = \"../out/run\"", "dir = \"run\"")
        .replace("\"collections.toml\"", &format!("{:?}", samples.join("collections.toml")))
        .replace("\"filter.toml\"", &format!("{:?}", samples.join("filter.toml")))
        .replace(
            "policy = \"../policies/democratic.toml\"",
            &format!("policy = {:?}\nseed = {seed}", repo().join("policies/democratic.toml")),
        );
    let path = dir.join("pipeline.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Every file of a run folder but its bookkeeping (`_run/`), with its xxh3.
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, u128> {
    fn walk(root: &Path, dir: &Path, out: &mut std::collections::BTreeMap<String, u128>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if rel == "_run" {
                continue;
            }
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(rel, xxhash_rust::xxh3::xxh3_128(&std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}
