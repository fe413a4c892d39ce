//! The CLI's error: always one line saying which file or setting is wrong, what is wrong and
//! what to do.

use lrp_core::LrpError;
use lrp_import::ImportError;
use lstm_lrp::io::IoError;

/// A failure of a command, printed as one line.
#[derive(Debug)]
pub struct CliError(String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // One line, whatever the underlying messages contain.
        f.write_str(&self.0.replace('\n', " "))
    }
}

impl From<IoError> for CliError {
    fn from(err: IoError) -> Self {
        let hint = match &err {
            IoError::Io { .. } => Some("check the path and its permissions"),
            IoError::Write { .. } => Some("check that the directory exists and is writable"),
            IoError::Content { .. } | IoError::Input { .. } => Some(
                "inputs are .npy arrays, safetensors or .npz files with `x`, or JSON lines of \
                 sentences, word or token-id arrays, or objects holding one",
            ),
            IoError::Line { .. } => Some("one JSON array, sentence or object per line"),
            IoError::Vocab { .. } => Some("one token per line, the line number is its id"),
            _ => None,
        };
        CliError(match hint {
            Some(hint) => format!("{err} ({hint})"),
            None => err.to_string(),
        })
    }
}

impl CliError {
    /// A problem with a file: `<path>: <what> (<hint>)`.
    pub fn file(path: &std::path::Path, err: ImportError, hint: &str) -> Self {
        let what = match &err {
            // The path is already in front.
            ImportError::Io { source, .. } => source.to_string(),
            other => other.to_string(),
        };
        CliError(format!("{}: {what} ({hint})", path.display()))
    }

    /// A problem found while explaining, with what to do about it.
    pub fn explain(context: &str, err: LrpError) -> Self {
        let hint = match &err {
            LrpError::FeatureSize { .. } | LrpError::InputRank { .. } => {
                "the input must match the model's input size"
            }
            LrpError::NonFiniteInput { .. } => "remove or repair the samples with NaN or infinity",
            LrpError::EmptyBatch | LrpError::EmptySequence { .. } => {
                "every sequence needs at least one time step"
            }
            LrpError::TargetOutOfRange { .. } | LrpError::TargetCount { .. } => {
                "give one class index in 0..C per sample, or `predicted`"
            }
            LrpError::InvalidSetting { .. } => "see `lstm-lrp explain --help`",
            _ => "check the model and input files",
        };
        CliError(format!("{context}: {err} ({hint})"))
    }

    /// A problem with a command-line value.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError(message.into())
    }
}
