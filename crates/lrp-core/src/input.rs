//! What a model reads: a batch of sequences, and which of their time steps are padding.

use core::ops::Range;

use burn::tensor::{Bool, Int, Tensor, TensorData};

use crate::bucketing::Group;
use crate::error::{LrpError, Result};
use crate::model::{InputTensors, LstmModel};
use crate::readout::Reading;
use crate::tensor_ops::{to_bool_vec, to_f64_vec, to_i64_vec};

/// A batch of sequences to run or explain.
///
/// Either feature vectors `x (B, T, E)` or token ids `(B, T)` for a model with an embedding
/// layer, optionally with the padding made explicit. Without explicit padding, a model with
/// Keras masking (`Embedding(mask_zero=True)` or `Masking(mask_value)`) derives it from the
/// values; otherwise every step is real.
///
/// ```
/// # #![allow(deprecated)]
/// use burn::tensor::{Device, Tensor};
/// use lrp_core::Input;
/// let device = Device::flex();
/// let x = Tensor::<3>::zeros([2, 5, 3], &device);
/// // The second sequence has 3 real steps followed by 2 padding steps.
/// let input = Input::features(x).with_lengths(vec![5, 3]);
/// assert_eq!(input.batch_and_steps(), [2, 5]); // [B, T]
/// ```
#[derive(Debug, Clone)]
pub struct Input {
    pub(crate) values: InputValues,
    pub(crate) padding: Option<Padding>,
}

#[derive(Debug, Clone)]
pub(crate) enum InputValues {
    Features(Tensor<3>),
    Tokens(Tensor<2, Int>),
}

/// Which time steps of a padded batch are real.
// burn's `Tensor` is a sizeable inline handle; boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Padding {
    /// The number of real steps of each sequence; the steps from `lengths[b]` on are padding
    /// (post-padding, as PyTorch's `pack_padded_sequence`). One length per sample, each in `1..=T`.
    Lengths(Vec<usize>),
    /// `(B, T)`, `true` for a real step (Keras' mask convention). Any pattern is allowed, e.g.
    /// pre-padding; each sequence needs at least one real step.
    Mask(Tensor<2, Bool>),
}

impl Input {
    /// Feature vectors `x (B, T, E)`.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use burn::tensor::{Device, Tensor};
    /// use lrp_core::Input;
    ///
    /// // 4 sequences of 7 steps with 3 features.
    /// let x = Tensor::<3>::zeros([4, 7, 3], &Device::flex());
    /// assert_eq!(Input::features(x.clone()).batch_and_steps(), [4, 7]);
    /// let same: Input = x.into(); // what `explain(x, …)` does with a plain tensor
    /// assert_eq!(same.batch_and_steps(), [4, 7]);
    /// ```
    pub fn features(x: Tensor<3>) -> Self {
        Self {
            values: InputValues::Features(x),
            padding: None,
        }
    }

    /// Token ids `(B, T)` for a model with an embedding layer.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use burn::tensor::{Device, Int, Tensor, TensorData};
    /// use lrp_core::{InputLayer, LstmModel, LstmWeights, Matrix, ModelParams, RecurrentLayer};
    /// use lrp_core::{DenseLayer, Input, Precision};
    ///
    /// // A vocabulary of 3 tokens embedded in 1 dimension; id 0 is padding (Keras mask_zero).
    /// let table = Matrix::new(3, 1, vec![0.0, 1.0, -1.0])?;
    /// let input = InputLayer::Embedding { table, mask_zero: true };
    /// let lstm = RecurrentLayer::unidirectional(LstmWeights {
    ///     w_x: Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    ///     w_h: Matrix::new(1, 4, vec![0.2; 4])?,
    ///     b: vec![0.0; 4],
    /// });
    /// let head = DenseLayer::linear(Matrix::new(1, 2, vec![1.0, -1.0])?, vec![0.0; 2]);
    /// let params = ModelParams::new(input, vec![lstm], vec![head])?;
    /// let device = Device::flex();
    /// let model = LstmModel::new(&params, &device, Precision::F64)?;
    /// let ids = TensorData::new(vec![1i64, 2, 2, 0], [2, 2]);
    /// let ids = Tensor::<2, Int>::from_data(ids, &device);
    /// let host = model.explain(Input::tokens(ids), &lrp_core::ExplainConfig::new())?.to_host()?;
    /// let relevance = host.relevance;
    /// assert_eq!(relevance.len(), 2 * 2 * 1); // (B, T, E)
    /// assert_eq!(relevance[3], 0.0); // id 0: padding
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn tokens(ids: Tensor<2, Int>) -> Self {
        Self {
            values: InputValues::Tokens(ids),
            padding: None,
        }
    }

    /// Declares the real length of each sequence (post-padding).
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::{ExplainConfig, Input};
    ///
    /// # let lstm = lrp_core::LstmWeights {
    /// #     w_x: lrp_core::Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    /// #     w_h: lrp_core::Matrix::new(1, 4, vec![0.2, 0.2, 0.2, 0.2])?,
    /// #     b: vec![0.0; 4],
    /// # };
    /// # let head = lrp_core::Matrix::new(1, 2, vec![1.0, -1.0])?;
    /// # let params = lrp_core::ModelParams::single_layer(lstm, None, head, vec![0.0, 0.0])?;
    /// # #[allow(deprecated)]
    /// # let device = burn::tensor::Device::flex();
    /// # let model = lrp_core::LstmModel::new(&params, &device, lrp_core::Precision::F64)?;
    /// // `model`: 1 feature, 1 hidden unit, 2 classes, f64 (as in the `LstmModel` example).
    /// // Two sequences of 3 steps; the second has 2 real steps, then padding (any value).
    /// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]], [[0.3], [0.7], [9.9]]], &device);
    /// let input = Input::features(x).with_lengths(vec![3, 2]);
    /// let host = model.explain(input, &ExplainConfig::new())?.to_host()?;
    /// assert_eq!(host.relevance[1 * 3 + 2], 0.0); // (b, t) = (1, 2) is padding
    /// // The padded sequence scores as if it had been given alone.
    /// let alone = model.forward(Tensor::<3>::from_floats([[[0.3], [0.7]]], &device))?;
    /// let alone = alone.try_into_vec_as::<f64>()?;
    /// assert!((host.logits[2] - alone[0]).abs() < 1e-12);
    /// assert!((host.logits[3] - alone[1]).abs() < 1e-12);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_lengths(mut self, lengths: Vec<usize>) -> Self {
        self.padding = Some(Padding::Lengths(lengths));
        self
    }

    /// Declares the real steps with a `(B, T)` mask, `true` = real.
    ///
    /// ```
    /// use burn::tensor::{Bool, Tensor, TensorData};
    /// use lrp_core::{ExplainConfig, Input};
    ///
    /// # let lstm = lrp_core::LstmWeights {
    /// #     w_x: lrp_core::Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    /// #     w_h: lrp_core::Matrix::new(1, 4, vec![0.2, 0.2, 0.2, 0.2])?,
    /// #     b: vec![0.0; 4],
    /// # };
    /// # let head = lrp_core::Matrix::new(1, 2, vec![1.0, -1.0])?;
    /// # let params = lrp_core::ModelParams::single_layer(lstm, None, head, vec![0.0, 0.0])?;
    /// # #[allow(deprecated)]
    /// # let device = burn::tensor::Device::flex();
    /// # let model = lrp_core::LstmModel::new(&params, &device, lrp_core::Precision::F64)?;
    /// // `model`: 1 feature, 1 hidden unit, 2 classes, f64 (as in the `LstmModel` example).
    /// // Pre-padding: the first step of the sequence is padding.
    /// let x = Tensor::<3>::from_floats([[[5.0], [1.0], [2.0]]], &device);
    /// let mask = TensorData::new(vec![false, true, true], [1, 3]);
    /// let mask = Tensor::<2, Bool>::from_data(mask, &device);
    /// let input = Input::features(x).with_mask(mask);
    /// let host = model.explain(input, &ExplainConfig::new())?.to_host()?;
    /// assert_eq!(host.relevance[0], 0.0);
    /// assert_ne!(host.relevance[1], 0.0);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn with_mask(mut self, mask: Tensor<2, Bool>) -> Self {
        self.padding = Some(Padding::Mask(mask));
        self
    }

    /// `[B, T]`.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use burn::tensor::{Device, Int, Tensor};
    /// use lrp_core::Input;
    ///
    /// let ids = Tensor::<2, Int>::zeros([8, 20], &Device::flex());
    /// assert_eq!(Input::tokens(ids).with_lengths(vec![20; 8]).batch_and_steps(), [8, 20]);
    /// ```
    pub fn batch_and_steps(&self) -> [usize; 2] {
        match &self.values {
            InputValues::Features(x) => {
                let [b, t, _] = x.dims();
                [b, t]
            }
            InputValues::Tokens(ids) => ids.dims(),
        }
    }
}

impl From<Tensor<3>> for Input {
    fn from(x: Tensor<3>) -> Self {
        Input::features(x)
    }
}

impl From<Tensor<2, Int>> for Input {
    fn from(ids: Tensor<2, Int>) -> Self {
        Input::tokens(ids)
    }
}

/// A validated input, time-major, in the model's dtype and on its device.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    /// `(T', B, E)`: the vectors the first LSTM layer reads, over the window of time steps where
    /// some sequence is real.
    pub x: Tensor<3>,
    /// `(T, B, E)`: the same over every time step of the input.
    pub full_x: Tensor<3>,
    /// `(T, B)`, `true` at padding; `None` when every step is real.
    pub pad: Option<Tensor<2, Bool>>,
    pub batch: usize,
    /// The input's time steps before and after the window `x` covers: steps that are padding in
    /// every sequence are not computed at all (their relevance is 0 and their state unchanged).
    pub trimmed: (usize, usize),
    /// Per sample, the steps from its first to its last real step (input time); `None` when
    /// every step is real.
    pub windows: Option<Vec<Range<usize>>>,
    /// `(B, T)` row-major, true at padding (host copy of the mask); `None` without padding.
    pub pad_flags: Option<Vec<bool>>,
    /// Per step of the window (`T'`), how many leading samples are real, when at every step the
    /// real samples are the first ones (a batch sorted by length, as [`crate::bucketing`]
    /// orders its groups): the recurrences then compute only those rows, as PyTorch's packed
    /// sequences do, instead of computing every row and masking. `None` otherwise (and
    /// without padding).
    pub active: Option<Vec<usize>>,
}

/// How many leading samples are real at each of `t_len` steps, when the real samples of every
/// step are exactly the first ones and at least one; `None` otherwise.
fn active_prefix(
    t_len: usize,
    batch: usize,
    is_pad: impl Fn(usize, usize) -> bool,
) -> Option<Vec<usize>> {
    (0..t_len)
        .map(|t| {
            let n = (0..batch).take_while(|&b| !is_pad(t, b)).count();
            (n > 0 && (n..batch).all(|b| is_pad(t, b))).then_some(n)
        })
        .collect()
}

impl Prepared {
    /// The input's number of time steps `T`.
    pub fn steps(&self) -> usize {
        self.full_x.dims()[0]
    }

    /// Every sample, in batch order, over the window of steps `x` covers: the batch as one
    /// [`Group`].
    pub fn whole(&self) -> Group {
        let (before, after) = self.trimmed;
        Group {
            samples: (0..self.batch).collect(),
            window: before..self.steps() - after,
        }
    }

    /// The samples `samples` alone, over the input steps `window` (which must hold all their
    /// real steps): what [`crate::bucketing`] explains as one group.
    pub fn subset(&self, samples: &[usize], window: Range<usize>) -> Prepared {
        let steps = self.steps();
        let device = self.full_x.device();
        let ids: Vec<i64> = samples.iter().map(|&s| s as i64).collect();
        let index: Tensor<1, Int> =
            Tensor::from_data(TensorData::new(ids, [samples.len()]), &device);
        let full_x = self.full_x.clone().select(1, index);
        // Time-major flags of the group inside its window; no mask at all when none is padding.
        let pad = self.pad_flags.as_ref().and_then(|flags| {
            let group: Vec<bool> = window
                .clone()
                .flat_map(|t| samples.iter().map(move |&s| flags[s * steps + t]))
                .collect();
            group.iter().any(|&p| p).then(|| {
                Tensor::from_data(
                    TensorData::new(group, [window.len(), samples.len()]),
                    &device,
                )
            })
        });
        let active = match (&pad, &self.pad_flags) {
            (Some(_), Some(flags)) => active_prefix(window.len(), samples.len(), |t, b| {
                flags[samples[b] * steps + window.start + t]
            }),
            _ => None,
        };
        Prepared {
            x: full_x.clone().slice_dim(0, window.clone()),
            full_x,
            pad,
            batch: samples.len(),
            trimmed: (window.start, steps - window.end),
            windows: None,
            pad_flags: None,
            active,
        }
    }

    /// Extends a time-major `(T', B, F)` result over the trimmed steps with zeros, back to the
    /// input's `T`.
    pub fn untrim<const D: usize>(&self, t: Tensor<D>) -> Tensor<D> {
        self.untrim_by(self.trimmed, t)
    }

    /// [`Prepared::untrim`] with `before` zero steps prepended and `after` appended (a frame
    /// that runs backwards in input time swaps the two).
    pub fn untrim_by<const D: usize>(
        &self,
        (before, after): (usize, usize),
        t: Tensor<D>,
    ) -> Tensor<D> {
        if before == 0 && after == 0 {
            return t;
        }
        let mut parts = Vec::with_capacity(3);
        let zeros = |n: usize| {
            let mut shape = t.dims();
            shape[0] = n;
            Tensor::<D>::zeros(shape, (&t.device(), t.dtype()))
        };
        if before > 0 {
            parts.push(zeros(before));
        }
        parts.push(t.clone());
        if after > 0 {
            parts.push(zeros(after));
        }
        Tensor::cat(parts, 0)
    }
}

impl LstmModel {
    /// Validates `input` against the model (and against its reading: a per-step model needs a
    /// chosen step, and the step must be real in every sequence) and brings it into the layout
    /// the passes use.
    pub(crate) fn prepare(&self, input: Input) -> Result<Prepared> {
        let prepared = self.prepare_values(input)?;
        self.check_reading(&prepared)?;
        Ok(prepared)
    }

    /// Checks the model's reading against a prepared input.
    fn check_reading(&self, prepared: &Prepared) -> Result<()> {
        match self.reading {
            Reading::PerStep => Err(LrpError::StepRequired),
            Reading::At(k) => {
                let steps = prepared.steps();
                if k >= steps {
                    return Err(LrpError::StepOutOfRange { step: k, steps });
                }
                if let Some(flags) = &prepared.pad_flags {
                    // The position in input time: the last layer may read time backwards.
                    let t = if self.frame_reversed() {
                        steps - 1 - k
                    } else {
                        k
                    };
                    if let Some(sample) = (0..prepared.batch).find(|&b| flags[b * steps + t]) {
                        return Err(LrpError::StepIsPadding { sample, step: k });
                    }
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Validates `input` against the model's input layer and brings it into the layout the
    /// passes use (no check of the reading).
    pub(crate) fn prepare_values(&self, input: Input) -> Result<Prepared> {
        let [batch, steps] = input.batch_and_steps();
        if batch == 0 {
            return Err(LrpError::EmptyBatch);
        }
        if steps == 0 {
            return Err(LrpError::EmptySequence { sample: 0 });
        }
        let (x, derived_pad) = match (&self.input, input.values) {
            (InputTensors::Features { size, mask_value }, InputValues::Features(x)) => {
                let e = x.dims()[2];
                if e != *size {
                    return Err(LrpError::FeatureSize {
                        expected: *size,
                        actual: e,
                    });
                }
                let x = x.to_device(&self.device).cast(self.precision.float_dtype());
                check_finite(&x)?;
                let pad = mask_value.map(|v| {
                    // Keras `Masking`: a step is padding when all its features equal the value.
                    x.clone().equal_elem(v).all_dim(2).reshape([batch, steps])
                });
                (x, pad)
            }
            (
                InputTensors::Embedding {
                    table,
                    vocab,
                    mask_zero,
                },
                InputValues::Tokens(ids),
            ) => {
                let ids = ids.to_device(&self.device);
                check_token_range(&ids, *vocab)?;
                let pad = mask_zero.then(|| ids.clone().equal_elem(0));
                let flat = ids.reshape([batch * steps]);
                let e = table.dims()[1];
                let x = table.clone().select(0, flat).reshape([batch, steps, e]);
                (x, pad)
            }
            (InputTensors::Features { .. }, InputValues::Tokens(_)) => {
                return Err(LrpError::InputRank {
                    expected: 3,
                    actual: 2,
                    layout: "(batch, time, features): this model has no embedding layer",
                });
            }
            (InputTensors::Embedding { .. }, InputValues::Features(_)) => {
                return Err(LrpError::InputRank {
                    expected: 2,
                    actual: 3,
                    layout: "(batch, time) token ids: this model starts with an embedding layer",
                });
            }
        };
        // Explicit padding overrides what the model derives from the values.
        let pad = match input.padding {
            Some(Padding::Lengths(lengths)) => Some(self.lengths_to_pad(&lengths, batch, steps)?),
            Some(Padding::Mask(mask)) => {
                let dims = mask.dims();
                if dims != [batch, steps] {
                    return Err(LrpError::InvalidPadding(format!(
                        "the mask has shape {dims:?}, expected [batch, time] = [{batch}, {steps}]"
                    )));
                }
                Some(mask.to_device(&self.device).bool_not())
            }
            None => derived_pad,
        };
        let CheckedPadding {
            pad,
            trimmed,
            windows,
            flags,
        } = match pad {
            Some(pad) => self.check_padding(pad, batch, steps)?,
            None => CheckedPadding {
                pad: None,
                trimmed: (0, 0),
                windows: None,
                flags: None,
            },
        };
        let (before, after) = trimmed;
        let window = before..steps - after;
        let full_x = x.swap_dims(0, 1);
        let active = match (&pad, &flags) {
            (Some(_), Some(flags)) => {
                active_prefix(window.len(), batch, |t, b| flags[b * steps + before + t])
            }
            _ => None,
        };
        Ok(Prepared {
            x: full_x.clone().slice_dim(0, window.clone()),
            full_x,
            pad: pad.map(|p| p.swap_dims(0, 1).slice_dim(0, window)),
            batch,
            trimmed,
            windows,
            pad_flags: flags,
            active,
        })
    }

    fn lengths_to_pad(
        &self,
        lengths: &[usize],
        batch: usize,
        steps: usize,
    ) -> Result<Tensor<2, Bool>> {
        if lengths.len() != batch {
            return Err(LrpError::InvalidPadding(format!(
                "{} lengths were given for a batch of {batch} sequences",
                lengths.len()
            )));
        }
        if let Some((sample, &len)) = lengths.iter().enumerate().find(|(_, l)| **l > steps) {
            return Err(LrpError::InvalidPadding(format!(
                "sequence {sample} has length {len}, longer than the input's {steps} time steps"
            )));
        }
        let pad: Vec<bool> = lengths
            .iter()
            .flat_map(|&len| (0..steps).map(move |t| t >= len))
            .collect();
        Ok(Tensor::from_data(
            TensorData::new(pad, [batch, steps]),
            &self.device,
        ))
    }

    /// Checks that every sequence has a real step. Returns the mask (`None` when no step is
    /// padding) and how many leading and trailing steps are padding in every sequence.
    fn check_padding(
        &self,
        pad: Tensor<2, Bool>,
        batch: usize,
        steps: usize,
    ) -> Result<CheckedPadding> {
        let flags = to_bool_vec(pad.clone())?;
        debug_assert_eq!(flags.len(), batch * steps);
        let mut first = steps;
        let mut last = 0;
        let mut windows = Vec::with_capacity(batch);
        for (sample, row) in flags.chunks(steps).enumerate() {
            let Some(f) = row.iter().position(|&p| !p) else {
                return Err(LrpError::EmptySequence { sample });
            };
            let l = row.iter().rposition(|&p| !p).expect("a real step exists");
            first = first.min(f);
            last = last.max(l);
            windows.push(f..l + 1);
        }
        let trimmed = (first, steps - 1 - last);
        let any_padding = flags
            .chunks(steps)
            .any(|row| row[first..=last].iter().any(|&p| p));
        Ok(CheckedPadding {
            pad: any_padding.then_some(pad),
            trimmed,
            windows: Some(windows),
            flags: Some(flags),
        })
    }
}

/// A validated padding mask.
struct CheckedPadding {
    /// `(B, T)`, true at padding; `None` when no step inside the trimmed window is padding.
    pad: Option<Tensor<2, Bool>>,
    /// How many leading and trailing steps are padding in every sequence.
    trimmed: (usize, usize),
    /// Per sample, first to last real step.
    windows: Option<Vec<Range<usize>>>,
    /// `(B, T)` row-major, true at padding.
    flags: Option<Vec<bool>>,
}

fn check_finite(x: &Tensor<3>) -> Result<()> {
    // One float reduction over the whole batch first: 0 · v is ±0 for every finite v and NaN
    // for ±∞ and NaN, and a sum is NaN exactly when one of its terms is. Two passes, where
    // `is_finite` takes five (two predicates, two negations, a conjunction, each a new buffer)
    // and a byte-wise `all` (~0.8 ms per batch of the benchmark on the CLI's main thread, with
    // the workers waiting). The per-sample flags are computed only to name a bad sample.
    let zero_sum = to_f64_vec(x.clone().mul_scalar(0.0).sum())?;
    if zero_sum.first().is_some_and(|s| !s.is_nan()) {
        return Ok(());
    }
    let [b, _, _] = x.dims();
    let ok = x.clone().is_finite().all_dim(2).all_dim(1).reshape([b]);
    match to_bool_vec(ok)?.iter().position(|&ok| !ok) {
        Some(sample) => Err(LrpError::NonFiniteInput { sample }),
        None => Ok(()),
    }
}

fn check_token_range(ids: &Tensor<2, Int>, vocab: usize) -> Result<()> {
    let [_, t] = ids.dims();
    let values = to_i64_vec(ids.clone())?;
    match values
        .iter()
        .position(|&id| id < 0 || id as u64 >= vocab as u64)
    {
        Some(pos) => Err(LrpError::TokenOutOfRange {
            sample: pos / t,
            id: values[pos],
            vocab,
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[allow(deprecated)]
    fn batch(values: Vec<f64>, dtype: burn::tensor::DType) -> Tensor<3> {
        let device = burn::tensor::Device::flex();
        let n = values.len();
        Tensor::from_data(TensorData::new(values, [n, 1, 1]), (&device, dtype))
    }

    #[test]
    fn the_finiteness_test_accepts_extreme_finite_values_and_names_the_bad_sample() {
        use burn::tensor::DType;
        for (dtype, max, tiny) in [
            (DType::F64, f64::MAX, f64::MIN_POSITIVE / 4.0),
            (
                DType::F32,
                f64::from(f32::MAX),
                f64::from(f32::MIN_POSITIVE) / 4.0,
            ),
        ] {
            // Sums of these would overflow; 0 · v does not. Subnormals and −0 are finite too.
            let finite = vec![max, -max, tiny, -0.0, 1.0, max];
            assert_eq!(
                check_finite(&batch(finite.clone(), dtype)),
                Ok(()),
                "{dtype:?}"
            );
            for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                let mut values = finite.clone();
                values[4] = bad;
                assert_eq!(
                    check_finite(&batch(values, dtype)),
                    Err(LrpError::NonFiniteInput { sample: 4 }),
                    "{dtype:?} {bad}"
                );
            }
        }
    }
}
