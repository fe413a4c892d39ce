//! Format detection and the full import of a model file, as `lstm-lrp explain --model` does
//! it: detection from content, then the Keras / PyTorch / safetensors readers and the
//! conversion into the canonical layout; then every format forced, as with `--format`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lrp_import::{LoadOptions, ModelFormat, detect_format, keras_config_from_file, read_model};

#[path = "tmpfile.rs"]
mod tmpfile;

const FORMATS: [ModelFormat; 6] = [
    ModelFormat::Canonical,
    ModelFormat::Keras,
    ModelFormat::KerasH5,
    ModelFormat::KerasWeights,
    ModelFormat::TorchPt,
    ModelFormat::TorchSafetensors,
];

fuzz_target!(|data: &[u8]| {
    let path = tmpfile::write("input.model", data);
    let detected = detect_format(&path);
    let _ = read_model(&path, &LoadOptions::default());
    // Each format forced; the detected one was just read.
    for format in FORMATS {
        if detected.as_ref().ok() == Some(&format) {
            continue;
        }
        let options = LoadOptions {
            format: Some(format),
            ..LoadOptions::default()
        };
        let _ = read_model(&path, &options);
    }
    let _ = keras_config_from_file(&path);
});
