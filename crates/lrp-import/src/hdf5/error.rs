//! Error type of the reader.

use std::fmt;

/// Everything that can go wrong while reading a file.
///
/// Low-level variants (`Truncated`, `Corrupt`, ...) describe the problem; the
/// public API wraps them in [`Hdf5Error::InObject`] with the path of the
/// object (and `@attribute`) being read when that is known. Use
/// [`Hdf5Error::root_cause`] to look through that wrapper.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hdf5Error {
    /// No HDF5 superblock signature at offset 0, 512, 1024, 2048, ...
    NotHdf5,
    /// A structure runs past the end of the file (or of its enclosing block).
    Truncated {
        /// The structure being read.
        what: &'static str,
    },
    /// A structure holds values that make no sense (bad signature, bad
    /// version, inconsistent sizes, cycles, ...).
    Corrupt {
        /// Description of the inconsistency.
        what: String,
    },
    /// A metadata checksum (Jenkins lookup3) does not match.
    ChecksumMismatch {
        /// The structure whose checksum failed.
        what: &'static str,
    },
    /// A valid HDF5 feature this reader does not implement.
    Unsupported {
        /// The feature, e.g. `filter 'deflate' (id 1)`.
        feature: String,
    },
    /// Declared sizes are larger than the data that can back them.
    TooLarge {
        /// The quantity that is too large.
        what: &'static str,
    },
    /// No link/attribute of that name.
    NotFound {
        /// Path that was looked up.
        path: String,
    },
    /// The object exists but is not of the requested kind.
    WrongKind {
        /// Path of the object.
        path: String,
        /// What the caller asked for ("group", "dataset", "numeric dataset").
        expected: &'static str,
    },
    /// An error that happened while reading the object at `path`
    /// (`/group/dataset` or `/group@attribute`).
    InObject {
        /// Path of the object (attributes as `path@name`).
        path: String,
        /// The underlying error.
        source: Box<Hdf5Error>,
    },
}

impl Hdf5Error {
    /// The innermost error, looking through [`Hdf5Error::InObject`] wrappers.
    pub fn root_cause(&self) -> &Hdf5Error {
        let mut e = self;
        while let Hdf5Error::InObject { source, .. } = e {
            e = source;
        }
        e
    }

    /// Wraps `self` with the object path unless it already names a path.
    pub(crate) fn in_object(self, path: &str) -> Hdf5Error {
        match self {
            Hdf5Error::InObject { .. }
            | Hdf5Error::NotFound { .. }
            | Hdf5Error::WrongKind { .. } => self,
            other => Hdf5Error::InObject {
                path: path.to_string(),
                source: Box::new(other),
            },
        }
    }
}

impl fmt::Display for Hdf5Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hdf5Error::NotHdf5 => write!(f, "not an HDF5 file (no superblock signature found)"),
            Hdf5Error::Truncated { what } => write!(f, "truncated HDF5 data while reading {what}"),
            Hdf5Error::Corrupt { what } => write!(f, "corrupt HDF5 data: {what}"),
            Hdf5Error::ChecksumMismatch { what } => write!(f, "checksum mismatch in {what}"),
            Hdf5Error::Unsupported { feature } => write!(f, "unsupported HDF5 feature: {feature}"),
            Hdf5Error::TooLarge { what } => write!(f, "{what} is too large for this file"),
            Hdf5Error::NotFound { path } => write!(f, "'{path}' not found"),
            Hdf5Error::WrongKind { path, expected } => write!(f, "'{path}' is not a {expected}"),
            Hdf5Error::InObject { path, source } => write!(f, "in '{path}': {source}"),
        }
    }
}

impl std::error::Error for Hdf5Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Hdf5Error::InObject { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

/// Result alias used throughout the crate.
pub type Result<T> = std::result::Result<T, Hdf5Error>;

/// Shorthand for [`Hdf5Error::Corrupt`].
pub(crate) fn corrupt(what: impl Into<String>) -> Hdf5Error {
    Hdf5Error::Corrupt { what: what.into() }
}

/// Shorthand for [`Hdf5Error::Unsupported`].
pub(crate) fn unsupported(feature: impl Into<String>) -> Hdf5Error {
    Hdf5Error::Unsupported {
        feature: feature.into(),
    }
}
