//! `--device cpu|cuda[:N]|auto`: which processor runs the signature and encoding kernels.
//!
//! The choice is explicit because a silent fallback would hide a misconfigured GPU node behind a
//! run that is merely slow: `cuda` fails with a message that says what is missing, and only
//! `auto` falls back to the CPU (saying so in the log). This module is built with or without
//! the `cuda` feature so that the flag, and its errors, are the same in every binary.

use std::fmt;
use std::str::FromStr;

use super::Gpu;

/// Where the kernels run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The CPU path (rayon over all cores): the default.
    #[default]
    Cpu,
    /// CUDA device N (`cuda` is `cuda:0`); an error when there is none.
    Cuda(usize),
    /// CUDA device 0 when this build has the `cuda` feature and the machine a driver and a
    /// device, else the CPU.
    Auto,
}

#[derive(Debug, thiserror::Error)]
pub enum GpuError {
    #[error("`{0}`: expected a device: cpu, cuda, cuda:N (N a device number) or auto")]
    Parse(String),
    #[error(
        "this kbcurate was built without the `cuda` feature; rebuild with `cargo build --release --features cuda`"
    )]
    NotBuilt,
    #[error("no CUDA driver (libcuda) found; use --device cpu")]
    NoDriver,
    #[error("CUDA device {ordinal} not found: this machine has {count}")]
    NoDevice { ordinal: usize, count: usize },
    #[error(
        "no NVRTC (libnvrtc) found: the kernels are compiled at run time by the CUDA toolkit's NVRTC; install \
         the toolkit (or put its lib64 on LD_LIBRARY_PATH), or use --device cpu"
    )]
    NoNvrtc,
    #[error("CUDA {what}: {why}")]
    Driver { what: String, why: String },
    #[error("compiling the {kernel} kernel with NVRTC: {log}")]
    Compile { kernel: &'static str, log: String },
    #[error("{0}")]
    Unsupported(String),
}

impl FromStr for Device {
    type Err = GpuError;

    fn from_str(s: &str) -> Result<Self, GpuError> {
        let t = s.trim().to_ascii_lowercase();
        match t.as_str() {
            "cpu" => Ok(Device::Cpu),
            "auto" => Ok(Device::Auto),
            "cuda" | "gpu" => Ok(Device::Cuda(0)),
            _ => t
                .strip_prefix("cuda:")
                .and_then(|n| n.parse::<usize>().ok())
                .map(Device::Cuda)
                .ok_or_else(|| GpuError::Parse(s.to_string())),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(n) => write!(f, "cuda:{n}"),
            Device::Auto => f.write_str("auto"),
        }
    }
}

impl Device {
    /// Opens the GPU this names: `None` for the CPU (asked for, or chosen by `auto`).
    pub fn open(self) -> Result<Option<Gpu>, GpuError> {
        match self {
            Device::Cpu => Ok(None),
            Device::Cuda(n) => open_cuda(n).map(Some),
            Device::Auto => Ok(auto()),
        }
    }

    pub fn is_cpu(self) -> bool {
        self == Device::Cpu
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
    fn gpu_device_names_parse() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!("CUDA".parse::<Device>().unwrap(), Device::Cuda(0));
        assert_eq!("cuda:3".parse::<Device>().unwrap(), Device::Cuda(3));
        assert_eq!(" auto ".parse::<Device>().unwrap(), Device::Auto);
        for d in [Device::Cpu, Device::Cuda(2), Device::Auto] {
            assert_eq!(d.to_string().parse::<Device>().unwrap(), d, "Display round-trips");
        }
        for bad in ["", "cuda:", "cuda:x", "cuda:-1", "tpu", "cuda 1"] {
            let e = bad.parse::<Device>().unwrap_err().to_string();
            assert!(e.contains("cpu, cuda, cuda:N") && e.contains(&format!("`{bad}`")), "{bad:?}: {e}");
        }
        assert_eq!(Device::default(), Device::Cpu);
    }

    #[test]
    fn gpu_cpu_opens_nothing() {
        assert!(Device::Cpu.open().unwrap().is_none());
    }

    #[test]
    fn gpu_error_messages_say_what_to_do() {
        assert_eq!(GpuError::NoDriver.to_string(), "no CUDA driver (libcuda) found; use --device cpu");
        assert_eq!(
            GpuError::NoDevice { ordinal: 1, count: 1 }.to_string(),
            "CUDA device 1 not found: this machine has 1"
        );
        assert!(GpuError::NotBuilt.to_string().contains("cargo build --release --features cuda"));
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
