//! safetensors files (the `safetensors` crate): tensors as `f64`/`i64` host arrays, whatever
//! their stored dtype, and writing `f64`/`i64` tensors.

use safetensors::{Dtype, SafeTensors};

use crate::HostArray;
use crate::error::{ImportError, Result};
use crate::formats::dtype::{self, ElementType, Endian};

/// Parses safetensors bytes (the header is checked against the buffer by the crate: nothing is
/// allocated from its declared sizes).
pub fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>> {
    SafeTensors::deserialize(bytes).map_err(ImportError::SafeTensors)
}

/// The names of a file's tensors, sorted, comma-separated (for error messages).
pub fn names(st: &SafeTensors<'_>) -> String {
    let mut names = st.names();
    names.sort();
    names.join(", ")
}

/// Whether the file holds a tensor called `name`.
pub fn has(st: &SafeTensors<'_>, name: &str) -> bool {
    st.names().contains(&name)
}

fn view<'a>(st: &'a SafeTensors<'a>, name: &str) -> Result<safetensors::tensor::TensorView<'a>> {
    st.tensor(name).map_err(|_| ImportError::MissingTensor {
        name: name.into(),
        present: names(st),
    })
}

/// The element type of a safetensors dtype; `None` for the ones we do not read.
fn element_type(dtype: Dtype) -> Option<ElementType> {
    Some(match dtype {
        Dtype::F64 => ElementType::F64,
        Dtype::F32 => ElementType::F32,
        Dtype::F16 => ElementType::F16,
        Dtype::BF16 => ElementType::BF16,
        Dtype::I64 => ElementType::Int(8),
        Dtype::I32 => ElementType::Int(4),
        Dtype::I16 => ElementType::Int(2),
        Dtype::I8 => ElementType::Int(1),
        Dtype::U64 => ElementType::Unsigned(8),
        Dtype::U32 => ElementType::Unsigned(4),
        Dtype::U16 => ElementType::Unsigned(2),
        Dtype::U8 => ElementType::Unsigned(1),
        Dtype::BOOL => ElementType::Bool,
        _ => return None,
    })
}

/// Whether tensor `name` holds floats (`None` when absent).
pub fn holds_floats(st: &SafeTensors<'_>, name: &str) -> Option<bool> {
    let v = st.tensor(name).ok()?;
    Some(element_type(v.dtype()).is_some_and(ElementType::is_float))
}

/// A floating-point tensor (F64, F32, F16 or BF16) as `f64`; integer tensors are refused.
pub fn float_array(st: &SafeTensors<'_>, name: &str) -> Result<HostArray<f64>> {
    let v = view(st, name)?;
    let ty = element_type(v.dtype())
        .filter(|t| t.is_float())
        .ok_or_else(|| ImportError::Dtype {
            name: name.into(),
            dtype: format!("{:?}", v.dtype()),
            expected: "a float dtype (F64, F32, F16, BF16)",
        })?;
    Ok(HostArray {
        shape: v.shape().to_vec(),
        data: dtype::to_f64(v.data(), ty, Endian::Little),
    })
}

/// An integer tensor (I64, I32, I16, I8, U8, U16, U32, U64, BOOL) as `i64`.
pub fn int_array(st: &SafeTensors<'_>, name: &str) -> Result<HostArray<i64>> {
    let v = view(st, name)?;
    let dtype_error = || ImportError::Dtype {
        name: name.into(),
        dtype: format!("{:?}", v.dtype()),
        expected: "an integer dtype",
    };
    let ty = element_type(v.dtype()).ok_or_else(dtype_error)?;
    let data = dtype::to_i64(v.data(), ty, Endian::Little).map_err(|e| match e {
        None => dtype_error(),
        Some(big) => ImportError::Format(format!("tensor `{name}` holds {big}, too large")),
    })?;
    Ok(HostArray {
        shape: v.shape().to_vec(),
        data,
    })
}

/// A tensor to write: `f64` or `i64` values with their shape.
#[derive(Debug, Clone, PartialEq)]
pub enum OutTensor {
    /// Stored as F64.
    F64(HostArray<f64>),
    /// Stored as I64.
    I64(HostArray<i64>),
}

/// Serialises named tensors (and optional string metadata) as a safetensors file.
///
/// ```
/// use lrp_import::HostArray;
/// use lrp_import::formats::safetensors::{OutTensor, float_array, parse, serialize};
///
/// let x = OutTensor::F64(HostArray { shape: vec![2], data: vec![1.5, -2.0] });
/// let bytes = serialize(&[("x", x)], None)?;
/// assert_eq!(float_array(&parse(&bytes)?, "x")?.data, [1.5, -2.0]);
/// # Ok::<(), lrp_import::ImportError>(())
/// ```
pub fn serialize(
    tensors: &[(&str, OutTensor)],
    metadata: Option<std::collections::HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(name, t)| match t {
            OutTensor::F64(a) => (
                (*name).to_string(),
                Dtype::F64,
                a.shape.clone(),
                a.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
            OutTensor::I64(a) => (
                (*name).to_string(),
                Dtype::I64,
                a.shape.clone(),
                a.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
            ),
        })
        .collect();
    let views = owned
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            safetensors::tensor::TensorView::new(*dtype, shape.clone(), bytes)
                .map(|v| (name.clone(), v))
                .map_err(ImportError::SafeTensors)
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, metadata).map_err(ImportError::SafeTensors)
}
