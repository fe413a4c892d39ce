//! LSTM layers: the weights of one direction in canonical layout, merge modes, gate activations.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::matrix::Matrix;
use crate::validate::{check_finite, check_len, check_shape};

/// The weights of one LSTM direction in canonical layout (Keras layout, gate order i, f, c, o).
///
/// ```
/// use lrp_model::{LstmWeights, Matrix};
///
/// // E = 3 inputs, H = 2 hidden units: w_x (3, 8), w_h (2, 8), b (8).
/// let w = LstmWeights { w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8] };
/// assert_eq!((w.input_size(), w.hidden_size()), (3, 2));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LstmWeights {
    /// Input kernel `(E, 4H)`.
    pub w_x: Matrix,
    /// Recurrent kernel `(H, 4H)`.
    pub w_h: Matrix,
    /// Bias `(4H)` (the sum of input and recurrent bias for two-bias frameworks).
    pub b: Vec<f64>,
}

impl LstmWeights {
    /// Input size E (rows of `w_x`).
    pub fn input_size(&self) -> usize {
        self.w_x.rows()
    }

    /// Hidden size H (rows of `w_h`).
    pub fn hidden_size(&self) -> usize {
        self.w_h.rows()
    }

    pub(crate) fn validate(&self, name: &str, input: usize) -> Result<()> {
        let h = self.hidden_size();
        if h == 0 {
            return Err(ModelError::InvalidModel(format!(
                "{name} has hidden size 0"
            )));
        }
        check_shape(&format!("{name}.w_x"), self.w_x.shape(), [input, 4 * h])?;
        check_shape(&format!("{name}.w_h"), self.w_h.shape(), [h, 4 * h])?;
        check_len(&format!("{name}.b"), self.b.len(), 4 * h)?;
        check_finite(&format!("{name}.w_x"), self.w_x.data())?;
        check_finite(&format!("{name}.w_h"), self.w_h.data())?;
        check_finite(&format!("{name}.b"), &self.b)
    }
}

/// How a bidirectional layer combines its two directions (Keras `merge_mode`).
///
/// ```
/// use lrp_model::{LstmLayer, LstmWeights, Matrix, MergeMode};
///
/// let dir = || LstmWeights {
///     w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8],
/// };
/// let size = |merge| LstmLayer::bidirectional(dir(), dir(), merge).output_size();
/// assert_eq!((size(MergeMode::Concat), size(MergeMode::Sum), size(MergeMode::Ave)), (4, 2, 2));
/// ```
///
/// `mul` is not offered: a product of two signals has no ε-rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MergeMode {
    /// `[h_forward, h_backward]` (output size 2H).
    #[default]
    Concat,
    /// `h_forward + h_backward` (output size H).
    Sum,
    /// `(h_forward + h_backward) / 2` (output size H).
    Ave,
}

/// The LSTM's gate nonlinearity (Keras `recurrent_activation`).
///
/// ```
/// use lrp_model::{GateActivation, LstmLayer, LstmWeights, Matrix};
///
/// let w = LstmWeights { w_x: Matrix::zeros(1, 4), w_h: Matrix::zeros(1, 4), b: vec![0.0; 4] };
/// let mut keras2 = LstmLayer::unidirectional(w);
/// keras2.gate_activation = GateActivation::HardSigmoidKeras2; // clip(0.2 x + 0.5, 0, 1)
/// assert_ne!(keras2.gate_activation, GateActivation::default()); // sigmoid
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GateActivation {
    /// `1 / (1 + exp(-x))`.
    #[default]
    Sigmoid,
    /// Keras 2's `hard_sigmoid`: `clip(0.2 x + 0.5, 0, 1)`.
    HardSigmoidKeras2,
    /// Keras 3's `hard_sigmoid`: `relu6(x + 3) / 6 = clip(x / 6 + 0.5, 0, 1)`.
    HardSigmoidKeras3,
}

/// One LSTM layer: a forward direction and, for a bidirectional layer, a backward one.
///
/// Layers below the last one return their whole output sequence to the next layer; the last one
/// hands its final state to the head.
///
/// ```
/// use lrp_model::{LstmLayer, LstmWeights, Matrix, MergeMode};
///
/// let dir = || LstmWeights {
///     w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8],
/// };
/// let uni = LstmLayer::unidirectional(dir());
/// let bi = LstmLayer::bidirectional(dir(), dir(), MergeMode::Concat);
/// assert_eq!((uni.directions(), uni.input_size(), uni.output_size()), (1, 3, 2));
/// assert_eq!((bi.directions(), bi.hidden_size(), bi.output_size()), (2, 2, 4)); // [h_fw, h_bw]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LstmLayer {
    /// The direction that reads the sequence in time order.
    pub forward: LstmWeights,
    /// The direction that reads it reversed (bidirectional layers only).
    pub backward: Option<LstmWeights>,
    /// How the two directions are combined (ignored for a unidirectional layer).
    #[serde(default)]
    pub merge: MergeMode,
    /// The gate nonlinearity.
    #[serde(default)]
    pub gate_activation: GateActivation,
}

impl LstmLayer {
    /// A unidirectional layer.
    ///
    /// ```
    /// use lrp_model::{LstmLayer, LstmWeights, Matrix};
    ///
    /// let w = LstmWeights { w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8] };
    /// let layer = LstmLayer::unidirectional(w);
    /// assert_eq!((layer.directions(), layer.output_size()), (1, 2));
    /// ```
    pub fn unidirectional(forward: LstmWeights) -> Self {
        Self {
            forward,
            backward: None,
            merge: MergeMode::Concat,
            gate_activation: GateActivation::Sigmoid,
        }
    }

    /// A bidirectional layer with the given merge mode.
    ///
    /// ```
    /// use lrp_model::{LstmLayer, LstmWeights, Matrix, MergeMode};
    ///
    /// let w = LstmWeights { w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8] };
    /// let layer = LstmLayer::bidirectional(w.clone(), w, MergeMode::Sum);
    /// assert_eq!((layer.directions(), layer.input_size(), layer.output_size()), (2, 3, 2));
    /// ```
    pub fn bidirectional(forward: LstmWeights, backward: LstmWeights, merge: MergeMode) -> Self {
        Self {
            forward,
            backward: Some(backward),
            merge,
            gate_activation: GateActivation::Sigmoid,
        }
    }

    /// Number of directions (1 or 2).
    pub fn directions(&self) -> usize {
        1 + usize::from(self.backward.is_some())
    }

    /// Hidden size H of each direction.
    pub fn hidden_size(&self) -> usize {
        self.forward.hidden_size()
    }

    /// Input size E.
    pub fn input_size(&self) -> usize {
        self.forward.input_size()
    }

    /// Size of the layer's output vector per time step: 2H for a concatenating bidirectional
    /// layer, H otherwise.
    pub fn output_size(&self) -> usize {
        match (&self.backward, self.merge) {
            (Some(_), MergeMode::Concat) => 2 * self.hidden_size(),
            _ => self.hidden_size(),
        }
    }
}
