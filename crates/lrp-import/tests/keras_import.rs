//! Keras files into the canonical layout: the same model from every file form, the Keras 2
//! model equal to the weights the references used, and clear errors for everything else.

use std::path::PathBuf;

use lrp_import::{ImportError, LoadOptions, ModelFormat, detect_format, read_model};
use lrp_model::{GateActivation, InputLayer, MergeMode, ModelParams};

fn fixture(rel: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures")
        .join(rel);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn load(rel: &str) -> ModelParams {
    read_model(fixture(rel), &LoadOptions::default())
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
        .params
}

const MODELS: [&str; 4] = [
    "a_bilstm_dense",
    "b_lstm_softmax",
    "c_embed_bilstmseq_lstm",
    "d_masking_bilstm_sum_mlp",
];

#[test]
fn keras3_keras_h5_and_weights_h5_give_identical_parameters() {
    for m in MODELS {
        let keras = load(&format!("keras3/{m}.keras"));
        let h5 = load(&format!("keras3/{m}.h5"));
        assert_eq!(keras, h5, "{m}: .keras vs .h5");
        // The .weights.h5 with the architecture from the .keras file.
        let config =
            lrp_import::keras_config_from_file(&fixture(&format!("keras3/{m}.keras"))).unwrap();
        let options = LoadOptions {
            keras_config: Some(config),
            ..LoadOptions::default()
        };
        let weights = read_model(fixture(&format!("keras3/{m}.weights.h5")), &options).unwrap();
        assert_eq!(keras, weights.params, "{m}: .keras vs .weights.h5");
    }
}

#[test]
fn keras3_architectures_are_read() {
    let a = load("keras3/a_bilstm_dense.keras");
    assert_eq!(a.lstm().len(), 1);
    assert!(a.lstm()[0].backward.is_some());
    assert_eq!(a.num_classes(), 3);

    let b = load("keras3/b_lstm_softmax.keras");
    assert!(b.lstm()[0].backward.is_none());
    assert_eq!(b.head()[0].activation, lrp_model::Activation::Softmax);

    let c = load("keras3/c_embed_bilstmseq_lstm.keras");
    assert!(
        matches!(c.input(), InputLayer::Embedding { mask_zero: true, table } if table.shape() == [50, 8])
    );
    assert_eq!(c.lstm().len(), 2);
    assert_eq!(c.lstm()[0].merge, MergeMode::Concat);
    assert_eq!(c.lstm()[1].input_size(), 12);

    let d = load("keras3/d_masking_bilstm_sum_mlp.keras");
    assert!(
        matches!(d.input(), InputLayer::Features { size: 10, mask_value: Some(v) } if *v == 0.0)
    );
    assert_eq!(d.lstm()[0].merge, MergeMode::Sum);
    assert_eq!(d.head().len(), 2);
    assert!(
        d.lstm()
            .iter()
            .all(|l| l.gate_activation == GateActivation::Sigmoid)
    );
}

#[test]
fn keras2_hdf5_equals_the_weights_the_references_used() {
    let from_hdf5 = load("keras2/keras2_sentiment_bilstm.hdf5");
    let golden = lrp_import::read_canonical(&fixture(
        "golden/real_keras2_sentiment_eps1e-3_bf0.safetensors",
    ))
    .unwrap();
    assert_eq!(from_hdf5, golden);
}

#[test]
fn weights_h5_alone_is_inferred_when_unambiguous_and_refused_otherwise() {
    // a and b: one recurrent layer, one Dense layer: unambiguous.
    for m in ["a_bilstm_dense", "b_lstm_softmax"] {
        let inferred = read_model(
            fixture(&format!("keras3/{m}.weights.h5")),
            &LoadOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{m}: {e}"));
        let keras = load(&format!("keras3/{m}.keras"));
        assert_eq!(inferred.params.lstm(), keras.lstm(), "{m}");
        assert_eq!(inferred.params.head()[0].w, keras.head()[0].w, "{m}");
        assert!(
            inferred.report.format.contains("inferred"),
            "{}",
            inferred.report.format
        );
    }
    // c has an Embedding (mask_zero is not in the weights), d a sum merge and two Dense layers.
    for m in ["c_embed_bilstmseq_lstm", "d_masking_bilstm_sum_mlp"] {
        let err = read_model(
            fixture(&format!("keras3/{m}.weights.h5")),
            &LoadOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("give the model configuration"), "{m}: {err}");
    }
}

#[test]
fn formats_are_detected_from_content() {
    assert_eq!(
        detect_format(&fixture("keras3/a_bilstm_dense.keras")).unwrap(),
        ModelFormat::Keras
    );
    assert_eq!(
        detect_format(&fixture("keras3/a_bilstm_dense.h5")).unwrap(),
        ModelFormat::KerasH5
    );
    assert_eq!(
        detect_format(&fixture("pytorch/p1_bilstm_linear.state_dict.pt")).unwrap(),
        ModelFormat::TorchPt
    );
    assert_eq!(
        detect_format(&fixture("pytorch/p1_bilstm_linear.legacy.pt")).unwrap(),
        ModelFormat::TorchPt
    );
    assert_eq!(
        detect_format(&fixture("pytorch/p1_bilstm_linear.safetensors")).unwrap(),
        ModelFormat::TorchSafetensors
    );
    assert_eq!(
        detect_format(&fixture("golden/tiny.safetensors")).unwrap(),
        ModelFormat::Canonical
    );
    assert!(detect_format(b"hello world, not a model").is_err());
}

#[test]
fn malformed_keras_files_get_typed_errors() {
    // Truncated files of every kind: an error, never a panic.
    for rel in [
        "keras3/a_bilstm_dense.keras",
        "keras3/c_embed_bilstmseq_lstm.h5",
        "keras2/keras2_sentiment_bilstm.hdf5",
    ] {
        let bytes = fixture(rel);
        for cut in [8, 100, bytes.len() / 3, bytes.len() / 2, bytes.len() - 10] {
            assert!(
                read_model(bytes[..cut].to_vec(), &LoadOptions::default()).is_err(),
                "{rel} cut at {cut}"
            );
        }
    }
    // A zip without config.json: a valid archive holding only the weights.
    let zip = only_entry_zip(
        "model.weights.h5",
        &fixture("keras3/a_bilstm_dense.weights.h5"),
    );
    let options = LoadOptions {
        format: Some(ModelFormat::Keras),
        ..LoadOptions::default()
    };
    let err = read_model(zip, &options).unwrap_err().to_string();
    assert!(err.contains("config.json"), "{err}");
}

#[test]
fn a_non_lstm_model_is_refused_naming_the_layer() {
    let json = r#"{"class_name": "Sequential", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, null, 16]}},
        {"class_name": "GRU", "config": {"name": "gru", "units": 12}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 3}}]}}"#;
    let options = LoadOptions {
        keras_config: Some(json.into()),
        ..LoadOptions::default()
    };
    let err = read_model(fixture("keras3/a_bilstm_dense.weights.h5"), &options).unwrap_err();
    assert!(matches!(err, ImportError::Unsupported(_)), "{err}");
    assert!(err.to_string().contains("`gru` (GRU)"), "{err}");
}

/// A minimal stored zip with one entry (enough for the archive reader).
fn only_entry_zip(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data);
    let mut out = Vec::new();
    let local = |out: &mut Vec<u8>| {
        out.extend_from_slice(b"PK\x03\x04");
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes());
        out.extend_from_slice(name.as_bytes());
    };
    local(&mut out);
    out.extend_from_slice(data);
    let cd_start = out.len();
    out.extend_from_slice(b"PK\x01\x02");
    out.extend_from_slice(&[20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0; 12]);
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    let cd_len = out.len() - cd_start;
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&(cd_len as u32).to_le_bytes());
    out.extend_from_slice(&(cd_start as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
