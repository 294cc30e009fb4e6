//! The records dedup's steps keep in `_work/`: each document's fixed-size signature record
//! (exact hash, ranking fields, signature) and its band keys, written per part by the
//! signatures step; the decisions the cluster step writes per part for the filter step.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float32Type, UInt32Type};
use arrow_array::Array;

use super::batch::{BatchSigner, ShingleBatch, SignatureInput};
use super::boilerplate::strip;
use super::cluster::Rank;
use super::error::{io_err, DedupError};
use super::profile::Profile;
use super::runs::Grouped;
use super::texts::TextWriter;
use crate::dataset::{self, Dataset};
use crate::reject::Reason;

/// Fixed-size per-document record in `_work/sig-N.bin`.
pub(super) struct Layout {
    pub(super) perms: usize,
}

impl Layout {
    pub(super) const HEAD: usize = 16 + 4 + 4 + 4 + 16;
    pub(super) fn size(&self) -> usize {
        Self::HEAD + 4 * self.perms
    }
}

pub(super) struct DocRecord {
    pub(super) exact: u128,
    pub(super) rank: Rank,
    pub(super) sig: Vec<u32>,
}

pub(super) fn encode(r: &DocRecord, out: &mut Vec<u8>) {
    out.extend_from_slice(&r.exact.to_le_bytes());
    out.extend_from_slice(&r.rank.ocr_confidence.to_le_bytes());
    out.extend_from_slice(&r.rank.n_chars.to_le_bytes());
    out.extend_from_slice(&r.rank.date.to_le_bytes());
    out.extend_from_slice(&r.rank.id);
    for v in &r.sig {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

pub(super) fn decode(b: &[u8], perms: usize) -> DocRecord {
    let u32_at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().expect("4 bytes"));
    DocRecord {
        exact: u128::from_le_bytes(b[..16].try_into().expect("16 bytes")),
        rank: Rank {
            ocr_confidence: f32::from_le_bytes(b[16..20].try_into().expect("4 bytes")),
            n_chars: u32_at(20),
            date: i32::from_le_bytes(b[24..28].try_into().expect("4 bytes")),
            id: b[28..44].try_into().expect("16 bytes"),
            common_words: f32::NAN,
        },
        sig: (0..perms).map(|k| u32_at(Layout::HEAD + 4 * k)).collect(),
    }
}

/// The estimated share of the shorter document's shingles that the longer one has too, from
/// their estimated Jaccard `j` and their records' lengths (`n_chars`, standing for their
/// shingle counts): |A∩B| = J·(|A| + |B|) / (1 + J).
pub(super) fn containment_estimate(j: f64, a: &[u8], b: &[u8]) -> f64 {
    let n = |r: &[u8]| u32::from_le_bytes(r[20..24].try_into().expect("4 bytes")) as f64;
    let (na, nb) = (n(a), n(b));
    if na.min(nb) <= 0.0 {
        return 0.0;
    }
    j * (na + nb) / ((1.0 + j) * na.min(nb))
}

/// `estimated_jaccard` of two signatures as they lie in their records (little-endian `u32`s):
/// the share of equal values.
pub(super) fn agreement(a: &[u8], b: &[u8]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    let equal = a.chunks_exact(4).zip(b.chunks_exact(4)).filter(|(x, y)| x == y).count();
    equal as f64 / (a.len() / 4) as f64
}

pub(super) fn id_bytes(id: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    if id.len() == 32 {
        if let Ok(v) = u128::from_str_radix(id, 16) {
            return v.to_be_bytes();
        }
    }
    // Ids not written by kbcurate: a hash, still a total order.
    out.copy_from_slice(&xxhash_rust::xxh3::xxh3_128(id.as_bytes()).to_be_bytes());
    out
}

pub(super) const DECISION: usize = 1 + 4 + 16 + 4 + 16 + 4;
pub(super) const KEEP: u8 = 1;
pub(super) const EXACT: u8 = 2;
pub(super) const EARLIER: u8 = 4;
/// Contained in a longer kept document (its id and the alignment follow the similarity).
pub(super) const CONTAINED: u8 = 8;

/// The band key group of the exact hashes, after the LSH bands.
pub(super) const EXACT_BAND: u64 = u64::MAX;

/// Empty key groups for a part of `rows` documents: one per band, then the exact band.
pub(super) fn key_groups(banding: &super::lsh::Banding, rows: usize) -> Grouped {
    Grouped::new((0..banding.bands as u64).chain([EXACT_BAND]).collect(), rows)
}

pub(super) fn push_keys(
    groups: &mut Grouped,
    banding: &super::lsh::Banding,
    sig: &[u32],
    exact: u128,
    doc: u64,
    keys: &mut Vec<u64>,
) {
    banding.keys(sig, keys);
    for (group, k) in groups.keys.iter_mut().zip(keys.iter()) {
        group.push((*k, doc));
    }
    groups.keys[banding.bands].push((exact as u64, doc));
}

pub(super) struct Decision {
    pub(super) keep: bool,
    /// The kept copy's id, for documents in a cluster of two or more.
    pub(super) cluster: Option<String>,
    pub(super) size: u32,
    pub(super) exact: bool,
    /// The kept copy is in the earlier dataset (`--against`).
    pub(super) earlier: bool,
    /// A removed copy's measured similarity to the kept copy (its alignment; 1 for an exact
    /// copy).
    pub(super) similarity: f32,
    /// The longer kept document this one's text is a passage of, and how the passage aligns.
    pub(super) contained: Option<(String, f32)>,
}

impl Decision {
    /// Why a document that is not kept is removed.
    pub(super) fn reason(&self) -> Reason {
        if self.contained.is_some() {
            Reason::Contained
        } else if self.exact {
            Reason::ExactDuplicate
        } else {
            Reason::NearDuplicate
        }
    }
}

pub(super) fn hex(id: &[u8; 16]) -> String {
    format!("{:032x}", u128::from_be_bytes(*id))
}

#[allow(clippy::too_many_arguments)]
pub(super) fn signatures(
    ds: &Dataset,
    part: &dataset::PartFile,
    i: usize,
    base: u64,
    work: &Path,
    profile: &Profile,
    layout: &Layout,
    boiler: &HashSet<u64>,
    signer: Option<&dyn BatchSigner>,
) -> Result<(), DedupError> {
    let sig_path = work.join(format!("sig-{i}.bin"));
    let run_path = work.join(format!("keys-{i}.run"));
    let mut hasher = profile.hasher();
    let tmp = sig_path.with_extension("tmp");
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&tmp).map_err(io_err(&tmp))?);
    let mut texts = TextWriter::create(super::texts::paths(work, &format!("text-{i}")))?;
    let mut text_err = Ok(());
    let mut entries = key_groups(&profile.banding, part.rows as usize);
    let (mut sig, mut keys, mut rec) = (Vec::new(), Vec::new(), Vec::with_capacity(layout.size()));
    let mut scratch = String::new();
    let (mut shingles, mut flat, mut n_chars) = (ShingleBatch::new(), Vec::new(), Vec::new());
    let perms = profile.banding.perms();
    let mut row = 0u64;
    // The columns a signature and a rank need (not `meta`, titles, locators …).
    let columns = ["text", "id", "ocr_confidence", "n_chars", "date", "source"];
    for batch in ds.batches_of(part, &columns)? {
        let batch = batch?;
        let text = batch
            .column_by_name("text")
            .ok_or_else(|| DedupError::Other("no `text` column".into()))?
            .as_string::<i64>()
            .clone();
        let ids = batch
            .column_by_name("id")
            .ok_or_else(|| DedupError::Other("no `id` column".into()))?
            .as_string::<i32>()
            .clone();
        let conf = batch.column_by_name("ocr_confidence").map(|c| c.as_primitive::<Float32Type>().clone());
        let chars = batch.column_by_name("n_chars").map(|c| c.as_primitive::<UInt32Type>().clone());
        let dates = batch.column_by_name("date").map(|c| c.as_primitive::<Date32Type>().clone());
        let sources = batch.column_by_name("source").map(|c| c.as_string::<i32>().clone());
        // Compare documents without their boilerplate: shared mastheads are not shared text.
        let mut compared = |r: usize, f: &mut dyn FnMut(&str)| {
            let src = sources.as_ref().filter(|s| s.is_valid(r)).map_or("", |s| s.value(r));
            let stripped = strip(text.value(r), src, boiler, profile.line_normalization(), &mut scratch);
            f(stripped.as_ref().map_or(text.value(r), |(s, _)| s.as_str()));
        };
        // Batched (GPU): the whole record batch's shingles in one flat array, signed at once.
        if let Some(signer) = signer {
            if shingles.input() != signer.input() {
                shingles = ShingleBatch::of(signer.input());
            }
            shingles.clear();
            n_chars.clear();
            for r in 0..batch.num_rows() {
                compared(r, &mut |t| {
                    shingles.push(&mut hasher, t);
                    // The text the pair is verified on; raw text goes to the device as it is.
                    let norm =
                        if shingles.input() == SignatureInput::Raw { hasher.normalize(t) } else { hasher.normalized() };
                    if text_err.is_ok() {
                        text_err = texts.push(norm);
                    }
                    // Only the rank of a dataset without `n_chars` needs it.
                    n_chars.push(if chars.is_none() { t.chars().count() as u32 } else { 0 });
                });
            }
            signer.sign(&mut shingles, &mut flat)?;
        }
        for r in 0..batch.num_rows() {
            let (exact, t_chars) = if signer.is_some() {
                sig.clear();
                sig.extend_from_slice(&flat[r * perms..(r + 1) * perms]);
                (shingles.exact[r], n_chars[r])
            } else {
                let mut t_chars = 0;
                compared(r, &mut |t| {
                    hasher.signature(t, &mut sig);
                    if text_err.is_ok() {
                        text_err = texts.push(hasher.normalized());
                    }
                    // Only the rank of a dataset without `n_chars` needs it.
                    if chars.is_none() {
                        t_chars = t.chars().count() as u32;
                    }
                });
                (xxhash_rust::xxh3::xxh3_128(hasher.normalized().as_bytes()), t_chars)
            };
            let rank = Rank {
                ocr_confidence: conf.as_ref().filter(|c| c.is_valid(r)).map_or(f32::NAN, |c| c.value(r)),
                n_chars: chars.as_ref().map_or(t_chars, |c| c.value(r)),
                date: dates.as_ref().filter(|c| c.is_valid(r)).map_or(i32::MAX, |c| c.value(r)),
                id: id_bytes(ids.value(r)),
                common_words: f32::NAN,
            };
            rec.clear();
            encode(&DocRecord { exact, rank, sig: sig.clone() }, &mut rec);
            w.write_all(&rec).map_err(io_err(&tmp))?;
            push_keys(&mut entries, &profile.banding, &sig, exact, base + row, &mut keys);
            row += 1;
        }
    }
    text_err?;
    texts.finish()?;
    drop(w.into_inner().map_err(|e| DedupError::Io { path: tmp.clone(), source: e.into_error() })?);
    std::fs::rename(&tmp, &sig_path).map_err(io_err(&sig_path))?;
    entries.write_run(&run_path).map_err(io_err(&run_path))
}

#[cfg(test)]
mod tests {
    use super::super::cluster::Rank;
    use super::super::minhash::estimated_jaccard;
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The in-place agreement of two encoded records is the estimate of the decoded ones.
        #[test]
        fn agreement_in_place_equals_estimated_jaccard(
            a in proptest::collection::vec(0u32..4, 0..40),
            flips in proptest::collection::vec(any::<bool>(), 40),
        ) {
            let b: Vec<u32> = a.iter().zip(&flips).map(|(&v, &f)| if f { v } else { v + 1 }).collect();
            let rank = Rank { ocr_confidence: 0.5, n_chars: 10, date: 0, id: [7; 16], common_words: f32::NAN };
            let (mut ea, mut eb) = (Vec::new(), Vec::new());
            encode(&DocRecord { exact: 1, rank, sig: a.clone() }, &mut ea);
            encode(&DocRecord { exact: 2, rank, sig: b.clone() }, &mut eb);
            prop_assert_eq!(agreement(&ea[Layout::HEAD..], &eb[Layout::HEAD..]), estimated_jaccard(&a, &b));
            prop_assert_eq!(decode(&ea, a.len()).sig, a);
        }
    }
}
