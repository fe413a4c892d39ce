//! Baseline attribution methods next to LRP: gradient (sensitivity), gradient × input,
//! integrated gradients and occlusion, all reported on the same vectors as LRP (the first LSTM
//! layer's inputs: the features, or the embedding rows of a token model), with the same shape
//! `(B, T, E)` and the same target semantics ([`Target`]), so that methods are comparable.
//!
//! Gradients come from burn's autodiff: the input vectors are lifted to an autodiff tensor and
//! the (plain) weights act as constants, so every method runs on any device.

use burn::tensor::Tensor;

use crate::config::{ExplainConfig, Target};
use crate::error::{LrpError, Result};
use crate::input::{Input, Prepared};
use crate::model::LstmModel;
use crate::tensor_ops::{from_f64, to_f64_vec};

mod perturb;
pub use perturb::Removal;

/// Rows (samples × interpolation points or occluded copies) run in one forward/backward pass:
/// bounds the memory of the batched IG and occlusion passes.
const MAX_ROWS_PER_PASS: usize = 512;

/// An attribution method.
///
/// ```
/// use burn::tensor::Tensor;
/// use lrp_core::{ExplainConfig, Method, Target};
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
/// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device); // (B, T, E) = (1, 3, 1)
/// let ig = Method::IntegratedGradients { steps: 64, baseline: None };
/// assert_eq!(ig.name(), "ig");
/// let a = model.attribute(x.clone(), &ig, &Target::Class(0))?;
/// // Completeness: the scores add up to f_c(x) − f_c(0) up to the quadrature error.
/// assert!(a.completeness_error.as_ref().is_some_and(|e| e[0] < 1e-3));
/// let lrp = model.attribute(x, &Method::Lrp(ExplainConfig::new()), &Target::Class(0))?;
/// assert_eq!((lrp.scores.dims(), lrp.target.clone()), ([1, 3, 1], vec![0]));
/// # Ok::<(), lrp_core::LrpError>(())
/// ```
// The baseline tensor is a sizeable inline handle, as in `Padding`; boxing it only allocates.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Method {
    /// LRP with these settings (its `target` is replaced by the one passed to
    /// [`LstmModel::attribute`]).
    Lrp(ExplainConfig),
    /// Sensitivity: `∂f_c/∂x`, in logit units per input unit.
    Gradient,
    /// `x ⊙ ∂f_c/∂x`, in logit units.
    GradientTimesInput,
    /// Integrated gradients (Sundararajan et al. 2017): `(x − x') ⊙ mean_k ∂f_c/∂x(x' + α_k (x − x'))`
    /// with the midpoint rule `α_k = (k − ½)/steps`, in logit units. Σ over all values ≈
    /// `f_c(x) − f_c(x')`; the gap is reported as [`Attribution::completeness_error`].
    IntegratedGradients {
        /// Number of interpolation points m ≥ 1.
        steps: usize,
        /// The baseline `x' (B, T, E)` on the model's input vectors; `None` = all zeros.
        baseline: Option<Tensor<3>>,
    },
    /// Occlusion: the score of step `t` is `f_c(x) − f_c(x with step t set to zero)`, spread
    /// evenly over the `E` values of the step (so the per-step sum is the logit drop).
    Occlusion,
}

impl Method {
    /// A short name: `lrp`, `gradient`, `gxi`, `ig`, `occlusion`.
    ///
    /// ```
    /// use lrp_core::{ExplainConfig, Method};
    ///
    /// assert_eq!(Method::Lrp(ExplainConfig::new()).name(), "lrp");
    /// assert_eq!(Method::GradientTimesInput.name(), "gxi");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            Method::Lrp(_) => "lrp",
            Method::Gradient => "gradient",
            Method::GradientTimesInput => "gxi",
            Method::IntegratedGradients { .. } => "ig",
            Method::Occlusion => "occlusion",
        }
    }
}

/// The result of [`LstmModel::attribute`].
///
/// ```
/// use burn::tensor::Tensor;
/// use lrp_core::{Method, Target};
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
/// let a = model.attribute(x, &Method::Occlusion, &Target::Predicted)?;
/// assert_eq!((a.scores.dims(), a.logits.dims(), a.target.len()), ([1, 3, 1], [1, 2], 1));
/// assert!(a.completeness_error.is_none()); // only for integrated gradients
/// # Ok::<(), lrp_core::LrpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Attribution {
    /// `(B, T, E)` scores on the first LSTM layer's input vectors; padding steps hold exactly 0.
    pub scores: Tensor<3>,
    /// `(B, C)` logits of the unmodified input.
    pub logits: Tensor<2>,
    /// The explained class per sample.
    pub target: Vec<usize>,
    /// For integrated gradients, per sample `|Σ IG − (f_c(x) − f_c(x'))|` in logit units;
    /// `None` for the other methods.
    pub completeness_error: Option<Vec<f64>>,
}

impl Attribution {
    /// Scores per time step `(B, T)`: the sum over the feature/embedding axis.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::{Method, Target};
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
    /// let a = model.attribute(x, &Method::GradientTimesInput, &Target::Class(1))?;
    /// assert_eq!(a.step_scores().dims(), [1, 3]); // (B, T)
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn step_scores(&self) -> Tensor<2> {
        let [b, t, _] = self.scores.dims();
        self.scores.clone().sum_dim(2).reshape([b, t])
    }

    /// Squared L2 norm per time step `(B, T)`: `Σ_e scores[b, t, e]²`. For [`Method::Gradient`]
    /// this is sensitivity analysis as the numpy reference reports it (`Σ_e (∂f_c/∂x_{t,e})²`,
    /// non-negative, in squared logit units per squared input unit).
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::{Method, Target};
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
    /// let a = model.attribute(x, &Method::Gradient, &Target::Class(0))?;
    /// let sa = a.step_squared_norms().try_into_vec_as::<f64>()?; // (B, T) = (1, 3)
    /// assert!(sa.len() == 3 && sa.iter().all(|&v| v >= 0.0));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn step_squared_norms(&self) -> Tensor<2> {
        let [b, t, _] = self.scores.dims();
        self.scores.clone().square().sum_dim(2).reshape([b, t])
    }
}

impl LstmModel {
    /// Attributes the `target` logit of every sample to the input vectors with `method`.
    ///
    /// # Errors
    /// The input errors of [`LstmModel::explain`], a target out of range, a baseline of the
    /// wrong shape, or `steps = 0` for integrated gradients.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::{Method, Target};
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
    /// let gxi = model.attribute(x.clone(), &Method::GradientTimesInput, &Target::Predicted)?;
    /// let grad = model.attribute(x.clone(), &Method::Gradient, &Target::Predicted)?;
    /// // Gradient × input is the gradient times the input, value by value.
    /// let (s, g) = (gxi.scores.try_into_vec_as::<f64>()?, grad.scores.try_into_vec_as::<f64>()?);
    /// for (t, x_t) in [1.0, -0.5, 2.0].into_iter().enumerate() {
    ///     assert!((s[t] - g[t] * x_t).abs() < 1e-12);
    /// }
    /// let bad = Method::IntegratedGradients { steps: 0, baseline: None };
    /// assert!(model.attribute(x, &bad, &Target::Predicted).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn attribute(
        &self,
        input: impl Into<Input>,
        method: &Method,
        target: &Target,
    ) -> Result<Attribution> {
        let input = input.into();
        if let Method::Lrp(config) = method {
            let config = config.clone().with_target(target.clone());
            let e = self.explain(input, &config)?;
            let target = to_f64_vec(e.target.clone().float())?
                .into_iter()
                .map(|c| c as usize)
                .collect();
            return Ok(Attribution {
                scores: e.relevance,
                logits: e.logits,
                target,
                completeness_error: None,
            });
        }
        let prepared = self.prepare(input)?;
        let logits = self.run(&prepared, false).logits();
        let targets = self.targets_of(target, &logits, prepared.batch)?;
        let x = prepared.full_x.clone(); // (T, B, E)
        let (scores, completeness) = match method {
            Method::Lrp(_) => unreachable!("handled above"),
            Method::Gradient => (self.target_gradient(&prepared, x, &targets), None),
            Method::GradientTimesInput => {
                let g = self.target_gradient(&prepared, x.clone(), &targets);
                (g * x, None)
            }
            Method::IntegratedGradients { steps, baseline } => {
                let (s, c) =
                    self.integrated_gradients(&prepared, &logits, &targets, *steps, baseline)?;
                (s, Some(c))
            }
            Method::Occlusion => (self.occlusion(&prepared, &logits, &targets)?, None),
        };
        let scores = self.zero_padding(&prepared, scores).swap_dims(0, 1);
        Ok(Attribution {
            scores,
            logits,
            target: targets,
            completeness_error: completeness,
        })
    }

    /// The class per sample, checked against `C`.
    fn targets_of(&self, target: &Target, logits: &Tensor<2>, batch: usize) -> Result<Vec<usize>> {
        let classes = self.num_classes();
        let list = match target {
            Target::Predicted => {
                let l = to_f64_vec(logits.clone())?;
                (0..batch)
                    .map(|b| {
                        let row = &l[b * classes..(b + 1) * classes];
                        // First maximum, as LRP's `Predicted`.
                        (0..classes).fold(0, |best, c| if row[c] > row[best] { c } else { best })
                    })
                    .collect()
            }
            Target::Class(c) => vec![*c; batch],
            Target::PerSample(list) => {
                if list.len() != batch {
                    return Err(LrpError::TargetCount {
                        given: list.len(),
                        batch,
                    });
                }
                list.clone()
            }
        };
        for (sample, &class) in list.iter().enumerate() {
            if class >= classes {
                return Err(LrpError::TargetOutOfRange {
                    sample,
                    class: class as i64,
                    classes,
                });
            }
        }
        Ok(list)
    }

    /// `(B, C)` one-hot of the targets, repeated `copies` times along the batch (copy-major).
    fn one_hot(&self, targets: &[usize], copies: usize, like: &Tensor<3>) -> Tensor<2> {
        let classes = self.num_classes();
        let rows = targets.len() * copies;
        let mut v = vec![0.0; rows * classes];
        for r in 0..rows {
            v[r * classes + targets[r % targets.len()]] = 1.0;
        }
        from_f64(v, [rows, classes], &like.device(), like.dtype())
    }

    /// The logits `(N, C)` for time-major vectors `x (T, N, E)` with the padding of `prepared`
    /// repeated `x`'s batch / B times (copy-major).
    fn run_on(&self, prepared: &Prepared, x: Tensor<3>) -> Tensor<2> {
        let copies = x.dims()[1] / prepared.batch;
        let p = self.replicated(prepared, copies, x);
        self.run(&p, false).logits()
    }

    pub(crate) fn replicated(&self, prepared: &Prepared, copies: usize, x: Tensor<3>) -> Prepared {
        let steps = prepared.steps();
        let (before, after) = prepared.trimmed;
        let window = before..steps - after;
        let mut p = if copies == 1 {
            prepared.clone()
        } else {
            let samples: Vec<usize> = (0..copies * prepared.batch)
                .map(|r| r % prepared.batch)
                .collect();
            prepared.subset(&samples, 0..steps)
        };
        // `subset` over all steps keeps the padding flags of every step; trim to the window the
        // model computes, as `prepare` does.
        if copies != 1 {
            p.pad = p.pad.map(|m| m.slice_dim(0, window.clone()));
            p.trimmed = prepared.trimmed;
        }
        p.x = x.clone().slice_dim(0, window);
        p.full_x = x;
        p
    }

    /// `∂ f_target / ∂x` for time-major `x (T, N, E)`, N a multiple of B.
    fn target_gradient(&self, prepared: &Prepared, x: Tensor<3>, targets: &[usize]) -> Tensor<3> {
        let copies = x.dims()[1] / prepared.batch;
        let leaf = x.clone().autodiff().require_grad();
        let logits = self.run_on(prepared, leaf.clone());
        let mask = self.one_hot(targets, copies, &x).autodiff();
        let score = (logits * mask).sum();
        let grads = score.backward();
        leaf.grad(&grads).unwrap_or_else(|| x.zeros_like()).inner()
    }

    fn integrated_gradients(
        &self,
        prepared: &Prepared,
        logits: &Tensor<2>,
        targets: &[usize],
        steps: usize,
        baseline: &Option<Tensor<3>>,
    ) -> Result<(Tensor<3>, Vec<f64>)> {
        if steps == 0 {
            return Err(LrpError::InvalidSetting {
                name: "steps",
                value: 0.0,
                reason: "integrated gradients needs at least one interpolation point",
            });
        }
        let x = prepared.full_x.clone();
        let dims = x.dims();
        let base = match baseline {
            None => x.zeros_like(),
            Some(b) => {
                let [bb, bt, be] = b.dims();
                if [bt, bb, be] != dims {
                    return Err(LrpError::InvalidPadding(format!(
                        "the IG baseline has shape {:?}, expected {:?} (B, T, E)",
                        b.dims(),
                        [dims[1], dims[0], dims[2]]
                    )));
                }
                b.clone()
                    .to_device(&x.device())
                    .cast(x.dtype())
                    .swap_dims(0, 1)
            }
        };
        let delta = x.clone() - base.clone();
        let per_pass = (MAX_ROWS_PER_PASS / prepared.batch).max(1);
        let mut sum = x.zeros_like();
        let mut k = 0;
        while k < steps {
            let n = per_pass.min(steps - k);
            let points: Vec<Tensor<3>> = (k..k + n)
                .map(|j| {
                    let alpha = (j as f64 + 0.5) / steps as f64;
                    base.clone() + delta.clone().mul_scalar(alpha)
                })
                .collect();
            let g = self.target_gradient(prepared, Tensor::cat(points, 1), targets);
            let [t, _, e] = g.dims();
            sum = sum
                + g.reshape([t, n, prepared.batch, e])
                    .sum_dim(1)
                    .reshape(dims);
            k += n;
        }
        let ig = self.zero_padding(prepared, sum.div_scalar(steps as f64) * delta);
        let base_logits = self.run_on(prepared, base);
        let f_x = picked(logits, targets)?;
        let f_base = picked(&base_logits, targets)?;
        let [_, b, _] = dims;
        let totals = to_f64_vec(ig.clone().sum_dim(0).sum_dim(2).reshape([b]))?;
        let errors = (0..b)
            .map(|i| (totals[i] - (f_x[i] - f_base[i])).abs())
            .collect();
        Ok((ig, errors))
    }

    fn occlusion(
        &self,
        prepared: &Prepared,
        logits: &Tensor<2>,
        targets: &[usize],
    ) -> Result<Tensor<3>> {
        let x = prepared.full_x.clone();
        let [steps, batch, e] = x.dims();
        let f_x = picked(logits, targets)?;
        let per_pass = (MAX_ROWS_PER_PASS / batch).max(1);
        let mut drops = vec![0.0; steps * batch]; // (T, B)
        let mut t0 = 0;
        while t0 < steps {
            let n = per_pass.min(steps - t0);
            let copies: Vec<Tensor<3>> = (t0..t0 + n)
                .map(|t| {
                    let mut keep = vec![1.0; steps];
                    keep[t] = 0.0;
                    let keep = from_f64(keep, [steps, 1, 1], &x.device(), x.dtype());
                    x.clone() * keep
                })
                .collect();
            let occluded = picked(&self.run_on(prepared, Tensor::cat(copies, 1)), &{
                let mut v = Vec::with_capacity(n * batch);
                for _ in 0..n {
                    v.extend_from_slice(targets);
                }
                v
            })?;
            for c in 0..n {
                for b in 0..batch {
                    drops[(t0 + c) * batch + b] = f_x[b] - occluded[c * batch + b];
                }
            }
            t0 += n;
        }
        let per_value: Vec<f64> = drops.iter().map(|d| d / e as f64).collect();
        let drops = from_f64(per_value, [steps, batch, 1], &x.device(), x.dtype());
        Ok(drops.expand([steps, batch, e]))
    }

    /// Sets the padding steps of a time-major `(T, B, E)` tensor to exactly 0.
    fn zero_padding(&self, prepared: &Prepared, t: Tensor<3>) -> Tensor<3> {
        match &prepared.pad_flags {
            None => t,
            Some(flags) => {
                let [steps, batch, _] = t.dims();
                let keep: Vec<f64> = (0..steps * batch)
                    .map(|i| {
                        let (s, b) = (i / batch, i % batch);
                        if flags[b * steps + s] { 0.0 } else { 1.0 }
                    })
                    .collect();
                let keep = from_f64(keep, [steps, batch, 1], &t.device(), t.dtype());
                t * keep
            }
        }
    }
}

/// `logits[n, targets[n]]` on the host.
fn picked(logits: &Tensor<2>, targets: &[usize]) -> Result<Vec<f64>> {
    let classes = logits.dims()[1];
    let l = to_f64_vec(logits.clone())?;
    Ok(targets
        .iter()
        .enumerate()
        .map(|(n, &c)| l[n * classes + c])
        .collect())
}
