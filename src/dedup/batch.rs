//! MinHash signatures of a batch of documents at once, from one flat layout: what a batched
//! backend (the GPU kernels, `gpu::minhash`) consumes, and a CPU reference of those kernels' loops.
//!
//! Why a layout of its own: a GPU wants few large transfers of plain data, not one call per
//! document. The CPU does what is branchy (normalization, OCR rules) and appends each
//! document to one array; `offsets` says where each document's run starts. The array holds
//! either the documents' normalized texts ([`SignatureInput::Text`]: the kernel finds and
//! hashes the word shingles itself, [`word_shingle_at`] being its rule) or their shingle
//! hashes computed on the CPU ([`SignatureInput::Hashes`]: any shingling). The signature of
//! document `d` is then the one [`MinHasher::signature`] gives — the same shingles, the same
//! functions — which the tests check on real text.

use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::minhash::{one_permutation, shingle_into, MinHasher, Shingles, Sketch};
use super::normalize::Normalization;
use super::rule_table::RuleTable;
use crate::device::chunks::{Chunks, NORMALIZE_CHUNK};
use crate::device::GpuError;

/// What a batch holds for each document, and so what a signature kernel reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SignatureInput {
    /// Shingle hashes, computed on the CPU.
    #[default]
    Hashes,
    /// Normalized text; the signer finds and hashes its word shingles.
    Text,
    /// The text as given; the signer normalizes it (through a [`RuleTable`]), finds and hashes
    /// the word shingles, and fills the batch's exact keys.
    Raw,
}

/// Many documents, one after the other, as shingle hashes or as normalized text.
#[derive(Debug, Clone)]
pub struct ShingleBatch {
    /// [`SignatureInput::Hashes`]: every document's shingle hashes (repeats kept, as the CPU
    /// path keeps them).
    pub hashes: Vec<u64>,
    /// [`SignatureInput::Text`]: every document's normalized text; [`SignatureInput::Raw`]:
    /// every document's text as given.
    pub text: Vec<u8>,
    /// Document `d`'s hashes (or text bytes) are `[offsets[d] as usize..offsets[d + 1] as usize]`.
    pub offsets: Vec<u32>,
    /// xxh3-128 of each document's normalized text: the exact-duplicate key (of a batch of
    /// [`SignatureInput::Raw`], filled in by [`BatchSigner::sign`]).
    pub exact: Vec<u128>,
    /// Bytes of text given (before normalization), for throughput figures.
    pub text_bytes: usize,
    input: SignatureInput,
}

impl Default for ShingleBatch {
    fn default() -> Self {
        Self::of(SignatureInput::Hashes)
    }
}

impl ShingleBatch {
    /// An empty batch of shingle hashes.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch holding what `input` says.
    pub fn of(input: SignatureInput) -> Self {
        Self { hashes: Vec::new(), text: Vec::new(), offsets: vec![0], exact: Vec::new(), text_bytes: 0, input }
    }

    pub fn input(&self) -> SignatureInput {
        self.input
    }

    pub fn clear(&mut self) {
        self.hashes.clear();
        self.text.clear();
        self.offsets.clear();
        self.offsets.push(0);
        self.exact.clear();
        self.text_bytes = 0;
    }

    pub fn docs(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Appends a document: its shingle hashes or normalized text, and its exact key, as
    /// `hasher` computes them.
    ///
    /// # Panics
    /// When the batch would hold 2^32 shingles or bytes or more: callers cut batches far smaller.
    pub fn push(&mut self, hasher: &mut MinHasher, text: &str) {
        let end = match self.input {
            SignatureInput::Hashes => {
                hasher.push_shingles(text, &mut self.hashes);
                self.hashes.len()
            }
            SignatureInput::Text => {
                self.text.extend_from_slice(hasher.normalize(text).as_bytes());
                self.text.len()
            }
            SignatureInput::Raw => {
                self.text.extend_from_slice(text.as_bytes());
                self.offsets.push(u32::try_from(self.text.len()).expect("a batch holds fewer than 2^32 bytes"));
                self.text_bytes += text.len();
                return;
            }
        };
        self.exact.push(xxhash_rust::xxh3::xxh3_128(hasher.normalized().as_bytes()));
        self.offsets.push(u32::try_from(end).expect("a batch holds fewer than 2^32 items"));
        self.text_bytes += text.len();
    }

    fn range(&self, d: usize) -> std::ops::Range<usize> {
        self.offsets[d] as usize..self.offsets[d + 1] as usize
    }

    /// Document `d`'s shingle hashes (a batch of [`SignatureInput::Hashes`]).
    pub fn shingles(&self, d: usize) -> &[u64] {
        &self.hashes[self.range(d)]
    }

    /// Document `d`'s normalized text (a batch of [`SignatureInput::Text`]), or its text as
    /// given ([`SignatureInput::Raw`]).
    pub fn normalized(&self, d: usize) -> &[u8] {
        &self.text[self.range(d)]
    }

    /// Document `d`'s text as given (a batch of [`SignatureInput::Raw`]).
    pub fn raw(&self, d: usize) -> &str {
        std::str::from_utf8(&self.text[self.range(d)]).expect("pushed as &str")
    }
}

/// The rule by which the text kernels find word shingles (`word_shingle_at` in
/// `gpu/kernels/minhash.cu`), one start position at a time: the hash of the shingle of `n`
/// words that starts at byte `p` of `text` (`0..=text.len()`), if one does. Over all positions
/// of a non-empty text this gives exactly [`shingle_into`]'s hashes for `Words { n }` (tested),
/// which is what lets every GPU thread take one position with no word index to build first.
pub fn word_shingle_at(text: &[u8], p: usize, n: usize) -> Option<u64> {
    let n = n.max(1);
    if p > 0 && text[p - 1] != b' ' {
        return None;
    }
    let mut spaces = 0;
    for (q, &c) in text.iter().enumerate().skip(p) {
        if c == b' ' {
            spaces += 1;
            if spaces == n {
                return Some(xxh3_64(&text[p..q]));
            }
        }
    }
    if spaces == n - 1 {
        return Some(xxh3_64(&text[p..]));
    }
    // Fewer than `n` words in the whole text: it is the one shingle.
    (p == 0).then(|| xxh3_64(text))
}

/// Opens a batched signer for a hasher's functions, or says that the CPU path signs (`None`).
/// The stage asks only when it has documents to sign. The GPU path implements it
/// (`gpu::OnDevice`); the stage never names the GPU.
pub trait SignerSource: Send + Sync {
    /// What this is, for logs (`cuda:0`).
    fn describe(&self) -> String;
    fn open(&self, hasher: &MinHasher) -> Result<Option<std::sync::Arc<dyn BatchSigner>>, GpuError>;
}

impl std::fmt::Debug for dyn SignerSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

/// Computes the signatures of a whole batch at once.
pub trait BatchSigner: Send + Sync {
    /// What this is, for logs and benchmarks.
    fn describe(&self) -> String;
    /// Number of hash functions (values per signature).
    fn perms(&self) -> usize;
    /// What the batches given to [`Self::sign`] should hold ([`ShingleBatch::of`]); a signer
    /// may take either.
    fn input(&self) -> SignatureInput {
        SignatureInput::Hashes
    }
    /// The signatures of every document of `batch`, row-major (`perms` values per document),
    /// into `out` (resized). A document without shingles gets all `u32::MAX`, as on the CPU.
    /// A batch of [`SignatureInput::Raw`] gets its exact keys.
    fn sign(&self, batch: &mut ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError>;
}

/// The GPU kernels' loops, in Rust: for each document and each permutation, the min of
/// `hi32(a_lo·x + b) + a_hi·x` over the document's folded shingle hashes `x`
/// ([`Sketch::MinHash`]), or one permutation hashing of them; from a text batch, the word
/// shingles found position by position by [`word_shingle_at`].
#[derive(Debug, Clone)]
pub struct ReferenceSigner {
    a_lo: Vec<u32>,
    a_hi: Vec<u32>,
    b: Vec<u64>,
    sketch: Sketch,
    key: u64,
    shingles: Shingles,
    normalization: Normalization,
    /// Built on the first batch of raw text.
    rules: std::sync::OnceLock<RuleTable>,
    /// What it asks batches to hold ([`BatchSigner::input`]); it signs any.
    input: SignatureInput,
}

impl ReferenceSigner {
    pub fn new(hasher: &MinHasher) -> Self {
        let (a_lo, a_hi, b) = hasher.family();
        Self {
            a_lo: a_lo.to_vec(),
            a_hi: a_hi.to_vec(),
            b: b.to_vec(),
            sketch: hasher.sketch(),
            key: hasher.key(),
            shingles: hasher.shingles(),
            normalization: hasher.normalization(),
            rules: std::sync::OnceLock::new(),
            input: SignatureInput::Hashes,
        }
    }

    /// The same signer asking for batches of `input` (as the GPU signer asks for raw text).
    pub fn taking(mut self, input: SignatureInput) -> Self {
        self.input = input;
        self
    }

    /// A batch of raw text as the GPU has it before signing: normalized through the rule table
    /// chunk by chunk (the normalization kernel's loop and cuts), with its exact keys.
    fn normalized_batch(&self, batch: &ShingleBatch) -> ShingleBatch {
        let rules = self.rules.get_or_init(|| RuleTable::new(self.normalization));
        let mut text = ShingleBatch::of(SignatureInput::Text);
        // Chunk by chunk, as the kernel's threads take them.
        let chunks = Chunks::of(&batch.offsets, NORMALIZE_CHUNK);
        for d in 0..batch.docs() {
            let (base, from) = (batch.offsets[d] as usize, text.text.len());
            for k in chunks.first[d] as usize..chunks.first[d + 1] as usize {
                let begin = chunks.begin[k] as usize - base;
                let end = chunks.begin.get(k + 1).filter(|_| k + 1 < chunks.first[d + 1] as usize);
                let end = end.map_or(batch.offsets[d + 1] as usize, |&e| e as usize) - base;
                rules.normalize_chunk(batch.raw(d).as_bytes(), begin, end, &mut text.text);
            }
            text.offsets.push(text.text.len() as u32);
            text.exact.push(xxhash_rust::xxh3::xxh3_128(&text.text[from..]));
        }
        text.text_bytes = batch.text_bytes;
        text
    }

    /// Document `d`'s shingle hashes, from either kind of batch.
    fn hashes_of<'a>(&self, batch: &'a ShingleBatch, d: usize, scratch: &'a mut Vec<u64>) -> &'a [u64] {
        if batch.input() == SignatureInput::Hashes {
            return batch.shingles(d);
        }
        let text = batch.normalized(d);
        scratch.clear();
        match self.shingles {
            Shingles::Words { n } if !text.is_empty() => {
                scratch.extend((0..=text.len()).filter_map(|p| word_shingle_at(text, p, n)))
            }
            Shingles::Words { .. } => {}
            chars => shingle_into(std::str::from_utf8(text).expect("normalized text is UTF-8"), chars, scratch),
        }
        scratch
    }
}

impl BatchSigner for ReferenceSigner {
    fn describe(&self) -> String {
        "CPU reference of the GPU signature kernel".into()
    }

    fn perms(&self) -> usize {
        self.b.len()
    }

    fn input(&self) -> SignatureInput {
        self.input
    }

    fn sign(&self, batch: &mut ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError> {
        if batch.input() == SignatureInput::Raw {
            let mut text = self.normalized_batch(batch);
            self.sign(&mut text, out)?;
            batch.exact = text.exact;
            return Ok(());
        }
        let batch = &*batch;
        let perms = self.perms();
        out.clear();
        out.resize(batch.docs() * perms, u32::MAX);
        if perms == 0 {
            return Ok(());
        }
        if self.sketch == Sketch::OnePermutation {
            out.par_chunks_mut(perms).enumerate().for_each_init(
                || (Vec::new(), Vec::new()),
                |(filled, scratch), (d, sig)| {
                    one_permutation(sig, self.key, self.hashes_of(batch, d, scratch), filled);
                },
            );
            return Ok(());
        }
        out.par_chunks_mut(perms).enumerate().for_each_init(Vec::new, |scratch, (d, sig)| {
            let hashes = self.hashes_of(batch, d, scratch);
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
    use crate::dedup::normalize::Normalization;
    use proptest::prelude::*;

    /// Every shingle found start by start, as a sorted multiset.
    fn by_starts(text: &[u8], n: usize) -> Vec<u64> {
        let mut v: Vec<u64> = if text.is_empty() {
            Vec::new()
        } else {
            (0..=text.len()).filter_map(|p| word_shingle_at(text, p, n)).collect()
        };
        v.sort_unstable();
        v
    }

    proptest! {
        /// Any bytes — double, leading and trailing spaces included, which normalization does
        /// not make but the rule must still agree on — and any `n`.
        #[test]
        fn shingles_found_start_by_start_are_shingle_into(text in "[a b\u{e5}0 ]{0,40}", n in 1usize..20) {
            let mut want = Vec::new();
            shingle_into(&text, Shingles::Words { n }, &mut want);
            want.sort_unstable();
            prop_assert_eq!(by_starts(text.as_bytes(), n), want);
        }
    }

    #[test]
    fn shingles_found_start_by_start_on_edges() {
        for (text, n) in [("", 1), (" ", 1), ("a", 3), ("a b ", 2), (" a", 1), ("a  b", 2), ("ett två tre", 3)] {
            let mut want = Vec::new();
            shingle_into(text, Shingles::Words { n }, &mut want);
            want.sort_unstable();
            assert_eq!(by_starts(text.as_bytes(), n), want, "{text:?} n={n}");
        }
    }

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
            for input in [SignatureInput::Hashes, SignatureInput::Text, SignatureInput::Raw] {
                let mut batch = ShingleBatch::of(input);
                for t in texts {
                    batch.push(&mut hasher, t);
                }
                assert_eq!(batch.docs(), texts.len());
                assert_eq!(batch.exact.len(), if input == SignatureInput::Raw { 0 } else { texts.len() });
                let mut flat = Vec::new();
                signer.sign(&mut batch, &mut flat).unwrap();
                let mut sig = Vec::new();
                for (d, t) in texts.iter().enumerate() {
                    let n = hasher.signature(t, &mut sig);
                    assert_eq!(&flat[d * 96..(d + 1) * 96], &sig[..], "{shingles:?} {sketch:?} {input:?} {t:?}");
                    match input {
                        SignatureInput::Hashes => assert_eq!(batch.shingles(d).len(), n),
                        SignatureInput::Text => assert_eq!(batch.normalized(d), hasher.normalized().as_bytes()),
                        SignatureInput::Raw => assert_eq!(batch.raw(d), *t),
                    }
                    assert_eq!(batch.exact[d], xxhash_rust::xxh3::xxh3_128(hasher.normalized().as_bytes()));
                }
            }
        }
    }

    #[test]
    fn cleared_batch_is_empty() {
        let mut hasher = MinHasher::new(8, 1, Shingles::Words { n: 2 }, Normalization::default());
        let mut batch = ShingleBatch::of(SignatureInput::Text);
        batch.push(&mut hasher, "ett två tre");
        batch.clear();
        assert_eq!((batch.docs(), batch.text.len(), batch.text_bytes), (0, 0, 0));
        assert_eq!(batch.input(), SignatureInput::Text);
        let mut out = vec![1, 2, 3];
        ReferenceSigner::new(&hasher).sign(&mut batch, &mut out).unwrap();
        assert!(out.is_empty());
    }
}
