//! Reading any supported model file, its format detected from the content by [`crate::sniff`].
//!
//! Each file is read once: HDF5 and safetensors files whole into memory, a zip archive through
//! its central directory (a `.keras` archive's entries once each). A PyTorch checkpoint is
//! handed to `pytorch-reader` by path, which opens it itself; for a zip checkpoint that means
//! its central directory (a few KB) is read twice, once here to tell it from a `.keras` archive.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use crate::error::{ImportError, Result};
use crate::formats::safetensors::{self as st, parse};
use crate::formats::torch;
use crate::formats::zip::Archive;
use crate::report::{ImportReport, ImportedModel, describe_layers};
use crate::sniff::{FileKind, read_prefix, sniff};
use crate::torch_model::{
    READOUT_METADATA_KEY, TorchModules, read_declared_state_dict, read_torch_state_dict,
};
use crate::{canonical, keras};
use lrp_model::Readout;

/// The model file formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelFormat {
    /// safetensors in the canonical layout (`w_x`, `w_h`, `b`, …; see [`canonical`]).
    Canonical,
    /// Keras 3 `.keras` archive.
    Keras,
    /// Keras legacy HDF5 (`.h5`, `.hdf5`), Keras 2 or 3.
    KerasH5,
    /// Keras 3 `.weights.h5`.
    KerasWeights,
    /// PyTorch `torch.save` state dict (`.pt`, `.pth`; zip or legacy format).
    TorchPt,
    /// PyTorch state dict saved as safetensors.
    TorchSafetensors,
}

impl core::str::FromStr for ModelFormat {
    type Err = ImportError;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "canonical" => ModelFormat::Canonical,
            "keras" => ModelFormat::Keras,
            "keras-h5" | "h5" => ModelFormat::KerasH5,
            "keras-weights" | "weights-h5" => ModelFormat::KerasWeights,
            "torch" | "pt" => ModelFormat::TorchPt,
            "torch-safetensors" => ModelFormat::TorchSafetensors,
            other => {
                return Err(ImportError::Format(format!(
                    "unknown model format `{other}` (canonical, keras, keras-h5, keras-weights, \
                     torch, torch-safetensors)"
                )));
            }
        })
    }
}

/// How to read a model file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadOptions {
    /// Force a format instead of detecting it.
    pub format: Option<ModelFormat>,
    /// The Keras model configuration JSON for a `.weights.h5` file (from a `.keras` file or
    /// its `config.json`; see [`keras_config_from_file`]).
    pub keras_config: Option<String>,
    /// Module names for PyTorch state dicts.
    pub torch: TorchModules,
}

/// An open model file: its handle, length and first bytes. A file that is not a regular file
/// (a named pipe, a device) is read whole at once, since it can be read only once and not
/// seeked.
struct Opened {
    path: String,
    len: u64,
    prefix: Vec<u8>,
    content: Content,
}

enum Content {
    /// A regular file, positioned after the prefix.
    File(File),
    /// The whole content of a stream (the prefix included).
    Bytes(Vec<u8>),
}

impl Opened {
    fn new(path: &Path) -> Result<Self, ImportError> {
        let io = |source| ImportError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut file = File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if meta.is_file() {
            let prefix = read_prefix(&mut file).map_err(io)?;
            return Ok(Self {
                path: path.display().to_string(),
                len: meta.len(),
                prefix,
                content: Content::File(file),
            });
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        Ok(Self {
            path: path.display().to_string(),
            len: bytes.len() as u64,
            prefix: bytes[..bytes.len().min(crate::sniff::SNIFF_BYTES)].to_vec(),
            content: Content::Bytes(bytes),
        })
    }

    /// The whole file: the prefix already read, then the rest.
    fn into_bytes(mut self) -> Result<Vec<u8>> {
        let file = match self.content {
            Content::Bytes(bytes) => return Ok(bytes),
            Content::File(ref mut file) => file,
        };
        let mut bytes = std::mem::take(&mut self.prefix);
        let rest = usize::try_from(self.len)
            .unwrap_or(0)
            .saturating_sub(bytes.len());
        bytes.reserve_exact(rest);
        // `take` bounds the read by the length measured at open (a growing file adds nothing).
        let budget = self.len.saturating_sub(bytes.len() as u64);
        file.take(budget)
            .read_to_end(&mut bytes)
            .map_err(|source| ImportError::Io {
                path: self.path.clone(),
                source,
            })?;
        Ok(bytes)
    }

    /// The file as a zip archive (its central directory read, no entry yet).
    fn into_archive(self) -> Result<Archive<Box<dyn ReadSeek>>> {
        let reader: Box<dyn ReadSeek> = match self.content {
            Content::File(mut file) => {
                file.seek(SeekFrom::Start(0)).map_err(|e| ImportError::Io {
                    path: self.path.clone(),
                    source: e,
                })?;
                Box::new(file)
            }
            Content::Bytes(bytes) => Box::new(std::io::Cursor::new(bytes)),
        };
        Ok(Archive::new(reader)?)
    }

    /// Fails for a file that cannot be opened again by path (read whole already).
    fn reopenable(&self) -> Result<()> {
        match self.content {
            Content::File(_) => Ok(()),
            Content::Bytes(_) => Err(ImportError::Format(format!(
                "{}: a PyTorch checkpoint must be a regular file (it is read by path, not as a \
                 stream)",
                self.path
            ))),
        }
    }
}

/// A readable, seekable archive source.
trait ReadSeek: Read + Seek {}
impl<T: Read + Seek> ReadSeek for T {}

/// The format of a safetensors model file.
fn safetensors_format(bytes: &[u8]) -> Result<ModelFormat> {
    let file = parse(bytes)?;
    if canonical::is_canonical(&file) {
        return Ok(ModelFormat::Canonical);
    }
    // A recurrent module's input kernel, also weight-normalised (`….weight_ih_l0.original0`,
    // `weight_ih_l0_g`), or a cell's, which the state-dict reader names when it refuses it.
    if file
        .names()
        .iter()
        .any(|n| n.contains("weight_ih_l0") || n.ends_with("weight_ih"))
    {
        return Ok(ModelFormat::TorchSafetensors);
    }
    Err(ImportError::Format(format!(
        "a safetensors file that is neither in the canonical layout (w_x, w_h, b, w_dense) \
         nor a PyTorch LSTM state dict (…weight_ih_l0); it holds: {}",
        st::names(&file)
    )))
}

fn unrecognised() -> ImportError {
    ImportError::Format(
        "unrecognised model file: not safetensors, HDF5 (Keras), a .keras zip, or a PyTorch \
         torch.save file"
            .into(),
    )
}

/// Detects a model file's format from its content.
///
/// ```
/// use lrp_import::{ModelFormat, detect_format};
///
/// assert_eq!(detect_format("../../fixtures/keras3/a_bilstm_dense.keras")?, ModelFormat::Keras);
/// assert_eq!(detect_format("../../fixtures/pytorch/p1_bilstm_linear.legacy.pt")?, ModelFormat::TorchPt);
/// # Ok::<(), lrp_import::ImportError>(())
/// ```
pub fn detect_format(path: impl AsRef<Path>) -> Result<ModelFormat> {
    let opened = Opened::new(path.as_ref())?;
    match sniff(&opened.prefix, Some(opened.len)) {
        FileKind::Hdf5 => Ok(ModelFormat::KerasH5),
        FileKind::TorchLegacy => Ok(ModelFormat::TorchPt),
        FileKind::Zip => zip_format(&opened.into_archive()?),
        FileKind::Safetensors => safetensors_format(&opened.into_bytes()?),
        _ => Err(unrecognised()),
    }
}

fn zip_format<R: Read + Seek>(archive: &Archive<R>) -> Result<ModelFormat> {
    if keras::is_keras_archive(archive) {
        return Ok(ModelFormat::Keras);
    }
    if archive.names().iter().any(|n| n.ends_with("data.pkl")) {
        return Ok(ModelFormat::TorchPt);
    }
    Err(ImportError::Format(
        "a zip archive that is neither a .keras model (no config.json) nor a torch.save file \
         (no data.pkl)"
            .into(),
    ))
}

/// Reads a model file, its format detected from the content unless `options.format` says it.
///
/// ```
/// use lrp_import::{LoadOptions, read_model};
///
/// let imported = read_model("../../fixtures/keras3/b_lstm_softmax.keras", &LoadOptions::default())?;
/// assert_eq!(imported.params.num_classes(), imported.params.head()[0].w.cols());
/// println!("{}", imported.report); // format, layers, conversions
/// # Ok::<(), lrp_import::ImportError>(())
/// ```
pub fn read_model(path: impl AsRef<Path>, options: &LoadOptions) -> Result<ImportedModel> {
    let path = path.as_ref();
    let (format, mut imported) = read_model_as(path, options)?;
    imported.format = Some(format);
    Ok(imported)
}

/// [`read_model`], with the format it was read as.
fn read_model_as(path: &Path, options: &LoadOptions) -> Result<(ModelFormat, ImportedModel)> {
    let opened = Opened::new(path)?;
    let kind = sniff(&opened.prefix, Some(opened.len));
    let format = match options.format {
        Some(f) => f,
        None => match kind {
            FileKind::Hdf5 => ModelFormat::KerasH5,
            FileKind::TorchLegacy => ModelFormat::TorchPt,
            FileKind::Zip => {
                // A stream (read whole already) can still be a .keras archive, from memory.
                let reopenable = opened.reopenable();
                let mut archive = opened.into_archive()?;
                return match zip_format(&archive)? {
                    ModelFormat::Keras => {
                        Ok((ModelFormat::Keras, keras::read_keras(&mut archive)?))
                    }
                    format => reopenable
                        .and_then(|()| read_torch(path, options))
                        .map(|m| (format, m)),
                };
            }
            FileKind::Safetensors => {
                let bytes = opened.into_bytes()?;
                let format = safetensors_format(&bytes)?;
                return Ok((format, read_safetensors(&bytes, format, options)?));
            }
            _ => return Err(unrecognised()),
        },
    };
    let imported = match format {
        ModelFormat::Keras => keras::read_keras(&mut opened.into_archive()?),
        ModelFormat::KerasH5 => {
            keras::read_h5(opened.into_bytes()?, options.keras_config.as_deref())
        }
        ModelFormat::KerasWeights => {
            keras::read_weights_h5(opened.into_bytes()?, options.keras_config.as_deref())
        }
        ModelFormat::TorchPt => {
            opened.reopenable()?;
            drop(opened);
            read_torch(path, options)
        }
        ModelFormat::Canonical | ModelFormat::TorchSafetensors => {
            read_safetensors(&opened.into_bytes()?, format, options)
        }
    }?;
    Ok((format, imported))
}

fn read_torch(path: &Path, options: &LoadOptions) -> Result<ImportedModel> {
    let torch::Checkpoint {
        mut tensors,
        optimizer_states,
        loose,
        objects,
    } = torch::read_checkpoint(path)?;
    // A training framework's metrics beside the state dict (Lightning's callbacks keep
    // `best_model_score` as a tensor) are not layers: they are skipped when the recurrent
    // modules are in a state dict. When they are not (a flat dict mixing tensors and other
    // values), every tensor is loose and all are kept.
    let loose: BTreeSet<String> = loose.into_iter().collect();
    let skip_loose = !loose.is_empty()
        && tensors
            .iter()
            .any(|(name, _)| name.ends_with("weight_ih_l0") && !loose.contains(name));
    if skip_loose {
        tensors.retain(|(name, _)| !loose.contains(name));
    }
    let mut imported = read_torch_state_dict(
        tensors,
        &options.torch,
        "PyTorch state dict (torch.save)".into(),
    )?;
    let notes = &mut imported.report.notes;
    for (name, count) in optimizer_states.into_iter().filter(|(_, n)| *n > 0) {
        notes.push(format!(
            "optimizer state `{name}` ({count} tensors) not read: it is not part of the model"
        ));
    }
    if skip_loose {
        // Named by the checkpoint's top-level entries: Lightning's callback names alone run
        // to a hundred characters.
        let mut by_entry: BTreeMap<&str, usize> = BTreeMap::new();
        for name in &loose {
            *by_entry
                .entry(name.split_once('.').map_or(name.as_str(), |(top, _)| top))
                .or_default() += 1;
        }
        let entries: Vec<String> = by_entry
            .iter()
            .map(|(entry, n)| format!("`{entry}` ({n})"))
            .collect();
        notes.push(format!(
            "{} tensors outside the checkpoint's state dict not read (metrics or counters, not \
             layers): {}",
            loose.len(),
            entries.join(", ")
        ));
    }
    if !objects.is_empty() {
        let mut shown: Vec<String> = objects
            .iter()
            .take(4)
            .map(|(name, class)| format!("`{name}` ({class})"))
            .collect();
        if objects.len() > 4 {
            shown.push(format!("and {} more", objects.len() - 4));
        }
        notes.push(format!(
            "Python objects in the checkpoint not read (values beside the state dict, with no \
             tensors): {}",
            shown.join(", ")
        ));
    }
    Ok(imported)
}

fn read_safetensors(
    bytes: &[u8],
    format: ModelFormat,
    options: &LoadOptions,
) -> Result<ImportedModel> {
    if format == ModelFormat::Canonical {
        let params = canonical::read_canonical(bytes)?;
        return Ok(ImportedModel {
            report: ImportReport {
                format: "canonical safetensors (w_x, w_h, b, …)".into(),
                layers: describe_layers(&params),
                conversions: vec![
                    "none: already in the canonical layout (gate order i, f, c, o)".into(),
                ],
                notes: vec![],
                warnings: vec![],
            },
            params,
            format: None,
        });
    }
    let file = parse(bytes)?;
    let mut names: Vec<String> = file.names().into_iter().map(String::from).collect();
    names.sort();
    let tensors = names
        .into_iter()
        .map(|n| st::float_array(&file, &n).map(|a| (n, a)))
        .collect::<Result<Vec<_>>>()?;
    read_declared_state_dict(
        tensors,
        &options.torch,
        "PyTorch state dict (safetensors)".into(),
        declared_readout(bytes)?,
    )
}

/// The readout a safetensors file declares in its metadata, if any; a value that is not a
/// readout is an error (ignoring it would explain with a readout the file says is wrong).
fn declared_readout(bytes: &[u8]) -> Result<Option<Readout>> {
    let (_, header) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(ImportError::SafeTensors)?;
    let Some(value) = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(READOUT_METADATA_KEY))
    else {
        return Ok(None);
    };
    value.parse().map(Some).map_err(|e| {
        ImportError::Format(format!(
            "metadata `{READOUT_METADATA_KEY}` = {value:?} is not a readout: {e}"
        ))
    })
}

/// The model configuration JSON from a `.keras` archive or a `config.json` file.
///
/// ```
/// let json = lrp_import::keras_config_from_file("../../fixtures/keras3/a_bilstm_dense.keras")?;
/// assert!(json.contains("\"Bidirectional\""));
/// # Ok::<(), lrp_import::ImportError>(())
/// ```
pub fn keras_config_from_file(path: impl AsRef<Path>) -> Result<String> {
    let opened = Opened::new(path.as_ref())?;
    if sniff(&opened.prefix, Some(opened.len)) == FileKind::Zip {
        return keras::archive_config(&mut opened.into_archive()?);
    }
    String::from_utf8(opened.into_bytes()?)
        .map_err(|_| ImportError::Format("the Keras configuration is not UTF-8 text".into()))
}
