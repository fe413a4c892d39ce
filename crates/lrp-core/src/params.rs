//! Canonical model parameters: plain host data in one fixed layout, validated on construction.
//!
//! Every importer converts into this layout, so the math never has to think about gate orders:
//!
//! - LSTM weights in Keras layout and gate order **i, f, c, o** (input, forget, cell candidate,
//!   output) along the `4H` axis: kernel `w_x (E, 4H)`, recurrent kernel `w_h (H, 4H)`, one bias
//!   `b (4H)` (frameworks with two biases, such as PyTorch, sum them).
//! - Dense layers as `w (D, C)` (inputs along rows) and `b (C)`.
//! - A bidirectional layer's backward direction reads the sequence reversed in time; its output
//!   at time `t` is the state after it has read `x[T-1] … x[t]`, and its final state (the one a
//!   classifier head sees) is the state after reading `x[0]`, as in Keras and PyTorch.
//!
//! ```
//! use lrp_core::params::{DenseLayer, InputLayer, LstmLayer, LstmWeights, Matrix, ModelParams};
//!
//! // E = 2 features, H = 1 (4H = 4 gate columns i, f, c, o), C = 3 classes.
//! let lstm = LstmWeights { w_x: Matrix::zeros(2, 4), w_h: Matrix::zeros(1, 4), b: vec![0.0; 4] };
//! let input = InputLayer::Features { size: 2, mask_value: None };
//! let head = DenseLayer::linear(Matrix::zeros(1, 3), vec![0.0; 3]);
//! let params = ModelParams::new(input, vec![LstmLayer::unidirectional(lstm)], vec![head])?;
//! assert_eq!(params.num_parameters(), 8 + 4 + 4 + 3 + 3);
//! # Ok::<(), lrp_core::LrpError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{LrpError, Result};

/// A row-major `rows × cols` matrix of `f64`.
///
/// ```
/// use lrp_core::Matrix;
///
/// let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?; // [[1, 2, 3], [4, 5, 6]]
/// assert_eq!((m.shape(), m.get(1, 0)), ([2, 3], 4.0));
/// assert_eq!(m.transpose().data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
/// assert_eq!(m.columns(1..3).into_data(), vec![2.0, 3.0, 5.0, 6.0]);
/// assert!(Matrix::new(2, 3, vec![0.0; 5]).is_err()); // 5 values for 6 places
/// # Ok::<(), lrp_core::LrpError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "MatrixRepr", into = "MatrixRepr")]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

#[derive(Serialize, Deserialize)]
struct MatrixRepr {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl TryFrom<MatrixRepr> for Matrix {
    type Error = LrpError;
    fn try_from(r: MatrixRepr) -> Result<Self> {
        Matrix::new(r.rows, r.cols, r.data)
    }
}

impl From<Matrix> for MatrixRepr {
    fn from(m: Matrix) -> Self {
        MatrixRepr {
            rows: m.rows,
            cols: m.cols,
            data: m.data,
        }
    }
}

impl Matrix {
    /// A matrix from row-major data; `data.len()` must be `rows * cols`.
    ///
    /// ```
    /// use lrp_core::{LrpError, Matrix};
    ///
    /// let w = Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?; // (E, 4H) with E = H = 1
    /// assert_eq!((w.rows(), w.cols()), (1, 4));
    /// let err = Matrix::new(2, 2, vec![1.0]).unwrap_err();
    /// assert!(matches!(err, LrpError::ParamLength { expected: 4, actual: 1, .. }));
    /// # Ok::<(), LrpError>(())
    /// ```
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        if data.len() != rows * cols {
            return Err(LrpError::ParamLength {
                name: "matrix".into(),
                shape: vec![rows, cols],
                expected: rows * cols,
                actual: data.len(),
            });
        }
        Ok(Self { rows, cols, data })
    }

    /// A matrix of zeros.
    ///
    /// ```
    /// let z = lrp_core::Matrix::zeros(3, 2);
    /// assert_eq!(z.shape(), [3, 2]);
    /// assert!(z.data().iter().all(|&v| v == 0.0));
    /// ```
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// `[rows, cols]`.
    pub fn shape(&self) -> [usize; 2] {
        [self.rows, self.cols]
    }

    /// The row-major values.
    pub fn data(&self) -> &[f64] {
        &self.data
    }

    /// Consumes the matrix, returning its row-major values.
    pub fn into_data(self) -> Vec<f64> {
        self.data
    }

    /// The value at row `r`, column `c`.
    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }

    /// The transposed matrix.
    ///
    /// ```
    /// use lrp_core::Matrix;
    ///
    /// let m = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])?;
    /// let t = m.transpose();
    /// assert_eq!((t.shape(), t.get(2, 1)), ([3, 2], m.get(1, 2)));
    /// assert_eq!(t.transpose(), m);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn transpose(&self) -> Matrix {
        let mut data = Vec::with_capacity(self.data.len());
        for c in 0..self.cols {
            for r in 0..self.rows {
                data.push(self.get(r, c));
            }
        }
        Matrix {
            rows: self.cols,
            cols: self.rows,
            data,
        }
    }

    /// The columns `range` of every row, as a new `rows × range.len()` matrix.
    ///
    /// ```
    /// use lrp_core::Matrix;
    ///
    /// // The cell candidate's block (gate order i, f, c, o) of a kernel with H = 1.
    /// let w_x = Matrix::new(2, 4, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])?;
    /// assert_eq!(w_x.columns(2..3).into_data(), vec![3.0, 7.0]);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn columns(&self, range: core::ops::Range<usize>) -> Matrix {
        let mut data = Vec::with_capacity(self.rows * range.len());
        for r in 0..self.rows {
            data.extend_from_slice(
                &self.data[r * self.cols + range.start..r * self.cols + range.end],
            );
        }
        Matrix {
            rows: self.rows,
            cols: range.len(),
            data,
        }
    }
}

/// The weights of one LSTM direction in canonical layout (Keras layout, gate order i, f, c, o).
///
/// ```
/// use lrp_core::{LstmWeights, Matrix};
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

    fn validate(&self, name: &str, input: usize) -> Result<()> {
        let h = self.hidden_size();
        if h == 0 {
            return Err(LrpError::InvalidModel(format!("{name} has hidden size 0")));
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
/// use lrp_core::{LstmLayer, LstmWeights, Matrix, MergeMode};
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
/// use lrp_core::{GateActivation, LstmLayer, LstmWeights, Matrix};
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
/// use lrp_core::{LstmLayer, LstmWeights, Matrix, MergeMode};
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
    /// use lrp_core::{LstmLayer, LstmWeights, Matrix};
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
    /// use lrp_core::{LstmLayer, LstmWeights, Matrix, MergeMode};
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

/// The element-wise function after a Dense layer.
///
/// ```
/// use lrp_core::{Activation, DenseLayer, Matrix};
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
/// use lrp_core::{Activation, DenseLayer, Matrix};
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
    /// use lrp_core::{Activation, DenseLayer, Matrix};
    ///
    /// // D = 2 inputs, C = 1 output.
    /// let head = DenseLayer::linear(Matrix::new(2, 1, vec![0.5, -0.5])?, vec![0.1]);
    /// assert_eq!((head.w.shape(), head.activation), ([2, 1], Activation::Linear));
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn linear(w: Matrix, b: Vec<f64>) -> Self {
        Self {
            w,
            b,
            activation: Activation::Linear,
        }
    }
}

/// What the model reads at each time step.
///
/// ```
/// use lrp_core::{InputLayer, Matrix};
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
    /// use lrp_core::{InputLayer, Matrix};
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

/// A complete LSTM classifier: input layer, a stack of LSTM layers and a Dense head.
///
/// Construct it with [`ModelParams::new`] (or one of the shorthands), which checks every shape;
/// deserialisation checks them too, so a `ModelParams` value is always consistent.
///
/// ```
/// use lrp_core::{DenseLayer, InputLayer, LstmLayer, LstmWeights, Matrix, ModelParams};
///
/// let dir = |e: usize| LstmWeights {
///     w_x: Matrix::zeros(e, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8],
/// }; // H = 2
/// let input = InputLayer::Features { size: 3, mask_value: Some(0.0) };
/// // Two stacked LSTM layers (3 → 2 → 2) and a 2-class head.
/// let lstm = vec![LstmLayer::unidirectional(dir(3)), LstmLayer::unidirectional(dir(2))];
/// let head = vec![DenseLayer::linear(Matrix::zeros(2, 2), vec![0.0; 2])];
/// let params = ModelParams::new(input.clone(), lstm, head.clone())?;
/// assert_eq!((params.feature_size(), params.num_classes(), params.lstm().len()), (3, 2, 2));
/// // The second layer must read 2 inputs, not 3.
/// let wrong = vec![LstmLayer::unidirectional(dir(3)), LstmLayer::unidirectional(dir(3))];
/// assert!(ModelParams::new(input, wrong, head).is_err());
/// # Ok::<(), lrp_core::LrpError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ModelParamsRepr", into = "ModelParamsRepr")]
pub struct ModelParams {
    input: InputLayer,
    lstm: Vec<LstmLayer>,
    head: Vec<DenseLayer>,
}

#[derive(Serialize, Deserialize)]
struct ModelParamsRepr {
    input: InputLayer,
    lstm: Vec<LstmLayer>,
    head: Vec<DenseLayer>,
}

impl TryFrom<ModelParamsRepr> for ModelParams {
    type Error = LrpError;
    fn try_from(r: ModelParamsRepr) -> Result<Self> {
        ModelParams::new(r.input, r.lstm, r.head)
    }
}

impl From<ModelParams> for ModelParamsRepr {
    fn from(m: ModelParams) -> Self {
        ModelParamsRepr {
            input: m.input,
            lstm: m.lstm,
            head: m.head,
        }
    }
}

impl ModelParams {
    /// Builds and validates a model description.
    ///
    /// Checks that every layer's input size is the previous layer's output size, that all arrays
    /// have the shapes their roles require, that all values are finite, that only the last Dense
    /// layer has a softmax or sigmoid, and that there is at least one LSTM and one Dense layer.
    ///
    /// ```
    /// use lrp_core::{Activation, DenseLayer, InputLayer, LstmLayer, LstmWeights, Matrix};
    /// use lrp_core::ModelParams;
    ///
    /// let w = LstmWeights { w_x: Matrix::zeros(2, 4), w_h: Matrix::zeros(1, 4), b: vec![0.0; 4] };
    /// let input = InputLayer::Features { size: 2, mask_value: None };
    /// let mut softmax = DenseLayer::linear(Matrix::zeros(1, 2), vec![0.0; 2]);
    /// softmax.activation = Activation::Softmax;
    /// let lstm = vec![LstmLayer::unidirectional(w)];
    /// let params = ModelParams::new(input.clone(), lstm.clone(), vec![softmax.clone()])?;
    /// assert_eq!((params.input(), params.lstm().len(), params.head().len()), (&input, 1, 1));
    /// // A softmax only as the last layer.
    /// let relu = DenseLayer::linear(Matrix::zeros(2, 2), vec![0.0; 2]);
    /// let head = vec![softmax.clone(), relu];
    /// assert!(ModelParams::new(input.clone(), lstm.clone(), head).is_err());
    /// assert!(ModelParams::new(input, lstm, vec![]).is_err()); // no head
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn new(input: InputLayer, lstm: Vec<LstmLayer>, head: Vec<DenseLayer>) -> Result<Self> {
        let params = Self { input, lstm, head };
        params.validate()?;
        Ok(params)
    }

    /// The architecture of both reference implementations: one LSTM layer (bidirectional when
    /// `backward` is given, with concatenated final states) on feature vectors, then one linear
    /// Dense layer `w_dense (D, C)`, `b_dense (C)`.
    ///
    /// ```
    /// use lrp_core::{LstmWeights, Matrix, ModelParams};
    ///
    /// let dir = || LstmWeights {
    ///     w_x: Matrix::zeros(5, 12), w_h: Matrix::zeros(3, 12), b: vec![0.0; 12],
    /// };
    /// // A BiLSTM (E = 5, H = 3) with concatenated final states: the head reads D = 6.
    /// let head = Matrix::zeros(6, 2);
    /// let params = ModelParams::single_layer(dir(), Some(dir()), head, vec![0.0; 2])?;
    /// assert_eq!((params.feature_size(), params.num_classes()), (5, 2));
    /// assert_eq!(params.lstm()[0].directions(), 2);
    /// // 2 · (5·12 + 3·12 + 12) + 6·2 + 2 scalars.
    /// assert_eq!(params.num_parameters(), 2 * (60 + 36 + 12) + 14);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn single_layer(
        forward: LstmWeights,
        backward: Option<LstmWeights>,
        w_dense: Matrix,
        b_dense: Vec<f64>,
    ) -> Result<Self> {
        let size = forward.input_size();
        let layer = LstmLayer {
            forward,
            backward,
            merge: MergeMode::Concat,
            gate_activation: GateActivation::Sigmoid,
        };
        Self::new(
            InputLayer::Features {
                size,
                mask_value: None,
            },
            vec![layer],
            vec![DenseLayer::linear(w_dense, b_dense)],
        )
    }

    /// The input layer.
    pub fn input(&self) -> &InputLayer {
        &self.input
    }

    /// The LSTM layers, bottom first.
    pub fn lstm(&self) -> &[LstmLayer] {
        &self.lstm
    }

    /// The Dense layers of the head, first to last.
    pub fn head(&self) -> &[DenseLayer] {
        &self.head
    }

    /// Number of classes C (outputs of the last Dense layer).
    pub fn num_classes(&self) -> usize {
        self.head.last().map_or(0, |d| d.w.cols())
    }

    /// Feature size E of the first LSTM layer's input.
    pub fn feature_size(&self) -> usize {
        self.input.feature_size()
    }

    /// Total number of scalar parameters.
    pub fn num_parameters(&self) -> usize {
        let emb = match &self.input {
            InputLayer::Embedding { table, .. } => table.data().len(),
            InputLayer::Features { .. } => 0,
        };
        let lstm: usize = self
            .lstm
            .iter()
            .flat_map(|l| core::iter::once(&l.forward).chain(l.backward.as_ref()))
            .map(|w| w.w_x.data().len() + w.w_h.data().len() + w.b.len())
            .sum();
        let head: usize = self.head.iter().map(|d| d.w.data().len() + d.b.len()).sum();
        emb + lstm + head
    }

    fn validate(&self) -> Result<()> {
        let mut size = match &self.input {
            InputLayer::Features { size, mask_value } => {
                if let Some(v) = mask_value
                    && !v.is_finite()
                {
                    return Err(LrpError::InvalidModel(format!(
                        "Masking mask_value must be finite, got {v}"
                    )));
                }
                *size
            }
            InputLayer::Embedding { table, .. } => {
                if table.rows() == 0 {
                    return Err(LrpError::InvalidModel(
                        "the embedding table has no rows (vocabulary of 0 tokens)".into(),
                    ));
                }
                check_finite("embedding", table.data())?;
                table.cols()
            }
        };
        if size == 0 {
            return Err(LrpError::InvalidModel("the input feature size is 0".into()));
        }
        if self.lstm.is_empty() {
            return Err(LrpError::InvalidModel("the model has no LSTM layer".into()));
        }
        for (l, layer) in self.lstm.iter().enumerate() {
            layer
                .forward
                .validate(&format!("lstm[{l}].forward"), size)?;
            if let Some(bw) = &layer.backward {
                bw.validate(&format!("lstm[{l}].backward"), size)?;
                if bw.hidden_size() != layer.forward.hidden_size() {
                    return Err(LrpError::InvalidModel(format!(
                        "lstm[{l}]: forward hidden size {} differs from backward hidden size {}",
                        layer.forward.hidden_size(),
                        bw.hidden_size()
                    )));
                }
            }
            size = layer.output_size();
        }
        if self.head.is_empty() {
            return Err(LrpError::InvalidModel(
                "the model has no Dense layer".into(),
            ));
        }
        let last = self.head.len() - 1;
        for (k, dense) in self.head.iter().enumerate() {
            let name = format!("head[{k}]");
            if dense.w.cols() == 0 {
                return Err(LrpError::InvalidModel(format!("{name} has 0 outputs")));
            }
            check_shape(
                &format!("{name}.w"),
                dense.w.shape(),
                [size, dense.w.cols()],
            )?;
            check_len(&format!("{name}.b"), dense.b.len(), dense.w.cols())?;
            check_finite(&format!("{name}.w"), dense.w.data())?;
            check_finite(&format!("{name}.b"), &dense.b)?;
            if k < last && matches!(dense.activation, Activation::Softmax | Activation::Sigmoid) {
                return Err(LrpError::Unsupported(format!(
                    "{name}: a {:?} activation is only supported on the last Dense layer",
                    dense.activation
                )));
            }
            size = dense.w.cols();
        }
        Ok(())
    }
}

fn check_shape(name: &str, actual: [usize; 2], expected: [usize; 2]) -> Result<()> {
    if actual != expected {
        return Err(LrpError::ParamShape {
            name: name.into(),
            expected: expected.to_vec(),
            actual: actual.to_vec(),
        });
    }
    Ok(())
}

fn check_len(name: &str, actual: usize, expected: usize) -> Result<()> {
    if actual != expected {
        return Err(LrpError::ParamShape {
            name: name.into(),
            expected: vec![expected],
            actual: vec![actual],
        });
    }
    Ok(())
}

fn check_finite(name: &str, data: &[f64]) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(LrpError::ParamNotFinite {
            name: name.into(),
            index,
            value: data[index],
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weights(e: usize, h: usize) -> LstmWeights {
        LstmWeights {
            w_x: Matrix::zeros(e, 4 * h),
            w_h: Matrix::zeros(h, 4 * h),
            b: vec![0.0; 4 * h],
        }
    }

    #[test]
    fn single_layer_shapes_are_checked() {
        let ok = ModelParams::single_layer(
            weights(3, 2),
            Some(weights(3, 2)),
            Matrix::zeros(4, 5),
            vec![0.0; 5],
        )
        .unwrap();
        assert_eq!(ok.num_classes(), 5);
        assert_eq!(ok.feature_size(), 3);

        let err = ModelParams::single_layer(weights(3, 2), None, Matrix::zeros(4, 5), vec![0.0; 5])
            .unwrap_err();
        assert_eq!(
            err,
            LrpError::ParamShape {
                name: "head[0].w".into(),
                expected: vec![2, 5],
                actual: vec![4, 5]
            }
        );

        let mut bad = weights(3, 2);
        bad.b.pop();
        let err =
            ModelParams::single_layer(bad, None, Matrix::zeros(2, 5), vec![0.0; 5]).unwrap_err();
        assert!(
            matches!(err, LrpError::ParamShape { ref name, .. } if name == "lstm[0].forward.b")
        );
    }

    #[test]
    fn non_finite_parameters_are_refused() {
        let mut w = weights(3, 2);
        w.w_h = Matrix::new(
            2,
            8,
            (0..16)
                .map(|i| if i == 5 { f64::NAN } else { 0.0 })
                .collect(),
        )
        .unwrap();
        let err = ModelParams::single_layer(w, None, Matrix::zeros(2, 1), vec![0.0]).unwrap_err();
        assert!(
            matches!(err, LrpError::ParamNotFinite { index: 5, .. }),
            "{err}"
        );
    }

    #[test]
    fn deserialisation_validates() {
        let ok =
            ModelParams::single_layer(weights(1, 1), None, Matrix::zeros(1, 1), vec![0.0]).unwrap();
        let mut json: serde_json::Value = serde_json::to_value(&ok).unwrap();
        assert_eq!(
            serde_json::from_value::<ModelParams>(json.clone()).unwrap(),
            ok
        );
        json["head"][0]["b"] = serde_json::json!([0.0, 1.0]);
        let err = serde_json::from_value::<ModelParams>(json).unwrap_err();
        assert!(err.to_string().contains("head[0].b"), "{err}");
    }

    #[test]
    fn matrix_helpers() {
        let m = Matrix::new(2, 3, vec![1., 2., 3., 4., 5., 6.]).unwrap();
        assert_eq!(m.transpose().data(), &[1., 4., 2., 5., 3., 6.]);
        assert_eq!(m.columns(1..3).data(), &[2., 3., 5., 6.]);
        assert!(Matrix::new(2, 2, vec![1.0]).is_err());
    }
}
