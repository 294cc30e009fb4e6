//! Boilerplate lines: lines that recur in many documents of the same source (mastheads,
//! running heads, page numbers, "Fortsättning å sid. 4", standard ad footers). They are
//! removed from the text, not the document.
//!
//! A line is keyed by its source and its normalized form (so `Sid. 4` and `Sid. 5` are one
//! line when digits are folded). Each part counts, per key, the documents containing it and
//! writes the counts as a sorted run; the runs are merged and summed, and keys seen in at least
//! `min_docs` documents form the boilerplate set. Memory: one part's line counts, then only the
//! set of frequent lines.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::Array;

use super::normalize::{normalize_into, Normalization};
use super::runs::{self, Entry};
use crate::dataset::{Dataset, DatasetError, PartFile};

/// The key of a line of a source.
pub fn line_key(source: &str, normalized_line: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(source.as_bytes());
    h.update(&[0]);
    h.update(normalized_line.as_bytes());
    h.digest()
}

/// Counts, for one part, the documents each (source, line) occurs in, and writes them as a run.
pub fn count_part(ds: &Dataset, part: &PartFile, norm: Normalization, run: &Path) -> Result<(), DatasetError> {
    let mut counts: HashMap<u64, u64> = HashMap::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut scratch = String::new();
    for batch in ds.batches(part)? {
        let batch = batch?;
        let Some(text) = batch.column_by_name("text").map(|c| c.as_string::<i64>().clone()) else { continue };
        let source = batch.column_by_name("source").map(|c| c.as_string::<i32>().clone());
        for r in 0..batch.num_rows() {
            let src = source.as_ref().filter(|s| s.is_valid(r)).map_or("", |s| s.value(r));
            seen.clear();
            for line in text.value(r).lines() {
                normalize_into(line, norm, &mut scratch);
                if !scratch.is_empty() {
                    seen.insert(line_key(src, &scratch));
                }
            }
            for k in &seen {
                *counts.entry(*k).or_default() += 1;
            }
        }
    }
    let mut entries: Vec<Entry> = counts.into_iter().map(|(k, n)| Entry { key: k as u128, doc: n }).collect();
    runs::write_run(run, &mut entries).map_err(|source| DatasetError::Io { path: run.to_path_buf(), source })
}

/// The lines occurring in at least `min_docs` documents of their source, over all parts' runs.
pub fn frequent(runs: &[impl AsRef<Path>], min_docs: u64) -> std::io::Result<HashSet<u64>> {
    let mut set = HashSet::new();
    runs::merge_all(runs, |key, counts| {
        if counts.iter().sum::<u64>() >= min_docs {
            set.insert(key as u64);
        }
        Ok(())
    })?;
    Ok(set)
}

/// `text` without its boilerplate lines, and how many were removed; `None` when none were.
pub fn strip(
    text: &str,
    source: &str,
    set: &HashSet<u64>,
    norm: Normalization,
    scratch: &mut String,
) -> Option<(String, u64)> {
    if set.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut removed = 0u64;
    for line in text.split_inclusive('\n') {
        normalize_into(line, norm, scratch);
        if !scratch.is_empty() && set.contains(&line_key(source, scratch)) {
            removed += 1;
            continue;
        }
        out.push_str(line);
    }
    if removed == 0 {
        return None;
    }
    // Blank lines left where a removed line separated two blocks collapse to one blank line.
    while out.contains("\n\n\n") {
        out = out.replace("\n\n\n", "\n\n");
    }
    Some((out.trim().to_string(), removed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_frequent_lines_of_the_same_source_only() {
        let norm = Normalization::default();
        let mut set = HashSet::new();
        let mut s = String::new();
        normalize_into("Fortsättning å sid. 4", norm, &mut s);
        set.insert(line_key("Kuriren", &s));
        let text = "STOCKHOLMS KURIR\nIsen ligger kvar.\nFortsättning å sid. 7\n\nSlut.";
        let (out, n) = strip(text, "Kuriren", &set, norm, &mut s).unwrap();
        assert_eq!(n, 1, "digits are folded: sid. 7 is the same line as sid. 4");
        assert_eq!(out, "STOCKHOLMS KURIR\nIsen ligger kvar.\n\nSlut.");
        assert!(strip(text, "Dagbladet", &set, norm, &mut s).is_none(), "another source keeps the line");
    }
}
