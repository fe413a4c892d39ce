//! Reads the project's Keras fixtures. Expected numbers were derived with
//! h5py 3.16 / numpy (sums in float64 of the float32 values).

use super::{HDF5_FIXTURES, fixture, walk};
use crate::hdf5::{AttrValue, File, Hdf5Error, MemberKind, ScalarType};

fn open(rel: &str) -> File {
    File::from_bytes(fixture(rel)).unwrap()
}

fn strings(v: Option<AttrValue>) -> Vec<String> {
    match v {
        Some(AttrValue::Strings(s)) => s,
        other => panic!("expected strings, got {other:?}"),
    }
}

fn assert_close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want}");
}

#[test]
fn all_fixtures_are_superblock_v0() {
    for rel in HDF5_FIXTURES {
        assert_eq!(open(rel).superblock_version(), 0, "{rel}");
    }
}

#[test]
fn keras3_weights_h5_bilstm_kernel() {
    let f = open("keras3/a_bilstm_dense.weights.h5");
    let d = f
        .dataset("/layers/bidirectional/forward_layer/cell/vars/0")
        .unwrap();
    assert_eq!(d.shape(), &[16, 48]);
    assert_eq!(d.dtype(), ScalarType::Float { bytes: 4 });
    let v = d.read_f64().unwrap();
    assert_eq!(v.len(), 16 * 48);
    assert_eq!(
        &v[..3],
        &[
            0.13520170748233795,
            -0.48404139280319214,
            0.13946786522865295
        ]
    );
    assert_eq!(v[767], 0.14967913925647736);
    assert_close(v.iter().sum(), -8.29701874643797, 1e-6);
    assert_close(v.iter().map(|x| x.abs()).sum(), 156.0942147850874, 1e-6);

    let bias = f
        .dataset("layers/dense/vars/1")
        .unwrap()
        .read_f64()
        .unwrap();
    assert_eq!(
        bias,
        vec![
            -0.616774320602417,
            -0.18309028446674347,
            -0.8086204528808594
        ]
    );
    let vars = f
        .group("/layers/bidirectional/forward_layer/cell/vars")
        .unwrap();
    assert_eq!(strings(vars.attribute("name").unwrap()), vec!["lstm_cell"]);
    assert_eq!(vars.attribute_names().unwrap(), vec!["name"]);
    assert_eq!(
        strings(f.group("/vars").unwrap().attribute("name").unwrap()),
        vec!["functional"]
    );
}

#[test]
fn keras2_legacy_fixed_length_names() {
    let f = open("keras2/keras2_sentiment_bilstm.hdf5");
    let root = f.root().unwrap();
    assert_eq!(
        root.members().unwrap(),
        vec![("model_weights".to_string(), MemberKind::Group)]
    );
    assert_eq!(
        root.attribute_names().unwrap(),
        vec!["backend", "keras_version", "model_config"]
    );
    let config = strings(root.attribute("model_config").unwrap());
    assert_eq!(config.len(), 1);
    assert_eq!(config[0].len(), 1619);
    assert!(config[0].starts_with(r#"{"class_name": "Sequential""#));

    let mw = f.group("/model_weights").unwrap();
    assert_eq!(
        strings(mw.attribute("layer_names").unwrap()),
        vec!["bidirectional_3", "dense_2"]
    );
    assert_eq!(
        strings(mw.attribute("keras_version").unwrap()),
        vec!["2.3.1"]
    );
    assert_eq!(
        strings(mw.attribute("backend").unwrap()),
        vec!["tensorflow"]
    );
    assert_eq!(mw.attribute("no_such_attr").unwrap(), None);
    let names = strings(
        f.group("/model_weights/bidirectional_3")
            .unwrap()
            .attribute("weight_names")
            .unwrap(),
    );
    assert_eq!(
        names,
        vec![
            "bidirectional_3/forward_lstm_3/kernel:0",
            "bidirectional_3/forward_lstm_3/recurrent_kernel:0",
            "bidirectional_3/forward_lstm_3/bias:0",
            "bidirectional_3/backward_lstm_3/kernel:0",
            "bidirectional_3/backward_lstm_3/recurrent_kernel:0",
            "bidirectional_3/backward_lstm_3/bias:0",
        ]
    );
    let dense = f.group("/model_weights/dense_2").unwrap();
    assert_eq!(
        strings(dense.attribute("weight_names").unwrap()),
        vec!["dense_2/kernel:0"]
    );
    // every weight name resolves to a dataset under the layer group
    for n in names {
        let d = f
            .dataset(&format!("/model_weights/bidirectional_3/{n}"))
            .unwrap();
        assert_eq!(d.shape()[d.shape().len() - 1], 240);
    }
    let k = f
        .dataset("/model_weights/dense_2/dense_2/kernel:0")
        .unwrap();
    assert_eq!(k.shape(), &[120, 5]);
    let v = k.read_f64().unwrap();
    assert_eq!(
        &v[..3],
        &[
            0.008284710347652435,
            -0.16884420812129974,
            -0.14067108929157257
        ]
    );
    assert_close(v.iter().sum(), -3.4733736215275712, 1e-6);
    let b = f
        .dataset("/model_weights/bidirectional_3/bidirectional_3/forward_lstm_3/bias:0")
        .unwrap()
        .read_f64()
        .unwrap();
    assert_eq!(b.len(), 240);
    assert_close(b.iter().sum(), 45.48150409106165, 1e-6);
}

#[test]
fn keras3_legacy_h5_attributes() {
    let f = open("keras3/a_bilstm_dense.h5");
    let root = f.root().unwrap();
    let config = strings(root.attribute("model_config").unwrap());
    assert!(config[0].starts_with(r#"{"class_name": "Functional""#));
    assert_eq!(config[0].len(), 4216);
    assert_eq!(
        strings(root.attribute("keras_version").unwrap()),
        vec!["3.15.1"]
    );
    let mw = f.group("/model_weights").unwrap();
    assert_eq!(
        strings(mw.attribute("layer_names").unwrap()),
        vec!["input_layer", "bidirectional", "dense"]
    );
    assert_eq!(
        mw.members().unwrap(),
        vec![
            ("bidirectional".to_string(), MemberKind::Group),
            ("dense".to_string(), MemberKind::Group),
            ("input_layer".to_string(), MemberKind::Group),
            ("top_level_model_weights".to_string(), MemberKind::Group),
        ]
    );
    let empty = AttrValue::Floats {
        shape: vec![0],
        data: vec![],
    };
    for layer in ["input_layer", "top_level_model_weights"] {
        let g = mw.group(layer).unwrap();
        assert_eq!(
            g.attribute("weight_names").unwrap(),
            Some(empty.clone()),
            "{layer}"
        );
    }
    assert_eq!(
        strings(
            mw.group("dense")
                .unwrap()
                .attribute("weight_names")
                .unwrap()
        ),
        vec!["dense/kernel", "dense/bias"]
    );
    let k = f
        .dataset("/model_weights/dense/dense/kernel")
        .unwrap()
        .read_f64()
        .unwrap();
    assert_eq!(k.len(), 72);
    assert_eq!(
        &k[..3],
        &[
            -0.46624013781547546,
            -0.06604495644569397,
            0.27198711037635803
        ]
    );
    assert_close(k.iter().sum(), -0.9871598144527525, 1e-6);
}

/// Every weight listed in a legacy `.h5` equals the same variable in the
/// matching `.weights.h5` (same model, two formats).
#[test]
fn legacy_and_weights_files_agree() {
    let legacy = open("keras3/a_bilstm_dense.h5");
    let weights = open("keras3/a_bilstm_dense.weights.h5");
    let pairs = [
        (
            "bidirectional/bidirectional/forward_lstm/lstm_cell/kernel",
            "bidirectional/forward_layer/cell/vars/0",
        ),
        (
            "bidirectional/bidirectional/forward_lstm/lstm_cell/recurrent_kernel",
            "bidirectional/forward_layer/cell/vars/1",
        ),
        (
            "bidirectional/bidirectional/backward_lstm/lstm_cell/bias",
            "bidirectional/backward_layer/cell/vars/2",
        ),
        ("dense/dense/kernel", "dense/vars/0"),
        ("dense/dense/bias", "dense/vars/1"),
    ];
    for (a, b) in pairs {
        let da = legacy.dataset(&format!("/model_weights/{a}")).unwrap();
        let db = weights.dataset(&format!("/layers/{b}")).unwrap();
        assert_eq!(da.shape(), db.shape(), "{a}");
        assert_eq!(da.read_f64().unwrap(), db.read_f64().unwrap(), "{a}");
    }
    // every layer's weight_names resolve to datasets (all Keras 3 legacy files)
    for rel in HDF5_FIXTURES
        .iter()
        .filter(|r| r.ends_with(".h5") && !r.ends_with(".weights.h5"))
    {
        let f = open(rel);
        let mw = f.group("/model_weights").unwrap();
        for layer in strings(mw.attribute("layer_names").unwrap()) {
            let g = mw.group(&layer).unwrap();
            match g.attribute("weight_names").unwrap() {
                Some(AttrValue::Strings(names)) => {
                    for n in names {
                        let d = g.dataset(&n).unwrap();
                        assert!(!d.read_f64().unwrap().is_empty(), "{rel} {layer}/{n}");
                    }
                }
                Some(AttrValue::Floats { shape, data }) => {
                    assert_eq!((shape, data), (vec![0], vec![]), "{rel} {layer}");
                }
                other => panic!("{rel} {layer}: {other:?}"),
            }
        }
    }
}

#[test]
fn keras3_weights_h5_listing() {
    let f = open("keras3/c_embed_bilstmseq_lstm.weights.h5");
    let names = |p: &str| -> Vec<(String, MemberKind)> { f.group(p).unwrap().members().unwrap() };
    let g = |n: &str| (n.to_string(), MemberKind::Group);
    let d = |n: &str| (n.to_string(), MemberKind::Dataset);
    assert_eq!(names("/"), vec![g("layers"), g("vars")]);
    assert_eq!(
        names("/layers"),
        vec![
            g("bidirectional"),
            g("dense"),
            g("embedding"),
            g("input_layer"),
            g("lstm")
        ]
    );
    assert_eq!(names("/layers/lstm"), vec![g("cell"), g("vars")]);
    assert_eq!(
        names("/layers/lstm/cell/vars"),
        vec![d("0"), d("1"), d("2")]
    );
    assert_eq!(
        names("/layers/bidirectional"),
        vec![g("backward_layer"), g("forward_layer"), g("vars")]
    );
    assert_eq!(names("/layers/input_layer/vars"), vec![]);
    assert_eq!(
        strings(
            f.group("/layers/lstm/vars")
                .unwrap()
                .attribute("name")
                .unwrap()
        ),
        vec!["lstm_1"]
    );
    let shapes: Vec<Vec<usize>> = (0..3)
        .map(|i| {
            f.dataset(&format!("/layers/lstm/cell/vars/{i}"))
                .unwrap()
                .shape()
                .to_vec()
        })
        .collect();
    assert_eq!(shapes, vec![vec![12, 20], vec![5, 20], vec![20]]);
    let e = f.dataset("/layers/embedding/vars/0").unwrap();
    assert_eq!(e.shape(), &[50, 8]);
    let v = e.read_f64().unwrap();
    assert_eq!(
        &v[..3],
        &[-0.9196115136146545, 0.07662581652402878, 0.6001129150390625]
    );
    assert_close(v.iter().sum(), 25.97561838637921, 1e-6);
    let b = open("keras3/b_lstm_softmax.weights.h5")
        .dataset("/layers/lstm/cell/vars/2")
        .unwrap()
        .read_f64()
        .unwrap();
    assert_close(b.iter().sum(), 4.269643088104203, 1e-6);
}

/// The stored (uncompressed) `model.weights.h5` entry of a `.keras` zip.
fn zip_entry(zip: &[u8], name: &str) -> Option<Vec<u8>> {
    let u16_at = |p: usize| u16::from_le_bytes([zip[p], zip[p + 1]]) as usize;
    let u32_at = |p: usize| u32::from_le_bytes(zip[p..p + 4].try_into().unwrap()) as usize;
    let mut pos = 0;
    while zip.get(pos..pos + 4)? == b"PK\x03\x04" {
        let method = u16_at(pos + 8);
        let size = u32_at(pos + 18);
        let name_len = u16_at(pos + 26);
        let extra_len = u16_at(pos + 28);
        let entry_name = &zip[pos + 30..pos + 30 + name_len];
        let start = pos + 30 + name_len + extra_len;
        if entry_name == name.as_bytes() && method == 0 {
            return Some(zip[start..start + size].to_vec());
        }
        pos = start + size;
    }
    None
}

#[test]
fn keras_zip_inner_weights_match_weights_h5() {
    for stem in [
        "a_bilstm_dense",
        "b_lstm_softmax",
        "c_embed_bilstmseq_lstm",
        "d_masking_bilstm_sum_mlp",
    ] {
        let zip = fixture(&format!("keras3/{stem}.keras"));
        let inner = File::from_bytes(zip_entry(&zip, "model.weights.h5").unwrap()).unwrap();
        let outer = open(&format!("keras3/{stem}.weights.h5"));
        let (a, b) = (walk(&inner), walk(&outer));
        assert!(
            a.len() > 10 && !a.iter().any(|l| l.contains("ERR")),
            "{stem}"
        );
        assert_eq!(a, b, "{stem}");
    }
}

#[test]
fn errors_name_the_path() {
    let f = open("keras3/a_bilstm_dense.h5");
    assert_eq!(
        f.group("/model_weights/nope").unwrap_err(),
        Hdf5Error::NotFound {
            path: "/model_weights/nope".into()
        }
    );
    assert_eq!(
        f.dataset("/model_weights/dense").unwrap_err(),
        Hdf5Error::WrongKind {
            path: "/model_weights/dense".into(),
            expected: "dataset"
        }
    );
    assert_eq!(
        f.group("/model_weights/dense/dense/bias").unwrap_err(),
        Hdf5Error::WrongKind {
            path: "/model_weights/dense/dense/bias".into(),
            expected: "group"
        }
    );
    assert!(matches!(
        f.dataset("/model_weights/dense/dense/bias/x").unwrap_err(),
        Hdf5Error::WrongKind { .. }
    ));
    let e = f.root().unwrap().attribute("model_config").unwrap();
    assert!(e.is_some());
    assert_eq!(
        File::from_bytes(b"not hdf5".to_vec()).unwrap_err(),
        Hdf5Error::NotHdf5
    );
}

/// A dataspace claiming 2^40 rows in a small file fails with `TooLarge`
/// before anything is allocated.
#[test]
fn huge_dataspace_is_rejected() {
    let mut bytes = fixture("keras3/a_bilstm_dense.weights.h5");
    // dims (16, 48) as two little-endian u64 values inside the dataspace messages
    let mut pattern = 16u64.to_le_bytes().to_vec();
    pattern.extend_from_slice(&48u64.to_le_bytes());
    let mut hits = 0;
    for i in 0..bytes.len() - pattern.len() {
        if bytes[i..i + pattern.len()] == pattern[..] {
            bytes[i..i + 8].copy_from_slice(&(1u64 << 40).to_le_bytes());
            hits += 1;
        }
    }
    assert!(hits >= 2);
    let f = File::from_bytes(bytes.clone()).unwrap();
    let d = f
        .dataset("/layers/bidirectional/forward_layer/cell/vars/0")
        .unwrap();
    assert_eq!(d.shape(), &[1 << 40, 48]);
    assert_eq!(
        d.read_f64().unwrap_err().root_cause(),
        &Hdf5Error::TooLarge {
            what: "dataset size"
        }
    );
    // and an element count that overflows u64
    for i in 0..bytes.len() - 16 {
        if bytes[i..i + 8] == (1u64 << 40).to_le_bytes()
            && bytes[i + 8..i + 16] == 48u64.to_le_bytes()
        {
            bytes[i..i + 8].copy_from_slice(&(u64::MAX - 1).to_le_bytes());
        }
    }
    let f = File::from_bytes(bytes).unwrap();
    let d = f
        .dataset("/layers/bidirectional/forward_layer/cell/vars/0")
        .unwrap();
    assert!(matches!(
        d.read_f64().unwrap_err().root_cause(),
        Hdf5Error::TooLarge { .. }
    ));
}

/// A continuation message pointing back at its own chunk is reported as a
/// cycle instead of looping.
#[test]
fn continuation_cycle_is_detected() {
    let mut bytes = fixture("keras3/a_bilstm_dense.h5");
    // root object header at 0x60; its first message (at 0x70) is a
    // continuation whose address/length fields sit at 0x78/0x80
    assert_eq!(&bytes[0x70..0x74], &[0x10, 0, 0x10, 0]);
    bytes[0x78..0x80].copy_from_slice(&0x70u64.to_le_bytes());
    bytes[0x80..0x88].copy_from_slice(&0x18u64.to_le_bytes());
    let f = File::from_bytes(bytes).unwrap();
    match f.root().unwrap_err().root_cause() {
        Hdf5Error::Corrupt { what } => assert!(what.contains("cycle"), "{what}"),
        e => panic!("{e:?}"),
    }
}
