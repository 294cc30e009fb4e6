//! Boilerplate lines: lines that recur in many documents of the same source (mastheads,
//! running heads, page numbers, "Fortsättning å sid. 4", standard ad footers). They are
//! removed from the text, not the document.
//!
//! A line is keyed by its source and its normalized form (so `Sid. 4` and `Sid. 5` are one
//! line when digits are folded). Lines longer than [`MAX_LINE_BYTES`] are never boilerplate
//! (mastheads, running heads and footers are short), which spares normalizing the long lines
//! of running text — a JSONL document is often one line. Documents are counted by their
//! distinct text, so the copies of a duplicated document count once: otherwise every line of a document repeated
//! twenty times would look like boilerplate. Each part writes (line, document text hash) pairs
//! as a sorted run; the merged runs give, per line, the number of distinct documents, and lines
//! in at least `min_docs` of them form the boilerplate set. Memory: one part's pairs, then only
//! the set of frequent lines.
//!
//! A document keeps its lines when they would lose more than half of its text: boilerplate is a
//! small part of a document by definition, and a document made mostly of lines seen elsewhere
//! is a duplicate, which near-duplicate detection handles as a whole.

use std::collections::HashSet;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::Array;

use super::normalize::{normalize_into, Normalization};
use super::runs::{self, Entry};
use crate::dataset::{Dataset, DatasetError, PartFile};

/// Lines longer than this (in bytes, before normalization) are never boilerplate.
pub const MAX_LINE_BYTES: usize = 256;

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
    let mut pairs: HashSet<(u64, u64)> = HashSet::new();
    let mut seen: HashSet<u64> = HashSet::new();
    let mut scratch = String::new();
    for batch in ds.batches_of(part, &["text", "source"])? {
        let batch = batch?;
        let Some(text) = batch.column_by_name("text").map(|c| c.as_string::<i64>().clone()) else { continue };
        let source = batch.column_by_name("source").map(|c| c.as_string::<i32>().clone());
        for r in 0..batch.num_rows() {
            let src = source.as_ref().filter(|s| s.is_valid(r)).map_or("", |s| s.value(r));
            seen.clear();
            for line in text.value(r).lines().filter(|l| l.len() <= MAX_LINE_BYTES) {
                normalize_into(line, norm, &mut scratch);
                if !scratch.is_empty() {
                    seen.insert(line_key(src, &scratch));
                }
            }
            if seen.is_empty() {
                continue; // no short lines (a JSONL document is often one long line)
            }
            let doc = xxhash_rust::xxh3::xxh3_64(text.value(r).as_bytes());
            for k in &seen {
                pairs.insert((*k, doc));
            }
        }
    }
    let mut entries: Vec<Entry> =
        pairs.into_iter().map(|(line, doc)| Entry { key: (line as u128) << 64 | doc as u128, doc: 0 }).collect();
    runs::write_run(run, &mut entries).map_err(|source| DatasetError::Io { path: run.to_path_buf(), source })
}

/// The lines occurring in at least `min_docs` distinct documents of their source, over all
/// parts' runs (each key of the merge is one (line, document text) pair).
pub fn frequent(runs: &[impl AsRef<Path>], min_docs: u64) -> std::io::Result<HashSet<u64>> {
    let mut set = HashSet::new();
    let (mut line, mut n) = (None::<u64>, 0u64);
    runs::merge_all(runs, |key, _| {
        let l = (key >> 64) as u64;
        if line != Some(l) {
            line = Some(l);
            n = 0;
        }
        n += 1;
        if n == min_docs.max(1) {
            set.insert(l);
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
    let mut removed_bytes = 0usize;
    for line in text.split_inclusive('\n') {
        if line.len() > MAX_LINE_BYTES + 2 {
            out.push_str(line);
            continue;
        }
        normalize_into(line.trim_end_matches(['\n', '\r']), norm, scratch);
        if !scratch.is_empty() && set.contains(&line_key(source, scratch)) {
            removed += 1;
            removed_bytes += line.len();
            continue;
        }
        out.push_str(line);
    }
    if removed == 0 || removed_bytes * 2 > text.len() {
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
        let text = "STOCKHOLMS KURIR\nIsen ligger kvar på Mälaren.\nFortsättning å sid. 7\n\nSlut för i dag.";
        let (out, n) = strip(text, "Kuriren", &set, norm, &mut s).unwrap();
        assert_eq!(n, 1, "digits are folded: sid. 7 is the same line as sid. 4");
        assert_eq!(out, "STOCKHOLMS KURIR\nIsen ligger kvar på Mälaren.\n\nSlut för i dag.");
        assert!(
            strip("Fortsättning å sid. 2\nKort.", "Kuriren", &set, norm, &mut s).is_none(),
            "more than half would go"
        );
        assert!(strip(text, "Dagbladet", &set, norm, &mut s).is_none(), "another source keeps the line");
        // A long line is never boilerplate, even when its key is in the set.
        let long = "Annons ".repeat(40);
        normalize_into(&long, norm, &mut s);
        set.insert(line_key("Kuriren", &s));
        let text = format!("{long}\nKort rad.\nIsen ligger kvar på Mälaren och i Saltsjön.");
        assert!(strip(&text, "Kuriren", &set, norm, &mut s).is_none());
    }
}
