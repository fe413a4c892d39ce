//! # lrp-flex
//!
//! burn's Flex CPU backend for lstm-lrp: pure Rust, f64 and f32, with the `gemm` crate's
//! multi-threaded matrix products (AVX-512 kernels where the CPU has them, chosen at run time)
//! and in-place element-wise operations. It is the fastest CPU path that needs no native
//! library; see `benches/README.md` for measurements against NdArray.
//!
//! ```
//! let device = lrp_flex::device();
//! assert_eq!(device, lrp_flex::device()); // safe to call again
//! ```

use burn::tensor::{Device, DeviceConfig, FloatDType};

/// The Flex CPU device, with `f64` as its default float dtype.
///
/// As for every lstm-lrp backend, the default is only a convenience for the caller's own
/// tensors: the core creates every tensor in the model's precision explicitly. The device can
/// be configured once per process; later calls leave it as it is.
pub fn device() -> Device {
    let mut device = Device::flex();
    // `AlreadyInitialized` is the expected outcome of every call after the first.
    let _ = device.configure(DeviceConfig::default().float_dtype(FloatDType::F64));
    device
}

/// Precisions this backend computes correctly.
pub const PRECISIONS: [lrp_core::Precision; 2] =
    [lrp_core::Precision::F64, lrp_core::Precision::F32];
