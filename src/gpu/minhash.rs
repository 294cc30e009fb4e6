//! MinHash signatures on the GPU: the signatures of a [`ShingleBatch`], by either sketch.
//!
//! [`Sketch::MinHash`] (`minhash` kernel): one thread block per document; each thread owns up
//! to four permutations (their `a_lo`, `a_hi`, `b` in registers) and scans the document's
//! shingles, which the block stages in shared memory a tile at a time, folded to 32 bits once.
//! The arithmetic is the CPU's, written out in CUDA C: `hi32(a_lo·x + b) + a_hi·x (mod 2^32)`.
//!
//! [`Sketch::OnePermutation`] (`oph` kernel): one block per document; its threads take the
//! shingles in turn, mix each with the key and `atomicMin` the value into its bin in shared
//! memory; then one thread per bin fills an empty bin by the CPU's densification sequence.
//! The minimum does not depend on the order the atomics land in, so the result is
//! deterministic.
//!
//! Integer operations only in both, so the signatures are bit-identical to
//! `MinHasher::signature` (`dedup::batch` has the CPU reference of these loops and its test;
//! `tests/gpu.rs` compares the kernels to it on a GPU).

use std::time::Instant;

use cudarc::driver::{CudaFunction, CudaSlice, LaunchConfig, PushKernelArg};

use super::context::driver_err;
use super::staging::{Clock, Lanes, StageTimes, Staged};
use super::{Gpu, GpuError};
use crate::dedup::batch::{BatchSigner, ShingleBatch};
use crate::dedup::minhash::{MinHasher, Sketch};

/// Most permutations per thread (registers), times the largest block: the kernel's limit.
const PER_THREAD: usize = 4;
const MAX_BLOCK: usize = 256;
pub const MAX_PERMS: usize = PER_THREAD * MAX_BLOCK;

const SOURCE: &str = r#"
#define TILE 512
#define PER_THREAD 4
typedef unsigned int u32;
typedef unsigned long long u64;

extern "C" __global__ void minhash(
    const u64* __restrict__ hashes, const u32* __restrict__ offsets, u32 docs,
    const u32* __restrict__ a_lo, const u32* __restrict__ a_hi, const u64* __restrict__ b, u32 perms,
    u32* __restrict__ sig)
{
    __shared__ u32 xs[TILE];
    for (u32 d = blockIdx.x; d < docs; d += gridDim.x) {
        const u32 start = offsets[d], end = offsets[d + 1];
        u32 lo[PER_THREAD], hi[PER_THREAD], m[PER_THREAD];
        u64 bb[PER_THREAD];
        for (int k = 0; k < PER_THREAD; k++) {
            const u32 p = threadIdx.x + k * blockDim.x;
            m[k] = 0xffffffffu;
            if (p < perms) { lo[k] = a_lo[p]; hi[k] = a_hi[p]; bb[k] = b[p]; }
        }
        for (u32 t0 = start; t0 < end; t0 += TILE) {
            const u32 n = min((u32)TILE, end - t0);
            __syncthreads();
            for (u32 i = threadIdx.x; i < n; i += blockDim.x) {
                const u64 h = hashes[t0 + i];
                xs[i] = (u32)(h ^ (h >> 32));
            }
            __syncthreads();
            for (int k = 0; k < PER_THREAD; k++) {
                if (threadIdx.x + k * blockDim.x >= perms) break;
                u32 mk = m[k];
                for (u32 i = 0; i < n; i++) {
                    const u32 x = xs[i];
                    const u64 prod = (u64)lo[k] * x + bb[k];
                    mk = min(mk, (u32)(prod >> 32) + hi[k] * x);
                }
                m[k] = mk;
            }
        }
        for (int k = 0; k < PER_THREAD; k++) {
            const u32 p = threadIdx.x + k * blockDim.x;
            if (p < perms) sig[(u64)d * perms + p] = m[k];
        }
    }
}

__device__ __forceinline__ u64 mix64(u64 z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

__device__ __forceinline__ u32 bin_of(u64 x, u32 n) {
    return (u32)(((x >> 32) * (u64)n) >> 32);
}

/* Dynamic shared memory: perms values, then perms filled flags. */
extern "C" __global__ void oph(
    const u64* __restrict__ hashes, const u32* __restrict__ offsets, u32 docs,
    u64 key, u32 perms, u32* __restrict__ sig)
{
    extern __shared__ u32 smem[];
    u32* vals = smem;
    u32* filled = smem + perms;
    for (u32 d = blockIdx.x; d < docs; d += gridDim.x) {
        for (u32 p = threadIdx.x; p < perms; p += blockDim.x) { vals[p] = 0xffffffffu; filled[p] = 0; }
        __syncthreads();
        const u32 start = offsets[d], end = offsets[d + 1];
        for (u32 i = start + threadIdx.x; i < end; i += blockDim.x) {
            const u64 g = mix64(hashes[i] ^ key);
            const u32 bin = bin_of(g, perms);
            atomicMin(&vals[bin], (u32)g);
            filled[bin] = 1;
        }
        __syncthreads();
        for (u32 p = threadIdx.x; p < perms; p += blockDim.x) {
            u32 v = vals[p];
            if (end > start && !filled[p]) {
                for (u64 attempt = 1;; attempt++) {
                    const u32 j = bin_of(mix64(key ^ ((u64)p << 32) ^ attempt), perms);
                    if (filled[j]) { v = vals[j]; break; }
                }
            }
            sig[(u64)d * perms + p] = v;
        }
        __syncthreads();
    }
}
"#;

struct Lane {
    clock: Clock,
    hashes: Staged<u64>,
    offsets: Staged<u32>,
    sig: Staged<u32>,
}

/// Signs [`ShingleBatch`]es on a GPU; safe to call from many threads at once.
pub struct GpuMinHash {
    gpu: Gpu,
    func: CudaFunction,
    sketch: Sketch,
    key: u64,
    a_lo: CudaSlice<u32>,
    a_hi: CudaSlice<u32>,
    b: CudaSlice<u64>,
    perms: usize,
    lanes: Lanes<Lane>,
    times: StageTimes,
}

impl GpuMinHash {
    /// Compiles the kernel and uploads `hasher`'s hash functions.
    pub fn new(gpu: &Gpu, hasher: &MinHasher) -> Result<Self, GpuError> {
        let perms = hasher.perms();
        if perms > MAX_PERMS {
            return Err(GpuError::Unsupported(format!(
                "the GPU signature kernel takes at most {MAX_PERMS} hash functions; this profile has {perms}"
            )));
        }
        let sketch = hasher.sketch();
        let entry = match sketch {
            Sketch::MinHash => "minhash",
            Sketch::OnePermutation => "oph",
        };
        let func = gpu.compile("minhash", SOURCE, entry)?;
        let stream = gpu.ctx.default_stream();
        let (a_lo, a_hi, b) = hasher.family();
        let up = |what| driver_err(what);
        let a_lo = stream.clone_htod(a_lo).map_err(up("uploading the hash functions"))?;
        let a_hi = stream.clone_htod(a_hi).map_err(up("uploading the hash functions"))?;
        let b = stream.clone_htod(b).map_err(up("uploading the hash functions"))?;
        stream.synchronize().map_err(up("uploading the hash functions"))?;
        Ok(Self {
            gpu: gpu.clone(),
            func,
            sketch,
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
        Ok(Lane {
            hashes: Staged::new(s, 1 << 20, true)?,
            offsets: Staged::new(s, 1 << 12, true)?,
            sig: Staged::new(s, (1 << 12) * self.perms, false)?,
            clock,
        })
    }

    fn run(&self, lane: &mut Lane, batch: &ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError> {
        let (docs, n_sig) = (batch.docs(), batch.docs() * self.perms);
        let t = Instant::now();
        lane.clock.mark(0)?;
        let s = lane.clock.stream.clone();
        lane.hashes.upload(&s, &batch.hashes)?;
        lane.offsets.upload(&s, &batch.offsets)?;
        lane.sig.reserve(&s, n_sig)?;
        self.times.add_stage(t);
        lane.clock.mark(1)?;
        let (docs32, perms32) = (docs as u32, self.perms as u32);
        let mut launch = s.launch_builder(&self.func);
        let cfg = match self.sketch {
            Sketch::MinHash => {
                let block = self.perms.div_ceil(PER_THREAD).next_multiple_of(32).clamp(32, MAX_BLOCK) as u32;
                launch
                    .arg(lane.hashes.dev())
                    .arg(lane.offsets.dev())
                    .arg(&docs32)
                    .arg(&self.a_lo)
                    .arg(&self.a_hi)
                    .arg(&self.b)
                    .arg(&perms32)
                    .arg(lane.sig.dev_mut());
                LaunchConfig { grid_dim: (docs32, 1, 1), block_dim: (block, 1, 1), shared_mem_bytes: 0 }
            }
            Sketch::OnePermutation => {
                launch
                    .arg(lane.hashes.dev())
                    .arg(lane.offsets.dev())
                    .arg(&docs32)
                    .arg(&self.key)
                    .arg(&perms32)
                    .arg(lane.sig.dev_mut());
                // Values and flags of every bin in shared memory (8 KB at the 1,024-bin limit).
                LaunchConfig { grid_dim: (docs32, 1, 1), block_dim: (128, 1, 1), shared_mem_bytes: perms32 * 8 }
            }
        };
        // SAFETY: the arguments match the chosen kernel's signature in order and type;
        // `offsets` has docs + 1 entries, each at most the number of hashes uploaded; `sig`
        // holds docs × perms; the `oph` kernel's shared memory is the 2 × perms words it uses.
        unsafe { launch.launch(cfg) }.map_err(driver_err("launching the signature kernel"))?;
        lane.clock.mark(2)?;
        lane.sig.download(&s, n_sig)?;
        lane.clock.mark(3)?;
        lane.clock.finish(&self.times, batch.hashes.len() * 8 + batch.offsets.len() * 4, n_sig * 4)?;
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

    fn sign(&self, batch: &ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError> {
        if batch.docs() == 0 || self.perms == 0 {
            out.clear();
            out.resize(batch.docs() * self.perms, u32::MAX);
            return Ok(());
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
