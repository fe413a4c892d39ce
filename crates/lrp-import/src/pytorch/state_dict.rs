//! Turning an unpickled object graph plus storage bytes into named tensors.
//!
//! The top-level object must be a dict. Its entries are walked in order;
//! nested containers (a checkpoint such as `{"model": state_dict, "epoch": 3}`,
//! lists, tuples) are flattened with dotted key paths (`model.lstm.weight_ih_l0`,
//! list items by index), tensors become entries and every other value
//! (ints, floats, strings, `None`, bare storages) is skipped.

use std::collections::{HashMap, HashSet};

use crate::pytorch::dtype::DType;
use crate::pytorch::error::{PtError, layout, too_large, truncated};
use crate::pytorch::pickle::{DictKey, Obj, TensorSpec, Unpickled, Value};

/// Deepest container nesting walked below the top-level dict.
const MAX_NESTING: usize = 64;
/// Output elements allowed per byte of distinct storage data loaded
/// (views may repeat storage elements, e.g. tied weights or stride-0 dims).
const ELEMENTS_PER_STORAGE_BYTE: usize = 2;
/// Output elements always allowed, on top of the per-byte budget.
const ELEMENT_SLACK: usize = 4096;

/// A state dict: named tensors in the file's order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StateDict {
    /// `(name, tensor)` pairs in the order the file lists them; nested
    /// dicts appear with dotted names (`model.fc.weight`).
    pub tensors: Vec<(String, Tensor)>,
}

impl StateDict {
    /// The tensor with this name.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }

    /// Number of tensors.
    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    /// Whether there are no tensors.
    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// The tensor names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.iter().map(|(n, _)| n.as_str())
    }
}

/// A dense tensor, row-major, values converted to `f64`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    /// The element type in the file.
    pub dtype: DType,
    /// Dimensions (empty for a scalar).
    pub shape: Vec<usize>,
    /// `shape.iter().product()` values in row-major (C) order.
    pub data: Vec<f64>,
}

impl Tensor {
    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

/// Supplies the raw bytes of a storage by key.
pub(crate) trait StorageSource {
    /// All bytes of the (root) storage `key`.
    fn storage(&mut self, key: &str) -> Result<&[u8], PtError>;
}

/// Builds the state dict from an unpickled object graph.
pub(crate) fn build(
    up: &Unpickled,
    src: &mut dyn StorageSource,
    big_endian: bool,
) -> Result<StateDict, PtError> {
    let leaves = flatten(up)?;
    let mut out = StateDict::default();
    let mut names = HashSet::new();
    let mut loaded: HashMap<String, usize> = HashMap::new();
    let mut storage_bytes: usize = 0;
    let mut elements: usize = 0;
    for (name, spec) in leaves {
        if !names.insert(name.clone()) {
            return Err(layout(format!("tensor name `{name}` occurs twice")));
        }
        let bytes = src.storage(&spec.storage.key)?;
        if !loaded.contains_key(&*spec.storage.key) {
            loaded.insert(spec.storage.key.to_string(), bytes.len());
            storage_bytes = storage_bytes.saturating_add(bytes.len());
        }
        elements = elements.saturating_add(spec.numel);
        let budget = storage_bytes
            .saturating_mul(ELEMENTS_PER_STORAGE_BYTE)
            .saturating_add(ELEMENT_SLACK);
        if elements > budget {
            return Err(too_large(format!(
                "tensors up to `{name}` hold {elements} elements but the file's storages only {storage_bytes} bytes"
            )));
        }
        let data = materialize(&spec, bytes, big_endian)?;
        out.tensors.push((
            name,
            Tensor {
                dtype: spec.storage.dtype,
                shape: spec.size,
                data,
            },
        ));
    }
    Ok(out)
}

/// Walks the dict (and nested containers) in order, collecting tensors
/// with their dotted key paths.
fn flatten(up: &Unpickled) -> Result<Vec<(String, TensorSpec)>, PtError> {
    match up.obj(&up.root) {
        Some(Obj::Dict(_)) => {}
        Some(Obj::Tensor(_)) => {
            return Err(layout(
                "the file holds a single tensor, not a dict of tensors",
            ));
        }
        _ => return Err(layout("the top-level object is not a dict")),
    }
    // Each container item is normally walked once; shared containers may be
    // walked a few times, but a graph built to explode is refused before
    // any work is done for it.
    let items: usize = up
        .objs
        .iter()
        .map(|o| match o {
            Obj::Dict(d) => d.entries.len(),
            Obj::List(v) | Obj::Tuple(v) => v.len(),
            _ => 0,
        })
        .fold(0, usize::saturating_add);
    let max_walked = items.saturating_mul(4).saturating_add(64);
    let mut walked = 0usize;
    let mut out = Vec::new();
    // Explicit stack of (value, key path, depth); children pushed in reverse.
    let mut todo: Vec<(Value, String, usize)> = vec![(up.root.clone(), String::new(), 0)];
    while let Some((v, path, depth)) = todo.pop() {
        let n_children = match up.obj(&v) {
            Some(Obj::Dict(d)) => d.entries.len(),
            Some(Obj::List(items)) | Some(Obj::Tuple(items)) => items.len(),
            _ => 0,
        };
        walked = walked.saturating_add(n_children);
        if walked > max_walked {
            return Err(too_large(
                "the object graph references the same containers too often",
            ));
        }
        let children: Vec<(String, Value)> = match up.obj(&v) {
            Some(Obj::Tensor(spec)) => {
                out.push((path, spec.clone()));
                continue;
            }
            Some(Obj::Dict(d)) => d
                .entries
                .iter()
                .map(|(k, v)| (key_segment(k), v.clone()))
                .collect(),
            Some(Obj::List(items)) | Some(Obj::Tuple(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| (i.to_string(), v.clone()))
                .collect(),
            // Numbers, strings, None, storages, ...: not tensors.
            _ => continue,
        };
        if depth >= MAX_NESTING && !children.is_empty() {
            return Err(too_large(format!(
                "containers nested deeper than {MAX_NESTING} levels"
            )));
        }
        for (seg, child) in children.into_iter().rev() {
            let p = if depth == 0 {
                seg
            } else {
                format!("{path}.{seg}")
            };
            todo.push((child, p, depth + 1));
        }
    }
    Ok(out)
}

fn key_segment(k: &DictKey) -> String {
    match k {
        DictKey::None => "None".to_string(),
        DictKey::Int(i) => i.to_string(),
        DictKey::Str(s) => s.to_string(),
        DictKey::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Reads a strided view out of the storage bytes into row-major order.
fn materialize(spec: &TensorSpec, bytes: &[u8], big_endian: bool) -> Result<Vec<f64>, PtError> {
    let st = &spec.storage;
    let es = st.dtype.size();
    let needed = st
        .view_offset
        .checked_add(st.numel)
        .and_then(|n| n.checked_mul(es))
        .ok_or_else(|| too_large(format!("storage `{}`", st.key)))?;
    if bytes.len() < needed {
        return Err(truncated(format!(
            "storage `{}` has {} bytes, its {} {} elements need {needed}",
            st.key,
            bytes.len(),
            st.numel,
            st.dtype
        )));
    }
    let view = bytes
        .get(st.view_offset * es..needed)
        .ok_or_else(|| truncated(format!("storage `{}`", st.key)))?;
    let decode = st.dtype.decoder(big_endian);
    let mut data = Vec::with_capacity(spec.numel);
    if spec.numel == 0 {
        return Ok(data);
    }
    if is_contiguous(&spec.size, &spec.stride) {
        let start = spec.offset * es;
        let chunk = view
            .get(start..start + spec.numel * es)
            .ok_or_else(|| layout(format!("tensor outside storage `{}`", st.key)))?;
        data.extend(chunk.chunks_exact(es).map(decode));
        return Ok(data);
    }
    // Odometer over the index space; `cur` is the storage element index of
    // the current element. validate_tensor() proved every index in range.
    let dims = spec.size.len();
    let mut idx = vec![0usize; dims];
    let mut cur = spec.offset;
    for _ in 0..spec.numel {
        let at = cur * es;
        let b = view
            .get(at..at + es)
            .ok_or_else(|| layout(format!("tensor element outside storage `{}`", st.key)))?;
        data.push(decode(b));
        for d in (0..dims).rev() {
            if idx[d] + 1 < spec.size[d] {
                idx[d] += 1;
                cur = cur
                    .checked_add(spec.stride[d])
                    .ok_or_else(|| layout("stride overflow"))?;
                break;
            }
            let back = spec.stride[d]
                .checked_mul(idx[d])
                .and_then(|b| cur.checked_sub(b))
                .ok_or_else(|| layout("stride overflow"))?;
            cur = back;
            idx[d] = 0;
        }
    }
    Ok(data)
}

/// Row-major contiguity (strides of size-1 dimensions do not matter).
fn is_contiguous(size: &[usize], stride: &[usize]) -> bool {
    let mut expect = 1usize;
    for (&s, &st) in size.iter().zip(stride).rev() {
        if s != 1 && st != expect {
            return false;
        }
        expect = expect.saturating_mul(s);
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pytorch::pickle::{StorageRef, validate_tensor};
    use std::rc::Rc;

    fn storage(n: usize) -> (StorageRef, Vec<u8>) {
        let bytes = (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let st = StorageRef {
            key: Rc::from("k"),
            dtype: DType::F32,
            root_numel: n,
            view_offset: 0,
            numel: n,
        };
        (st, bytes)
    }

    #[test]
    fn transposed_view() {
        let (st, bytes) = storage(7);
        // A 3x2 transpose of a 2x3 block starting at element 1.
        let spec = validate_tensor(st, 1, vec![3, 2], vec![1, 3]).expect("valid");
        let d = materialize(&spec, &bytes, false).expect("read");
        assert_eq!(d, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }

    #[test]
    fn broadcast_and_scalar() {
        let (st, bytes) = storage(3);
        let spec = validate_tensor(st.clone(), 2, vec![2, 2], vec![0, 0]).expect("valid");
        assert_eq!(
            materialize(&spec, &bytes, false).expect("read"),
            vec![2.0; 4]
        );
        let spec = validate_tensor(st, 1, vec![], vec![]).expect("valid");
        assert_eq!(materialize(&spec, &bytes, false).expect("read"), vec![1.0]);
    }

    #[test]
    fn view_offset_and_short_storage() {
        let (mut st, bytes) = storage(6);
        st.view_offset = 2;
        st.numel = 3;
        let spec = validate_tensor(st.clone(), 0, vec![3], vec![1]).expect("valid");
        assert_eq!(
            materialize(&spec, &bytes, false).expect("read"),
            vec![2.0, 3.0, 4.0]
        );
        assert!(materialize(&spec, &bytes[..12], false).is_err());
    }

    #[test]
    fn contiguity() {
        assert!(is_contiguous(&[2, 3], &[3, 1]));
        assert!(is_contiguous(&[1, 3], &[99, 1]));
        assert!(!is_contiguous(&[3, 2], &[1, 3]));
        assert!(is_contiguous(&[], &[]));
    }
}
