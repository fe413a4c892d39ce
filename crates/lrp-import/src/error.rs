//! Errors of the importers: one enum, with the container formats' own typed errors as sources.

use lrp_model::ModelError;
use thiserror::Error;

use crate::formats::hdf5::Hdf5Error;
use crate::formats::npy::NpyError;
use crate::formats::torch::TorchError;
use crate::formats::zip::ZipError;

/// Everything that can go wrong reading a model or array file.
///
/// The container formats (HDF5, zip, PyTorch checkpoints, `.npy`, safetensors) keep their own
/// typed errors, reachable with [`std::error::Error::source`]; the message of each variant is one
/// line that names the file's part at fault.
///
/// ```
/// use lrp_import::{ImportError, LoadOptions, read_model};
///
/// let err = read_model("no/such/model.keras", &LoadOptions::default()).unwrap_err();
/// assert!(matches!(err, ImportError::Io { .. }));
/// assert!(err.to_string().contains("no/such/model.keras"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The bytes are not a valid safetensors file.
    #[error("not a valid safetensors file: {0}")]
    SafeTensors(#[source] safetensors::SafeTensorError),
    /// An HDF5 file (Keras `.h5`, `.weights.h5`, the weights inside `.keras`) is malformed, or
    /// an object the model needs is absent from it.
    #[error(transparent)]
    Hdf5(#[from] Hdf5Error),
    /// A zip archive (`.keras`) is malformed or lacks an entry.
    #[error(transparent)]
    Zip(#[from] ZipError),
    /// A PyTorch checkpoint is malformed, or is not a state dict of tensors.
    #[error(transparent)]
    Torch(#[from] TorchError),
    /// A `.npy` file is malformed.
    #[error(transparent)]
    Npy(#[from] NpyError),
    /// A tensor the layout requires is absent.
    #[error("missing tensor `{name}` (the file has: {present})")]
    MissingTensor {
        /// The required tensor.
        name: String,
        /// The names that are present, comma-separated.
        present: String,
    },
    /// A tensor has a dtype that cannot be used for its role.
    #[error("tensor `{name}` has dtype {dtype}, expected {expected}")]
    Dtype {
        /// The tensor.
        name: String,
        /// Its dtype.
        dtype: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A tensor has the wrong number of dimensions.
    #[error("tensor `{name}` has shape {shape:?}, expected {expected}")]
    Rank {
        /// The tensor.
        name: String,
        /// Its shape.
        shape: Vec<usize>,
        /// What is expected, e.g. `2 dimensions (E, 4H)`.
        expected: &'static str,
    },
    /// The tensors form an invalid model (shape mismatch, non-finite value, …).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The file describes a model the library cannot explain exactly (a stateful LSTM, a `mul`
    /// merge, attention, …); the message names the layer and what is unsupported.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// The file is a readable container, but what it holds is not a model of a known layout
    /// (no weights for a layer the configuration names, an unknown format, …).
    #[error("{0}")]
    Format(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = ImportError> = core::result::Result<T, E>;
