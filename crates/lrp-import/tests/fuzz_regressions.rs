//! Inputs that once crashed, hung or over-allocated in a `cargo fuzz` target (`fuzz/`), replayed
//! through the same entry points. Each must now give a typed error.
//!
//! Files live in `tests/data/fuzz/<target>-<what>.bin`; `<target>` picks the entry point.

use std::path::Path;

use lrp_import::{LoadOptions, ModelFormat, read_model};

fn data(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/fuzz")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn corpus_files_are_all_replayed() {
    // Every file in the directory must be named after a target this test knows.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let known = [
        "hdf5-",
        "pytorch-",
        "npy-",
        "zip-",
        "read_model-",
        "keras_config-",
    ];
    for entry in std::fs::read_dir(dir).expect("tests/data/fuzz") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        assert!(
            known.iter().any(|k| name.starts_with(k)),
            "{name}: unknown target prefix"
        );
    }
}

fn fixture(rel: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Reads the `b_lstm_softmax` weights with a (fuzzed) configuration, as the `keras_config`
/// fuzz target does.
fn weights_with_config(config_file: &str) -> lrp_import::Result<()> {
    let config = String::from_utf8(data(config_file)).expect("UTF-8 config");
    let options = LoadOptions {
        format: Some(ModelFormat::KerasWeights),
        keras_config: Some(config),
        ..LoadOptions::default()
    };
    read_model(fixture("keras3/b_lstm_softmax.weights.h5"), &options).map(|_| ())
}

#[test]
fn lstm_units_whose_gate_count_overflows_are_refused() {
    // `units` = 2^62: the kernel width 4 * units overflowed (a panic with overflow checks,
    // a silently wrapped width of 0 without).
    let err = weights_with_config("keras_config-lstm_units_2pow62.json")
        .expect_err("2^62 units cannot match the weights");
    let msg = err.to_string();
    assert!(msg.contains("units"), "{msg}");
}

#[test]
fn dense_units_are_checked_against_the_kernel_before_allocating() {
    // A Dense layer without bias declaring 2^50 units: the zero bias of that length was
    // allocated (8 PiB: an allocation-failure abort) before the kernel's shape was checked.
    let err = weights_with_config("keras_config-dense_units_2pow50_no_bias.json")
        .expect_err("2^50 units cannot match the kernel");
    let msg = err.to_string();
    assert!(msg.contains("shape"), "{msg}");
}
