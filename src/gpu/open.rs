//! Opening the GPU a [`Device`] names (`Device::open`): the CUDA context when the `cuda`
//! feature is built and the machine has a driver and the device, else an error that says what
//! is missing; `auto` falls back to the CPU, saying so in the log.

use super::Gpu;
use crate::device::{Device, GpuError};

impl Device {
    /// Opens the GPU this names: `None` for the CPU (asked for, or chosen by `auto`).
    pub fn open(self) -> Result<Option<Gpu>, GpuError> {
        match self {
            Device::Cpu => Ok(None),
            Device::Cuda(n) => open_cuda(n).map(Some),
            Device::Auto => Ok(auto()),
        }
    }
}

#[cfg(feature = "cuda")]
fn open_cuda(ordinal: usize) -> Result<Gpu, GpuError> {
    Gpu::open(ordinal)
}

#[cfg(not(feature = "cuda"))]
fn open_cuda(_ordinal: usize) -> Result<Gpu, GpuError> {
    Err(GpuError::NotBuilt)
}

/// `--device auto`: device 0 when it opens, else the CPU with the reason in the log.
fn auto() -> Option<Gpu> {
    match open_cuda(0) {
        Ok(gpu) => Some(gpu),
        Err(e) => {
            tracing::info!("--device auto: using the CPU ({e})");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_cpu_opens_nothing() {
        assert!(Device::Cpu.open().unwrap().is_none());
    }

    /// Without the feature: `cuda` says how to rebuild, `auto` is the CPU.
    #[cfg(not(feature = "cuda"))]
    #[test]
    fn gpu_without_the_feature() {
        let e = Device::Cuda(0).open().unwrap_err().to_string();
        assert_eq!(
            e,
            "this kbcurate was built without the `cuda` feature; rebuild with `cargo build --release --features cuda`"
        );
        assert!(Device::Auto.open().unwrap().is_none());
    }

    /// With the feature on a machine without a driver (CI): `cuda` names the missing driver,
    /// `auto` is the CPU. On a GPU machine: a device number past the last one is refused.
    #[cfg(feature = "cuda")]
    #[test]
    fn gpu_with_the_feature() {
        if !crate::gpu::context::driver_present() {
            let e = Device::Cuda(0).open().unwrap_err().to_string();
            assert_eq!(e, "no CUDA driver (libcuda) found; use --device cpu");
            assert!(Device::Auto.open().unwrap().is_none());
            return;
        }
        let count = crate::gpu::context::device_count().unwrap();
        let e = Device::Cuda(count).open().unwrap_err().to_string();
        assert_eq!(e, format!("CUDA device {count} not found: this machine has {count}"));
    }
}
