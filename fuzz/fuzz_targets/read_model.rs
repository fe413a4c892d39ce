//! Format detection and the full import of a model file's bytes, as `lstm-lrp explain --model`
//! does it: detection from content, then the Keras / PyTorch / safetensors readers and the
//! conversion into the canonical layout.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lrp_import::{LoadOptions, ModelFormat, detect_format, keras_config_from_file, read_model};

fuzz_target!(|data: &[u8]| {
    let _ = detect_format(data);
    let _ = read_model(data.to_vec(), &LoadOptions::default());
    // Formats that detection never picks by itself: forced, as with `--format`.
    for format in [ModelFormat::KerasWeights, ModelFormat::Canonical] {
        let options = LoadOptions {
            format: Some(format),
            ..LoadOptions::default()
        };
        let _ = read_model(data.to_vec(), &options);
    }
    let _ = keras_config_from_file(data);
});
