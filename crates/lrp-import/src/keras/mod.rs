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

use std::io::{Read, Seek};

use crate::error::{ImportError, Result};
use crate::formats::hdf5::Hdf5File as File;
use crate::formats::zip::Archive;
use crate::report::ImportedModel;
use build::KerasVersion;
use weights::Layout;

/// A scalar string attribute of the root group.
fn string_attr(file: &File, name: &str) -> Result<Option<String>> {
    Ok(file
        .string_attribute("/", name)?
        .and_then(|mut s| if s.len() == 1 { s.pop() } else { None }))
}

/// The config.json (and metadata.json's keras version) of a `.keras` archive, and its
/// `model.weights.h5` bytes.
pub(crate) struct KerasArchive {
    pub config: String,
    pub version: KerasVersion,
    pub keras_version: String,
    pub weights: Vec<u8>,
}

/// Whether a zip archive is a `.keras` model (it has a `config.json`).
pub(crate) fn is_keras_archive<R: Read + Seek>(archive: &Archive<R>) -> bool {
    archive.contains("config.json")
}

/// Reads the configuration of a `.keras` archive.
pub(crate) fn archive_config<R: Read + Seek>(archive: &mut Archive<R>) -> Result<String> {
    String::from_utf8(archive.read("config.json")?)
        .map_err(|_| ImportError::Format(".keras file: config.json is not UTF-8".into()))
}

/// Reads the parts of a `.keras` archive: configuration, weights, Keras version.
pub(crate) fn open_archive<R: Read + Seek>(archive: &mut Archive<R>) -> Result<KerasArchive> {
    let config = archive_config(archive)?;
    let weights = archive.read("model.weights.h5")?;
    // metadata.json is optional: without it, Keras 3 is assumed (the format is Keras 3's).
    let keras_version = archive
        .read("metadata.json")
        .ok()
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

/// Reads a Keras 3 `.keras` archive.
pub fn read_keras<R: Read + Seek>(archive: &mut Archive<R>) -> Result<ImportedModel> {
    let archive = open_archive(archive)?;
    let specs = config::parse_model_config(&archive.config)?;
    let file = File::from_bytes(archive.weights)?;
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
    let file = File::from_bytes(bytes)?;
    let Some(model_config) = string_attr(&file, "model_config")? else {
        if file.has_group("/layers")? {
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
    let base = if file.has_group("/model_weights")? {
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
    let file = File::from_bytes(bytes)?;
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
