//! zip archives (`.keras`) through the `zip` crate, with our limits on top.
//!
//! The crate believes an entry's declared size (a 34 KB entry may claim 4 GB), so every read is
//! capped: an entry may not claim more than [`MAX_DEFLATE_RATIO`] times its compressed size
//! (deflate's largest ratio) or than the stored size for a stored entry, nor more than
//! [`MAX_ENTRY_BYTES`]; and the bytes actually produced must equal the declared size (the crate
//! checks the CRC once an entry is read to its end).

use std::io::{Read, Seek};

use thiserror::Error;

/// Deflate cannot expand data by more than 1032:1.
pub const MAX_DEFLATE_RATIO: u64 = 1032;

/// The largest entry read (a Keras model's weights file; 4 GiB is far beyond any LSTM).
pub const MAX_ENTRY_BYTES: u64 = 4 << 30;

/// What can be wrong with a zip archive.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ZipError {
    /// The archive itself is malformed (or uses a feature the reader does not support).
    #[error("invalid zip archive: {0}")]
    Archive(#[source] ::zip::result::ZipError),
    /// An entry the caller needs is absent.
    #[error("the zip archive has no entry `{0}`")]
    MissingEntry(String),
    /// An entry declares a size its compressed data cannot produce, or more than we read.
    #[error(
        "zip entry `{name}` declares {declared} bytes from {compressed} compressed bytes \
         (at most {limit} are accepted)"
    )]
    EntryTooLarge {
        /// The entry.
        name: String,
        /// Its declared uncompressed size.
        declared: u64,
        /// Its compressed size.
        compressed: u64,
        /// The largest size accepted for it.
        limit: u64,
    },
    /// An entry's data did not match its declared size or CRC.
    #[error("zip entry `{name}` is corrupt: {source}")]
    Corrupt {
        /// The entry.
        name: String,
        /// What the reader said.
        #[source]
        source: std::io::Error,
    },
}

/// A zip archive read from `R` (a file or bytes in memory).
///
/// ```
/// use std::io::{Cursor, Write};
///
/// let mut out = zip::ZipWriter::new(Cursor::new(Vec::new()));
/// out.start_file("config.json", zip::write::SimpleFileOptions::default())?;
/// out.write_all(b"{}")?;
/// let bytes = out.finish()?.into_inner();
///
/// let mut archive = lrp_import::formats::zip::Archive::new(Cursor::new(bytes))?;
/// assert!(archive.contains("config.json"));
/// assert_eq!(archive.read("config.json")?, b"{}");
/// assert!(archive.read("model.weights.h5").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Archive<R> {
    inner: ::zip::ZipArchive<R>,
}

impl<R: Read + Seek> Archive<R> {
    /// Reads the archive's central directory.
    ///
    /// # Errors
    /// [`ZipError::Archive`] when it is not a valid zip archive.
    pub fn new(reader: R) -> Result<Self, ZipError> {
        Ok(Self {
            inner: ::zip::ZipArchive::new(reader).map_err(ZipError::Archive)?,
        })
    }

    /// Whether the archive has an entry called `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.inner.index_for_name(name).is_some()
    }

    /// The entries' names, in the archive's order (undecodable names are skipped).
    pub fn names(&self) -> Vec<String> {
        self.inner
            .file_names()
            .filter_map(Result::ok)
            .map(|n| n.into_owned())
            .collect()
    }

    /// The uncompressed bytes of entry `name`, within the limits of the module documentation.
    ///
    /// # Errors
    /// [`ZipError::MissingEntry`], [`ZipError::EntryTooLarge`], [`ZipError::Corrupt`].
    pub fn read(&mut self, name: &str) -> Result<Vec<u8>, ZipError> {
        let mut entry = match self.inner.by_name(name) {
            Ok(entry) => entry,
            Err(::zip::result::ZipError::FileNotFound) => {
                return Err(ZipError::MissingEntry(name.to_string()));
            }
            Err(e) => return Err(ZipError::Archive(e)),
        };
        let (declared, compressed) = (entry.size(), entry.compressed_size());
        let limit = match entry.compression() {
            ::zip::CompressionMethod::Stored => compressed,
            _ => compressed.saturating_mul(MAX_DEFLATE_RATIO),
        }
        .min(MAX_ENTRY_BYTES);
        if declared > limit {
            return Err(ZipError::EntryTooLarge {
                name: name.to_string(),
                declared,
                compressed,
                limit,
            });
        }
        let corrupt = |source| ZipError::Corrupt {
            name: name.to_string(),
            source,
        };
        // `declared` is at most the compressed size times 1032, itself bounded by the file.
        let mut bytes = Vec::with_capacity(usize::try_from(declared).unwrap_or(0));
        (&mut entry)
            .take(declared.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(corrupt)?;
        if bytes.len() as u64 != declared {
            return Err(corrupt(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{} bytes instead of the declared {declared}", bytes.len()),
            )));
        }
        Ok(bytes)
    }
}
