//! What the model reads at each time step: feature vectors or token ids.

use serde::{Deserialize, Serialize};

use crate::matrix::Matrix;

/// What the model reads at each time step.
///
/// ```
/// use lrp_model::{InputLayer, Matrix};
///
/// let features = InputLayer::Features { size: 60, mask_value: None };
/// let tokens = InputLayer::Embedding { table: Matrix::zeros(1000, 32), mask_zero: true };
/// assert_eq!((features.feature_size(), tokens.feature_size()), (60, 32));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputLayer {
    /// Feature vectors `x (B, T, E)`.
    Features {
        /// Feature size E.
        size: usize,
        /// Keras `Masking(mask_value)`: a time step whose features all equal this value is padding.
        #[serde(default)]
        mask_value: Option<f64>,
    },
    /// Token ids `(B, T)` looked up in an embedding table.
    Embedding {
        /// The table `(V, E)`: row `v` is the vector of token id `v`.
        table: Matrix,
        /// Keras `mask_zero`: token id 0 is padding.
        #[serde(default)]
        mask_zero: bool,
    },
}

impl InputLayer {
    /// The size E of the vectors the first LSTM layer reads.
    ///
    /// ```
    /// use lrp_model::{InputLayer, Matrix};
    ///
    /// let tokens = InputLayer::Embedding { table: Matrix::zeros(394, 32), mask_zero: false };
    /// assert_eq!(tokens.feature_size(), 32); // the embedding size, not the vocabulary
    /// ```
    pub fn feature_size(&self) -> usize {
        match self {
            InputLayer::Features { size, .. } => *size,
            InputLayer::Embedding { table, .. } => table.cols(),
        }
    }
}
