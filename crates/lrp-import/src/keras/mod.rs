//! Keras models: `.keras` (Keras 3 zip), legacy `.h5`/`.hdf5` (Keras 2 and 3) and `.weights.h5`.
//!
//! The architecture comes from the model configuration (`config.json` in `.keras`, the
//! `model_config` attribute of legacy files); weights are found by layer name (legacy) or in the
//! Keras 3 object tree. Keras' gate order is the canonical one, so weights are copied as they
//! are. A `.weights.h5` file alone has no architecture: give the configuration (a `.keras` file
//! or its `config.json`) with [`read_weights_h5`], or let the layer tree be interpreted when it
//! is unambiguous ([`infer`]).

mod build;
mod config;
pub(crate) mod infer;
mod weights;

use crate::error::{ImportError, Result};
use crate::hdf5::{AttrValue, File};
use crate::report::ImportedModel;
use crate::zip::Archive;
use build::KerasVersion;
use weights::Layout;

fn hdf5(bytes: Vec<u8>, what: &str) -> Result<File> {
    File::from_bytes(bytes).map_err(|e| ImportError::Format(format!("{what}: {e}")))
}

fn string_attr(file: &File, name: &str) -> Result<Option<String>> {
    let root = file
        .root()
        .map_err(|e| ImportError::Format(format!("HDF5 root group: {e}")))?;
    match root
        .attribute(name)
        .map_err(|e| ImportError::Format(format!("HDF5 attribute `{name}`: {e}")))?
    {
        Some(AttrValue::Strings(mut s)) if s.len() == 1 => Ok(s.pop()),
        _ => Ok(None),
    }
}

/// The config.json (and metadata.json's keras version) of a `.keras` archive, and its
/// `model.weights.h5` bytes.
pub(crate) struct KerasArchive {
    pub config: String,
    pub version: KerasVersion,
    pub keras_version: String,
    pub weights: Vec<u8>,
}

/// Opens a `.keras` zip archive.
pub(crate) fn open_archive(bytes: &[u8]) -> Result<KerasArchive> {
    let archive =
        Archive::parse(bytes).map_err(|e| ImportError::Format(format!(".keras file: {e}")))?;
    let entry = |name: &str| -> Result<Vec<u8>> {
        let e = archive.find(name).ok_or_else(|| {
            ImportError::Format(format!(
                ".keras file: the archive has no `{name}` (is it a Keras 3 model saved with model.save?)"
            ))
        })?;
        Ok(archive
            .read(e)
            .map_err(|e| ImportError::Format(format!(".keras file: {e}")))?
            .into_owned())
    };
    let config = String::from_utf8(entry("config.json")?)
        .map_err(|_| ImportError::Format(".keras file: config.json is not UTF-8".into()))?;
    let weights = entry("model.weights.h5")?;
    let keras_version = archive
        .find("metadata.json")
        .and_then(|e| archive.read(e).ok())
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|m| m.get("keras_version")?.as_str().map(String::from))
        .unwrap_or_else(|| String::from("3"));
    Ok(KerasArchive {
        config,
        version: KerasVersion::from_version_string(&keras_version),
        keras_version,
        weights,
    })
}

/// Reads a Keras 3 `.keras` file.
pub fn read_keras(bytes: &[u8]) -> Result<ImportedModel> {
    let archive = open_archive(bytes)?;
    let specs = config::parse_model_config(&archive.config)?;
    let file = hdf5(archive.weights, ".keras model.weights.h5")?;
    build::build(
        &specs,
        &Layout::Tree { file: &file },
        archive.version,
        format!("Keras 3 .keras (keras {})", archive.keras_version),
    )
}

/// Reads a Keras HDF5 file: a legacy model (`model.save("m.h5")` in Keras 2 or 3), or — when
/// it has no `model_config` but a Keras 3 layer tree — a `.weights.h5` file, with `config` (the
/// model configuration JSON) if given.
pub fn read_h5(bytes: Vec<u8>, config: Option<&str>) -> Result<ImportedModel> {
    let file = hdf5(bytes, "HDF5 file")?;
    let Some(model_config) = string_attr(&file, "model_config")? else {
        if file.group("/layers").is_ok() {
            return read_tree(file, config, "Keras 3 .weights.h5".into());
        }
        return Err(ImportError::Format(
            "the HDF5 file has no `model_config` attribute: it holds weights only; give the \
             architecture too (a .keras file or its config.json)"
                .into(),
        ));
    };
    let keras_version = string_attr(&file, "keras_version")?.unwrap_or_default();
    let version = KerasVersion::from_version_string(&keras_version);
    let specs = config::parse_model_config(config.unwrap_or(&model_config))?;
    let base = if file.group("/model_weights").is_ok() {
        "/model_weights".to_string()
    } else {
        String::new()
    };
    build::build(
        &specs,
        &Layout::Legacy { file: &file, base },
        version,
        format!("Keras legacy HDF5 (keras {keras_version})"),
    )
}

/// Reads a Keras 3 `.weights.h5` file. `config` is the model configuration JSON (the
/// `config.json` of a `.keras` file); without it the architecture is inferred from the layer
/// tree when that is unambiguous ([`infer`]), else an error asks for it.
pub fn read_weights_h5(bytes: Vec<u8>, config: Option<&str>) -> Result<ImportedModel> {
    let file = hdf5(bytes, ".weights.h5 file")?;
    read_tree(file, config, "Keras 3 .weights.h5".into())
}

fn read_tree(file: File, config: Option<&str>, format: String) -> Result<ImportedModel> {
    match config {
        Some(json) => {
            let specs = config::parse_model_config(json)?;
            build::build(
                &specs,
                &Layout::Tree { file: &file },
                KerasVersion::Three,
                format!("{format} with its configuration"),
            )
        }
        None => infer::infer(&file, format),
    }
}
