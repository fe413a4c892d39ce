//! The input is a Keras model configuration (`config.json`), applied to a fixed, valid
//! `.weights.h5` (the `b_lstm_softmax` fixture) through `read_model` with
//! `LoadOptions { keras_config: Some(..) }`. Reaches the architecture code (layer kinds,
//! `units`, merge modes, shapes checked against the weights) that byte mutations of a
//! compressed `.keras` rarely reach.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use lrp_import::{LoadOptions, ModelFormat, read_model};

#[path = "tmpfile.rs"]
mod tmpfile;

/// A real Keras 3 `.weights.h5` (18 KB): one LSTM and a softmax Dense head.
const WEIGHTS: &[u8] = include_bytes!("../corpus/hdf5/b_lstm_softmax.weights.h5");

fuzz_target!(|data: &[u8]| {
    static WEIGHTS_FILE: OnceLock<PathBuf> = OnceLock::new();
    let path = WEIGHTS_FILE.get_or_init(|| tmpfile::write("b_lstm_softmax.weights.h5", WEIGHTS));
    let Ok(config) = std::str::from_utf8(data) else {
        return;
    };
    for format in [None, Some(ModelFormat::KerasWeights)] {
        let options = LoadOptions {
            format,
            keras_config: Some(config.to_owned()),
            ..LoadOptions::default()
        };
        let _ = read_model(path, &options);
    }
});
