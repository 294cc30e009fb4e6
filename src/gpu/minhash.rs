//! MinHash signatures on the GPU: the signatures of a [`ShingleBatch`], by either sketch, from
//! either kind of batch.
//!
//! From normalized text (word shingles; what `dedup` sends): one thread block per document.
//! Every byte position is a thread's; a thread whose position starts a word walks forward `n`
//! words and hashes that shingle with XXH3-64 (`kernels/xxh3.cu`), so the CPU only normalizes.
//! Then, by sketch:
//! - [`Sketch::OnePermutation`] (`text_oph`): the hash is mixed with the key and `atomicMin`-ed
//!   into its bin in shared memory; one thread per bin then fills an empty bin by the CPU's
//!   densification sequence. A minimum does not depend on the order the atomics land in, so
//!   the result is deterministic.
//! - [`Sketch::MinHash`] (`text_minhash`): a tile's hashes are folded to 32 bits into shared
//!   memory, and each thread, owning up to four permutations (`a_lo`, `a_hi`, `b` in
//!   registers), takes the min of `hi32(a_lo·x + b) + a_hi·x (mod 2^32)` over them.
//!
//! From shingle hashes computed on the CPU (character shingles): `oph` and `minhash`, the
//! same loops over the uploaded hashes.
//!
//! Integer operations only, so the signatures are bit-identical to `MinHasher::signature`
//! (`dedup::batch` has the CPU reference of these loops; `tests/gpu_emulated.rs` runs these
//! kernels on the CPU under a CUDA emulation in CI; `tests/gpu.rs` runs them on a GPU).

use std::time::Instant;

use cudarc::driver::{CudaFunction, CudaSlice, PushKernelArg};

use super::context::{config, driver_err};
use super::kernels::{signature_entry, signature_launch, signature_source, MAX_PERMS};
use super::staging::{Clock, Lanes, StageTimes, Staged};
use super::{Gpu, GpuError};
use crate::dedup::batch::{BatchSigner, ShingleBatch, SignatureInput};
use crate::dedup::minhash::{MinHasher, Shingles, Sketch};

struct Lane {
    clock: Clock,
    hashes: Staged<u64>,
    text: Staged<u8>,
    offsets: Staged<u32>,
    sig: Staged<u32>,
}

/// Signs [`ShingleBatch`]es on a GPU; safe to call from many threads at once.
pub struct GpuMinHash {
    gpu: Gpu,
    /// The kernels for batches of hashes and of text.
    from_hashes: CudaFunction,
    from_text: CudaFunction,
    sketch: Sketch,
    shingles: Shingles,
    key: u64,
    a_lo: CudaSlice<u32>,
    a_hi: CudaSlice<u32>,
    b: CudaSlice<u64>,
    perms: usize,
    lanes: Lanes<Lane>,
    times: StageTimes,
}

impl GpuMinHash {
    /// Compiles the kernels and uploads `hasher`'s hash functions.
    pub fn new(gpu: &Gpu, hasher: &MinHasher) -> Result<Self, GpuError> {
        let perms = hasher.perms();
        if perms > MAX_PERMS {
            return Err(GpuError::Unsupported(format!(
                "the GPU signature kernel takes at most {MAX_PERMS} hash functions; this profile has {perms}"
            )));
        }
        let sketch = hasher.sketch();
        let entries = [signature_entry(sketch, SignatureInput::Hashes), signature_entry(sketch, SignatureInput::Text)];
        let [from_hashes, from_text]: [CudaFunction; 2] = gpu
            .compile_all("minhash", &signature_source(), &entries)?
            .try_into()
            .map_err(|_| GpuError::Unsupported("the signature module did not give two kernels".into()))?;
        let stream = gpu.ctx.default_stream();
        let (a_lo, a_hi, b) = hasher.family();
        let up = |what| driver_err(what);
        let a_lo = stream.clone_htod(a_lo).map_err(up("uploading the hash functions"))?;
        let a_hi = stream.clone_htod(a_hi).map_err(up("uploading the hash functions"))?;
        let b = stream.clone_htod(b).map_err(up("uploading the hash functions"))?;
        stream.synchronize().map_err(up("uploading the hash functions"))?;
        Ok(Self {
            gpu: gpu.clone(),
            from_hashes,
            from_text,
            sketch,
            shingles: hasher.shingles(),
            key: hasher.key(),
            a_lo,
            a_hi,
            b,
            perms,
            lanes: Lanes::new(),
            times: StageTimes::default(),
        })
    }

    /// Where the GPU's time went, over all calls so far.
    pub fn times(&self) -> &StageTimes {
        &self.times
    }

    fn new_lane(&self) -> Result<Lane, GpuError> {
        let clock = Clock::new(&self.gpu.ctx)?;
        let s = &clock.stream;
        let text = self.input() == SignatureInput::Text;
        Ok(Lane {
            hashes: Staged::new(s, if text { 1 } else { 1 << 20 }, true)?,
            text: Staged::new(s, if text { 1 << 23 } else { 1 }, true)?,
            offsets: Staged::new(s, 1 << 12, true)?,
            sig: Staged::new(s, (1 << 12) * self.perms, false)?,
            clock,
        })
    }

    fn run(&self, lane: &mut Lane, batch: &ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError> {
        let (docs, n_sig) = (batch.docs(), batch.docs() * self.perms);
        let input = batch.input();
        let t = Instant::now();
        lane.clock.mark(0)?;
        let s = lane.clock.stream.clone();
        let sent = match input {
            SignatureInput::Hashes => {
                lane.hashes.upload(&s, &batch.hashes)?;
                batch.hashes.len() * 8
            }
            SignatureInput::Text => {
                lane.text.upload(&s, &batch.text)?;
                batch.text.len()
            }
        };
        lane.offsets.upload(&s, &batch.offsets)?;
        lane.sig.reserve(&s, n_sig)?;
        self.times.add_stage(t);
        lane.clock.mark(1)?;
        let (docs32, perms32) = (docs as u32, self.perms as u32);
        let words = match self.shingles {
            Shingles::Words { n } => n.max(1) as u32,
            Shingles::Chars { .. } => 0,
        };
        let mut launch =
            s.launch_builder(if input == SignatureInput::Text { &self.from_text } else { &self.from_hashes });
        match input {
            SignatureInput::Hashes => launch.arg(lane.hashes.dev()),
            SignatureInput::Text => launch.arg(lane.text.dev()),
        };
        launch.arg(lane.offsets.dev()).arg(&docs32);
        if input == SignatureInput::Text {
            launch.arg(&words);
        }
        match self.sketch {
            Sketch::MinHash => launch.arg(&self.a_lo).arg(&self.a_hi).arg(&self.b).arg(&perms32),
            Sketch::OnePermutation => launch.arg(&self.key).arg(&perms32),
        };
        launch.arg(lane.sig.dev_mut());
        let cfg = config(signature_launch(self.sketch, input, self.perms, docs));
        // SAFETY: the arguments match the chosen kernel's signature in order and type (see
        // kernels/minhash.cu: hashes or text, offsets, docs, [n,] the sketch's parameters,
        // sig); `offsets` has docs + 1 entries, non-decreasing and at most the number of items
        // uploaded; `sig` holds docs × perms; the `oph` kernels' shared memory is the 2 × perms
        // words they use.
        unsafe { launch.launch(cfg) }.map_err(driver_err("launching the signature kernel"))?;
        lane.clock.mark(2)?;
        lane.sig.download(&s, n_sig)?;
        lane.clock.mark(3)?;
        lane.clock.finish(&self.times, sent + batch.offsets.len() * 4, n_sig * 4)?;
        out.clear();
        out.extend_from_slice(lane.sig.host(n_sig)?);
        Ok(())
    }
}

impl BatchSigner for GpuMinHash {
    fn describe(&self) -> String {
        format!("GPU signature kernel on {}", self.gpu.describe())
    }

    fn perms(&self) -> usize {
        self.perms
    }

    /// Text for word shingles (hashed on the GPU); character shingles are hashed on the CPU.
    fn input(&self) -> SignatureInput {
        match self.shingles {
            Shingles::Words { .. } => SignatureInput::Text,
            Shingles::Chars { .. } => SignatureInput::Hashes,
        }
    }

    fn sign(&self, batch: &ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError> {
        if batch.docs() == 0 || self.perms == 0 {
            out.clear();
            out.resize(batch.docs() * self.perms, u32::MAX);
            return Ok(());
        }
        if batch.input() == SignatureInput::Text && matches!(self.shingles, Shingles::Chars { .. }) {
            return Err(GpuError::Unsupported(
                "the GPU finds word shingles in text; character shingles need a batch of hashes".into(),
            ));
        }
        self.lanes.with(|| self.new_lane(), |lane| self.run(lane, batch, out))
    }
}

// Sharing across threads: the device buffers are read-only after `new`, and each call works
// in its own lane.
const _: () = {
    const fn is_sync<T: Send + Sync>() {}
    is_sync::<GpuMinHash>();
};
