//! Per-sample target classes from a file.

use std::path::Path;

use lrp_import::formats::{npy, safetensors};
use lrp_import::sniff::{FileKind, sniff};

use crate::io::error::IoError;

/// Reads per-sample target classes: a `.npy` integer array, a safetensors file with `target`,
/// or text with one integer per line (or separated by whitespace or commas).
///
/// ```
/// let path = std::env::temp_dir().join(format!("lstm-lrp-doc-targets-{}", std::process::id()));
/// std::fs::write(&path, "0\n1, 1\n")?;
/// assert_eq!(lstm_lrp::io::read_targets(&path)?, [0, 1, 1]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unreadable file, or content that is not a list of integers.
pub fn read_targets(path: impl AsRef<Path>) -> Result<Vec<i64>, IoError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| IoError::io(&name, e))?;
    let content = |source: lrp_import::ImportError| IoError::Content {
        path: name.clone(),
        source,
    };
    match sniff(&bytes, Some(bytes.len() as u64)) {
        FileKind::Npy => return Ok(npy::read_i64(&bytes).map_err(|e| content(e.into()))?.data),
        FileKind::Safetensors => {
            let file = safetensors::parse(&bytes).map_err(content)?;
            return Ok(safetensors::int_array(&file, "target")
                .map_err(content)?
                .data);
        }
        _ => {}
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| IoError::input(&name, "not a .npy, safetensors or text file"))?;
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<i64>()
                .map_err(|_| IoError::input(&name, format!("`{s}` is not a class index")))
        })
        .collect()
}
