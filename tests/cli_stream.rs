//! Streaming JSON lines through `lstm-lrp explain`: batch by batch in and out, the same numbers
//! whatever the batch size, `--resume` after an interruption, words carried to the outputs,
//! and nothing on stderr when it is not a terminal.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const MODEL: &str = "examples/sentiment/model.safetensors";
const VOCAB: &str = "examples/sentiment/vocab.txt";

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lstm-lrp-cli-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name)
}

fn explain(input: &Path, jsonl: &Path, extra: &[&str]) -> Output {
    let o = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .args(["explain", "--model", MODEL, "--vocab", VOCAB, "--input"])
        .arg(input)
        .arg("--jsonl")
        .arg(jsonl)
        .args(extra)
        .output()
        .expect("run lstm-lrp");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o
}

/// Twenty sequences of different lengths: sentences, word arrays and token ids.
fn input() -> PathBuf {
    let vocab = std::fs::read_to_string(VOCAB).unwrap();
    let words: Vec<&str> = vocab.lines().skip(2).take(40).collect();
    let mut text = String::new();
    for s in 0..20 {
        let len = 1 + (s * 7) % 9;
        let picked: Vec<&str> = (0..len)
            .map(|k| words[(s * 5 + k * 3) % words.len()])
            .collect();
        let line = match s % 3 {
            0 => serde_json::to_string(&picked.join(" ")).unwrap(),
            1 => serde_json::to_string(&picked).unwrap(),
            _ => {
                let ids: Vec<usize> = (0..len).map(|k| 2 + (s * 5 + k * 3) % 40).collect();
                serde_json::to_string(&ids).unwrap()
            }
        };
        text.push_str(&line);
        text.push('\n');
        if s == 4 {
            text.push('\n'); // blank lines are skipped, not sequences
        }
    }
    let path = tmp("input.jsonl");
    std::fs::write(&path, text).unwrap();
    path
}

fn objects(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is a JSON object"))
        .collect()
}

fn assert_same(a: &[serde_json::Value], b: &[serde_json::Value]) {
    assert_eq!(a.len(), b.len());
    for (s, (x, y)) in a.iter().zip(b).enumerate() {
        assert_eq!(x["tokens"], y["tokens"], "sequence {s}");
        assert_eq!(x["target"], y["target"], "sequence {s}");
        let close = |p: &serde_json::Value, q: &serde_json::Value| {
            (p.as_f64().unwrap() - q.as_f64().unwrap()).abs() <= 1e-9
        };
        assert!(close(&x["logit"], &y["logit"]), "sequence {s}");
        let (rx, ry) = (
            x["relevance"].as_array().unwrap(),
            y["relevance"].as_array().unwrap(),
        );
        assert_eq!(rx.len(), ry.len(), "sequence {s}");
        assert!(rx.iter().zip(ry).all(|(p, q)| close(p, q)), "sequence {s}");
    }
}

#[test]
fn batches_give_the_same_explanations_as_one_batch() {
    let input = input();
    let (one, small) = (tmp("one.jsonl"), tmp("small.jsonl"));
    let o = explain(&input, &one, &["--batch-size", "1000"]);
    explain(&input, &small, &["--batch-size", "3"]);
    // stderr is a pipe here: no progress bar, and every word is in the vocabulary.
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let (a, b) = (objects(&one), objects(&small));
    assert_eq!(a.len(), 20);
    assert_same(&a, &b);
    for (s, x) in a.iter().enumerate() {
        let len = 1 + (s * 7) % 9;
        assert_eq!(x["tokens"].as_array().unwrap().len(), len, "sequence {s}");
        // `--target predicted` (the default) explains the predicted class.
        assert_eq!(x["target"], x["predicted"]);
    }
}

#[test]
fn resume_finishes_an_interrupted_run() {
    let input = input();
    let (full, partial) = (tmp("full.jsonl"), tmp("partial.jsonl"));
    explain(&input, &full, &["--batch-size", "4"]);
    let text = std::fs::read_to_string(&full).unwrap();
    // An interrupted run: seven complete lines and half of the eighth.
    let cut: usize = text.lines().take(7).map(|l| l.len() + 1).sum::<usize>() + 40;
    std::fs::write(&partial, &text[..cut]).unwrap();
    let o = explain(&input, &partial, &["--batch-size", "4", "--resume"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("after the 7 sequence(s)"), "{stderr}");
    assert_same(&objects(&full), &objects(&partial));
    // Resuming a finished run explains nothing more.
    explain(&input, &partial, &["--resume"]);
    assert_same(&objects(&full), &objects(&partial));
}

#[test]
fn unknown_words_are_kept_in_the_outputs_and_counted_once() {
    let input = tmp("unknown.jsonl");
    std::fs::write(&input, "\"qqzx the plot\"\n[\"vvwy\", \"plot\"]\n").unwrap();
    let out = tmp("unknown-out.jsonl");
    let html = tmp("unknown.html");
    let o = explain(&input, &out, &["--html", html.to_str().unwrap(), "--show"]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("2 word(s) not in the vocabulary"),
        "{stderr}"
    );
    let rows = objects(&out);
    assert_eq!(rows[0]["tokens"][0], "qqzx");
    assert_eq!(rows[1]["tokens"][0], "vvwy");
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("qqzx") && page.contains("vvwy"));
    // stdout is a pipe: the terminal view without colour codes.
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains("qqzx(") && !stdout.contains('\x1b'),
        "{stdout}"
    );
}

#[test]
fn npy_inputs_stream_by_rows_and_resume() {
    // Token ids (7, 5) in a .npy file: streamed two rows at a time, or read whole (`--output`
    // needs every sample), the explanations are the same.
    let ids: Vec<i64> = (0..35).map(|k| 2 + (k * 7) % 40).collect();
    let input = tmp("ids.npy");
    std::fs::write(&input, lrp_import::formats::npy::write_i64(&[7, 5], &ids)).unwrap();
    let (streamed, whole) = (tmp("npy-streamed.jsonl"), tmp("npy-whole.jsonl"));
    explain(&input, &streamed, &["--batch-size", "2"]);
    let arrays = tmp("npy-whole.safetensors");
    explain(
        &input,
        &whole,
        &["--batch-size", "1000", "--output", arrays.to_str().unwrap()],
    );
    let (a, b) = (objects(&streamed), objects(&whole));
    assert_eq!(a.len(), 7);
    assert_same(&a, &b);
    // An interrupted run over the .npy file resumes after its complete lines.
    let text = std::fs::read_to_string(&streamed).unwrap();
    let cut: usize = text.lines().take(3).map(|l| l.len() + 1).sum();
    let partial = tmp("npy-partial.jsonl");
    std::fs::write(&partial, &text[..cut]).unwrap();
    let o = explain(&input, &partial, &["--batch-size", "2", "--resume"]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("after the 3 sequence(s)"));
    assert_same(&a, &objects(&partial));
}

/// A write that fails halfway (the writer thread's): the run stops with the error, exit code 1,
/// rather than going on explaining or ending as if it had succeeded.
#[cfg(target_os = "linux")]
#[test]
fn a_failing_output_stops_the_run_with_its_error() {
    // /dev/full accepts the open and fails every write with ENOSPC.
    let o = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .args(["explain", "--model", MODEL, "--vocab", VOCAB, "--input"])
        .arg(input())
        .args(["--batch-size", "3", "--jsonl", "/dev/full", "--overwrite"])
        .output()
        .expect("run lstm-lrp");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("/dev/full") && stderr.contains("No space left"),
        "{stderr}"
    );
}
