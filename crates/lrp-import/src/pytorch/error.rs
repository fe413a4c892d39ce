//! The error type of the crate.

use std::fmt;

/// Everything that can go wrong while reading a PyTorch file.
#[derive(Debug, Clone, PartialEq)]
pub enum PtError {
    /// The bytes are neither a PyTorch zip archive (with a `*/data.pkl` entry)
    /// nor a legacy (pre-1.6) `torch.save` stream.
    NotTorchFile,
    /// A malformed or unsupported zip structure.
    Zip {
        /// What is wrong.
        what: String,
    },
    /// The data ends before a structure that it announces.
    Truncated {
        /// Which structure was cut off.
        what: String,
    },
    /// A malformed pickle stream, or an opcode that is not supported or is
    /// used in a way a state dict never needs.
    Pickle {
        /// Byte offset of the opcode inside the pickle stream.
        offset: usize,
        /// The opcode byte, when the problem belongs to one.
        opcode: Option<u8>,
        /// What is wrong.
        what: String,
    },
    /// The pickle names a Python global outside the whitelist of
    /// tensor-rebuilding functions: the file holds a pickled Python object
    /// (typically a whole `nn.Module`), not a state dict.
    ForbiddenGlobal {
        /// Module part of the global, e.g. `lstm_classifier`.
        module: String,
        /// Attribute part of the global, e.g. `LSTMClassifier`.
        name: String,
    },
    /// A storage or tensor element type this reader does not convert.
    UnsupportedDType {
        /// The type as named in the file.
        what: String,
    },
    /// A tensor refers to a storage whose bytes are not in the file.
    MissingStorage {
        /// The storage key (zip entry `data/<key>`, or the legacy key).
        key: String,
    },
    /// The unpickled structure is not a state dict, or tensor metadata is
    /// inconsistent (shape, strides, offsets, duplicate names, ...).
    Layout {
        /// What is wrong.
        what: String,
    },
    /// A count or size exceeds what the input can hold or a fixed limit.
    TooLarge {
        /// What is too large.
        what: String,
    },
}

impl fmt::Display for PtError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PtError::NotTorchFile => write!(
                f,
                "not a PyTorch file: neither a torch.save zip archive with a `*/data.pkl` entry nor the legacy torch.save format"
            ),
            PtError::Zip { what } => write!(f, "invalid zip archive: {what}"),
            PtError::Truncated { what } => write!(f, "file is truncated: {what}"),
            PtError::Pickle {
                offset,
                opcode,
                what,
            } => {
                write!(f, "invalid pickle at offset {offset}")?;
                if let Some(op) = opcode {
                    if op.is_ascii_graphic() {
                        write!(f, " (opcode 0x{op:02x} '{}')", char::from(*op))?;
                    } else {
                        write!(f, " (opcode 0x{op:02x})")?;
                    }
                }
                write!(f, ": {what}")
            }
            PtError::ForbiddenGlobal { module, name } => write!(
                f,
                "refusing to load `{module}.{name}`: this file is a pickled Python object (e.g. a whole nn.Module), \
                 not a plain state dict of tensors, and loading it would mean running arbitrary Python code. \
                 Save the weights only with `torch.save(model.state_dict(), path)`, or export them as safetensors"
            ),
            PtError::UnsupportedDType { what } => write!(f, "unsupported tensor dtype: {what}"),
            PtError::MissingStorage { key } => {
                write!(
                    f,
                    "tensor storage `{key}` is referenced but not present in the file"
                )
            }
            PtError::Layout { what } => write!(f, "not a usable state dict: {what}"),
            PtError::TooLarge { what } => write!(f, "too large: {what}"),
        }
    }
}

impl std::error::Error for PtError {}

impl From<crate::zip::ZipError> for PtError {
    fn from(e: crate::zip::ZipError) -> Self {
        PtError::Zip { what: e.what }
    }
}

/// Shorthand for a [`PtError::Layout`].
pub(crate) fn layout(what: impl Into<String>) -> PtError {
    PtError::Layout { what: what.into() }
}

/// Shorthand for a [`PtError::Truncated`].
pub(crate) fn truncated(what: impl Into<String>) -> PtError {
    PtError::Truncated { what: what.into() }
}

/// Shorthand for a [`PtError::TooLarge`].
pub(crate) fn too_large(what: impl Into<String>) -> PtError {
    PtError::TooLarge { what: what.into() }
}
