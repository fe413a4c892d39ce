//! The PyTorch fixtures of the lstm-lrp project against their safetensors twins: the zip and
//! legacy `torch.save` files give the same tensors bit for bit, through `read_state_dict` and
//! through `read_model`.

mod common;
#[path = "pytorch_common/mod.rs"]
mod torch_common;

use common::TempDir;
use lrp_import::formats::torch::{TorchError, read_checkpoint, read_state_dict};
use lrp_import::sniff::{FileKind, read_prefix, sniff};
use lrp_import::{ImportError, LoadOptions, ModelFormat, detect_format, read_model};
use torch_common::{Tensors, fixture, fixture_path, get, names, read_safetensors};

const P1: &[&str] = &[
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

const P2: &[&str] = &[
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

const P3: &[&str] = &[
    "lstm.weight_ih_l0",
    "lstm.weight_hh_l0",
    "lstm.bias_ih_l0",
    "lstm.bias_hh_l0",
    "fc.weight",
    "fc.bias",
];

fn read(name: &str) -> Tensors {
    read_state_dict(fixture_path(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The names (sorted, as `read_state_dict` returns them), shapes, and every value bit for bit.
fn assert_matches_twin(sd: &Tensors, twin: &str, expected: &[&str]) {
    let st = read_safetensors(&fixture(twin));
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(names(sd), want, "{twin}: names");
    assert_eq!(st.len(), sd.len(), "{twin}: tensor count");
    for (name, t) in sd {
        let s = st
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing in {twin}"));
        assert_eq!(s.dtype, "F32", "{name}");
        assert_eq!(t.shape, s.shape, "{name}: shape");
        assert_eq!(t.data.len(), s.shape.iter().product::<usize>(), "{name}");
        assert_eq!(t.data.len() * 4, s.bytes.len(), "{name}");
        for (i, (v, b)) in t.data.iter().zip(s.bytes.chunks_exact(4)).enumerate() {
            let want = f32::from_le_bytes(b.try_into().unwrap());
            assert_eq!((*v as f32).to_bits(), want.to_bits(), "{name}[{i}]");
            assert_eq!(*v, f64::from(want), "{name}[{i}]");
        }
    }
}

#[test]
fn p1_zip_matches_safetensors() {
    let sd = read("p1_bilstm_linear.state_dict.pt");
    assert_matches_twin(&sd, "p1_bilstm_linear.safetensors", P1);
    assert_eq!(get(&sd, "lstm.weight_ih_l0").shape, vec![48, 16]);
    assert_eq!(get(&sd, "fc.bias").shape, vec![3]);
}

#[test]
fn p2_zip_matches_safetensors() {
    let sd = read("p2_embed_2layer_bilstm_packed.state_dict.pt");
    assert_matches_twin(&sd, "p2_embed_2layer_bilstm_packed.safetensors", P2);
    let emb = get(&sd, "embedding.weight");
    assert_eq!(emb.shape, vec![50, 8]);
    // padding_idx = 0: row 0 is zero, the others are not.
    assert!(emb.data[..8].iter().all(|&v| v == 0.0));
    assert!(emb.data[8..16].iter().any(|&v| v != 0.0));
    assert_eq!(get(&sd, "lstm.weight_ih_l1").shape, vec![40, 20]);
}

#[test]
fn p3_zip_matches_safetensors() {
    let sd = read("p3_lstm_timemajor.state_dict.pt");
    assert_matches_twin(&sd, "p3_lstm_timemajor.safetensors", P3);
}

#[test]
fn p1_legacy_matches_safetensors_and_zip() {
    let legacy = read("p1_bilstm_linear.legacy.pt");
    assert_matches_twin(&legacy, "p1_bilstm_linear.safetensors", P1);
    assert_eq!(legacy, read("p1_bilstm_linear.state_dict.pt"));
}

#[test]
fn read_model_gives_the_same_model_from_pt_and_safetensors() {
    for stem in [
        "p1_bilstm_linear",
        "p2_embed_2layer_bilstm_packed",
        "p3_lstm_timemajor",
    ] {
        let st = read_model(
            fixture_path(&format!("{stem}.safetensors")),
            &LoadOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{stem}.safetensors: {e}"));
        let pt = read_model(
            fixture_path(&format!("{stem}.state_dict.pt")),
            &LoadOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{stem}.state_dict.pt: {e}"));
        assert_eq!(pt.params, st.params, "{stem}");
        assert!(
            pt.report.format.contains("torch.save"),
            "{}",
            pt.report.format
        );
        // Forced to the format, the same.
        let forced = LoadOptions {
            format: Some(ModelFormat::TorchPt),
            ..LoadOptions::default()
        };
        let pt = read_model(fixture_path(&format!("{stem}.state_dict.pt")), &forced).unwrap();
        assert_eq!(pt.params, st.params, "{stem} forced");
    }
    let legacy = read_model(
        fixture_path("p1_bilstm_linear.legacy.pt"),
        &LoadOptions::default(),
    )
    .unwrap();
    let st = read_model(
        fixture_path("p1_bilstm_linear.safetensors"),
        &LoadOptions::default(),
    )
    .unwrap();
    assert_eq!(legacy.params, st.params);
}

#[test]
fn full_module_is_refused_naming_its_class() {
    let err = read_state_dict(fixture_path("p1_bilstm_linear.full_module.pt")).unwrap_err();
    assert!(
        matches!(&err, TorchError::NotAStateDict { class } if class == "lstm_classifier.LSTMClassifier"),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains("lstm_classifier.LSTMClassifier"), "{msg}");
    assert!(msg.contains("pickled"), "{msg}");
    assert!(
        msg.contains("torch.save(model.state_dict(), path)"),
        "{msg}"
    );
    // The same through read_model: the typed error as the source.
    let err = read_model(
        fixture_path("p1_bilstm_linear.full_module.pt"),
        &LoadOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, ImportError::Torch(TorchError::NotAStateDict { class }) if class == "lstm_classifier.LSTMClassifier"),
        "{err:?}"
    );
}

#[test]
fn torch_files_are_recognised_from_their_content() {
    for (f, kind) in [
        ("p1_bilstm_linear.state_dict.pt", FileKind::Zip),
        ("p1_bilstm_linear.legacy.pt", FileKind::TorchLegacy),
        ("p1_bilstm_linear.full_module.pt", FileKind::Zip),
        ("p2_embed_2layer_bilstm_packed.state_dict.pt", FileKind::Zip),
        ("p3_lstm_timemajor.state_dict.pt", FileKind::Zip),
    ] {
        let bytes = fixture(f);
        let prefix = read_prefix(&mut &bytes[..]).unwrap();
        assert_eq!(sniff(&prefix, Some(bytes.len() as u64)), kind, "{f}");
        assert_eq!(
            detect_format(fixture_path(f)).unwrap(),
            ModelFormat::TorchPt,
            "{f}"
        );
    }
    // Other files handed to the checkpoint reader: its typed error, no tensors.
    let tmp = TempDir::new("torch-not-a-checkpoint");
    for f in [
        "p1_bilstm_linear.safetensors",
        "p3_lstm_timemajor.io.safetensors",
    ] {
        let err = read_state_dict(fixture_path(f)).unwrap_err();
        assert!(matches!(err, TorchError::Reader(_)), "{f}: {err:?}");
    }
    for bytes in [&b""[..], b"PK\x03\x04", b"not a checkpoint at all"] {
        let path = tmp.file("pt", bytes);
        let err = read_state_dict(&path).unwrap_err();
        assert!(
            matches!(err, TorchError::Reader(_) | TorchError::Zip(_)),
            "{bytes:?}: {err:?}"
        );
    }
    let absent = tmp.path().join("absent.pt");
    assert!(matches!(read_state_dict(&absent), Err(TorchError::Io(_))));
}

/// A training checkpoint (`round3/c1`: the model's and Adam's state dicts side by side):
/// `read_checkpoint` leaves out exactly the optimizer's 30 tensors, which `read_state_dict`
/// reads; an optimizer state alone and a TorchScript module are refused as what they are.
#[test]
fn read_checkpoint_skips_exactly_the_optimizer_state() {
    let path = fixture_path("round3/c1_checkpoint_adam.pt");
    let all = read_state_dict(&path).unwrap();
    let checkpoint = read_checkpoint(&path).unwrap();
    assert_eq!(
        checkpoint.optimizer_states,
        vec![("optimizer_state_dict".to_string(), 30)]
    );
    let model: Vec<&str> = checkpoint.tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert!(
        model.len() == 10 && model.iter().all(|n| n.starts_with("model_state_dict.")),
        "{model:?}"
    );
    let optimizer: Vec<&(String, _)> = all
        .iter()
        .filter(|(n, _)| !model.contains(&n.as_str()))
        .collect();
    assert_eq!(optimizer.len(), 30);
    assert!(
        optimizer
            .iter()
            .all(|(n, _)| n.starts_with("optimizer_state_dict.state.")),
        "{optimizer:?}"
    );
    // The model's tensors are the same values either way.
    for (name, tensor) in &checkpoint.tensors {
        let twin = &all.iter().find(|(n, _)| n == name).unwrap().1;
        assert_eq!(
            (&tensor.shape, &tensor.data),
            (&twin.shape, &twin.data),
            "{name}"
        );
    }

    let only = fixture_path("round3/c5_optimizer_only.pt");
    assert!(matches!(
        read_checkpoint(&only),
        Err(TorchError::OptimizerState)
    ));
    assert!(!read_state_dict(&only).unwrap().is_empty());
    match read_checkpoint(fixture_path("round3/c4_torchscript.pt")) {
        Err(TorchError::TorchScript { class }) => assert_eq!(class, "__torch__.Classifier"),
        other => panic!("{other:?}"),
    }
}

/// The tensors outside every state dict of a checkpoint: none in a training checkpoint whose
/// other entries hold no tensors, a Lightning checkpoint's five callback scores (0-d tensors,
/// one of them in a dict of tensors only, `best_k_models`), and every tensor of a flat dict
/// that mixes tensors with other values.
#[test]
fn loose_tensors_are_those_in_no_state_dict() {
    let c1 = read_checkpoint(fixture_path("round3/c1_checkpoint_adam.pt")).unwrap();
    assert!(c1.loose.is_empty(), "{:?}", c1.loose);
    let c6 = read_checkpoint(fixture_path("round3/c6_lightning.ckpt")).unwrap();
    assert_eq!(c6.loose.len(), 5, "{:?}", c6.loose);
    assert!(
        c6.loose.iter().all(|n| n.starts_with("callbacks.")
            && [
                "best_score",
                "best_model_score",
                "current_score",
                "kth_value",
                ".ckpt"
            ]
            .iter()
            .any(|end| n.ends_with(end))),
        "{:?}",
        c6.loose
    );
    assert!(
        c6.tensors
            .iter()
            .any(|(n, _)| n == "state_dict.model.lstm.weight_ih_l0")
    );

    // c8, {"rnn.weight_ih_l0": …, …, "epoch": 3, "best_acc": tensor(0.75)}: the root mixes
    // tensors and an int, so it is no state dict and every tensor is loose.
    let c8 = read_checkpoint(fixture_path("round3/c8_flat_mixed.pt")).unwrap();
    let all: Vec<&str> = c8.tensors.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(c8.loose, all);
    assert!(
        all.contains(&"best_acc") && all.contains(&"rnn.weight_ih_l0"),
        "{all:?}"
    );
}

#[test]
fn objects_beside_the_state_dict_are_listed_by_name() {
    // c7: Lightning's `hyper_parameters` hold a dataclass and an argparse.Namespace.
    let c7 = read_checkpoint(fixture_path("round3/c7_lightning_hparam_objects.ckpt")).unwrap();
    let objects: Vec<(&str, &str)> = c7
        .objects
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        objects,
        [
            ("hyper_parameters.args", "argparse.Namespace"),
            ("hyper_parameters.config", "__main__.Config"),
        ]
    );
    // c10: numpy scalars and a torch.device are objects too (the set reads as a list).
    let c10 = read_checkpoint(fixture_path("round3/c10_numpy_scalars_device_set.pt")).unwrap();
    let names: Vec<&str> = c10.objects.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["best_acc", "device", "lr"]);
    assert!(
        c10.tensors
            .iter()
            .any(|(n, _)| n == "state_dict.rnn.weight_ih_l0")
    );
    // A plain state dict has none.
    let c1 = read_checkpoint(fixture_path("round3/c1_checkpoint_adam.pt")).unwrap();
    assert!(c1.objects.is_empty(), "{:?}", c1.objects);
    // c9: a whole module beside its configuration is still refused, by the module's class.
    match read_checkpoint(fixture_path("round3/c9_module_with_config.pt")) {
        Err(TorchError::NotAStateDict { class }) => assert_eq!(class, "__main__.Classifier"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_state_dict_whose_first_entry_header_matches_the_zip64_records_is_read() {
    // `c11_21_character_stem/data.pkl`: its central header (46 + 30 bytes) is as long as the
    // ZIP64 end record and locator (56 + 20 bytes) torch.save writes before the end record.
    let path = fixture_path("round3/c11_21_character_stem.pt");
    let zip_default = zip::ZipArchive::new(std::fs::File::open(&path).unwrap());
    assert!(
        zip_default.is_err(),
        "zip's own detection of the archive's start now reads this file: \
         formats/torch/zip_repair.rs and formats::zip::AT_START may go"
    );
    let tensors = read_state_dict(&path).unwrap();
    assert_eq!(tensors.len(), 10);
    assert!(tensors.iter().any(|(n, _)| n == "rnn.weight_hh_l0_reverse"));
    let imported = read_model(&path, &LoadOptions::default()).unwrap();
    assert!(
        imported.report.notes.is_empty(),
        "{:?}",
        imported.report.notes
    );
}

#[test]
fn a_quantized_state_dict_is_refused_as_such() {
    match read_checkpoint(fixture_path("round4/q1_quantized_dynamic.pt")) {
        Err(TorchError::Quantized { global }) => {
            assert_eq!(global, "torch._utils._rebuild_qtensor")
        }
        other => panic!("{other:?}"),
    }
}
