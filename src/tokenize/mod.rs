//! `kbcurate tokenize`: turn a (balanced) dataset into trainer-ready token shards.
//!
//! ```text
//! convert.rs      tiktoken ranks → HF tokenizer.json (for exactness tests and benchmarks)
//! encoder.rs      the `Encoder` trait and its backends (HF tokenizer.json, tiktoken ranks, built-ins)
//! fastbpe.rs      byte-level BPE tokenizer.json files encoded fast, with the tokenizers crate's ids
//! pretokenize.rs  text cut into pieces: hand-written scanners for cl100k's and o200k's patterns
//! merge.rs        byte-level BPE by lowest-rank merges over a pair table: the GPU kernel's algorithm
//! special.rs      BOS/EOS/PAD looked up by name or id, never defaulted
//! pack.rs         concat and best-fit packing, pure functions over document lengths
//! shuffle.rs      repeats, the seeded global shuffle (hash keys + bucketed external sort), the split
//! megatron.rs     Megatron-LM `.bin/.idx` writer and reader
//! stage.rs        the stage: read, encode, spill, pack, write shards and `manifest.json`
//! verify.rs       `kbcurate verify`: headers, counts, boundaries, checksums; sequence → documents
//! ```

pub mod args;
pub mod convert;
pub mod encoder;
pub mod fastbpe;
pub mod megatron;
pub mod merge;
pub mod pack;
mod piece_map;
pub mod pretokenize;
pub mod shuffle;
pub mod special;
pub mod split;
pub mod stage;
pub mod train;
pub mod verify;

use std::path::PathBuf;

use crate::dataset::DatasetError;

#[derive(Debug, thiserror::Error)]
pub enum TokenizeError {
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("tokenizer {spec}: {why}")]
    Tokenizer { spec: String, why: String },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Gpu(#[from] crate::device::GpuError),
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> TokenizeError + '_ {
    move |source| TokenizeError::Io { path: path.to_path_buf(), source }
}
