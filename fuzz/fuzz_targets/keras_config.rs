//! The input is a Keras model configuration (`config.json`), applied to a fixed, valid
//! `.weights.h5` (the `b_lstm_softmax` fixture), and parsed alone as a `.keras`/legacy
//! architecture. Reaches the architecture code (layer kinds, `units`, merge modes, shapes
//! checked against the weights) that byte mutations of a compressed `.keras` rarely reach.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lrp_import::{LoadOptions, ModelFormat, read_model};

/// A real Keras 3 `.weights.h5` (18 KB): one LSTM and a softmax Dense head.
const WEIGHTS: &[u8] = include_bytes!("../corpus/hdf5/b_lstm_softmax.weights.h5");

fuzz_target!(|data: &[u8]| {
    let Ok(config) = std::str::from_utf8(data) else {
        return;
    };
    let options = LoadOptions {
        format: Some(ModelFormat::KerasWeights),
        keras_config: Some(config.to_owned()),
        ..LoadOptions::default()
    };
    let _ = read_model(WEIGHTS.to_vec(), &options);
});
