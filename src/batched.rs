//! Explaining, running and attributing many sequences already in memory, `batch_size` at a time:
//! what the Python package calls (and any caller holding all its sequences in an [`InputView`]).
//!
//! Each batch is copied once from the borrowed values into the buffer burn takes, explained, and
//! its host result appended to one output; errors name the sample's index in the whole input
//! ([`offset_sample`]).

use lrp_core::burn::tensor::{Tensor, TensorData};
use lrp_core::{
    ExplainConfig, HostExplanation, HostStepExplanations, Input, LrpError, LstmModel, Method,
    Target,
};

use crate::io::{FeatureSlice, InputView};

/// An error about a sample of a batch starting at sample `offset`, renumbered to the sample's
/// index in the whole input.
///
/// ```
/// use lstm_lrp::LrpError;
/// use lstm_lrp::batched::offset_sample;
///
/// let err = offset_sample(LrpError::NonFiniteInput { sample: 2 }, 100);
/// assert_eq!(err.to_string(), "input holds a non-finite value (NaN or infinity) in sample 102");
/// ```
pub fn offset_sample(err: LrpError, offset: usize) -> LrpError {
    use LrpError::*;
    match err {
        NonFiniteInput { sample } => NonFiniteInput {
            sample: sample + offset,
        },
        EmptySequence { sample } => EmptySequence {
            sample: sample + offset,
        },
        TokenOutOfRange { sample, id, vocab } => TokenOutOfRange {
            sample: sample + offset,
            id,
            vocab,
        },
        TargetOutOfRange {
            sample,
            class,
            classes,
        } => TargetOutOfRange {
            sample: sample + offset,
            class,
            classes,
        },
        StepIsPadding { sample, step } => StepIsPadding {
            sample: sample + offset,
            step,
        },
        other => other,
    }
}

/// The batches `0..B` in steps of `batch_size` (at least 1).
fn batches(total: usize, batch_size: usize) -> impl Iterator<Item = core::ops::Range<usize>> {
    let size = batch_size.max(1);
    (0..total)
        .step_by(size)
        .map(move |start| start..(start + size).min(total))
}

/// The target of samples `range`, from a target for all samples.
fn target_of(target: &Target, range: core::ops::Range<usize>) -> Target {
    match target {
        Target::PerSample(classes) => Target::PerSample(classes[range].to_vec()),
        other => other.clone(),
    }
}

/// Checks that a per-sample target has one class per sample.
fn check_target(target: &Target, batch: usize) -> Result<(), LrpError> {
    match target {
        Target::PerSample(classes) if classes.len() != batch => Err(LrpError::TargetCount {
            given: classes.len(),
            batch,
        }),
        _ => Ok(()),
    }
}

/// Explains every sample of `input`, `batch_size` at a time, into one host explanation.
///
/// ```
/// use lstm_lrp::io::{FeatureSlice, InputView, ValuesView};
/// use lstm_lrp::{ExplainConfig, LstmModel, Precision, backends, batched};
///
/// let device = backends::default_device();
/// let params = lstm_lrp::load_model("examples/data/keras2_sentiment_bilstm.safetensors")?;
/// let model = LstmModel::new(&params, &device, Precision::F64)?;
/// let x = vec![0.25f64; 5 * 9 * 60]; // (B, T, E) = (5, 9, 60)
/// let view = ValuesView::features(FeatureSlice::F64(&x), [5, 9, 60])?;
/// let input = InputView { values: view, lengths: None, mask: None };
/// let out = batched::explain(&model, &input, &ExplainConfig::new(), 2)?; // batches of 2, 2, 1
/// assert_eq!((out.batch, out.steps, out.features), (5, 9, 60));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// Those of [`LstmModel::explain`], with sample indices counted over the whole input; a
/// per-sample target with another count than the input's samples.
pub fn explain(
    model: &LstmModel,
    input: &InputView<'_>,
    config: &ExplainConfig,
    batch_size: usize,
) -> Result<HostExplanation, LrpError> {
    let [total, steps] = input.batch_and_steps();
    explain_in_batches(
        model,
        input,
        config,
        batch_size,
        |batch, part_config| model.explain(batch, part_config).and_then(|e| e.to_host()),
        |all, part| match all {
            None => {
                // Room for every batch, so that appending copies each value once.
                let mut first = part;
                let rest = total - first.batch;
                first.relevance.reserve_exact(rest * steps * first.features);
                first.rest.reserve_exact(rest);
                first.logits.reserve_exact(rest * first.classes);
                first.target.reserve_exact(rest);
                *all = Some(first);
            }
            Some(all) => all.append(part),
        },
    )
}

/// Explains every output position of a per-step model for every sample of `input`,
/// `batch_size` at a time ([`LstmModel::explain_every_step`]): `(B, T_out, T, E)`.
///
/// # Errors
/// Those of [`LstmModel::explain_every_step`], with sample indices counted over the whole
/// input; a per-sample target with another count than the input's samples.
pub fn explain_every_step(
    model: &LstmModel,
    input: &InputView<'_>,
    config: &ExplainConfig,
    batch_size: usize,
) -> Result<HostStepExplanations, LrpError> {
    explain_in_batches(
        model,
        input,
        config,
        batch_size,
        |batch, part_config| model.explain_every_step(batch, part_config),
        |all, part| match all {
            None => *all = Some(part),
            Some(all) => all.append(part),
        },
    )
}

/// The batch loop of [`explain`] and [`explain_every_step`]: validates `config` and the
/// targets once, explains each batch with its share of a per-sample target (`explain_part`),
/// renumbers the samples of its errors, and hands each part to `join` with what came before.
fn explain_in_batches<T>(
    model: &LstmModel,
    input: &InputView<'_>,
    config: &ExplainConfig,
    batch_size: usize,
    explain_part: impl Fn(Input, &ExplainConfig) -> Result<T, LrpError>,
    mut join: impl FnMut(&mut Option<T>, T),
) -> Result<T, LrpError> {
    config.validate()?;
    let [total, _] = input.batch_and_steps();
    if total == 0 {
        return Err(LrpError::EmptyBatch);
    }
    check_target(&config.target, total)?;
    let device = model.device();
    let mut all = None;
    for range in batches(total, batch_size) {
        let part_config = config
            .clone()
            .with_target(target_of(&config.target, range.clone()));
        let start = range.start;
        let batch = input.input_range(range, device, model.precision());
        let part = explain_part(batch, &part_config).map_err(|e| offset_sample(e, start))?;
        join(&mut all, part);
    }
    Ok(all.expect("at least one batch"))
}

/// The logits `(B, C)` of every sample of `input`, row-major, `batch_size` at a time.
///
/// # Errors
/// Those of [`LstmModel::forward`], with sample indices counted over the whole input.
pub fn forward(
    model: &LstmModel,
    input: &InputView<'_>,
    batch_size: usize,
) -> Result<Vec<f64>, LrpError> {
    let [total, _] = input.batch_and_steps();
    if total == 0 {
        return Err(LrpError::EmptyBatch);
    }
    let mut logits = Vec::with_capacity(total * model.num_classes());
    for range in batches(total, batch_size) {
        let start = range.start;
        let batch = input.input_range(range, model.device(), model.precision());
        let part = model
            .forward(batch)
            .and_then(host_f64)
            .map_err(|e| offset_sample(e, start))?;
        logits.extend_from_slice(&part);
    }
    Ok(logits)
}

/// A baseline attribution of every sample in host memory.
#[derive(Debug, Clone, PartialEq)]
pub struct HostAttribution {
    /// `(B, T, E)` scores, row-major.
    pub scores: Vec<f64>,
    /// `(B, C)` logits.
    pub logits: Vec<f64>,
    /// `(B)` explained classes.
    pub target: Vec<usize>,
    /// `(B)` for integrated gradients, see [`lrp_core::Attribution::completeness_error`].
    pub completeness_error: Option<Vec<f64>>,
    /// `[B, T, E]`.
    pub shape: [usize; 3],
}

/// Attributes every sample of `input` with `method`, `batch_size` at a time. An integrated
/// gradients baseline is given for all samples as `baseline` (`(B, T, E)`, on the model's input
/// vectors), and cut into the batches; the `baseline` inside `method` is ignored.
///
/// # Errors
/// Those of [`LstmModel::attribute`], with sample indices counted over the whole input; a
/// baseline of another shape than the input vectors.
pub fn attribute(
    model: &LstmModel,
    input: &InputView<'_>,
    method: &Method,
    target: &Target,
    baseline: Option<FeatureSlice<'_>>,
    batch_size: usize,
) -> Result<HostAttribution, LrpError> {
    let [total, steps] = input.batch_and_steps();
    if total == 0 {
        return Err(LrpError::EmptyBatch);
    }
    check_target(target, total)?;
    let features = match input.values {
        crate::io::ValuesView::Features { shape, .. } => shape[2],
        crate::io::ValuesView::Tokens { .. } => model.feature_size(),
    };
    let baseline = match baseline {
        Some(data) => Some(
            crate::io::ValuesView::features(data, [total, steps, features]).map_err(|e| {
                // The core's own error for a baseline of the wrong shape.
                LrpError::InvalidPadding(format!(
                    "the IG baseline must have the shape of the input vectors (B, T, E) = \
                     ({total}, {steps}, {features}): {e}"
                ))
            })?,
        ),
        None => None,
    };
    let mut out = HostAttribution {
        scores: Vec::with_capacity(total * steps * features),
        logits: Vec::with_capacity(total * model.num_classes()),
        target: Vec::with_capacity(total),
        completeness_error: None,
        shape: [total, steps, features],
    };
    for range in batches(total, batch_size) {
        let start = range.start;
        let method = match (method, &baseline) {
            (Method::IntegratedGradients { steps, .. }, Some(b)) => Method::IntegratedGradients {
                steps: *steps,
                baseline: features_tensor(model, b, range.clone()),
            },
            (other, _) => other.clone(),
        };
        let batch = input.input_range(range.clone(), model.device(), model.precision());
        let part = model
            .attribute(batch, &method, &target_of(target, range))
            .map_err(|e| offset_sample(e, start))?;
        out.scores
            .extend(host_f64(part.scores).map_err(|e| offset_sample(e, start))?);
        out.logits
            .extend(host_f64(part.logits).map_err(|e| offset_sample(e, start))?);
        out.target.extend(part.target);
        if let Some(c) = part.completeness_error {
            out.completeness_error
                .get_or_insert_with(Vec::new)
                .extend(c);
        }
    }
    Ok(out)
}

/// Samples `range` of a feature view as a tensor on the model's device, in its precision.
fn features_tensor(
    model: &LstmModel,
    view: &crate::io::ValuesView<'_>,
    range: core::ops::Range<usize>,
) -> Option<Tensor<3>> {
    let crate::io::ValuesView::Features { data, shape } = *view else {
        return None;
    };
    let [_, t, e] = shape;
    let rows = range.start * t * e..range.end * t * e;
    let values: Vec<f64> = match data {
        FeatureSlice::F64(d) => d[rows].to_vec(),
        FeatureSlice::F32(d) => d[rows].iter().map(|&v| f64::from(v)).collect(),
    };
    Some(Tensor::from_data(
        TensorData::new(values, [range.len(), t, e]),
        (model.device(), model.precision().dtype()),
    ))
}

fn host_f64<const D: usize>(t: Tensor<D>) -> Result<Vec<f64>, LrpError> {
    t.try_into_vec_as::<f64>()
        .map_err(|e| LrpError::Device(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_every_sample_once() {
        let all: Vec<_> = batches(5, 2).collect();
        assert_eq!(all, vec![0..2, 2..4, 4..5]);
        assert_eq!(batches(3, 0).count(), 3, "a batch size of 0 counts as 1");
        assert_eq!(batches(0, 4).count(), 0);
    }
}
