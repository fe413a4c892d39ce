//! Gradient and perturbation baselines computed on the burn modules themselves (burn autodiff),
//! as per-token scores for the benchmark:
//!
//! - **gradient** (sensitivity): `Σ_e (∂y/∂x_{t,e})²`, the squared norm per token (non-negative,
//!   as the numpy reference reports it);
//! - **gradient × input**: `Σ_e x_{t,e} ∂y/∂x_{t,e}`;
//! - **integrated gradients**: `Σ_e x_{t,e} · (1/m) Σ_k ∂y/∂x_{t,e}|_{(k+½)/m · x}` with the zero
//!   baseline (midpoint rule, `m` steps);
//! - **occlusion**: `y(x) − y(x with token t's vector set to 0)`.
//!
//! `y` is the logit of the sentence's label class; `x` the embedded sentence.

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use lrp_core::burn;

use super::model::{SentimentNet, ids_tensor};
use super::score::by_length;
use super::task::Sentence;

/// A baseline method.
///
/// ```
/// use lrp_demo::baselines::Baseline;
///
/// assert_eq!(Baseline::GradientInput.name(), "gradient × input");
/// assert_eq!(
///     Baseline::IntegratedGradients(32).name(),
///     "integrated gradients (zero baseline, m = 32)"
/// );
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// Squared gradient norm per token.
    Gradient,
    /// Gradient times input, summed over the embedding axis.
    GradientInput,
    /// Integrated gradients from the zero vector with this many steps.
    IntegratedGradients(usize),
    /// Logit drop when the token's vector is set to zero.
    Occlusion,
}

impl Baseline {
    /// A short name.
    ///
    /// ```
    /// use lrp_demo::baselines::Baseline;
    ///
    /// assert_eq!(Baseline::Occlusion.name(), "occlusion (token vector → 0)");
    /// ```
    pub fn name(self) -> String {
        match self {
            Baseline::Gradient => "gradient (squared norm)".into(),
            Baseline::GradientInput => "gradient × input".into(),
            Baseline::IntegratedGradients(m) => {
                format!("integrated gradients (zero baseline, m = {m})")
            }
            Baseline::Occlusion => "occlusion (token vector → 0)".into(),
        }
    }
}

fn to_vec(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .unwrap_or_default()
}

/// The label logit per sample `(B)` of embedded input `x (B, T, E)`.
fn target_logit(net: &SentimentNet, x: Tensor<3>, onehot: &Tensor<2>) -> Tensor<1> {
    let (_, state) = net.lstm.forward(x, None);
    let [_, b, h] = state.hidden.dims();
    let logits = net
        .head
        .forward(state.hidden.swap_dims(0, 1).reshape([b, 2 * h]));
    (logits * onehot.clone()).sum_dim(1).reshape([b])
}

/// `∂ Σ_b y_b / ∂x` at `x`, `(B, T, E)` (samples are independent, so this is per-sample).
fn gradient(net: &SentimentNet, x: Tensor<3>, onehot: &Tensor<2>) -> Tensor<3> {
    let x = x.detach().require_grad();
    let y = target_logit(net, x.clone(), onehot).sum();
    let grads = y.backward();
    x.grad(&grads).expect("the input requires a gradient")
}

/// Per-token scores `(T)` of each sentence for a baseline, on `device` (autodiff is enabled on
/// it here).
///
/// ```
/// use lrp_demo::baselines::{Baseline, baseline_relevance};
/// use lrp_demo::{model::SentimentNet, rng::Rng, task::{Task, TaskConfig}};
///
/// let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
/// let device = lstm_lrp::backends::default_device();
/// let net = SentimentNet::from_params(&params, &device)?;
/// let sentences = Task::new(TaskConfig::default())?.sample(4, &mut Rng::new(1));
/// let scores = baseline_relevance(&net, &sentences, Baseline::Gradient, &device);
/// for (s, r) in sentences.iter().zip(&scores) {
///     assert_eq!(r.len(), s.words.len()); // one score per token
///     assert!(r.iter().all(|v| *v >= 0.0)); // squared gradient norms
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn baseline_relevance(
    net: &SentimentNet,
    sentences: &[Sentence],
    method: Baseline,
    device: &Device,
) -> Vec<Vec<f64>> {
    let ad = device.clone().autodiff();
    let net = net.clone().to_device(&ad);
    let mut out = vec![Vec::new(); sentences.len()];
    for idx in by_length(sentences) {
        let rows: Vec<&[usize]> = idx.iter().map(|&i| sentences[i].ids.as_slice()).collect();
        let (b, t) = (idx.len(), rows[0].len());
        let mut hot = vec![0.0f64; b * 2];
        for (k, &i) in idx.iter().enumerate() {
            hot[k * 2 + sentences[i].label] = 1.0;
        }
        let onehot = Tensor::<2>::from_data(TensorData::new(hot, [b, 2]), &ad);
        let ids: Tensor<2, Int> = ids_tensor(&rows, &ad);
        let x = net.embedding.forward(ids).detach();
        let scores: Tensor<2> = match method {
            Baseline::Gradient => {
                let g = gradient(&net, x, &onehot);
                (g.clone() * g).sum_dim(2).reshape([b, t])
            }
            Baseline::GradientInput => {
                let g = gradient(&net, x.clone(), &onehot);
                (g * x.inner()).sum_dim(2).reshape([b, t])
            }
            Baseline::IntegratedGradients(m) => {
                let m = m.max(1);
                let mut acc = gradient(&net, x.clone().mul_scalar(0.5 / m as f64), &onehot);
                for k in 1..m {
                    let alpha = (k as f64 + 0.5) / m as f64;
                    acc = acc + gradient(&net, x.clone().mul_scalar(alpha), &onehot);
                }
                (acc.div_scalar(m as f64) * x.inner())
                    .sum_dim(2)
                    .reshape([b, t])
            }
            Baseline::Occlusion => {
                let full = target_logit(&net, x.clone(), &onehot).inner();
                let [_, _, e] = x.dims();
                let cols: Vec<Tensor<2>> = (0..t)
                    .map(|s| {
                        let zero = Tensor::<3>::zeros([b, 1, e], &ad);
                        let occluded = x.clone().slice_assign([0..b, s..s + 1, 0..e], zero);
                        let y = target_logit(&net, occluded, &onehot).inner();
                        (full.clone() - y).reshape([b, 1])
                    })
                    .collect();
                Tensor::cat(cols, 1)
            }
        };
        let v = to_vec(scores.inner());
        for (k, &i) in idx.iter().enumerate() {
            out[i] = v[k * t..(k + 1) * t].to_vec();
        }
    }
    out
}
