//! Dense layers of the head.

use serde::{Deserialize, Serialize};

use crate::matrix::Matrix;

/// The element-wise function after a Dense layer.
///
/// ```
/// use lrp_model::{Activation, DenseLayer, Matrix};
///
/// let mut hidden = DenseLayer::linear(Matrix::zeros(4, 8), vec![0.0; 8]);
/// hidden.activation = Activation::Relu;
/// assert_eq!((hidden.activation, Activation::default()), (Activation::Relu, Activation::Linear));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// Identity.
    #[default]
    Linear,
    /// `max(0, x)`.
    Relu,
    /// `tanh(x)`.
    Tanh,
    /// Softmax over the classes (only as the last layer's activation; skipped when explaining).
    Softmax,
    /// Logistic sigmoid (only as the last layer's activation; skipped when explaining).
    Sigmoid,
}

/// A Dense (fully connected) layer `y = act(x w + b)`.
///
/// ```
/// use lrp_model::{Activation, DenseLayer, Matrix};
///
/// let head = DenseLayer::linear(Matrix::zeros(4, 2), vec![0.0, 0.0]); // D = 4 → C = 2
/// assert_eq!(head.activation, Activation::Linear);
/// let probs = DenseLayer { activation: Activation::Softmax, ..head }; // explained as its logits
/// assert_eq!(probs.w.shape(), [4, 2]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DenseLayer {
    /// Kernel `(D, C)`: D inputs, C outputs.
    pub w: Matrix,
    /// Bias `(C)`; zeros for a layer without bias.
    pub b: Vec<f64>,
    /// The activation after the layer.
    #[serde(default)]
    pub activation: Activation,
}

impl DenseLayer {
    /// A layer without activation.
    ///
    /// ```
    /// use lrp_model::{Activation, DenseLayer, Matrix};
    ///
    /// // D = 2 inputs, C = 1 output.
    /// let head = DenseLayer::linear(Matrix::new(2, 1, vec![0.5, -0.5])?, vec![0.1]);
    /// assert_eq!((head.w.shape(), head.activation), ([2, 1], Activation::Linear));
    /// # Ok::<(), lrp_model::ModelError>(())
    /// ```
    pub fn linear(w: Matrix, b: Vec<f64>) -> Self {
        Self {
            w,
            b,
            activation: Activation::Linear,
        }
    }
}
