//! Borrowed input values: sequences a caller already holds in memory (the Python package's numpy
//! arrays), handed to a model batch by batch with one copy each — into the buffer burn takes.

use core::ops::Range;

use lrp_core::burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use lrp_core::{Input, Precision};

/// Feature values `(B, T, E)`, row-major, in the element type the caller has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureSlice<'a> {
    /// `float64`.
    F64(&'a [f64]),
    /// `float32`.
    F32(&'a [f32]),
}

/// Token ids `(B, T)`, row-major, in the integer type the caller has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSlice<'a> {
    /// `int64`.
    I64(&'a [i64]),
    /// `int32`.
    I32(&'a [i32]),
}

/// Borrowed sequences: feature vectors or token ids, row-major.
///
/// [`ValuesView::input_range`] copies a range of samples once, straight into a buffer of the
/// model's precision (converting `f32` ↔ `f64` or `i32` → `i64` in that same pass), and hands it
/// to burn as it is.
///
/// ```
/// use lstm_lrp::io::{FeatureSlice, ValuesView};
/// use lstm_lrp::{ExplainConfig, LstmModel, Precision, backends};
///
/// let device = backends::default_device();
/// let params = lstm_lrp::load_model("examples/data/keras2_sentiment_bilstm.safetensors")?;
/// let model = LstmModel::new(&params, &device, Precision::F64)?;
/// let x = vec![0.5f32; 3 * 9 * 60]; // (B, T, E) = (3, 9, 60), float32
/// let view = ValuesView::features(FeatureSlice::F32(&x), [3, 9, 60])?;
/// let out = model.explain(view.input_range(1..3, &device, Precision::F64), &ExplainConfig::new())?;
/// assert_eq!(out.relevance.dims(), [2, 9, 60]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValuesView<'a> {
    /// Feature vectors.
    Features {
        /// `B · T · E` values.
        data: FeatureSlice<'a>,
        /// `[B, T, E]`.
        shape: [usize; 3],
    },
    /// Token ids.
    Tokens {
        /// `B · T` ids.
        data: TokenSlice<'a>,
        /// `[B, T]`.
        shape: [usize; 2],
    },
}

impl<'a> ValuesView<'a> {
    /// Feature vectors of `shape` `[B, T, E]`.
    ///
    /// # Errors
    /// When the slice does not hold `B · T · E` values.
    pub fn features(data: FeatureSlice<'a>, shape: [usize; 3]) -> Result<Self, String> {
        let len = match data {
            FeatureSlice::F64(d) => d.len(),
            FeatureSlice::F32(d) => d.len(),
        };
        check_len(len, &shape)?;
        Ok(ValuesView::Features { data, shape })
    }

    /// Token ids of `shape` `[B, T]`.
    ///
    /// # Errors
    /// When the slice does not hold `B · T` ids.
    pub fn tokens(data: TokenSlice<'a>, shape: [usize; 2]) -> Result<Self, String> {
        let len = match data {
            TokenSlice::I64(d) => d.len(),
            TokenSlice::I32(d) => d.len(),
        };
        check_len(len, &shape)?;
        Ok(ValuesView::Tokens { data, shape })
    }

    /// `[B, T]`.
    pub fn batch_and_steps(&self) -> [usize; 2] {
        match *self {
            ValuesView::Features { shape, .. } => [shape[0], shape[1]],
            ValuesView::Tokens { shape, .. } => shape,
        }
    }

    /// Whether the values are token ids.
    pub fn is_tokens(&self) -> bool {
        matches!(self, ValuesView::Tokens { .. })
    }

    /// Samples `range` as a model [`Input`] on `device` in `precision` (no padding declared):
    /// one copy of those samples.
    ///
    /// # Panics
    /// When `range` is not within `0..B`.
    pub fn input_range(&self, range: Range<usize>, device: &Device, precision: Precision) -> Input {
        let n = range.len();
        match *self {
            ValuesView::Features { data, shape } => {
                let [_, t, e] = shape;
                let rows = range.start * t * e..range.end * t * e;
                let tensor_data = match (data, precision) {
                    (FeatureSlice::F64(d), Precision::F64) => {
                        TensorData::new(d[rows].to_vec(), [n, t, e])
                    }
                    (FeatureSlice::F32(d), Precision::F32) => {
                        TensorData::new(d[rows].to_vec(), [n, t, e])
                    }
                    (FeatureSlice::F32(d), Precision::F64) => TensorData::new(
                        d[rows].iter().map(|&v| f64::from(v)).collect::<Vec<f64>>(),
                        [n, t, e],
                    ),
                    (FeatureSlice::F64(d), Precision::F32) => TensorData::new(
                        d[rows].iter().map(|&v| v as f32).collect::<Vec<f32>>(),
                        [n, t, e],
                    ),
                };
                Input::features(Tensor::from_data(tensor_data, (device, precision.dtype())))
            }
            ValuesView::Tokens { data, shape } => {
                let t = shape[1];
                let rows = range.start * t..range.end * t;
                let ids: Vec<i64> = match data {
                    TokenSlice::I64(d) => d[rows].to_vec(),
                    TokenSlice::I32(d) => d[rows].iter().map(|&v| i64::from(v)).collect(),
                };
                Input::tokens(Tensor::<2, Int>::from_data(
                    TensorData::new(ids, [n, t]),
                    device,
                ))
            }
        }
    }
}

fn check_len(len: usize, shape: &[usize]) -> Result<(), String> {
    let expected = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    match expected {
        Some(n) if n == len => Ok(()),
        _ => Err(format!(
            "the data holds {len} values, shape {shape:?} needs {}",
            expected.map_or_else(|| "more than usize::MAX".to_string(), |n| n.to_string())
        )),
    }
}

/// Borrowed sequences with their padding: [`ValuesView`] plus optional lengths or mask.
///
/// ```
/// use lstm_lrp::io::{InputView, TokenSlice, ValuesView};
/// use lstm_lrp::{LstmModel, Precision, backends};
///
/// let device = backends::default_device();
/// let model = LstmModel::new(
///     &lstm_lrp::load_model("examples/sentiment/model.safetensors")?,
///     &device,
///     Precision::F64,
/// )?;
/// let ids = [5i32, 6, 7, 8, 9, 0]; // two sentences of 3 and 2 tokens, int32
/// let lengths = [3, 2];
/// let view = InputView {
///     values: ValuesView::tokens(TokenSlice::I32(&ids), [2, 3])?,
///     lengths: Some(&lengths),
///     mask: None,
/// };
/// let logits = model.forward(view.input_range(0..2, &device, Precision::F64))?;
/// assert_eq!(logits.dims(), [2, model.num_classes()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InputView<'a> {
    /// The sequences.
    pub values: ValuesView<'a>,
    /// Real length of each sequence (post-padding), `B` values.
    pub lengths: Option<&'a [usize]>,
    /// `(B, T)` row-major, `true` = real step; overrides `lengths`.
    pub mask: Option<&'a [bool]>,
}

impl InputView<'_> {
    /// `[B, T]`.
    pub fn batch_and_steps(&self) -> [usize; 2] {
        self.values.batch_and_steps()
    }

    /// Samples `range` as a model [`Input`] with their padding (see
    /// [`ValuesView::input_range`]).
    ///
    /// # Panics
    /// When `range` is not within `0..B`, or `lengths`/`mask` hold fewer than `B` resp. `B · T`
    /// values.
    pub fn input_range(&self, range: Range<usize>, device: &Device, precision: Precision) -> Input {
        let [_, t] = self.batch_and_steps();
        let n = range.len();
        let input = self.values.input_range(range.clone(), device, precision);
        with_padding(
            input,
            self.mask
                .map(|m| m[range.start * t..range.end * t].to_vec()),
            self.lengths.map(|l| l[range].to_vec()),
            [n, t],
            device,
        )
    }
}

/// `input` with an explicit mask (`true` = real, `(n, t)` row-major) or else lengths.
pub(crate) fn with_padding(
    input: Input,
    mask: Option<Vec<bool>>,
    lengths: Option<Vec<usize>>,
    [n, t]: [usize; 2],
    device: &Device,
) -> Input {
    match (mask, lengths) {
        (Some(flags), _) => input.with_mask(Tensor::<2, Bool>::from_data(
            TensorData::new(flags, [n, t]),
            device,
        )),
        (None, Some(lengths)) => input.with_lengths(lengths),
        (None, None) => input,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends;

    #[test]
    fn a_wrong_length_is_refused() {
        let x = [0.0f64; 10];
        assert!(ValuesView::features(FeatureSlice::F64(&x), [2, 5, 1]).is_ok());
        let err = ValuesView::features(FeatureSlice::F64(&x), [2, 5, 2]).unwrap_err();
        assert!(err.contains("holds 10 values"), "{err}");
        assert!(ValuesView::tokens(TokenSlice::I64(&[1, 2, 3]), [2, 2]).is_err());
        assert!(ValuesView::tokens(TokenSlice::I32(&[]), [usize::MAX, 2]).is_err());
    }

    #[test]
    fn every_dtype_pair_gives_the_same_logits() {
        use lrp_core::{LstmModel, LstmWeights, Matrix, ModelParams};
        let lstm = LstmWeights {
            w_x: Matrix::new(2, 4, vec![0.5, 0.1, 0.9, 0.3, -0.2, 0.4, 0.1, 0.7]).unwrap(),
            w_h: Matrix::new(1, 4, vec![0.2; 4]).unwrap(),
            b: vec![0.0; 4],
        };
        let head = Matrix::new(1, 2, vec![1.0, -1.0]).unwrap();
        let params = ModelParams::single_layer(lstm, None, head, vec![0.0, 0.0]).unwrap();
        let device = backends::default_device();
        // Multiples of 1/4: exact in f32 and f64.
        let f64s: Vec<f64> = (0..12).map(|i| i as f64 * 0.25 - 1.0).collect();
        let f32s: Vec<f32> = f64s.iter().map(|&v| v as f32).collect();
        for precision in [Precision::F64, Precision::F32] {
            let model = LstmModel::new(&params, &device, precision).unwrap();
            let logits = |data| {
                let view = ValuesView::features(data, [3, 2, 2]).unwrap();
                let input = view.input_range(1..3, &device, precision);
                assert_eq!(input.batch_and_steps(), [2, 2]);
                model
                    .forward(input)
                    .unwrap()
                    .into_data()
                    .iter::<f64>()
                    .collect::<Vec<_>>()
            };
            let a = logits(FeatureSlice::F64(&f64s));
            assert_eq!(a.len(), 4);
            assert_eq!(a, logits(FeatureSlice::F32(&f32s)), "{precision}");
        }
    }
}
