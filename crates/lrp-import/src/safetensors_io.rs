//! Reading tensors out of a safetensors file as `f64` or `i64`, whatever their stored dtype.

use safetensors::{Dtype, SafeTensors};

use crate::error::{ImportError, Result};

/// A host array: shape and row-major values.
#[derive(Debug, Clone, PartialEq)]
pub struct HostArray<T> {
    /// The shape.
    pub shape: Vec<usize>,
    /// Row-major values.
    pub data: Vec<T>,
}

/// Parses safetensors bytes.
pub fn parse(bytes: &[u8]) -> Result<SafeTensors<'_>> {
    SafeTensors::deserialize(bytes).map_err(|e| ImportError::SafeTensors(e.to_string()))
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

/// A floating-point tensor (F64, F32, F16 or BF16) as `f64`; integer tensors are refused.
pub fn float_array(st: &SafeTensors<'_>, name: &str) -> Result<HostArray<f64>> {
    let v = view(st, name)?;
    let bytes = v.data();
    let data: Vec<f64> = match v.dtype() {
        Dtype::F64 => bytes
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().expect("8 bytes")))
            .collect(),
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f64::from(f32::from_le_bytes(c.try_into().expect("4 bytes"))))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| f16_to_f64(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| {
                f64::from(f32::from_bits(
                    u32::from(u16::from_le_bytes([c[0], c[1]])) << 16,
                ))
            })
            .collect(),
        other => {
            return Err(ImportError::Dtype {
                name: name.into(),
                dtype: format!("{other:?}"),
                expected: "a float dtype (F64, F32, F16, BF16)",
            });
        }
    };
    Ok(HostArray {
        shape: v.shape().to_vec(),
        data,
    })
}

/// An integer tensor (I64, I32, I16, I8, U8, U16, U32, U64, BOOL) as `i64`.
pub fn int_array(st: &SafeTensors<'_>, name: &str) -> Result<HostArray<i64>> {
    let v = view(st, name)?;
    let b = v.data();
    let data: Vec<i64> = match v.dtype() {
        Dtype::I64 => b
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8")))
            .collect(),
        Dtype::I32 => b
            .chunks_exact(4)
            .map(|c| i64::from(i32::from_le_bytes(c.try_into().expect("4"))))
            .collect(),
        Dtype::I16 => b
            .chunks_exact(2)
            .map(|c| i64::from(i16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::I8 => b.iter().map(|&x| i64::from(x as i8)).collect(),
        Dtype::U8 | Dtype::BOOL => b.iter().map(|&x| i64::from(x)).collect(),
        Dtype::U16 => b
            .chunks_exact(2)
            .map(|c| i64::from(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Dtype::U32 => b
            .chunks_exact(4)
            .map(|c| i64::from(u32::from_le_bytes(c.try_into().expect("4"))))
            .collect(),
        Dtype::U64 => b
            .chunks_exact(8)
            .map(|c| {
                let v = u64::from_le_bytes(c.try_into().expect("8"));
                i64::try_from(v).map_err(|_| {
                    ImportError::Format(format!("tensor `{name}` holds {v}, too large"))
                })
            })
            .collect::<Result<_>>()?,
        other => {
            return Err(ImportError::Dtype {
                name: name.into(),
                dtype: format!("{other:?}"),
                expected: "an integer dtype",
            });
        }
    };
    Ok(HostArray {
        shape: v.shape().to_vec(),
        data,
    })
}

/// IEEE binary16 → f64 (exact).
fn f16_to_f64(bits: u16) -> f64 {
    let sign = if bits & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exp = i32::from((bits >> 10) & 0x1f);
    let frac = f64::from(bits & 0x3ff);
    match exp {
        0 => sign * frac * 2f64.powi(-24),
        31 if frac == 0.0 => sign * f64::INFINITY,
        31 => f64::NAN,
        _ => sign * (1.0 + frac / 1024.0) * 2f64.powi(exp - 15),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_precision_decodes() {
        assert_eq!(f16_to_f64(0x3c00), 1.0);
        assert_eq!(f16_to_f64(0xc000), -2.0);
        assert_eq!(f16_to_f64(0x0001), 2f64.powi(-24));
        assert!(f16_to_f64(0x7e00).is_nan());
    }
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
                .map_err(|e| ImportError::SafeTensors(e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, metadata).map_err(|e| ImportError::SafeTensors(e.to_string()))
}
