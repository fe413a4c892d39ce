//! # lrp-import
//!
//! Reads model files into lstm-lrp's canonical [`ModelParams`](lrp_core::ModelParams) layout,
//! so that no user has to think about gate orders or bias conventions.
//!
//! - [`canonical`]: the reference implementations' weight list as named safetensors tensors.
//! - [`safetensors_io`]: safetensors tensors as `f64`/`i64` host arrays, whatever their dtype.

pub mod canonical;
mod error;
pub mod safetensors_io;

pub use canonical::read_canonical;
pub use error::{ImportError, Result};
pub use safetensors_io::HostArray;
