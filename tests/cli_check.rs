//! `lstm-lrp check`: imports agree with the frameworks' recorded outputs, explanations conserve,
//! and a disagreement is a non-zero exit with one line saying what to do.

use std::process::{Command, Output};

fn check(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("check")
        .args(args)
        .output()
        .expect("run lstm-lrp")
}

#[test]
fn every_framework_fixture_passes() {
    for (model, reference, extra) in [
        (
            "fixtures/keras3/a_bilstm_dense.keras",
            "fixtures/keras3/a_bilstm_dense.io.safetensors",
            None,
        ),
        (
            "fixtures/keras3/b_lstm_softmax.keras",
            "fixtures/keras3/b_lstm_softmax.io.safetensors",
            None,
        ),
        // The post-softmax output: check applies the model's final softmax first.
        (
            "fixtures/keras3/b_lstm_softmax.keras",
            "fixtures/keras3/b_lstm_softmax.io.safetensors",
            Some("output"),
        ),
        (
            "fixtures/keras3/c_embed_bilstmseq_lstm.keras",
            "fixtures/keras3/c_embed_bilstmseq_lstm.io.safetensors",
            None,
        ),
        (
            "fixtures/keras3/d_masking_bilstm_sum_mlp.h5",
            "fixtures/keras3/d_masking_bilstm_sum_mlp.io.safetensors",
            None,
        ),
        (
            "fixtures/pytorch/p1_bilstm_linear.state_dict.pt",
            "fixtures/pytorch/p1_bilstm_linear.io.safetensors",
            None,
        ),
        (
            "fixtures/pytorch/p2_embed_2layer_bilstm_packed.safetensors",
            "fixtures/pytorch/p2_embed_2layer_bilstm_packed.io.safetensors",
            None,
        ),
    ] {
        let mut args = vec!["--model", model, "--reference", reference];
        if let Some(name) = extra {
            args.extend(["--output-name", name]);
        }
        let o = check(&args);
        let stdout = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{model}: {stdout}{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(
            stdout.contains("conservation") && stdout.trim_end().ends_with("ok"),
            "{stdout}"
        );
    }
}

#[test]
fn a_disagreement_fails_with_one_line() {
    let o = check(&[
        "--model",
        "fixtures/keras3/a_bilstm_dense.keras",
        "--reference",
        "fixtures/keras3/a_bilstm_dense.io.safetensors",
        "--tolerance",
        "1e-12",
    ]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("differs") && err.contains("inspect"), "{err}");
    // A reference for another model: the shapes do not fit.
    let o = check(&[
        "--model",
        "fixtures/pytorch/p1_bilstm_linear.safetensors",
        "--reference",
        "fixtures/pytorch/p3_lstm_timemajor.io.safetensors",
    ]);
    assert!(!o.status.success());
    // The note on the assumed readout of a state dict comes first; the error is one line.
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        err.lines().filter(|l| !l.starts_with("note: ")).count(),
        1,
        "{err}"
    );
}
