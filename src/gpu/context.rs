//! An open GPU: the CUDA context of one device, and NVRTC compilation of the kernels for it.
//!
//! With `dynamic-loading`, cudarc finds libcuda and libnvrtc on the first call and panics when
//! they are absent, so every entry point here asks first whether the library is present and
//! turns its absence into a [`GpuError`] that says what to do.

use std::sync::Arc;

use cudarc::driver::{CudaContext, CudaFunction};

use super::kernels::Module;
use super::GpuError;

/// One CUDA device, opened. Cheap to clone (the context is shared).
#[derive(Clone)]
pub struct Gpu {
    pub(crate) ctx: Arc<CudaContext>,
    name: String,
}

impl std::fmt::Debug for Gpu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Gpu(cuda:{} {})", self.ctx.ordinal(), self.name)
    }
}

pub(crate) fn driver_present() -> bool {
    // SAFETY: only tries to load the library (dlopen); no CUDA function is called.
    unsafe { cudarc::driver::sys::is_culib_present() }
}

pub(crate) fn driver_err(what: &str) -> impl FnOnce(cudarc::driver::DriverError) -> GpuError + '_ {
    move |e| GpuError::Driver { what: what.to_string(), why: e.to_string() }
}

/// The number of CUDA devices (an error when there is no driver).
pub(crate) fn device_count() -> Result<usize, GpuError> {
    if !driver_present() {
        return Err(GpuError::NoDriver);
    }
    CudaContext::device_count().map(|n| n.max(0) as usize).map_err(driver_err("counting devices"))
}

impl Gpu {
    /// Device `ordinal`, after checking that the driver, the device and NVRTC are there.
    pub fn open(ordinal: usize) -> Result<Gpu, GpuError> {
        let count = device_count()?;
        if ordinal >= count {
            return Err(GpuError::NoDevice { ordinal, count });
        }
        if !nvrtc_present() {
            return Err(GpuError::NoNvrtc);
        }
        let ctx = CudaContext::new(ordinal).map_err(driver_err("opening the device"))?;
        // Every buffer is used by one stream at a time and each call synchronizes its stream
        // before returning (see `staging`), so cudarc's per-buffer events would only add work.
        // SAFETY: no buffer exists yet; the invariant above holds for all buffers made later.
        unsafe { ctx.disable_event_tracking() };
        let name = ctx.name().unwrap_or_else(|_| "unknown GPU".into());
        tracing::info!("using CUDA device {ordinal}: {name}");
        Ok(Gpu { ctx, name })
    }

    /// `cuda:N NAME`, for logs and benchmark reports.
    pub fn describe(&self) -> String {
        format!("cuda:{} {}", self.ctx.ordinal(), self.name)
    }

    /// Compiles `module` with NVRTC for this device and loads its kernels, in order.
    pub(crate) fn compile(&self, module: &Module) -> Result<Vec<CudaFunction>, GpuError> {
        let ptx = compile_ptx(module, self.ctx.compute_capability().ok().and_then(arch))?;
        let loaded = self.ctx.load_module(ptx).map_err(|e| GpuError::Driver {
            what: "loading the kernel module".into(),
            why: format!("{e} (a PTX version error means the CUDA toolkit's NVRTC is newer than the driver)"),
        })?;
        module
            .kernels
            .iter()
            .map(|f| loaded.load_function(f).map_err(driver_err("finding the kernel function")))
            .collect()
    }
}

/// Whether NVRTC (libnvrtc) can be loaded: all that compiling the kernels needs, no device.
pub fn nvrtc_present() -> bool {
    // SAFETY: only tries to load the library (dlopen); no NVRTC function is called.
    unsafe { cudarc::nvrtc::sys::is_culib_present() }
}

/// `module` compiled by NVRTC to PTX for the virtual architecture `arch` (`compute_90`; `None`:
/// NVRTC's default). Needs NVRTC ([`nvrtc_present`]) but no device: CI compiles every module
/// this way (`tests/gpu.rs`), so NVRTC's dialect is checked without a GPU.
pub fn compile_ptx(module: &Module, arch: Option<&'static str>) -> Result<cudarc::nvrtc::Ptx, GpuError> {
    if !nvrtc_present() {
        return Err(GpuError::NoNvrtc);
    }
    let opts = cudarc::nvrtc::CompileOptions { name: Some(format!("{}.cu", module.name)), arch, ..Default::default() };
    cudarc::nvrtc::compile_ptx_with_opts(&module.source, opts)
        .map_err(|e| GpuError::Compile { kernel: module.name, log: format!("{e:?}") })
}

/// NVRTC's virtual architecture for a compute capability: the device's own, so the PTX uses
/// what it has and does not depend on NVRTC's default (which newer toolkits raise). `None`
/// (NVRTC's default) for one not listed; the driver JIT-compiles PTX for newer devices.
fn arch((major, minor): (i32, i32)) -> Option<&'static str> {
    Some(match (major, minor) {
        (7, 0) => "compute_70",
        (7, 5) => "compute_75",
        (8, 0) => "compute_80",
        (8, 6) => "compute_86",
        (8, 9) => "compute_89",
        (9, 0) => "compute_90",
        (10, 0) => "compute_100",
        (12, 0) => "compute_120",
        _ => return None,
    })
}

/// cudarc's launch configuration for a [`Launch`](super::kernels::Launch).
pub(crate) fn config(l: super::kernels::Launch) -> cudarc::driver::LaunchConfig {
    cudarc::driver::LaunchConfig {
        grid_dim: (l.grid, 1, 1),
        block_dim: (l.block, 1, 1),
        shared_mem_bytes: l.shared_bytes,
    }
}
