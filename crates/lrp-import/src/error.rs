//! Errors of the importers.

use lrp_core::LrpError;
use thiserror::Error;

/// Everything that can go wrong reading a model or array file.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        source: std::io::Error,
    },
    /// The bytes are not a valid safetensors file.
    #[error("not a valid safetensors file: {0}")]
    SafeTensors(String),
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
    #[error("{0}")]
    Model(#[from] LrpError),
    /// The file describes a model the library cannot explain exactly (a GRU, a stateful LSTM,
    /// a `mul` merge, …); the message names the layer and what is unsupported.
    #[error("unsupported model: {0}")]
    Unsupported(String),
    /// Anything else wrong with the file's content.
    #[error("{0}")]
    Format(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = ImportError> = core::result::Result<T, E>;
