//! The kernels' CUDA C source and how each is launched.
//!
//! Always built, without the `cuda` feature, for one reason: the `emulated` tests in `tests/gpu.rs` compile
//! this same source with the host's C++ compiler against a small emulation of CUDA's execution
//! model (`tests/cuda_emu/`: blocks one after another, a block's threads as OS threads meeting
//! at a barrier for `__syncthreads`, shared memory as statics) and runs it on the CPU. CI has no
//! GPU, so this is how it runs the kernels themselves — with the launch shapes below — and not
//! only Rust copies of their loops. What the emulation cannot show (NVRTC's dialect, timing,
//! the device's memory model) the GPU tests (`tests/gpu.rs`, `scripts/gpu-check.sh`) do.
//!
//! ```text
//! kernels/xxh3.cu      XXH3-64 as a device function (shingle hashes); `xxh3_slices` for tests
//! kernels/normalize.cu `normalize_chunks` (dedup::rule_table's loop, a thread per ~1 KB chunk,
//!                      counting then writing), `scan_exclusive`, `gather_offsets`: raw text
//!                      to packed normalized text
//! kernels/minhash.cu   signatures: `minhash`/`oph` from shingle hashes, `text_minhash`/`text_oph`
//!                      from normalized text (word shingles hashed on the GPU)
//! kernels/bpe.cu       `bpe_merge`: lowest-rank merges of pieces over a pair table;
//!                      `bpe_merge_all`, `pack_ids`, `doc_tokens`: a batch split on the GPU
//! kernels/split.cu     `split_chunks`: cl100k's or o200k's pre-tokenization, a thread per
//!                      ~1 KB chunk
//! ```

pub use crate::dedup::batch::SignatureInput;
use crate::dedup::minhash::Sketch;
pub use crate::device::chunks::{Chunks, NORMALIZE_CHUNK};
use crate::tokenize::merge::MAX_MERGE_PIECE;

/// XXH3-64 on the device (`xxh3_64`), and the `xxh3_slices` test kernel.
pub const XXH3: &str = include_str!("kernels/xxh3.cu");
/// Normalization of raw text through a rule table, and packing the results.
pub const NORMALIZE: &str = include_str!("kernels/normalize.cu");
/// The signature kernels; they need [`XXH3`] before them ([`signature_source`]).
pub const MINHASH: &str = include_str!("kernels/minhash.cu");
/// The merge kernels; they need `MAX_PIECE` defined ([`bpe_source`]).
pub const BPE: &str = include_str!("kernels/bpe.cu");
/// cl100k's and o200k's pre-tokenization ([`encode_source`]).
pub const SPLIT: &str = include_str!("kernels/split.cu");

/// Permutations per thread of the `minhash` kernels (registers), and their largest block.
pub const PER_THREAD: usize = 4;
pub const MAX_BLOCK: usize = 256;
/// Most hash functions the signature kernels take.
pub const MAX_PERMS: usize = PER_THREAD * MAX_BLOCK;
/// Threads per block of the merge kernel: few, as each holds ~1.5 KB of local arrays.
pub const BPE_BLOCK: u32 = 128;

/// The signature kernels' source, as compiled.
pub fn signature_source() -> String {
    format!("{XXH3}\n{NORMALIZE}\n{MINHASH}")
}

/// The merge kernel's source, as compiled.
pub fn bpe_source() -> String {
    format!("#define MAX_PIECE {MAX_MERGE_PIECE}\n{BPE}")
}

/// The source of encoding on the GPU: split, merges, packing (and the scans of normalize.cu).
pub fn encode_source() -> String {
    format!("{}\n{NORMALIZE}\n{SPLIT}", bpe_source())
}

/// A module the GPU code compiles with NVRTC, and the kernels it loads from it, in order.
#[derive(Debug, Clone)]
pub struct Module {
    /// Names the source in NVRTC's messages (`NAME.cu`).
    pub name: &'static str,
    pub source: String,
    pub kernels: Vec<&'static str>,
}

impl Module {
    /// The signature kernels for `sketch`: from shingle hashes, from text, then normalization
    /// and packing of raw text.
    pub fn signatures(sketch: Sketch) -> Self {
        let kernels = vec![
            signature_entry(sketch, SignatureInput::Hashes),
            signature_entry(sketch, SignatureInput::Text),
            "normalize_chunks",
            "scan_exclusive",
            "gather_offsets",
        ];
        Module { name: "minhash", source: signature_source(), kernels }
    }

    /// The merge kernel for pieces split on the CPU.
    pub fn bpe() -> Self {
        Module { name: "bpe_merge", source: bpe_source(), kernels: vec!["bpe_merge"] }
    }

    /// Encoding wholly on the GPU: split, its scan, merges, the ids' scan, packing, and each
    /// document's offsets.
    pub fn encode() -> Self {
        let kernels =
            vec!["split_chunks", "scan_exclusive", "bpe_merge_all", "scan_exclusive_at", "pack_ids", "doc_tokens"];
        Module { name: "encode", source: encode_source(), kernels }
    }

    /// Every module the GPU code compiles, for both sketches: what a check of NVRTC compiles.
    pub fn all() -> Vec<Self> {
        vec![Self::signatures(Sketch::MinHash), Self::signatures(Sketch::OnePermutation), Self::bpe(), Self::encode()]
    }
}

/// The `pattern` argument of `split_chunks` for `scanner`.
pub fn split_pattern(scanner: crate::tokenize::pretokenize::Scanner) -> u32 {
    use crate::tokenize::pretokenize::Scanner;
    match scanner {
        Scanner::Cl100k => 0,
        Scanner::O200k => 1,
    }
}

/// A thread per possible piece of a batch of `bytes` (a piece has a byte at least), for
/// `bpe_merge_all` and `pack_ids`, which stop at the number the split counted.
pub fn per_piece_launch(bytes: usize) -> Launch {
    Launch { grid: (bytes as u32).div_ceil(128).max(1), block: 128, shared_bytes: 0 }
}

/// A kernel's grid, block and dynamic shared memory (one-dimensional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Launch {
    pub grid: u32,
    pub block: u32,
    pub shared_bytes: u32,
}

/// The entry point of the signature kernel for `sketch` over `input` (raw text is normalized
/// by the normalization kernels first, then signed as text).
pub fn signature_entry(sketch: Sketch, input: SignatureInput) -> &'static str {
    match (sketch, input) {
        (Sketch::MinHash, SignatureInput::Hashes) => "minhash",
        (Sketch::OnePermutation, SignatureInput::Hashes) => "oph",
        (Sketch::MinHash, SignatureInput::Text | SignatureInput::Raw) => "text_minhash",
        (Sketch::OnePermutation, SignatureInput::Text | SignatureInput::Raw) => "text_oph",
    }
}

/// `normalize_chunks`: a thread per chunk.
pub fn normalize_launch(chunks: usize) -> Launch {
    Launch { grid: (chunks as u32).div_ceil(128).max(1), block: 128, shared_bytes: 0 }
}

/// `scan_exclusive`: one block (the kernel's `SCAN_BLOCK`).
pub fn scan_launch() -> Launch {
    Launch { grid: 1, block: 256, shared_bytes: 0 }
}

/// `gather_offsets`: a thread per document offset (`docs + 1`).
pub fn gather_launch(docs: usize) -> Launch {
    Launch { grid: (docs as u32 + 1).div_ceil(128), block: 128, shared_bytes: 0 }
}

/// One block per document. `minhash`: a thread per permutation, up to [`PER_THREAD`] each
/// (at least 128 threads when the block also hashes text). `oph`: the bins' values and flags
/// in dynamic shared memory (8 KB at the 1,024-bin limit).
pub fn signature_launch(sketch: Sketch, input: SignatureInput, perms: usize, docs: usize) -> Launch {
    let grid = docs as u32;
    match sketch {
        Sketch::MinHash => {
            let least = if input == SignatureInput::Hashes { 32 } else { 128 };
            let block = perms.div_ceil(PER_THREAD).next_multiple_of(32).clamp(least, MAX_BLOCK) as u32;
            Launch { grid, block, shared_bytes: 0 }
        }
        Sketch::OnePermutation => {
            let block = if input == SignatureInput::Hashes { 128 } else { 256 };
            Launch { grid, block, shared_bytes: perms as u32 * 8 }
        }
    }
}

/// One thread per piece.
pub fn bpe_launch(pieces: usize) -> Launch {
    Launch { grid: (pieces as u32).div_ceil(BPE_BLOCK), block: BPE_BLOCK, shared_bytes: 0 }
}

/// One thread per slice.
pub fn xxh3_launch(slices: usize) -> Launch {
    Launch { grid: (slices as u32).div_ceil(128), block: 128, shared_bytes: 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_shapes_fit_the_kernels() {
        for input in [SignatureInput::Hashes, SignatureInput::Text, SignatureInput::Raw] {
            for perms in [1, 8, 96, 128, 256, 1000, MAX_PERMS] {
                let l = signature_launch(Sketch::MinHash, input, perms, 7);
                assert_eq!(l.grid, 7);
                assert!(l.block as usize * PER_THREAD >= perms, "{perms}: every permutation has a thread");
                assert!(l.block.is_multiple_of(32) && l.block as usize <= MAX_BLOCK);
                let l = signature_launch(Sketch::OnePermutation, input, perms, 7);
                assert_eq!(l.shared_bytes as usize, perms * 8);
            }
        }
        assert_eq!(bpe_launch(129).grid, 2);
        assert_eq!(gather_launch(127).grid, 1);
        assert_eq!(gather_launch(128).grid, 2);
        assert_eq!(bpe_launch(128).grid, 1);
        assert!(signature_source().contains("xxh3_64") && signature_source().contains("text_oph"));
        assert!(bpe_source().starts_with(&format!("#define MAX_PIECE {MAX_MERGE_PIECE}\n")));
    }
}
