//! `--device cpu|cuda[:N]|auto`: which processor runs the signature and encoding kernels, the
//! errors of the GPU path, and the batch layout its kernels share with their CPU references.
//!
//! A leaf: the stages name a device and its errors through this module, never through `gpu`,
//! which sits above them and implements their batch traits (`dedup::batch::SignerSource`,
//! `tokenize::encoder::EncoderPlacement`). Opening a device is `gpu`'s (`Device::open`).
//!
//! The choice is explicit because a silent fallback would hide a misconfigured GPU node behind a
//! run that is merely slow: `cuda` fails with a message that says what is missing, and only
//! `auto` falls back to the CPU (saying so in the log). This module is built with or without
//! the `cuda` feature so that the flag, and its errors, are the same in every binary.

use std::fmt;
use std::str::FromStr;

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

pub mod chunks;

/// In configs (`[dedup] device = "cuda:1"`), the same names as on the command line.
impl serde::Serialize for Device {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Device {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Device, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl Device {
    pub fn is_cpu(self) -> bool {
        self == Device::Cpu
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
    fn gpu_error_messages_say_what_to_do() {
        assert_eq!(GpuError::NoDriver.to_string(), "no CUDA driver (libcuda) found; use --device cpu");
        assert_eq!(
            GpuError::NoDevice { ordinal: 1, count: 1 }.to_string(),
            "CUDA device 1 not found: this machine has 1"
        );
        assert!(GpuError::NotBuilt.to_string().contains("cargo build --release --features cuda"));
    }
}
