//! Deletion (perturbation) curves: remove time steps in an explanation's order, watch the logit.

use lrp_core::{Input, LrpError, LstmModel, Removal};

/// In which order the time steps are removed.
///
/// Removing the steps LRP ranks most relevant first should hurt the prediction more than
/// removing the least relevant first: a larger [`DeletionCurve::aopc`].
///
/// ```
/// use lstm_lrp::burn::tensor::{Int, Tensor, TensorData};
/// use lstm_lrp::evaluation::{DeletionSettings, Order, deletion_curve};
/// use lstm_lrp::{ExplainConfig, Input, LstmModel, Precision, backends};
///
/// let params = lstm_lrp::load_model("examples/sentiment/model.safetensors")?;
/// let device = backends::default_device();
/// let model = LstmModel::new(&params, &device, Precision::F64)?;
/// // "suicidal being above courage punished saw to scenes" (negative), 8 token ids.
/// let ids = vec![362i64, 38, 128, 195, 329, 136, 67, 19];
/// let input = Input::tokens(Tensor::<2, Int>::from_data(TensorData::new(ids, [1, 8]), &device));
/// let host = model.explain(input.clone(), &ExplainConfig::new())?.to_host()?;
/// let (scores, target) = (host.step_relevance(), [host.target[0] as usize]);
/// let settings = DeletionSettings { steps: 4, removal: lrp_core::Removal::Zero };
/// let curve = |order| deletion_curve(&model, &input, &scores, &target, order, settings);
/// let (most, least) = (curve(Order::MostRelevantFirst)?, curve(Order::LeastRelevantFirst)?);
/// assert!(most.aopc() > least.aopc());
/// assert_eq!(curve(Order::Random(7))?, curve(Order::Random(7))?); // seeded: reproducible
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Most relevant (largest score) first: the curve should fall fast.
    MostRelevantFirst,
    /// Least relevant first: the curve should stay high.
    LeastRelevantFirst,
    /// A seeded random order: the control.
    Random(u64),
}

/// Settings of a deletion curve.
///
/// ```
/// use lstm_lrp::burn::tensor::{Int, Tensor, TensorData};
/// use lstm_lrp::evaluation::{DeletionSettings, Order, deletion_curve};
/// use lstm_lrp::{Input, LstmModel, Precision, backends};
///
/// let params = lstm_lrp::load_model("examples/sentiment/model.safetensors")?;
/// let device = backends::default_device();
/// let model = LstmModel::new(&params, &device, Precision::F64)?;
/// let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![3i64, 12, 329], [1, 3]), &device);
/// let input = Input::tokens(ids);
/// // More removals (5) than real steps (3): the curve stays flat once all are removed.
/// let settings = DeletionSettings { steps: 5, removal: lrp_core::Removal::Zero };
/// let scores = [0.1, 0.2, 0.3];
/// let curve = deletion_curve(&model, &input, &scores, &[0], Order::MostRelevantFirst, settings)?;
/// assert_eq!(curve.logit.len(), 6);
/// assert!(curve.logit[3..].iter().all(|&l| l == curve.logit[3]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeletionSettings {
    /// Number of removals K; the curve has K + 1 points (k = 0 is the unmodified input).
    /// A sequence with fewer real steps keeps all of them removed after its last one.
    pub steps: usize,
    /// How a step is removed.
    pub removal: Removal,
}

/// A deletion curve averaged over a batch; every vector has K + 1 entries, index k = after k
/// removals.
///
/// ```
/// use lstm_lrp::evaluation::DeletionCurve;
///
/// // Two samples' mean logit falls from 3 to 0 over K = 2 removals.
/// let curve = DeletionCurve {
///     logit: vec![3.0, 1.0, 0.0],
///     score: vec![0.9, 0.6, 0.2],
///     accuracy: vec![1.0, 1.0, 0.5],
/// };
/// assert!((curve.aopc() - 5.0 / 3.0).abs() < 1e-12);
/// assert_eq!(curve.descriptive_accuracy(), 0.2);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct DeletionCurve {
    /// Mean target logit.
    pub logit: Vec<f64>,
    /// Mean probability of the target class (softmax over the logits; sigmoid for one output):
    /// the score whose value after k removals of the most relevant steps is Warnecke et al.'s
    /// descriptive accuracy `DA_k`.
    pub score: Vec<f64>,
    /// Fraction of samples whose prediction still equals the unmodified input's prediction.
    pub accuracy: Vec<f64>,
}

impl DeletionCurve {
    /// Area over the perturbation curve, `1/(K+1) Σ_{k=0}^{K} (f(x) − f(x⁽ᵏ⁾))`, in logit units
    /// (Samek et al. 2017).
    ///
    /// ```
    /// use lstm_lrp::evaluation::DeletionCurve;
    ///
    /// let curve = DeletionCurve {
    ///     logit: vec![2.0, 0.5, -1.0, -1.0],
    ///     score: vec![0.8, 0.6, 0.3, 0.3],
    ///     accuracy: vec![1.0, 1.0, 0.0, 0.0],
    /// };
    /// // (0 + 1.5 + 3 + 3) / 4 logit units.
    /// assert!((curve.aopc() - 1.875).abs() < 1e-12);
    /// ```
    pub fn aopc(&self) -> f64 {
        let first = self.logit.first().copied().unwrap_or(0.0);
        self.logit.iter().map(|l| first - l).sum::<f64>() / self.logit.len().max(1) as f64
    }

    /// `DA_K`: the mean target-class probability after all K removals.
    ///
    /// ```
    /// use lstm_lrp::evaluation::DeletionCurve;
    ///
    /// let curve = DeletionCurve {
    ///     logit: vec![2.0, 0.0],
    ///     score: vec![0.88, 0.5],
    ///     accuracy: vec![1.0, 0.0],
    /// };
    /// assert_eq!(curve.descriptive_accuracy(), 0.5); // DA_1
    /// ```
    pub fn descriptive_accuracy(&self) -> f64 {
        self.score.last().copied().unwrap_or(0.0)
    }
}

/// Runs a deletion curve for `input` with per-step relevance `step_scores` (`(B, T)` row-major,
/// e.g. [`lrp_core::Attribution::step_scores`]) and target classes `targets` (`B`). Padding
/// steps are never removed.
///
/// # Errors
/// The model's input errors, scores/targets of the wrong length, or a target class out of range.
///
/// ```
/// use lstm_lrp::burn::tensor::{Int, Tensor, TensorData};
/// use lstm_lrp::evaluation::{DeletionSettings, Order, deletion_curve};
/// use lstm_lrp::{ExplainConfig, Input, LstmModel, Precision, backends};
///
/// let params = lstm_lrp::load_model("examples/sentiment/model.safetensors")?;
/// let device = backends::default_device();
/// let model = LstmModel::new(&params, &device, Precision::F64)?;
/// // Two sentences of 4 and 3 tokens, post-padded with id 0: (B, T) = (2, 4).
/// let ids = vec![3i64, 12, 67, 329, 3, 12, 362, 0];
/// let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, [2, 4]), &device);
/// let input = Input::tokens(ids).with_lengths(vec![4, 3]);
/// let host = model.explain(input.clone(), &ExplainConfig::new())?.to_host()?;
/// let targets: Vec<usize> = host.target.iter().map(|&c| c as usize).collect();
/// let settings = DeletionSettings { steps: 2, removal: lrp_core::Removal::Zero };
/// let order = Order::MostRelevantFirst;
/// let curve = deletion_curve(&model, &input, &host.step_relevance(), &targets, order, settings)?;
/// assert_eq!(curve.logit.len(), 3); // k = 0, 1, 2
/// let mean_logit = host.explained_logits().iter().sum::<f64>() / 2.0;
/// assert!((curve.logit[0] - mean_logit).abs() < 1e-9); // k = 0: the unmodified input
/// assert_eq!(curve.accuracy[0], 1.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn deletion_curve(
    model: &LstmModel,
    input: &Input,
    step_scores: &[f64],
    targets: &[usize],
    order: Order,
    settings: DeletionSettings,
) -> Result<DeletionCurve, LrpError> {
    let [batch, steps] = input.batch_and_steps();
    if step_scores.len() != batch * steps || targets.len() != batch {
        return Err(LrpError::InvalidPadding(format!(
            "{} step scores and {} targets for {batch} samples × {steps} steps",
            step_scores.len(),
            targets.len()
        )));
    }
    let classes = model.num_classes();
    if let Some((sample, &class)) = targets.iter().enumerate().find(|(_, c)| **c >= classes) {
        return Err(LrpError::TargetOutOfRange {
            sample,
            class: class as i64,
            classes,
        });
    }
    let real = model.real_steps(input.clone())?;
    let k_max = settings.steps;
    let copies = k_max + 1;
    let mut removed = vec![false; copies * batch * steps];
    for b in 0..batch {
        let ranked = ranking(
            &step_scores[b * steps..(b + 1) * steps],
            &real[b * steps..(b + 1) * steps],
            order,
            b,
        );
        for k in 0..copies {
            let row = k * batch + b;
            for &t in ranked.iter().take(k) {
                removed[row * steps + t] = true;
            }
        }
    }
    let logits: Vec<f64> = model
        .forward_removed(input.clone(), &removed, copies, settings.removal)?
        .try_into_vec_as::<f64>()
        .map_err(|e| LrpError::Device(format!("{e:?}")))?;
    let row = |r: usize| &logits[r * classes..(r + 1) * classes];
    let original: Vec<usize> = (0..batch).map(|b| argmax(row(b))).collect();
    let mut curve = DeletionCurve {
        logit: Vec::with_capacity(copies),
        score: Vec::with_capacity(copies),
        accuracy: Vec::with_capacity(copies),
    };
    for k in 0..copies {
        let (mut l, mut s, mut a) = (0.0, 0.0, 0.0);
        for (b, &c) in targets.iter().enumerate() {
            let z = row(k * batch + b);
            l += z[c];
            s += probability(z, c);
            a += f64::from(u8::from(argmax(z) == original[b]));
        }
        let n = batch as f64;
        curve.logit.push(l / n);
        curve.score.push(s / n);
        curve.accuracy.push(a / n);
    }
    Ok(curve)
}

/// The real steps of one sample in removal order.
fn ranking(scores: &[f64], real: &[bool], order: Order, sample: usize) -> Vec<usize> {
    let mut ts: Vec<usize> = (0..scores.len()).filter(|&t| real[t]).collect();
    match order {
        // Stable sorts: ties keep time order, so the curves are deterministic.
        Order::MostRelevantFirst => ts.sort_by(|&a, &b| scores[b].total_cmp(&scores[a])),
        Order::LeastRelevantFirst => ts.sort_by(|&a, &b| scores[a].total_cmp(&scores[b])),
        Order::Random(seed) => {
            let mut state = seed ^ (sample as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            for i in (1..ts.len()).rev() {
                let j = (splitmix64(&mut state) % (i as u64 + 1)) as usize;
                ts.swap(i, j);
            }
        }
    }
    ts
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// First maximum (ties go to the lowest index, as `Target::Predicted`).
fn argmax(z: &[f64]) -> usize {
    (0..z.len()).fold(0, |best, c| if z[c] > z[best] { c } else { best })
}

fn probability(z: &[f64], c: usize) -> f64 {
    if z.len() == 1 {
        return 1.0 / (1.0 + (-z[0]).exp());
    }
    let max = z.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let total: f64 = z.iter().map(|v| (v - max).exp()).sum();
    (z[c] - max).exp() / total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rankings_and_aopc_by_hand() {
        let scores = [0.5, -1.0, 2.0, 0.0];
        let real = [true, true, true, false];
        assert_eq!(
            ranking(&scores, &real, Order::MostRelevantFirst, 0),
            vec![2, 0, 1]
        );
        assert_eq!(
            ranking(&scores, &real, Order::LeastRelevantFirst, 0),
            vec![1, 0, 2]
        );
        let mut r = ranking(&scores, &real, Order::Random(5), 0);
        assert_eq!(r, ranking(&scores, &real, Order::Random(5), 0), "seeded");
        r.sort();
        assert_eq!(r, vec![0, 1, 2], "a permutation of the real steps");
        let curve = DeletionCurve {
            logit: vec![3.0, 1.0, 0.0],
            score: vec![0.9, 0.6, 0.2],
            accuracy: vec![1.0, 1.0, 0.0],
        };
        assert!((curve.aopc() - (0.0 + 2.0 + 3.0) / 3.0).abs() < 1e-15);
        assert_eq!(curve.descriptive_accuracy(), 0.2);
        assert!((probability(&[0.0, 0.0], 1) - 0.5).abs() < 1e-15);
        assert!((probability(&[0.0], 0) - 0.5).abs() < 1e-15);
    }
}
