//! MinHash signatures on the GPU: the signatures of a [`ShingleBatch`], by either sketch, from
//! either kind of batch.
//!
//! From raw text (word shingles; what `dedup` sends): `normalize_chunks` applies the
//! normalization rules from a per-code-point table (`dedup::rule_table`, in device memory for
//! the signer's life), one thread per ~1 KB chunk, counting and then writing, with
//! `scan_exclusive` in between to place each chunk's part and `gather_offsets` after it to find
//! each document's. The packed text is signed as below and comes back to the CPU, which takes
//! each document's exact-duplicate key (xxh3-128) from it. The CPU only copies text.
//!
//! From normalized text: one thread block per document.
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
//! (`dedup::batch` has the CPU reference of these loops; `tests/gpu.rs` runs these kernels on the
//! CPU under a CUDA emulation in CI (its `emulated` module) and on a GPU).

use std::sync::Arc;
use std::time::Instant;

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, PushKernelArg};

use super::context::{config, driver_err};
use super::kernels::{
    gather_launch, normalize_launch, scan_launch, signature_launch, Chunks, Module, MAX_PERMS, NORMALIZE_CHUNK,
};
use super::staging::{Clock, DeviceBuf, Lanes, StageTimes, Staged};
use super::{Gpu, GpuError};
use crate::dedup::batch::{BatchSigner, ShingleBatch, SignatureInput};
use crate::dedup::minhash::{MinHasher, Shingles, Sketch};
use crate::dedup::rule_table::RuleTable;

struct Lane {
    clock: Clock,
    hashes: Staged<u64>,
    /// Normalized text (a batch of text) or raw text (a batch of raw text) going up.
    text: Staged<u8>,
    offsets: Staged<u32>,
    sig: Staged<u32>,
    /// Raw text only: the chunks (`kernels::Chunks`) going up; each chunk's part length and
    /// offset; the packed normalized text and its offsets, which come back for the exact keys.
    chunk_begin: Staged<u32>,
    chunk_doc: Staged<u32>,
    first_chunk: Staged<u32>,
    lens: DeviceBuf<u32>,
    chunk_offsets: DeviceBuf<u32>,
    norm: Staged<u8>,
    norm_offsets: Staged<u32>,
}

/// The normalization rules in device memory, and the kernels that apply them.
struct Normalizer {
    rules: CudaSlice<u32>,
    pool: CudaSlice<u8>,
    strip_diacritics: u32,
    /// Output bytes per input byte, at most (`RuleTable::expansion`).
    expansion: u32,
    normalize: CudaFunction,
    scan: CudaFunction,
    gather: CudaFunction,
}

/// Signs [`ShingleBatch`]es on a GPU; safe to call from many threads at once.
pub struct GpuMinHash {
    gpu: Gpu,
    /// The kernels for batches of hashes and of text.
    from_hashes: CudaFunction,
    from_text: CudaFunction,
    /// For word shingles: raw text is normalized on the GPU.
    normalizer: Option<Normalizer>,
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
        if perms == 0 || perms > MAX_PERMS {
            return Err(GpuError::Unsupported(format!(
                "the GPU signature kernel takes 1 to {MAX_PERMS} hash functions; this profile has {perms}"
            )));
        }
        let sketch = hasher.sketch();
        let [from_hashes, from_text, normalize, scan, gather]: [CudaFunction; 5] = gpu
            .compile(&Module::signatures(sketch))?
            .try_into()
            .map_err(|_| GpuError::Unsupported("the signature module did not give five kernels".into()))?;
        let stream = gpu.ctx.default_stream();
        let normalizer = match hasher.shingles() {
            Shingles::Words { .. } => {
                let table = RuleTable::new(hasher.normalization());
                let up = || driver_err("uploading the normalization rules");
                tracing::info!("normalization rules: {} MB on the GPU", table.device_bytes() >> 20);
                Some(Normalizer {
                    rules: stream.clone_htod(&table.rules).map_err(up())?,
                    pool: stream.clone_htod(&table.pool).map_err(up())?,
                    strip_diacritics: table.strip_diacritics as u32,
                    expansion: table.expansion,
                    normalize,
                    scan,
                    gather,
                })
            }
            Shingles::Chars { .. } => None,
        };
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
            normalizer,
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
        let text = self.input() != SignatureInput::Hashes;
        let raw = self.input() == SignatureInput::Raw;
        Ok(Lane {
            hashes: Staged::new(s, if text { 1 } else { 1 << 20 }, true)?,
            text: Staged::new(s, if text { 1 << 23 } else { 1 }, true)?,
            offsets: Staged::new(s, 1 << 12, true)?,
            sig: Staged::new(s, (1 << 12) * self.perms, false)?,
            chunk_begin: Staged::new(s, if raw { 1 << 14 } else { 1 }, true)?,
            chunk_doc: Staged::new(s, if raw { 1 << 14 } else { 1 }, true)?,
            first_chunk: Staged::new(s, if raw { 1 << 12 } else { 1 }, true)?,
            lens: DeviceBuf::new(s, if raw { 1 << 14 } else { 1 })?,
            chunk_offsets: DeviceBuf::new(s, if raw { 1 << 14 } else { 1 })?,
            norm: Staged::new(s, if raw { 1 << 23 } else { 1 }, false)?,
            norm_offsets: Staged::new(s, 1 << 12, false)?,
            clock,
        })
    }

    fn run(&self, lane: &mut Lane, batch: &mut ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError> {
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
            SignatureInput::Text | SignatureInput::Raw => {
                lane.text.upload(&s, &batch.text)?;
                batch.text.len()
            }
        };
        lane.offsets.upload(&s, &batch.offsets)?;
        let mut chunks = 0;
        if input == SignatureInput::Raw {
            let c = Chunks::of(&batch.offsets, NORMALIZE_CHUNK);
            lane.chunk_begin.upload(&s, &c.begin)?;
            lane.chunk_doc.upload(&s, &c.doc)?;
            lane.first_chunk.upload(&s, &c.first)?;
            chunks = c.len();
        }
        lane.sig.reserve(&s, n_sig)?;
        self.times.add_stage(t);
        lane.clock.mark(1)?;
        if input == SignatureInput::Raw {
            self.normalize(lane, batch, chunks, &s)?;
        }
        let (docs32, perms32) = (docs as u32, self.perms as u32);
        let words = match self.shingles {
            Shingles::Words { n } => n.max(1) as u32,
            Shingles::Chars { .. } => 0,
        };
        let mut launch =
            s.launch_builder(if input == SignatureInput::Hashes { &self.from_hashes } else { &self.from_text });
        match input {
            SignatureInput::Hashes => launch.arg(lane.hashes.dev()).arg(lane.offsets.dev()),
            SignatureInput::Text => launch.arg(lane.text.dev()).arg(lane.offsets.dev()),
            SignatureInput::Raw => launch.arg(lane.norm.dev()).arg(lane.norm_offsets.dev()),
        };
        launch.arg(&docs32);
        if input != SignatureInput::Hashes {
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
        let mut got = n_sig * 4;
        if input == SignatureInput::Raw {
            // The packed normalized text, for the exact keys: its length is known once the
            // offsets are back.
            lane.norm_offsets.download(&s, docs + 1)?;
            s.synchronize().map_err(driver_err("running the signature kernels"))?;
            let total = lane.norm_offsets.host(docs + 1)?[docs] as usize;
            lane.norm.download(&s, total)?;
            got += (docs + 1) * 4 + total;
        }
        lane.clock.mark(3)?;
        lane.clock.finish(&self.times, sent + batch.offsets.len() * 4, got)?;
        out.clear();
        out.extend_from_slice(lane.sig.host(n_sig)?);
        if input == SignatureInput::Raw {
            let t = Instant::now();
            let offsets = lane.norm_offsets.host(docs + 1)?;
            let text = lane.norm.host(offsets[docs] as usize)?;
            batch.exact.clear();
            batch
                .exact
                .extend(offsets.windows(2).map(|w| xxhash_rust::xxh3::xxh3_128(&text[w[0] as usize..w[1] as usize])));
            self.times.add_stage(t);
        }
        Ok(())
    }

    /// Enqueues normalization of a batch of raw text (already uploaded to `lane.text` and
    /// `lane.offsets`, its `chunks` to `lane.chunk_*`) into `lane.norm` and `lane.norm_offsets`,
    /// packed.
    fn normalize(
        &self,
        lane: &mut Lane,
        batch: &ShingleBatch,
        chunks: usize,
        s: &Arc<CudaStream>,
    ) -> Result<(), GpuError> {
        let n = self.normalizer.as_ref().ok_or_else(|| {
            GpuError::Unsupported(
                "the GPU normalizes raw text for word shingles only; this profile has character shingles".into(),
            )
        })?;
        let (docs32, chunks32) = (batch.docs() as u32, chunks as u32);
        lane.lens.reserve(s, chunks)?;
        lane.chunk_offsets.reserve(s, chunks + 1)?;
        lane.norm.reserve(s, batch.text.len() * n.expansion as usize)?;
        lane.norm_offsets.reserve(s, batch.docs() + 1)?;
        for write in [0u32, 1] {
            let mut launch = s.launch_builder(&n.normalize);
            launch
                .arg(lane.text.dev())
                .arg(lane.offsets.dev())
                .arg(lane.chunk_begin.dev())
                .arg(lane.chunk_doc.dev())
                .arg(&chunks32)
                .arg(&n.rules)
                .arg(&n.pool)
                .arg(&n.strip_diacritics)
                .arg(&write)
                .arg(lane.chunk_offsets.dev())
                .arg(lane.norm.dev_mut())
                .arg(lane.lens.dev_mut());
            // SAFETY: the arguments match `normalize_chunks` in order and type; `offsets` has
            // docs + 1 non-decreasing entries ending at the uploaded text's length, which is
            // valid UTF-8 (Rust strings); the chunks are `Chunks::of` those offsets; `rules` has
            // an entry for every code point; `lens` and `chunk_offsets` hold chunks (+ 1)
            // values; on the writing pass, `chunk_offsets` is the scan of the counting pass's
            // lengths, whose total is at most expansion × the text's bytes, what `norm` holds.
            unsafe { launch.launch(config(normalize_launch(chunks))) }
                .map_err(driver_err("launching normalization"))?;
            if write == 0 {
                let mut launch = s.launch_builder(&n.scan);
                launch.arg(lane.lens.dev()).arg(&chunks32).arg(lane.chunk_offsets.dev_mut());
                // SAFETY: `lens` holds chunks values and `chunk_offsets` chunks + 1.
                unsafe { launch.launch(config(scan_launch())) }.map_err(driver_err("launching the offsets scan"))?;
            }
        }
        let mut launch = s.launch_builder(&n.gather);
        launch.arg(lane.chunk_offsets.dev()).arg(lane.first_chunk.dev()).arg(&docs32).arg(lane.norm_offsets.dev_mut());
        // SAFETY: `first_chunk` has docs + 1 entries, each at most chunks, and `chunk_offsets`
        // chunks + 1; `norm_offsets` holds docs + 1.
        unsafe { launch.launch(config(gather_launch(batch.docs()))) }
            .map_err(driver_err("launching the offsets gather"))?;
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

    /// Raw text for word shingles (normalized and hashed on the GPU); character shingles are
    /// hashed on the CPU.
    fn input(&self) -> SignatureInput {
        match self.shingles {
            Shingles::Words { .. } => SignatureInput::Raw,
            Shingles::Chars { .. } => SignatureInput::Hashes,
        }
    }

    fn sign(&self, batch: &mut ShingleBatch, out: &mut Vec<u32>) -> Result<(), GpuError> {
        if batch.docs() == 0 {
            out.clear();
            return Ok(());
        }
        if batch.input() != SignatureInput::Hashes && matches!(self.shingles, Shingles::Chars { .. }) {
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
