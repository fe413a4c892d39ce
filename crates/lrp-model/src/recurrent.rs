//! Recurrent layers: LSTM or GRU cells, one or two directions, how they are merged, and whether a
//! unidirectional layer reads backwards.

use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::gru::GruWeights;
use crate::lstm::LstmWeights;

/// The weights of one direction of a recurrent layer: an LSTM or a GRU cell.
///
/// ```
/// use lrp_model::{CellWeights, GruWeights, LstmWeights, Matrix};
///
/// let lstm: CellWeights =
///     LstmWeights { w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8] }.into();
/// let gru: CellWeights = GruWeights {
///     w_x: Matrix::zeros(3, 6), w_h: Matrix::zeros(2, 6),
///     b_x: vec![0.0; 6], b_h: vec![0.0; 6], reset_after: true,
/// }.into();
/// assert_eq!((lstm.hidden_size(), gru.hidden_size()), (2, 2));
/// assert_eq!((lstm.gates(), gru.gates()), (4, 3));
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CellWeights {
    /// An LSTM cell (gate order i, f, c, o).
    Lstm(LstmWeights),
    /// A GRU cell (gate order z, r, n).
    Gru(GruWeights),
}

impl From<LstmWeights> for CellWeights {
    fn from(w: LstmWeights) -> Self {
        CellWeights::Lstm(w)
    }
}

impl From<GruWeights> for CellWeights {
    fn from(w: GruWeights) -> Self {
        CellWeights::Gru(w)
    }
}

impl CellWeights {
    /// Input size E.
    pub fn input_size(&self) -> usize {
        match self {
            CellWeights::Lstm(w) => w.input_size(),
            CellWeights::Gru(w) => w.input_size(),
        }
    }

    /// Hidden size H.
    pub fn hidden_size(&self) -> usize {
        match self {
            CellWeights::Lstm(w) => w.hidden_size(),
            CellWeights::Gru(w) => w.hidden_size(),
        }
    }

    /// Gate blocks along the kernels' columns: 4 (LSTM) or 3 (GRU).
    pub fn gates(&self) -> usize {
        match self {
            CellWeights::Lstm(_) => 4,
            CellWeights::Gru(_) => 3,
        }
    }

    /// A short name of the cell: `LSTM`, `GRU` or `GRU (reset before)`.
    pub fn kind(&self) -> &'static str {
        match self {
            CellWeights::Lstm(_) => "LSTM",
            CellWeights::Gru(w) if w.reset_after => "GRU",
            CellWeights::Gru(_) => "GRU (reset before)",
        }
    }

    /// The LSTM weights, if this is an LSTM cell.
    pub fn as_lstm(&self) -> Option<&LstmWeights> {
        match self {
            CellWeights::Lstm(w) => Some(w),
            CellWeights::Gru(_) => None,
        }
    }

    /// The GRU weights, if this is a GRU cell.
    pub fn as_gru(&self) -> Option<&GruWeights> {
        match self {
            CellWeights::Gru(w) => Some(w),
            CellWeights::Lstm(_) => None,
        }
    }

    /// The number of scalar parameters.
    pub fn num_parameters(&self) -> usize {
        match self {
            CellWeights::Lstm(w) => w.num_parameters(),
            CellWeights::Gru(w) => w.num_parameters(),
        }
    }

    pub(crate) fn validate(&self, name: &str, input: usize) -> Result<()> {
        match self {
            CellWeights::Lstm(w) => w.validate(name, input),
            CellWeights::Gru(w) => w.validate(name, input),
        }
    }

    /// Whether two directions are the same kind of cell (LSTM, or GRU with the same reset rule).
    fn same_kind(&self, other: &CellWeights) -> bool {
        self.kind() == other.kind()
    }
}

/// How a bidirectional layer combines its two directions (Keras `merge_mode`).
///
/// ```
/// use lrp_model::{RecurrentLayer, LstmWeights, Matrix, MergeMode};
///
/// let dir = || LstmWeights {
///     w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8],
/// };
/// let size = |merge| RecurrentLayer::bidirectional(dir(), dir(), merge).output_size();
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

/// The gates' nonlinearity (Keras `recurrent_activation`): the LSTM's input, forget and output
/// gates, the GRU's update and reset gates.
///
/// ```
/// use lrp_model::{GateActivation, RecurrentLayer, LstmWeights, Matrix};
///
/// let w = LstmWeights { w_x: Matrix::zeros(1, 4), w_h: Matrix::zeros(1, 4), b: vec![0.0; 4] };
/// let mut keras2 = RecurrentLayer::unidirectional(w);
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

/// One recurrent layer: a forward direction and, for a bidirectional layer, a backward one, both
/// LSTM or both GRU cells.
///
/// Layers below the last one return their whole output sequence to the next layer; the last one
/// hands its final state (or, with a [`Readout`](crate::Readout) other than `Final`, its output
/// sequence) to the head.
///
/// A unidirectional layer with `go_backwards` (Keras) reads the sequence from its last step to its
/// first and returns its output sequence in that reading order, which the next layer reads as
/// it is; its final state is the state after reading `x[0]`.
///
/// ```
/// use lrp_model::{RecurrentLayer, LstmWeights, Matrix, MergeMode};
///
/// let dir = || LstmWeights {
///     w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8],
/// };
/// let uni = RecurrentLayer::unidirectional(dir());
/// let bi = RecurrentLayer::bidirectional(dir(), dir(), MergeMode::Concat);
/// assert_eq!((uni.directions(), uni.input_size(), uni.output_size()), (1, 3, 2));
/// assert_eq!((bi.directions(), bi.hidden_size(), bi.output_size()), (2, 2, 4)); // [h_fw, h_bw]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RecurrentLayer {
    /// The direction that reads the sequence in time order (or reversed, with `go_backwards`).
    pub forward: CellWeights,
    /// The direction that reads it reversed (bidirectional layers only).
    pub backward: Option<CellWeights>,
    /// How the two directions are combined (ignored for a unidirectional layer).
    #[serde(default)]
    pub merge: MergeMode,
    /// The gate nonlinearity.
    #[serde(default)]
    pub gate_activation: GateActivation,
    /// Keras `go_backwards` on a unidirectional layer (see the type's documentation).
    #[serde(default)]
    pub go_backwards: bool,
}

impl RecurrentLayer {
    /// A unidirectional layer.
    ///
    /// ```
    /// use lrp_model::{RecurrentLayer, LstmWeights, Matrix};
    ///
    /// let w = LstmWeights { w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8] };
    /// let layer = RecurrentLayer::unidirectional(w);
    /// assert_eq!((layer.directions(), layer.output_size()), (1, 2));
    /// ```
    pub fn unidirectional(forward: impl Into<CellWeights>) -> Self {
        Self {
            forward: forward.into(),
            backward: None,
            merge: MergeMode::Concat,
            gate_activation: GateActivation::Sigmoid,
            go_backwards: false,
        }
    }

    /// A bidirectional layer with the given merge mode.
    ///
    /// ```
    /// use lrp_model::{RecurrentLayer, LstmWeights, Matrix, MergeMode};
    ///
    /// let w = LstmWeights { w_x: Matrix::zeros(3, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8] };
    /// let layer = RecurrentLayer::bidirectional(w.clone(), w, MergeMode::Sum);
    /// assert_eq!((layer.directions(), layer.input_size(), layer.output_size()), (2, 3, 2));
    /// ```
    pub fn bidirectional(
        forward: impl Into<CellWeights>,
        backward: impl Into<CellWeights>,
        merge: MergeMode,
    ) -> Self {
        Self {
            forward: forward.into(),
            backward: Some(backward.into()),
            merge,
            gate_activation: GateActivation::Sigmoid,
            go_backwards: false,
        }
    }

    /// A cell's name: `LSTM`, `GRU` or `GRU (reset before)`.
    pub fn kind(&self) -> &'static str {
        self.forward.kind()
    }

    pub(crate) fn validate(&self, name: &str, input: usize) -> Result<()> {
        self.forward.validate(&format!("{name}.forward"), input)?;
        if let Some(bw) = &self.backward {
            bw.validate(&format!("{name}.backward"), input)?;
            if !bw.same_kind(&self.forward) {
                return Err(ModelError::InvalidModel(format!(
                    "{name}: the forward direction is a {} cell, the backward one a {}",
                    self.forward.kind(),
                    bw.kind()
                )));
            }
            if bw.hidden_size() != self.forward.hidden_size() {
                return Err(ModelError::InvalidModel(format!(
                    "{name}: forward hidden size {} differs from backward hidden size {}",
                    self.forward.hidden_size(),
                    bw.hidden_size()
                )));
            }
            if self.go_backwards {
                return Err(ModelError::InvalidModel(format!(
                    "{name}: go_backwards is for unidirectional layers (a bidirectional layer \
                     has a backward direction)"
                )));
            }
        }
        Ok(())
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
