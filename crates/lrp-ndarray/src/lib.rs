//! # lrp-ndarray
//!
//! burn's NdArray CPU backend for lstm-lrp: pure Rust, f64 and f32.
//!
//! Quirk handled here and in the core: burn-ndarray's built-in `sigmoid` computes in f32 even on
//! f64 tensors (it would cap f64 accuracy near 1e-7); the core computes every nonlinearity in the
//! tensor's own dtype, and the conformance suite checks f64 results to 1e-9.
//!
//! ```
//! use lrp_core::{LstmModel, Precision};
//! let device = lrp_ndarray::device();
//! let again = lrp_ndarray::device(); // safe: the device is configured once per process
//! assert_eq!(device, again);
//! ```

use burn::tensor::{Device, DeviceConfig, FloatDType};

/// The NdArray CPU device, with `f64` as its default float dtype.
///
/// burn lets a device's default dtypes be set once per process, before its first tensor. The
/// first call sets them; later calls (or a call after tensors already exist) leave them as they
/// are. That is safe because lstm-lrp never relies on the default: every tensor it creates has
/// the model's [`Precision`](lrp_core::Precision) explicitly, so f32 and f64 models can share
/// this device.
pub fn device() -> Device {
    #[allow(deprecated)] // burn 0.22 deprecates NdArray in favour of Flex; we offer both.
    let mut device = Device::ndarray();
    // `AlreadyInitialized` is the expected outcome of every call after the first.
    let _ = device.configure(DeviceConfig::default().float_dtype(FloatDType::F64));
    device
}

/// Precisions this backend computes correctly.
pub const PRECISIONS: [lrp_core::Precision; 2] =
    [lrp_core::Precision::F64, lrp_core::Precision::F32];
