//! # lrp-tch
//!
//! burn's LibTorch backend (burn-tch 0.22.1, tch 0.22, **libtorch 2.9.0**) for lstm-lrp: the CPU
//! device in f64 and f32, and CUDA devices.
//!
//! - [`device`]: LibTorch on the CPU, f64 as its default float dtype. Cannot fail at run time:
//!   a missing libtorch stops the *build* (torch-sys finds no `LIBTORCH`) or the *program's start*
//!   (the dynamic loader cannot find `libtorch_cpu.so`: set `LD_LIBRARY_PATH`), before any of
//!   this code runs. `scripts/setup-libtorch.sh` installs libtorch and prints both variables.
//! - [`cuda`]: the i-th CUDA device, or [`TchError::CudaUnavailable`] when this libtorch has no
//!   CUDA support or the machine fewer devices, and [`TchError::CudaFailed`] when a probe
//!   allocation on it fails (driver too old, device busy); never a panic.
//!
//! burn marks the LibTorch backend deprecated since 0.22.0; it is still the fastest CPU
//! backend here (libtorch's matrix products are several times faster than burn's pure-Rust
//! ones) and a CUDA backend that needs no CubeCL compilation.
//!
//! ```no_run
//! use lrp_core::{LstmModel, Precision};
//! # let params: lrp_core::ModelParams = unimplemented!();
//! let cpu = lrp_tch::device();
//! let model = LstmModel::new(&params, &cpu, Precision::F64)?;
//! match lrp_tch::cuda(0) {
//!     Ok(gpu) => { let _ = LstmModel::new(&params, &gpu, Precision::F32)?; }
//!     Err(e) => eprintln!("{e}"), // e.g. "CUDA device 0 is not available: this libtorch …"
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use burn::tensor::{Device, DeviceConfig, FloatDType};
use lrp_core::Precision;
use thiserror::Error;

/// Precisions this backend computes correctly, on the CPU and on CUDA.
pub const PRECISIONS: [Precision; 2] = [Precision::F64, Precision::F32];

/// Why a LibTorch device cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum TchError {
    /// The CUDA device does not exist for this libtorch on this machine.
    #[error("CUDA device {index} is not available: {reason}")]
    CudaUnavailable {
        /// The device index asked for.
        index: usize,
        /// Number of CUDA devices libtorch sees.
        count: usize,
        /// Why, in words.
        reason: String,
    },
    /// The CUDA device exists but a probe allocation on it failed.
    #[error("CUDA device {index} does not work: {message}")]
    CudaFailed {
        /// The device index asked for.
        index: usize,
        /// libtorch's error.
        message: String,
    },
}

/// The LibTorch CPU device, with `f64` as its default float dtype.
///
/// As for every lstm-lrp backend, the default dtype only matters for the caller's own tensors:
/// the core creates every tensor in the model's precision. The device can be configured once
/// per process; later calls leave it as it is.
pub fn device() -> Device {
    #[allow(deprecated)] // burn 0.22 deprecates burn-tch; it is still supported and fast.
    let mut device = Device::libtorch();
    // `AlreadyInitialized` is the expected outcome of every call after the first.
    let _ = device.configure(DeviceConfig::default().float_dtype(FloatDType::F64));
    device
}

/// Number of CUDA devices this libtorch can use (0 for a CPU-only libtorch or no GPU).
pub fn cuda_device_count() -> usize {
    usize::try_from(tch::Cuda::device_count()).unwrap_or(0)
}

/// The CUDA device `index`, checked: it must exist and take a small allocation.
///
/// # Errors
/// [`TchError::CudaUnavailable`] when libtorch has no CUDA support (e.g. the minimal CPU
/// install of `scripts/setup-libtorch.sh`) or the index is past the last device;
/// [`TchError::CudaFailed`] when allocating on the device fails.
pub fn cuda(index: usize) -> Result<Device, TchError> {
    let count = cuda_device_count();
    if index >= count {
        let reason = if count == 0 {
            "this libtorch sees no CUDA device (a CPU-only libtorch, no NVIDIA driver, or \
             CUDA_VISIBLE_DEVICES hides them)"
                .to_string()
        } else {
            format!("libtorch sees {count} CUDA device(s), numbered from 0")
        };
        return Err(TchError::CudaUnavailable {
            index,
            count,
            reason,
        });
    }
    // The probe's value is irrelevant: only whether allocating and reducing on the device works.
    let _probe = tch::Tensor::f_zeros([1], (tch::Kind::Float, tch::Device::Cuda(index)))
        .and_then(|t| t.f_sum(tch::Kind::Float))
        .map_err(|e| TchError::CudaFailed {
            index,
            message: e.to_string(),
        })?;
    #[allow(deprecated)] // burn 0.22 deprecates burn-tch; it is still supported and fast.
    let mut device = Device::libtorch_cuda(index);
    let _ = device.configure(DeviceConfig::default().float_dtype(FloatDType::F64));
    Ok(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_device_can_be_requested_twice() {
        let first = device();
        let second = device();
        assert_eq!(first, second);
        assert_eq!(second.settings().float_dtype, FloatDType::F64);
    }

    #[test]
    fn a_cuda_index_past_the_last_device_is_a_typed_error() {
        let count = cuda_device_count();
        let err = cuda(count).unwrap_err();
        assert!(
            matches!(err, TchError::CudaUnavailable { index, count: c, .. } if index == count && c == count),
            "{err:?}"
        );
        assert!(err.to_string().contains("not available"), "{err}");
    }
}
