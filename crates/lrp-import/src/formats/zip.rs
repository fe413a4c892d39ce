//! zip archives (`.keras`) through the `zip` crate, with our limits on top.
//!
//! The crate believes an entry's declared sizes (a 34 KB entry may claim 4 GB), so every read is
//! capped: an entry's compressed size may not exceed the archive itself; its uncompressed size
//! may not exceed [`MAX_DEFLATE_RATIO`] times the compressed size (deflate's largest ratio), or
//! the compressed size for a stored entry, nor [`MAX_ENTRY_BYTES`]; and the bytes actually
//! produced must equal the declared size (the crate checks the CRC once an entry is read to its
//! end). At most [`MAX_RESERVE`] bytes are reserved before the data is seen: a larger entry
//! grows its buffer as its bytes arrive.

use std::io::{Read, Seek};

use thiserror::Error;

/// Deflate cannot expand data by more than 1032:1.
pub const MAX_DEFLATE_RATIO: u64 = 1032;

/// The largest entry read (a Keras model's weights file; 4 GiB is far beyond any LSTM).
pub const MAX_ENTRY_BYTES: u64 = 4 << 30;

/// The most bytes reserved for an entry before its data is read.
pub const MAX_RESERVE: u64 = 64 << 20;

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

/// Where the archive starts: at the file's first byte, as every format read here (`.keras`,
/// `.npz`, `torch.save`) writes it. zip 9's default, detecting the start, gets it wrong for
/// PyTorch's files whose first entry's central header is as long as the ZIP64 records
/// `torch.save` writes before the end record (76 bytes: a 30-character entry name, the one of
/// every state dict saved with a 21-character file stem, such as `model_checkpoint_best.pt`): it
/// takes the central directory to start at the second entry and refuses the archive.
pub(crate) const AT_START: ::zip::read::Config = ::zip::read::Config {
    archive_offset: ::zip::read::ArchiveOffset::Known(0),
};

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
    /// The archive's length in bytes: no entry's compressed data can be longer.
    len: u64,
}

impl<R: Read + Seek> Archive<R> {
    /// Reads the archive's central directory.
    ///
    /// # Errors
    /// [`ZipError::Archive`] when it is not a valid zip archive.
    pub fn new(mut reader: R) -> Result<Self, ZipError> {
        let io = |e: std::io::Error| ZipError::Archive(e.into());
        let len = reader.seek(std::io::SeekFrom::End(0)).map_err(io)?;
        reader.rewind().map_err(io)?;
        // From the first byte if the archive reads so, else as zip detects its start (a file
        // damaged or with data prepended); the central directory is small, read twice at most.
        let config = if ::zip::ZipArchive::with_config(AT_START, &mut reader).is_ok() {
            AT_START
        } else {
            ::zip::read::Config::default()
        };
        reader.rewind().map_err(io)?;
        Ok(Self {
            inner: ::zip::ZipArchive::with_config(config, reader).map_err(ZipError::Archive)?,
            len,
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
        let corrupt = |source| ZipError::Corrupt {
            name: name.to_string(),
            source,
        };
        // The crate does not check the compressed size against the archive: a 4 KB file
        // claimed a stored entry of 4 GB (found by the `zip` fuzz target).
        if compressed > self.len {
            return Err(corrupt(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{compressed} compressed bytes claimed in an archive of {} bytes",
                    self.len
                ),
            )));
        }
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
        // `declared` is at most the archive's length times 1032; reserve no more than
        // MAX_RESERVE of it before the bytes are seen.
        let reserve = declared.min(MAX_RESERVE);
        let mut bytes = Vec::with_capacity(usize::try_from(reserve).unwrap_or(0));
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

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Write};

    use super::*;

    fn archive(entries: &[(&str, &[u8], bool)]) -> Vec<u8> {
        let mut out = ::zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes, deflate) in entries {
            let method = if *deflate {
                ::zip::CompressionMethod::Deflated
            } else {
                ::zip::CompressionMethod::Stored
            };
            let options = ::zip::write::SimpleFileOptions::default().compression_method(method);
            out.start_file(*name, options).unwrap();
            out.write_all(bytes).unwrap();
        }
        out.finish().unwrap().into_inner()
    }

    /// Sets the uncompressed size of entry `name` in its local and central headers.
    fn declare(zip: &mut [u8], name: &str, size: u32) {
        let n = name.as_bytes();
        let mut patched = 0;
        for i in 0..zip.len().saturating_sub(46) {
            let sig: [u8; 4] = zip[i..i + 4].try_into().unwrap();
            let (size_at, name_len_at, name_at) = match &sig {
                b"PK\x03\x04" => (22, 26, 30),
                b"PK\x01\x02" => (24, 28, 46),
                _ => continue,
            };
            let len = u16::from_le_bytes([zip[i + name_len_at], zip[i + name_len_at + 1]]);
            if zip.get(i + name_at..i + name_at + usize::from(len)) == Some(n) {
                zip[i + size_at..i + size_at + 4].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
        assert_eq!(patched, 2, "{name}");
    }

    fn open(bytes: Vec<u8>) -> Archive<Cursor<Vec<u8>>> {
        Archive::new(Cursor::new(bytes)).unwrap()
    }

    #[test]
    fn entries_are_listed_and_read() {
        let zip = archive(&[
            ("a.txt", b"hello", false),
            ("dir/b.bin", &[7u8; 5000], true),
        ]);
        let mut a = open(zip);
        assert_eq!(a.names(), ["a.txt", "dir/b.bin"]);
        assert!(a.contains("dir/b.bin") && !a.contains("b.bin"));
        assert_eq!(a.read("a.txt").unwrap(), b"hello");
        assert_eq!(a.read("dir/b.bin").unwrap(), vec![7u8; 5000]);
        assert!(matches!(a.read("c"), Err(ZipError::MissingEntry(n)) if n == "c"));
        assert!(matches!(
            Archive::new(Cursor::new(b"PK\x03\x04 not a zip".to_vec())),
            Err(ZipError::Archive(_))
        ));
    }

    #[test]
    fn a_deflated_entry_may_not_claim_more_than_deflate_can_produce() {
        // 100 KB of zeros deflate to ~100 bytes: a claim of 4 GB is refused from the headers.
        let zip = archive(&[("w", &[0u8; 100_000], true)]);
        let mut bad = zip.clone();
        declare(&mut bad, "w", 0xffff_fff0);
        match open(bad).read("w") {
            Err(ZipError::EntryTooLarge {
                name,
                declared,
                compressed,
                limit,
            }) => {
                assert_eq!(name, "w");
                assert_eq!(declared, 0xffff_fff0);
                assert_eq!(limit, compressed * MAX_DEFLATE_RATIO);
                assert!(compressed < 1000, "{compressed}");
            }
            other => panic!("{other:?}"),
        }
        // Within the ratio but more than the data holds: the bytes produced are checked.
        let mut bad = zip.clone();
        declare(&mut bad, "w", 100_001);
        assert!(matches!(open(bad).read("w"), Err(ZipError::Corrupt { .. })));
        // Less than the data holds: the rest is not silently dropped.
        let mut bad = zip;
        declare(&mut bad, "w", 99_999);
        assert!(matches!(open(bad).read("w"), Err(ZipError::Corrupt { .. })));
    }

    #[test]
    fn a_stored_entry_may_not_claim_more_than_it_stores() {
        let zip = archive(&[("w", &[1u8; 3000], false)]);
        let mut bad = zip.clone();
        declare(&mut bad, "w", 3001);
        assert!(matches!(
            open(bad).read("w"),
            Err(ZipError::EntryTooLarge {
                declared: 3001,
                compressed: 3000,
                limit: 3000,
                ..
            })
        ));
        let mut bad = zip;
        declare(&mut bad, "w", 2999);
        assert!(open(bad).read("w").is_err());
    }

    /// Sets the compressed size of entry `name` in its central header.
    fn declare_compressed(zip: &mut [u8], name: &str, size: u32) {
        let n = name.as_bytes();
        for i in 0..zip.len().saturating_sub(46) {
            if &zip[i..i + 4] == b"PK\x01\x02" {
                let len = u16::from_le_bytes([zip[i + 28], zip[i + 29]]);
                if zip.get(i + 46..i + 46 + usize::from(len)) == Some(n) {
                    zip[i + 20..i + 24].copy_from_slice(&size.to_le_bytes());
                    return;
                }
            }
        }
        panic!("{name}");
    }

    #[test]
    fn an_entry_may_not_claim_more_compressed_bytes_than_the_archive_has() {
        // The `zip` fuzz target's out-of-memory input: a stored entry of a 4 KB archive
        // claiming 4294967294 compressed and 4294967293 uncompressed bytes was accepted by
        // both caps, and 4 GiB reserved for it.
        let zip = archive(&[("version", b"3\n", false), ("w", &[0u8; 5000], true)]);
        for (name, compressed, declared) in [
            ("version", 0xffff_fffe, 0xffff_fffd),
            ("w", 0x1000_0000, 0x1000_0000),
        ] {
            let mut bad = zip.clone();
            declare_compressed(&mut bad, name, compressed);
            declare(&mut bad, name, declared);
            let len = bad.len();
            match open(bad).read(name) {
                Err(ZipError::Corrupt { name: n, source }) => {
                    assert_eq!(n, name);
                    let msg = source.to_string();
                    assert!(msg.contains(&format!("archive of {len} bytes")), "{msg}");
                }
                other => panic!("{name}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_corrupted_entry_fails_its_crc() {
        let zip = archive(&[("w", b"some stored bytes", false)]);
        let at = zip.windows(6).position(|w| w == b"stored").unwrap();
        let mut bad = zip;
        bad[at] ^= 1;
        match open(bad).read("w") {
            Err(ZipError::Corrupt { name, .. }) => assert_eq!(name, "w"),
            other => panic!("{other:?}"),
        }
    }
}
