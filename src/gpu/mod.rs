//! The GPU path (`--device cuda`): MinHash signatures and BPE encoding on an NVIDIA GPU, with
//! outputs identical to the CPU path.
//!
//! Why this shape: the library's HPC nodes have GPUs, but kbcurate must never need one. So the
//! CUDA code sits behind the `cuda` cargo feature (off by default) and uses `cudarc` with
//! dynamic loading: a build needs no CUDA toolkit, and a `cuda` binary on a machine without a
//! driver says so instead of failing to start. Kernels are CUDA C strings compiled by NVRTC at
//! run time, so there is no `nvcc` step in the build either.
//!
//! What runs where: the GPU gets flat arrays and does the heavy inner loops. Signatures: the
//! CPU copies each batch's raw text; the GPU normalizes it through a per-code-point rule table
//! (`dedup::rule_table`, built from the CPU's own rules), hashes the word shingles (XXH3-64)
//! and draws the signatures; the CPU keys the normalized text it gets back. Encoding: for the
//! built-in vocabularies the GPU splits the text (`tokenize::pretokenize`'s scanners), runs the
//! lowest-rank BPE merges over a pair table in device memory and packs the ids; for a
//! `*.tiktoken` file the CPU keeps the pre-tokenization and de-duplicates pieces, and the GPU
//! merges them. The CPU-side layouts and a Rust
//! reference of each kernel's loop live next to the CPU code they mirror (`dedup::batch`,
//! `tokenize::merge`), without the feature, and the kernels' own CUDA C (`kernels`) runs in CI
//! under a host emulation of CUDA, so CI proves the algorithms and the kernels on every run;
//! the GPU tests then show the device agrees.
//!
//! ```text
//! open.rs     opening the device a `crate::device::Device` names (always built; the names, the
//!             errors and the chunk layout are the leaf module `crate::device`)
//! kernels.rs  the kernels' CUDA C (kernels/*.cu) and launch shapes (always built: CI runs the
//!             kernels under a host emulation of CUDA: tests/gpu.rs, module `emulated`)
//! context.rs  an open GPU: the context, and NVRTC compilation (which needs no device) (feature `cuda`)
//! staging.rs  pinned host buffers, device buffers, per-call streams and timings (feature `cuda`)
//! minhash.rs  the signature kernel (feature `cuda`)
//! bpe.rs      the merge kernel for distinct pieces split on the CPU (feature `cuda`)
//! encode.rs   whole batches encoded on the GPU: split, merges, packing (the built-ins; feature `cuda`)
//! ```
//!
//! Packing arithmetic (lengths, prefix sums, window assignment) stays on the CPU: it is a pass
//! over one integer per document, well under 1% of a tokenize run, and moving it would add a
//! transfer for no gain (docs/gpu.md).

pub mod kernels;
mod open;

#[cfg(feature = "cuda")]
pub mod bpe;
#[cfg(feature = "cuda")]
mod context;
#[cfg(feature = "cuda")]
pub mod encode;
#[cfg(feature = "cuda")]
pub mod minhash;
#[cfg(feature = "cuda")]
pub mod staging;

pub use crate::device::{Device, GpuError};

#[cfg(feature = "cuda")]
pub use context::{compile_ptx, nvrtc_present, Gpu};

/// An open GPU. Without the `cuda` feature there is none: the type has no values, so code that
/// holds one compiles in both builds and the CPU-only build proves it is never reached.
#[cfg(not(feature = "cuda"))]
#[derive(Debug, Clone)]
pub enum Gpu {}

/// The MinHash signer for `hasher`'s hash functions on `gpu`.
pub fn minhash_signer(
    gpu: &Gpu,
    #[cfg_attr(not(feature = "cuda"), allow(unused_variables))] hasher: &crate::dedup::minhash::MinHasher,
) -> Result<std::sync::Arc<dyn crate::dedup::batch::BatchSigner>, GpuError> {
    #[cfg(feature = "cuda")]
    return Ok(std::sync::Arc::new(minhash::GpuMinHash::new(gpu, hasher)?));
    #[cfg(not(feature = "cuda"))]
    match *gpu {}
}

/// A device as the stages take it (`DedupOptions::device`, `TokenizeOptions::device`): the GPU
/// path behind their batch traits, opened only when a stage has work for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnDevice(pub Device);

impl crate::dedup::batch::SignerSource for OnDevice {
    fn describe(&self) -> String {
        self.0.to_string()
    }

    fn open(
        &self,
        hasher: &crate::dedup::minhash::MinHasher,
    ) -> Result<Option<std::sync::Arc<dyn crate::dedup::batch::BatchSigner>>, GpuError> {
        match self.0.open()? {
            Some(gpu) => Ok(Some(minhash_signer(&gpu, hasher)?)),
            None => Ok(None),
        }
    }
}

impl crate::tokenize::encoder::EncoderPlacement for OnDevice {
    fn describe(&self) -> String {
        self.0.to_string()
    }

    /// `auto` keeps an encoder the GPU cannot run (a tokenizer.json) on the CPU, where `cuda`
    /// refuses it.
    fn place(
        &self,
        enc: Box<dyn crate::tokenize::encoder::Encoder>,
    ) -> Result<Box<dyn crate::tokenize::encoder::Encoder>, GpuError> {
        if self.0 == Device::Auto && enc.rank_bpe().is_none() {
            tracing::info!("--device auto: {} runs on the CPU (the GPU encodes tiktoken-style BPE)", enc.describe());
            return Ok(enc);
        }
        match self.0.open()? {
            Some(gpu) => encoder(&gpu, enc),
            None => Ok(enc),
        }
    }
}

/// `--device` for dedup: nothing for the CPU, else the GPU path.
pub fn signer_source(device: Device) -> Option<std::sync::Arc<dyn crate::dedup::batch::SignerSource>> {
    (!device.is_cpu()).then(|| std::sync::Arc::new(OnDevice(device)) as _)
}

/// `--device` for tokenize: nothing for the CPU, else the GPU path.
pub fn encoder_placement(device: Device) -> Option<std::sync::Arc<dyn crate::tokenize::encoder::EncoderPlacement>> {
    (!device.is_cpu()).then(|| std::sync::Arc::new(OnDevice(device)) as _)
}

/// The GPU split's pattern for `encoder`, if it is a built-in vocabulary (by fingerprint: its
/// tokens and pattern).
pub fn builtin_scanner(
    encoder: &dyn crate::tokenize::encoder::Encoder,
) -> Option<crate::tokenize::pretokenize::Scanner> {
    use crate::tokenize::encoder::{Encoder, TiktokenEncoder};
    use crate::tokenize::pretokenize::Scanner;
    let fingerprint = encoder.fingerprint();
    [(TiktokenEncoder::cl100k_base(), Scanner::Cl100k), (TiktokenEncoder::o200k_base(), Scanner::O200k)]
        .into_iter()
        .find(|(builtin, _)| builtin.fingerprint() == fingerprint)
        .map(|(_, scanner)| scanner)
}

/// `inner` with its encoding done on `gpu`: ids identical to `inner`'s. `inner` must be a
/// tiktoken-style byte-level BPE (a built-in vocabulary or a `*.tiktoken` rank file).
/// The built-ins (cl100k_base, o200k_base) are split, merged and packed on the GPU
/// (`encode`); other vocabularies (`*.tiktoken` files) are split on the CPU and merged on the
/// GPU (`bpe`).
pub fn encoder(
    gpu: &Gpu,
    inner: Box<dyn crate::tokenize::encoder::Encoder>,
) -> Result<Box<dyn crate::tokenize::encoder::Encoder>, GpuError> {
    #[cfg(feature = "cuda")]
    {
        let table = crate::tokenize::merge::MergeTable::for_encoder(inner.as_ref())
            .map_err(|why| GpuError::Unsupported(format!("--device cuda: {why}")))?;
        // A built-in is split on the GPU too; another vocabulary's split stays on the CPU.
        if let Some(scanner) = builtin_scanner(inner.as_ref()) {
            let device = encode::GpuSplitBpe::new(gpu, &table, scanner)?;
            return Ok(Box::new(crate::tokenize::merge::SplitEncoder::new(inner, device)));
        }
        let merger = bpe::GpuBpe::new(gpu, &table)?;
        Ok(Box::new(crate::tokenize::merge::MergeEncoder::new(inner, table, merger)))
    }
    #[cfg(not(feature = "cuda"))]
    {
        let _ = inner;
        match *gpu {}
    }
}
