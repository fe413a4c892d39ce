//! The outputs of `--step all`: every output position of a per-step model explained, one
//! JSON line per sequence (its positions nested) and `(B, T_out, T, E)` arrays.

use lrp_core::HostStepExplanations;
use lrp_import::HostArray;
use lrp_import::formats::npy;
use lrp_import::formats::safetensors::{OutTensor, serialize};

use crate::io::arrays::InputValues;
use crate::io::pad::PAD_ID;
use crate::io::rows::{JsonLine, argmax, real_steps, words};
use crate::io::source::InputBatch;
use crate::io::vocab::Vocab;

/// One output position of a sequence, explained.
#[derive(Debug, Clone, PartialEq)]
pub struct PositionRow {
    /// The output position (0-based, in the order the model returns its outputs).
    pub position: usize,
    /// Relevance per real input step of the sequence (summed over features).
    pub relevance: Vec<f64>,
    /// The explained class.
    pub target: usize,
    /// The largest output at this position.
    pub predicted: usize,
    /// The explained logit.
    pub logit: f64,
    /// Relevance left on the initial states (and absorbed at zero denominators).
    pub rest: f64,
}

/// One sequence with every real output position explained.
#[derive(Debug, Clone, PartialEq)]
pub struct StepRow {
    /// The token (word, id or `t<step>`) of each real input step.
    pub words: Vec<String>,
    /// Its real output positions, in order.
    pub positions: Vec<PositionRow>,
}

impl JsonLine for StepRow {
    /// `tokens`, and `steps`: one object per real output position with `step`, `relevance`
    /// (per real input step), `target`, `predicted`, `logit`, `rest`.
    fn to_json(&self) -> serde_json::Value {
        let steps: Vec<serde_json::Value> = self
            .positions
            .iter()
            .map(|p| {
                serde_json::json!({
                    "step": p.position,
                    "relevance": p.relevance,
                    "target": p.target,
                    "predicted": p.predicted,
                    "logit": p.logit,
                    "rest": p.rest,
                })
            })
            .collect();
        serde_json::json!({ "tokens": self.words, "steps": steps })
    }
}

/// The rows of `out`, the every-step explanation of `batch`.
pub fn step_rows(
    out: &HostStepExplanations,
    batch: &InputBatch,
    vocab: Option<&Vocab>,
) -> Vec<StepRow> {
    let (t, c) = (out.steps, out.classes);
    let per_step = out.step_relevance(); // (B, T_out, T)
    (0..out.batch)
        .map(|b| {
            let real = real_steps(batch, b, t);
            let positions = (0..t)
                .filter(|&k| out.valid[b * t + k])
                .map(|k| {
                    let at = b * t + k;
                    let logits = &out.logits[at * c..(at + 1) * c];
                    let target = out.target[at] as usize;
                    PositionRow {
                        position: k,
                        relevance: real.iter().map(|&s| per_step[at * t + s]).collect(),
                        target,
                        predicted: argmax(logits),
                        logit: logits[target],
                        rest: out.rest[at],
                    }
                })
                .collect();
            StepRow {
                words: words(batch, b, &real, vocab),
                positions,
            }
        })
        .collect()
}

/// Every batch's every-step explanation, for the array outputs; batches padded to different
/// lengths are padded to the longest (zero relevance, invalid positions, the padding id).
#[derive(Debug, Default)]
pub struct CollectedSteps {
    parts: Vec<(HostStepExplanations, Option<HostArray<i64>>)>,
}

impl CollectedSteps {
    /// Appends a batch's explanation (and its token ids, for token input).
    pub fn push(&mut self, batch: &InputBatch, out: HostStepExplanations) {
        let tokens = match &batch.inputs.values {
            InputValues::Tokens(ids) => Some(ids.clone()),
            InputValues::Features(_) => None,
        };
        self.parts.push((out, tokens));
    }

    /// The number of relevance values held so far.
    pub fn len(&self) -> usize {
        self.parts.iter().map(|(p, _)| p.relevance.len()).sum()
    }

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Everything as one explanation `(B, T_max, T_max, …)` and the token ids `(B, T_max)`;
    /// `None` when nothing was pushed.
    pub fn finish(self) -> Option<(HostStepExplanations, Option<HostArray<i64>>)> {
        let t = self.parts.iter().map(|(e, _)| e.steps).max()?;
        let first = &self.parts[0].0;
        let (e, c) = (first.features, first.classes);
        let has_tokens = self.parts.iter().all(|(_, ids)| ids.is_some());
        let batch: usize = self.parts.iter().map(|(p, _)| p.batch).sum();
        let mut all = HostStepExplanations::unexplained(batch, t, e, c);
        let mut ids = Vec::with_capacity(if has_tokens { batch * t } else { 0 });
        let mut b0 = 0;
        for (part, tokens) in self.parts {
            let pt = part.steps;
            for b in 0..part.batch {
                for k in 0..pt {
                    let (src, dst) = (b * pt + k, (b0 + b) * t + k);
                    all.rest[dst] = part.rest[src];
                    all.target[dst] = part.target[src];
                    all.valid[dst] = part.valid[src];
                    all.logits[dst * c..(dst + 1) * c]
                        .copy_from_slice(&part.logits[src * c..(src + 1) * c]);
                    all.relevance[dst * t * e..dst * t * e + pt * e]
                        .copy_from_slice(&part.relevance[src * pt * e..(src + 1) * pt * e]);
                }
            }
            if let Some(tokens) = tokens.filter(|_| has_tokens) {
                for row in tokens.data.chunks(pt.max(1)) {
                    ids.extend_from_slice(row);
                    ids.extend(std::iter::repeat_n(PAD_ID, t - pt));
                }
            }
            b0 += part.batch;
        }
        let tokens = has_tokens.then(|| HostArray {
            shape: vec![batch, t],
            data: ids,
        });
        Some((all, tokens))
    }
}

/// An every-step explanation as safetensors: `relevance (B, T_out, T, E)`, `step_relevance
/// (B, T_out, T)`, `rest (B, T_out)`, `logits (B, T_out, C)` (F64), `target (B, T_out)` (I64,
/// −1 at padding), `valid (B, T_out)` (I64, 1 at a real output position) and for token input
/// `tokens (B, T)`.
///
/// # Errors
/// The safetensors writer's (shapes are consistent by construction).
pub fn step_explanation_safetensors(
    out: &HostStepExplanations,
    tokens: Option<&HostArray<i64>>,
) -> Result<Vec<u8>, lrp_import::ImportError> {
    let (b, t, e, c) = (out.batch, out.steps, out.features, out.classes);
    let f = |shape: Vec<usize>, data: Vec<f64>| OutTensor::F64(HostArray { shape, data });
    let i = |shape: Vec<usize>, data: Vec<i64>| OutTensor::I64(HostArray { shape, data });
    let mut tensors = vec![
        ("relevance", f(vec![b, t, t, e], out.relevance.clone())),
        ("step_relevance", f(vec![b, t, t], out.step_relevance())),
        ("rest", f(vec![b, t], out.rest.clone())),
        ("logits", f(vec![b, t, c], out.logits.clone())),
        ("target", i(vec![b, t], out.target.clone())),
        (
            "valid",
            i(
                vec![b, t],
                out.valid.iter().map(|&v| i64::from(v)).collect(),
            ),
        ),
    ];
    if let Some(ids) = tokens {
        tensors.push(("tokens", OutTensor::I64(ids.clone())));
    }
    serialize(&tensors, None)
}

/// The relevance `(B, T_out, T, E)` as a `.npy` array (`<f8`).
pub fn step_relevance_npy(out: &HostStepExplanations) -> Vec<u8> {
    npy::write_f64(
        &[out.batch, out.steps, out.steps, out.features],
        &out.relevance,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::pad::pad_tokens;

    fn part(lengths: &[usize], t: usize) -> HostStepExplanations {
        let b = lengths.len();
        let e = 2;
        let mut out = HostStepExplanations::unexplained(b, t, e, 1);
        for (s, &len) in lengths.iter().enumerate() {
            for k in 0..len {
                let at = s * t + k;
                out.valid[at] = true;
                out.target[at] = 0;
                out.logits[at] = (10 * s + k) as f64;
                for step in 0..=k {
                    out.relevance[(at * t + step) * e] = 1.0;
                    out.relevance[(at * t + step) * e + 1] = 0.5;
                }
            }
        }
        out
    }

    #[test]
    fn rows_list_real_positions_with_relevance_per_real_step() {
        let batch = InputBatch {
            inputs: pad_tokens(&[vec![4, 5, 6], vec![7]]),
            start: 0,
            words: None,
        };
        let rows = step_rows(&part(&[3, 1], 3), &batch, None);
        assert_eq!(rows[0].words, ["4", "5", "6"]);
        assert_eq!(rows[0].positions.len(), 3);
        assert_eq!(rows[0].positions[1].relevance, [1.5, 1.5, 0.0]);
        assert_eq!(rows[0].positions[2].logit, 2.0);
        assert_eq!(rows[1].positions.len(), 1);
        assert_eq!(rows[1].positions[0].relevance, [1.5]);
        let json = rows[1].to_json();
        assert_eq!(json["steps"][0]["step"], 0);
        assert_eq!(json["steps"][0]["logit"], 10.0);
    }

    #[test]
    fn batches_of_different_lengths_are_padded_to_the_longest() {
        let batch = |seqs: &[Vec<i64>]| InputBatch {
            inputs: pad_tokens(seqs),
            start: 0,
            words: None,
        };
        let mut all = CollectedSteps::default();
        all.push(&batch(&[vec![1]]), part(&[1], 1));
        all.push(&batch(&[vec![2, 3]]), part(&[2], 2));
        assert_eq!(all.len(), 2 + 8);
        let (out, tokens) = all.finish().expect("two parts");
        assert_eq!((out.batch, out.steps), (2, 2));
        assert_eq!(out.valid, [true, false, true, true]);
        assert_eq!(out.target, [0, -1, 0, 0]);
        // Sequence 0, position 0: its one step, then the added step (zero).
        assert_eq!(&out.relevance[..4], [1.0, 0.5, 0.0, 0.0]);
        assert_eq!(out.logits, [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(tokens.expect("tokens").data, [1, PAD_ID, 2, 3]);
        let bytes = step_explanation_safetensors(&out, None).expect("serialise");
        let file = lrp_import::formats::safetensors::parse(&bytes).expect("parse");
        let relevance = lrp_import::formats::safetensors::float_array(&file, "relevance").unwrap();
        assert_eq!(relevance.shape, [2, 2, 2, 2]);
    }
}
