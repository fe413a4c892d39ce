//! One explained sequence per row: what JSON lines, the HTML heatmap and the terminal show.

use std::io::Write;

use lrp_core::HostExplanation;

use crate::io::arrays::InputValues;
use crate::io::source::InputBatch;
use crate::io::vocab::Vocab;

/// One explained sequence, over its real steps.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The token (word, id or `t<step>`) of each real step.
    pub words: Vec<String>,
    /// Relevance per real step (summed over the feature/embedding axis).
    pub relevance: Vec<f64>,
    /// The explained class.
    pub target: usize,
    /// The model's predicted class (the largest logit).
    pub predicted: usize,
    /// The explained logit.
    pub logit: f64,
    /// Relevance left on the initial states (and absorbed at zero denominators).
    pub rest: f64,
}

/// The rows of `out`, the explanation of `batch`: each sequence's words (as read for word
/// input, else the vocabulary's token, the id, or `t<step>` for feature vectors), over its real
/// steps.
///
/// ```
/// use lstm_lrp::HostExplanation;
/// use lstm_lrp::io::{InputBatch, pad_tokens, rows};
///
/// let batch = InputBatch { inputs: pad_tokens(&[vec![7, 8], vec![9]]), start: 0, words: None };
/// let out = HostExplanation {
///     batch: 2, steps: 2, features: 1, classes: 2,
///     relevance: vec![0.5, -0.25, 1.0, 0.0], rest: vec![0.0, 0.1],
///     logits: vec![1.0, 0.0, -1.0, 2.0], target: vec![0, 1],
/// };
/// let rows = rows(&out, &batch, None);
/// assert_eq!(rows[0].words, ["7", "8"]);
/// assert_eq!((rows[1].words.len(), rows[1].predicted, rows[1].logit), (1, 1, 2.0));
/// ```
pub fn rows(out: &HostExplanation, batch: &InputBatch, vocab: Option<&Vocab>) -> Vec<Row> {
    let steps = out.step_relevance();
    let logits = out.explained_logits();
    let t = out.steps;
    (0..out.batch)
        .map(|b| {
            let real = real_steps(batch, b, t);
            let words = words(batch, b, &real, vocab);
            let class_logits = &out.logits[b * out.classes..(b + 1) * out.classes];
            let predicted = argmax(class_logits);
            Row {
                words,
                relevance: real.iter().map(|&k| steps[b * t + k]).collect(),
                target: out.target[b] as usize,
                predicted,
                logit: logits[b],
                rest: out.rest[b],
            }
        })
        .collect()
}

/// The steps of sequence `sample` (of `t`) that the input marks real (its mask or lengths).
pub(crate) fn real_steps(batch: &InputBatch, sample: usize, t: usize) -> Vec<usize> {
    let inputs = &batch.inputs;
    match (&inputs.mask, &inputs.lengths) {
        (Some(mask), _) => (0..t).filter(|&k| mask.data[sample * t + k] != 0).collect(),
        (None, Some(lengths)) => (0..lengths[sample].min(t)).collect(),
        (None, None) => (0..t).collect(),
    }
}

/// The words of sequence `sample` at its steps `real`: as read for word input (unknown words
/// included, rather than `<unk>`), else the vocabulary's token, the id, or `t<step>`.
pub(crate) fn words(
    batch: &InputBatch,
    sample: usize,
    real: &[usize],
    vocab: Option<&Vocab>,
) -> Vec<String> {
    if let Some(read) = batch.words.as_ref().and_then(|w| w.get(sample))
        && read.len() == real.len()
    {
        return read.clone();
    }
    let t = batch.inputs.batch_and_steps()[1];
    real.iter()
        .map(|&k| match &batch.inputs.values {
            InputValues::Tokens(ids) => {
                let id = ids.data[sample * t + k];
                vocab.map_or_else(|| id.to_string(), |v| v.word(id))
            }
            InputValues::Features(_) => format!("t{k}"),
        })
        .collect()
}

/// The index of the largest value (the first on ties).
pub(crate) fn argmax(values: &[f64]) -> usize {
    (0..values.len()).fold(0, |best, c| if values[c] > values[best] { c } else { best })
}

/// What one line of a JSON-lines output holds: one sequence.
pub trait JsonLine {
    /// The sequence as one JSON object.
    fn to_json(&self) -> serde_json::Value;
}

impl JsonLine for Row {
    /// `tokens`, `relevance` (per real step), `target`, `predicted`, `logit`, `rest`.
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "tokens": self.words,
            "relevance": self.relevance,
            "target": self.target,
            "predicted": self.predicted,
            "logit": self.logit,
            "rest": self.rest,
        })
    }
}

/// One JSON object per row ([`JsonLine`]), newline-terminated.
///
/// # Errors
/// What the writer returns.
pub fn write_jsonl<R: JsonLine>(rows: &[R], mut w: impl Write) -> std::io::Result<()> {
    for row in rows {
        writeln!(w, "{}", row.to_json())?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row() -> Row {
        Row {
            words: vec!["good".into(), "<b>".into()],
            relevance: vec![2.0, -1.0],
            target: 1,
            predicted: 1,
            logit: 1.5,
            rest: -0.5,
        }
    }

    #[test]
    fn jsonl_has_one_object_per_row() {
        let mut buf = Vec::new();
        write_jsonl(&[row(), row()], &mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert_eq!(text.lines().count(), 2);
        let v: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
        assert_eq!(v["tokens"][0], "good");
        assert_eq!(v["relevance"][1], -1.0);
        assert_eq!(v["target"], 1);
    }
}
