//! Shingles and MinHash signatures.
//!
//! A shingle is a run of `n` normalized words or `n` characters, hashed with xxh3-64. A
//! signature holds `P` values drawn by one of two [`Sketch`]es. The shipped profiles use
//! [`Sketch::OnePermutation`]: each shingle hash is mixed once with a key (splitmix64's
//! finalizer), its high half picks one of `P` bins and its low half is the value; each bin
//! keeps its minimum, and empty bins are filled by optimal densification
//! ([`one_permutation`]). [`Sketch::MinHash`] holds, for each of `P` hash functions, the
//! smallest value over the document's shingles. Its hash functions are Dietzfelbinger's multiply-add-shift on the 32-bit folded
//! shingle hash, `h_i(x) = ((a_i·x + b_i) mod 2^64) >> 32` with random 64-bit `a_i` (odd) and
//! `b_i`: a 2-independent family at one 64-bit multiply per function, instead of arithmetic
//! modulo 2^61−1. (With `a_i` below 2^32 the product never wraps, `h_i` becomes monotone in `x`
//! and every function picks the same minimum: the estimate is then badly biased — tested.)
//!
//! The probability that two documents agree at one position is their Jaccard similarity (up to
//! the hash family's small bias, measured in the tests).

use xxhash_rust::xxh3::xxh3_64;

use super::normalize::{normalize_into, Normalization};

/// How text is cut into shingles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum Shingles {
    /// Runs of `n` words.
    Words { n: usize },
    /// Runs of `n` characters (spaces between words included).
    Chars { n: usize },
}

/// Computes signatures; holds the hash functions and scratch space (one per thread).
/// How a signature's `P` values are drawn from a document's shingle hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Sketch {
    /// `P` hash functions, every shingle hashed by each: value `i` is the minimum of `h_i`.
    /// `P` multiplies per shingle. (What profiles saved before `sketch` existed used.)
    #[default]
    MinHash,
    /// One permutation hashing with optimal densification (Li, Owen & Zhang 2012; Shrivastava
    /// 2017): one hash per shingle picks one of `P` bins and a value; value `i` is the minimum
    /// in bin `i`. A bin no shingle fell into takes the value of a filled bin drawn by a hash
    /// sequence of its own index — the same sequence in every document, so two documents agree
    /// at a position with probability equal to their Jaccard similarity, as with `MinHash`.
    /// One multiply-mix per shingle instead of `P`.
    OnePermutation,
}

#[derive(Debug, Clone)]
pub struct MinHasher {
    /// `a_i` split into 32-bit halves: the product is computed as one 32×32→64 multiply plus one
    /// 32-bit multiply, which vectorizes (see `signature`).
    a_lo: Vec<u32>,
    a_hi: Vec<u32>,
    b: Vec<u64>,
    shingles: Shingles,
    normalization: Normalization,
    sketch: Sketch,
    /// The one permutation's key ([`Sketch::OnePermutation`]), drawn from the seed.
    key: u64,
    norm: String,
    hashes: Vec<u64>,
    /// Bins that received a shingle (one permutation hashing), as bits.
    filled: Vec<u64>,
}

impl MinHasher {
    /// `perms` hash functions drawn deterministically from `seed`.
    pub fn new(perms: usize, seed: u64, shingles: Shingles, normalization: Normalization) -> Self {
        let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            // splitmix64: a fixed, documented generator, so signatures are stable across versions.
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        let a: Vec<u64> = (0..perms).map(|_| next() | 1).collect();
        let b = (0..perms).map(|_| next()).collect();
        let key = next();
        Self {
            a_lo: a.iter().map(|&a| a as u32).collect(),
            a_hi: a.iter().map(|&a| (a >> 32) as u32).collect(),
            b,
            shingles,
            normalization,
            sketch: Sketch::MinHash,
            key,
            norm: String::new(),
            hashes: Vec::new(),
            filled: Vec::new(),
        }
    }

    /// The same hasher drawing its signatures by `sketch`.
    pub fn with_sketch(mut self, sketch: Sketch) -> Self {
        self.sketch = sketch;
        self
    }

    pub fn sketch(&self) -> Sketch {
        self.sketch
    }

    /// The key of the one permutation ([`Sketch::OnePermutation`]).
    pub fn key(&self) -> u64 {
        self.key
    }

    /// The normalized text of the last document given to [`Self::signature`] or
    /// [`Self::shingle_hashes`].
    pub fn normalized(&self) -> &str {
        &self.norm
    }

    pub fn perms(&self) -> usize {
        self.b.len()
    }

    pub fn shingles(&self) -> Shingles {
        self.shingles
    }

    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    /// `text` normalized as this hasher normalizes it (kept: [`Self::normalized`]).
    pub fn normalize(&mut self, text: &str) -> &str {
        normalize_into(text, self.normalization, &mut self.norm);
        &self.norm
    }

    /// The distinct shingle hashes of `text` (sorted), e.g. for exact Jaccard.
    pub fn shingle_hashes(&mut self, text: &str) -> &[u64] {
        normalize_into(text, self.normalization, &mut self.norm);
        self.hashes.clear();
        shingle_into(&self.norm, self.shingles, &mut self.hashes);
        self.hashes.sort_unstable();
        self.hashes.dedup();
        &self.hashes
    }

    /// The signature of `text` into `sig` (resized to the number of hash functions). Returns
    /// the number of shingles (repeats counted: a minimum does not change when a value repeats,
    /// so they are not removed); 0 means the text had none (`sig` is then all `u32::MAX`).
    pub fn signature(&mut self, text: &str, sig: &mut Vec<u32>) -> usize {
        normalize_into(text, self.normalization, &mut self.norm);
        self.hashes.clear();
        shingle_into(&self.norm, self.shingles, &mut self.hashes);
        sig.clear();
        sig.resize(self.b.len(), u32::MAX);
        if self.sketch == Sketch::OnePermutation {
            one_permutation(sig, self.key, &self.hashes, &mut self.filled);
            return self.hashes.len();
        }
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked just above), the only requirement of
            // `min_hashes_avx2`.
            unsafe { min_hashes_avx2(sig, &self.a_lo, &self.a_hi, &self.b, &self.hashes) };
            return self.hashes.len();
        }
        min_hashes(sig, &self.a_lo, &self.a_hi, &self.b, &self.hashes);
        self.hashes.len()
    }
}

/// `sig[i] = min(sig[i], h_i(x))` over all shingle hashes.
/// splitmix64's finalizer: every output bit depends on every input bit.
#[inline(always)]
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `x`'s bin among `n`: the high half of a 32×32-bit product (Lemire's range reduction).
#[inline(always)]
fn bin_of(x: u64, n: usize) -> usize {
    (((x >> 32) * n as u64) >> 32) as usize
}

/// The signature of `hashes` by one permutation hashing with optimal densification, into `sig`
/// (all `u32::MAX`, its length the number of bins). `filled` is scratch. Mirrored by the GPU
/// kernel (`gpu::minhash`), so every expression here is plain integer arithmetic.
pub fn one_permutation(sig: &mut [u32], key: u64, hashes: &[u64], filled: &mut Vec<u64>) {
    let n = sig.len();
    if n == 0 || hashes.is_empty() {
        return;
    }
    filled.clear();
    filled.resize(n.div_ceil(64), 0);
    for &h in hashes {
        let g = mix64(h ^ key);
        let bin = bin_of(g, n);
        sig[bin] = sig[bin].min(g as u32);
        filled[bin / 64] |= 1 << (bin % 64);
    }
    let is_filled = |filled: &[u64], j: usize| (filled[j / 64] >> (j % 64)) & 1 == 1;
    for i in 0..n {
        if is_filled(filled, i) {
            continue;
        }
        // Draw bins for `i` until a filled one: at least one is, so this ends.
        let mut attempt = 1u64;
        loop {
            let j = bin_of(mix64(key ^ ((i as u64) << 32) ^ attempt), n);
            if is_filled(filled, j) {
                sig[i] = sig[j];
                break;
            }
            attempt += 1;
        }
    }
}

#[inline(always)]
fn min_hashes(sig: &mut [u32], a_lo: &[u32], a_hi: &[u32], b: &[u64], hashes: &[u64]) {
    let n = sig.len();
    let (a_lo, a_hi, b) = (&a_lo[..n], &a_hi[..n], &b[..n]);
    for &h in hashes {
        let x = (h ^ (h >> 32)) as u32;
        // hi32((a·x + b) mod 2^64) = hi32(a_lo·x + b) + a_hi·x (mod 2^32): the high half of
        // `a` only ever reaches the upper 32 bits of the product.
        for i in 0..n {
            let p = (a_lo[i] as u64 * x as u64).wrapping_add(b[i]);
            let v = ((p >> 32) as u32).wrapping_add(a_hi[i].wrapping_mul(x));
            sig[i] = sig[i].min(v);
        }
    }
}

/// The same loop compiled for AVX2 (8 × 32-bit lanes, `vpmuludq`/`vpmulld`/`vpminud`), chosen
/// at run time so the binary still runs on any x86-64.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn min_hashes_avx2(sig: &mut [u32], a_lo: &[u32], a_hi: &[u32], b: &[u64], hashes: &[u64]) {
    min_hashes(sig, a_lo, a_hi, b, hashes)
}

impl MinHasher {
    /// The hash functions as the kernels take them: `a_i` split into low and high 32-bit halves,
    /// and `b_i`.
    pub fn family(&self) -> (&[u32], &[u32], &[u64]) {
        (&self.a_lo, &self.a_hi, &self.b)
    }

    /// Appends the shingle hashes of `text` to `out` (repeats kept, as [`Self::signature`]
    /// uses them) and returns how many; [`Self::normalized`] is then `text` normalized.
    pub fn push_shingles(&mut self, text: &str, out: &mut Vec<u64>) -> usize {
        normalize_into(text, self.normalization, &mut self.norm);
        let before = out.len();
        shingle_into(&self.norm, self.shingles, out);
        out.len() - before
    }
}

/// Appends the hashes of the shingles of `norm` (normalized: words separated by one space).
/// A text shorter than one shingle gives one shingle, the whole text, so short documents
/// still have a signature.
pub fn shingle_into(norm: &str, shingles: Shingles, out: &mut Vec<u64>) {
    if norm.is_empty() {
        return;
    }
    match shingles {
        Shingles::Words { n } if n < WORD_RING => word_shingles(norm.as_bytes(), n.max(1), out),
        Shingles::Words { n } => word_shingles_by_starts(norm.as_bytes(), n, out),
        Shingles::Chars { n } if norm.is_ascii() => {
            // Characters are bytes: the same windows, without the index of character starts.
            let (bytes, n) = (norm.as_bytes(), n.max(1));
            if bytes.len() <= n {
                out.push(xxh3_64(bytes));
                return;
            }
            out.extend(bytes.windows(n).map(xxh3_64));
        }
        Shingles::Chars { n } => {
            let n = n.max(1);
            let idx: Vec<usize> = norm.char_indices().map(|(i, _)| i).chain(std::iter::once(norm.len())).collect();
            let chars = idx.len() - 1;
            if chars <= n {
                out.push(xxh3_64(norm.as_bytes()));
                return;
            }
            for i in 0..=chars - n {
                out.push(xxh3_64(&norm.as_bytes()[idx[i]..idx[i + n]]));
            }
        }
    }
}

/// Word starts remembered by [`word_shingles`]: n-grams of up to `WORD_RING - 1` words.
const WORD_RING: usize = 16;

/// Word n-grams in one pass: the spaces of each 64-byte block as a bit mask (a vectorized
/// compare), walked bit by bit, with the last `n` word starts in a ring. A `memchr` call per
/// word and a vector of every start per document cost more than the hashing here.
fn word_shingles(bytes: &[u8], n: usize, out: &mut Vec<u64>) {
    let before = out.len();
    let mut ring = [0usize; WORD_RING];
    let mut word = 0usize; // index of the word being read; it started at ring[word % WORD_RING]
    let mut end_word = |end: usize, word: usize, ring: &[usize; WORD_RING]| {
        if word + 1 >= n {
            out.push(xxh3_64(&bytes[ring[(word + 1 - n) % WORD_RING]..end]));
        }
    };
    for (block, chunk) in bytes.chunks(64).enumerate() {
        let mut spaces = space_mask(chunk);
        while spaces != 0 {
            let at = block * 64 + spaces.trailing_zeros() as usize;
            spaces &= spaces - 1;
            end_word(at, word, &ring);
            word += 1;
            ring[word % WORD_RING] = at + 1;
        }
    }
    end_word(bytes.len(), word, &ring);
    if out.len() == before {
        // Fewer than `n` words: the whole text is the one shingle.
        out.push(xxh3_64(bytes));
    }
}

/// Bit `j` set where `chunk[j]` (at most 64 bytes) is a space.
#[inline(always)]
fn space_mask(chunk: &[u8]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if chunk.len() == 64 {
        use std::arch::x86_64::{__m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_set1_epi8};
        // SAFETY: SSE2 is part of every x86-64 CPU; the four unaligned 16-byte loads lie
        // within the 64-byte chunk.
        return unsafe {
            let space = _mm_set1_epi8(b' ' as i8);
            let mut mask = 0u64;
            for k in 0..4 {
                let v = _mm_loadu_si128(chunk.as_ptr().add(16 * k) as *const __m128i);
                mask |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, space)) as u32 as u64 & 0xFFFF) << (16 * k);
            }
            mask
        };
    }
    chunk.iter().enumerate().fold(0u64, |m, (j, &c)| m | ((c == b' ') as u64) << j)
}

/// Word n-grams through a vector of every word start: for any `n`, and the tests' reference.
fn word_shingles_by_starts(bytes: &[u8], n: usize, out: &mut Vec<u64>) {
    let n = n.max(1);
    // Word starts; every word ends one byte before the next start (a space) or at the end.
    let mut starts: Vec<usize> = Vec::with_capacity(bytes.len() / 5 + 1);
    starts.push(0);
    starts.extend(memchr::memchr_iter(b' ', bytes).map(|i| i + 1));
    if starts.len() <= n {
        out.push(xxh3_64(bytes));
        return;
    }
    for i in 0..=starts.len() - n {
        let end = if i + n < starts.len() { starts[i + n] - 1 } else { bytes.len() };
        out.push(xxh3_64(&bytes[starts[i]..end]));
    }
}

/// The share of positions at which two signatures agree: an estimate of Jaccard similarity.
pub fn estimated_jaccard(a: &[u32], b: &[u32]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// Jaccard similarity of two sorted, deduplicated hash sets.
pub fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (mut i, mut j, mut both) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = a.len() + b.len() - both;
    if union == 0 {
        0.0
    } else {
        both as f64 / union as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The one-pass word n-grams equal the ones cut from the vector of word starts, on
        /// normalized text (words of any length, across 64-byte blocks) and for every `n`.
        #[test]
        fn word_shingles_equal_the_reference(words in proptest::collection::vec("[a-zåö0]{1,90}", 0..60), n in 1usize..WORD_RING) {
            let text = words.join(" ");
            let (mut fast, mut slow) = (vec![7], vec![7]);
            shingle_into(&text, Shingles::Words { n }, &mut fast);
            if !text.is_empty() {
                word_shingles_by_starts(text.as_bytes(), n, &mut slow);
            }
            proptest::prop_assert_eq!(fast, slow);
        }
    }

    fn words(n: usize) -> Shingles {
        Shingles::Words { n }
    }

    #[test]
    fn word_and_char_shingles() {
        let mut v = Vec::new();
        shingle_into("a b c d", words(3), &mut v);
        assert_eq!(v, vec![xxh3_64(b"a b c"), xxh3_64(b"b c d")]);
        v.clear();
        shingle_into("ab", words(3), &mut v);
        assert_eq!(v, vec![xxh3_64(b"ab")], "short text: one shingle");
        v.clear();
        shingle_into("åbcd", Shingles::Chars { n: 3 }, &mut v);
        assert_eq!(v, vec![xxh3_64("åbc".as_bytes()), xxh3_64(b"bcd")]);
        v.clear();
        shingle_into("", words(2), &mut v);
        assert!(v.is_empty());
    }

    #[test]
    fn signatures_are_deterministic_and_normalized() {
        let mut m = MinHasher::new(64, 7, words(2), Normalization::default());
        let mut s1 = Vec::new();
        let mut s2 = Vec::new();
        m.signature("Stockholm den 12 mars. Isen ligger kvar.", &mut s1);
        m.signature("STOCKHOLM den 13 Mars — isen ligger kvar!", &mut s2);
        assert_eq!(s1, s2, "case, digits and punctuation are normalized away");
        let mut other = MinHasher::new(64, 8, words(2), Normalization::default());
        let mut s3 = Vec::new();
        other.signature("Stockholm den 12 mars. Isen ligger kvar.", &mut s3);
        assert_ne!(s1, s3, "another seed, other functions");
        assert_eq!(m.signature("", &mut s3), 0);
        assert!(s3.iter().all(|&v| v == u32::MAX));
    }

    /// Agreement between signatures estimates Jaccard similarity without visible bias, by
    /// either sketch.
    #[test]
    fn estimate_tracks_exact_jaccard() {
        for sketch in [Sketch::MinHash, Sketch::OnePermutation] {
            estimate_tracks_exact_jaccard_by(sketch);
        }
    }

    fn estimate_tracks_exact_jaccard_by(sketch: Sketch) {
        let base: Vec<String> = (0..400).map(|i| format!("ord{i}")).collect();
        let mut m = MinHasher::new(256, 1, words(1), Normalization::default()).with_sketch(sketch);
        let mut errs = Vec::new();
        for keep in [50usize, 150, 250, 350] {
            let a = base.join(" ");
            let b: Vec<String> =
                base.iter().enumerate().map(|(i, w)| if i < keep { w.clone() } else { format!("x{w}") }).collect();
            let b = b.join(" ");
            let ea = m.shingle_hashes(&a).to_vec();
            let eb = m.shingle_hashes(&b).to_vec();
            let exact = jaccard(&ea, &eb);
            let (mut sa, mut sb) = (Vec::new(), Vec::new());
            m.signature(&a, &mut sa);
            m.signature(&b, &mut sb);
            let est = estimated_jaccard(&sa, &sb);
            errs.push(est - exact);
            // 256 functions: standard error <= sqrt(0.25/256) = 0.031; allow 4 sigma.
            assert!((est - exact).abs() < 0.125, "{sketch:?}: exact {exact:.3}, estimate {est:.3}");
        }
        let bias = errs.iter().sum::<f64>() / errs.len() as f64;
        assert!(bias.abs() < 0.06, "{sketch:?}: bias {bias:.3}");
    }

    /// One permutation hashing over many pairs: the mean agreement matches the mean Jaccard
    /// (no bias, short documents with densified bins included), and a signature depends on the
    /// set of shingles only.
    #[test]
    fn one_permutation_is_unbiased_and_a_function_of_the_set() {
        let mut m = MinHasher::new(128, 5, words(1), Normalization::default()).with_sketch(Sketch::OnePermutation);
        let (mut est_sum, mut exact_sum) = (0.0, 0.0);
        for pair in 0..300usize {
            // Sizes from 3 to 600 words: below and far above the 128 bins.
            let n = 3 + pair * 2;
            let shared = n * (pair % 10) / 10;
            let a: Vec<String> = (0..n).map(|i| format!("w{pair}x{i}")).collect();
            let b: Vec<String> =
                (0..n).map(|i| if i < shared { format!("w{pair}x{i}") } else { format!("v{pair}x{i}") }).collect();
            let (a, b) = (a.join(" "), b.join(" "));
            let ea = m.shingle_hashes(&a).to_vec();
            let exact = jaccard(&ea, m.shingle_hashes(&b));
            let (mut sa, mut sb) = (Vec::new(), Vec::new());
            m.signature(&a, &mut sa);
            m.signature(&b, &mut sb);
            assert!(sa.iter().all(|&v| v != u32::MAX), "every bin filled or densified");
            est_sum += estimated_jaccard(&sa, &sb);
            exact_sum += exact;
        }
        let bias = (est_sum - exact_sum) / 300.0;
        assert!(bias.abs() < 0.01, "mean estimate - mean Jaccard = {bias:.4}");

        let (mut s1, mut s2) = (Vec::new(), Vec::new());
        m.signature("ett två tre fyra ett två", &mut s1);
        m.signature("fyra tre två ett", &mut s2);
        assert_eq!(s1, s2, "order and repeats do not matter");
        m.signature("ensam", &mut s1);
        assert!(s1.iter().all(|&v| v == s1[0]), "one shingle: every bin holds its value");
        assert_eq!(m.signature("", &mut s1), 0);
        assert!(s1.iter().all(|&v| v == u32::MAX));
    }

    /// The split multiply equals the textbook `((a·x + b) mod 2^64) >> 32`.
    #[test]
    fn split_multiply_equals_multiply_add_shift() {
        let m = MinHasher::new(32, 3, Shingles::Words { n: 1 }, Normalization::default());
        for x in [0u32, 1, 7, 0xDEAD_BEEF, u32::MAX] {
            for i in 0..32 {
                let a = (m.a_hi[i] as u64) << 32 | m.a_lo[i] as u64;
                let want = (a.wrapping_mul(x as u64).wrapping_add(m.b[i]) >> 32) as u32;
                let p = (m.a_lo[i] as u64 * x as u64).wrapping_add(m.b[i]);
                assert_eq!(((p >> 32) as u32).wrapping_add(m.a_hi[i].wrapping_mul(x)), want);
            }
        }
    }

    #[test]
    fn exact_jaccard_of_sets() {
        assert_eq!(jaccard(&[1, 2, 3], &[2, 3, 4]), 0.5);
        assert_eq!(jaccard(&[], &[]), 0.0);
        assert_eq!(jaccard(&[1], &[1]), 1.0);
    }
}
