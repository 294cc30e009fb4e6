//! The text of ../shared/data as documents, for equivalence tests and benchmarks: JSONL `text`
//! fields, and every other file whole (markup included: more variety), cut into ~16 KB chunks at
//! line ends, as documents would be. Included by `tests/common` and by `examples/gpu_bench.rs`.

use std::path::{Path, PathBuf};

/// The files under `dir`, sorted.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<_> =
        glob::glob(&format!("{}/**/*", dir.display())).unwrap().flatten().filter(|p| p.is_file()).collect();
    files.sort();
    files
}

/// Texts of a file.
pub fn texts(path: &Path) -> Vec<String> {
    let raw = String::from_utf8_lossy(&std::fs::read(path).unwrap()).into_owned();
    let mut out = Vec::new();
    if path.extension().is_some_and(|e| e == "jsonl") {
        for l in raw.lines() {
            if let Some(t) =
                serde_json::from_str::<serde_json::Value>(l).ok().and_then(|v| v["text"].as_str().map(String::from))
            {
                out.push(t);
            }
        }
        return out;
    }
    let mut cur = String::new();
    for line in raw.split_inclusive('\n') {
        cur.push_str(line);
        if cur.len() > 16_000 {
            out.push(std::mem::take(&mut cur));
        }
    }
    out.push(cur);
    out
}

/// Texts of every file under `dir`.
pub fn all_texts(dir: &Path) -> Vec<String> {
    files(dir).iter().flat_map(|f| texts(f)).collect()
}
