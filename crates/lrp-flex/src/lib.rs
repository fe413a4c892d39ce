//! # lrp-flex
//!
//! burn's Flex CPU backend for lstm-lrp: pure Rust, f64 and f32, with the `gemm` crate's
//! multi-threaded matrix products (AVX-512 kernels where the CPU has them, chosen at run time)
//! and in-place element-wise operations. It is the fastest CPU path that needs no native
//! library; see `benches/README.md` for measurements against NdArray and LibTorch.
//!
//! [`device`] also registers this crate's fused step kernels with lrp-core
//! ([`lrp_core::kernels`]): an LSTM step's gates, cell update and `tanh` as one vectorised pass
//! (AVX-512, AVX2 or the baseline, picked at run time), its relevance step's ε-rule quotients as
//! another, the same two for a GRU step (`reset_after`, the PyTorch/Keras default), and the
//! recurrent product accumulated onto the precomputed input product. Models on
//! this device use them unless built with
//! [`LstmModel::with_fused_kernels(false)`](lrp_core::LstmModel::with_fused_kernels); the results
//! are those of the tensor path up to the rounding of `exp` (measured ≤ 1 ulp; whole
//! explanations within 1e-12 relative in f64, `tests/fused.rs`).
//!
//! ```
//! let device = lrp_flex::device();
//! assert_eq!(device, lrp_flex::device()); // safe to call again
//! ```

use burn::tensor::{Device, DeviceConfig, FloatDType};

mod kernels;

/// The Flex CPU device, with `f64` as its default float dtype.
///
/// As for every lstm-lrp backend, the default is only a convenience for the caller's own
/// tensors: the core creates every tensor in the model's precision explicitly. The device can
/// be configured once per process; later calls leave it as it is. Models built on it after the
/// first call use the fused step kernels (see the crate documentation).
pub fn device() -> Device {
    let mut device = Device::flex();
    // `AlreadyInitialized` is the expected outcome of every call after the first.
    let _ = device.configure(DeviceConfig::default().float_dtype(FloatDType::F64));
    // Models built on this device run their LSTM and GRU steps as the fused kernels
    // (idempotent).
    lrp_core::kernels::register_step_kernels(&kernels::FLEX_KERNELS);
    device
}

/// Precisions this backend computes correctly.
pub const PRECISIONS: [lrp_core::Precision; 2] =
    [lrp_core::Precision::F64, lrp_core::Precision::F32];
