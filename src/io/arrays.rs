//! A batch of input sequences in host memory, and its conversion to a model [`Input`].

use lrp_core::burn::tensor::{Device, Tensor, TensorData};
use lrp_core::{Input, Precision};
use std::io::{Read, Seek};

use lrp_import::formats::npy::{self, NpyError};
use lrp_import::formats::safetensors::{self as st, has, holds_floats};
use lrp_import::formats::zip::Archive;
use lrp_import::{HostArray, ImportError};
use safetensors::SafeTensors;

use crate::io::view::{FeatureSlice, TokenSlice, ValuesView, with_padding};

/// The values of an input file.
///
/// ```
/// use lstm_lrp::io::{InputArrays, InputValues};
/// use lstm_lrp::import::HostArray;
///
/// // Two sentences of 3 and 2 token ids, post-padded with 0: (B, T) = (2, 3).
/// let ids = HostArray { shape: vec![2, 3], data: vec![5i64, 6, 7, 8, 9, 0] };
/// let values = InputValues::Tokens(ids);
/// let input = InputArrays { values, lengths: Some(vec![3, 2]), mask: None };
/// assert!(input.is_tokens());
/// assert_eq!(input.batch_and_steps(), [2, 3]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub enum InputValues {
    /// Feature vectors `(B, T, E)`.
    Features(HostArray<f64>),
    /// Token ids `(B, T)`.
    Tokens(HostArray<i64>),
}

/// The arrays of an input file: values, and optionally which steps are real.
///
/// ```
/// use lstm_lrp::io::{InputValues, read_input};
///
/// let input = read_input("examples/data/random_embeddings.safetensors")?;
/// assert_eq!(input.batch_and_steps(), [4, 9]); // 4 sequences of 9 steps
/// assert!(matches!(&input.values, InputValues::Features(x) if x.shape == [4, 9, 60]));
/// # Ok::<(), lstm_lrp::io::IoError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct InputArrays {
    /// The sequences.
    pub values: InputValues,
    /// Real length of each sequence (post-padding).
    pub lengths: Option<Vec<usize>>,
    /// `(B, T)` mask, nonzero = real step; overrides `lengths`.
    pub mask: Option<HostArray<i64>>,
}

impl InputArrays {
    /// `[B, T]`: samples and (padded) time steps.
    ///
    /// ```
    /// let x = lstm_lrp::io::read_input("examples/data/random_embeddings.safetensors")?;
    /// assert_eq!(x.batch_and_steps(), [4, 9]);
    /// # Ok::<(), lstm_lrp::io::IoError>(())
    /// ```
    pub fn batch_and_steps(&self) -> [usize; 2] {
        match &self.values {
            InputValues::Features(x) => [x.shape[0], x.shape[1]],
            InputValues::Tokens(ids) => [ids.shape[0], ids.shape[1]],
        }
    }

    /// Whether the input holds token ids.
    ///
    /// ```
    /// let x = lstm_lrp::io::read_input("examples/data/random_embeddings.safetensors")?;
    /// assert!(!x.is_tokens(), "feature vectors (B, T, E)");
    /// # Ok::<(), lstm_lrp::io::IoError>(())
    /// ```
    pub fn is_tokens(&self) -> bool {
        matches!(self.values, InputValues::Tokens(_))
    }

    /// The token ids `(B, T)`, for token input.
    ///
    /// ```
    /// let ids = lstm_lrp::io::read_input("fixtures/keras3/c_embed_bilstmseq_lstm.io.safetensors")?;
    /// let tokens = ids.tokens().expect("token ids");
    /// assert_eq!(tokens.shape.len(), 2);
    /// # Ok::<(), lstm_lrp::io::IoError>(())
    /// ```
    pub fn tokens(&self) -> Option<&HostArray<i64>> {
        match &self.values {
            InputValues::Tokens(ids) => Some(ids),
            InputValues::Features(_) => None,
        }
    }

    /// Samples `range` as a model [`Input`] on `device` in `precision`, with their padding.
    ///
    /// ```
    /// use lstm_lrp::{ExplainConfig, LstmModel, Precision, backends};
    ///
    /// let device = backends::default_device();
    /// let model = LstmModel::new(
    ///     &lstm_lrp::load_model("examples/data/keras2_sentiment_bilstm.safetensors")?,
    ///     &device,
    ///     Precision::F64,
    /// )?;
    /// let x = lstm_lrp::io::read_input("examples/data/random_embeddings.safetensors")?;
    /// let out = model.explain(x.input_range(1..3, &device, Precision::F64), &ExplainConfig::new())?;
    /// assert_eq!(out.relevance.dims(), [2, 9, 60]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn input_range(
        &self,
        range: core::ops::Range<usize>,
        device: &Device,
        precision: Precision,
    ) -> Input {
        let [_, t] = self.batch_and_steps();
        let input = self
            .values_view()
            .input_range(range.clone(), device, precision);
        let mask = self.mask.as_ref().map(|mask| {
            mask.data[range.start * t..range.end * t]
                .iter()
                .map(|&v| v != 0)
                .collect()
        });
        let lengths = self.lengths.as_ref().map(|l| l[range.clone()].to_vec());
        with_padding(input, mask, lengths, [range.len(), t], device)
    }

    /// The values as a borrowed [`ValuesView`].
    ///
    /// ```
    /// let x = lstm_lrp::io::read_input("examples/data/random_embeddings.safetensors")?;
    /// assert_eq!(x.values_view().batch_and_steps(), [4, 9]);
    /// # Ok::<(), lstm_lrp::io::IoError>(())
    /// ```
    pub fn values_view(&self) -> ValuesView<'_> {
        match &self.values {
            InputValues::Features(x) => ValuesView::Features {
                data: FeatureSlice::F64(&x.data),
                shape: [x.shape[0], x.shape[1], x.shape[2]],
            },
            InputValues::Tokens(ids) => ValuesView::Tokens {
                data: TokenSlice::I64(&ids.data),
                shape: [ids.shape[0], ids.shape[1]],
            },
        }
    }

    /// The samples `range` as a new [`InputArrays`] (values, lengths and mask copied).
    ///
    /// ```
    /// use lstm_lrp::io::{InputArrays, InputValues};
    /// use lstm_lrp::import::HostArray;
    ///
    /// let all = InputArrays {
    ///     values: InputValues::Tokens(HostArray { shape: vec![3, 2], data: vec![5, 6, 7, 0, 8, 9] }),
    ///     lengths: Some(vec![2, 1, 2]),
    ///     mask: None,
    /// };
    /// let tail = all.slice(1..3);
    /// assert_eq!(tail.batch_and_steps(), [2, 2]);
    /// assert_eq!(tail.tokens().unwrap().data, [7, 0, 8, 9]);
    /// assert_eq!(tail.lengths, Some(vec![1, 2]));
    /// ```
    ///
    /// # Panics
    /// When `range` is not within `0..B`.
    pub fn slice(&self, range: core::ops::Range<usize>) -> InputArrays {
        let [_, t] = self.batch_and_steps();
        let n = range.len();
        let rows = |data: &[i64]| data[range.start * t..range.end * t].to_vec();
        let values = match &self.values {
            InputValues::Features(x) => {
                let e = x.shape[2];
                InputValues::Features(HostArray {
                    shape: vec![n, t, e],
                    data: x.data[range.start * t * e..range.end * t * e].to_vec(),
                })
            }
            InputValues::Tokens(ids) => InputValues::Tokens(HostArray {
                shape: vec![n, t],
                data: rows(&ids.data),
            }),
        };
        InputArrays {
            values,
            lengths: self.lengths.as_ref().map(|l| l[range.clone()].to_vec()),
            mask: self.mask.as_ref().map(|m| HostArray {
                shape: vec![n, t],
                data: rows(&m.data),
            }),
        }
    }

    /// All samples as a feature tensor `(B, T, E)`; `None` for token input.
    ///
    /// ```
    /// use lstm_lrp::{Precision, backends};
    ///
    /// let x = lstm_lrp::io::read_input("examples/data/random_embeddings.safetensors")?;
    /// let t = x.features_tensor(&backends::default_device(), Precision::F32).expect("features");
    /// assert_eq!(t.dims(), [4, 9, 60]);
    /// # Ok::<(), lstm_lrp::io::IoError>(())
    /// ```
    pub fn features_tensor(&self, device: &Device, precision: Precision) -> Option<Tensor<3>> {
        match &self.values {
            InputValues::Features(x) => {
                let shape: [usize; 3] = [x.shape[0], x.shape[1], x.shape[2]];
                Some(Tensor::from_data(
                    TensorData::new(x.data.clone(), shape),
                    (device, precision.dtype()),
                ))
            }
            InputValues::Tokens(_) => None,
        }
    }
}

/// What an `x` tensor's rank must be.
const X_RANKS: &str =
    "3 dimensions (batch, time, features) for float input, or 2 (batch, time) for token ids";

impl InputArrays {
    /// The input tensors of a safetensors file: `x` (floats `(B, T, E)` or integer token ids
    /// `(B, T)`), optionally `lengths (B)` and `mask (B, T)` (nonzero = real step).
    ///
    /// # Errors
    /// A missing `x`, a wrong rank or dtype, negative lengths.
    pub fn from_safetensors(file: &SafeTensors<'_>) -> Result<Self, ImportError> {
        let floats = holds_floats(file, "x").ok_or_else(|| ImportError::MissingTensor {
            name: "x".into(),
            present: st::names(file),
        })?;
        let x = if floats {
            NpyValues::Floats(st::float_array(file, "x")?)
        } else {
            NpyValues::Ints(st::int_array(file, "x")?)
        };
        let values = Self::named_x(x)?;
        let lengths = if has(file, "lengths") {
            Some(st::int_array(file, "lengths")?)
        } else {
            None
        };
        let mask = if has(file, "mask") {
            Some(st::int_array(file, "mask")?)
        } else {
            None
        };
        Self::assemble(values, lengths, mask)
    }

    /// The input arrays of an `.npz` archive (`np.savez`, `np.savez_compressed`), named as in a
    /// safetensors input: `x` (or the one array of `np.savez(path, x)`, which numpy calls
    /// `arr_0`), optionally `lengths` and `mask`.
    ///
    /// # Errors
    /// A missing `x`, a wrong rank or dtype, negative lengths, a damaged archive or array.
    pub fn from_npz<R: Read + Seek>(archive: &mut Archive<R>) -> Result<Self, ImportError> {
        let names = archive.names();
        let x = if archive.contains("x.npy") {
            "x.npy"
        } else if names == ["arr_0.npy"] {
            "arr_0.npy"
        } else {
            return Err(ImportError::MissingTensor {
                name: "x".into(),
                present: names
                    .iter()
                    .map(|n| n.trim_end_matches(".npy"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        };
        let values = Self::named_x(NpyValues::from_npy(&archive.read(x)?)?)?;
        let mut ints = |name: &str| -> Result<Option<HostArray<i64>>, ImportError> {
            let entry = format!("{name}.npy");
            if !archive.contains(&entry) {
                return Ok(None);
            }
            match NpyValues::from_npy(&archive.read(&entry)?)? {
                NpyValues::Ints(values) => Ok(Some(values)),
                NpyValues::Floats(_) => Err(ImportError::Format(format!(
                    "`{name}` holds floats; it must hold integers"
                ))),
            }
        };
        let lengths = ints("lengths")?;
        let mask = ints("mask")?;
        Self::assemble(values, lengths, mask)
    }

    /// The values of a container's `x` array (safetensors, `.npz`): floats `(B, T, E)` or
    /// integer token ids `(B, T)`.
    fn named_x(x: NpyValues) -> Result<InputValues, ImportError> {
        match x {
            NpyValues::Floats(x) if x.shape.len() == 3 => Ok(InputValues::Features(x)),
            NpyValues::Ints(ids) if ids.shape.len() == 2 => Ok(InputValues::Tokens(ids)),
            NpyValues::Floats(x) => Err(rank_error(x.shape, X_RANKS)),
            NpyValues::Ints(ids) => Err(rank_error(
                ids.shape,
                "2 dimensions (batch, time) for token ids",
            )),
        }
    }

    /// The arrays, with `lengths` (B) and `mask` (B, T) checked against `values`.
    fn assemble(
        values: InputValues,
        lengths: Option<HostArray<i64>>,
        mask: Option<HostArray<i64>>,
    ) -> Result<Self, ImportError> {
        let lengths = lengths
            .map(|l| {
                l.data
                    .iter()
                    .map(|&v| {
                        usize::try_from(v)
                            .map_err(|_| ImportError::Format(format!("`lengths` holds {v}")))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .transpose()?;
        let arrays = InputArrays {
            values,
            lengths,
            mask,
        };
        let [batch, steps] = arrays.batch_and_steps();
        if let Some(lengths) = &arrays.lengths
            && lengths.len() != batch
        {
            return Err(ImportError::Format(format!(
                "`lengths` holds {} values for {batch} sequences",
                lengths.len()
            )));
        }
        if let Some(mask) = &arrays.mask
            && mask.shape != [batch, steps]
        {
            return Err(ImportError::Format(format!(
                "`mask` has shape {:?}, `x` needs ({batch}, {steps})",
                mask.shape
            )));
        }
        Ok(arrays)
    }

    /// The values of a `.npy` array: floats `(B, T, E)` or integer token ids `(B, T)`.
    ///
    /// # Errors
    /// An array of another rank.
    pub fn from_npy_values(values: NpyValues) -> Result<Self, ImportError> {
        let values = match values {
            NpyValues::Floats(x) if x.shape.len() == 3 => InputValues::Features(x),
            NpyValues::Ints(ids) if ids.shape.len() == 2 => InputValues::Tokens(ids),
            NpyValues::Floats(x) => return Err(rank_error(x.shape, X_RANKS)),
            NpyValues::Ints(ids) => return Err(rank_error(ids.shape, X_RANKS)),
        };
        Ok(InputArrays {
            values,
            lengths: None,
            mask: None,
        })
    }
}

/// The values of a `.npy` array, by element kind.
#[derive(Debug, Clone, PartialEq)]
pub enum NpyValues {
    /// A float array.
    Floats(HostArray<f64>),
    /// An integer or boolean array.
    Ints(HostArray<i64>),
}

impl NpyValues {
    /// The values of the whole `.npy` file in `bytes`, by its element kind.
    ///
    /// # Errors
    /// A malformed file or an unsupported dtype.
    pub fn from_npy(bytes: &[u8]) -> Result<Self, NpyError> {
        Ok(if npy::holds_floats(bytes)? {
            Self::Floats(npy::read_f64(bytes)?)
        } else {
            Self::Ints(npy::read_i64(bytes)?)
        })
    }
}

fn rank_error(shape: Vec<usize>, expected: &'static str) -> ImportError {
    ImportError::Rank {
        name: "x".into(),
        shape,
        expected,
    }
}
