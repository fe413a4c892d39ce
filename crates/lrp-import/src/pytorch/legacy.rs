//! The legacy (pre-1.6, `_use_new_zipfile_serialization=False`) format.
//!
//! Five pickles back to back: the magic number `0x1950a86a20f9469cfc6c`,
//! the protocol version `1001`, a sys-info dict, the object itself (storages
//! as persistent ids `('storage', torch.<T>Storage, key, location, numel,
//! view_metadata)`), and the list of storage keys. Then, for each key in
//! that list, an 8-byte little-endian element count and the raw
//! little-endian elements (PyTorch always wrote them little-endian).

use std::collections::HashMap;

use crate::pytorch::dtype::DType;
use crate::pytorch::error::{PtError, layout, truncated};
use crate::pytorch::pickle::{Obj, Unpickled, Value, unpickle};
use crate::pytorch::state_dict::{StateDict, StorageSource, build};

/// The legacy magic number.
const MAGIC: i128 = 0x1950_a86a_20f9_469c_fc6c;
/// The only legacy protocol version PyTorch ever wrote.
const PROTOCOL_VERSION: i128 = 1001;

/// Whether the bytes start with the pickled legacy magic number
/// (`PROTO n`, optional `FRAME`, `LONG1` of 10 bytes).
pub(crate) fn has_magic(bytes: &[u8]) -> bool {
    let rest = match bytes {
        [0x80, p, rest @ ..] if (2..=5).contains(p) => rest,
        _ => return false,
    };
    let rest = match rest {
        [0x95, _, _, _, _, _, _, _, _, tail @ ..] => tail,
        _ => rest,
    };
    let mut want = vec![0x8a, 10];
    want.extend_from_slice(&MAGIC.to_le_bytes()[..10]);
    rest.starts_with(&want)
}

/// The storage bytes found after the pickles, by key.
struct LegacyStorages<'a> {
    by_key: HashMap<String, &'a [u8]>,
}

impl StorageSource for LegacyStorages<'_> {
    fn storage(&mut self, key: &str) -> Result<&[u8], PtError> {
        self.by_key
            .get(key)
            .copied()
            .ok_or_else(|| PtError::MissingStorage {
                key: key.to_string(),
            })
    }
}

/// Reads a legacy-format file.
pub(crate) fn read(bytes: &[u8]) -> Result<StateDict, PtError> {
    let mut pos = 0usize;
    let mut next = |what: &str| -> Result<Unpickled, PtError> {
        let rest = bytes
            .get(pos..)
            .ok_or_else(|| truncated(format!("legacy {what}")))?;
        let u = unpickle(rest).map_err(|e| rebase(e, pos))?;
        pos += u.end;
        Ok(u)
    };
    let magic = next("magic number")?;
    if !matches!(magic.root, Value::Int(MAGIC)) {
        return Err(PtError::NotTorchFile);
    }
    let version = next("protocol version")?;
    if !matches!(version.root, Value::Int(PROTOCOL_VERSION)) {
        return Err(layout(format!(
            "unsupported legacy protocol version {:?}",
            version.root
        )));
    }
    let sys_info = next("sys info")?;
    if !matches!(sys_info.obj(&sys_info.root), Some(Obj::Dict(_))) {
        return Err(layout("legacy sys info is not a dict"));
    }
    let main = next("state dict")?;
    let keys = next("storage key list")?;
    let key_list = match keys.obj(&keys.root) {
        Some(Obj::List(items)) => items,
        _ => return Err(layout("legacy storage key list is not a list")),
    };

    // Element type and count of every root storage the object refers to.
    let mut table: HashMap<&str, (DType, usize)> = HashMap::new();
    for o in &main.objs {
        if let Obj::Storage(s) = o {
            let entry = table.entry(&*s.key).or_insert((s.dtype, s.root_numel));
            if *entry != (s.dtype, s.root_numel) {
                return Err(layout(format!(
                    "storage `{}` is described with two different types or sizes",
                    s.key
                )));
            }
        }
    }

    let mut by_key = HashMap::new();
    for k in key_list {
        let Value::Str(key) = k else {
            return Err(layout("legacy storage key is not a string"));
        };
        let &(dtype, numel) = table
            .get(&**key)
            .ok_or_else(|| layout(format!("storage `{key}` is listed but never used")))?;
        let head = bytes
            .get(pos..pos.saturating_add(8))
            .ok_or_else(|| truncated(format!("size of legacy storage `{key}`")))?;
        let mut a = [0u8; 8];
        a.copy_from_slice(head);
        let count = u64::from_le_bytes(a);
        if usize::try_from(count).ok() != Some(numel) {
            return Err(layout(format!(
                "legacy storage `{key}` has {count} elements, the pickle says {numel}"
            )));
        }
        pos += 8;
        let len = numel
            .checked_mul(dtype.size())
            .ok_or_else(|| truncated(format!("legacy storage `{key}`")))?;
        let data = pos
            .checked_add(len)
            .and_then(|end| bytes.get(pos..end))
            .ok_or_else(|| {
                truncated(format!(
                    "legacy storage `{key}` needs {len} bytes at offset {pos}, file has {}",
                    bytes.len()
                ))
            })?;
        pos += len;
        if by_key.insert(key.to_string(), data).is_some() {
            return Err(layout(format!("storage `{key}` is listed twice")));
        }
    }
    // Bytes after the last storage are ignored, as PyTorch does.
    build(&main, &mut LegacyStorages { by_key }, false)
}

/// Makes pickle offsets relative to the whole file.
fn rebase(e: PtError, base: usize) -> PtError {
    match e {
        PtError::Pickle {
            offset,
            opcode,
            what,
        } => PtError::Pickle {
            offset: offset.saturating_add(base),
            opcode,
            what,
        },
        other => other,
    }
}
