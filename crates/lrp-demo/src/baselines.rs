//! The benchmark's baselines: lrp-core's attribution methods ([`lrp_core::attribution`], burn
//! autodiff on the canonical model) as per-token scores of each sentence's label class.
//!
//! - **gradient** (sensitivity): `Σ_e (∂y/∂x_{t,e})²`, the squared norm per token (non-negative,
//!   as the numpy reference reports it);
//! - **gradient × input**: `Σ_e x_{t,e} ∂y/∂x_{t,e}`;
//! - **integrated gradients**: from the zero vector, midpoint rule with `m` steps;
//! - **occlusion**: `y(x) − y(x with token t's vector set to 0)`.
//!
//! `x` is the embedded sentence, `y` the logit of the sentence's label class.

use lrp_core::{LrpError, LstmModel, Method, Target, burn};

use burn::tensor::Device;

use super::model::ids_tensor;
use super::score::by_length;
use super::task::Sentence;

/// The name of a method in the benchmark's table.
///
/// ```
/// use lrp_core::Method;
///
/// assert_eq!(lrp_demo::baselines::describe(&Method::GradientTimesInput), "gradient × input");
/// let ig = Method::IntegratedGradients { steps: 32, baseline: None };
/// assert_eq!(lrp_demo::baselines::describe(&ig), "integrated gradients (zero baseline, m = 32)");
/// ```
pub fn describe(method: &Method) -> String {
    match method {
        Method::Lrp(_) => "LRP".into(),
        Method::Gradient => "gradient (squared norm)".into(),
        Method::GradientTimesInput => "gradient × input".into(),
        Method::IntegratedGradients { steps, .. } => {
            format!("integrated gradients (zero baseline, m = {steps})")
        }
        Method::Occlusion => "occlusion (token vector → 0)".into(),
    }
}

/// Per-token scores `(T)` of each sentence's label class for `method`, computed by
/// [`LstmModel::attribute`] on `model` (sentences of equal length in one batch each).
///
/// ```
/// use lrp_core::Method;
/// use lrp_demo::baselines::baseline_relevance;
/// use lrp_demo::{rng::Rng, task::{Task, TaskConfig}};
/// use lstm_lrp::{LstmModel, Precision};
///
/// let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
/// let device = lstm_lrp::backends::default_device();
/// let model = LstmModel::new(&params, &device, Precision::F64)?;
/// let sentences = Task::new(TaskConfig::default())?.sample(4, &mut Rng::new(1));
/// let scores = baseline_relevance(&model, &sentences, &Method::Gradient, &device)?;
/// for (s, r) in sentences.iter().zip(&scores) {
///     assert_eq!(r.len(), s.words.len()); // one score per token
///     assert!(r.iter().all(|v| *v >= 0.0)); // squared gradient norms
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// What [`LstmModel::attribute`] returns.
pub fn baseline_relevance(
    model: &LstmModel,
    sentences: &[Sentence],
    method: &Method,
    device: &Device,
) -> Result<Vec<Vec<f64>>, LrpError> {
    let mut out = vec![Vec::new(); sentences.len()];
    for idx in by_length(sentences) {
        let rows: Vec<&[usize]> = idx.iter().map(|&i| sentences[i].ids.as_slice()).collect();
        let t = rows[0].len();
        let labels = Target::PerSample(idx.iter().map(|&i| sentences[i].label).collect());
        let a = model.attribute(ids_tensor(&rows, device), method, &labels)?;
        let per_step = match method {
            // The signed sum of a gradient means nothing as a relevance: its squared norm.
            Method::Gradient => a.step_squared_norms(),
            _ => a.step_scores(),
        };
        let v = per_step
            .try_into_vec_as::<f64>()
            .map_err(|e| LrpError::Device(format!("{e:?}")))?;
        for (k, &i) in idx.iter().enumerate() {
            out[i] = v[k * t..(k + 1) * t].to_vec();
        }
    }
    Ok(out)
}
