//! Moving batches to and from the GPU so that copies overlap computation, and timing where the
//! time goes.
//!
//! Each call in flight holds a [`Lane`]: its own non-blocking stream, pinned (page-locked) host
//! buffers and device buffers, which grow to the largest batch seen and are then reused. Pinned
//! memory lets the copies run asynchronously (DMA) on the lane's stream; separate streams let
//! the GPU copy one batch while it computes another. Callers are the CPU threads preparing
//! batches (one per core): while one thread's batch is copied or computed, the others prepare
//! theirs, and with two or more lanes in flight the copy engines and the SMs work at once —
//! double buffering, with as many buffers as there are threads waiting.
//!
//! Every lane synchronizes its stream before its call returns, so a buffer is never used by two
//! streams at once (why `context` turns off cudarc's per-buffer event tracking).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use cudarc::driver::sys::CUevent_flags;
use cudarc::driver::{CudaContext, CudaEvent, CudaSlice, CudaStream, DeviceRepr, PinnedHostSlice, ValidAsZeroBits};

use super::context::driver_err;
use super::GpuError;

/// A pinned host buffer and a device buffer of the same capacity.
pub(crate) struct Staged<T: DeviceRepr + ValidAsZeroBits> {
    host: PinnedHostSlice<T>,
    dev: CudaSlice<T>,
    /// Write-combined host memory: fast for the CPU to write and the GPU to read (uploads),
    /// very slow for the CPU to read (so not for downloads).
    upload: bool,
}

impl<T: DeviceRepr + ValidAsZeroBits> Staged<T> {
    pub(crate) fn new(stream: &Arc<CudaStream>, cap: usize, upload: bool) -> Result<Self, GpuError> {
        let cap = cap.max(1);
        let ctx: &Arc<CudaContext> = stream.context();
        let flags = if upload { cudarc::driver::sys::CU_MEMHOSTALLOC_WRITECOMBINED } else { 0 };
        // SAFETY: the pinned memory is uninitialized; it is only read after being written
        // (upload: by `upload`; download: by the copy `download` enqueues and the caller syncs).
        let host = unsafe { ctx.alloc_pinned_with_flags::<T>(cap, flags) }.map_err(driver_err("pinned alloc"))?;
        // SAFETY: as above for device memory: kernels read only what was uploaded and write
        // before anything is downloaded.
        let dev = unsafe { stream.alloc::<T>(cap) }.map_err(driver_err("device alloc"))?;
        Ok(Self { host, dev, upload })
    }

    /// Grows both buffers to hold `n` elements (by half again, so growth is rare).
    pub(crate) fn reserve(&mut self, stream: &Arc<CudaStream>, n: usize) -> Result<(), GpuError> {
        if n > self.host.len() {
            *self = Self::new(stream, n.max(self.host.len() * 3 / 2), self.upload)?;
        }
        Ok(())
    }

    /// Copies `data` into the pinned buffer and enqueues its copy to the device.
    pub(crate) fn upload(&mut self, stream: &Arc<CudaStream>, data: &[T]) -> Result<(), GpuError>
    where
        T: Copy,
    {
        self.reserve(stream, data.len())?;
        if data.is_empty() {
            return Ok(());
        }
        let host = self.host.as_mut_slice().map_err(driver_err("pinned buffer"))?;
        host[..data.len()].copy_from_slice(data);
        let mut dst = self.dev.slice_mut(..data.len());
        // The source stays untouched until the lane's stream is synchronized (end of the call).
        stream.memcpy_htod(&host[..data.len()], &mut dst).map_err(driver_err("host-to-device copy"))
    }

    /// Enqueues the copy of the first `n` device elements to the pinned buffer.
    pub(crate) fn download(&mut self, stream: &Arc<CudaStream>, n: usize) -> Result<(), GpuError> {
        if n == 0 {
            return Ok(());
        }
        let host = self.host.as_mut_slice().map_err(driver_err("pinned buffer"))?;
        stream.memcpy_dtoh(&self.dev.slice(..n), &mut host[..n]).map_err(driver_err("device-to-host copy"))
    }

    /// The pinned buffer's first `n` elements (after the stream is synchronized).
    pub(crate) fn host(&self, n: usize) -> Result<&[T], GpuError> {
        Ok(&self.host.as_slice().map_err(driver_err("pinned buffer"))?[..n])
    }

    pub(crate) fn dev(&self) -> &CudaSlice<T> {
        &self.dev
    }

    pub(crate) fn dev_mut(&mut self) -> &mut CudaSlice<T> {
        &mut self.dev
    }
}

/// A device buffer with no host side: intermediate results that never leave the GPU.
pub(crate) struct DeviceBuf<T: DeviceRepr + ValidAsZeroBits> {
    dev: CudaSlice<T>,
}

impl<T: DeviceRepr + ValidAsZeroBits> DeviceBuf<T> {
    pub(crate) fn new(stream: &Arc<CudaStream>, cap: usize) -> Result<Self, GpuError> {
        // SAFETY: kernels write what they later read (see `Staged::new`).
        let dev = unsafe { stream.alloc::<T>(cap.max(1)) }.map_err(driver_err("device alloc"))?;
        Ok(Self { dev })
    }

    /// Grows the buffer to hold `n` elements (by half again).
    pub(crate) fn reserve(&mut self, stream: &Arc<CudaStream>, n: usize) -> Result<(), GpuError> {
        if n > self.dev.len() {
            *self = Self::new(stream, n.max(self.dev.len() * 3 / 2))?;
        }
        Ok(())
    }

    pub(crate) fn dev(&self) -> &CudaSlice<T> {
        &self.dev
    }

    pub(crate) fn dev_mut(&mut self) -> &mut CudaSlice<T> {
        &mut self.dev
    }
}

/// A stream and four timing events: before the uploads, after them, after the kernel, after
/// the downloads.
pub(crate) struct Clock {
    pub(crate) stream: Arc<CudaStream>,
    events: [CudaEvent; 4],
}

impl Clock {
    pub(crate) fn new(ctx: &Arc<CudaContext>) -> Result<Self, GpuError> {
        let stream = ctx.new_stream().map_err(driver_err("creating a stream"))?;
        let ev = || ctx.new_event(Some(CUevent_flags::CU_EVENT_DEFAULT)).map_err(driver_err("creating an event"));
        Ok(Self { stream, events: [ev()?, ev()?, ev()?, ev()?] })
    }

    /// Records event `i` (0..4) on the stream.
    pub(crate) fn mark(&self, i: usize) -> Result<(), GpuError> {
        self.events[i].record(&self.stream).map_err(driver_err("recording an event"))
    }

    /// Waits for the stream and adds its copy and kernel times to `times`.
    pub(crate) fn finish(&self, times: &StageTimes, h2d_bytes: usize, d2h_bytes: usize) -> Result<(), GpuError> {
        self.stream.synchronize().map_err(driver_err("running the kernel"))?;
        let ms = |a: usize, b: usize| self.events[a].elapsed_ms(&self.events[b]).map_err(driver_err("timing"));
        let ns = |v: f32| (v as f64 * 1e6) as u64;
        times.h2d_ns.fetch_add(ns(ms(0, 1)?), Ordering::Relaxed);
        times.kernel_ns.fetch_add(ns(ms(1, 2)?), Ordering::Relaxed);
        times.d2h_ns.fetch_add(ns(ms(2, 3)?), Ordering::Relaxed);
        times.h2d_bytes.fetch_add(h2d_bytes as u64, Ordering::Relaxed);
        times.d2h_bytes.fetch_add(d2h_bytes as u64, Ordering::Relaxed);
        times.calls.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// GPU-side time of a kernel's calls, summed over calls (nanoseconds; calls on different
/// streams overlap, so the sum can exceed the wall time: the overlap is the point).
#[derive(Debug, Default)]
pub struct StageTimes {
    /// Copying a batch into pinned memory (CPU).
    pub stage_ns: AtomicU64,
    pub h2d_ns: AtomicU64,
    pub kernel_ns: AtomicU64,
    pub d2h_ns: AtomicU64,
    pub h2d_bytes: AtomicU64,
    pub d2h_bytes: AtomicU64,
    pub calls: AtomicU64,
}

impl StageTimes {
    pub(crate) fn add_stage(&self, since: Instant) {
        self.stage_ns.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn render(&self) -> String {
        let ms = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e6;
        let mb = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e6;
        format!(
            "{} calls; pinned staging {:.0} ms (CPU); H2D {:.0} ms ({:.0} MB); kernel {:.0} ms; D2H {:.0} ms ({:.0} MB)",
            self.calls.load(Ordering::Relaxed),
            ms(&self.stage_ns),
            ms(&self.h2d_ns),
            mb(&self.h2d_bytes),
            ms(&self.kernel_ns),
            ms(&self.d2h_ns),
            mb(&self.d2h_bytes)
        )
    }
}

/// Idle lanes, handed to calls in flight (one lane per concurrent caller).
pub(crate) struct Lanes<L> {
    idle: Mutex<Vec<L>>,
}

impl<L> Lanes<L> {
    pub(crate) fn new() -> Self {
        Self { idle: Mutex::new(Vec::new()) }
    }

    /// Runs `f` with an idle lane, or a new one from `make`; the lane goes back afterwards
    /// (dropped instead when `f` fails, in case it is in a bad state).
    pub(crate) fn with<R>(
        &self,
        make: impl FnOnce() -> Result<L, GpuError>,
        f: impl FnOnce(&mut L) -> Result<R, GpuError>,
    ) -> Result<R, GpuError> {
        let lane = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let mut lane = match lane {
            Some(l) => l,
            None => make()?,
        };
        let r = f(&mut lane)?;
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(lane);
        Ok(r)
    }
}
