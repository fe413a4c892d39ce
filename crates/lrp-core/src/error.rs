//! The one error type of the core: every way a model, an input or a setting can be wrong.

use lrp_model::ModelError;
use thiserror::Error;

/// Everything that can go wrong when building a model or explaining an input.
///
/// Each variant names the offending parameter, dimension or value so that a message can be
/// shown to a user as it is.
///
/// ```
/// # #![allow(deprecated)]
/// use burn::tensor::{Device, Tensor};
/// use lrp_core::{ExplainConfig, LrpError, LstmModel, LstmWeights, Matrix, ModelParams, Precision};
///
/// let lstm = LstmWeights { w_x: Matrix::zeros(2, 4), w_h: Matrix::zeros(1, 4), b: vec![0.0; 4] };
/// let params = ModelParams::single_layer(lstm, None, Matrix::zeros(1, 2), vec![0.0; 2])?;
/// let device = Device::flex();
/// let model = LstmModel::new(&params, &device, Precision::F64)?;
/// let x = Tensor::<3>::zeros([1, 5, 3], &device); // 3 features; the model reads 2
/// let err = model.explain(x, &ExplainConfig::new()).unwrap_err();
/// assert_eq!(err, LrpError::FeatureSize { expected: 2, actual: 3 });
/// assert_eq!(err.to_string(), "input has 3 features per time step, but the model expects 2");
/// # Ok::<(), LrpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Error)]
#[non_exhaustive]
pub enum LrpError {
    /// The model description is inconsistent or unsupported (a shape, a non-finite parameter,
    /// an architecture the library cannot explain).
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The input tensor has the wrong number of dimensions.
    #[error("input has {actual} dimensions, expected {expected} ({layout})")]
    InputRank {
        /// Expected rank.
        expected: usize,
        /// Given rank.
        actual: usize,
        /// The expected layout, e.g. `(batch, time, features)`.
        layout: &'static str,
    },
    /// The input's feature dimension does not match the model's input size.
    #[error("input has {actual} features per time step, but the model expects {expected}")]
    FeatureSize {
        /// The model's input size E.
        expected: usize,
        /// The input's last dimension.
        actual: usize,
    },
    /// The input batch holds no sequence.
    #[error("input batch is empty (batch size 0)")]
    EmptyBatch,
    /// The input sequences have no time step, or a sequence's length is 0.
    #[error(
        "input sequence {sample} is empty (0 time steps); every sequence needs at least one step"
    )]
    EmptySequence {
        /// Index of the sample in the batch (0 when the whole input has T = 0).
        sample: usize,
    },
    /// The input holds NaN or an infinity.
    #[error("input holds a non-finite value (NaN or infinity) in sample {sample}")]
    NonFiniteInput {
        /// Index of the first sample with a bad value.
        sample: usize,
    },
    /// A token id is outside the embedding table.
    #[error("token id {id} in sample {sample} is outside the vocabulary of {vocab} ids")]
    TokenOutOfRange {
        /// Sample index.
        sample: usize,
        /// The bad id.
        id: i64,
        /// Vocabulary size.
        vocab: usize,
    },
    /// Sequence lengths or a padding mask do not fit the input.
    #[error("invalid padding: {0}")]
    InvalidPadding(String),
    /// A target class is outside `0..classes`.
    #[error(
        "target class {class} for sample {sample} is out of range: the model has {classes} classes"
    )]
    TargetOutOfRange {
        /// Sample index.
        sample: usize,
        /// The requested class.
        class: i64,
        /// Number of model outputs C.
        classes: usize,
    },
    /// A per-sample target list has the wrong length.
    #[error("{given} target classes were given for a batch of {batch} samples")]
    TargetCount {
        /// Number of targets given.
        given: usize,
        /// Batch size B.
        batch: usize,
    },
    /// An explanation setting is out of its domain.
    #[error("invalid setting `{name}` = {value}: {reason}")]
    InvalidSetting {
        /// Setting name, e.g. `eps`.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What the domain is.
        reason: &'static str,
    },
    /// A per-step model was run or explained without choosing one of its steps.
    #[error(
        "this model has one output per time step (a per-step head): choose the step to \
         explain (`last`, or a position) with LstmModel::at_step / --step"
    )]
    StepRequired,
    /// A step was chosen for a model with one output per sequence.
    #[error(
        "a step is only chosen for a per-step model; this one has the `{readout}` readout and \
         one output per sequence"
    )]
    NotPerStep {
        /// The model's readout.
        readout: String,
    },
    /// The chosen step is beyond the input's time steps.
    #[error("step {step} is beyond the input's {steps} time steps")]
    StepOutOfRange {
        /// The step asked for.
        step: usize,
        /// Time steps of the input.
        steps: usize,
    },
    /// The chosen step is padding in a sequence (it has no output there).
    #[error(
        "step {step} is padding in sequence {sample} (no output there); use `last` for each \
         sequence's last real step"
    )]
    StepIsPadding {
        /// The sequence.
        sample: usize,
        /// The step asked for.
        step: usize,
    },
    /// A tensor could not be read back from the device.
    #[error("device error: {0}")]
    Device(String),
}

/// Shorthand for results of this crate.
pub type Result<T, E = LrpError> = core::result::Result<T, E>;
