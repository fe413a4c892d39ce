//! The `lstm-lrp` binary end to end: golden cases through the CLI, and one clear error line with
//! a non-zero exit code for every bad file or setting.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lrp_conformance::compare::assert_close;
use lrp_conformance::golden;
use lrp_import::formats::safetensors::{float_array, int_array, parse};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lstm-lrp-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("run lstm-lrp")
}

fn golden_path(name: &str) -> String {
    golden::fixtures_dir()
        .join("golden")
        .join(format!("{name}.safetensors"))
        .display()
        .to_string()
}

/// The CLI reproduces a golden case when given the case file as both model and input.
fn check_case(name: &str, extra: &[&str]) {
    let case = golden::load(Path::new(&golden_path(name)));
    let out = tmp(&format!("{name}.out.safetensors"));
    let eps = case.config.eps.to_string();
    let bf = case.config.bias_factor.to_string();
    let path = golden_path(name);
    let mut args = vec![
        "explain",
        "--model",
        &path,
        "--input",
        &path,
        "--output",
        out.to_str().unwrap(),
        "--eps",
        &eps,
        "--bias-factor",
        &bf,
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(
        o.status.success(),
        "{name}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let bytes = std::fs::read(&out).unwrap();
    let st = parse(&bytes).unwrap();
    let rel = float_array(&st, "relevance").unwrap();
    assert_eq!(rel.shape, case.x.shape);
    assert_close(
        &format!("{name} relevance"),
        &rel.data,
        &case.relevance,
        1e-9,
    );
    assert_close(
        &format!("{name} rest"),
        &float_array(&st, "rest").unwrap().data,
        &case.rest,
        1e-9,
    );
    assert_close(
        &format!("{name} logits"),
        &float_array(&st, "logits").unwrap().data,
        &case.logits,
        1e-9,
    );
    assert_eq!(
        int_array(&st, "target").unwrap().data,
        case.target,
        "{name} target"
    );
}

#[test]
fn golden_cases_through_the_cli() {
    check_case("tiny", &[]);
    check_case("conservation", &["--batch-size", "3"]);
    check_case("dense_bias_eps0_bf1", &["--device", "flex"]);
    // Targets from a file (the case's own `target` tensor).
    check_case(
        "explicit_target",
        &["--target", &golden_path("explicit_target")],
    );
}

#[test]
fn prints_per_step_relevance() {
    let o = run(&[
        "explain",
        "--model",
        "examples/data/keras2_sentiment_bilstm.safetensors",
        "--input",
        "examples/data/random_embeddings.safetensors",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("sample 3: class"), "{stdout}");
    assert!(stdout.contains("t8 "), "{stdout}");
}

/// Runs a failing command and returns its single stderr line.
fn error_line(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "expected failure for {args:?}");
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one error line expected, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

#[test]
fn bad_files_and_settings_get_one_clear_line() {
    let tiny = golden_path("tiny");
    let missing = error_line(&["explain", "--model", "nope.safetensors", "--input", &tiny]);
    assert!(
        missing.contains("nope.safetensors") && missing.contains("No such file"),
        "{missing}"
    );

    let garbage = tmp("garbage.bin");
    std::fs::write(&garbage, b"definitely not a model").unwrap();
    let g = garbage.to_str().unwrap();
    let line = error_line(&["explain", "--model", g, "--input", &tiny]);
    assert!(
        line.contains("garbage.bin") && line.contains("safetensors"),
        "{line}"
    );
    let line = error_line(&["explain", "--model", &tiny, "--input", g]);
    assert!(line.contains("garbage.bin"), "{line}");

    // Input of the wrong feature size: the conservation case has E = 6, tiny has E = 4.
    let line = error_line(&[
        "explain",
        "--model",
        &tiny,
        "--input",
        &golden_path("conservation"),
    ]);
    assert!(
        line.contains("6 features") && line.contains("expects 4"),
        "{line}"
    );

    let line = error_line(&["explain", "--model", &tiny, "--input", &tiny, "--eps", "-1"]);
    assert!(line.contains("eps"), "{line}");
    let line = error_line(&[
        "explain", "--model", &tiny, "--input", &tiny, "--target", "7",
    ]);
    assert!(line.contains("target class 7"), "{line}");
    let line = error_line(&[
        "explain", "--model", &tiny, "--input", &tiny, "--target", "bogus",
    ]);
    assert!(line.contains("--target"), "{line}");
    let line = error_line(&[
        "explain", "--model", &tiny, "--input", &tiny, "--device", "tpu",
    ]);
    assert!(line.contains("unknown device `tpu`"), "{line}");

    // A model file without the Dense layer.
    let tiny_bytes = std::fs::read(&tiny).unwrap();
    let st = parse(&tiny_bytes).unwrap();
    let partial: Vec<(&str, lrp_import::formats::safetensors::OutTensor)> = ["w_x", "w_h", "b"]
        .iter()
        .map(|n| {
            (
                *n,
                lrp_import::formats::safetensors::OutTensor::F64(float_array(&st, n).unwrap()),
            )
        })
        .collect();
    let partial_path = tmp("partial.safetensors");
    std::fs::write(
        &partial_path,
        lrp_import::formats::safetensors::serialize(&partial, None).unwrap(),
    )
    .unwrap();
    let line = error_line(&[
        "explain",
        "--model",
        partial_path.to_str().unwrap(),
        "--input",
        &tiny,
    ]);
    assert!(line.contains("missing tensor `w_dense`"), "{line}");

    // NaN in the input names the sample.
    let mut x = float_array(&st, "x").unwrap();
    x.data[25] = f64::NAN; // sample 1 (T·E = 20 values per sample)
    let nan_path = tmp("nan.npy");
    std::fs::write(
        &nan_path,
        lrp_import::formats::npy::write_f64(&x.shape, &x.data),
    )
    .unwrap();
    let line = error_line(&[
        "explain",
        "--model",
        &tiny,
        "--input",
        nan_path.to_str().unwrap(),
    ]);
    assert!(
        line.contains("sample 1") && line.contains("non-finite"),
        "{line}"
    );
}

fn fixture(rel: &str) -> String {
    golden::fixtures_dir().join(rel).display().to_string()
}

#[test]
fn inspect_reports_architecture_and_conversions() {
    let o = run(&[
        "inspect",
        "--model",
        &fixture("pytorch/p1_bilstm_linear.legacy.pt"),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(s.contains("bidirectional LSTM (concat), 16 → 12"), "{s}");
    assert!(s.contains("bias_ih + bias_hh summed"), "{s}");
    let o = run(&[
        "inspect",
        "--model",
        &fixture("keras3/b_lstm_softmax.keras"),
    ]);
    let s = String::from_utf8_lossy(&o.stdout);
    assert!(
        s.contains("Keras 3 .keras") && s.contains("softmax (skipped"),
        "{s}"
    );
}

#[test]
fn explains_keras_and_pytorch_files_and_token_input() {
    let out = tmp("c.safetensors");
    // Token ids with an explicit mask from the io file (Keras model c: Embedding(mask_zero)).
    let o = run(&[
        "explain",
        "--model",
        &fixture("keras3/c_embed_bilstmseq_lstm.keras"),
        "--input",
        &fixture("keras3/c_embed_bilstmseq_lstm.io.safetensors"),
        "--output",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    let st = parse(&bytes).unwrap();
    let steps = float_array(&st, "step_relevance").unwrap();
    assert_eq!(steps.shape, vec![5, 9]);
    let tokens = int_array(&st, "tokens").unwrap();
    assert_eq!(tokens.shape, vec![5, 9]);
    // Sample 4 has a single real step (length 1): all other steps hold exactly 0.
    assert!(
        steps.data[4 * 9 + 1..5 * 9].iter().all(|v| *v == 0.0),
        "{:?}",
        &steps.data[36..45]
    );

    // JSON lines of token ids, of different lengths, for the PyTorch p2 model.
    let jsonl = tmp("ids.jsonl");
    std::fs::write(&jsonl, "[3, 7, 9, 12]\n[5, 1]\n\n[8, 8, 8, 8, 8, 2]\n").unwrap();
    let out2 = tmp("p2.safetensors");
    let o = run(&[
        "explain",
        "--model",
        &fixture("pytorch/p2_embed_2layer_bilstm_packed.safetensors"),
        "--input",
        jsonl.to_str().unwrap(),
        "--output",
        out2.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out2).unwrap();
    let st = parse(&bytes).unwrap();
    let steps = float_array(&st, "step_relevance").unwrap();
    assert_eq!(steps.shape, vec![3, 6]);
    // Post-padding: row 0 has 4 real steps, row 1 has 2 (T = 6).
    assert!(
        steps.data[4..6]
            .iter()
            .chain(&steps.data[6 + 2..12])
            .all(|v| *v == 0.0)
    );
    assert!(steps.data[12..18].iter().all(|v| *v != 0.0));
}

#[test]
fn input_kind_and_broken_model_files_get_one_line() {
    let line = error_line(&[
        "explain",
        "--model",
        &fixture("keras3/c_embed_bilstmseq_lstm.keras"),
        "--input",
        &golden_path("tiny"),
    ]);
    assert!(line.contains("token ids"), "{line}");
    let line = error_line(&[
        "explain",
        "--model",
        &fixture("pytorch/p1_bilstm_linear.full_module.pt"),
        "--input",
        &golden_path("tiny"),
    ]);
    assert!(
        line.contains("lstm_classifier.LSTMClassifier") && line.contains("state_dict"),
        "{line}"
    );
    let truncated = tmp("cut.keras");
    let bytes = std::fs::read(fixture("keras3/a_bilstm_dense.keras")).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let line = error_line(&["inspect", "--model", truncated.to_str().unwrap()]);
    assert!(line.contains("cut.keras"), "{line}");
    let line = error_line(&[
        "inspect",
        "--model",
        &fixture("pytorch/p1_bilstm_linear.safetensors"),
        "--head",
        "fc:softplus",
    ]);
    assert!(line.contains("softplus"), "{line}");
}
