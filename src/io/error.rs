//! The I/O layer's error: which file (or stdin/stdout), and what is wrong with it.

use lrp_import::ImportError;
use thiserror::Error;

/// A failure reading an input or writing an output.
///
/// Every message is one line that starts with the file's name (`stdin`/`stdout` for `-`).
///
/// ```
/// use lstm_lrp::io::{InputSource, IoError};
///
/// let err = InputSource::open("no/such/input.jsonl".into(), None).err().unwrap();
/// assert!(matches!(err, IoError::Io { .. }));
/// assert!(err.to_string().starts_with("no/such/input.jsonl: "));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum IoError {
    /// The operating system refused to open, read or write the file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// An output could not be created or written.
    #[error("{path}: {source}")]
    Write {
        /// The file (`stdout` for `-`).
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The file's content is malformed (a broken `.npy` header, a safetensors file without `x`).
    #[error("{path}: {source}")]
    Content {
        /// The file.
        path: String,
        /// What the reader found.
        #[source]
        source: ImportError,
    },
    /// A line of a JSON-lines input is not a sequence.
    #[error("{path}: line {line}: {what}")]
    Line {
        /// The file.
        path: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong.
        what: String,
    },
    /// The input is readable but cannot be explained as it is (no sequence, wrong rank, …).
    #[error("{path}: {what}")]
    Input {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// A vocabulary file is malformed.
    #[error("{path}: {what}")]
    Vocab {
        /// The file.
        path: String,
        /// What is wrong.
        what: String,
    },
    /// An output file exists and may not be replaced.
    #[error("{path} exists; pass {flag} to replace it (nothing was written)")]
    Exists {
        /// The file.
        path: String,
        /// The flag that allows replacing it.
        flag: &'static str,
    },
}

impl IoError {
    pub(crate) fn io(path: &str, source: std::io::Error) -> Self {
        IoError::Io {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn write(path: &str, source: std::io::Error) -> Self {
        IoError::Write {
            path: path.to_string(),
            source,
        }
    }

    pub(crate) fn input(path: &str, what: impl Into<String>) -> Self {
        IoError::Input {
            path: path.to_string(),
            what: what.into(),
        }
    }
}
