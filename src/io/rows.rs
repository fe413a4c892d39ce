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
    let inputs = &batch.inputs;
    let offset = 0;
    let steps = out.step_relevance();
    let logits = out.explained_logits();
    let t = out.steps;
    (0..out.batch)
        .map(|b| {
            let sample = offset + b;
            let real: Vec<usize> = match (&inputs.mask, &inputs.lengths) {
                (Some(mask), _) => (0..t).filter(|&k| mask.data[sample * t + k] != 0).collect(),
                (None, Some(lengths)) => (0..lengths[sample].min(t)).collect(),
                (None, None) => (0..t).collect(),
            };
            let words = real
                .iter()
                .map(|&k| match &inputs.values {
                    InputValues::Tokens(ids) => {
                        let id = ids.data[sample * t + k];
                        vocab.map_or_else(|| id.to_string(), |v| v.word(id))
                    }
                    InputValues::Features(_) => format!("t{k}"),
                })
                .collect();
            let class_logits = &out.logits[b * out.classes..(b + 1) * out.classes];
            let predicted = (0..out.classes).fold(0, |best, c| {
                if class_logits[c] > class_logits[best] {
                    c
                } else {
                    best
                }
            });
            let words = match batch.words.as_ref().and_then(|w| w.get(b)) {
                // Shown as written, unknown words included, rather than `<unk>`.
                Some(read) if read.len() == real.len() => read.clone(),
                _ => words,
            };
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

/// One JSON object per row, newline-terminated: `tokens`, `relevance` (per real step),
/// `target`, `predicted`, `logit`, `rest`.
///
/// # Errors
/// What the writer returns.
pub fn write_jsonl(rows: &[Row], mut w: impl Write) -> std::io::Result<()> {
    for row in rows {
        let value = serde_json::json!({
            "tokens": row.words,
            "relevance": row.relevance,
            "target": row.target,
            "predicted": row.predicted,
            "logit": row.logit,
            "rest": row.rest,
        });
        writeln!(w, "{value}")?;
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
