//! The PyTorch fixtures of the lstm-lrp project against their safetensors twins.

#[path = "pytorch_common/mod.rs"]
mod common;

use common::{fixture, read_safetensors};
use lrp_import::pytorch::{DType, PtError, StateDict, is_torch_file, read_state_dict};

const P1_ORDER: &[&str] = &[
    "lstm.weight_ih_l0",
    "lstm.weight_hh_l0",
    "lstm.bias_ih_l0",
    "lstm.bias_hh_l0",
    "lstm.weight_ih_l0_reverse",
    "lstm.weight_hh_l0_reverse",
    "lstm.bias_ih_l0_reverse",
    "lstm.bias_hh_l0_reverse",
    "fc.weight",
    "fc.bias",
];

const P2_ORDER: &[&str] = &[
    "embedding.weight",
    "lstm.weight_ih_l0",
    "lstm.weight_hh_l0",
    "lstm.bias_ih_l0",
    "lstm.bias_hh_l0",
    "lstm.weight_ih_l0_reverse",
    "lstm.weight_hh_l0_reverse",
    "lstm.bias_ih_l0_reverse",
    "lstm.bias_hh_l0_reverse",
    "lstm.weight_ih_l1",
    "lstm.weight_hh_l1",
    "lstm.bias_ih_l1",
    "lstm.bias_hh_l1",
    "lstm.weight_ih_l1_reverse",
    "lstm.weight_hh_l1_reverse",
    "lstm.bias_ih_l1_reverse",
    "lstm.bias_hh_l1_reverse",
    "fc.weight",
    "fc.bias",
];

const P3_ORDER: &[&str] = &[
    "lstm.weight_ih_l0",
    "lstm.weight_hh_l0",
    "lstm.bias_ih_l0",
    "lstm.bias_hh_l0",
    "fc.weight",
    "fc.bias",
];

/// Names in order, shapes, dtype F32 and every value bit for bit.
fn assert_matches_twin(sd: &StateDict, twin: &str, order: &[&str]) {
    let st = read_safetensors(&fixture(twin));
    let names: Vec<&str> = sd.names().collect();
    assert_eq!(names, order, "{twin}: names/order");
    assert_eq!(st.len(), sd.len(), "{twin}: tensor count");
    for (name, t) in &sd.tensors {
        let s = st
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing in {twin}"));
        assert_eq!(s.dtype, "F32", "{name}");
        assert_eq!(t.dtype, DType::F32, "{name}");
        assert_eq!(t.shape, s.shape, "{name}: shape");
        assert_eq!(t.data.len(), s.shape.iter().product::<usize>(), "{name}");
        assert_eq!(t.numel() * 4, s.bytes.len(), "{name}");
        for (i, (v, b)) in t.data.iter().zip(s.bytes.chunks_exact(4)).enumerate() {
            let want = f32::from_le_bytes(b.try_into().unwrap());
            assert_eq!((*v as f32).to_bits(), want.to_bits(), "{name}[{i}]");
            assert_eq!(*v, f64::from(want), "{name}[{i}]");
        }
    }
}

#[test]
fn p1_zip_matches_safetensors() {
    let sd = read_state_dict(&fixture("p1_bilstm_linear.state_dict.pt")).expect("p1");
    assert_matches_twin(&sd, "p1_bilstm_linear.safetensors", P1_ORDER);
    assert_eq!(sd.get("lstm.weight_ih_l0").unwrap().shape, vec![48, 16]);
    assert_eq!(sd.get("fc.bias").unwrap().shape, vec![3]);
}

#[test]
fn p2_zip_matches_safetensors() {
    let sd = read_state_dict(&fixture("p2_embed_2layer_bilstm_packed.state_dict.pt")).expect("p2");
    assert_matches_twin(&sd, "p2_embed_2layer_bilstm_packed.safetensors", P2_ORDER);
    let emb = sd.get("embedding.weight").unwrap();
    assert_eq!(emb.shape, vec![50, 8]);
    // padding_idx = 0: row 0 is zero, the others are not.
    assert!(emb.data[..8].iter().all(|&v| v == 0.0));
    assert!(emb.data[8..16].iter().any(|&v| v != 0.0));
    assert_eq!(sd.get("lstm.weight_ih_l1").unwrap().shape, vec![40, 20]);
}

#[test]
fn p3_zip_matches_safetensors() {
    let sd = read_state_dict(&fixture("p3_lstm_timemajor.state_dict.pt")).expect("p3");
    assert_matches_twin(&sd, "p3_lstm_timemajor.safetensors", P3_ORDER);
}

#[test]
fn p1_legacy_matches_safetensors_and_zip() {
    let legacy = read_state_dict(&fixture("p1_bilstm_linear.legacy.pt")).expect("legacy");
    assert_matches_twin(&legacy, "p1_bilstm_linear.safetensors", P1_ORDER);
    let zip = read_state_dict(&fixture("p1_bilstm_linear.state_dict.pt")).expect("zip");
    assert_eq!(legacy, zip);
}

#[test]
fn full_module_is_refused_at_its_class() {
    let err = read_state_dict(&fixture("p1_bilstm_linear.full_module.pt")).unwrap_err();
    assert_eq!(
        err,
        PtError::ForbiddenGlobal {
            module: "lstm_classifier".into(),
            name: "LSTMClassifier".into()
        }
    );
    let msg = err.to_string();
    assert!(msg.contains("lstm_classifier.LSTMClassifier"), "{msg}");
    assert!(msg.contains("pickled Python object"), "{msg}");
    assert!(
        msg.contains("torch.save(model.state_dict(), path)"),
        "{msg}"
    );
    assert!(msg.contains("safetensors"), "{msg}");
}

#[test]
fn torch_file_detection() {
    for f in [
        "p1_bilstm_linear.state_dict.pt",
        "p1_bilstm_linear.legacy.pt",
        "p1_bilstm_linear.full_module.pt",
        "p2_embed_2layer_bilstm_packed.state_dict.pt",
        "p3_lstm_timemajor.state_dict.pt",
    ] {
        assert!(is_torch_file(&fixture(f)), "{f}");
    }
    for f in [
        "p1_bilstm_linear.safetensors",
        "p3_lstm_timemajor.io.safetensors",
    ] {
        let b = fixture(f);
        assert!(!is_torch_file(&b), "{f}");
        assert_eq!(
            read_state_dict(&b).unwrap_err(),
            PtError::NotTorchFile,
            "{f}"
        );
    }
    assert!(!is_torch_file(b""));
    assert!(!is_torch_file(b"PK\x03\x04"));
    assert_eq!(read_state_dict(b"").unwrap_err(), PtError::NotTorchFile);
}
