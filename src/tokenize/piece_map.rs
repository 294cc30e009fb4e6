//! The hash map the fast BPE path keys by pieces and pairs: xxh3 instead of std's SipHash.
//! Its own module so that `convert` (vocabulary formats) and `fastbpe` (the encoder) both use
//! it without importing each other.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// Hashes a piece with one-shot xxh3 (std's `Hash` for `[u8]` writes the length, then the bytes).
#[derive(Default, Clone, Copy)]
pub(crate) struct PieceHash(u64);

impl Hasher for PieceHash {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }
    fn write_usize(&mut self, n: usize) {
        self.0 ^= (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
    fn write_u64(&mut self, n: u64) {
        // Pair keys: a multiply-xorshift mix.
        let h = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = h ^ (h >> 29);
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<PieceHash>>;
