//! Reading models and inputs from files, and writing explanations.

use std::path::Path;

use lrp_core::burn::tensor::{Device, Tensor, TensorData};
use lrp_core::{HostExplanation, ModelParams, Precision};
use lrp_import::safetensors_io::{self, OutTensor};
use lrp_import::{HostArray, ImportError, npy};

/// Reads a whole file, naming it in the error.
pub fn read_bytes(path: impl AsRef<Path>) -> Result<Vec<u8>, ImportError> {
    let path = path.as_ref();
    std::fs::read(path).map_err(|source| ImportError::Io {
        path: path.display().to_string(),
        source,
    })
}

/// Loads a model file into the canonical layout.
///
/// Supported: safetensors in the canonical layout (`w_x`, `w_h`, `b`, optional `w_x_bw`,
/// `w_h_bw`, `b_bw`, `w_dense`, optional `b_dense`; see [`lrp_import::canonical`]).
pub fn load_model(path: impl AsRef<Path>) -> Result<ModelParams, ImportError> {
    lrp_import::read_canonical(&read_bytes(path)?)
}

/// The arrays of an input file.
#[derive(Debug, Clone, PartialEq)]
pub struct InputArrays {
    /// `x (B, T, E)` feature vectors.
    pub x: HostArray<f64>,
}

impl InputArrays {
    /// `[B, T, E]`.
    pub fn dims(&self) -> [usize; 3] {
        [self.x.shape[0], self.x.shape[1], self.x.shape[2]]
    }

    /// Samples `range` of `x` as a tensor on `device` in `precision`.
    pub fn features_tensor_range(
        &self,
        range: core::ops::Range<usize>,
        device: &Device,
        precision: Precision,
    ) -> Tensor<3> {
        let [_, t, e] = self.dims();
        let data = self.x.data[range.start * t * e..range.end * t * e].to_vec();
        Tensor::from_data(
            TensorData::new(data, [range.len(), t, e]),
            (device, precision.dtype()),
        )
    }

    /// All of `x` as a tensor on `device` in `precision`.
    pub fn features_tensor(&self, device: &Device, precision: Precision) -> Tensor<3> {
        self.features_tensor_range(0..self.dims()[0], device, precision)
    }
}

/// Reads an input file: a `.npy` array `(B, T, E)`, or a safetensors file holding `x (B, T, E)`.
/// The format is detected from the content.
pub fn read_input(path: impl AsRef<Path>) -> Result<InputArrays, ImportError> {
    let bytes = read_bytes(path)?;
    let x = if npy::is_npy(&bytes) {
        npy::read_f64(&bytes)?
    } else {
        let st = safetensors_io::parse(&bytes)?;
        safetensors_io::float_array(&st, "x")?
    };
    if x.shape.len() != 3 {
        return Err(ImportError::Rank {
            name: "x".into(),
            shape: x.shape,
            expected: "3 dimensions (batch, time, features)",
        });
    }
    Ok(InputArrays { x })
}

/// Reads per-sample target classes: a `.npy` integer array, a safetensors file with `target`,
/// or text with one integer per line (or separated by whitespace or commas).
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

/// Serialises an explanation as safetensors: `relevance (B, T, E)`, `rest (B)`, `logits (B, C)`
/// (all F64) and `target (B)` (I64).
pub fn explanation_safetensors(out: &HostExplanation) -> Result<Vec<u8>, ImportError> {
    let f = |shape: Vec<usize>, data: &[f64]| {
        OutTensor::F64(HostArray {
            shape,
            data: data.to_vec(),
        })
    };
    safetensors_io::serialize(
        &[
            (
                "relevance",
                f(vec![out.batch, out.steps, out.features], &out.relevance),
            ),
            ("rest", f(vec![out.batch], &out.rest)),
            ("logits", f(vec![out.batch, out.classes], &out.logits)),
            (
                "target",
                OutTensor::I64(HostArray {
                    shape: vec![out.batch],
                    data: out.target.clone(),
                }),
            ),
        ],
        None,
    )
}
