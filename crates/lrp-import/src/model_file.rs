//! Reading any supported model file, its format detected from the content.

use crate::error::{ImportError, Result};
use crate::report::{ImportReport, ImportedModel, describe_layers};
use crate::safetensors_io::{self, HostArray};
use crate::torch_model::{TorchModules, read_torch_state_dict};
use crate::{canonical, keras, pytorch};

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

const HDF5_SIGNATURE: &[u8] = b"\x89HDF\r\n\x1a\n";

fn is_hdf5(bytes: &[u8]) -> bool {
    // The superblock may follow a user block of 512, 1024, … bytes.
    [0usize, 512, 1024, 2048, 4096]
        .iter()
        .any(|&o| bytes.get(o..o + 8) == Some(HDF5_SIGNATURE))
}

fn is_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

fn is_safetensors(bytes: &[u8]) -> bool {
    let Some(len) = bytes.get(..8) else {
        return false;
    };
    let n = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    n >= 2 && n.saturating_add(8) <= bytes.len() as u64 && bytes.get(8) == Some(&b'{')
}

/// Detects a model file's format from its content.
pub fn detect_format(bytes: &[u8]) -> Result<ModelFormat> {
    if is_hdf5(bytes) {
        return Ok(ModelFormat::KerasH5);
    }
    if is_zip(bytes) {
        let archive =
            crate::zip::Archive::parse(bytes).map_err(|e| ImportError::Format(e.to_string()))?;
        if archive.find("config.json").is_some() {
            return Ok(ModelFormat::Keras);
        }
        if archive
            .entries()
            .iter()
            .any(|e| e.name.ends_with("data.pkl"))
        {
            return Ok(ModelFormat::TorchPt);
        }
        return Err(ImportError::Format(
            "a zip archive that is neither a .keras model (no config.json) nor a torch.save \
             file (no data.pkl)"
                .into(),
        ));
    }
    if pytorch::is_torch_file(bytes) {
        return Ok(ModelFormat::TorchPt);
    }
    if is_safetensors(bytes) {
        let st = safetensors_io::parse(bytes)?;
        if canonical::is_canonical(&st) {
            return Ok(ModelFormat::Canonical);
        }
        if st.names().iter().any(|n| n.ends_with("weight_ih_l0")) {
            return Ok(ModelFormat::TorchSafetensors);
        }
        return Err(ImportError::Format(format!(
            "a safetensors file that is neither in the canonical layout (w_x, w_h, b, w_dense) \
             nor a PyTorch LSTM state dict (…weight_ih_l0); it holds: {}",
            safetensors_io::names(&st)
        )));
    }
    Err(ImportError::Format(
        "unrecognised model file: not safetensors, HDF5 (Keras), a .keras zip, or a PyTorch \
         torch.save file"
            .into(),
    ))
}

/// Reads a model from a file's bytes.
pub fn read_model(bytes: Vec<u8>, options: &LoadOptions) -> Result<ImportedModel> {
    let format = match options.format {
        Some(f) => f,
        None => detect_format(&bytes)?,
    };
    match format {
        ModelFormat::Canonical => {
            let params = canonical::read_canonical(&bytes)?;
            Ok(ImportedModel {
                report: ImportReport {
                    format: "canonical safetensors (w_x, w_h, b, …)".into(),
                    layers: describe_layers(&params),
                    conversions: vec![
                        "none: already in the canonical layout (gate order i, f, c, o)".into(),
                    ],
                    notes: vec![],
                },
                params,
            })
        }
        ModelFormat::Keras => keras::read_keras(&bytes),
        ModelFormat::KerasH5 => keras::read_h5(bytes, options.keras_config.as_deref()),
        ModelFormat::KerasWeights => keras::read_weights_h5(bytes, options.keras_config.as_deref()),
        ModelFormat::TorchPt => {
            let sd =
                pytorch::read_state_dict(&bytes).map_err(|e| ImportError::Format(e.to_string()))?;
            let tensors = sd
                .tensors
                .into_iter()
                .map(|(k, t)| {
                    (
                        k,
                        HostArray {
                            shape: t.shape,
                            data: t.data,
                        },
                    )
                })
                .collect();
            read_torch_state_dict(
                tensors,
                &options.torch,
                "PyTorch state dict (torch.save)".into(),
            )
        }
        ModelFormat::TorchSafetensors => {
            let st = safetensors_io::parse(&bytes)?;
            let mut names: Vec<String> = st.names().into_iter().map(String::from).collect();
            names.sort();
            let tensors = names
                .into_iter()
                .map(|n| safetensors_io::float_array(&st, &n).map(|a| (n, a)))
                .collect::<Result<Vec<_>>>()?;
            read_torch_state_dict(
                tensors,
                &options.torch,
                "PyTorch state dict (safetensors)".into(),
            )
        }
    }
}

/// The model configuration JSON from a `.keras` archive or a `config.json` file's bytes.
pub fn keras_config_from_file(bytes: &[u8]) -> Result<String> {
    if is_zip(bytes) {
        return Ok(keras::open_archive(bytes)?.config);
    }
    String::from_utf8(bytes.to_vec())
        .map_err(|_| ImportError::Format("the Keras configuration is not UTF-8 text".into()))
}
