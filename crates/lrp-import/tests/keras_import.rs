//! Keras files into the canonical layout: the same model from every file form, the Keras 2
//! model equal to the weights the references used, and clear errors for everything else.

mod common;

use common::{TempDir, XorShift, fixture, fixture_path, zip_archive};
use lrp_import::formats::hdf5::{Hdf5ErrorKind, Hdf5File};
use lrp_import::formats::zip::ZipError;
use lrp_import::{
    ImportError, LoadOptions, ModelFormat, detect_format, keras_config_from_file, read_model,
};
use lrp_model::{GateActivation, InputLayer, MergeMode, ModelParams};

fn load(rel: &str) -> ModelParams {
    read_model(fixture_path(rel), &LoadOptions::default())
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
        let config = keras_config_from_file(fixture_path(&format!("keras3/{m}.keras"))).unwrap();
        let options = LoadOptions {
            keras_config: Some(config),
            ..LoadOptions::default()
        };
        let weights =
            read_model(fixture_path(&format!("keras3/{m}.weights.h5")), &options).unwrap();
        assert_eq!(keras, weights.params, "{m}: .keras vs .weights.h5");
        // Forced to its format, the same.
        let forced = LoadOptions {
            format: Some(ModelFormat::KerasWeights),
            ..options
        };
        let weights = read_model(fixture_path(&format!("keras3/{m}.weights.h5")), &forced).unwrap();
        assert_eq!(keras, weights.params, "{m}: forced .weights.h5");
    }
}

#[test]
fn keras_config_from_a_config_json_file_equals_the_archives() {
    let tmp = TempDir::new("config-json");
    let from_archive = keras_config_from_file(fixture_path("keras3/a_bilstm_dense.keras")).unwrap();
    let json = tmp.write("config.json", from_archive.as_bytes());
    assert_eq!(keras_config_from_file(&json).unwrap(), from_archive);
    let not_utf8 = tmp.write("bad.json", b"{\"a\": \"\xff\"}");
    assert!(matches!(
        keras_config_from_file(&not_utf8),
        Err(ImportError::Format(_))
    ));
}

#[test]
fn keras3_architectures_are_read() {
    let a = load("keras3/a_bilstm_dense.keras");
    assert_eq!(a.recurrent().len(), 1);
    assert!(a.recurrent()[0].backward.is_some());
    assert_eq!(a.num_classes(), 3);

    let b = load("keras3/b_lstm_softmax.keras");
    assert!(b.recurrent()[0].backward.is_none());
    assert_eq!(b.head()[0].activation, lrp_model::Activation::Softmax);

    let c = load("keras3/c_embed_bilstmseq_lstm.keras");
    assert!(
        matches!(c.input(), InputLayer::Embedding { mask_zero: true, table } if table.shape() == [50, 8])
    );
    assert_eq!(c.recurrent().len(), 2);
    assert_eq!(c.recurrent()[0].merge, MergeMode::Concat);
    assert_eq!(c.recurrent()[1].input_size(), 12);

    let d = load("keras3/d_masking_bilstm_sum_mlp.keras");
    assert!(
        matches!(d.input(), InputLayer::Features { size: 10, mask_value: Some(v) } if *v == 0.0)
    );
    assert_eq!(d.recurrent()[0].merge, MergeMode::Sum);
    assert_eq!(d.head().len(), 2);
    assert!(
        d.recurrent()
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
            fixture_path(&format!("keras3/{m}.weights.h5")),
            &LoadOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{m}: {e}"));
        let keras = load(&format!("keras3/{m}.keras"));
        assert_eq!(inferred.params.recurrent(), keras.recurrent(), "{m}");
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
            fixture_path(&format!("keras3/{m}.weights.h5")),
            &LoadOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("give the model configuration"), "{m}: {err}");
    }
    // A batch norm (and an Activation layer) in the head: its place and the activations are
    // only in the configuration.
    let bn = fixture_path("keras3/round4/v6_lstm_dense_batchnorm_relu.weights.h5");
    let err = read_model(&bn, &LoadOptions::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("give the model configuration") && err.contains("the head's activations"),
        "{err}"
    );
    let config = keras_config_from_file(fixture_path(
        "keras3/round4/v6_lstm_dense_batchnorm_relu.keras",
    ))
    .unwrap();
    let options = LoadOptions {
        keras_config: Some(config),
        ..LoadOptions::default()
    };
    let with_config = read_model(&bn, &options).unwrap();
    let keras = load("keras3/round4/v6_lstm_dense_batchnorm_relu.keras");
    assert_eq!(with_config.params, keras);
}

#[test]
fn formats_are_detected_from_content() {
    let cases = [
        ("keras3/a_bilstm_dense.keras", ModelFormat::Keras),
        ("keras3/a_bilstm_dense.h5", ModelFormat::KerasH5),
        // A .weights.h5 is HDF5 too; read_model tells the two apart by their content.
        ("keras3/a_bilstm_dense.weights.h5", ModelFormat::KerasH5),
        ("keras2/keras2_sentiment_bilstm.hdf5", ModelFormat::KerasH5),
        (
            "pytorch/p1_bilstm_linear.state_dict.pt",
            ModelFormat::TorchPt,
        ),
        ("pytorch/p1_bilstm_linear.legacy.pt", ModelFormat::TorchPt),
        (
            "pytorch/p1_bilstm_linear.full_module.pt",
            ModelFormat::TorchPt,
        ),
        (
            "pytorch/p1_bilstm_linear.safetensors",
            ModelFormat::TorchSafetensors,
        ),
        ("golden/tiny.safetensors", ModelFormat::Canonical),
    ];
    // Detection reads the content, not the name: every file under a neutral name.
    let tmp = TempDir::new("detect");
    for (rel, want) in cases {
        assert_eq!(detect_format(fixture_path(rel)).unwrap(), want, "{rel}");
        let renamed = tmp.file("bin", &fixture(rel));
        assert_eq!(detect_format(&renamed).unwrap(), want, "{rel} renamed");
    }
    let text = tmp.file("keras", b"hello world, not a model");
    assert!(matches!(detect_format(&text), Err(ImportError::Format(_))));
    assert!(matches!(
        read_model(&text, &LoadOptions::default()),
        Err(ImportError::Format(_))
    ));
    let empty = tmp.file("h5", b"");
    assert!(matches!(detect_format(&empty), Err(ImportError::Format(_))));
    // A zip that is neither a .keras archive nor a torch.save file.
    let other = tmp.file("zip", &zip_archive(&[("readme.txt", b"hi")], false));
    let err = detect_format(&other).unwrap_err();
    assert!(
        matches!(&err, ImportError::Format(m) if m.contains("config.json")),
        "{err}"
    );
    // A safetensors file in neither layout names what it holds.
    let st = lrp_import::formats::safetensors::serialize(
        &[(
            "something",
            lrp_import::formats::safetensors::OutTensor::F64(lrp_import::HostArray {
                shape: vec![1],
                data: vec![1.0],
            }),
        )],
        None,
    )
    .unwrap();
    let st = tmp.file("safetensors", &st);
    let err = detect_format(&st).unwrap_err();
    assert!(
        matches!(&err, ImportError::Format(m) if m.contains("something")),
        "{err}"
    );
    // An absent file: the I/O error with the path.
    let absent = tmp.path().join("absent.keras");
    assert!(matches!(
        detect_format(&absent),
        Err(ImportError::Io { .. })
    ));
}

#[test]
fn truncated_keras_files_get_typed_errors() {
    let tmp = TempDir::new("keras-truncated");
    for rel in [
        "keras3/a_bilstm_dense.keras",
        "keras3/c_embed_bilstmseq_lstm.h5",
        "keras3/b_lstm_softmax.weights.h5",
        "keras2/keras2_sentiment_bilstm.hdf5",
    ] {
        let bytes = fixture(rel);
        let whole = load(rel);
        for cut in [8, 100, bytes.len() / 3, bytes.len() / 2, bytes.len() - 10] {
            let path = tmp.file("bin", &bytes[..cut]);
            match read_model(&path, &LoadOptions::default()) {
                // The container's own error: the first 8 bytes already say which container.
                Err(err) if rel.ends_with(".keras") => {
                    assert!(
                        matches!(err, ImportError::Zip(_)),
                        "{rel} at {cut}: {err:?}"
                    );
                }
                Err(err) => {
                    assert!(
                        matches!(err, ImportError::Hdf5(_)),
                        "{rel} at {cut}: {err:?}"
                    );
                }
                // HDF5 files may end in unused space: a cut that loses none of the model is
                // read as the whole file, never as a different model.
                Ok(model) => {
                    assert!(
                        cut > bytes.len() / 2 && rel.contains(".h5"),
                        "{rel} at {cut}"
                    );
                    assert_eq!(model.params, whole, "{rel} at {cut}");
                }
            }
        }
    }
}

#[test]
fn byte_flips_of_every_keras_fixture_never_panic() {
    // 1-3 mutated bytes per file, 60 files per fixture: `Ok` or `Err`, never a panic.
    let tmp = TempDir::new("keras-flips");
    let mut rng = XorShift(0x005e_ed0f_ca11_ab1e);
    let mut files = vec!["keras2/keras2_sentiment_bilstm.hdf5".to_string()];
    for m in MODELS {
        for ext in ["keras", "h5", "weights.h5"] {
            files.push(format!("keras3/{m}.{ext}"));
        }
    }
    for rel in &files {
        let orig = fixture(rel);
        for i in 0..60 {
            let mut b = orig.clone();
            for _ in 0..=(i % 3) {
                let pos = rng.below(b.len());
                b[pos] = match rng.below(3) {
                    0 => b[pos] ^ (1 << rng.below(8)),
                    1 => rng.next() as u8,
                    _ => 0xff,
                };
            }
            let path = tmp.file("bin", &b);
            let _ = detect_format(&path);
            let _ = read_model(&path, &LoadOptions::default());
        }
    }
}

#[test]
fn a_keras_zip_without_config_json_is_refused() {
    let tmp = TempDir::new("keras-no-config");
    // A valid archive holding only the weights.
    let zip = zip_archive(
        &[(
            "model.weights.h5",
            &fixture("keras3/a_bilstm_dense.weights.h5"),
        )],
        true,
    );
    let path = tmp.file("keras", &zip);
    let options = LoadOptions {
        format: Some(ModelFormat::Keras),
        ..LoadOptions::default()
    };
    let err = read_model(&path, &options).unwrap_err();
    assert!(
        matches!(&err, ImportError::Zip(ZipError::MissingEntry(name)) if name == "config.json"),
        "{err:?}"
    );
    assert!(err.to_string().contains("config.json"), "{err}");
    // Detected, it is neither .keras nor torch.save.
    assert!(matches!(
        read_model(&path, &LoadOptions::default()),
        Err(ImportError::Format(_))
    ));
    // With config.json but no weights entry.
    let config = keras_config_from_file(fixture_path("keras3/a_bilstm_dense.keras")).unwrap();
    let zip = zip_archive(&[("config.json", config.as_bytes())], false);
    let path = tmp.file("keras", &zip);
    let err = read_model(&path, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, ImportError::Zip(ZipError::MissingEntry(name)) if name == "model.weights.h5"),
        "{err:?}"
    );
}

#[test]
fn a_rebuilt_keras_archive_reads_like_the_original() {
    // The entries of the fixture, written again stored and deflated by another writer.
    let orig = fixture_path("keras3/c_embed_bilstmseq_lstm.keras");
    let mut archive =
        lrp_import::formats::zip::Archive::new(std::fs::File::open(&orig).unwrap()).unwrap();
    let names = archive.names();
    assert!(names.iter().any(|n| n == "config.json"), "{names:?}");
    let entries: Vec<(String, Vec<u8>)> = names
        .iter()
        .map(|n| (n.clone(), archive.read(n).unwrap()))
        .collect();
    let refs: Vec<(&str, &[u8])> = entries
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    let want = load("keras3/c_embed_bilstmseq_lstm.keras");
    let tmp = TempDir::new("keras-rebuilt");
    for deflate in [false, true] {
        let path = tmp.file("keras", &zip_archive(&refs, deflate));
        let got = read_model(&path, &LoadOptions::default()).unwrap();
        assert_eq!(got.params, want, "deflate {deflate}");
    }
}

#[test]
fn a_zip_entry_declaring_4_gb_is_refused() {
    // The weights entry of a stored .keras archive claims 4 GB (its real size is 36 KB): the
    // cap refuses it from the declared sizes, before anything is read.
    let weights = fixture("keras3/a_bilstm_dense.weights.h5");
    let config = keras_config_from_file(fixture_path("keras3/a_bilstm_dense.keras")).unwrap();
    let mut zip = zip_archive(
        &[
            ("config.json", config.as_bytes()),
            ("model.weights.h5", &weights),
        ],
        false,
    );
    let patched = patch_uncompressed_size(&mut zip, "model.weights.h5", 0xffff_0000);
    assert_eq!(patched, 2, "local header and central directory");
    let tmp = TempDir::new("zip-4gb");
    let path = tmp.file("keras", &zip);
    let err = read_model(&path, &LoadOptions::default()).unwrap_err();
    match &err {
        ImportError::Zip(ZipError::EntryTooLarge {
            name,
            declared,
            compressed,
            limit,
        }) => {
            assert_eq!(name, "model.weights.h5");
            assert_eq!(*declared, 0xffff_0000);
            assert_eq!(*compressed, weights.len() as u64);
            assert_eq!(
                *limit,
                weights.len() as u64,
                "a stored entry: its stored size"
            );
        }
        other => panic!("{other:?}"),
    }
    // The message says what was claimed.
    assert!(err.to_string().contains("4294901760"), "{err}");
}

/// Sets the uncompressed size of entry `name` in every local and central header of a classic
/// (non-ZIP64) archive; returns how many headers were patched.
pub fn patch_uncompressed_size(zip: &mut [u8], name: &str, size: u32) -> usize {
    let mut patched = 0;
    let n = name.as_bytes();
    let mut i = 0;
    while i + 46 <= zip.len() {
        let sig: [u8; 4] = zip[i..i + 4].try_into().expect("4 bytes");
        // Local header: size at 22, name length at 26, name at 30.
        if &sig == b"PK\x03\x04" {
            let len = u16::from_le_bytes([zip[i + 26], zip[i + 27]]) as usize;
            if zip.get(i + 30..i + 30 + len) == Some(n) {
                zip[i + 22..i + 26].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
        // Central header: size at 24, name length at 28, name at 46.
        if &sig == b"PK\x01\x02" {
            let len = u16::from_le_bytes([zip[i + 28], zip[i + 29]]) as usize;
            if zip.get(i + 46..i + 46 + len) == Some(n) {
                zip[i + 24..i + 28].copy_from_slice(&size.to_le_bytes());
                patched += 1;
            }
        }
        i += 1;
    }
    patched
}

#[test]
fn a_corrupted_hdf5_dimension_is_refused_by_the_read_limit() {
    // /layers/dense/vars/0 of a_bilstm_dense.weights.h5 is (24, 3) float32. Its dataspace
    // message holds the dimensions as 8-byte little-endian lengths; three bytes set in the
    // first one make it 24 + 0x0fff_ff00 rows (~805 M elements, 3.2 GB). hdf5-reader, with
    // its default (unlimited) read limit, would try; our limit (16x the file) refuses it.
    let bytes = fixture("keras3/a_bilstm_dense.weights.h5");
    let dims: Vec<u8> = [24u64, 3].iter().flat_map(|d| d.to_le_bytes()).collect();
    let at: Vec<usize> = bytes
        .windows(dims.len())
        .enumerate()
        .filter(|(_, w)| *w == dims.as_slice())
        .map(|(i, _)| i)
        .collect();
    // The dataspace message (version 1, rank 2, maximum dimensions present): the dimensions,
    // then the maximum dimensions, both (24, 3). Only the dimensions are changed.
    assert_eq!(at, [at[0], at[0] + 16], "one (24, 3) dataspace in the file");
    assert_eq!(&bytes[at[0] - 8..at[0] - 4], &[1, 2, 1, 0]);
    let mut patched = bytes.clone();
    patched[at[0] + 1..at[0] + 4].copy_from_slice(&[0xff, 0xff, 0x0f]);

    let file = Hdf5File::from_bytes(patched.clone()).expect("the file still opens");
    let err = file.read_floats("/layers/dense/vars/0").unwrap_err();
    assert_eq!(err.object, "/layers/dense/vars/0");
    assert!(
        matches!(
            err.kind,
            Hdf5ErrorKind::Reader(hdf5_reader::error::Error::ResourceLimit(_))
        ),
        "{err:?}"
    );
    // The untouched datasets still read.
    assert_eq!(file.read_floats("/layers/dense/vars/1").unwrap().shape, [3]);

    // Through read_model: the typed HDF5 error, naming the dataset.
    let tmp = TempDir::new("hdf5-dimension");
    let path = tmp.file("weights.h5", &patched);
    let err = read_model(&path, &LoadOptions::default()).unwrap_err();
    match &err {
        ImportError::Hdf5(e) => {
            assert_eq!(e.object, "/layers/dense/vars/0");
            assert!(
                matches!(
                    e.kind,
                    Hdf5ErrorKind::Reader(hdf5_reader::error::Error::ResourceLimit(_))
                ),
                "{e:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("/layers/dense/vars/0"), "{err}");
}

#[test]
fn an_unsupported_layer_is_refused_naming_the_layer() {
    let json = r#"{"class_name": "Sequential", "config": {"layers": [
        {"class_name": "InputLayer", "config": {"batch_shape": [null, null, 16]}},
        {"class_name": "SimpleRNN", "config": {"name": "simple_rnn", "units": 12}},
        {"class_name": "Dense", "config": {"name": "dense", "units": 3}}]}}"#;
    let options = LoadOptions {
        keras_config: Some(json.into()),
        ..LoadOptions::default()
    };
    let err = read_model(fixture_path("keras3/a_bilstm_dense.weights.h5"), &options).unwrap_err();
    assert!(matches!(err, ImportError::Unsupported(_)), "{err}");
    assert!(
        err.to_string().contains("`simple_rnn` (SimpleRNN)"),
        "{err}"
    );
}

#[test]
fn a_legacy_h5_without_model_config_asks_for_the_architecture() {
    // A Keras 3 .weights.h5 is read as one when forced to the legacy format...
    let forced = LoadOptions {
        format: Some(ModelFormat::KerasH5),
        ..LoadOptions::default()
    };
    let a = read_model(fixture_path("keras3/a_bilstm_dense.weights.h5"), &forced).unwrap();
    assert_eq!(a.params, load("keras3/a_bilstm_dense.keras"));
    // ...but an HDF5 file with neither a model_config nor a layer tree is refused.
    let tmp = TempDir::new("hdf5-no-config");
    let path = tmp.file("h5", &common::test_data("hdf5/sb3_latest.h5"));
    let err = read_model(&path, &LoadOptions::default()).unwrap_err();
    assert!(
        matches!(&err, ImportError::Format(m) if m.contains("model_config")),
        "{err:?}"
    );
}

#[test]
fn a_masked_model_pooled_by_global_max_pooling_warns_that_keras_pools_the_padding() {
    // (file, whether the model has a mask and a GlobalMaxPooling1D)
    let cases = [
        ("keras3/l_embed_mask_bilstm_seq_maxpool.keras", true),
        ("keras3/l_embed_mask_bilstm_seq_maxpool.h5", true),
        (
            "keras3/round3/u4_mask_lstm_back_gru_maxpool_mlp.keras",
            true,
        ),
        // Max pooling without a mask, a mask without max pooling.
        ("keras3/j_bilstm_seq_maxpool.keras", false),
        ("keras3/d_masking_bilstm_sum_mlp.keras", false),
    ];
    for (rel, warns) in cases {
        let report = read_model(fixture_path(rel), &LoadOptions::default())
            .unwrap_or_else(|e| panic!("{rel}: {e}"))
            .report;
        let warned = report
            .warnings
            .iter()
            .any(|w| w.contains("GlobalMaxPooling1D") && w.contains("model.predict"));
        assert_eq!(warned, warns, "{rel}: {:?}", report.warnings);
        if !warns {
            assert!(report.warnings.is_empty(), "{rel}: {:?}", report.warnings);
        }
    }
}
