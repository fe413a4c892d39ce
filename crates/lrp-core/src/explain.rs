//! The public entry points: [`LstmModel::forward`] and [`LstmModel::explain`], and their result.

use burn::tensor::{Bool, Int, Tensor, TensorData};

use rayon::prelude::*;

use crate::bucketing::{self, Group};
use crate::config::{ExplainConfig, GateRule, Target};
use crate::error::{LrpError, Result};
use crate::forward::Top;
use crate::input::{Input, Prepared};
use crate::model::LstmModel;
use crate::params::Readout;
use crate::rules::epsilon::EpsilonRule;
use crate::tensor_ops::{to_f64_vec, to_i64_vec};

/// The result of [`LstmModel::explain`], on the model's device.
///
/// ```
/// use burn::tensor::Tensor;
/// use lrp_core::ExplainConfig;
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
/// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]], [[0.0], [1.0], [1.0]]], &device);
/// let e = model.explain(x, &ExplainConfig::new())?; // (B, T, E) = (2, 3, 1)
/// assert_eq!(e.relevance.dims(), [2, 3, 1]);
/// assert_eq!((e.rest.dims(), e.logits.dims(), e.target.dims()), ([2], [2, 2], [2]));
/// # Ok::<(), lrp_core::LrpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Explanation {
    /// Relevance of every input value, `(B, T, E)`, in the units of the logit: for feature input
    /// per feature, for token input per embedding dimension. Padding steps hold exactly 0.
    pub relevance: Tensor<3>,
    /// `(B)`: relevance left on the initial states `h`, `c` of every LSTM layer and direction.
    /// With `eps = 0` and `bias_factor = 1`, `relevance.sum() + rest` equals the explained logit.
    pub rest: Tensor<1>,
    /// `(B, C)`: the model's scores before the last layer's activation (softmax/sigmoid are
    /// skipped; the explained score is the logit).
    pub logits: Tensor<2>,
    /// `(B)`: the explained class per sample.
    pub target: Tensor<1, Int>,
}

impl Explanation {
    /// Relevance per time step (token), `(B, T)`: the sum over the feature/embedding axis.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::ExplainConfig;
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
    /// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device);
    /// let e = model.explain(x, &ExplainConfig::new())?;
    /// let steps = e.step_relevance(); // (B, T) = (1, 3)
    /// assert_eq!(steps.dims(), [1, 3]);
    /// let total: f64 = e.relevance.sum().into_scalar();
    /// assert!((steps.sum().into_scalar::<f64>() - total).abs() < 1e-12);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn step_relevance(&self) -> Tensor<2> {
        let [b, t, _] = self.relevance.dims();
        self.relevance.clone().sum_dim(2).reshape([b, t])
    }

    /// Copies the explanation to host memory as `f64`.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::ExplainConfig;
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
    /// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device);
    /// let host = model.explain(x, &ExplainConfig::new())?.to_host()?;
    /// assert_eq!((host.batch, host.steps, host.features, host.classes), (1, 3, 1, 2));
    /// assert_eq!((host.relevance.len(), host.logits.len()), (3, 2));
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn to_host(&self) -> Result<HostExplanation> {
        let [batch, steps, features] = self.relevance.dims();
        let classes = self.logits.dims()[1];
        Ok(HostExplanation {
            batch,
            steps,
            features,
            classes,
            relevance: to_f64_vec(self.relevance.clone())?,
            rest: to_f64_vec(self.rest.clone())?,
            logits: to_f64_vec(self.logits.clone())?,
            target: to_i64_vec(self.target.clone())?,
        })
    }
}

/// An [`Explanation`] in host memory, row-major `f64`.
///
/// ```
/// use lrp_core::HostExplanation;
///
/// // B = 2 samples of T = 1 step with E = 2 features, C = 2 classes.
/// let host = HostExplanation {
///     batch: 2, steps: 1, features: 2, classes: 2,
///     relevance: vec![0.5, 0.25, -1.0, 0.0],
///     rest: vec![0.25, 0.0],
///     logits: vec![1.0, -1.0, 0.3, 0.7],
///     target: vec![0, 1],
/// };
/// assert_eq!(host.explained_logits(), vec![1.0, 0.7]);
/// assert_eq!(host.step_relevance(), vec![0.75, -1.0]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HostExplanation {
    /// B.
    pub batch: usize,
    /// T.
    pub steps: usize,
    /// E.
    pub features: usize,
    /// C.
    pub classes: usize,
    /// `(B, T, E)`.
    pub relevance: Vec<f64>,
    /// `(B)`.
    pub rest: Vec<f64>,
    /// `(B, C)`.
    pub logits: Vec<f64>,
    /// `(B)`.
    pub target: Vec<i64>,
}

impl HostExplanation {
    /// The explained logit of each sample, `logits[b, target[b]]`.
    ///
    /// ```
    /// use lrp_core::HostExplanation;
    ///
    /// let host = HostExplanation {
    ///     batch: 2, steps: 1, features: 1, classes: 3,
    ///     relevance: vec![0.1, 0.2], rest: vec![0.0, 0.0],
    ///     logits: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], // (B, C)
    ///     target: vec![2, 0],
    /// };
    /// assert_eq!(host.explained_logits(), vec![3.0, 4.0]);
    /// ```
    pub fn explained_logits(&self) -> Vec<f64> {
        self.target
            .iter()
            .enumerate()
            .map(|(b, &c)| self.logits[b * self.classes + c as usize])
            .collect()
    }

    /// Appends the samples of `other` (same T, E and C) after those of `self`.
    ///
    /// # Panics
    /// When the step, feature or class counts differ.
    ///
    /// ```
    /// use lrp_core::HostExplanation;
    ///
    /// let one = |r: f64, c: i64| HostExplanation {
    ///     batch: 1, steps: 1, features: 1, classes: 2,
    ///     relevance: vec![r], rest: vec![0.0], logits: vec![r, -r], target: vec![c],
    /// };
    /// let mut all = one(0.5, 0);
    /// all.append(one(2.0, 1)); // e.g. the next batch of a stream
    /// assert_eq!((all.batch, all.target.clone()), (2, vec![0, 1]));
    /// assert_eq!(all.explained_logits(), vec![0.5, -2.0]);
    /// ```
    pub fn append(&mut self, other: HostExplanation) {
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
    }

    /// Relevance per time step, `(B, T)`, summed over features.
    ///
    /// ```
    /// use lrp_core::HostExplanation;
    ///
    /// let host = HostExplanation {
    ///     batch: 1, steps: 2, features: 3, classes: 1,
    ///     relevance: vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.5], // (B, T, E) = (1, 2, 3)
    ///     rest: vec![0.0], logits: vec![6.0], target: vec![0],
    /// };
    /// assert_eq!(host.step_relevance(), vec![6.0, 0.0]);
    /// ```
    pub fn step_relevance(&self) -> Vec<f64> {
        self.relevance
            .chunks(self.features)
            .map(|c| c.iter().sum())
            .collect()
    }
}

/// The output of every layer for one batch, batch-major, for checking an imported model against
/// the framework it came from.
///
/// ```
/// use burn::tensor::Tensor;
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
/// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device);
/// let out = model.forward_layers(x.clone())?;
/// assert_eq!((out.inputs.dims(), out.final_state.dims()), ([1, 3, 1], [1, 1])); // H = 1
/// assert!(out.sequences.is_empty() && out.hidden.is_empty()); // one LSTM, one Dense layer
/// let logits = model.forward(x)?;
/// assert!((out.logits - logits).abs().max().into_scalar::<f64>() < 1e-15);
/// # Ok::<(), lrp_core::LrpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LayerOutputs {
    /// The vectors the first LSTM layer reads, `(B, T, E)`: the embedding lookup for token
    /// models (the row of the padding id at padding steps, as Keras').
    pub inputs: Tensor<3>,
    /// The output sequence `(B, T, out)` of every LSTM layer but the last (0 at padding steps).
    pub sequences: Vec<Tensor<3>>,
    /// The last LSTM layer's merged final state `(B, out)`.
    pub final_state: Tensor<2>,
    /// Every Dense layer's output after its activation, except the last.
    pub hidden: Vec<Tensor<2>>,
    /// The last Dense layer's output before its activation: the logits `(B, C)`.
    pub logits: Tensor<2>,
}

impl LstmModel {
    /// The output of every layer; see [`LayerOutputs`].
    ///
    /// ```
    /// use burn::tensor::Tensor;
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
    /// let x = Tensor::<3>::from_floats([[[1.0], [-0.5]], [[2.0], [0.0]]], &device);
    /// let out = model.forward_layers(x)?; // (B, T, E) = (2, 2, 1)
    /// assert_eq!(out.logits.dims(), [2, 2]);
    /// // The head is linear, w = [1, −1], b = 0: the logits are (h, −h).
    /// let logits = out.logits.try_into_vec_as::<f64>()?;
    /// let h = out.final_state.try_into_vec_as::<f64>()?;
    /// assert_eq!(logits, vec![h[0], -h[0], h[1], -h[1]]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forward_layers(&self, input: impl Into<Input>) -> Result<LayerOutputs> {
        let prepared = self.prepare(input.into())?;
        let trace = self.run(&prepared, false);
        Ok(LayerOutputs {
            inputs: prepared.full_x.clone().swap_dims(0, 1),
            sequences: trace
                .sequences
                .iter()
                .map(|s| prepared.untrim(s.clone()).swap_dims(0, 1))
                .collect(),
            final_state: trace.head_inputs[0].clone(),
            hidden: trace.hidden.clone(),
            logits: trace.logits(),
        })
    }

    /// The logits `(B, C)` (scores before the last layer's softmax/sigmoid).
    ///
    /// ```
    /// use burn::tensor::Tensor;
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
    /// // (B, T, E) = (1, 3, 1).
    /// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device);
    /// let logits = model.forward(x)?.try_into_vec_as::<f64>()?; // (B, C) = (1, 2)
    /// // Head w = [1, −1]: the two logits are h and −h, with h = o·tanh(c) in (−1, 1).
    /// assert_eq!(logits[0], -logits[1]);
    /// assert!(logits[0].abs() < 1.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forward(&self, input: impl Into<Input>) -> Result<Tensor<2>> {
        let prepared = self.prepare(input.into())?;
        let shards = self.sample_shards(prepared.batch);
        if shards <= 1 {
            return Ok(self.run(&prepared, false).logits());
        }
        // Shards of consecutive samples as parallel tasks (see `with_parallel_samples`).
        let parts: Vec<Tensor<2>> =
            bucketing::shard(&prepared.whole(), prepared.windows.as_deref(), shards)
                .par_iter()
                .map(|g| {
                    let sub = prepared.subset(&g.samples, g.window.clone());
                    self.run(&sub, false).logits()
                })
                .collect();
        Ok(Tensor::cat(parts, 0))
    }

    /// How many shards a batch (or length group) of `samples` is explained in: one per rayon
    /// thread that the layers' parallel directions leave idle, at most one per sample; 1
    /// without [`LstmModel::with_parallel_samples`].
    ///
    /// There is no larger minimum per shard: on 2 cores, a unidirectional explanation split into
    /// two shards was faster than one task whose products are split over the threads at every
    /// batch size measured from 2 to 40 (f64 1.1–1.7×, f32 1.6–2.4×; batch 10: 0.83 → 0.63
    /// ms/sample in f64, 0.46 → 0.25 in f32), and as fast at 64 (`benches/README.md` §7, round
    /// 2g). A shard's own products run on one core without waiting for the other at every step.
    fn sample_shards(&self, samples: usize) -> usize {
        if !self.parallel_samples {
            return 1;
        }
        let directions = match self.parallel_directions {
            true => self
                .layers
                .iter()
                .map(|l| l.directions())
                .max()
                .unwrap_or(1),
            false => 1,
        };
        (rayon::current_num_threads() / directions)
            .min(samples)
            .max(1)
    }

    /// The outputs of a per-step model at every position of its output sequence, `(B, T, C)`
    /// (logits: the last layer's softmax or sigmoid is not applied). Positions are in the order
    /// the model returns its sequence. At a sequence's padding positions the value is the
    /// head's output on a zero vector, which has no meaning: use the lengths or mask.
    ///
    /// # Errors
    /// [`LrpError::NotPerStep`] for a model with one output per sequence; the input errors of
    /// [`LstmModel::forward`].
    pub fn forward_steps(&self, input: impl Into<Input>) -> Result<Tensor<3>> {
        if self.readout() != Readout::PerStep {
            return Err(LrpError::NotPerStep {
                readout: self.readout().to_string(),
            });
        }
        let prepared = self.prepare_values(input.into())?;
        let Top::Sequence(seq, _) = self.run_layers(&prepared, false, false).top else {
            unreachable!("a per-step model reads the last layer's sequence")
        };
        let out = self.head_per_step(seq);
        let (before, after) = prepared.trimmed;
        let around = if self.frame_reversed() {
            (after, before)
        } else {
            (before, after)
        };
        Ok(prepared.untrim_by(around, out).swap_dims(0, 1))
    }

    /// Explains the target class of every sample with LRP.
    ///
    /// Returns the relevance of every input value `(B, T, E)`, the rest `(B)`, the logits
    /// `(B, C)` and the explained class `(B)`; see [`Explanation`].
    ///
    /// # Errors
    /// An [`LrpError`] naming the problem for an invalid setting, an input of the wrong size,
    /// an empty batch or sequence, NaN or infinite input values, token ids outside the
    /// vocabulary, padding that does not fit, or a target class out of range.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::{ExplainConfig, LrpError};
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
    /// let x = [[[1.0], [-0.5], [2.0]], [[-1.0], [0.5], [-2.0]]]; // (B, T, E) = (2, 3, 1)
    /// let x = Tensor::<3>::from_floats(x, &device);
    /// let config = ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0);
    /// let host = model.explain(x, &config)?.to_host()?;
    /// for b in 0..2 {
    ///     // The predicted class is explained; its logit is the larger one.
    ///     let logits = &host.logits[2 * b..2 * b + 2];
    ///     assert_eq!(host.explained_logits()[b], logits[0].max(logits[1]));
    ///     // Conservation: relevance of the 3 steps plus the rest = the explained logit.
    ///     let total = host.relevance[3 * b..3 * b + 3].iter().sum::<f64>() + host.rest[b];
    ///     assert!((total - host.explained_logits()[b]).abs() < 1e-12);
    /// }
    /// let wrong = Tensor::<3>::zeros([1, 3, 2], &device); // 2 features, the model reads 1
    /// assert!(matches!(model.explain(wrong, &config), Err(LrpError::FeatureSize { .. })));
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn explain(&self, input: impl Into<Input>, config: &ExplainConfig) -> Result<Explanation> {
        config.validate()?;
        let prepared = self.prepare(input.into())?;
        if let Target::PerSample(classes) = &config.target
            && classes.len() != prepared.batch
        {
            return Err(LrpError::TargetCount {
                given: classes.len(),
                batch: prepared.batch,
            });
        }
        // Fixed target classes are checked against the whole batch first, so that an error
        // names the sample's index in the batch, not in its group.
        if !matches!(config.target, Target::Predicted) {
            let no_logits = Tensor::zeros([prepared.batch, self.num_classes], &self.device);
            self.resolve_targets(&config.target, &no_logits, prepared.batch)?;
        }
        let groups = match &prepared.windows {
            Some(windows) => bucketing::plan(windows, self.packed_steps),
            None => vec![prepared.whole()],
        };
        // Each group in shards of consecutive samples, run as parallel tasks on CPU backends.
        let jobs: Vec<Vec<Group>> = groups
            .iter()
            .map(|g| {
                let shards = self.sample_shards(g.samples.len());
                bucketing::shard(g, prepared.windows.as_deref(), shards)
            })
            .collect();
        // One group in batch order: no gather or scatter needed.
        let as_is = matches!(&jobs[..], [one] if one.len() == 1
            && one[0].samples.iter().enumerate().all(|(i, &s)| i == s));
        if as_is {
            let (relevance, rest, logits, targets) =
                self.explain_prepared(&prepared, &config.target, config)?;
            return Ok(Explanation {
                relevance: relevance.swap_dims(0, 1),
                rest,
                logits,
                target: self.target_tensor(&targets),
            });
        }
        // Groups of similar length (see `bucketing`) one after the other, each group's shards
        // side by side, then every result back in batch order.
        let explain_group = |group: &Group| {
            let target = match &config.target {
                Target::PerSample(classes) => {
                    Target::PerSample(group.samples.iter().map(|&s| classes[s]).collect())
                }
                other => other.clone(),
            };
            let sub = prepared.subset(&group.samples, group.window.clone());
            self.explain_prepared(&sub, &target, config)
        };
        let mut relevance = Vec::with_capacity(groups.len());
        let mut rest = Vec::with_capacity(groups.len());
        let mut logits = Vec::with_capacity(groups.len());
        let mut targets = vec![0; prepared.batch];
        let mut position = vec![0i64; prepared.batch];
        let mut next = 0;
        for shards in &jobs {
            let results: Vec<_> = match &shards[..] {
                [one] => vec![explain_group(one)],
                many => many.par_iter().map(explain_group).collect(),
            };
            for (group, result) in shards.iter().zip(results) {
                let (r, re, lo, ta) = result?;
                for (&sample, class) in group.samples.iter().zip(ta) {
                    targets[sample] = class;
                    position[sample] = next;
                    next += 1;
                }
                relevance.push(r);
                rest.push(re);
                logits.push(lo);
            }
        }
        let (mut relevance, mut rest, mut logits) = (
            Tensor::cat(relevance, 1),
            Tensor::cat(rest, 0),
            Tensor::cat(logits, 0),
        );
        // Back in batch order, unless the results are in it (shards of a batch in its order).
        if position.iter().enumerate().any(|(i, &p)| p != i as i64) {
            let order: Tensor<1, Int> =
                Tensor::from_data(TensorData::new(position, [prepared.batch]), &self.device);
            relevance = relevance.select(1, order.clone());
            rest = rest.select(0, order.clone());
            logits = logits.select(0, order);
        }
        Ok(Explanation {
            relevance: relevance.swap_dims(0, 1),
            rest,
            logits,
            target: self.target_tensor(&targets),
        })
    }

    /// The forward and relevance pass over one prepared batch: relevance `(T, B, E)`
    /// (time-major, every input step), rest `(B)`, logits `(B, C)` and the explained classes.
    fn explain_prepared(
        &self,
        prepared: &Prepared,
        target: &Target,
        config: &ExplainConfig,
    ) -> Result<(Tensor<3>, Tensor<1>, Tensor<2>, Vec<usize>)> {
        let trace = self.run_traced(prepared, true, config.gate_rule != GateRule::All);
        let logits = trace.logits();
        let targets = self.resolve_targets(target, &logits, prepared.batch)?;
        let start = self.target_relevance(&logits, &targets);
        let rule = EpsilonRule {
            eps: config.eps,
            bias_factor: config.bias_factor,
        };
        let (relevance, rest) = self.relevance(&trace, start, rule, config.gate_rule);
        Ok((prepared.untrim(relevance), rest, logits, targets))
    }

    fn target_tensor(&self, targets: &[usize]) -> Tensor<1, Int> {
        Tensor::from_data(
            TensorData::new(targets.iter().map(|&c| c as i64).collect(), [targets.len()]),
            &self.device,
        )
    }

    pub(crate) fn resolve_targets(
        &self,
        target: &Target,
        logits: &Tensor<2>,
        batch: usize,
    ) -> Result<Vec<usize>> {
        let classes = self.num_classes;
        let check = |sample: usize, class: usize| {
            if class < classes {
                Ok(class)
            } else {
                Err(LrpError::TargetOutOfRange {
                    sample,
                    class: class as i64,
                    classes,
                })
            }
        };
        match target {
            Target::Predicted => {
                let argmax = to_i64_vec(logits.clone().argmax(1).reshape([batch]))?;
                Ok(argmax.into_iter().map(|c| c as usize).collect())
            }
            Target::Class(c) => (0..batch).map(|b| check(b, *c)).collect(),
            Target::PerSample(cs) => cs.iter().enumerate().map(|(b, &c)| check(b, c)).collect(),
        }
    }

    /// `logits` with every entry but the target class zeroed: the relevance the pass starts from.
    fn target_relevance(&self, logits: &Tensor<2>, targets: &[usize]) -> Tensor<2> {
        let classes = self.num_classes;
        let others: Vec<bool> = targets
            .iter()
            .flat_map(|&t| (0..classes).map(move |c| c != t))
            .collect();
        let mask: Tensor<2, Bool> = Tensor::from_data(
            TensorData::new(others, [targets.len(), classes]),
            &self.device,
        );
        logits.clone().mask_fill(mask, 0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Precision;
    use lrp_model::{LstmWeights, Matrix, ModelParams};

    /// A single-layer LSTM (E = 2, H = 3), bidirectional or not, with parallel samples on.
    fn model(bidirectional: bool) -> LstmModel {
        let dir = || LstmWeights {
            w_x: Matrix::zeros(2, 12),
            w_h: Matrix::zeros(3, 12),
            b: vec![0.0; 12],
        };
        let d = if bidirectional { 2 } else { 1 };
        let params = ModelParams::single_layer(
            dir(),
            bidirectional.then(dir),
            Matrix::zeros(3 * d, 2),
            vec![0.0; 2],
        )
        .expect("valid parameters");
        #[allow(deprecated)]
        let device = burn::tensor::Device::flex();
        LstmModel::new(&params, &device, Precision::F64)
            .expect("model")
            .with_parallel_samples(true)
    }

    #[test]
    fn shards_take_the_threads_the_directions_leave_idle() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(4)
            .build()
            .expect("a pool of four threads");
        let (uni, bi) = (model(false), model(true));
        pool.install(|| {
            // One per idle thread, at most one per sample.
            assert_eq!(uni.sample_shards(1000), 4);
            assert_eq!(uni.sample_shards(4), 4);
            assert_eq!(uni.sample_shards(3), 3);
            assert_eq!(uni.sample_shards(1), 1);
            assert_eq!(uni.sample_shards(0), 1);
            assert_eq!(bi.sample_shards(1000), 2);
            assert_eq!(bi.sample_shards(1), 1);
            // Directions one after the other leave every thread to the shards.
            let serial = bi.clone().with_parallel_directions(false);
            assert_eq!(serial.sample_shards(1000), 4);
            assert_eq!(
                uni.clone().with_parallel_samples(false).sample_shards(1000),
                1
            );
        });
    }
}
