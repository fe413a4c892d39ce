//! Inputs that once crashed, hung or over-allocated in a `cargo fuzz` target (`fuzz/`), replayed
//! through the same entry points. Each must now give a typed error.
//!
//! Files live in `tests/data/fuzz/<target>-<what>.<ext>`; `<target>` picks the entry points,
//! as the fuzz target of that name calls them (`replay`). Every file is replayed by
//! `every_file_replays_without_a_panic`; the tests after it check the error of each.

mod common;

use std::path::Path;

use common::{TempDir, fixture_path};
use lrp_import::formats::hdf5::Hdf5File;
use lrp_import::formats::zip::{Archive, ZipError};
use lrp_import::formats::{npy, torch};
use lrp_import::{
    ImportError, LoadOptions, ModelFormat, detect_format, keras_config_from_file, read_model,
};

const TARGETS: [&str; 6] = [
    "hdf5",
    "pytorch",
    "npy",
    "zip",
    "read_model",
    "keras_config",
];

fn data(name: &str) -> Vec<u8> {
    common::test_data(&format!("fuzz/{name}"))
}

/// What the fuzz target `target` does with `bytes` (see `fuzz/fuzz_targets/`).
fn replay(tmp: &TempDir, target: &str, bytes: &[u8]) {
    match target {
        "hdf5" => {
            if let Ok(file) = Hdf5File::from_bytes(bytes.to_vec()) {
                walk(&file, "/", 0);
            }
        }
        "pytorch" => {
            let _ = torch::read_state_dict(tmp.file("pt", bytes));
        }
        "npy" => {
            let _ = npy::holds_floats(bytes);
            let _ = npy::read_f64(bytes);
            let _ = npy::read_i64(bytes);
            if let Ok(mut rows) = npy::RowReader::new(std::io::Cursor::new(bytes)) {
                let n = rows.shape()[0];
                let _ = rows.read_f64(0..n / 2);
                let _ = rows.read_i64(n / 2..n);
            }
        }
        "zip" => {
            if let Ok(mut archive) = Archive::new(std::io::Cursor::new(bytes)) {
                for name in archive.names() {
                    let _ = archive.read(&name);
                }
            }
            let options = LoadOptions {
                format: Some(ModelFormat::Keras),
                ..LoadOptions::default()
            };
            let _ = read_model(tmp.file("keras", bytes), &options);
        }
        "read_model" => {
            let path = tmp.file("model", bytes);
            let _ = detect_format(&path);
            let _ = read_model(&path, &LoadOptions::default());
            for format in [
                ModelFormat::Canonical,
                ModelFormat::Keras,
                ModelFormat::KerasH5,
                ModelFormat::KerasWeights,
                ModelFormat::TorchPt,
                ModelFormat::TorchSafetensors,
            ] {
                let options = LoadOptions {
                    format: Some(format),
                    ..LoadOptions::default()
                };
                let _ = read_model(&path, &options);
            }
            let _ = keras_config_from_file(&path);
        }
        "keras_config" => {
            if let Ok(config) = std::str::from_utf8(bytes) {
                let _ = weights_with_config(config);
            }
        }
        other => panic!("unknown fuzz target `{other}`"),
    }
}

fn walk(file: &Hdf5File, path: &str, depth: usize) {
    if depth > 16 {
        return;
    }
    for a in [
        "model_config",
        "keras_version",
        "layer_names",
        "weight_names",
        "name",
    ] {
        let _ = file.string_attribute(path, a);
    }
    for name in file.members(path).unwrap_or_default().into_iter().take(256) {
        let child = format!("{}/{name}", path.trim_end_matches('/'));
        match file.has_group(&child) {
            Ok(true) => walk(file, &child, depth + 1),
            Ok(false) => {
                let _ = file.read_floats(&child);
            }
            Err(_) => {}
        }
    }
}

#[test]
fn every_file_replays_without_a_panic() {
    // Every file in the directory must be named after a target, and is replayed through it.
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzz");
    let tmp = TempDir::new("fuzz-replay");
    let mut replayed = 0;
    for entry in std::fs::read_dir(dir).expect("tests/data/fuzz") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy().into_owned();
        let target = TARGETS
            .iter()
            .find(|t| name.starts_with(&format!("{t}-")))
            .unwrap_or_else(|| panic!("{name}: unknown target prefix"));
        replay(&tmp, target, &data(&name));
        replayed += 1;
    }
    assert!(replayed >= 2, "{replayed}");
}

/// Reads the `b_lstm_softmax` weights with a (fuzzed) configuration, as the `keras_config`
/// fuzz target does.
fn weights_with_config(config: &str) -> lrp_import::Result<()> {
    let options = LoadOptions {
        format: Some(ModelFormat::KerasWeights),
        keras_config: Some(config.to_string()),
        ..LoadOptions::default()
    };
    read_model(fixture_path("keras3/b_lstm_softmax.weights.h5"), &options).map(|_| ())
}

fn config_file(name: &str) -> String {
    String::from_utf8(data(name)).expect("UTF-8 config")
}

#[test]
fn lstm_units_whose_gate_count_overflows_are_refused() {
    // `units` = 2^62: the kernel width 4 * units overflowed (a panic with overflow checks,
    // a silently wrapped width of 0 without).
    let err = weights_with_config(&config_file("keras_config-lstm_units_2pow62.json"))
        .expect_err("2^62 units cannot match the weights");
    assert!(
        matches!(&err, ImportError::Format(_) | ImportError::Unsupported(_)),
        "{err:?}"
    );
    assert!(err.to_string().contains("units"), "{err}");
}

#[test]
fn dense_units_are_checked_against_the_kernel_before_allocating() {
    // A Dense layer without bias declaring 2^50 units: the zero bias of that length was
    // allocated (8 PiB: an allocation-failure abort) before the kernel's shape was checked.
    let err = weights_with_config(&config_file("keras_config-dense_units_2pow50_no_bias.json"))
        .expect_err("2^50 units cannot match the kernel");
    assert!(err.to_string().contains("shape"), "{err}");
}

#[test]
fn a_compressed_size_beyond_the_archive_is_refused() {
    // `zip` target, out of memory: in this 4 KB mutation of a torch.save archive, the stored
    // entry `…/version` claims 4294967294 compressed and 4294967293 uncompressed bytes. The
    // zip crate believes both; our caps compared the uncompressed size with the compressed one
    // only, and 4 GiB was reserved for the entry. The compressed size is now checked against
    // the archive's length first.
    let bytes = data("zip-stored_entry_claims_4gb_compressed.zip");
    let mut archive = Archive::new(std::io::Cursor::new(&bytes[..])).expect("the directory reads");
    let name = "p3_lstm_timemajor.state_dict/version";
    assert!(archive.contains(name));
    match archive.read(name) {
        Err(ZipError::Corrupt { name: n, source }) => {
            assert_eq!(n, name);
            assert!(
                source.to_string().contains("4294967294 compressed bytes"),
                "{source}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Through the checkpoint reader, which reads the archive's data.pkl first: an error.
    let tmp = TempDir::new("fuzz-zip-4gb");
    let path = tmp.file("pt", &bytes);
    assert!(torch::read_state_dict(&path).is_err());
    assert!(read_model(&path, &LoadOptions::default()).is_err());
}
