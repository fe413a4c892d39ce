//! Per-step models through `lstm-lrp explain --step`: one output position (K or each sequence's
//! last real step) gives a classifier's arrays; `all` gives every real position, and each of
//! its slices equals the run for that position alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use lrp_import::formats::safetensors::{float_array, int_array, parse};

/// Keras `Masking → LSTM(seq) → TimeDistributed(Dense(3))`: 5 sequences of 8 steps, masked by
/// value; the fourth is pre-padded, the others post-padded.
const MODEL: &str = "fixtures/keras3/p_masking_lstm_seq_timedistributed.keras";
const INPUT: &str = "fixtures/keras3/p_masking_lstm_seq_timedistributed.io.safetensors";
const REAL: [std::ops::Range<usize>; 5] = [0..8, 0..3, 0..5, 4..8, 0..6];

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lstm-lrp-cli-steps-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .arg("explain")
        .args(args)
        .output()
        .expect("run lstm-lrp")
}

/// Keras `LSTM(seq) → Bidirectional(LSTM(seq)) → TimeDistributed(Dense(3))`: 3 unpadded
/// sequences of 6 steps.
const STACK: &str = "fixtures/keras3/m_lstm_seq_bilstm_seq_timedistributed.keras";
const STACK_INPUT: &str = "fixtures/keras3/m_lstm_seq_bilstm_seq_timedistributed.io.safetensors";

fn explain_to(out: &Path, extra: &[&str]) {
    explain_model_to(MODEL, INPUT, out, extra);
}

fn explain_model_to(model: &str, input: &str, out: &Path, extra: &[&str]) {
    let base = [
        "--model", model, "--input", input, "--print", "0", "--output",
    ];
    let o = run(&[&base[..], &[out.to_str().unwrap()][..], extra].concat());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn error_line(args: &[&str]) -> String {
    let o = run(args);
    assert!(!o.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    let errors: Vec<&str> = err.lines().filter(|l| !l.starts_with("note: ")).collect();
    assert_eq!(errors.len(), 1, "one error line expected: {err}");
    errors[0].to_string()
}

struct Arrays {
    relevance: (Vec<usize>, Vec<f64>),
    logits: (Vec<usize>, Vec<f64>),
    rest: Vec<f64>,
    target: Vec<i64>,
    valid: Option<Vec<i64>>,
}

fn read(path: &Path) -> Arrays {
    let bytes = std::fs::read(path).unwrap();
    let file = parse(&bytes).unwrap();
    let f = |n: &str| float_array(&file, n).unwrap();
    let relevance = f("relevance");
    let logits = f("logits");
    Arrays {
        relevance: (relevance.shape, relevance.data),
        logits: (logits.shape, logits.data),
        rest: f("rest").data,
        target: int_array(&file, "target").unwrap().data,
        valid: int_array(&file, "valid").ok().map(|a| a.data),
    }
}

#[test]
fn every_step_equals_each_step_alone() {
    let all_path = tmp("stack-all.safetensors");
    explain_model_to(
        STACK,
        STACK_INPUT,
        &all_path,
        &["--step", "all", "--overwrite"],
    );
    let all = read(&all_path);
    let (b, t, e) = (3, 6, 5);
    assert_eq!(all.relevance.0, [b, t, t, e]);
    assert!(all.valid.expect("a valid mask").iter().all(|v| *v == 1));
    let per_position = t * e;
    for k in 0..t {
        let one_path = tmp(&format!("stack-step{k}.safetensors"));
        let step = k.to_string();
        explain_model_to(
            STACK,
            STACK_INPUT,
            &one_path,
            &["--step", &step, "--overwrite"],
        );
        let one = read(&one_path);
        assert_eq!(one.relevance.0, [b, t, e]);
        for s in 0..b {
            let at = s * t + k;
            let slice = &all.relevance.1[at * per_position..(at + 1) * per_position];
            let alone = &one.relevance.1[s * per_position..(s + 1) * per_position];
            assert_eq!(slice, alone, "sample {s}, position {k}");
            assert_eq!(all.rest[at], one.rest[s]);
            assert_eq!(all.target[at], one.target[s]);
            assert_eq!(
                &all.logits.1[at * 3..at * 3 + 3],
                &one.logits.1[s * 3..s * 3 + 3]
            );
        }
    }
}

#[test]
fn every_step_of_a_padded_batch_leaves_padding_out() {
    let all_path = tmp("all.safetensors");
    explain_to(&all_path, &["--step", "all", "--overwrite"]);
    let all = read(&all_path);
    let (b, t, e) = (5, 8, 5);
    assert_eq!(all.relevance.0, [b, t, t, e]);
    assert_eq!(all.logits.0, [b, t, 3]);
    let valid = all.valid.expect("a valid mask");
    for (s, real) in REAL.iter().enumerate() {
        for k in 0..t {
            assert_eq!(
                valid[s * t + k] == 1,
                real.contains(&k),
                "sample {s} position {k}"
            );
        }
    }
    let per_position = t * e;
    // A position that is padding in some sequence cannot be explained for the whole batch.
    let err = error_line(&["--model", MODEL, "--input", INPUT, "--step", "0"]);
    assert!(err.contains("padding"), "{err}");
    // `last`: each sequence's last real position.
    let last_path = tmp("last.safetensors");
    explain_to(&last_path, &["--step", "last", "--overwrite"]);
    let last = read(&last_path);
    for (s, real) in REAL.iter().enumerate() {
        let at = s * t + real.end - 1;
        let slice = &all.relevance.1[at * per_position..(at + 1) * per_position];
        let want = &last.relevance.1[s * per_position..(s + 1) * per_position];
        // The two runs batch the sequences differently, and a product's rounding may depend on
        // how many rows it has: equal up to f64 rounding, not bit for bit.
        let scale = want.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
        for (i, (a, b)) in slice.iter().zip(want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-12 * scale,
                "sample {s}, value {i}: {a} vs {b}"
            );
        }
        assert_eq!(all.target[at], last.target[s]);
    }
    for (s, real) in REAL.iter().enumerate() {
        // A unidirectional LSTM: inputs after the explained position, and padding, get
        // exactly nothing.
        for k in real.clone() {
            let at = s * t + k;
            let slice = &all.relevance.1[at * per_position..(at + 1) * per_position];
            for i in (0..t).filter(|&i| i > k || !real.contains(&i)) {
                assert!(
                    slice[i * e..(i + 1) * e].iter().all(|v| *v == 0.0),
                    "sample {s}, position {k}, input step {i}"
                );
            }
        }
        // Positions at padding are not explained.
        for k in (0..t).filter(|k| !real.contains(k)) {
            let at = s * t + k;
            assert_eq!(all.target[at], -1);
            assert!(
                all.relevance.1[at * per_position..(at + 1) * per_position]
                    .iter()
                    .all(|v| *v == 0.0)
            );
        }
    }
}

#[test]
fn every_step_json_lines_nest_the_real_positions() {
    let path = tmp("all.jsonl");
    let o = run(&[
        "--model",
        MODEL,
        "--input",
        INPUT,
        "--step",
        "all",
        "--jsonl",
        path.to_str().unwrap(),
        "--overwrite",
        "--batch-size",
        "2",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(&path).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), REAL.len());
    for (line, real) in lines.iter().zip(&REAL) {
        assert_eq!(line["tokens"].as_array().unwrap().len(), real.len());
        let steps = line["steps"].as_array().unwrap();
        assert_eq!(steps.len(), real.len());
        for (k, step) in real.clone().zip(steps) {
            assert_eq!(step["step"], k);
            assert_eq!(step["relevance"].as_array().unwrap().len(), real.len());
        }
    }
}

#[test]
fn step_misuse_is_one_clear_line() {
    let base = ["--model", MODEL, "--input", INPUT];
    let err = error_line(&base);
    assert!(err.contains("--step"), "{err}");
    let html = tmp("steps.html");
    let err = error_line(
        &[
            &base[..],
            &["--step", "all", "--html", html.to_str().unwrap()],
        ]
        .concat(),
    );
    assert!(err.contains("--html"), "{err}");
    let err = error_line(&[&base[..], &["--step", "8"]].concat());
    assert!(err.contains("step 8"), "{err}");
    let err = error_line(&[&base[..], &["--step", "first"]].concat());
    assert!(err.contains("`first` is not a step"), "{err}");
    let err = error_line(&[
        "--model",
        "fixtures/keras3/a_bilstm_dense.keras",
        "--input",
        "fixtures/keras3/a_bilstm_dense.io.safetensors",
        "--step",
        "last",
    ]);
    assert!(err.contains("one output per sequence"), "{err}");
}
