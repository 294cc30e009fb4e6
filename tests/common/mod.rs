//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod texts;

use std::path::{Path, PathBuf};

use kbcurate::dataset::Dataset;
use kbcurate::document::{Document, Rejection};
use kbcurate::ingest::config::IngestConfig;
use kbcurate::ingest::{self, IngestOptions, IngestSummary};

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/data/<rel>` when present; otherwise prints why the test is skipped.
pub fn shared(rel: &str) -> Option<PathBuf> {
    let p = repo().join("../shared/data").join(rel);
    if p.exists() {
        Some(p)
    } else {
        eprintln!("skipping: {} not found (the real public samples live in ../shared/data)", p.display());
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
