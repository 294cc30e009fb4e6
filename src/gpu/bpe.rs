//! BPE merges on the GPU: [`PieceMerger`] for distinct pieces of a batch.
//!
//! The merge table (`tokenize::merge::MergeTable`: open-addressing keys and values, the byte
//! tokens) lives in device memory for the encoder's lifetime. One thread per piece runs the
//! lowest-rank merge loop in registers and local memory (pieces are at most
//! [`MAX_MERGE_PIECE`] bytes), exactly `MergeTable::merge_piece`: the same table, the same
//! probe sequence, the same leftmost tie-break, so the ids are the CPU reference's, which
//! `tests/gpu.rs` checks on the device and `tokenize::merge`'s tests check against the CPU
//! encoder.

use std::time::Instant;

use cudarc::driver::{CudaFunction, CudaSlice, PushKernelArg};

use super::context::{config, driver_err};
use super::kernels::{bpe_launch, Module};
use super::staging::{Clock, Lanes, StageTimes, Staged};
use super::{Gpu, GpuError};
use crate::tokenize::merge::{MergeTable, PieceMerger, MAX_MERGE_PIECE};

struct Lane {
    clock: Clock,
    bytes: Staged<u8>,
    starts: Staged<u32>,
    ids: Staged<u32>,
    counts: Staged<u32>,
}

/// A vocabulary's merge table in device memory: the kernels' `keys, vals, bits, byte_ids`.
pub(crate) struct DeviceTable {
    pub(crate) keys: CudaSlice<u64>,
    pub(crate) vals: CudaSlice<u64>,
    pub(crate) byte_ids: CudaSlice<u32>,
    pub(crate) bits: u32,
}

impl DeviceTable {
    pub(crate) fn upload(gpu: &Gpu, table: &MergeTable) -> Result<Self, GpuError> {
        let stream = gpu.ctx.default_stream();
        let up = || driver_err("uploading the merge table");
        let keys = stream.clone_htod(&table.keys).map_err(up())?;
        let vals = stream.clone_htod(&table.values).map_err(up())?;
        let byte_ids = stream.clone_htod(&table.byte_ids[..]).map_err(up())?;
        stream.synchronize().map_err(up())?;
        tracing::info!("merge table: {} pairs, {} MB on the GPU", table.pairs, table.device_bytes() >> 20);
        Ok(Self { keys, vals, byte_ids, bits: table.bits })
    }

    /// Pushes the table's four kernel arguments, in the kernels' order.
    pub(crate) fn args<'a>(&'a self, b: &mut cudarc::driver::LaunchArgs<'a>) {
        b.arg(&self.keys).arg(&self.vals).arg(&self.bits).arg(&self.byte_ids);
    }
}

/// Merges pieces on a GPU with a vocabulary's table in device memory; safe to call from many
/// threads at once.
pub struct GpuBpe {
    gpu: Gpu,
    func: CudaFunction,
    table: DeviceTable,
    lanes: Lanes<Lane>,
    times: StageTimes,
}

impl GpuBpe {
    /// Compiles the kernel and uploads `table`.
    pub fn new(gpu: &Gpu, table: &MergeTable) -> Result<Self, GpuError> {
        let func = gpu.compile(&Module::bpe())?.remove(0);
        let table = DeviceTable::upload(gpu, table)?;
        Ok(Self { gpu: gpu.clone(), func, table, lanes: Lanes::new(), times: StageTimes::default() })
    }

    /// Where the GPU's time went, over all calls so far.
    pub fn times(&self) -> &StageTimes {
        &self.times
    }

    fn new_lane(&self) -> Result<Lane, GpuError> {
        let clock = Clock::new(&self.gpu.ctx)?;
        let s = &clock.stream;
        Ok(Lane {
            bytes: Staged::new(s, 1 << 20, true)?,
            starts: Staged::new(s, 1 << 17, true)?,
            ids: Staged::new(s, 1 << 20, false)?,
            counts: Staged::new(s, 1 << 17, false)?,
            clock,
        })
    }

    fn run(
        &self,
        lane: &mut Lane,
        bytes: &[u8],
        starts: &[u32],
        ids: &mut Vec<u32>,
        counts: &mut Vec<u32>,
    ) -> Result<(), GpuError> {
        let pieces = starts.len() - 1;
        let t = Instant::now();
        lane.clock.mark(0)?;
        let s = lane.clock.stream.clone();
        lane.bytes.upload(&s, bytes)?;
        lane.starts.upload(&s, starts)?;
        lane.ids.reserve(&s, bytes.len())?;
        lane.counts.reserve(&s, pieces)?;
        self.times.add_stage(t);
        lane.clock.mark(1)?;
        let cfg = config(bpe_launch(pieces));
        let pieces32 = pieces as u32;
        let mut launch = s.launch_builder(&self.func);
        launch.arg(lane.bytes.dev()).arg(lane.starts.dev()).arg(&pieces32);
        self.table.args(&mut launch);
        launch.arg(lane.ids.dev_mut()).arg(lane.counts.dev_mut());
        // SAFETY: the arguments match the kernel's signature in order and type; `starts` is
        // non-decreasing with pieces + 1 entries ending at bytes.len() and no piece longer than
        // MAX_PIECE (checked by the caller); `ids` holds bytes.len() and `counts` pieces values.
        unsafe { launch.launch(cfg) }.map_err(driver_err("launching the merge kernel"))?;
        lane.clock.mark(2)?;
        // Only each piece's first `count` ids are meaningful; the whole array is one copy.
        lane.ids.download(&s, bytes.len())?;
        lane.counts.download(&s, pieces)?;
        lane.clock.mark(3)?;
        lane.clock.finish(&self.times, bytes.len() + starts.len() * 4, bytes.len() * 4 + pieces * 4)?;
        ids.clear();
        ids.extend_from_slice(lane.ids.host(bytes.len())?);
        counts.clear();
        counts.extend_from_slice(lane.counts.host(pieces)?);
        Ok(())
    }
}

impl PieceMerger for GpuBpe {
    fn describe(&self) -> String {
        format!("GPU merge kernel on {}", self.gpu.describe())
    }

    fn merge(&self, bytes: &[u8], starts: &[u32], ids: &mut Vec<u32>, counts: &mut Vec<u32>) -> Result<(), GpuError> {
        if starts.len() < 2 {
            ids.clear();
            counts.clear();
            return Ok(());
        }
        if let Some(w) = starts.windows(2).find(|w| w[1] < w[0] || (w[1] - w[0]) as usize > MAX_MERGE_PIECE) {
            return Err(GpuError::Unsupported(format!(
                "a piece of {} bytes: the merge kernel takes pieces of at most {MAX_MERGE_PIECE}",
                w[1] as i64 - w[0] as i64
            )));
        }
        if *starts.last().expect("two or more") as usize != bytes.len() {
            return Err(GpuError::Unsupported("piece starts do not end at the end of the bytes".into()));
        }
        self.lanes.with(|| self.new_lane(), |lane| self.run(lane, bytes, starts, ids, counts))
    }
}
