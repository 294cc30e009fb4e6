//! The train/validation split: by document (all repeats of a document on one side), stratified
//! by genre, with exact counts.
//!
//! Within each genre, of its `n` documents (those with `repeats > 0`), exactly
//! `round(fraction × n)` go to validation: the ones with the smallest xxh3(seed, id). A plain
//! per-document coin flip would match the fraction only in expectation — a genre with 40
//! documents and a 1% split would get 0, 1 or 2 validation documents at random; here it gets
//! round(0.4) = 0 and one with 250 gets 2 or 3, never more. The smallest keys are found with a
//! bounded heap per genre, so memory is 8 bytes per validation document, not per document.

use std::collections::{BTreeMap, BinaryHeap};

use arrow_array::cast::AsArray;
use arrow_array::types::UInt32Type;
use arrow_array::Array;
use serde::{Deserialize, Serialize};

use super::TokenizeError;
use crate::dataset::{self, Dataset};

const SPLIT_SALT: u64 = 0x5350_4c49_545f_5641;
/// The stratum of documents without a genre.
pub const NO_GENRE: &str = "(none)";

/// The key that orders documents for the split.
pub fn split_key(seed: u64, id: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64_with_seed(id.as_bytes(), seed ^ SPLIT_SALT)
}

/// Per genre: documents, and documents in validation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stratum {
    pub documents: u64,
    pub validation: u64,
}

/// Which documents are in validation.
#[derive(Debug, Clone, Default)]
pub struct ValidationSplit {
    seed: u64,
    /// Genre → largest key in validation (absent: none of the genre is).
    thresholds: BTreeMap<String, u64>,
    pub strata: BTreeMap<String, Stratum>,
}

/// Calls `f(id, genre)` for every document with `repeats > 0`, reading only those columns.
fn each_document(ds: &Dataset, mut f: impl FnMut(&str, &str)) -> Result<(), TokenizeError> {
    for part in &ds.manifest.parts {
        let path = ds.dir.join(&part.file);
        for b in dataset::read_parquet_projected(&path, &["id", "genre", "repeats"], 65_536)? {
            let b = b?;
            let ids = b
                .column_by_name("id")
                .ok_or_else(|| TokenizeError::Invalid(format!("{}: no `id` column", path.display())))?
                .as_string::<i32>();
            let genre = b.column_by_name("genre").map(|c| c.as_string::<i32>().clone());
            let reps = b.column_by_name("repeats").map(|c| c.as_primitive::<UInt32Type>().clone());
            for r in 0..b.num_rows() {
                if reps.as_ref().is_some_and(|a| a.is_valid(r) && a.value(r) == 0) {
                    continue;
                }
                let g = genre.as_ref().filter(|a| a.is_valid(r)).map_or(NO_GENRE, |a| a.value(r));
                f(ids.value(r), g);
            }
        }
    }
    Ok(())
}

impl ValidationSplit {
    /// Plans the split of `ds` (two passes over its `id`, `genre` and `repeats` columns).
    pub fn plan(ds: &Dataset, seed: u64, fraction: f64) -> Result<ValidationSplit, TokenizeError> {
        let mut split = ValidationSplit { seed, ..Default::default() };
        if fraction <= 0.0 {
            return Ok(split);
        }
        each_document(ds, |_, g| {
            split.strata.entry(g.to_string()).or_default().documents += 1;
        })?;
        let mut heaps: BTreeMap<String, (usize, BinaryHeap<u64>)> = BTreeMap::new();
        for (g, s) in split.strata.iter_mut() {
            let k = (fraction * s.documents as f64).round() as usize;
            s.validation = k as u64;
            if k > 0 {
                heaps.insert(g.clone(), (k, BinaryHeap::with_capacity(k + 1)));
            }
        }
        each_document(ds, |id, g| {
            if let Some((k, heap)) = heaps.get_mut(g) {
                let key = split_key(seed, id);
                if heap.len() < *k {
                    heap.push(key);
                } else if heap.peek().is_some_and(|&top| key < top) {
                    heap.pop();
                    heap.push(key);
                }
            }
        })?;
        split.thresholds = heaps.into_iter().filter_map(|(g, (_, h))| Some((g, *h.peek()?))).collect();
        Ok(split)
    }

    pub fn is_validation(&self, id: &str, genre: Option<&str>) -> bool {
        self.thresholds.get(genre.unwrap_or(NO_GENRE)).is_some_and(|&t| split_key(self.seed, id) <= t)
    }
}
