//! # lrp-import
//!
//! Reads model files into lstm-lrp's canonical [`ModelParams`](lrp_core::ModelParams) layout,
//! so that no user has to think about gate orders or bias conventions.
//!
//! Entry point: [`read_model`] detects the format from the content and returns the canonical
//! [`ModelParams`](lrp_core::ModelParams) with an [`ImportReport`] of what was found and
//! converted.
//!
//! - [`canonical`]: the reference implementations' weight list as named safetensors tensors.
//! - [`keras`]: `.keras`, legacy `.h5`/`.hdf5` (Keras 2 and 3) and `.weights.h5`.
//! - [`pytorch`] and [`read_torch_state_dict`]: `nn.LSTM` state dicts (`.pt`, safetensors).
//! - [`gates`]: explicit gate-order and layout conversion for anything else.
//! - [`safetensors_io`]: safetensors tensors as `f64`/`i64` host arrays, whatever their dtype.
//! - [`npy`]: NumPy `.npy` arrays.
//! - [`hdf5`]: a small read-only HDF5 reader for Keras files (pure Rust).
//! - [`pytorch`]: `torch.save` state dicts, read without executing pickle code.

pub mod burn_modules;
pub mod canonical;
mod error;
pub mod gates;
pub mod hdf5;
pub mod keras;
mod model_file;
pub mod npy;
pub mod pytorch;
mod report;
pub mod safetensors_io;
mod torch_model;
mod zip;

pub use canonical::read_canonical;
pub use error::{ImportError, Result};
pub use model_file::{LoadOptions, ModelFormat, detect_format, keras_config_from_file, read_model};
pub use report::{ImportReport, ImportedModel, describe_layers};
pub use safetensors_io::HostArray;
pub use torch_model::{TorchModules, read_torch_state_dict};

/// Parses `bytes` as a zip archive and reads (inflates and CRC-checks) every entry, returning
/// the total number of uncompressed bytes; the error is the reader's message.
///
/// Only for the `zip` fuzz target (`fuzz/`): the zip reader itself is crate-private.
#[doc(hidden)]
pub fn fuzz_zip(bytes: &[u8]) -> std::result::Result<usize, String> {
    let archive = zip::Archive::parse(bytes).map_err(|e| e.to_string())?;
    let mut total = 0usize;
    for entry in archive.entries() {
        let data = archive.read(entry).map_err(|e| e.to_string())?;
        total = total.saturating_add(data.len());
    }
    Ok(total)
}
