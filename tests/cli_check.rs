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

/// Every round-2 model (GRU, go_backwards, pooled readouts, per-step heads, regression) passes
/// from its .keras and .h5 file, and the PyTorch ones with the readout their head uses.
#[test]
fn round_two_fixtures_pass() {
    let keras = [
        "e_lstm_go_backwards",
        "f_stack_go_backwards_seq",
        "g_gru_reset_after",
        "h_embed_mask_bigru_reset_before",
        "i_gru_seq_lstm_masking",
        "j_bilstm_seq_maxpool",
        "k_embed_mask_lstm_seq_avgpool_mlp",
        "l_embed_mask_bilstm_seq_maxpool",
        "m_lstm_seq_bilstm_seq_timedistributed",
        "n_gru_seq_dense3d",
        "o_lstm_regression",
        "p_masking_lstm_seq_timedistributed",
    ];
    for name in keras {
        for ext in ["keras", "h5"] {
            let model = format!("fixtures/keras3/{name}.{ext}");
            let reference = format!("fixtures/keras3/{name}.io.safetensors");
            let o = check(&["--model", &model, "--reference", &reference]);
            assert!(
                o.status.success(),
                "{model}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    let torch = [
        ("p4_gru_linear", None),
        ("p5_embed_bigru_2layer_packed", None),
        ("p6_bilstm_last", Some("last")),
        ("p7_bilstm_meanpool", Some("mean")),
        ("p8_lstm_maxpool", Some("max")),
        ("p9_lstm_per_step", Some("per-step")),
        ("p10_gru_lstm_stack", None),
        ("p11_lstm_regression", None),
    ];
    for (name, readout) in torch {
        for ext in ["state_dict.pt", "safetensors"] {
            let model = format!("fixtures/pytorch/{name}.{ext}");
            let reference = format!("fixtures/pytorch/{name}.io.safetensors");
            let mut args = vec!["--model", &model, "--reference", &reference];
            if let Some(r) = readout {
                args.extend(["--readout", r]);
            }
            let o = check(&args);
            assert!(
                o.status.success(),
                "{model}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
}

/// A state dict checked with the wrong (assumed) readout fails, naming the readout that fits.
#[test]
fn a_readout_mismatch_suggests_the_readout_that_fits() {
    for (name, fits) in [
        ("p6_bilstm_last", "--readout last"),
        ("p7_bilstm_meanpool", "--readout mean"),
        ("p8_lstm_maxpool", "--readout max"),
        ("p9_lstm_per_step", "--readout per-step"),
    ] {
        let model = format!("fixtures/pytorch/{name}.safetensors");
        let reference = format!("fixtures/pytorch/{name}.io.safetensors");
        let o = check(&["--model", &model, "--reference", &reference]);
        assert!(!o.status.success(), "{name}");
        let err = String::from_utf8_lossy(&o.stderr);
        let errors: Vec<&str> = err.lines().filter(|l| l.starts_with("error: ")).collect();
        assert_eq!(errors.len(), 1, "{err}");
        assert!(errors[0].contains(fits), "{name}: {err}");
        // The note says which readout was assumed.
        assert!(err.contains("note: assumed readout `final`"), "{err}");
    }
}

/// Keras' GlobalMaxPooling1D ignores the mask: the padded sequences are left out of the
/// comparison, and the output says so.
#[test]
fn keras_max_pooling_compares_the_unpadded_sequences() {
    let o = check(&[
        "--model",
        "fixtures/keras3/l_embed_mask_bilstm_seq_maxpool.keras",
        "--reference",
        "fixtures/keras3/l_embed_mask_bilstm_seq_maxpool.io.safetensors",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("5 padded sample(s) not compared"), "{out}");
    assert!(out.contains("forward: 1 samples"), "{out}");
}

/// Round 3 (`fixtures/keras3/round3/`): GRU with go_backwards and reset_after=False, a summed
/// bidirectional GRU into average pooling, an `ave`-merged BiLSTM per step under an Embedding
/// mask, a functional `Masking` (whose mask Keras 3 serialises as `NotEqual` + `Any`
/// pseudo-layers) into a go_backwards LSTM, a GRU, max pooling and an MLP, and a GRU stack with a
/// regression head — each from its `.keras` and its `.h5`, against Keras' own outputs.
#[test]
fn round3_keras_fixtures_pass() {
    for stem in [
        "u1_gru_backwards_reset_before",
        "u2_bigru_sum_avgpool",
        "u3_embed_bilstm_ave_timedistributed",
        "u4_mask_lstm_back_gru_maxpool_mlp",
        "u5_gru_seq_bigru_before_regression",
    ] {
        passes_from_keras_and_h5("fixtures/keras3/round3", stem);
    }
}

/// `check` of `model` against `reference` passes; returns its stdout.
fn passes(model: &str, reference: &str) -> String {
    let out = check(&["--model", model, "--reference", reference]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && stdout.trim_end().ends_with("ok"),
        "{model}: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `check` of `model` against `reference` fails, and its stderr contains `expected`.
fn refused_with(model: &str, reference: &str, expected: &str) {
    let out = check(&["--model", model, "--reference", reference]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{model} was accepted");
    assert!(stderr.contains(expected), "{model}: {stderr}");
}

/// `check` of `dir/stem.keras` and `dir/stem.h5` against `dir/stem.io.safetensors` passes;
/// returns the two runs' stdout.
fn passes_from_keras_and_h5(dir: &str, stem: &str) -> Vec<String> {
    ["keras", "h5"]
        .iter()
        .map(|ext| {
            passes(
                &format!("{dir}/{stem}.{ext}"),
                &format!("{dir}/{stem}.io.safetensors"),
            )
        })
        .collect()
}

/// Round 4 (`fixtures/keras3/round4/`): standalone `Activation`, `ReLU` and `Softmax` layers after
/// Dense layers (hidden and last, a per-step head, a linear one skipped) read as those layers'
/// activations, and `BatchNormalization` (with and without β or γ, twice in one head, in a
/// per-step head) folded into the Dense layer before it — each from its `.keras` and its `.h5`,
/// against Keras' own outputs — and the layers lstm-lrp cannot explain refused by name.
#[test]
fn round4_head_layers_match_keras_or_are_refused_by_name() {
    for stem in [
        "v1_bilstm_dense_activation_relu_softmax",
        "v2_gru_relu_layer_softmax_layer",
        "v3_lstm_activation_tanh_sigmoid",
        "v4_lstm_per_step_softmax",
        "v5_lstm_linear_activation",
        "v6_lstm_dense_batchnorm_relu",
        "v7_bigru_batchnorm_variants",
        "v8_per_step_batchnorm",
    ] {
        for stdout in passes_from_keras_and_h5("fixtures/keras3/round4", stem) {
            assert!(stdout.contains("forward: 4 samples"), "{stem}: {stdout}");
        }
    }
    for (stem, expected) in [
        (
            "x1_activation_after_lstm",
            "layer `activation` (Activation): `relu` is only supported after a Dense layer",
        ),
        (
            "x2_activation_after_activated_dense",
            "layer `activation` (Activation): `relu` after a Dense layer that has its own",
        ),
        (
            "x3_relu_max_value",
            "layer `re_lu` (ReLU): only ReLU() with its defaults",
        ),
        (
            "x4_activation_elu",
            "layer `activation` (Activation): activation `elu`",
        ),
        (
            "x5_batchnorm_after_lstm",
            "layer `batch_normalization` (BatchNormalization): only supported after a Dense layer",
        ),
        (
            "x6_batchnorm_after_relu",
            "layer `batch_normalization` (BatchNormalization) after a Dense layer's Relu",
        ),
    ] {
        refused_with(
            &format!("fixtures/keras3/round4/{stem}.keras"),
            "fixtures/keras3/round4/v5_lstm_linear_activation.io.safetensors",
            expected,
        );
    }
}

/// Round 5 (`fixtures/keras3/round5/`): `Flatten` of a final state, a pooled sequence or a Dense
/// output and `Identity` are the identity, each from its `.keras` and its `.h5`, against Keras'
/// own outputs (and `inspect` says it was skipped); `Flatten` of a whole sequence is refused,
/// saying why.
#[test]
fn round5_flatten_of_a_vector_is_read_and_of_a_sequence_refused() {
    let dir = "fixtures/keras3/round5";
    for stem in [
        "y1_lstm_flatten_dense",
        "y2_gru_avgpool_flatten_softmax",
        "y3_bilstm_dense_flatten_dense",
    ] {
        for ext in ["keras", "h5"] {
            passes_with_note(
                dir,
                stem,
                ext,
                Some("(Flatten) skipped: its input is already (batch, features)"),
                "",
            );
        }
    }
    for ext in ["keras", "h5"] {
        passes_with_note(
            dir,
            "y4_gru_identity_dense",
            ext,
            Some("`identity` (Identity) skipped: the identity at inference"),
            "",
        );
    }
    refused_with(
        &format!("{dir}/z1_lstm_sequence_flatten.keras"),
        &format!("{dir}/y1_lstm_flatten_dense.io.safetensors"),
        "layer `flatten` (Flatten): it flattens a sequence",
    );
}

/// `check` of `dir/stem.ext` against `dir/stem.io.safetensors` (4 samples) passes, and `inspect`
/// of it reports `note`, or nothing containing `absent` when there is no note.
fn passes_with_note(dir: &str, stem: &str, ext: &str, note: Option<&str>, absent: &str) {
    let model = format!("{dir}/{stem}.{ext}");
    let stdout = passes(&model, &format!("{dir}/{stem}.io.safetensors"));
    assert!(stdout.contains("forward: 4 samples"), "{model}: {stdout}");
    let inspect = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["inspect", "--model", &model])
        .output()
        .expect("run lstm-lrp");
    let report = String::from_utf8_lossy(&inspect.stdout);
    assert!(inspect.status.success(), "{model}: {report}");
    match note {
        Some(note) => assert!(report.contains(note), "{model}: {report}"),
        None => assert!(!report.contains(absent), "{model}: {report}"),
    }
}

/// PyTorch round 3 (`fixtures/pytorch/round3/`): training checkpoints (plain and Lightning's)
/// are read without their optimizer states, metrics and configuration objects (`inspect` says
/// what it skipped), a bfloat16 state dict with `nn.DataParallel`'s `module.` prefix is read as
/// saved, and so is a state dict whose file stem has 21 characters (zip 9's archive-start
/// detection refuses it), each against PyTorch's own logits; a TorchScript module, an optimizer
/// state alone and a whole module beside its configuration are refused, saying what they are.
#[test]
fn pytorch_round3_checkpoints_match_torch_or_are_refused_by_kind() {
    let dir = "fixtures/pytorch/round3";
    for (stem, skipped) in [
        (
            "c1_checkpoint_adam",
            Some("optimizer state `optimizer_state_dict` (30 tensors) not read"),
        ),
        (
            "c2_checkpoint_sgd_list",
            Some("optimizer state `optimizers.0` (10 tensors) not read"),
        ),
        ("c3_dataparallel_bf16", None),
        // Lightning: the optimizer state in a list, the callbacks' scores as 0-d tensors.
        (
            "c6_lightning",
            Some(
                "optimizer state `optimizer_states.0` (30 tensors) not read: it is not part of \
                 the model\n  5 tensors outside the checkpoint's state dict not read (metrics or \
                 counters, not layers): `callbacks` (5)",
            ),
        ),
        // Lightning's hyperparameters as objects: a dataclass and an argparse.Namespace.
        (
            "c7_lightning_hparam_objects",
            Some(
                "Python objects in the checkpoint not read (values beside the state dict, with \
                 no tensors): `hyper_parameters.args` (argparse.Namespace), \
                 `hyper_parameters.config` (__main__.Config)",
            ),
        ),
        // Values that torch.save pickles as calls: numpy scalars, a torch.device (and a set).
        (
            "c10_numpy_scalars_device_set",
            Some(
                "Python objects in the checkpoint not read (values beside the state dict, with \
                 no tensors): `best_acc` (numpy._core.multiarray.scalar), `device` \
                 (torch.device), `lr` (numpy._core.multiarray.scalar)",
            ),
        ),
        ("c11_21_character_stem", None),
    ] {
        let ext = if stem.contains("lightning") {
            "ckpt"
        } else {
            "pt"
        };
        passes_with_note(dir, stem, ext, skipped, "optimizer state");
    }
    for (stem, expected) in [
        (
            "c4_torchscript",
            "the file is a TorchScript module (`__torch__.Classifier`, saved with torch.jit.save)",
        ),
        (
            "c5_optimizer_only",
            "the file is an optimizer's state dict (keys `state` and `param_groups`",
        ),
        // Nothing is skipped when no state dict holds the model: the score is named.
        (
            "c8_flat_mixed",
            "module `best_acc` (best_acc []: no module lstm-lrp knows) is not on the path found",
        ),
        // The configuration alone would be read; the module is a pickled object.
        (
            "c9_module_with_config",
            "the file holds a pickled `__main__.Classifier`, which a checkpoint of tensors does \
             not (a module saved with torch.save(model)",
        ),
    ] {
        refused_with(
            &format!("{dir}/{stem}.pt"),
            &format!("{dir}/c1_checkpoint_adam.io.safetensors"),
            expected,
        );
    }
}

/// PyTorch round 4 (`fixtures/pytorch/round4/`): weight-normalised weights, in both of PyTorch's
/// APIs, along rows, columns and the whole matrix, and from safetensors too, are folded
/// (`inspect` says which), and
/// float16, shared-storage, non-contiguous, GPU-tagged and `torch.compile`d state dicts are read
/// as saved, each against PyTorch's own logits; spectral norm, in either API, and a quantized
/// model are refused by name.
#[test]
fn pytorch_round4_weight_norm_and_storages_match_torch() {
    let dir = "fixtures/pytorch/round4";
    for (stem, note) in [
        (
            "w1_weight_norm_parametrizations",
            Some(
                "weight norm folded into `fc.weight`, `rnn.weight_hh_l0`, \
                 `rnn.weight_ih_l0_reverse`",
            ),
        ),
        (
            "w2_weight_norm_deprecated",
            Some("weight norm folded into `fc.weight`, `rnn.weight_ih_l1`"),
        ),
        ("s1_float16", None),
        ("s2_shared_storage_views", None),
        ("s3_non_contiguous", None),
        ("s4_cuda_location", None),
        ("s5_torch_compile_prefix", None),
    ] {
        passes_with_note(dir, stem, "pt", note, "weight norm");
    }
    passes_with_note(
        dir,
        "w1_weight_norm_parametrizations",
        "safetensors",
        Some("weight norm folded into `fc.weight`, `rnn.weight_hh_l0`"),
        "",
    );
    for (stem, expected) in [
        (
            "w3_spectral_norm",
            "a parametrization of `fc.weight` other than weight norm",
        ),
        (
            "w4_spectral_norm_deprecated",
            "`fc.weight_orig`, `fc.weight_u`, `fc.weight_v`: spectral norm",
        ),
        (
            "q1_quantized_dynamic",
            "the file holds a quantized model's state dict (`torch._utils._rebuild_qtensor`",
        ),
    ] {
        refused_with(
            &format!("{dir}/{stem}.pt"),
            &format!("{dir}/w1_weight_norm_parametrizations.io.safetensors"),
            expected,
        );
    }
}
