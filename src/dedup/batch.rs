//! MinHash signatures of a batch of documents at once, from one flat layout: what a batched
//! backend (the GPU kernel, `gpu::minhash`) consumes, and a CPU reference of that kernel's loop.
//!
//! Why a layout of its own: a GPU wants few large transfers of plain numbers, not one call per
//! document. The CPU does what is branchy and string-heavy (normalization, shingling, xxh3) and
//! appends each document's shingle hashes to one array; `offsets` says where each document's
//! run starts. The signature of document `d` at permutation `p` is then the min over
//! `hashes[offsets[d]..offsets[d+1]]` of `h_p`, the same function and the same shingles as
//! [`MinHasher::signature`] — so the signatures are identical, which the tests check on real text.

use rayon::prelude::*;

use super::minhash::{one_permutation, MinHasher, Sketch};
use crate::gpu::GpuError;

/// Shingle hashes of many documents, one after the other.
#[derive(Debug, Clone)]
pub struct ShingleBatch {
    /// Every document's shingle hashes (repeats kept, as the CPU path keeps them).
    pub hashes: Vec<u64>,
    /// Document `d`'s hashes are `hashes[offsets[d] as usize..offsets[d + 1] as usize]`.
    pub offsets: Vec<u32>,
    /// xxh3-128 of each document's normalized text: the exact-duplicate key.
    pub exact: Vec<u128>,
    /// Bytes of text given (before normalization), for throughput figures.
    pub text_bytes: usize,
}

impl Default for ShingleBatch {
    fn default() -> Self {
        Self { hashes: Vec::new(), offsets: vec![0], exact: Vec::new(), text_bytes: 0 }
    }
}

impl ShingleBatch {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn clear(&mut self) {
        self.hashes.clear();
        self.offsets.clear();
        self.offsets.push(0);
        self.exact.clear();
        self.text_bytes = 0;
    }

    pub fn docs(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Appends a document: its shingle hashes and exact key, as `hasher` computes them.
    ///
    /// # Panics
    /// When the batch would hold 2^32 shingles or more (32 GiB of hashes): callers cut batches
    /// far smaller.
    pub fn push(&mut self, hasher: &mut MinHasher, text: &str) {
        hasher.push_shingles(text, &mut self.hashes);
        self.exact.push(xxhash_rust::xxh3::xxh3_128(hasher.normalized().as_bytes()));
        self.offsets.push(u32::try_from(self.hashes.len()).expect("a batch holds fewer than 2^32 shingles"));
        self.text_bytes += text.len();
    }

    /// Document `d`'s shingle hashes.
    pub fn shingles(&self, d: usize) -> &[u64] {
        &self.hashes[self.offsets[d] as usize..self.offsets[d + 1] as usize]
    }
}

/// Computes the signatures of a whole batch at once.
pub trait BatchSigner: Send + Sync {
    /// What this is, for logs and benchmarks.
    fn describe(&self) -> String;
    /// Number of hash functions (values per signature).
    fn perms(&self) -> usize;
    /// The signatures of every document of `batch`, row-major (`perms` values per document),
    /// into `out` (resized). A document without shingles gets all `u32::MAX`, as on the CPU.
    fn sign(&self, batch: &ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError>;
}

/// The GPU kernel's loop, in Rust: for each document and each permutation, the min of
/// `hi32(a_lo·x + b) + a_hi·x` over the document's folded shingle hashes `x`.
#[derive(Debug, Clone)]
pub struct ReferenceSigner {
    a_lo: Vec<u32>,
    a_hi: Vec<u32>,
    b: Vec<u64>,
    sketch: Sketch,
    key: u64,
}

impl ReferenceSigner {
    pub fn new(hasher: &MinHasher) -> Self {
        let (a_lo, a_hi, b) = hasher.family();
        Self { a_lo: a_lo.to_vec(), a_hi: a_hi.to_vec(), b: b.to_vec(), sketch: hasher.sketch(), key: hasher.key() }
    }
}

impl BatchSigner for ReferenceSigner {
    fn describe(&self) -> String {
        "CPU reference of the GPU signature kernel".into()
    }

    fn perms(&self) -> usize {
        self.b.len()
    }

    fn sign(&self, batch: &ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError> {
        let perms = self.perms();
        out.clear();
        out.resize(batch.docs() * perms, u32::MAX);
        if perms == 0 {
            return Ok(());
        }
        if self.sketch == Sketch::OnePermutation {
            out.par_chunks_mut(perms).enumerate().for_each_init(Vec::new, |filled, (d, sig)| {
                one_permutation(sig, self.key, batch.shingles(d), filled);
            });
            return Ok(());
        }
        out.par_chunks_mut(perms).enumerate().for_each(|(d, sig)| {
            let hashes = batch.shingles(d);
            // One kernel thread per permutation, each scanning the document's shingles.
            for (p, slot) in sig.iter_mut().enumerate() {
                let mut m = u32::MAX;
                for &h in hashes {
                    let x = (h ^ (h >> 32)) as u32;
                    let prod = (self.a_lo[p] as u64 * x as u64).wrapping_add(self.b[p]);
                    m = m.min(((prod >> 32) as u32).wrapping_add(self.a_hi[p].wrapping_mul(x)));
                }
                *slot = m;
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dedup::minhash::Shingles;
    use crate::dedup::normalize::Normalization;

    /// The flat layout signed by the kernel's loop equals `MinHasher::signature`, for word and
    /// character shingles, empty and one-word documents included.
    #[test]
    fn flat_batch_reference_equals_signature() {
        let texts = [
            "Stockholm den 12 mars. Isen ligger kvar vid Skeppsholmen, och ångbåtarne gå ej.",
            "",
            "ett",
            "  —  ",
            "Berliniſche Monatsſchrift. Zwoͤlftes Stuͤk. des Men-\nſchen aus ſeiner ſelbſt verſchuldeten",
            "a b c d e f g h i j k l m n o p q r s t u v w x y z å ä ö",
        ];
        let kinds = [Shingles::Words { n: 5 }, Shingles::Words { n: 1 }, Shingles::Chars { n: 4 }];
        for (shingles, sketch) in kinds.into_iter().flat_map(|k| [(k, Sketch::MinHash), (k, Sketch::OnePermutation)]) {
            let mut hasher = MinHasher::new(96, 11, shingles, Normalization::default()).with_sketch(sketch);
            let signer = ReferenceSigner::new(&hasher);
            let mut batch = ShingleBatch::new();
            for t in texts {
                batch.push(&mut hasher, t);
            }
            assert_eq!(batch.docs(), texts.len());
            let mut flat = Vec::new();
            signer.sign(&batch, &mut flat).unwrap();
            let mut sig = Vec::new();
            for (d, t) in texts.iter().enumerate() {
                let n = hasher.signature(t, &mut sig);
                assert_eq!(&flat[d * 96..(d + 1) * 96], &sig[..], "{shingles:?} {sketch:?} {t:?}");
                assert_eq!(batch.shingles(d).len(), n);
                assert_eq!(batch.exact[d], xxhash_rust::xxh3::xxh3_128(hasher.normalized().as_bytes()));
            }
        }
    }

    #[test]
    fn cleared_batch_is_empty() {
        let mut hasher = MinHasher::new(8, 1, Shingles::Words { n: 2 }, Normalization::default());
        let mut batch = ShingleBatch::new();
        batch.push(&mut hasher, "ett två tre");
        batch.clear();
        assert_eq!((batch.docs(), batch.hashes.len(), batch.text_bytes), (0, 0, 0));
        let mut out = vec![1, 2, 3];
        ReferenceSigner::new(&hasher).sign(&batch, &mut out).unwrap();
        assert!(out.is_empty());
    }
}
