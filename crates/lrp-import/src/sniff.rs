//! The one format sniffer: what kind of file a prefix of bytes starts, for model files and
//! input files alike.

/// How many leading bytes [`sniff`] looks at (an HDF5 superblock may follow a user block of up
/// to 4096 bytes; the legacy PyTorch magic sits within the first 64).
pub const SNIFF_BYTES: usize = 4096 + 8;

/// What a file is, from its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// safetensors: an 8-byte little-endian header length, then a JSON object.
    Safetensors,
    /// NumPy `.npy`.
    Npy,
    /// HDF5 (Keras `.h5`, `.weights.h5`).
    Hdf5,
    /// A zip archive (`.keras`, or a PyTorch checkpoint in the zip format).
    Zip,
    /// A PyTorch checkpoint in the legacy (pre-1.6) format.
    TorchLegacy,
    /// Text whose first non-blank character opens a JSON array, string or object: JSON lines.
    JsonLines,
    /// None of the above.
    Unknown,
}

const HDF5_SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";
/// The legacy PyTorch magic number 0x1950a86a20f9469cfc6c as pickle protocol 2+ writes it
/// (little-endian bytes inside a LONG1), and as protocols 0/1 write it (decimal text).
const TORCH_MAGIC_BYTES: [u8; 10] = [0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19];
const TORCH_MAGIC_TEXT: &[u8] = b"119547037146038801333356";
/// The largest safetensors header the format allows.
const MAX_SAFETENSORS_HEADER: u64 = 100_000_000;

/// Classifies a file from `prefix` (its first bytes, ideally [`SNIFF_BYTES`] of them) and its
/// total length when known (`None` for a stream such as stdin).
///
/// ```
/// use lrp_import::sniff::{FileKind, sniff};
///
/// assert_eq!(sniff(b"[1, 2, 3]\n[4]\n", Some(14)), FileKind::JsonLines);
/// assert_eq!(sniff(b"\"a sentence\"\n", None), FileKind::JsonLines);
/// assert_eq!(sniff(b"\x93NUMPY\x01\x00", Some(1000)), FileKind::Npy);
/// assert_eq!(sniff(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"x\":", Some(100)), FileKind::Safetensors);
/// assert_eq!(sniff(b"PK\x03\x04", Some(100)), FileKind::Zip);
/// assert_eq!(sniff(b"hello", Some(5)), FileKind::Unknown);
/// ```
pub fn sniff(prefix: &[u8], len: Option<u64>) -> FileKind {
    if prefix.starts_with(b"\x93NUMPY") {
        return FileKind::Npy;
    }
    if [0usize, 512, 1024, 2048, 4096]
        .iter()
        .any(|&o| prefix.get(o..o + 8) == Some(HDF5_SIGNATURE))
    {
        return FileKind::Hdf5;
    }
    if prefix.starts_with(b"PK\x03\x04") || prefix.starts_with(b"PK\x05\x06") {
        return FileKind::Zip;
    }
    if let Some(head) = prefix.first_chunk::<8>() {
        // 8 bytes of printable text read as a little-endian u64 are at least 0x20 << 56, far
        // beyond any header: JSON lines never look like safetensors.
        let header = u64::from_le_bytes(*head);
        let fits = len.map_or(header <= MAX_SAFETENSORS_HEADER, |n| {
            header.saturating_add(8) <= n
        });
        if header >= 2 && fits && prefix.get(8) == Some(&b'{') {
            return FileKind::Safetensors;
        }
    }
    let window = &prefix[..prefix.len().min(64)];
    if window.windows(10).any(|w| w == TORCH_MAGIC_BYTES)
        || window
            .windows(TORCH_MAGIC_TEXT.len())
            .any(|w| w == TORCH_MAGIC_TEXT)
    {
        return FileKind::TorchLegacy;
    }
    let text = prefix.strip_prefix(b"\xef\xbb\xbf").unwrap_or(prefix);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'[' | b'"' | b'{') => FileKind::JsonLines,
        _ => FileKind::Unknown,
    }
}

/// Reads up to [`SNIFF_BYTES`] from the start of `reader` (fewer at its end).
///
/// # Errors
/// What the reader returns.
pub fn read_prefix(reader: &mut impl std::io::Read) -> std::io::Result<Vec<u8>> {
    use std::io::Read as _;
    let mut prefix = Vec::with_capacity(SNIFF_BYTES);
    reader.take(SNIFF_BYTES as u64).read_to_end(&mut prefix)?;
    Ok(prefix)
}
