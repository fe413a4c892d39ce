//! The weights of one LSTM direction in canonical layout.

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

    /// The number of scalar parameters.
    pub fn num_parameters(&self) -> usize {
        self.w_x.data().len() + self.w_h.data().len() + self.b.len()
    }

    pub(crate) fn validate(&self, name: &str, input: usize) -> Result<()> {
        let h = self.hidden_size();
        if h == 0 {
            return Err(ModelError::InvalidModel(format!(
                "{name} has hidden size 0"
            )));
        }
        let four_h = h.checked_mul(4).ok_or_else(|| {
            ModelError::InvalidModel(format!("{name}: 4 · {h} gate columns overflow"))
        })?;
        check_shape(&format!("{name}.w_x"), self.w_x.shape(), [input, four_h])?;
        check_shape(&format!("{name}.w_h"), self.w_h.shape(), [h, four_h])?;
        check_len(&format!("{name}.b"), self.b.len(), four_h)?;
        check_finite(&format!("{name}.w_x"), self.w_x.data())?;
        check_finite(&format!("{name}.w_h"), self.w_h.data())?;
        check_finite(&format!("{name}.b"), &self.b)
    }
}
