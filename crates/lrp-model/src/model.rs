//! The complete model description, validated on construction.

use serde::{Deserialize, Serialize};

use crate::dense::{Activation, DenseLayer};
use crate::error::{ModelError, Result};
use crate::input::InputLayer;
use crate::lstm::LstmWeights;
use crate::matrix::Matrix;
use crate::readout::Readout;
use crate::recurrent::{CellWeights, GateActivation, MergeMode, RecurrentLayer};
use crate::validate::{check_finite, check_len, check_shape};

/// A complete recurrent classifier (or regressor, or per-step model): input layer, a stack of
/// LSTM/GRU layers, how the head reads the last one ([`Readout`]), and a Dense head.
///
/// Construct it with [`ModelParams::new`] (or one of the shorthands), which checks every shape;
/// deserialisation checks them too, so a `ModelParams` value is always consistent.
///
/// ```
/// use lrp_model::{DenseLayer, InputLayer, RecurrentLayer, LstmWeights, Matrix, ModelParams};
///
/// let dir = |e: usize| LstmWeights {
///     w_x: Matrix::zeros(e, 8), w_h: Matrix::zeros(2, 8), b: vec![0.0; 8],
/// }; // H = 2
/// let input = InputLayer::Features { size: 3, mask_value: Some(0.0) };
/// // Two stacked LSTM layers (3 → 2 → 2) and a 2-class head.
/// let lstm = vec![RecurrentLayer::unidirectional(dir(3)), RecurrentLayer::unidirectional(dir(2))];
/// let head = vec![DenseLayer::linear(Matrix::zeros(2, 2), vec![0.0; 2])];
/// let params = ModelParams::new(input.clone(), lstm, head.clone())?;
/// assert_eq!((params.feature_size(), params.num_classes(), params.recurrent().len()), (3, 2, 2));
/// // The second layer must read 2 inputs, not 3.
/// let wrong = vec![RecurrentLayer::unidirectional(dir(3)), RecurrentLayer::unidirectional(dir(3))];
/// assert!(ModelParams::new(input, wrong, head).is_err());
/// # Ok::<(), lrp_model::ModelError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ModelParamsRepr", into = "ModelParamsRepr")]
pub struct ModelParams {
    input: InputLayer,
    recurrent: Vec<RecurrentLayer>,
    readout: Readout,
    head: Vec<DenseLayer>,
}

#[derive(Serialize, Deserialize)]
struct ModelParamsRepr {
    input: InputLayer,
    recurrent: Vec<RecurrentLayer>,
    #[serde(default)]
    readout: Readout,
    head: Vec<DenseLayer>,
}

impl TryFrom<ModelParamsRepr> for ModelParams {
    type Error = ModelError;
    fn try_from(r: ModelParamsRepr) -> Result<Self> {
        Ok(ModelParams::new(r.input, r.recurrent, r.head)?.with_readout(r.readout))
    }
}

impl From<ModelParams> for ModelParamsRepr {
    fn from(m: ModelParams) -> Self {
        ModelParamsRepr {
            input: m.input,
            recurrent: m.recurrent,
            readout: m.readout,
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
    /// use lrp_model::{Activation, DenseLayer, InputLayer, RecurrentLayer, LstmWeights, Matrix};
    /// use lrp_model::ModelParams;
    ///
    /// let w = LstmWeights { w_x: Matrix::zeros(2, 4), w_h: Matrix::zeros(1, 4), b: vec![0.0; 4] };
    /// let input = InputLayer::Features { size: 2, mask_value: None };
    /// let mut softmax = DenseLayer::linear(Matrix::zeros(1, 2), vec![0.0; 2]);
    /// softmax.activation = Activation::Softmax;
    /// let lstm = vec![RecurrentLayer::unidirectional(w)];
    /// let params = ModelParams::new(input.clone(), lstm.clone(), vec![softmax.clone()])?;
    /// assert_eq!((params.input(), params.recurrent().len(), params.head().len()), (&input, 1, 1));
    /// // A softmax only as the last layer.
    /// let relu = DenseLayer::linear(Matrix::zeros(2, 2), vec![0.0; 2]);
    /// let head = vec![softmax.clone(), relu];
    /// assert!(ModelParams::new(input.clone(), lstm.clone(), head).is_err());
    /// assert!(ModelParams::new(input, lstm, vec![]).is_err()); // no head
    /// # Ok::<(), lrp_model::ModelError>(())
    /// ```
    pub fn new(
        input: InputLayer,
        recurrent: Vec<RecurrentLayer>,
        head: Vec<DenseLayer>,
    ) -> Result<Self> {
        let params = Self {
            input,
            recurrent,
            readout: Readout::Final,
            head,
        };
        params.validate()?;
        Ok(params)
    }

    /// The same model with the head reading the last recurrent layer as `readout` says (the
    /// default is [`Readout::Final`]). Every readout gives the head vectors of the same size.
    ///
    /// ```
    /// use lrp_model::{DenseLayer, InputLayer, LstmWeights, Matrix, ModelParams, Readout, RecurrentLayer};
    ///
    /// let w = LstmWeights { w_x: Matrix::zeros(2, 4), w_h: Matrix::zeros(1, 4), b: vec![0.0; 4] };
    /// let input = InputLayer::Features { size: 2, mask_value: None };
    /// let head = vec![DenseLayer::linear(Matrix::zeros(1, 2), vec![0.0; 2])];
    /// let params = ModelParams::new(input, vec![RecurrentLayer::unidirectional(w)], head)?
    ///     .with_readout(Readout::Mean);
    /// assert_eq!(params.readout(), Readout::Mean);
    /// # Ok::<(), lrp_model::ModelError>(())
    /// ```
    pub fn with_readout(mut self, readout: Readout) -> Self {
        self.readout = readout;
        self
    }

    /// The architecture of both reference implementations: one LSTM layer (bidirectional when
    /// `backward` is given, with concatenated final states) on feature vectors, then one linear
    /// Dense layer `w_dense (D, C)`, `b_dense (C)`.
    ///
    /// ```
    /// use lrp_model::{LstmWeights, Matrix, ModelParams};
    ///
    /// let dir = || LstmWeights {
    ///     w_x: Matrix::zeros(5, 12), w_h: Matrix::zeros(3, 12), b: vec![0.0; 12],
    /// };
    /// // A BiLSTM (E = 5, H = 3) with concatenated final states: the head reads D = 6.
    /// let head = Matrix::zeros(6, 2);
    /// let params = ModelParams::single_layer(dir(), Some(dir()), head, vec![0.0; 2])?;
    /// assert_eq!((params.feature_size(), params.num_classes()), (5, 2));
    /// assert_eq!(params.recurrent()[0].directions(), 2);
    /// // 2 · (5·12 + 3·12 + 12) + 6·2 + 2 scalars.
    /// assert_eq!(params.num_parameters(), 2 * (60 + 36 + 12) + 14);
    /// # Ok::<(), lrp_model::ModelError>(())
    /// ```
    pub fn single_layer(
        forward: LstmWeights,
        backward: Option<LstmWeights>,
        w_dense: Matrix,
        b_dense: Vec<f64>,
    ) -> Result<Self> {
        let size = forward.input_size();
        let layer = RecurrentLayer {
            forward: forward.into(),
            backward: backward.map(Into::into),
            merge: MergeMode::Concat,
            gate_activation: GateActivation::Sigmoid,
            go_backwards: false,
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

    /// The recurrent layers, bottom first.
    pub fn recurrent(&self) -> &[RecurrentLayer] {
        &self.recurrent
    }

    /// How the head reads the last recurrent layer.
    pub fn readout(&self) -> Readout {
        self.readout
    }

    /// The Dense layers of the head, first to last.
    pub fn head(&self) -> &[DenseLayer] {
        &self.head
    }

    /// Number of classes C (outputs of the last Dense layer).
    pub fn num_classes(&self) -> usize {
        self.head.last().map_or(0, |d| d.w.cols())
    }

    /// Feature size E of the first recurrent layer's input.
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
            .recurrent
            .iter()
            .flat_map(|l| core::iter::once(&l.forward).chain(l.backward.as_ref()))
            .map(CellWeights::num_parameters)
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
                    return Err(ModelError::InvalidModel(format!(
                        "Masking mask_value must be finite, got {v}"
                    )));
                }
                *size
            }
            InputLayer::Embedding { table, .. } => {
                if table.rows() == 0 {
                    return Err(ModelError::InvalidModel(
                        "the embedding table has no rows (vocabulary of 0 tokens)".into(),
                    ));
                }
                check_finite("embedding", table.data())?;
                table.cols()
            }
        };
        if size == 0 {
            return Err(ModelError::InvalidModel(
                "the input feature size is 0".into(),
            ));
        }
        if self.recurrent.is_empty() {
            return Err(ModelError::InvalidModel(
                "the model has no recurrent (LSTM or GRU) layer".into(),
            ));
        }
        for (l, layer) in self.recurrent.iter().enumerate() {
            layer.validate(&format!("recurrent[{l}]"), size)?;
            size = layer.output_size();
        }
        if self.head.is_empty() {
            return Err(ModelError::InvalidModel(
                "the model has no Dense layer".into(),
            ));
        }
        let last = self.head.len() - 1;
        for (k, dense) in self.head.iter().enumerate() {
            let name = format!("head[{k}]");
            if dense.w.cols() == 0 {
                return Err(ModelError::InvalidModel(format!("{name} has 0 outputs")));
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
                return Err(ModelError::Unsupported(format!(
                    "{name}: a {:?} activation is only supported on the last Dense layer",
                    dense.activation
                )));
            }
            size = dense.w.cols();
        }
        Ok(())
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
            ModelError::ParamShape {
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
            matches!(err, ModelError::ParamShape { ref name, .. } if name == "recurrent[0].forward.b")
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
            matches!(err, ModelError::ParamNotFinite { index: 5, .. }),
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
