//! Format detection and the zip-format reader.

use std::borrow::Cow;
use std::collections::HashMap;

use crate::pytorch::error::{PtError, layout};
use crate::pytorch::legacy;
use crate::pytorch::pickle::unpickle;
use crate::pytorch::state_dict::{StateDict, StorageSource, build};
use crate::zip::{Archive, looks_like_zip};

/// Reads the tensors of a `torch.save` file holding a state dict.
///
/// The format is detected from the content: a zip archive (PyTorch >= 1.6,
/// the default) or the legacy stream (`_use_new_zipfile_serialization=False`).
/// Tensors come out in the file's order, converted to `f64`, row-major,
/// with storage offsets and strides applied. A top-level dict containing
/// further dicts (e.g. a checkpoint `{"model": state_dict, "epoch": 3}`) is
/// flattened to dotted names (`model.lstm.weight_ih_l0`); non-tensor values
/// are skipped.
///
/// Nothing in the file is executed: only a whitelist of pickle opcodes and
/// tensor-rebuilding globals is interpreted. A pickled Python object (for
/// example a whole `nn.Module` saved with `torch.save(model, path)`) is
/// refused with [`PtError::ForbiddenGlobal`].
pub fn read_state_dict(bytes: &[u8]) -> Result<StateDict, PtError> {
    if looks_like_zip(bytes) {
        read_zip(bytes)
    } else if legacy::has_magic(bytes) {
        legacy::read(bytes)
    } else {
        Err(PtError::NotTorchFile)
    }
}

/// Whether the bytes look like a `torch.save` file: a zip archive with a
/// `*/data.pkl` entry, or the legacy format's pickled magic number.
/// This does not check that the content is a loadable state dict.
pub fn is_torch_file(bytes: &[u8]) -> bool {
    if looks_like_zip(bytes) {
        Archive::parse(bytes)
            .is_ok_and(|a| a.entries().iter().any(|e| e.name.ends_with("/data.pkl")))
    } else {
        legacy::has_magic(bytes)
    }
}

/// Storages of a zip archive: entries `<prefix>/data/<key>`, read on first use.
struct ZipStorages<'a, 'b> {
    archive: &'b Archive<'a>,
    prefix: &'b str,
    cache: HashMap<String, Cow<'a, [u8]>>,
}

impl StorageSource for ZipStorages<'_, '_> {
    fn storage(&mut self, key: &str) -> Result<&[u8], PtError> {
        if !self.cache.contains_key(key) {
            let name = format!("{}/data/{key}", self.prefix);
            let entry = self
                .archive
                .find(&name)
                .ok_or_else(|| PtError::MissingStorage {
                    key: key.to_string(),
                })?;
            let data = self.archive.read(entry)?;
            self.cache.insert(key.to_string(), data);
        }
        self.cache
            .get(key)
            .map(|c| c.as_ref())
            .ok_or_else(|| PtError::MissingStorage {
                key: key.to_string(),
            })
    }
}

fn read_zip(bytes: &[u8]) -> Result<StateDict, PtError> {
    let archive = Archive::parse(bytes)?;
    let mut pkl = archive
        .entries()
        .iter()
        .filter(|e| e.name.ends_with("/data.pkl"));
    let entry = pkl.next().ok_or(PtError::NotTorchFile)?;
    if pkl.next().is_some() {
        return Err(layout("the archive has more than one `*/data.pkl` entry"));
    }
    let prefix = &entry.name[..entry.name.len() - "/data.pkl".len()];
    let big_endian = match archive.find(&format!("{prefix}/byteorder")) {
        None => false,
        Some(e) => match &*archive.read(e)? {
            b"little" => false,
            b"big" => true,
            other => {
                return Err(layout(format!(
                    "unknown byteorder `{}`",
                    String::from_utf8_lossy(other)
                )));
            }
        },
    };
    let pickle = archive.read(entry)?;
    let up = unpickle(&pickle)?;
    let mut src = ZipStorages {
        archive: &archive,
        prefix,
        cache: HashMap::new(),
    };
    build(&up, &mut src, big_endian)
}
