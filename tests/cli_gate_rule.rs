//! `lstm-lrp explain --gate-rule`: every rule runs through the CLI and conserves the logit at
//! eps = 0, bias_factor = 1; an unknown rule is one clear error line.

use std::process::Command;

use lrp_import::formats::safetensors::{float_array, parse};

fn explain(rule: &str, out: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .args([
            "explain",
            "--model",
            "examples/data/keras2_sentiment_bilstm.safetensors",
            "--input",
            "examples/data/random_embeddings.safetensors",
            "--eps",
            "0",
            "--bias-factor",
            "1",
            "--gate-rule",
            rule,
            "--output",
        ])
        .arg(out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run lstm-lrp")
}

#[test]
fn every_gate_rule_conserves_through_the_cli() {
    let dir = std::env::temp_dir().join(format!("lstm-lrp-gate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut relevances = Vec::new();
    for rule in ["all", "prop", "abs", "half"] {
        let out = dir.join(format!("{rule}.safetensors"));
        let o = explain(rule, &out);
        assert!(
            o.status.success(),
            "{rule}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let bytes = std::fs::read(&out).unwrap();
        let file = parse(&bytes).unwrap();
        let relevance = float_array(&file, "relevance").unwrap();
        let (shape, relevance) = (relevance.shape, relevance.data);
        let rest = float_array(&file, "rest").unwrap().data;
        let logits = float_array(&file, "logits").unwrap();
        let (lshape, logits) = (logits.shape, logits.data);
        let (b, per_sample, c) = (shape[0], shape[1] * shape[2], lshape[1]);
        for s in 0..b {
            let row = &relevance[s * per_sample..(s + 1) * per_sample];
            let total: f64 = row.iter().sum();
            let logit = (0..c)
                .map(|k| logits[s * c + k])
                .fold(f64::NEG_INFINITY, f64::max);
            // Relative to the size of the summed terms: `prop` divides by z_gate + z_signal,
            // which can be tiny, so its terms can be huge and cancel (as the conformance
            // suite's conservation check does).
            let size = row.iter().map(|v| v.abs()).sum::<f64>() + rest[s].abs() + logit.abs();
            let err = (total + rest[s] - logit).abs() / size.max(1.0);
            assert!(
                err < 1e-10,
                "{rule}, sample {s}: conservation error {err:e} (terms' size {size:e})"
            );
        }
        relevances.push(relevance);
    }
    // The rules give different explanations (the gates take a share under prop/abs/half).
    for k in 1..relevances.len() {
        assert_ne!(relevances[0], relevances[k], "rule {k} equals `all`");
    }
}

#[test]
fn an_unknown_gate_rule_is_one_clear_line() {
    let out = std::env::temp_dir().join("lstm-lrp-gate-unknown.safetensors");
    let o = explain("most", &out);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("most") && err.contains("prop"), "{err}");
}
