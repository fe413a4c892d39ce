//! Every way `lstm-lrp explain` can be misused ends in one line on stderr, naming the file or
//! flag, what is wrong and what to do, and a non-zero exit code.

use std::path::PathBuf;
use std::process::Command;

const MODEL: &str = "examples/sentiment/model.safetensors";
const VOCAB: &str = "examples/sentiment/vocab.txt";

fn tmp(name: &str, contents: &str) -> String {
    let dir = std::env::temp_dir().join(format!("lstm-lrp-cli-errors-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path: PathBuf = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path.display().to_string()
}

/// Runs `lstm-lrp explain ARGS`, expects failure, returns the one stderr line.
fn error_line(args: &[&str]) -> String {
    let o = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .arg("explain")
        .args(args)
        .output()
        .expect("run lstm-lrp");
    assert!(!o.status.success(), "expected failure for {args:?}");
    assert!(o.stdout.is_empty(), "nothing on stdout for {args:?}");
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "one error line expected for {args:?}, got: {stderr}"
    );
    assert!(lines[0].starts_with("error: "), "{stderr}");
    lines[0].to_string()
}

fn words_input() -> String {
    tmp("words.jsonl", "\"the plot\"\n\"the film\"\n")
}

#[test]
fn missing_and_malformed_inputs() {
    let line = error_line(&["--model", MODEL, "--vocab", VOCAB, "--input", "nope.jsonl"]);
    assert!(
        line.contains("nope.jsonl") && line.contains("No such file"),
        "{line}"
    );

    let bad = tmp("bad.jsonl", "[2, 3]\n{\"not\": \"a sequence\"}\n");
    let line = error_line(&["--model", MODEL, "--vocab", VOCAB, "--input", &bad]);
    assert!(
        line.contains("bad.jsonl: line 2") && line.contains("expected"),
        "{line}"
    );

    let empty = tmp("empty.jsonl", "\n\n");
    let line = error_line(&["--model", MODEL, "--input", &empty]);
    assert!(
        line.contains("empty.jsonl") && line.contains("no sequence"),
        "{line}"
    );

    let empty_seq = tmp("empty_seq.jsonl", "[2]\n[]\n");
    let line = error_line(&["--model", MODEL, "--input", &empty_seq]);
    assert!(
        line.contains("line 2") && line.contains("at least one token"),
        "{line}"
    );

    // Words without a vocabulary.
    let line = error_line(&["--model", MODEL, "--input", &words_input()]);
    assert!(
        line.contains("line 1") && line.contains("--vocab"),
        "{line}"
    );

    // Feature vectors for a model that reads token ids (wrong shape).
    let line = error_line(&[
        "--model",
        MODEL,
        "--input",
        "examples/data/random_embeddings.safetensors",
    ]);
    assert!(
        line.contains("random_embeddings") && line.contains("reads token ids"),
        "{line}"
    );
}

#[test]
fn bad_vocabularies() {
    let line = error_line(&["--model", MODEL, "--vocab", "nope.txt", "--text", "a b"]);
    assert!(
        line.contains("nope.txt") && line.contains("one token per line"),
        "{line}"
    );

    let dup = tmp("dup.txt", "<pad>\n<unk>\ngood\ngood\n");
    let line = error_line(&["--model", MODEL, "--vocab", &dup, "--text", "good"]);
    assert!(
        line.contains("dup.txt") && line.contains("appears twice"),
        "{line}"
    );

    let small = tmp("small.txt", "<pad>\n<unk>\ngood\n");
    let line = error_line(&["--model", MODEL, "--vocab", &small, "--text", "good"]);
    assert!(
        line.contains("small.txt")
            && line.contains("embedding has")
            && line.contains("trained with"),
        "{line}"
    );

    let line = error_line(&["--model", MODEL, "--text", "no vocabulary"]);
    assert!(line.contains("--vocab"), "{line}");
}

#[test]
fn bad_devices_targets_and_flag_combinations() {
    let input = words_input();
    let base = [
        "--model",
        MODEL,
        "--vocab",
        VOCAB,
        "--input",
        input.as_str(),
    ];
    let with = |extra: &[&str]| {
        let mut args = base.to_vec();
        args.extend_from_slice(extra);
        error_line(&args)
    };
    let line = with(&["--device", "tpu"]);
    assert!(
        line.contains("unknown device `tpu`") && line.contains("available"),
        "{line}"
    );
    if !cfg!(feature = "wgpu") {
        let line = with(&["--device", "wgpu", "--precision", "f32"]);
        assert!(line.contains("--features wgpu"), "{line}");
    }
    if !cfg!(feature = "tch") {
        let line = with(&["--device", "tch-cuda:0"]);
        assert!(line.contains("--features tch"), "{line}");
    }
    let line = with(&["--target", "5"]);
    assert!(
        line.contains("target class 5") && line.contains("0..C"),
        "{line}"
    );
    let line = with(&["--target", "-1"]);
    assert!(line.contains("--target"), "{line}");
    // A per-sample class file with three classes for two sentences.
    let classes = tmp("classes.txt", "0\n1\n0\n");
    let line = with(&["--target", &classes]);
    assert!(
        line.contains("classes.txt") && line.contains("3 target classes for 2"),
        "{line}"
    );
    let line = with(&["--resume"]);
    assert!(line.contains("--jsonl"), "{line}");
    let line = with(&["--batch-size", "0"]);
    assert!(line.contains("--batch-size"), "{line}");
    let line = with(&["--precision", "f16"]);
    assert!(line.contains("f16"), "{line}");
    let line = with(&["--jsonl", "/nonexistent-dir/out.jsonl"]);
    assert!(
        line.contains("/nonexistent-dir/out.jsonl") && line.contains("writable"),
        "{line}"
    );
}
