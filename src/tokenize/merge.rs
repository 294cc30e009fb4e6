//! Byte-level BPE by lowest-rank merges over a pair table: the algorithm the GPU kernel runs
//! (`gpu::bpe`), its CPU reference, and the encoder that drives either.
//!
//! Why a second formulation of BPE: the CPU encoder (`bpe-openai`) finds tiktoken's encoding
//! with a backtracking search over a byte trie, which suits a CPU and not a GPU. A GPU wants
//! flat tables and a short, regular loop per piece. This is tiktoken's own algorithm, recast
//! on token ids:
//!
//! 1. A piece that is a token as a whole is that token (tiktoken's first rule).
//! 2. Otherwise start from its bytes' tokens and repeatedly merge the adjacent pair whose
//!    concatenation is the token of lowest rank (the leftmost on a tie), until no adjacent pair
//!    concatenates to a token.
//!
//! tiktoken looks up the concatenated bytes; here the same lookup is a table of
//! `(left id, right id) → (rank, id)` holding every pair of tokens whose concatenation is a
//! token. Every part during merging is a token, so a pair is in the table exactly when its
//! bytes are in the vocabulary: the two lookups agree and so do the encodings. The tests check
//! this against the CPU encoder on real text for cl100k_base and o200k_base.
//!
//! [`MergeEncoder`] is the pipeline around the merges: pre-tokenize a batch with the encoder's
//! own regex (CPU), resolve whole-token pieces and collect the distinct other pieces (each is
//! merged once however often it occurs), hand those to a [`PieceMerger`] (the GPU, or
//! [`ReferenceMerger`] here), and scatter the ids back in document order. Pieces longer than
//! [`MAX_MERGE_PIECE`] bytes (long runs of letters or spaces, rare in text) go to the CPU
//! encoder, whose search is linear where merging is quadratic: the same ids, without one GPU
//! thread stalling its warp.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use rayon::prelude::*;

use super::encoder::Encoder;
use super::pretokenize::Scanner;
use super::TokenizeError;
use crate::device::chunks::{Chunks, NORMALIZE_CHUNK};
use crate::device::GpuError;

/// A table slot holding no pair.
pub const EMPTY_KEY: u64 = u64::MAX;
/// The lookup result for a pair that does not merge (above every `rank << 32 | id`).
pub const NO_MERGE: u64 = u64::MAX;
/// Longest piece, in bytes, given to a [`PieceMerger`]; the GPU kernel's per-thread arrays hold
/// this many ids.
pub const MAX_MERGE_PIECE: usize = 128;

/// Hashes a piece with one-shot xxh3 (std's `Hash` for `[u8]` writes the length, then the
/// bytes). Xxh3's streaming hasher costs more than the regex split on pieces of a few bytes;
/// this one made collecting distinct pieces ~1.7× faster (measured on 40 MB of NewsEye pages).
#[derive(Default, Clone, Copy)]
struct PieceHash(u64);

impl Hasher for PieceHash {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn write_usize(&mut self, n: usize) {
        self.0 ^= (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type PieceMap<K, V> = HashMap<K, V, BuildHasherDefault<PieceHash>>;

/// The table slot where probing for `key` starts (murmur3's 64-bit finalizer, top `bits` bits).
/// The GPU kernel computes the same function.
#[inline]
pub fn home_slot(key: u64, bits: u32) -> usize {
    let mut h = key;
    h ^= h >> 33;
    h = h.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    h ^= h >> 33;
    (h >> (64 - bits)) as usize
}

/// The merge rules of a byte-level BPE vocabulary, as flat arrays for the GPU.
pub struct MergeTable {
    /// Open addressing with linear probing: `left << 32 | right`, or [`EMPTY_KEY`].
    pub keys: Vec<u64>,
    /// `rank << 32 | id` of the token the pair concatenates to (tiktoken: rank = id).
    pub values: Vec<u64>,
    /// log2 of the table's capacity.
    pub bits: u32,
    /// The token of each single byte.
    pub byte_ids: [u32; 256],
    /// Pairs in the table.
    pub pairs: usize,
    /// Every token's bytes → id: rule 1 (whole pieces).
    whole: PieceMap<Box<[u8]>, u32>,
}

impl MergeTable {
    /// The table of a vocabulary whose token `id` has bytes `bytes(id)` and rank `id`
    /// (tiktoken's convention), for ids `0..n`.
    pub fn from_ranks<'a>(n: u32, bytes: impl Fn(u32) -> &'a [u8]) -> Result<Self, String> {
        let mut whole: PieceMap<Box<[u8]>, u32> = PieceMap::default();
        whole.reserve(n as usize);
        for id in 0..n {
            whole.entry(bytes(id).into()).or_insert(id);
        }
        let mut byte_ids = [0u32; 256];
        for (b, slot) in byte_ids.iter_mut().enumerate() {
            *slot = *whole
                .get(&[b as u8][..])
                .ok_or_else(|| format!("byte 0x{b:02x} is not a token: not a byte-level BPE vocabulary"))?;
        }
        let mut pairs: Vec<(u64, u64)> = Vec::new();
        for id in 0..n {
            let t = bytes(id);
            if whole.get(t) != Some(&id) {
                continue; // a duplicate of an earlier token's bytes: never produced
            }
            for k in 1..t.len() {
                if let (Some(&l), Some(&r)) = (whole.get(&t[..k]), whole.get(&t[k..])) {
                    pairs.push(((l as u64) << 32 | r as u64, (id as u64) << 32 | id as u64));
                }
            }
        }
        let bits = (pairs.len().max(1) * 2).next_power_of_two().trailing_zeros().max(4);
        let (mut keys, mut values) = (vec![EMPTY_KEY; 1 << bits], vec![NO_MERGE; 1 << bits]);
        let mask = (1usize << bits) - 1;
        for &(k, v) in &pairs {
            let mut s = home_slot(k, bits);
            while keys[s] != EMPTY_KEY {
                s = (s + 1) & mask;
            }
            keys[s] = k;
            values[s] = v;
        }
        Ok(MergeTable { keys, values, bits, byte_ids, pairs: pairs.len(), whole })
    }

    /// The table of `enc`'s vocabulary, when `enc` is a tiktoken-style byte-level BPE.
    pub fn for_encoder(enc: &dyn Encoder) -> Result<Self, String> {
        let tok = enc.rank_bpe().ok_or_else(|| {
            format!(
                "{} is not a tiktoken-style byte-level BPE; the GPU encodes cl100k_base, o200k_base and *.tiktoken \
                 rank files (use --device cpu for a tokenizer.json)",
                enc.describe()
            )
        })?;
        Self::from_ranks(tok.bpe.num_tokens() as u32, |id| tok.bpe.token_bytes(id))
    }

    /// Rule 1: the token whose bytes are exactly `piece`.
    pub fn token(&self, piece: &[u8]) -> Option<u32> {
        self.whole.get(piece).copied()
    }

    /// `rank << 32 | id` of the token `left` and `right` concatenate to, or [`NO_MERGE`].
    #[inline]
    pub fn lookup(&self, left: u32, right: u32) -> u64 {
        let key = (left as u64) << 32 | right as u64;
        let mask = self.keys.len() - 1;
        let mut s = home_slot(key, self.bits);
        loop {
            match self.keys[s] {
                k if k == key => return self.values[s],
                EMPTY_KEY => return NO_MERGE,
                _ => s = (s + 1) & mask,
            }
        }
    }

    /// Rule 2 on one piece, exactly as the kernel does it: ids into `out` (cleared first).
    pub fn merge_piece(&self, piece: &[u8], out: &mut Vec<u32>) {
        out.clear();
        out.extend(piece.iter().map(|&b| self.byte_ids[b as usize]));
        // ranks[i]: the merge of out[i] and out[i + 1].
        let mut ranks: Vec<u64> = out.windows(2).map(|w| self.lookup(w[0], w[1])).collect();
        while out.len() > 1 {
            let (mut best, mut j) = (NO_MERGE, 0);
            for (i, &r) in ranks.iter().enumerate() {
                if r < best {
                    best = r;
                    j = i;
                }
            }
            if best == NO_MERGE {
                break;
            }
            out[j] = best as u32;
            out.remove(j + 1);
            // Old ranks[j + 1] (the pair after) moves to j and is recomputed below.
            ranks.remove(j);
            if j > 0 {
                ranks[j - 1] = self.lookup(out[j - 1], out[j]);
            }
            if j + 1 < out.len() {
                ranks[j] = self.lookup(out[j], out[j + 1]);
            }
        }
    }

    /// Bytes of device memory the table takes (keys, values, byte ids).
    pub fn device_bytes(&self) -> usize {
        self.keys.len() * 16 + 256 * 4
    }
}

/// Encodes distinct pieces by rule 2 (the GPU kernel, or [`ReferenceMerger`]).
pub trait PieceMerger: Send + Sync {
    fn describe(&self) -> String;
    /// Piece `k` is `bytes[starts[k]..starts[k + 1]]` (at most [`MAX_MERGE_PIECE`] bytes); its
    /// ids go to `ids[starts[k]..starts[k] + counts[k]]` (a piece of n bytes has at most n ids).
    /// `ids` and `counts` are resized.
    fn merge(&self, bytes: &[u8], starts: &[u32], ids: &mut Vec<u32>, counts: &mut Vec<u32>) -> Result<(), GpuError>;
}

/// Rule 2 on the CPU with [`MergeTable::merge_piece`]: the reference the GPU must equal.
pub struct ReferenceMerger {
    table: Arc<MergeTable>,
}

impl ReferenceMerger {
    pub fn new(table: Arc<MergeTable>) -> Self {
        Self { table }
    }
}

impl PieceMerger for ReferenceMerger {
    fn describe(&self) -> String {
        "CPU reference of the GPU merge kernel".into()
    }

    fn merge(&self, bytes: &[u8], starts: &[u32], ids: &mut Vec<u32>, counts: &mut Vec<u32>) -> Result<(), GpuError> {
        let n = starts.len().saturating_sub(1);
        let merged: Vec<Vec<u32>> = (0..n)
            .into_par_iter()
            .map_init(Vec::new, |buf, k| {
                self.table.merge_piece(&bytes[starts[k] as usize..starts[k + 1] as usize], buf);
                buf.clone()
            })
            .collect();
        ids.clear();
        ids.resize(bytes.len(), 0);
        counts.clear();
        for (k, m) in merged.iter().enumerate() {
            ids[starts[k] as usize..starts[k] as usize + m.len()].copy_from_slice(m);
            counts.push(m.len() as u32);
        }
        Ok(())
    }
}

/// Where an encoder's time went, summed over its calls and threads (nanoseconds).
#[derive(Debug, Default)]
pub struct PhaseTimes {
    /// Pre-tokenization, rule 1 and collecting distinct pieces (CPU).
    pub prep_ns: AtomicU64,
    /// The [`PieceMerger`] calls (wall time seen by the calling threads).
    pub merge_ns: AtomicU64,
    /// Long pieces on the CPU encoder.
    pub long_ns: AtomicU64,
    /// Scattering ids back into documents (CPU).
    pub scatter_ns: AtomicU64,
    pub text_bytes: AtomicU64,
    /// Pieces, distinct pieces merged, and pieces too long to merge.
    pub pieces: AtomicU64,
    pub merged: AtomicU64,
    pub long: AtomicU64,
}

fn add(c: &AtomicU64, since: Instant) {
    c.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
}

impl PhaseTimes {
    pub fn render(&self) -> String {
        let ms = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e6;
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        format!(
            "thread-time: prep {:.0} ms, merge calls {:.0} ms, long pieces {:.0} ms, scatter {:.0} ms; \
             {} pieces, {} distinct merged, {} long",
            ms(&self.prep_ns),
            ms(&self.merge_ns),
            ms(&self.long_ns),
            ms(&self.scatter_ns),
            n(&self.pieces),
            n(&self.merged),
            n(&self.long)
        )
    }
}

/// Bytes of text per call to the merger: large enough that a GPU call is worth its overhead,
/// small enough that a 1024-document batch still spreads over several threads.
const CHUNK_BYTES: usize = 1 << 20;

/// An encoder giving `inner`'s ids, with rule 2 done by a [`PieceMerger`].
pub struct MergeEncoder<M: PieceMerger> {
    inner: Box<dyn Encoder>,
    table: Arc<MergeTable>,
    merger: M,
    times: PhaseTimes,
}

/// What a distinct piece resolves to.
#[derive(Clone, Copy)]
enum Slot {
    /// Rule 1: a token.
    Token(u32),
    /// The `k`-th piece given to the merger.
    Merge(u32),
    /// The `k`-th long piece, for the CPU encoder.
    Long(u32),
}

impl<M: PieceMerger> MergeEncoder<M> {
    /// `table` must be `MergeTable::for_encoder(inner)`.
    pub fn new(inner: Box<dyn Encoder>, table: impl Into<Arc<MergeTable>>, merger: M) -> Self {
        assert!(inner.rank_bpe().is_some(), "a MergeEncoder wraps a byte-level BPE encoder");
        Self { inner, table: table.into(), merger, times: PhaseTimes::default() }
    }

    pub fn times(&self) -> &PhaseTimes {
        &self.times
    }

    pub fn merger(&self) -> &M {
        &self.merger
    }

    fn encode_merged(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TokenizeError> {
        let tok = self.inner.rank_bpe().expect("checked in new");
        let t0 = Instant::now();
        let norms: Vec<_> = texts.iter().map(|t| tok.normalize(*t)).collect();
        let mut index: PieceMap<&[u8], Slot> = PieceMap::default();
        let (mut refs, mut doc_ends) = (Vec::<Slot>::new(), Vec::with_capacity(texts.len()));
        let (mut bytes, mut starts, mut longs) = (Vec::<u8>::new(), vec![0u32], Vec::<&[u8]>::new());
        for n in &norms {
            for piece in tok.split(n.as_str()) {
                let p = piece.as_bytes();
                let slot = *index.entry(p).or_insert_with(|| {
                    if let Some(id) = self.table.token(p) {
                        Slot::Token(id)
                    } else if p.len() > MAX_MERGE_PIECE {
                        longs.push(p);
                        Slot::Long(longs.len() as u32 - 1)
                    } else {
                        bytes.extend_from_slice(p);
                        starts.push(bytes.len() as u32);
                        Slot::Merge(starts.len() as u32 - 2)
                    }
                });
                refs.push(slot);
            }
            doc_ends.push(refs.len());
        }
        add(&self.times.prep_ns, t0);

        let t1 = Instant::now();
        let (mut ids, mut counts) = (Vec::new(), Vec::new());
        if starts.len() > 1 {
            self.merger.merge(&bytes, &starts, &mut ids, &mut counts)?;
        }
        add(&self.times.merge_ns, t1);
        let t2 = Instant::now();
        let long_ids: Vec<Vec<u32>> = longs.iter().map(|p| tok.bpe.encode_via_backtracking(p)).collect();
        add(&self.times.long_ns, t2);

        let t3 = Instant::now();
        let mut out = Vec::with_capacity(texts.len());
        let mut from = 0;
        for &end in &doc_ends {
            let mut doc = Vec::with_capacity((end - from) * 2);
            for &s in &refs[from..end] {
                match s {
                    Slot::Token(id) => doc.push(id),
                    Slot::Merge(k) => {
                        let at = starts[k as usize] as usize;
                        doc.extend_from_slice(&ids[at..at + counts[k as usize] as usize]);
                    }
                    Slot::Long(k) => doc.extend_from_slice(&long_ids[k as usize]),
                }
            }
            out.push(doc);
            from = end;
        }
        add(&self.times.scatter_ns, t3);
        let c = &self.times;
        c.text_bytes.fetch_add(texts.iter().map(|t| t.len() as u64).sum(), Ordering::Relaxed);
        c.pieces.fetch_add(refs.len() as u64, Ordering::Relaxed);
        c.merged.fetch_add(starts.len() as u64 - 1, Ordering::Relaxed);
        c.long.fetch_add(longs.len() as u64, Ordering::Relaxed);
        Ok(out)
    }
}

/// Splits `texts` into runs of about `CHUNK_BYTES` bytes (at least one text each).
fn chunks<'a, 'b>(texts: &'a [&'b str]) -> Vec<&'a [&'b str]> {
    let mut out = Vec::new();
    let (mut from, mut size) = (0, 0);
    for (i, t) in texts.iter().enumerate() {
        size += t.len();
        if size >= CHUNK_BYTES {
            out.push(&texts[from..=i]);
            (from, size) = (i + 1, 0);
        }
    }
    if from < texts.len() {
        out.push(&texts[from..]);
    }
    out
}

/// Encodes whole batches on a device: split (cl100k's or o200k's pre-tokenization), merges and packing,
/// with nothing left to the CPU but copying text in and ids out. The GPU's is
/// `gpu::bpe::GpuSplitBpe`; [`ReferenceSplitBpe`] is its loops in Rust.
pub trait BatchEncoder: Send + Sync {
    fn describe(&self) -> String;
    /// The ids of each text of a batch: texts one after the other in `text`, text `d` at
    /// `text[offsets[d]..offsets[d + 1]]`.
    fn encode_texts(&self, text: &[u8], offsets: &[u32]) -> Result<Vec<Vec<u32>>, GpuError>;
}

/// The GPU's split-and-merge loops in Rust: each text cut into the kernel's chunks and split
/// chunk by chunk ([`Scanner::chunk_pieces`]), every piece merged by rule 2
/// ([`MergeTable::merge_piece`], whole tokens included: merging a token's bytes gives the
/// token), the ids packed in order.
pub struct ReferenceSplitBpe {
    table: Arc<MergeTable>,
    scanner: Scanner,
}

impl ReferenceSplitBpe {
    /// `table` splits with `scanner`'s pattern.
    pub fn new(table: Arc<MergeTable>, scanner: Scanner) -> Self {
        Self { table, scanner }
    }
}

impl BatchEncoder for ReferenceSplitBpe {
    fn describe(&self) -> String {
        "CPU reference of the GPU split-and-merge kernels".into()
    }

    fn encode_texts(&self, text: &[u8], offsets: &[u32]) -> Result<Vec<Vec<u32>>, GpuError> {
        let chunks = Chunks::of(offsets, NORMALIZE_CHUNK);
        let (mut out, mut pieces, mut ids) = (Vec::new(), Vec::new(), Vec::new());
        for d in 0..offsets.len() - 1 {
            let (base, end) = (offsets[d] as usize, offsets[d + 1] as usize);
            let t = std::str::from_utf8(&text[base..end]).map_err(|e| GpuError::Unsupported(e.to_string()))?;
            pieces.clear();
            let ks = chunks.first[d] as usize..chunks.first[d + 1] as usize;
            for k in ks.clone() {
                let from = chunks.begin[k] as usize - base;
                let to = if k + 1 < ks.end { chunks.begin[k + 1] as usize - base } else { t.len() };
                self.scanner.chunk_pieces(t, from, to, &mut pieces);
            }
            let mut doc = Vec::new();
            for (j, &p) in pieces.iter().enumerate() {
                let q = pieces.get(j + 1).copied().unwrap_or(t.len());
                self.table.merge_piece(&t.as_bytes()[p..q], &mut ids);
                doc.extend_from_slice(&ids);
            }
            out.push(doc);
        }
        Ok(out)
    }
}

/// An encoder giving `inner`'s ids (cl100k_base or o200k_base), every batch encoded by a [`BatchEncoder`].
pub struct SplitEncoder<B: BatchEncoder> {
    inner: Box<dyn Encoder>,
    device: B,
}

impl<B: BatchEncoder> SplitEncoder<B> {
    /// `inner` must split as the device does and be the vocabulary of its table.
    pub fn new(inner: Box<dyn Encoder>, device: B) -> Self {
        Self { inner, device }
    }

    pub fn device(&self) -> &B {
        &self.device
    }

    fn encode_split(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TokenizeError> {
        let mut text = Vec::with_capacity(texts.iter().map(|t| t.len()).sum());
        let mut offsets = Vec::with_capacity(texts.len() + 1);
        offsets.push(0u32);
        for t in texts {
            text.extend_from_slice(t.as_bytes());
            offsets.push(u32::try_from(text.len()).map_err(|_| TokenizeError::Invalid("a chunk over 4 GB".into()))?);
        }
        Ok(self.device.encode_texts(&text, &offsets)?)
    }
}

/// An encoder that gives another's ids (`inner`, whose vocabulary and names it reports, so
/// manifests do not depend on the device) and encodes texts a chunk of about a megabyte at a
/// time, chunks in parallel: [`MergeEncoder`] and [`SplitEncoder`].
pub trait ChunkEncoder: Send + Sync {
    fn inner(&self) -> &dyn Encoder;
    fn encode_chunk(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TokenizeError>;
}

impl<M: PieceMerger> ChunkEncoder for MergeEncoder<M> {
    fn inner(&self) -> &dyn Encoder {
        self.inner.as_ref()
    }
    fn encode_chunk(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TokenizeError> {
        self.encode_merged(texts)
    }
}

impl<B: BatchEncoder> ChunkEncoder for SplitEncoder<B> {
    fn inner(&self) -> &dyn Encoder {
        self.inner.as_ref()
    }
    fn encode_chunk(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TokenizeError> {
        self.encode_split(texts)
    }
}

impl<C: ChunkEncoder> Encoder for C {
    fn describe(&self) -> String {
        self.inner().describe()
    }
    fn fingerprint(&self) -> String {
        self.inner().fingerprint()
    }
    fn vocab_size(&self) -> usize {
        self.inner().vocab_size()
    }
    fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner().token_to_id(token)
    }
    fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner().id_to_token(id)
    }
    fn special_tokens(&self) -> Vec<(String, u32)> {
        self.inner().special_tokens()
    }
    fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizeError> {
        Ok(self.encode_chunk(&[text])?.pop().unwrap_or_default())
    }
    fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TokenizeError> {
        let parts: Vec<Vec<Vec<u32>>> =
            chunks(texts).into_par_iter().map(|c| self.encode_chunk(c)).collect::<Result<_, _>>()?;
        Ok(parts.into_iter().flatten().collect())
    }
    fn rank_bpe(&self) -> Option<&bpe_openai::Tokenizer> {
        self.inner().rank_bpe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokenize::encoder::TiktokenEncoder;

    /// A toy vocabulary: every byte, then "ab", "bc", "abc", "cc" in rank order.
    fn toy() -> MergeTable {
        let mut toks: Vec<Vec<u8>> = (0..=255u8).map(|b| vec![b]).collect();
        for t in ["ab", "bc", "abc", "cc"] {
            toks.push(t.as_bytes().to_vec());
        }
        MergeTable::from_ranks(toks.len() as u32, |id| &toks[id as usize]).unwrap()
    }

    #[test]
    fn gpu_merge_rules_on_a_toy_vocabulary() {
        let t = toy();
        let (ab, bc, abc, cc) = (256, 257, 258, 259);
        assert_eq!(t.lookup(b'a' as u32, b'b' as u32), (ab as u64) << 32 | ab as u64);
        assert_eq!(t.lookup(ab, b'c' as u32) as u32, abc);
        assert_eq!(t.lookup(b'a' as u32, bc) as u32, abc, "every split of a token is a pair");
        assert_eq!(t.lookup(b'c' as u32, b'a' as u32), NO_MERGE);
        let mut out = Vec::new();
        // "abc": ab (rank 256) merges before bc (257), then ab+c → abc.
        t.merge_piece(b"abc", &mut out);
        assert_eq!(out, vec![abc]);
        // "bcc": bc (257) before cc (259): bc, c.
        t.merge_piece(b"bcc", &mut out);
        assert_eq!(out, vec![bc, b'c' as u32]);
        // "ccc": a tie of equal ranks takes the leftmost: cc, c.
        t.merge_piece(b"ccc", &mut out);
        assert_eq!(out, vec![cc, b'c' as u32]);
        t.merge_piece(b"", &mut out);
        assert!(out.is_empty());
        t.merge_piece(b"x", &mut out);
        assert_eq!(out, vec![b'x' as u32]);
        assert_eq!(t.token(b"abc"), Some(abc));
        assert_eq!(t.token(b"abcc"), None);
    }

    #[test]
    fn gpu_reference_merger_layout() {
        let t = Arc::new(toy());
        let m = ReferenceMerger::new(t.clone());
        let (mut ids, mut counts) = (Vec::new(), Vec::new());
        m.merge(b"abcbccxy", &[0, 3, 6, 8], &mut ids, &mut counts).unwrap();
        assert_eq!(counts, vec![1, 2, 2]);
        assert_eq!(ids[0], 258);
        assert_eq!(&ids[3..5], &[257, b'c' as u32]);
        assert_eq!(&ids[6..8], &[b'x' as u32, b'y' as u32]);
    }

    #[test]
    fn not_byte_level_is_refused() {
        let toks: Vec<&[u8]> = vec![b"a", b"b"];
        let e = MergeTable::from_ranks(2, |id| toks[id as usize]).err().unwrap();
        assert!(e.contains("byte 0x00 is not a token"), "{e}");
    }

    /// The reference pipeline gives cl100k_base's ids on tricky strings, long pieces included.
    #[test]
    fn gpu_reference_encoder_equals_cpu_on_tricky_strings() {
        let cpu = TiktokenEncoder::cl100k_base();
        let table = Arc::new(MergeTable::for_encoder(&cpu).unwrap());
        let enc =
            MergeEncoder::new(Box::new(TiktokenEncoder::cl100k_base()), table.clone(), ReferenceMerger::new(table));
        let long_word = "Donaudampfschiffahrtselektrizitätenhauptbetriebswerkbauunterbeamtengesellschaft".repeat(3);
        let texts = [
            "",
            "hello world",
            "Stockholm 1897: 1234567 kr.\r\n\r\n  indrag\t\ttab   ",
            "don't I'LL we've   \n\n\n",
            "ÅÄÖ åäö ſ ﬁ 𝔉raktur — ”citat” «guillemets» 日本語 🙂",
            "a\u{00a0}b\u{2009}c\u{3000}d",
            &long_word,
            &" ".repeat(300),
        ];
        let got = enc.encode_batch(&texts).unwrap();
        for (t, g) in texts.iter().zip(&got) {
            assert_eq!(g, &cpu.encode(t).unwrap(), "{t:?}");
        }
        assert!(enc.times().long.load(Ordering::Relaxed) >= 1, "the long word went to the CPU encoder");
    }

    /// The split-and-merge reference gives each built-in's ids, its text cut into the kernel's
    /// chunks: tricky strings and a long page whose chunks end in words, spaces and marks.
    #[test]
    fn reference_split_bpe_equals_cpu_for_both_builtins() {
        let page = "Ångaren Freja anlände i går  till Skeppsbron, McDONALD'S don't \u{301}x — 1897/98\n".repeat(60);
        let mut texts: Vec<&str> = crate::tokenize::pretokenize::tests::TRICKY.to_vec();
        texts.push(&page);
        for (cpu, scanner) in
            [(TiktokenEncoder::cl100k_base(), Scanner::Cl100k), (TiktokenEncoder::o200k_base(), Scanner::O200k)]
        {
            let table = Arc::new(MergeTable::for_encoder(&cpu).unwrap());
            let want: Vec<Vec<u32>> = texts.iter().map(|t| cpu.encode(t).unwrap()).collect();
            let enc = SplitEncoder::new(Box::new(cpu), ReferenceSplitBpe::new(table, scanner));
            assert_eq!(enc.encode_batch(&texts).unwrap(), want, "{scanner:?}");
        }
    }
}
