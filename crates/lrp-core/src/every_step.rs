//! Explaining every output of a per-step model (sequence labelling, forecasting at every step):
//! one explanation per sequence and output position, `(B, T_out, T, E)`.
//!
//! Each position `k` is explained as [`LstmModel::at_step`]`(Step::At(k))` explains it, on the
//! sequences for which `k` is a real output (not padding), so the cost is one relevance pass per
//! position and the memory that of one batch's `(B, T_out, T, E)` result.

use burn::tensor::{Int, Tensor, TensorData};

use crate::config::{ExplainConfig, Target};
use crate::error::{LrpError, Result};
use crate::input::{Input, InputValues, Padding};
use crate::model::LstmModel;
use crate::readout::{Reading, Step};
use lrp_model::Readout;

/// The explanation of every output position of a per-step model, in host memory, row-major
/// `f64`. Output positions are in the order the model returns its sequence (a last layer that
/// reads time backwards returns it reversed), `T_out = T`.
///
/// ```
/// use lrp_core::HostStepExplanations;
///
/// // B = 1 sequence of T = 2 steps, E = 1 feature, C = 1 output; position 1 is padding.
/// let host = HostStepExplanations {
///     batch: 1, steps: 2, features: 1, classes: 1,
///     relevance: vec![0.5, 0.0, 0.0, 0.0], // (B, T_out, T, E)
///     rest: vec![0.1, 0.0], logits: vec![0.6, 0.0], target: vec![0, -1],
///     valid: vec![true, false],
/// };
/// assert_eq!(host.step_relevance(), vec![0.5, 0.0, 0.0, 0.0]); // (B, T_out, T)
/// assert_eq!(host.explained_logit(0, 0), Some(0.6));
/// assert_eq!(host.explained_logit(0, 1), None); // padding: nothing explained
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HostStepExplanations {
    /// B.
    pub batch: usize,
    /// T, the input's time steps, which is also the number of output positions.
    pub steps: usize,
    /// E.
    pub features: usize,
    /// C, outputs per position.
    pub classes: usize,
    /// `(B, T_out, T, E)`: the relevance of input value `(t, e)` for the output at position `k`;
    /// 0 where the position is not [`valid`](Self::valid).
    pub relevance: Vec<f64>,
    /// `(B, T_out)`: relevance left on the initial states (and absorbed at zero denominators).
    pub rest: Vec<f64>,
    /// `(B, T_out, C)`: the logits at each position; 0 where not valid.
    pub logits: Vec<f64>,
    /// `(B, T_out)`: the explained class at each position, −1 where not valid.
    pub target: Vec<i64>,
    /// `(B, T_out)`: whether the position is a real output of the sequence (its input step is
    /// not padding).
    pub valid: Vec<bool>,
}

impl HostStepExplanations {
    /// `batch` sequences of `steps` steps with nothing explained yet: zero relevance, every
    /// position invalid.
    pub fn unexplained(batch: usize, steps: usize, features: usize, classes: usize) -> Self {
        Self {
            batch,
            steps,
            features,
            classes,
            relevance: vec![0.0; batch * steps * steps * features],
            rest: vec![0.0; batch * steps],
            logits: vec![0.0; batch * steps * classes],
            target: vec![-1; batch * steps],
            valid: vec![false; batch * steps],
        }
    }

    /// Appends the sequences of `other` (same T, E and C) after those of `self`.
    ///
    /// # Panics
    /// When the step, feature or class counts differ.
    pub fn append(&mut self, other: HostStepExplanations) {
        assert_eq!(
            (self.steps, self.features, self.classes),
            (other.steps, other.features, other.classes),
            "explanations of different shapes"
        );
        self.batch += other.batch;
        self.relevance.extend(other.relevance);
        self.rest.extend(other.rest);
        self.logits.extend(other.logits);
        self.target.extend(other.target);
        self.valid.extend(other.valid);
    }

    /// Relevance per input step `(B, T_out, T)`, summed over features.
    pub fn step_relevance(&self) -> Vec<f64> {
        self.relevance
            .chunks(self.features)
            .map(|c| c.iter().sum())
            .collect()
    }

    /// The explained logit of sequence `sample` at output position `position`; `None` where
    /// the position is padding (or out of range).
    pub fn explained_logit(&self, sample: usize, position: usize) -> Option<f64> {
        if sample >= self.batch || position >= self.steps {
            return None;
        }
        let i = sample * self.steps + position;
        self.valid[i].then(|| {
            let class = self.target[i] as usize;
            self.logits[i * self.classes + class]
        })
    }
}

impl Input {
    /// The sequences `rows` of the batch, in that order.
    pub(crate) fn select_rows(&self, rows: &[usize]) -> Input {
        let index = |device: &burn::tensor::Device| {
            let ids: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
            Tensor::<1, Int>::from_data(TensorData::new(ids, [rows.len()]), device)
        };
        let values = match &self.values {
            InputValues::Features(x) => {
                InputValues::Features(x.clone().select(0, index(&x.device())))
            }
            InputValues::Tokens(ids) => {
                InputValues::Tokens(ids.clone().select(0, index(&ids.device())))
            }
        };
        let padding = self.padding.as_ref().map(|p| match p {
            Padding::Lengths(lengths) => {
                Padding::Lengths(rows.iter().map(|&r| lengths[r]).collect())
            }
            Padding::Mask(mask) => {
                Padding::Mask(mask.clone().int().select(0, index(&mask.device())).bool())
            }
        });
        Input { values, padding }
    }
}

impl LstmModel {
    /// `(B, T_out)` row-major, `true` at the output positions of a per-step model that are real
    /// (their input step is not padding, after the model's own masking rules), in the order the
    /// model returns its outputs (as [`LstmModel::forward_steps`]).
    ///
    /// # Errors
    /// [`LrpError::NotPerStep`] for a model with one output per sequence; the input errors of
    /// [`LstmModel::forward`].
    pub fn real_outputs(&self, input: impl Into<Input>) -> Result<Vec<bool>> {
        if self.readout() != Readout::PerStep {
            return Err(LrpError::NotPerStep {
                readout: self.readout().to_string(),
            });
        }
        let prepared = self.prepare_values(input.into())?;
        let (batch, steps) = (prepared.batch, prepared.steps());
        let reversed = self.frame_reversed();
        Ok((0..batch * steps)
            .map(|i| {
                let (b, k) = (i / steps, i % steps);
                let t = if reversed { steps - 1 - k } else { k };
                prepared
                    .pad_flags
                    .as_ref()
                    .is_none_or(|pad| !pad[b * steps + t])
            })
            .collect())
    }

    /// Explains the output of a per-step model at every position of every sequence: what
    /// [`LstmModel::at_step`]`(Step::At(k))` followed by [`LstmModel::explain`] gives, for each
    /// `k`, gathered into one `(B, T_out, T, E)` result. Positions that are padding (their input
    /// step is padding) are not explained and marked in [`HostStepExplanations::valid`].
    ///
    /// The target is resolved per position: `Predicted` explains each position's largest
    /// output, `Class(c)` class `c` everywhere, `PerSample` each sequence's class at all its
    /// positions.
    ///
    /// Memory: the result holds `B · T² · E` values; explain a long input in batches.
    ///
    /// # Errors
    /// [`LrpError::NotPerStep`] for a model with one output per sequence; otherwise the errors
    /// of [`LstmModel::explain`].
    pub fn explain_every_step(
        &self,
        input: impl Into<Input>,
        config: &ExplainConfig,
    ) -> Result<HostStepExplanations> {
        if self.readout() != Readout::PerStep {
            return Err(LrpError::NotPerStep {
                readout: self.readout().to_string(),
            });
        }
        config.validate()?;
        let input = input.into();
        let mut every = self.clone();
        every.reading = Reading::PerStep;
        let real = every.real_outputs(input.clone())?;
        let [batch, steps] = input.batch_and_steps();
        if let Target::PerSample(classes) = &config.target
            && classes.len() != batch
        {
            return Err(LrpError::TargetCount {
                given: classes.len(),
                batch,
            });
        }
        if !matches!(config.target, Target::Predicted) {
            let no_logits = Tensor::zeros([batch, self.num_classes], &self.device);
            self.resolve_targets(&config.target, &no_logits, batch)?;
        }

        let (features, classes) = (self.feature_size(), self.num_classes);
        let mut out = HostStepExplanations::unexplained(batch, steps, features, classes);
        for k in 0..steps {
            let samples: Vec<usize> = (0..batch).filter(|&b| real[b * steps + k]).collect();
            if samples.is_empty() {
                continue;
            }
            let part_input = if samples.len() == batch {
                input.clone()
            } else {
                input.select_rows(&samples)
            };
            let part_config = match &config.target {
                Target::PerSample(classes) => config.clone().with_target(Target::PerSample(
                    samples.iter().map(|&b| classes[b]).collect(),
                )),
                _ => config.clone(),
            };
            let part = every
                .at_step(Step::At(k))?
                .explain(part_input, &part_config)
                .and_then(|e| e.to_host())
                .map_err(|e| in_batch(e, &samples))?;
            let per_sequence = steps * features;
            for (i, &b) in samples.iter().enumerate() {
                let at = b * steps + k;
                out.valid[at] = true;
                out.rest[at] = part.rest[i];
                out.target[at] = part.target[i];
                out.logits[at * classes..(at + 1) * classes]
                    .copy_from_slice(&part.logits[i * classes..(i + 1) * classes]);
                out.relevance[at * per_sequence..(at + 1) * per_sequence]
                    .copy_from_slice(&part.relevance[i * per_sequence..(i + 1) * per_sequence]);
            }
        }
        Ok(out)
    }
}

/// An error about a sequence of a sub-batch, with the sequence's index in the whole batch.
fn in_batch(err: LrpError, samples: &[usize]) -> LrpError {
    let whole = |s: usize| samples.get(s).copied().unwrap_or(s);
    match err {
        LrpError::NonFiniteInput { sample } => LrpError::NonFiniteInput {
            sample: whole(sample),
        },
        LrpError::EmptySequence { sample } => LrpError::EmptySequence {
            sample: whole(sample),
        },
        LrpError::TargetOutOfRange {
            sample,
            class,
            classes,
        } => LrpError::TargetOutOfRange {
            sample: whole(sample),
            class,
            classes,
        },
        LrpError::StepIsPadding { sample, step } => LrpError::StepIsPadding {
            sample: whole(sample),
            step,
        },
        other => other,
    }
}
