//! Every batch's explanation gathered into one array set, for outputs that need all samples at
//! once (`--output`): batches padded to different lengths are padded to the longest.

use lrp_core::HostExplanation;
use lrp_import::HostArray;
use lrp_import::formats::npy;
use lrp_import::formats::safetensors::{OutTensor, serialize};

use crate::io::arrays::InputValues;
use crate::io::pad::PAD_ID;
use crate::io::source::InputBatch;

/// The explanations of consecutive batches, appended in order.
///
/// ```
/// use lstm_lrp::HostExplanation;
/// use lstm_lrp::io::{Collected, InputBatch, pad_tokens};
///
/// let part = |steps: usize, r: f64| HostExplanation {
///     batch: 1, steps, features: 1, classes: 1,
///     relevance: vec![r; steps], rest: vec![0.0], logits: vec![r], target: vec![0],
/// };
/// let mut all = Collected::default();
/// all.push(&InputBatch { inputs: pad_tokens(&[vec![3]]), start: 0, words: None }, part(1, 1.0));
/// all.push(&InputBatch { inputs: pad_tokens(&[vec![4, 5]]), start: 1, words: None }, part(2, 2.0));
/// let (out, tokens) = all.finish().expect("two batches");
/// assert_eq!((out.batch, out.steps), (2, 2));
/// assert_eq!(out.relevance, [1.0, 0.0, 2.0, 2.0]); // the first sequence padded with 0
/// assert_eq!(tokens.expect("token input").data, [3, 0, 4, 5]);
/// ```
#[derive(Debug, Default)]
pub struct Collected {
    parts: Vec<(HostExplanation, Option<HostArray<i64>>)>,
}

impl Collected {
    /// Appends a batch's explanation (and its token ids, for token input).
    pub fn push(&mut self, batch: &InputBatch, out: HostExplanation) {
        let tokens = match &batch.inputs.values {
            InputValues::Tokens(ids) => Some(ids.clone()),
            InputValues::Features(_) => None,
        };
        self.parts.push((out, tokens));
    }

    /// Everything as one explanation `(B, T_max, …)` and the token ids `(B, T_max)` (padded
    /// with zero relevance and the padding id); `None` when nothing was pushed.
    pub fn finish(self) -> Option<(HostExplanation, Option<HostArray<i64>>)> {
        let steps = self.parts.iter().map(|(e, _)| e.steps).max()?;
        let has_tokens = self.parts.iter().all(|(_, t)| t.is_some());
        let mut all: Option<HostExplanation> = None;
        let mut ids = Vec::new();
        let mut batch = 0;
        for (part, tokens) in self.parts {
            let part = pad_steps(part, steps);
            if let Some(t) = tokens.filter(|_| has_tokens) {
                let t_len = t.shape[1];
                for row in t.data.chunks(t_len.max(1)) {
                    ids.extend_from_slice(row);
                    ids.extend(std::iter::repeat_n(PAD_ID, steps - t_len));
                }
            }
            batch += part.batch;
            match &mut all {
                Some(a) => a.append(part),
                None => all = Some(part),
            }
        }
        let tokens = has_tokens.then(|| HostArray {
            shape: vec![batch, steps],
            data: ids,
        });
        all.map(|a| (a, tokens))
    }
}

/// `out` with its steps padded to `steps` (zero relevance at the added steps).
fn pad_steps(out: HostExplanation, steps: usize) -> HostExplanation {
    if out.steps == steps {
        return out;
    }
    let row = out.steps * out.features;
    let mut relevance = Vec::with_capacity(out.batch * steps * out.features);
    for sample in out.relevance.chunks(row.max(1)) {
        relevance.extend_from_slice(sample);
        relevance.extend(std::iter::repeat_n(0.0, (steps - out.steps) * out.features));
    }
    HostExplanation {
        steps,
        relevance,
        ..out
    }
}

/// An explanation as safetensors: `relevance (B, T, E)`, `step_relevance (B, T)` (the sum over
/// features: per token for token input), `rest (B)`, `logits (B, C)` (all F64), `target (B)`
/// (I64), and for token input the ids `tokens (B, T)` they belong to.
///
/// # Errors
/// The safetensors writer's (shapes are consistent by construction).
pub fn explanation_safetensors(
    out: &HostExplanation,
    tokens: Option<&HostArray<i64>>,
) -> Result<Vec<u8>, lrp_import::ImportError> {
    let f = |shape: Vec<usize>, data: Vec<f64>| OutTensor::F64(HostArray { shape, data });
    let mut tensors = vec![
        (
            "relevance",
            f(
                vec![out.batch, out.steps, out.features],
                out.relevance.clone(),
            ),
        ),
        (
            "step_relevance",
            f(vec![out.batch, out.steps], out.step_relevance()),
        ),
        ("rest", f(vec![out.batch], out.rest.clone())),
        (
            "logits",
            f(vec![out.batch, out.classes], out.logits.clone()),
        ),
        (
            "target",
            OutTensor::I64(HostArray {
                shape: vec![out.batch],
                data: out.target.clone(),
            }),
        ),
    ];
    if let Some(ids) = tokens {
        tensors.push(("tokens", OutTensor::I64(ids.clone())));
    }
    serialize(&tensors, None)
}

/// The relevance `(B, T, E)` as a `.npy` array (`<f8`).
pub fn relevance_npy(out: &HostExplanation) -> Vec<u8> {
    npy::write_f64(&[out.batch, out.steps, out.features], &out.relevance)
}
