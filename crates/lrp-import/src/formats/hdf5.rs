//! HDF5 files (Keras `.h5`, `.weights.h5` and the weights inside `.keras`) through the
//! `hdf5-reader` crate, with our read limits on top.
//!
//! The crate's read limit is unlimited by default, and a corrupted dimension byte made it return
//! 156 M elements from a 34 KB file. Every file is therefore opened with limits derived from its
//! own size: one dataset read may not produce more than [`DECODE_RATIO`] times the file's bytes
//! (uncompressed data cannot exceed the file at all; the ratio leaves room for gzip-compressed
//! weights, which Keras itself never writes), and no object header may exceed the file.
//!
//! Only what the Keras importer needs is offered: groups and their members, string attributes,
//! and float datasets as `f64`.

use thiserror::Error;

use crate::HostArray;
use crate::formats::dtype::{self, ElementType, Endian};

/// A dataset read may produce at most this many times the file's size.
pub const DECODE_RATIO: usize = 16;

/// What can be wrong reading an HDF5 file.
#[derive(Debug, Error)]
#[error("HDF5 `{object}`: {kind}")]
pub struct Hdf5Error {
    /// The object at fault (a path inside the file, `/` for the file itself).
    pub object: String,
    /// What is wrong.
    #[source]
    pub kind: Hdf5ErrorKind,
}

/// The ways an HDF5 read fails.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Hdf5ErrorKind {
    /// The reader refused the file or object (malformed, truncated, over a limit, absent).
    #[error(transparent)]
    Reader(#[from] hdf5_reader::error::Error),
    /// A dataset that should hold floats holds something else.
    #[error("holds {0}, not floating-point numbers")]
    NotFloat(String),
    /// A valid encoding that the reader is known to misread, refused instead.
    #[error("unsupported: {0}")]
    Unsupported(String),
    /// A dimension does not fit in memory addresses.
    #[error("a dimension of {0} elements")]
    Dimension(u64),
}

/// The reader wraps errors in `Context { path, source }` layers naming the path's last part;
/// [`Hdf5Error::object`] names the whole path, so the innermost error is kept, the one to
/// match on (`ResourceLimit`, `UnexpectedEof`, …).
fn innermost(e: hdf5_reader::error::Error) -> hdf5_reader::error::Error {
    match e {
        hdf5_reader::error::Error::Context { source, .. } => innermost(*source),
        e => e,
    }
}

fn error(object: &str, kind: impl Into<Hdf5ErrorKind>) -> Hdf5Error {
    let kind = match kind.into() {
        Hdf5ErrorKind::Reader(e) => Hdf5ErrorKind::Reader(innermost(e)),
        kind => kind,
    };
    Hdf5Error {
        object: object.to_string(),
        kind,
    }
}

/// An open HDF5 file, held in memory.
///
/// ```
/// let bytes = std::fs::read("../../fixtures/keras3/a_bilstm_dense.weights.h5")?;
/// let file = lrp_import::formats::hdf5::Hdf5File::from_bytes(bytes)?;
/// assert_eq!(file.members("/layers/dense/vars")?, ["0", "1"]);
/// let kernel = file.read_floats("/layers/dense/vars/0")?;
/// assert_eq!(kernel.shape, [24, 3]);
/// assert!(file.read_floats("/layers/dense/vars/9").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Hdf5File {
    file: hdf5_reader::Hdf5File,
}

impl Hdf5File {
    /// Opens a file from its bytes, with limits derived from their length.
    ///
    /// # Errors
    /// When the bytes are not a readable HDF5 file.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, Hdf5Error> {
        let len = bytes.len().max(1);
        let read_limit = len.saturating_mul(DECODE_RATIO);
        let options = hdf5_reader::OpenOptions::default()
            .with_max_read_bytes(read_limit)
            .with_max_chunk_bytes(read_limit.min(hdf5_reader::DEFAULT_MAX_CHUNK_BYTES))
            .with_max_object_header_bytes(len.min(hdf5_reader::DEFAULT_MAX_OBJECT_HEADER_BYTES))
            // Every dataset is read once: no cache to fill.
            .with_chunk_cache_bytes(0);
        let file = hdf5_reader::Hdf5File::from_vec_with_options(bytes, options)
            .map_err(|e| error("/", e))?;
        Ok(Self { file })
    }

    fn group(&self, path: &str) -> Result<hdf5_reader::group::Group, Hdf5Error> {
        self.file.group(path).map_err(|e| error(path, e))
    }

    /// Whether `path` is a group: `Ok(false)` when it is absent (or a dataset).
    ///
    /// # Errors
    /// When the file cannot be read on the way to `path` (truncated or corrupt), so that a
    /// damaged file is not reported as one that lacks the group.
    pub fn has_group(&self, path: &str) -> Result<bool, Hdf5Error> {
        match self.file.group(path).map_err(innermost) {
            Ok(_) => Ok(true),
            Err(hdf5_reader::error::Error::GroupNotFound(_)) => Ok(false),
            Err(e) => Err(error(path, e)),
        }
    }

    /// The names of the groups and datasets in group `path`, groups first, each in the
    /// file's listing order.
    ///
    /// # Errors
    /// When `path` is not a group or its listing cannot be read.
    pub fn members(&self, path: &str) -> Result<Vec<String>, Hdf5Error> {
        let (mut groups, datasets) = self
            .group(path)?
            .member_names()
            .map_err(|e| error(path, e))?;
        groups.extend(datasets);
        Ok(groups)
    }

    /// The strings of attribute `name` of group `path`: one for a scalar string, every entry
    /// of a string array, none for an empty list (Keras stores those as an empty float array);
    /// `None` when the group has no such attribute or it is not text.
    ///
    /// # Errors
    /// When the group or its attributes cannot be read.
    pub fn string_attribute(
        &self,
        path: &str,
        name: &str,
    ) -> Result<Option<Vec<String>>, Hdf5Error> {
        let attributes = self
            .group(path)?
            .attributes()
            .map_err(|e| error(&format!("{path}@{name}"), e))?;
        let Some(attr) = attributes.into_iter().find(|a| a.name == name) else {
            return Ok(None);
        };
        use hdf5_reader::Datatype;
        let superblock = self.file.superblock();
        if matches!(attr.datatype, Datatype::VarLen { .. })
            && (superblock.offset_size != 8 || superblock.length_size != 8)
        {
            // hdf5-reader 0.12 reads such strings as garbage (a one-character string holding
            // the length) without an error. h5py and Keras always write 8-byte offsets.
            return Err(error(
                &format!("{path}@{name}"),
                Hdf5ErrorKind::Unsupported(format!(
                    "a variable-length string in a file with {}-byte offsets and {}-byte \
                     lengths (only 8-byte ones are read correctly)",
                    superblock.offset_size, superblock.length_size
                )),
            ));
        }
        match &attr.datatype {
            Datatype::String { .. } | Datatype::VarLen { .. } => {
                let strings = attr
                    .read_strings()
                    .or_else(|_| attr.read_string().map(|s| vec![s]))
                    .map_err(|e| error(&format!("{path}@{name}"), e))?;
                Ok(Some(strings))
            }
            Datatype::FloatingPoint { .. } if attr.shape.iter().product::<u64>() == 0 => {
                Ok(Some(Vec::new()))
            }
            _ => Ok(None),
        }
    }

    /// The float dataset at `path` (f16, f32 or f64) as `f64`, with its shape.
    ///
    /// # Errors
    /// When it is absent, not floats, or larger than the file's read limit.
    pub fn read_floats(&self, path: &str) -> Result<HostArray<f64>, Hdf5Error> {
        let ds = self.file.dataset(path).map_err(|e| error(path, e))?;
        let ty = match ds.dtype() {
            hdf5_reader::Datatype::FloatingPoint { size: 2, .. } => ElementType::F16,
            hdf5_reader::Datatype::FloatingPoint { size: 4, .. } => ElementType::F32,
            hdf5_reader::Datatype::FloatingPoint { size: 8, .. } => ElementType::F64,
            other => {
                return Err(error(path, Hdf5ErrorKind::NotFloat(format!("{other:?}"))));
            }
        };
        let shape = ds
            .shape()
            .iter()
            .map(|&d| usize::try_from(d).map_err(|_| error(path, Hdf5ErrorKind::Dimension(d))))
            .collect::<Result<Vec<usize>, _>>()?;
        // The crate checks the selection against the read limit before allocating.
        let bytes = ds.read_native_bytes().map_err(|e| error(path, e))?;
        let native = if cfg!(target_endian = "little") {
            Endian::Little
        } else {
            Endian::Big
        };
        Ok(HostArray {
            shape,
            data: dtype::to_f64(&bytes, ty, native),
        })
    }
}
