//! Reading models and inputs from files, and writing explanations.

use std::path::Path;

use lrp_core::burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use lrp_core::{HostExplanation, Input, ModelParams, Precision};
use lrp_import::safetensors_io::{self, OutTensor};
use lrp_import::{HostArray, ImportError, ImportedModel, LoadOptions, npy};

/// Reads a whole file, naming it in the error.
///
/// ```
/// let bytes = lstm_lrp::files::read_bytes("examples/sentiment/vocab.txt")?;
/// assert!(bytes.starts_with(b"<pad>\n<unk>\n"));
/// let err = lstm_lrp::files::read_bytes("no/such/file").unwrap_err();
/// assert!(err.to_string().contains("no/such/file"));
/// # Ok::<(), lstm_lrp::import::ImportError>(())
/// ```
pub fn read_bytes(path: impl AsRef<Path>) -> Result<Vec<u8>, ImportError> {
    let path = path.as_ref();
    std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Loads any supported model file (format detected from the content; see
/// [`lrp_import::read_model`]) into the canonical layout.
///
/// ```
/// let params = lstm_lrp::load_model("fixtures/keras3/a_bilstm_dense.keras")?;
/// assert_eq!(params.num_classes(), 3);
/// # Ok::<(), lstm_lrp::import::ImportError>(())
/// ```
pub fn load_model(path: impl AsRef<Path>) -> Result<ModelParams, ImportError> {
    Ok(load_model_with(path, &LoadOptions::default())?.params)
}

/// Loads a model file with explicit options (forced format, Keras configuration, PyTorch
/// module names), returning the import report too.
///
/// ```
/// use lstm_lrp::import::LoadOptions;
///
/// let imported = lstm_lrp::files::load_model_with(
///     "fixtures/pytorch/p1_bilstm_linear.safetensors",
///     &LoadOptions::default(),
/// )?;
/// assert_eq!(imported.params.lstm().len(), 1);
/// assert!(imported.params.lstm()[0].backward.is_some(), "a bidirectional LSTM");
/// # Ok::<(), lstm_lrp::import::ImportError>(())
/// ```
pub fn load_model_with(
    path: impl AsRef<Path>,
    options: &LoadOptions,
) -> Result<ImportedModel, ImportError> {
    lrp_import::read_model(read_bytes(path)?, options)
}

/// The values of an input file.
///
/// ```
/// use lstm_lrp::files::{InputArrays, InputValues};
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
/// use lstm_lrp::files::{InputValues, read_input};
///
/// let input = read_input("examples/data/random_embeddings.safetensors")?;
/// assert_eq!(input.batch_and_steps(), [4, 9]); // 4 sequences of 9 steps
/// assert!(matches!(&input.values, InputValues::Features(x) if x.shape == [4, 9, 60]));
/// # Ok::<(), lstm_lrp::import::ImportError>(())
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
    /// let x = lstm_lrp::files::read_input("examples/data/random_embeddings.safetensors")?;
    /// assert_eq!(x.batch_and_steps(), [4, 9]);
    /// # Ok::<(), lstm_lrp::import::ImportError>(())
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
    /// let x = lstm_lrp::files::read_input("examples/data/random_embeddings.safetensors")?;
    /// assert!(!x.is_tokens(), "feature vectors (B, T, E)");
    /// # Ok::<(), lstm_lrp::import::ImportError>(())
    /// ```
    pub fn is_tokens(&self) -> bool {
        matches!(self.values, InputValues::Tokens(_))
    }

    /// The token ids `(B, T)`, for token input.
    ///
    /// ```
    /// let ids = lstm_lrp::files::read_input("fixtures/keras3/c_embed_bilstmseq_lstm.io.safetensors")?;
    /// let tokens = ids.tokens().expect("token ids");
    /// assert_eq!(tokens.shape.len(), 2);
    /// # Ok::<(), lstm_lrp::import::ImportError>(())
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
    /// let x = lstm_lrp::files::read_input("examples/data/random_embeddings.safetensors")?;
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
        let n = range.len();
        let mut input = match &self.values {
            InputValues::Features(x) => {
                let e = x.shape[2];
                let data = x.data[range.start * t * e..range.end * t * e].to_vec();
                Input::features(Tensor::from_data(
                    TensorData::new(data, [n, t, e]),
                    (device, precision.dtype()),
                ))
            }
            InputValues::Tokens(ids) => {
                let data = ids.data[range.start * t..range.end * t].to_vec();
                Input::tokens(Tensor::<2, Int>::from_data(
                    TensorData::new(data, [n, t]),
                    device,
                ))
            }
        };
        if let Some(mask) = &self.mask {
            let flags: Vec<bool> = mask.data[range.start * t..range.end * t]
                .iter()
                .map(|&v| v != 0)
                .collect();
            input = input.with_mask(Tensor::<2, Bool>::from_data(
                TensorData::new(flags, [n, t]),
                device,
            ));
        } else if let Some(lengths) = &self.lengths {
            input = input.with_lengths(lengths[range].to_vec());
        }
        input
    }

    /// The samples `range` as a new [`InputArrays`] (values, lengths and mask copied).
    ///
    /// ```
    /// use lstm_lrp::files::{InputArrays, InputValues};
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

    /// All samples as a feature tensor (feature input only).
    ///
    /// ```
    /// use lstm_lrp::{Precision, backends};
    ///
    /// let x = lstm_lrp::files::read_input("examples/data/random_embeddings.safetensors")?;
    /// let t = x.features_tensor(&backends::default_device(), Precision::F32);
    /// assert_eq!(t.dims(), [4, 9, 60]);
    /// # Ok::<(), lstm_lrp::import::ImportError>(())
    /// ```
    ///
    /// # Panics
    /// For token input.
    pub fn features_tensor(&self, device: &Device, precision: Precision) -> Tensor<3> {
        match &self.values {
            InputValues::Features(x) => {
                let shape: [usize; 3] = [x.shape[0], x.shape[1], x.shape[2]];
                Tensor::from_data(
                    TensorData::new(x.data.clone(), shape),
                    (device, precision.dtype()),
                )
            }
            InputValues::Tokens(_) => panic!("features_tensor on token input"),
        }
    }
}

fn rank_error(name: &str, shape: Vec<usize>, expected: &'static str) -> ImportError {
    ImportError::Rank {
        name: name.into(),
        shape,
        expected,
    }
}

fn values_from(x: HostArray<f64>) -> Result<InputValues, ImportError> {
    match x.shape.len() {
        3 => Ok(InputValues::Features(x)),
        _ => Err(rank_error(
            "x",
            x.shape,
            "3 dimensions (batch, time, features) for float input, or 2 (batch, time) for token ids",
        )),
    }
}

fn tokens_from(ids: HostArray<i64>) -> Result<InputValues, ImportError> {
    match ids.shape.len() {
        2 => Ok(InputValues::Tokens(ids)),
        _ => Err(rank_error(
            "x",
            ids.shape,
            "2 dimensions (batch, time) for token ids",
        )),
    }
}

/// Whether a file starting with `prefix` (its first bytes, ideally 16 or more) and `len` bytes
/// long is JSON lines rather than `.npy` or safetensors: text whose first non-blank character
/// opens an array or a string. Lets a caller stream JSON lines instead of calling
/// [`read_input`], which reads the whole file.
///
/// ```
/// use lstm_lrp::files::is_json_lines;
///
/// assert!(is_json_lines(b"[1, 2, 3]\n[4]\n", 14));
/// assert!(is_json_lines(b"\"a sentence\"\n", 13));
/// assert!(!is_json_lines(b"\x93NUMPY\x01\x00", 1000));
/// // safetensors: an 8-byte little-endian header length, then the JSON header.
/// assert!(!is_json_lines(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"x\":", 100));
/// ```
pub fn is_json_lines(prefix: &[u8], len: u64) -> bool {
    if npy::is_npy(prefix) {
        return false;
    }
    // A safetensors header length is smaller than the file; 8 bytes of printable text read as a
    // little-endian u64 are at least 0x20 << 56, far larger than any file.
    if let Some(head) = prefix.get(..8) {
        let header = u64::from_le_bytes(head.try_into().unwrap_or([0; 8]));
        if header < len && prefix.get(8) == Some(&b'{') {
            return false;
        }
    }
    let text = prefix.strip_prefix(b"\xef\xbb\xbf").unwrap_or(prefix);
    matches!(
        text.iter().find(|b| !b.is_ascii_whitespace()),
        Some(b'[' | b'"')
    )
}

/// Reads an input file, its format detected from the content:
///
/// - a `.npy` array: floats `(B, T, E)` or integer token ids `(B, T)`;
/// - safetensors with `x` (floats `(B, T, E)` or integer ids `(B, T)`), optionally `lengths (B)`
///   and/or `mask (B, T)` (nonzero = real step), which override a mask the model derives itself;
/// - JSON lines, one JSON array of token ids per line: sequences of different lengths are
///   post-padded with id 0 and their lengths recorded.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("lstm-lrp-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("ids.jsonl");
/// std::fs::write(&path, "[4, 5, 6]\n[7]\n")?;
/// let input = lstm_lrp::files::read_input(&path)?;
/// assert_eq!(input.batch_and_steps(), [2, 3]);
/// assert_eq!(input.tokens().unwrap().data, [4, 5, 6, 7, 0, 0]);
/// assert_eq!(input.lengths, Some(vec![3, 1]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_input(path: impl AsRef<Path>) -> Result<InputArrays, ImportError> {
    let bytes = read_bytes(path)?;
    if npy::is_npy(&bytes) {
        let values = if npy::holds_floats(&bytes)? {
            values_from(npy::read_f64(&bytes)?)?
        } else {
            tokens_from(npy::read_i64(&bytes)?)?
        };
        return Ok(InputArrays {
            values,
            lengths: None,
            mask: None,
        });
    }
    if let Ok(st) = safetensors_io::parse(&bytes) {
        let is_int = st
            .tensor("x")
            .map(|v| {
                !matches!(
                    v.dtype(),
                    safetensors::Dtype::F64
                        | safetensors::Dtype::F32
                        | safetensors::Dtype::F16
                        | safetensors::Dtype::BF16
                )
            })
            .map_err(|_| ImportError::MissingTensor {
                name: "x".into(),
                present: safetensors_io::names(&st),
            })?;
        let values = if is_int {
            tokens_from(safetensors_io::int_array(&st, "x")?)?
        } else {
            values_from(safetensors_io::float_array(&st, "x")?)?
        };
        let lengths = if safetensors_io::has(&st, "lengths") {
            let l = safetensors_io::int_array(&st, "lengths")?;
            Some(
                l.data
                    .iter()
                    .map(|&v| {
                        usize::try_from(v)
                            .map_err(|_| ImportError::Format(format!("`lengths` holds {v}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            )
        } else {
            None
        };
        let mask = if safetensors_io::has(&st, "mask") {
            Some(safetensors_io::int_array(&st, "mask")?)
        } else {
            None
        };
        return Ok(InputArrays {
            values,
            lengths,
            mask,
        });
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| ImportError::Format("not a .npy, safetensors or JSON-lines file".into()))?;
    read_jsonl_tokens(&text)
}

/// JSON lines of token-id arrays → post-padded ids with lengths.
fn read_jsonl_tokens(text: &str) -> Result<InputArrays, ImportError> {
    let mut rows: Vec<Vec<i64>> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Vec<i64> = serde_json::from_str(line).map_err(|e| {
            ImportError::Format(format!(
                "line {}: expected a JSON array of token ids ({e})",
                n + 1
            ))
        })?;
        rows.push(row);
    }
    if rows.is_empty() {
        return Err(ImportError::Format(
            "the JSON-lines input holds no sequence".into(),
        ));
    }
    let t = rows.iter().map(Vec::len).max().unwrap_or(0);
    let lengths: Vec<usize> = rows.iter().map(Vec::len).collect();
    let mut data = Vec::with_capacity(rows.len() * t);
    for row in &rows {
        data.extend_from_slice(row);
        data.extend(std::iter::repeat_n(0, t - row.len()));
    }
    Ok(InputArrays {
        values: InputValues::Tokens(HostArray {
            shape: vec![rows.len(), t],
            data,
        }),
        lengths: Some(lengths),
        mask: None,
    })
}

/// Reads per-sample target classes: a `.npy` integer array, a safetensors file with `target`,
/// or text with one integer per line (or separated by whitespace or commas).
///
/// ```
/// let path = std::env::temp_dir().join(format!("lstm-lrp-doc-targets-{}", std::process::id()));
/// std::fs::write(&path, "0\n1, 1\n")?;
/// assert_eq!(lstm_lrp::files::read_targets(&path)?, [0, 1, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_targets(path: impl AsRef<Path>) -> Result<Vec<i64>, ImportError> {
    let bytes = read_bytes(path)?;
    if npy::is_npy(&bytes) {
        return Ok(npy::read_i64(&bytes)?.data);
    }
    if let Ok(st) = safetensors_io::parse(&bytes) {
        return Ok(safetensors_io::int_array(&st, "target")?.data);
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| ImportError::Format("not a .npy, safetensors or text file".into()))?;
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| ImportError::Format(format!("`{s}` is not a class index")))
        })
        .collect()
}

/// Serialises an explanation as safetensors: `relevance (B, T, E)`, `step_relevance (B, T)`
/// (the sum over features: per token for token input), `rest (B)`, `logits (B, C)` (all F64),
/// `target (B)` (I64), and for token input the ids `tokens (B, T)` they belong to.
///
/// ```
/// use lstm_lrp::{ExplainConfig, LstmModel, Precision, backends};
/// use lstm_lrp::import::safetensors_io::{float_array, parse};
///
/// let device = backends::default_device();
/// let params = lstm_lrp::load_model("examples/data/keras2_sentiment_bilstm.safetensors")?;
/// let model = LstmModel::new(&params, &device, Precision::F64)?;
/// let x = lstm_lrp::files::read_input("examples/data/random_embeddings.safetensors")?
///     .features_tensor(&device, Precision::F64);
/// let host = model.explain(x, &ExplainConfig::new())?.to_host()?;
/// let bytes = lstm_lrp::files::explanation_safetensors(&host, None)?;
/// let st = parse(&bytes)?;
/// assert_eq!(float_array(&st, "step_relevance")?.shape, [4, 9]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn explanation_safetensors(
    out: &HostExplanation,
    tokens: Option<&HostArray<i64>>,
) -> Result<Vec<u8>, ImportError> {
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
    safetensors_io::serialize(&tensors, None)
}
