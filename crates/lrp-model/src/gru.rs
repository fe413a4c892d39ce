//! The weights of one GRU direction in canonical layout.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::matrix::Matrix;
use crate::validate::{check_finite, check_len, check_shape};

/// The weights of one GRU direction in canonical layout: Keras layout and gate order **z, r, n**
/// (update, reset, candidate) along the `3H` axis.
///
/// ```text
/// z   = σ(x W_z + h U_z + b_xz + b_hz)
/// r   = σ(x W_r + h U_r + b_xr + b_hr)
/// n   = tanh(x W_n + b_xn + r ⊙ (h U_n + b_hn))      reset_after (Keras' default, PyTorch, burn)
/// n   = tanh(x W_n + (r ⊙ h) U_n + b_xn + b_hn)      reset_after = false (Keras' other variant)
/// h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n
/// ```
///
/// PyTorch's `nn.GRU` (gate order r, z, n) is Keras' `reset_after` variant with the first two
/// gate blocks swapped.
///
/// ```
/// use lrp_model::{GruWeights, Matrix};
///
/// // E = 3 inputs, H = 2 hidden units: w_x (3, 6), w_h (2, 6), b_x (6), b_h (6).
/// let w = GruWeights {
///     w_x: Matrix::zeros(3, 6), w_h: Matrix::zeros(2, 6),
///     b_x: vec![0.0; 6], b_h: vec![0.0; 6], reset_after: true,
/// };
/// assert_eq!((w.input_size(), w.hidden_size()), (3, 2));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GruWeights {
    /// Input kernel `(E, 3H)`.
    pub w_x: Matrix,
    /// Recurrent kernel `(H, 3H)`.
    pub w_h: Matrix,
    /// Input bias `(3H)`.
    pub b_x: Vec<f64>,
    /// Recurrent bias `(3H)`: with `reset_after` its candidate block is gated by `r`; without,
    /// it simply adds to `b_x`.
    pub b_h: Vec<f64>,
    /// Whether the reset gate multiplies the recurrent product (`r ⊙ (h U_n + b_hn)`) rather than
    /// the state (`(r ⊙ h) U_n`).
    pub reset_after: bool,
}

impl GruWeights {
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
        let three_h = h.checked_mul(3).ok_or_else(|| {
            ModelError::InvalidModel(format!("{name}: 3 · {h} gate columns overflow"))
        })?;
        check_shape(&format!("{name}.w_x"), self.w_x.shape(), [input, three_h])?;
        check_shape(&format!("{name}.w_h"), self.w_h.shape(), [h, three_h])?;
        check_len(&format!("{name}.b_x"), self.b_x.len(), three_h)?;
        check_len(&format!("{name}.b_h"), self.b_h.len(), three_h)?;
        check_finite(&format!("{name}.w_x"), self.w_x.data())?;
        check_finite(&format!("{name}.w_h"), self.w_h.data())?;
        check_finite(&format!("{name}.b_x"), &self.b_x)?;
        check_finite(&format!("{name}.b_h"), &self.b_h)
    }

    /// The number of scalar parameters.
    pub fn num_parameters(&self) -> usize {
        self.w_x.data().len() + self.w_h.data().len() + self.b_x.len() + self.b_h.len()
    }
}
