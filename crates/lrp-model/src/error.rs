//! The error of the model description: every way a set of parameters can be inconsistent.

use thiserror::Error;

/// A model description that cannot be built: a shape, a length or a value is wrong, or the
/// architecture is one the library cannot explain.
///
/// Each variant names the offending parameter so that a message can be shown to a user as it is.
///
/// ```
/// use lrp_model::{Matrix, ModelError};
///
/// let err = Matrix::new(2, 2, vec![1.0]).unwrap_err();
/// assert!(matches!(err, ModelError::ParamLength { expected: 4, actual: 1, .. }));
/// assert_eq!(
///     err.to_string(),
///     "parameter `matrix` declares shape [2, 2] (4 values) but holds 1 values"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum ModelError {
    /// A parameter array does not have the shape its role requires.
    #[error("parameter `{name}` has shape {actual:?}, expected {expected:?}")]
    ParamShape {
        /// Which parameter, e.g. `lstm[0].forward.w_h`.
        name: String,
        /// The shape the model structure requires.
        expected: Vec<usize>,
        /// The shape that was given.
        actual: Vec<usize>,
    },
    /// A parameter's data length does not match its declared shape.
    #[error(
        "parameter `{name}` declares shape {shape:?} ({expected} values) but holds {actual} values"
    )]
    ParamLength {
        /// Which parameter.
        name: String,
        /// The declared shape.
        shape: Vec<usize>,
        /// Number of values the shape implies.
        expected: usize,
        /// Number of values present.
        actual: usize,
    },
    /// A parameter holds NaN or an infinity.
    #[error("parameter `{name}` holds a non-finite value ({value}) at flat index {index}")]
    ParamNotFinite {
        /// Which parameter.
        name: String,
        /// Flat (row-major) index of the first bad value.
        index: usize,
        /// The value itself.
        value: f64,
    },
    /// The model description is not one the library can run (e.g. no LSTM layer).
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The model uses a feature this version cannot explain.
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = ModelError> = core::result::Result<T, E>;
