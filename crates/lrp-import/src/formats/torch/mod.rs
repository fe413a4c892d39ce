//! PyTorch checkpoints (`torch.save`: zip or legacy `.pt`/`.pth`) through burn's
//! `pytorch-reader`, which interprets the pickle without executing any of it.
//!
//! On top of the crate:
//! - **Only state dicts.** The crate reads a whole pickled module (`torch.save(model)`) as if it
//!   were the module's state dict. We refuse it: every value in the checkpoint must be a tensor,
//!   a plain container (dict, list, tuple) or a plain scalar; a pickled object of any class is
//!   named in the error. (A checkpoint dict such as `{"model": state_dict, "epoch": 3}` is
//!   accepted and flattened to dotted names, `model.lstm.weight_ih_l0`.)
//! - **Optimizer states skipped** ([`read_checkpoint`]): a training checkpoint saves the
//!   optimizer's `state_dict()` beside the model's, and its per-parameter buffers are tensors
//!   too (Adam's two moments per parameter). They are not part of the model; read as its
//!   tensors, they would be left over and refused as unknown layers.
//! - **One tensor per name.** The crate flattens nested dicts to dotted names in a hash map,
//!   so `{"a.b": t1, "a": {"b": t2}}` silently kept one of the two (which one depended on the
//!   hash order). The pickle's tree is listed once more ([`PytorchReader::read_pickle_data`],
//!   no tensor data) and such a name is refused ([`TorchError::DuplicateName`]).
//! - **At least one tensor** (a pickle whose objects the crate does not interpret loads as an
//!   empty dict without an error).
//! - Tensors as `f64` host arrays, sorted by name. The crate checks each view against its
//!   storage, but a view may repeat elements (stride 0, as `expand` makes): one float stored
//!   can claim 10^9 elements, which the crate accepts up to 10 GiB per tensor. So the tensors
//!   together may not materialise more than [`MAX_EXPANSION`] times the file's size
//!   ([`TorchError::TooLarge`]), checked from their shapes before any is read.
//!
//! The crate takes a file path, not bytes. The state-dict check walks the pickle first
//! ([`globals`]): for a zip checkpoint its `data.pkl` entry (a few KB) is read here and again by
//! the crate; tensor data is read once.

mod globals;
mod zip_repair;

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::path::Path;

use pytorch_reader::{DType, PickleValue, PytorchError, PytorchReader};
use thiserror::Error;

use crate::HostArray;
use crate::formats::dtype::{self, ElementType, Endian};
use crate::formats::zip::{Archive, ZipError};
use crate::sniff::{FileKind, read_prefix, sniff};
use globals::{GlobalUse, is_state_dict_global, pickle_globals};

/// The tensors of a checkpoint may hold at most this many times the file's bytes (a state
/// dict's tensors each cover at most their storage; tied weights share one).
pub const MAX_EXPANSION: u64 = 16;

/// What can be wrong with a PyTorch checkpoint.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TorchError {
    /// The reader refused the file (not a checkpoint, malformed, truncated, unsupported).
    #[error("not a readable PyTorch checkpoint: {0}")]
    Reader(#[source] PytorchError),
    /// The checkpoint holds a pickled Python object rather than a state dict.
    #[error(
        "the file holds a pickled `{class}`, which a checkpoint of tensors does not (a module \
         saved with torch.save(model), or a call or value lstm-lrp does not read): save \
         torch.save(model.state_dict(), path) instead — pickled objects are never loaded, \
         since that would run their code"
    )]
    NotAStateDict {
        /// The Python type found (e.g. `mymodule.LSTMClassifier`).
        class: String,
    },
    /// The file is a TorchScript module (`torch.jit.save`): compiled code and its constants,
    /// not a state dict.
    #[error(
        "the file is a TorchScript module (`{class}`, saved with torch.jit.save), not a state \
         dict: save torch.save(module.state_dict(), path) from the scripted or the original \
         module instead (TorchScript code is never run)"
    )]
    TorchScript {
        /// The scripted module's type (e.g. `__torch__.torch.nn.modules.rnn.LSTM`).
        class: String,
    },
    /// The state dict of a quantized model (`torch.ao.quantization`): integer weights and
    /// packed parameters, not the float model lstm-lrp explains.
    #[error(
        "the file holds a quantized model's state dict (`{global}`: torch.ao.quantization's \
         integer weights and packed parameters); lstm-lrp explains the float model: save the \
         state dict of the model before quantization"
    )]
    Quantized {
        /// The quantization global found (e.g. `torch._utils._rebuild_qtensor`).
        global: String,
    },
    /// The checkpoint's pickle could not be walked, or its container opened.
    #[error("the checkpoint's pickle cannot be read: {0}")]
    Pickle(String),
    /// A zip checkpoint's archive is malformed.
    #[error(transparent)]
    Zip(#[from] ZipError),
    /// The file could not be opened or read.
    #[error("reading the checkpoint: {0}")]
    Io(#[from] std::io::Error),
    /// Two tensors flatten to the same dotted name (`{"a.b": t1, "a": {"b": t2}}`).
    #[error("two tensors in the checkpoint are both called `{0}` once its dicts are flattened")]
    DuplicateName(String),
    /// The file is an optimizer's state dict (`torch.save(optimizer.state_dict())`), which
    /// holds no model weights.
    #[error(
        "the file is an optimizer's state dict (keys `state` and `param_groups`: \
         torch.save(optimizer.state_dict())), not a model's; give the file saved with \
         torch.save(model.state_dict(), path)"
    )]
    OptimizerState,
    /// The checkpoint holds no tensor.
    #[error("the checkpoint holds no tensors (expected a state dict of an nn.Module)")]
    NoTensors,
    /// The tensors would materialise far more bytes than the file holds (views repeating
    /// their storage's elements).
    #[error(
        "tensor `{name}` brings the checkpoint's tensors to {bytes} bytes, more than {limit} \
         ({MAX_EXPANSION} times the file's size): a view that repeats its storage's elements"
    )]
    TooLarge {
        /// The tensor that went over the limit.
        name: String,
        /// The bytes of the tensors so far, this one included.
        bytes: u64,
        /// The limit for this file.
        limit: u64,
    },
    /// A tensor's bytes could not be read.
    #[error("tensor `{name}`: {source}")]
    Tensor {
        /// The tensor.
        name: String,
        /// What the reader said.
        #[source]
        source: std::io::Error,
    },
}

/// The globals a checkpoint's pickle names that a state dict of tensors does not use.
struct Foreign {
    /// In the order the pickle names them.
    globals: Vec<GlobalUse>,
    /// Whether the file is a TorchScript archive.
    scripted: bool,
}

/// Globals called to build plain values, never a module, that a checkpoint may hold beside its
/// state dict: those of `torch.load(weights_only=True)`'s default allowlist that are not
/// tensors (`torch.device`, `torch.Size`, sets, complex numbers, byte arrays, counters), under
/// protocol 2's Python 2 names (`__builtin__`) too, and numpy scalars (`np.float64(0.75)`, a
/// metric computed with numpy) with their dtype. Numpy arrays and enums are not among them.
fn is_value_global(global: &str) -> bool {
    let builtin = global
        .strip_prefix("builtins.")
        .or_else(|| global.strip_prefix("__builtin__."));
    matches!(builtin, Some("set" | "frozenset" | "complex" | "bytearray"))
        || matches!(
            global,
            "torch.device"
                | "torch.Size"
                | "collections.Counter"
                | "numpy.dtype"
                | "numpy.core.multiarray.scalar"
                | "numpy._core.multiarray.scalar"
        )
}

/// Globals only a quantized tensor's pickle names: its rebuild function, its storages and
/// dtypes (`QInt8Storage`, `qint8`, …) and quantization schemes (`per_tensor_affine`, …).
fn is_quantization_global(global: &str) -> bool {
    global == "torch._utils._rebuild_qtensor"
        || global.strip_prefix("torch.").is_some_and(|name| {
            (name.starts_with("Q") && name.ends_with("Storage"))
                || matches!(
                    name,
                    "qint8" | "quint8" | "qint32" | "quint4x2" | "quint2x4"
                )
                || name.starts_with("per_tensor_")
                || name.starts_with("per_channel_")
        })
}

/// The checkpoint's foreign globals (see [`Foreign`]).
fn foreign_globals(path: &Path) -> Result<Foreign, TorchError> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    let prefix = read_prefix(&mut file)?;
    let (globals, scripted) = match sniff(&prefix, Some(len)) {
        FileKind::Zip => {
            let mut archive = Archive::new(File::open(path)?)?;
            let names = archive.names();
            let mut pickles = names
                .iter()
                .filter(|n| n.ends_with("/data.pkl") || *n == "data.pkl");
            let (Some(pickle), None) = (pickles.next(), pickles.next()) else {
                return Err(TorchError::Pickle(
                    "a zip checkpoint needs exactly one `data.pkl` entry".into(),
                ));
            };
            // `torch.jit.save` writes the module's compiled code and its constants beside the
            // pickle; `torch.save` never does.
            let scripted = names
                .iter()
                .any(|n| n.ends_with("/constants.pkl") || n.contains("/code/__torch__/"));
            let bytes = archive.read(pickle)?;
            (pickle_globals(&bytes[..], 1), scripted)
        }
        // The legacy stream: the magic number, protocol version and system info pickles, then
        // the saved object.
        FileKind::TorchLegacy => (pickle_globals(File::open(path)?, 4), false),
        // Not a checkpoint: the crate says so.
        _ => (Ok(Vec::new()), false),
    };
    let globals = globals.map_err(|e| TorchError::Pickle(e.to_string()))?;
    Ok(Foreign {
        globals: globals
            .into_iter()
            .filter(|g| !is_state_dict_global(&g.name))
            .collect(),
        scripted,
    })
}

/// The refusal for a checkpoint with foreign globals, unless each one builds plain values or is
/// the class of objects the crate kept whole below the root and nothing else: instances made
/// without a call (`NEWOBJ`) and given their attributes, as the pickler writes a configuration
/// value beside the state dict (a dataclass, an `argparse.Namespace`). Anything called, a
/// `posix.system("…")` anywhere, is refused; so is a pickled `nn.Module`, which the crate reads
/// as its state dict instead of keeping it whole, so its class is never among those objects.
fn refusal(foreign: &Foreign, survey: Option<&TreeSurvey>) -> Option<TorchError> {
    let first = foreign.globals.first()?.name.clone();
    if foreign.scripted {
        return Some(TorchError::TorchScript { class: first });
    }
    if let Some(g) = foreign
        .globals
        .iter()
        .find(|g| is_quantization_global(&g.name))
    {
        return Some(TorchError::Quantized {
            global: g.name.clone(),
        });
    }
    let Some(survey) = survey else {
        return Some(TorchError::NotAStateDict { class: first });
    };
    let kept: HashSet<&str> = survey
        .objects
        .iter()
        .filter(|(name, _)| !name.is_empty())
        .map(|(_, class)| class.as_str())
        .collect();
    let accepted = |g: &GlobalUse| {
        is_value_global(&g.name) || (g.only_instantiated && kept.contains(g.name.as_str()))
    };
    // A name is accepted only if every one of its occurrences is.
    let refused: HashSet<&str> = foreign
        .globals
        .iter()
        .filter(|g| !accepted(g))
        .map(|g| g.name.as_str())
        .collect();
    foreign
        .globals
        .iter()
        .find(|g| refused.contains(g.name.as_str()))
        .map(|g| TorchError::NotAStateDict {
            class: g.name.clone(),
        })
}

/// What the walk over a checkpoint's pickle tree finds besides the tensors themselves.
#[derive(Debug, Default)]
struct TreeSurvey {
    /// The first dotted name two tensors share.
    duplicate: Option<String>,
    /// The dotted names of the optimizer state dicts below the root.
    optimizer_states: Vec<String>,
    /// Whether the root itself is an optimizer state dict.
    root_is_optimizer: bool,
    /// The objects the crate kept whole (neither tensors nor containers): dotted name, class.
    objects: Vec<(String, String)>,
    /// The names of the tensors that sit in a dict of tensors only (a state dict, or a
    /// framework's dict of metrics), each such dict's tensors in one group.
    tensor_dicts: Vec<Vec<String>>,
}

/// Whether a dict is a `torch.optim.Optimizer.state_dict()`: exactly the keys `state` (a dict
/// from parameter index to that parameter's buffers) and `param_groups` (a list of dicts).
fn is_optimizer_state(entries: &HashMap<String, PickleValue>) -> bool {
    entries.len() == 2
        && matches!(entries.get("state"), Some(PickleValue::Dict(_)))
        && matches!(entries.get("param_groups"), Some(PickleValue::List(_)))
}

fn is_tensor(value: &PickleValue) -> bool {
    matches!(value, PickleValue::Unsupported(ty) if ty == "torch.Tensor")
}

/// Walks the checkpoint's tree as the crate does to name its tensors (dict keys, list and tuple
/// indices): the first dotted name two tensors share, and the optimizer state dicts in it.
fn survey_tree(path: &Path) -> Result<TreeSurvey, TorchError> {
    let root = PytorchReader::read_pickle_data(path, None).map_err(TorchError::Reader)?;
    let mut names = Vec::new();
    let mut optimizer_states = Vec::new();
    let mut tensor_dicts = Vec::new();
    let mut objects = Vec::new();
    let root_is_optimizer =
        matches!(&root, PickleValue::Dict(entries) if is_optimizer_state(entries));
    // An explicit stack: the tree may be as deep as the crate allows (1000 levels).
    let mut stack = vec![(root, String::new())];
    while let Some((value, name)) = stack.pop() {
        let child = |key: &str| {
            if name.is_empty() {
                key.to_string()
            } else {
                format!("{name}.{key}")
            }
        };
        match value {
            PickleValue::Dict(entries) => {
                // Its tensors are still named, for the duplicate check.
                if !name.is_empty() && is_optimizer_state(&entries) {
                    optimizer_states.push(name.clone());
                }
                // A state dict is an OrderedDict of tensors; the `_metadata` attribute
                // `Module.state_dict()` sets on it (each module's version) reads as one more key.
                let tensors: Vec<String> = entries
                    .iter()
                    .filter(|(k, v)| is_tensor(v) || k.as_str() != "_metadata")
                    .map(|(k, v)| is_tensor(v).then(|| child(k)))
                    .collect::<Option<_>>()
                    .unwrap_or_default();
                if !tensors.is_empty() {
                    tensor_dicts.push(tensors);
                }
                for (key, v) in entries {
                    let n = child(&key);
                    stack.push((v, n));
                }
            }
            PickleValue::List(items) => {
                for (i, v) in items.into_iter().enumerate() {
                    let n = child(&i.to_string());
                    stack.push((v, n));
                }
            }
            v if is_tensor(&v) => names.push(name),
            PickleValue::Unsupported(class) => objects.push((name, class)),
            _ => {}
        }
    }
    names.sort_unstable();
    optimizer_states.sort_unstable();
    // By name: the crate reads dicts in hash order.
    objects.sort_unstable();
    Ok(TreeSurvey {
        duplicate: names
            .windows(2)
            .find(|w| w[0] == w[1])
            .map(|w| w[0].clone()),
        optimizer_states,
        root_is_optimizer,
        tensor_dicts,
        objects,
    })
}

fn element_type(dtype: DType) -> ElementType {
    match dtype {
        DType::F64 => ElementType::F64,
        DType::F32 => ElementType::F32,
        DType::F16 => ElementType::F16,
        DType::BF16 => ElementType::BF16,
        DType::I64 => ElementType::Int(8),
        DType::I32 => ElementType::Int(4),
        DType::I16 => ElementType::Int(2),
        DType::I8 => ElementType::Int(1),
        DType::U64 => ElementType::Unsigned(8),
        DType::U32 => ElementType::Unsigned(4),
        DType::U16 => ElementType::Unsigned(2),
        DType::U8 => ElementType::Unsigned(1),
        DType::Bool => ElementType::Bool,
    }
}

/// A training checkpoint's model tensors (see [`read_checkpoint`]).
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The tensors, sorted by their dotted names, the skipped optimizer states' left out.
    pub tensors: Vec<(String, HostArray<f64>)>,
    /// The optimizer state dicts skipped (`torch.optim.Optimizer.state_dict()`, saved beside the
    /// model in a training checkpoint): each one's dotted name and how many tensors it holds.
    /// Their tensors (Adam's moments: twice the model's size) are never read.
    pub optimizer_states: Vec<(String, usize)>,
    /// The names of the tensors (in `tensors`) that are in no state dict: not in a dict that
    /// holds only tensors, at least one of them with a dimension. These are a training
    /// framework's metrics and counters, such as the `best_model_score` of a Lightning
    /// checkpoint's callbacks; a layer's weights are never loose in a checkpoint that saves
    /// `model.state_dict()`. Empty for a plain state dict; every tensor for a flat dict that
    /// mixes tensors with other values (`{"lstm.weight_ih_l0": …, "epoch": 3}`).
    pub loose: Vec<String>,
    /// The Python objects in the checkpoint, not read: dotted name and class. Configuration
    /// values saved beside the state dict, such as Lightning's hyperparameters (a dataclass,
    /// an `argparse.Namespace`); they hold no tensor the model could need.
    pub objects: Vec<(String, String)>,
}

/// Reads the tensors of the state dict in `path`, sorted by name, as `f64` (integer tensors
/// such as `num_batches_tracked` convert exactly up to 2^53). Every tensor is read, an optimizer
/// state's included; [`read_checkpoint`] leaves those out.
///
/// ```
/// use lrp_import::formats::torch::{TorchError, read_state_dict};
///
/// let tensors = read_state_dict("../../fixtures/pytorch/p1_bilstm_linear.state_dict.pt")?;
/// let (name, weight) = &tensors[0];
/// assert_eq!((name.as_str(), weight.shape.len()), ("fc.bias", 1));
/// // A whole pickled module is refused, naming its class.
/// let err = read_state_dict("../../fixtures/pytorch/p1_bilstm_linear.full_module.pt").unwrap_err();
/// assert!(matches!(err, TorchError::NotAStateDict { .. }), "{err}");
/// # Ok::<(), TorchError>(())
/// ```
pub fn read_state_dict(
    path: impl AsRef<Path>,
) -> Result<Vec<(String, HostArray<f64>)>, TorchError> {
    read(path.as_ref(), false).map(|c| c.tensors)
}

/// Reads a checkpoint as [`read_state_dict`] does, but skips the optimizer state dicts in it
/// (a dict with exactly the keys `state` and `param_groups`, below the root): a training
/// checkpoint such as `{"model_state_dict": …, "optimizer_state_dict": …, "epoch": 3}` holds the
/// optimizer's per-parameter buffers as tensors, which are not part of the model.
pub fn read_checkpoint(path: impl AsRef<Path>) -> Result<Checkpoint, TorchError> {
    read(path.as_ref(), true)
}

fn read(path: &Path, skip_optimizer: bool) -> Result<Checkpoint, TorchError> {
    let copy = zip_repair::readable_copy(path)?;
    let path = copy.as_deref().unwrap_or(path);
    let foreign = foreign_globals(path)?;
    // With foreign globals, the tree is walked first to see where they are; a tree the crate
    // cannot walk is refused for them.
    let early = if foreign.globals.is_empty() || foreign.scripted {
        None
    } else {
        survey_tree(path).ok()
    };
    if let Some(refusal) = refusal(&foreign, early.as_ref()) {
        return Err(refusal);
    }
    let file_len = std::fs::metadata(path)?.len();
    let reader = PytorchReader::new(path).map_err(TorchError::Reader)?;
    let mut tensors: Vec<_> = reader.into_tensors().into_iter().collect();
    if tensors.is_empty() {
        return Err(TorchError::NoTensors);
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let survey = match early {
        Some(survey) => survey,
        None => survey_tree(path)?,
    };
    if let Some(name) = survey.duplicate {
        return Err(TorchError::DuplicateName(name));
    }
    if skip_optimizer && survey.root_is_optimizer {
        return Err(TorchError::OptimizerState);
    }
    let mut optimizer_states = Vec::new();
    if skip_optimizer {
        for state in survey.optimizer_states {
            let inside = |name: &str| {
                name.strip_prefix(state.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
            };
            let before = tensors.len();
            tensors.retain(|(name, _)| !inside(name));
            optimizer_states.push((state, before - tensors.len()));
        }
        if tensors.is_empty() {
            return Err(TorchError::NoTensors);
        }
    }
    let mut in_state_dict = HashSet::new();
    let rank = |name: &str| {
        tensors
            .binary_search_by(|(n, _)| n.as_str().cmp(name))
            .map_or(0, |i| tensors[i].1.shape().len())
    };
    for group in &survey.tensor_dicts {
        if group.iter().any(|name| rank(name) > 0) {
            in_state_dict.extend(group.iter().map(String::as_str));
        }
    }
    let loose: Vec<String> = tensors
        .iter()
        .filter(|(name, _)| !in_state_dict.contains(name.as_str()))
        .map(|(name, _)| name.clone())
        .collect();
    let limit = file_len.saturating_mul(MAX_EXPANSION);
    let mut total = 0u64;
    for (name, tensor) in &tensors {
        total = total.saturating_add(tensor.byte_len() as u64);
        if total > limit {
            return Err(TorchError::TooLarge {
                name: name.clone(),
                bytes: total,
                limit,
            });
        }
    }
    let native = if cfg!(target_endian = "little") {
        Endian::Little
    } else {
        Endian::Big
    };
    let tensors = tensors
        .into_iter()
        .map(|(name, tensor)| {
            let bytes = tensor.read().map_err(|source| TorchError::Tensor {
                name: name.clone(),
                source,
            })?;
            let data = dtype::to_f64(&bytes, element_type(tensor.dtype()), native);
            let shape = tensor.shape().to_vec();
            Ok((name, HostArray { shape, data }))
        })
        .collect::<Result<_, TorchError>>()?;
    Ok(Checkpoint {
        tensors,
        optimizer_states,
        loose,
        objects: survey.objects,
    })
}
