//! `kbcurate verify <shards>`: checks a shards folder against its manifest — file sizes and
//! checksums, Megatron headers (magic, version, dtype, counts, pointers, document indices),
//! window lengths, padding, ids inside the vocabulary, window boundaries (`cu_seqlens`) and
//! token counts — and maps a sequence back to the ids of the documents in it.

use std::fs;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::Int32Type;
use arrow_array::{Array, RecordBatch};

use super::megatron;
use super::stage::{Format, Shard, ShardsManifest};
use super::{io_err, TokenizeError};
use crate::dataset;

#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    pub shards: u64,
    pub windows: u64,
    pub tokens: u64,
    pub problems: Vec<String>,
}

impl VerifyReport {
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
    pub fn render(&self) -> String {
        let mut s = format!(
            "verify: {} shards, {} windows, {} tokens: {}\n",
            self.shards,
            self.windows,
            self.tokens,
            if self.ok() { "ok".to_string() } else { format!("{} problems", self.problems.len()) }
        );
        for p in &self.problems {
            s.push_str(&format!("  {p}\n"));
        }
        s
    }
}

/// One window as stored: tokens and its pieces (document id, first token in the document, length).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub tokens: Vec<u32>,
    pub cu_seqlens: Vec<i32>,
    pub doc_ids: Vec<String>,
    pub doc_starts: Vec<i32>,
}

fn bounds_file(m: &ShardsManifest, shard: &Shard) -> String {
    match m.format {
        Format::Megatron => format!("{}.docs.parquet", shard.name),
        Format::Parquet => format!("{}.parquet", shard.name),
    }
}

/// Every window of a shard, in order.
pub fn read_shard(dir: &Path, m: &ShardsManifest, shard: &Shard) -> Result<Vec<Window>, TokenizeError> {
    let path = dir.join(bounds_file(m, shard));
    let mut out = Vec::new();
    let batches: Vec<RecordBatch> = dataset::read_parquet_batches(&path, 4096)?.collect::<Result<_, _>>()?;
    let bad = |why: &str| TokenizeError::Invalid(format!("{}: {why}", path.display()));
    for b in &batches {
        let list = |name: &str| b.column_by_name(name).map(|c| c.as_list::<i32>().clone()).ok_or_else(|| bad(name));
        let (cu, docs, starts) = (list("cu_seqlens")?, list("doc_ids")?, list("doc_starts")?);
        let ids = if m.format == Format::Parquet { Some(list("input_ids")?) } else { None };
        for r in 0..b.num_rows() {
            let ints = |l: &arrow_array::ListArray| l.value(r).as_primitive::<Int32Type>().values().to_vec();
            let d = docs.value(r);
            let d = d.as_string::<i32>();
            out.push(Window {
                tokens: ids.as_ref().map(|l| ints(l).into_iter().map(|t| t as u32).collect()).unwrap_or_default(),
                cu_seqlens: ints(&cu),
                doc_ids: (0..d.len()).map(|i| d.value(i).to_string()).collect(),
                doc_starts: ints(&starts),
            });
        }
    }
    if m.format == Format::Megatron {
        let idx = megatron::read_index(&dir.join(format!("{}.idx", shard.name)))?;
        let bin_path = dir.join(format!("{}.bin", shard.name));
        let bin = fs::read(&bin_path).map_err(io_err(&bin_path))?;
        if bin.len() as u64 != idx.bin_bytes() {
            return Err(TokenizeError::Invalid(format!(
                "{}: {} bytes, the index says {}",
                bin_path.display(),
                bin.len(),
                idx.bin_bytes()
            )));
        }
        if idx.lengths.len() != out.len() {
            return Err(bad(&format!("{} windows, the .idx has {} sequences", out.len(), idx.lengths.len())));
        }
        if idx.dtype != m.dtype {
            return Err(bad(&format!("dtype {:?} in the .idx, {:?} in the manifest", idx.dtype, m.dtype)));
        }
        if idx.doc_indices != (0..=idx.lengths.len() as i64).collect::<Vec<_>>() {
            return Err(bad("document indices: each window should be its own document"));
        }
        for (i, w) in out.iter_mut().enumerate() {
            w.tokens = idx.sequence(&bin, i);
        }
    }
    Ok(out)
}

pub fn verify(dir: &Path) -> Result<VerifyReport, TokenizeError> {
    let m = ShardsManifest::read(dir)?;
    let mut rep = VerifyReport::default();
    let pad = m.special_tokens.pad.as_ref().map(|p| p.id);
    for (split, sp) in &m.splits {
        let mut tokens = 0u64;
        for shard in &sp.shards {
            rep.shards += 1;
            let mut problem = |s: String| rep.problems.push(format!("{}: {s}", shard.name));
            for f in &shard.files {
                match fs::read(dir.join(&f.file)) {
                    Err(e) => problem(format!("{}: {e}", f.file)),
                    Ok(b) => {
                        let sum = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&b));
                        if b.len() as u64 != f.bytes || sum != f.xxh3 {
                            problem(format!(
                                "{}: {} bytes, xxh3 {sum}; the manifest says {} bytes, xxh3 {}",
                                f.file,
                                b.len(),
                                f.bytes,
                                f.xxh3
                            ));
                        }
                    }
                }
            }
            let windows = match read_shard(dir, &m, shard) {
                Ok(w) => w,
                Err(e) => {
                    problem(e.to_string());
                    continue;
                }
            };
            if windows.len() as u64 != shard.windows {
                problem(format!("{} windows, the manifest says {}", windows.len(), shard.windows));
            }
            let (mut used_total, mut pad_total) = (0u64, 0u64);
            for (i, w) in windows.iter().enumerate() {
                let n = w.cu_seqlens.len();
                let used = *w.cu_seqlens.last().unwrap_or(&-1);
                let bounds_ok = n >= 2
                    && w.cu_seqlens[0] == 0
                    && w.cu_seqlens.windows(2).all(|c| c[0] < c[1])
                    && w.doc_ids.len() == n - 1
                    && w.doc_starts.len() == n - 1
                    && w.doc_starts.iter().all(|&s| s >= 0)
                    && used as usize <= w.tokens.len();
                if !bounds_ok {
                    problem(format!("window {i}: bad boundaries {:?} for {} tokens", w.cu_seqlens, w.tokens.len()));
                    continue;
                }
                if w.tokens.len() > m.seq_len as usize || (pad.is_some() && w.tokens.len() != m.seq_len as usize) {
                    problem(format!("window {i}: {} tokens, seq_len {}", w.tokens.len(), m.seq_len));
                }
                if w.tokens[used as usize..].iter().any(|&t| Some(t) != pad) {
                    problem(format!("window {i}: tokens after the last document are not padding"));
                }
                if let Some(t) = w.tokens.iter().find(|&&t| t as usize >= m.tokenizer.vocab_size) {
                    problem(format!("window {i}: token {t} outside the vocabulary ({})", m.tokenizer.vocab_size));
                }
                used_total += used as u64;
                pad_total += (w.tokens.len() - used as usize) as u64;
            }
            if used_total != shard.tokens || pad_total != shard.pad_tokens {
                problem(format!(
                    "{used_total} tokens + {pad_total} padding; the manifest says {} + {}",
                    shard.tokens, shard.pad_tokens
                ));
            }
            rep.windows += windows.len() as u64;
            rep.tokens += used_total;
            tokens += used_total;
        }
        if tokens != sp.packing.tokens {
            rep.problems.push(format!("{split}: {tokens} tokens in shards, the manifest says {}", sp.packing.tokens));
        }
    }
    Ok(rep)
}

/// Window `n` of `what` — a split (`train`: counting over its shards in order) or a shard
/// (`train/shard-00003`).
pub fn locate(dir: &Path, what: &str, n: u64) -> Result<(String, u64, Window), TokenizeError> {
    let m = ShardsManifest::read(dir)?;
    let mut k = n;
    let shards: Vec<&Shard> = match m.splits.get(what) {
        Some(sp) => sp.shards.iter().collect(),
        None => m.splits.values().flat_map(|s| &s.shards).filter(|s| s.name == what).collect(),
    };
    if shards.is_empty() {
        return Err(TokenizeError::Invalid(format!(
            "{}: no split or shard `{what}` (splits: {})",
            dir.display(),
            m.splits.keys().cloned().collect::<Vec<_>>().join(", ")
        )));
    }
    for s in shards {
        if k < s.windows {
            let mut w = read_shard(dir, &m, s)?;
            return Ok((s.name.clone(), k, w.swap_remove(k as usize)));
        }
        k -= s.windows;
    }
    Err(TokenizeError::Invalid(format!("`{what}` has {} windows; {n} is past the end", n - k)))
}
