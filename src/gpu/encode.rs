//! Encoding whole batches on the GPU (cl100k_base and o200k_base): [`GpuSplitBpe`], a
//! `tokenize::merge::BatchEncoder`.
//!
//! The CPU copies a batch's texts up; the GPU splits them with the vocabulary's pattern
//! (`kernels/split.cu`: a thread per ~1 KB chunk, counting pieces, then writing their starts
//! after a scan), merges every piece by rule 2 over the pair table (`bpe_merge_all`; a piece
//! that is a token merges into that token; pieces over `MAX_PIECE` bytes are worked in global
//! memory), and packs the ids in order (`scan_exclusive_at`, `pack_ids`, `doc_tokens`); the CPU
//! copies the ids down. Why: the CPU path's fast BPE already splits and looks pieces up in a
//! cache at 25–49 MB/s per core, so a GPU path that leaves the split on the CPU cannot beat it
//! (docs/gpu.md). `tokenize::merge::ReferenceSplitBpe` is these loops in Rust, and
//! `tests/gpu.rs` runs the kernels themselves under the CPU emulation of CUDA.

use std::sync::Arc;
use std::time::Instant;

use cudarc::driver::{CudaFunction, CudaSlice, CudaStream, PushKernelArg};

use super::bpe::DeviceTable;
use super::context::{config, driver_err};
use super::kernels::{
    gather_launch, normalize_launch, per_piece_launch, scan_launch, split_pattern, Chunks, Module, NORMALIZE_CHUNK,
};
use super::staging::{Clock, DeviceBuf, Lanes, StageTimes, Staged};
use super::{Gpu, GpuError};
use crate::tokenize::merge::{BatchEncoder, MergeTable};
use crate::tokenize::pretokenize::Scanner;

struct Lane {
    clock: Clock,
    text: Staged<u8>,
    offsets: Staged<u32>,
    chunk_begin: Staged<u32>,
    chunk_doc: Staged<u32>,
    first_chunk: Staged<u32>,
    /// Pieces per chunk, and where each chunk's pieces start.
    chunk_counts: DeviceBuf<u32>,
    piece_offsets: DeviceBuf<u32>,
    /// Per piece (at most one per byte): its start, its ids (at its start), their number, and
    /// where they go in the packed ids.
    starts: DeviceBuf<u32>,
    ids: DeviceBuf<u32>,
    counts: DeviceBuf<u32>,
    tok_offsets: DeviceBuf<u32>,
    tokens: Staged<u32>,
    doc_tok: Staged<u32>,
}

struct Kernels {
    split: CudaFunction,
    scan: CudaFunction,
    merge: CudaFunction,
    scan_at: CudaFunction,
    pack: CudaFunction,
    doc_tokens: CudaFunction,
}

/// Splits, merges and packs batches on a GPU with a built-in's table and the character
/// classes in device memory; safe to call from many threads at once.
pub struct GpuSplitBpe {
    gpu: Gpu,
    k: Kernels,
    /// `split_chunks`' pattern argument.
    pattern: u32,
    table: DeviceTable,
    classes: CudaSlice<u8>,
    lanes: Lanes<Lane>,
    times: StageTimes,
}

impl GpuSplitBpe {
    /// Compiles the kernels and uploads `table` (of a vocabulary that splits with `scanner`'s
    /// pattern) and the character classes.
    pub fn new(gpu: &Gpu, table: &MergeTable, scanner: Scanner) -> Result<Self, GpuError> {
        let [split, scan, merge, scan_at, pack, doc_tokens]: [CudaFunction; 6] = gpu
            .compile(&Module::encode())?
            .try_into()
            .map_err(|_| GpuError::Unsupported("the encoding module did not give six kernels".into()))?;
        let table = DeviceTable::upload(gpu, table)?;
        let stream = gpu.ctx.default_stream();
        let up = || driver_err("uploading the character classes");
        let classes = stream.clone_htod(crate::tokenize::pretokenize::char_classes()).map_err(up())?;
        stream.synchronize().map_err(up())?;
        Ok(Self {
            gpu: gpu.clone(),
            k: Kernels { split, scan, merge, scan_at, pack, doc_tokens },
            pattern: split_pattern(scanner),
            table,
            classes,
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
        let (bytes, docs, chunks) = (1 << 20, 1 << 10, 1 << 11);
        Ok(Lane {
            text: Staged::new(s, bytes, true)?,
            offsets: Staged::new(s, docs + 1, true)?,
            chunk_begin: Staged::new(s, chunks, true)?,
            chunk_doc: Staged::new(s, chunks, true)?,
            first_chunk: Staged::new(s, docs + 1, true)?,
            chunk_counts: DeviceBuf::new(s, chunks)?,
            piece_offsets: DeviceBuf::new(s, chunks + 1)?,
            starts: DeviceBuf::new(s, bytes)?,
            ids: DeviceBuf::new(s, bytes)?,
            counts: DeviceBuf::new(s, bytes)?,
            tok_offsets: DeviceBuf::new(s, bytes + 1)?,
            tokens: Staged::new(s, bytes / 2, false)?,
            doc_tok: Staged::new(s, docs + 1, false)?,
            clock,
        })
    }

    fn run(&self, lane: &mut Lane, text: &[u8], offsets: &[u32]) -> Result<Vec<Vec<u32>>, GpuError> {
        let docs = offsets.len() - 1;
        let t = Instant::now();
        lane.clock.mark(0)?;
        let s = lane.clock.stream.clone();
        let c = Chunks::of(offsets, NORMALIZE_CHUNK);
        lane.text.upload(&s, text)?;
        lane.offsets.upload(&s, offsets)?;
        lane.chunk_begin.upload(&s, &c.begin)?;
        lane.chunk_doc.upload(&s, &c.doc)?;
        lane.first_chunk.upload(&s, &c.first)?;
        let n = text.len().max(1);
        lane.chunk_counts.reserve(&s, c.len())?;
        lane.piece_offsets.reserve(&s, c.len() + 1)?;
        for buf in [&mut lane.starts, &mut lane.ids, &mut lane.counts] {
            buf.reserve(&s, n)?;
        }
        lane.tok_offsets.reserve(&s, n + 1)?;
        // At most one id per byte: a piece's ids are at most its bytes.
        lane.tokens.reserve(&s, n)?;
        lane.doc_tok.reserve(&s, docs + 1)?;
        self.times.add_stage(t);
        lane.clock.mark(1)?;
        self.launch_all(lane, &s, text.len(), docs, c.len())?;
        lane.clock.mark(2)?;
        // The packed ids' number is known once the documents' offsets are back.
        lane.doc_tok.download(&s, docs + 1)?;
        s.synchronize().map_err(driver_err("running the encoding kernels"))?;
        let total = lane.doc_tok.host(docs + 1)?[docs] as usize;
        lane.tokens.download(&s, total)?;
        lane.clock.mark(3)?;
        let sent = text.len() + (offsets.len() + 2 * c.len() + c.first.len()) * 4;
        lane.clock.finish(&self.times, sent, (docs + 1 + total) * 4)?;
        let t = Instant::now();
        let (doc_tok, tokens) = (lane.doc_tok.host(docs + 1)?, lane.tokens.host(total)?);
        let out = doc_tok.windows(2).map(|w| tokens[w[0] as usize..w[1] as usize].to_vec()).collect();
        self.times.add_stage(t);
        Ok(out)
    }

    /// Enqueues the kernels, in order, on the lane's stream.
    fn launch_all(
        &self,
        lane: &mut Lane,
        s: &Arc<CudaStream>,
        len: usize,
        docs: usize,
        chunks: usize,
    ) -> Result<(), GpuError> {
        let (len32, docs32, chunks32) = (len as u32, docs as u32, chunks as u32);
        for write in [0u32, 1] {
            let mut b = s.launch_builder(&self.k.split);
            b.arg(lane.text.dev())
                .arg(lane.offsets.dev())
                .arg(lane.chunk_begin.dev())
                .arg(lane.chunk_doc.dev())
                .arg(&chunks32)
                .arg(&self.classes)
                .arg(&self.pattern)
                .arg(&write)
                .arg(lane.piece_offsets.dev())
                .arg(lane.starts.dev_mut())
                .arg(lane.chunk_counts.dev_mut());
            // SAFETY: the arguments match `split_chunks` in order and type; the chunks are
            // `Chunks::of` the uploaded offsets (docs + 1, non-decreasing, ending at the text's
            // length, valid UTF-8); `classes` has a byte per code point; `pattern` is 0 or 1; a chunk has at most
            // one piece per byte, so `starts` (a word per byte) holds every piece; on the
            // writing pass `piece_offsets` is the scan of the counting pass.
            unsafe { b.launch(config(normalize_launch(chunks))) }.map_err(driver_err("launching the split"))?;
            if write == 0 {
                let mut b = s.launch_builder(&self.k.scan);
                b.arg(lane.chunk_counts.dev()).arg(&chunks32).arg(lane.piece_offsets.dev_mut());
                // SAFETY: chunks counts in, chunks + 1 offsets out.
                unsafe { b.launch(config(scan_launch())) }.map_err(driver_err("launching the piece scan"))?;
            }
        }
        let mut b = s.launch_builder(&self.k.merge);
        b.arg(lane.text.dev()).arg(&len32).arg(lane.starts.dev()).arg(lane.piece_offsets.dev()).arg(&chunks32);
        self.table.args(&mut b);
        b.arg(lane.ids.dev_mut()).arg(lane.counts.dev_mut());
        // SAFETY: the arguments match `bpe_merge_all`; a thread per byte covers every piece
        // (the kernel stops at piece_offsets[chunks]); a piece's ids fit in its own bytes' words.
        unsafe { b.launch(config(per_piece_launch(len))) }.map_err(driver_err("launching the merges"))?;
        let mut b = s.launch_builder(&self.k.scan_at);
        b.arg(lane.counts.dev()).arg(lane.piece_offsets.dev()).arg(&chunks32).arg(lane.tok_offsets.dev_mut());
        // SAFETY: `counts` holds a value per piece, `tok_offsets` one more.
        unsafe { b.launch(config(scan_launch())) }.map_err(driver_err("launching the id scan"))?;
        let mut b = s.launch_builder(&self.k.pack);
        b.arg(lane.starts.dev())
            .arg(lane.piece_offsets.dev())
            .arg(&chunks32)
            .arg(lane.ids.dev())
            .arg(lane.counts.dev())
            .arg(lane.tok_offsets.dev())
            .arg(lane.tokens.dev_mut());
        // SAFETY: the arguments match `pack_ids`; `tokens` holds a word per byte of text, and a
        // piece's ids are at most its bytes.
        unsafe { b.launch(config(per_piece_launch(len))) }.map_err(driver_err("launching the packing"))?;
        let mut b = s.launch_builder(&self.k.doc_tokens);
        b.arg(lane.piece_offsets.dev())
            .arg(lane.first_chunk.dev())
            .arg(lane.tok_offsets.dev())
            .arg(&docs32)
            .arg(lane.doc_tok.dev_mut());
        // SAFETY: `first_chunk` has docs + 1 entries, each at most chunks; `doc_tok` docs + 1.
        unsafe { b.launch(config(gather_launch(docs))) }.map_err(driver_err("launching the document offsets"))?;
        Ok(())
    }
}

impl BatchEncoder for GpuSplitBpe {
    fn describe(&self) -> String {
        format!("GPU split-and-merge kernels on {}", self.gpu.describe())
    }

    fn encode_texts(&self, text: &[u8], offsets: &[u32]) -> Result<Vec<Vec<u32>>, GpuError> {
        if offsets.len() < 2 {
            return Ok(Vec::new());
        }
        self.lanes.with(|| self.new_lane(), |lane| self.run(lane, text, offsets))
    }
}

// Sharing across threads: the device buffers are read-only after `new`, and each call works
// in its own lane.
const _: () = {
    const fn is_sync<T: Send + Sync>() {}
    is_sync::<GpuSplitBpe>();
};
