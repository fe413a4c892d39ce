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
    let bytes = safetensors::serialize(views, None).map_err(ImportError::SafeTensors)?;
    match metadata {
        Some(metadata) if !metadata.is_empty() => with_sorted_metadata(bytes, metadata),
        _ => Ok(bytes),
    }
}

/// One tensor written by [`write_streamed`]: its name, element type, shape, and a function that
/// writes its values (row-major, little-endian, e.g. with [`dtype::write_le`]).
pub struct StreamedTensor<'a> {
    /// The tensor's name in the file.
    pub name: &'a str,
    /// F64 or I64 (the types [`OutTensor`] writes).
    pub dtype: StreamedDtype,
    /// The shape; the function must write exactly as many values.
    pub shape: Vec<usize>,
    /// Writes the values.
    pub write: WriteValues<'a>,
}

/// Writes a [`StreamedTensor`]'s values when the file reaches them.
pub type WriteValues<'a> = Box<dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<()> + 'a>;

/// The element types [`write_streamed`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamedDtype {
    /// IEEE binary64.
    F64,
    /// 8-byte signed integers.
    I64,
}

/// Writes named tensors as a safetensors file to `out`, each tensor's values produced while it
/// is written: nothing the size of the file is held in memory. The bytes are those
/// [`serialize`] gives for the same tensors (without metadata).
///
/// Why by hand: the crate writes only from whole in-memory tensors (`serialize` builds the file
/// in one buffer, `serialize_to_file` replaces its path without syncing it). Here the crate still
/// decides the layout: its `Dtype` order sorts the tensors and its `TensorInfo` writes each
/// header entry; a test checks the bytes against its `serialize`.
///
/// ```
/// use lrp_import::formats::dtype::write_le;
/// use lrp_import::formats::safetensors::{
///     StreamedDtype, StreamedTensor, float_array, parse, write_streamed,
/// };
///
/// let values = [1.5, -2.0, 0.25];
/// let x = StreamedTensor {
///     name: "x",
///     dtype: StreamedDtype::F64,
///     shape: vec![3],
///     write: Box::new(|w| write_le(w, &values, f64::to_le_bytes)),
/// };
/// let mut file = Vec::new();
/// write_streamed(&mut file, vec![x])?;
/// assert_eq!(float_array(&parse(&file)?, "x")?.data, values);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// The writer's; `InvalidData` when a tensor's function writes a number of bytes other than its
/// shape holds (a bug in the caller, caught before a malformed file is finished).
pub fn write_streamed(
    out: &mut dyn std::io::Write,
    mut tensors: Vec<StreamedTensor<'_>>,
) -> std::io::Result<()> {
    let dtype = |t: &StreamedTensor<'_>| match t.dtype {
        StreamedDtype::F64 => Dtype::F64,
        StreamedDtype::I64 => Dtype::I64,
    };
    // The crate's order: by descending dtype, then by name.
    tensors.sort_by(|l, r| dtype(r).cmp(&dtype(l)).then(l.name.cmp(r.name)));
    let too_large = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "tensor too large");
    let mut entries = Vec::with_capacity(tensors.len());
    let mut sizes = Vec::with_capacity(tensors.len());
    let mut offset = 0usize;
    for t in &tensors {
        let size = t
            .shape
            .iter()
            // Both element types take 8 bytes.
            .try_fold(8usize, |n, &d| n.checked_mul(d))
            .ok_or_else(too_large)?;
        let end = offset.checked_add(size).ok_or_else(too_large)?;
        let info = safetensors::tensor::TensorInfo {
            dtype: dtype(t),
            shape: t.shape.clone(),
            data_offsets: (offset, end),
        };
        entries.push(format!(
            "{}:{}",
            serde_json::to_string(t.name)?,
            serde_json::to_string(&info)?
        ));
        sizes.push(size);
        offset = end;
    }
    let mut header = format!("{{{}}}", entries.join(",")).into_bytes();
    // Padded with spaces so that the data starts at a multiple of 8 bytes.
    header.resize(header.len().next_multiple_of(8), b' ');
    out.write_all(&(header.len() as u64).to_le_bytes())?;
    out.write_all(&header)?;
    for (t, size) in tensors.into_iter().zip(sizes) {
        let name = t.name;
        let mut counted = CountingWriter {
            inner: &mut *out,
            written: 0,
        };
        (t.write)(&mut counted)?;
        if counted.written != size {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "tensor `{name}`: {} bytes written, its shape holds {size}",
                    counted.written
                ),
            ));
        }
    }
    Ok(())
}

/// Counts the bytes passed through to `inner`.
struct CountingWriter<'w> {
    inner: &'w mut dyn std::io::Write,
    written: usize,
}

impl std::io::Write for CountingWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.written += n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Puts the metadata into a serialised file's header with its keys sorted, so that the same
/// tensors and metadata always give the same bytes: the crate writes the map in hash order,
/// which changes from run to run. The result is the crate's own layout (`__metadata__` first,
/// then the tensors in its order, the header padded with spaces to 8 bytes); offsets are
/// relative to the data buffer, which is kept as it is.
fn with_sorted_metadata(
    bytes: Vec<u8>,
    metadata: std::collections::HashMap<String, String>,
) -> Result<Vec<u8>> {
    let malformed = || ImportError::Format("safetensors writer: unexpected header".into());
    let len_bytes: [u8; 8] = bytes
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .ok_or_else(malformed)?;
    let n = usize::try_from(u64::from_le_bytes(len_bytes))
        .ok()
        .filter(|n| n.checked_add(8).is_some_and(|end| end <= bytes.len()))
        .ok_or_else(malformed)?;
    let header = std::str::from_utf8(&bytes[8..8 + n])
        .map_err(|_| malformed())?
        .trim_end_matches(' ');
    let tensors = header
        .strip_prefix('{')
        .and_then(|h| h.strip_suffix('}'))
        .ok_or_else(malformed)?;
    let sorted: std::collections::BTreeMap<String, String> = metadata.into_iter().collect();
    let sorted = serde_json::to_string(&sorted).map_err(|_| malformed())?;
    let separator = if tensors.is_empty() { "" } else { "," };
    let mut json = format!("{{\"__metadata__\":{sorted}{separator}{tensors}}}").into_bytes();
    json.resize(json.len().next_multiple_of(8), b' ');
    let data = &bytes[8 + n..];
    let mut out = Vec::with_capacity(8 + json.len() + data.len());
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(data);
    Ok(out)
}
#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn streamed_files_are_the_bytes_serialize_gives() {
        let relevance: Vec<f64> = (0..24).map(|k| f64::from(k) / 7.0).collect();
        let target = vec![1i64, -1];
        let rest = vec![0.5, f64::NAN];
        let tensors = vec![
            StreamedTensor {
                name: "relevance",
                dtype: StreamedDtype::F64,
                shape: vec![2, 3, 4],
                write: Box::new(|w| dtype::write_le(w, &relevance, f64::to_le_bytes)),
            },
            StreamedTensor {
                name: "target",
                dtype: StreamedDtype::I64,
                shape: vec![2],
                write: Box::new(|w| dtype::write_le(w, &target, i64::to_le_bytes)),
            },
            StreamedTensor {
                name: "rest",
                dtype: StreamedDtype::F64,
                shape: vec![2],
                write: Box::new(|w| dtype::write_le(w, &rest, f64::to_le_bytes)),
            },
        ];
        let mut streamed = Vec::new();
        write_streamed(&mut streamed, tensors).expect("written");
        let f = |shape: Vec<usize>, data: &[f64]| {
            OutTensor::F64(HostArray {
                shape,
                data: data.to_vec(),
            })
        };
        let target_tensor = OutTensor::I64(HostArray {
            shape: vec![2],
            data: target.clone(),
        });
        let whole = serialize(
            &[
                ("relevance", f(vec![2, 3, 4], &relevance)),
                ("target", target_tensor),
                ("rest", f(vec![2], &rest)),
            ],
            None,
        )
        .expect("serialised");
        assert_eq!(streamed, whole);
    }

    #[test]
    fn a_tensor_writing_the_wrong_number_of_bytes_is_an_error() {
        let short = StreamedTensor {
            name: "x",
            dtype: StreamedDtype::F64,
            shape: vec![3],
            write: Box::new(|w| dtype::write_le(w, &[1.0, 2.0], f64::to_le_bytes)),
        };
        let error = write_streamed(&mut Vec::new(), vec![short]).expect_err("2 of 3 values");
        assert_eq!(error.kind(), std::io::ErrorKind::InvalidData);
        assert!(
            error.to_string().contains("`x`: 16 bytes written"),
            "{error}"
        );
    }

    fn tensors() -> Vec<(&'static str, OutTensor)> {
        vec![
            (
                "b",
                OutTensor::I64(HostArray {
                    shape: vec![3],
                    data: vec![1, 2, 3],
                }),
            ),
            (
                "a",
                OutTensor::F64(HostArray {
                    shape: vec![1, 2],
                    data: vec![0.5, -1.0],
                }),
            ),
        ]
    }

    fn metadata() -> HashMap<String, String> {
        (0..16)
            .map(|i| (format!("key{i}"), format!("value \"{i}\"")))
            .collect()
    }

    #[test]
    fn metadata_is_written_in_one_order_whatever_the_maps_order() {
        let first = serialize(&tensors(), Some(metadata())).unwrap();
        // Every HashMap has its own random seed: 16 keys in the same order 20 times by chance
        // is out of the question, so this fails if the order leaked through.
        for _ in 0..20 {
            assert_eq!(serialize(&tensors(), Some(metadata())).unwrap(), first);
        }
        let (_, header) = SafeTensors::read_metadata(&first).unwrap();
        assert_eq!(header.metadata().as_ref(), Some(&metadata()));
        let file = parse(&first).unwrap();
        assert_eq!(float_array(&file, "a").unwrap().data, [0.5, -1.0]);
        assert_eq!(int_array(&file, "b").unwrap().data, [1, 2, 3]);
    }

    #[test]
    fn one_key_gives_the_crates_own_bytes() {
        let one = HashMap::from([("k".to_string(), "v".to_string())]);
        let ours = serialize(&tensors(), Some(one.clone())).unwrap();
        let owned = tensors();
        let data: Vec<(String, Vec<u8>, Dtype, Vec<usize>)> = owned
            .iter()
            .map(|(n, t)| match t {
                OutTensor::F64(a) => (
                    n.to_string(),
                    a.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    Dtype::F64,
                    a.shape.clone(),
                ),
                OutTensor::I64(a) => (
                    n.to_string(),
                    a.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                    Dtype::I64,
                    a.shape.clone(),
                ),
            })
            .collect();
        let views: Vec<_> = data
            .iter()
            .map(|(n, b, d, s)| {
                (
                    n.clone(),
                    safetensors::tensor::TensorView::new(*d, s.clone(), b).unwrap(),
                )
            })
            .collect();
        assert_eq!(ours, safetensors::serialize(views, Some(one)).unwrap());
    }

    #[test]
    fn no_tensors_and_metadata_only() {
        let bytes = serialize(&[], Some(metadata())).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(header.metadata().as_ref(), Some(&metadata()));
    }
}
