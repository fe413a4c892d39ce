//! Every batch's explanation gathered into one array set, for outputs that need all samples at
//! once (`--output`): batches padded to different lengths are padded to the longest.

use std::io::Write;

use lrp_core::HostExplanation;
use lrp_import::HostArray;
use lrp_import::formats::dtype::write_le;
use lrp_import::formats::npy;
use lrp_import::formats::safetensors::{
    StreamedDtype, StreamedTensor, WriteValues, write_streamed,
};

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

    /// Whether nothing was pushed.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// Each batch's explanation with its token ids, borrowed.
    fn parts(&self) -> Vec<Part<'_>> {
        self.parts
            .iter()
            .map(|(e, ids)| (e, ids.as_ref()))
            .collect()
    }

    /// Writes what [`explanation_safetensors`] writes for [`Collected::finish`]'s result, from
    /// the parts as they are: the file is produced while it is written, without gathering the
    /// batches into one array first. `Ok(false)` when nothing was pushed (nothing written).
    ///
    /// ```
    /// use lstm_lrp::HostExplanation;
    /// use lstm_lrp::io::{Collected, InputBatch, explanation_safetensors, pad_tokens};
    ///
    /// let part = |steps: usize, r: f64| HostExplanation {
    ///     batch: 1, steps, features: 1, classes: 1,
    ///     relevance: vec![r; steps], rest: vec![0.0], logits: vec![r], target: vec![0],
    /// };
    /// let mut all = Collected::default();
    /// all.push(&InputBatch { inputs: pad_tokens(&[vec![3]]), start: 0, words: None }, part(1, 1.0));
    /// all.push(&InputBatch { inputs: pad_tokens(&[vec![4, 5]]), start: 1, words: None }, part(2, 2.0));
    /// let mut streamed = Vec::new();
    /// assert!(all.write_safetensors(&mut streamed)?);
    /// let (whole, tokens) = all.finish().expect("two batches");
    /// assert_eq!(streamed, explanation_safetensors(&whole, tokens.as_ref())?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// The writer's.
    pub fn write_safetensors(&self, out: &mut dyn Write) -> std::io::Result<bool> {
        write_safetensors(out, &self.parts())
    }

    /// Writes what [`relevance_npy`] writes for [`Collected::finish`]'s result, from the parts
    /// as they are (see [`Collected::write_safetensors`]). `Ok(false)` when nothing was pushed.
    ///
    /// # Errors
    /// The writer's.
    pub fn write_relevance_npy(&self, out: &mut dyn Write) -> std::io::Result<bool> {
        let parts = self.parts();
        let Some([b, t, e, _]) = padded_shape(&parts) else {
            return Ok(false);
        };
        out.write_all(&npy::header("<f8", &[b, t, e]))?;
        for (p, _) in parts {
            write_padded_rows(out, &p.relevance, p.steps * e, (t - p.steps) * e, 0.0)?;
        }
        Ok(true)
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
    let mut bytes = Vec::new();
    write_safetensors(&mut bytes, &[(out, tokens)])
        .map_err(|e| lrp_import::ImportError::Format(format!("safetensors writer: {e}")))?;
    Ok(bytes)
}

/// One batch's explanation and, for token input, its token ids `(B, T)`.
type Part<'a> = (&'a HostExplanation, Option<&'a HostArray<i64>>);

/// The shape every part is padded to: `(B, T_max, E, C)`; `None` for no parts.
fn padded_shape(parts: &[Part<'_>]) -> Option<[usize; 4]> {
    let steps = parts.iter().map(|(e, _)| e.steps).max()?;
    let (first, _) = parts.first()?;
    let batch = parts.iter().map(|(e, _)| e.batch).sum();
    Some([batch, steps, first.features, first.classes])
}

/// The safetensors file of [`explanation_safetensors`] for the parts one after another, each
/// padded to the longest (zero relevance, the padding id), written as it is produced: the one
/// definition of the file's tensors. `Ok(false)` for no parts (nothing written); the tokens
/// only when every part has them.
fn write_safetensors(out: &mut dyn Write, parts: &[Part<'_>]) -> std::io::Result<bool> {
    let Some([b, t, e, c]) = padded_shape(parts) else {
        return Ok(false);
    };
    let mut tensors = vec![
        f64s(
            "relevance",
            vec![b, t, e],
            Box::new(move |w| {
                parts.iter().try_for_each(|(p, _)| {
                    write_padded_rows(w, &p.relevance, p.steps * e, (t - p.steps) * e, 0.0)
                })
            }),
        ),
        f64s(
            "step_relevance",
            vec![b, t],
            Box::new(move |w| {
                parts.iter().try_for_each(|(p, _)| {
                    write_padded_rows(w, &p.step_relevance(), p.steps, t - p.steps, 0.0)
                })
            }),
        ),
        f64s(
            "rest",
            vec![b],
            Box::new(move |w| {
                parts
                    .iter()
                    .try_for_each(|(p, _)| write_le(w, &p.rest, f64::to_le_bytes))
            }),
        ),
        f64s(
            "logits",
            vec![b, c],
            Box::new(move |w| {
                parts
                    .iter()
                    .try_for_each(|(p, _)| write_le(w, &p.logits, f64::to_le_bytes))
            }),
        ),
        StreamedTensor {
            name: "target",
            dtype: StreamedDtype::I64,
            shape: vec![b],
            write: Box::new(move |w| {
                parts
                    .iter()
                    .try_for_each(|(p, _)| write_le(w, &p.target, i64::to_le_bytes))
            }),
        },
    ];
    if parts.iter().all(|(_, ids)| ids.is_some()) {
        tensors.push(StreamedTensor {
            name: "tokens",
            dtype: StreamedDtype::I64,
            shape: vec![b, t],
            write: Box::new(move |w| {
                parts.iter().try_for_each(|(p, ids)| {
                    let ids = ids.map_or(&[][..], |ids| &ids.data[..]);
                    write_padded_rows(w, ids, p.steps, t - p.steps, PAD_ID)
                })
            }),
        });
    }
    write_streamed(out, tensors)?;
    Ok(true)
}

/// The relevance `(B, T, E)` as a `.npy` array (`<f8`).
pub fn relevance_npy(out: &HostExplanation) -> Vec<u8> {
    npy::write_f64(&[out.batch, out.steps, out.features], &out.relevance)
}

/// Writes `values` in rows of `row` values, each followed by `pad` copies of `fill`.
fn write_padded_rows<T: LittleEndian>(
    out: &mut dyn Write,
    values: &[T],
    row: usize,
    pad: usize,
    fill: T,
) -> std::io::Result<()> {
    if pad == 0 {
        return write_le(out, values, T::to_le);
    }
    let padding = vec![fill; pad];
    values.chunks(row.max(1)).try_for_each(|r| {
        write_le(out, r, T::to_le)?;
        write_le(out, &padding, T::to_le)
    })
}

/// The element types the outputs hold, with their little-endian bytes.
trait LittleEndian: Copy {
    fn to_le(self) -> [u8; 8];
}

impl LittleEndian for f64 {
    fn to_le(self) -> [u8; 8] {
        self.to_le_bytes()
    }
}

impl LittleEndian for i64 {
    fn to_le(self) -> [u8; 8] {
        self.to_le_bytes()
    }
}

fn f64s<'a>(name: &'a str, shape: Vec<usize>, write: WriteValues<'a>) -> StreamedTensor<'a> {
    StreamedTensor {
        name,
        dtype: StreamedDtype::F64,
        shape,
        write,
    }
}
