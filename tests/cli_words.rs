//! Word input (`--vocab`, `--text`, word JSON lines) and the per-sequence outputs (`--jsonl`,
//! `--show`) of `lstm-lrp explain`, and one clear error line for each misuse.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("run lstm-lrp")
}

const MODEL: &str = "examples/sentiment/model.safetensors";
const VOCAB: &str = "examples/sentiment/vocab.txt";

fn tmp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("lstm-lrp-words-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).display().to_string()
}

fn one_error_line(o: &Output) -> String {
    assert!(!o.status.success(), "expected a failure");
    let err = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    err
}

#[test]
fn a_sentence_is_explained_word_by_word() {
    let o = run(&[
        "explain",
        "--model",
        MODEL,
        "--vocab",
        VOCAB,
        "--text",
        "The plot was gratefuller!",
        "--show",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = String::from_utf8_lossy(&o.stdout);
    // Not a terminal: plain `word(+relevance)`.
    for word in ["the(", "plot(", "was(", "gratefuller("] {
        assert!(text.contains(word), "{text}");
    }
    assert!(text.contains("predicted 1"), "a positive sentence: {text}");
}

#[test]
fn word_jsonl_gives_one_object_per_sentence_and_conserves() {
    let input = tmp("in.jsonl");
    std::fs::write(
        &input,
        "\"a tragedies week\"\n[\"the\", \"plot\", \"zzzz\"]\n[2, 3]\n",
    )
    .unwrap();
    let out = tmp("out.jsonl");
    let o = run(&[
        "explain",
        "--model",
        MODEL,
        "--vocab",
        VOCAB,
        "--input",
        &input,
        "--jsonl",
        &out,
        "--eps",
        "0",
        "--bias-factor",
        "1",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("1 word(s) not in the vocabulary"));
    let text = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0]["tokens"],
        serde_json::json!(["a", "tragedies", "week"])
    );
    // The word as written, though the model read it as `<unk>`.
    assert_eq!(rows[1]["tokens"][2], "zzzz");
    assert_eq!(
        rows[2]["tokens"].as_array().unwrap().len(),
        2,
        "ids are shown as words"
    );
    for row in &rows {
        let total: f64 = row["relevance"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .sum();
        let (logit, rest) = (
            row["logit"].as_f64().unwrap(),
            row["rest"].as_f64().unwrap(),
        );
        assert!(
            (total + rest - logit).abs() < 1e-9 * logit.abs().max(1.0),
            "{row}"
        );
    }
}

#[test]
fn misuse_is_one_clear_line() {
    // --text needs a vocabulary.
    let o = run(&["explain", "--model", MODEL, "--text", "good"]);
    assert!(!o.status.success());
    // A vocabulary that does not fit the model.
    let small = tmp("small_vocab.txt");
    std::fs::write(&small, "<pad>\n<unk>\ngood\n").unwrap();
    let err = one_error_line(&run(&[
        "explain", "--model", MODEL, "--vocab", &small, "--text", "good",
    ]));
    assert!(err.contains("embedding has 394 rows"), "{err}");
    // A broken vocabulary file.
    let dup = tmp("dup_vocab.txt");
    std::fs::write(&dup, "<pad>\ngood\ngood\n").unwrap();
    let err = one_error_line(&run(&[
        "explain", "--model", MODEL, "--vocab", &dup, "--text", "good",
    ]));
    assert!(err.contains("appears twice"), "{err}");
    // A missing vocabulary file.
    let err = one_error_line(&run(&[
        "explain",
        "--model",
        MODEL,
        "--vocab",
        "no/such/vocab.txt",
        "--text",
        "good",
    ]));
    assert!(err.contains("no/such/vocab.txt"), "{err}");
    // A malformed JSON line names the line.
    let bad = tmp("bad.jsonl");
    std::fs::write(&bad, "\"fine\"\n{\"x\": 1}\n").unwrap();
    let err = one_error_line(&run(&[
        "explain", "--model", MODEL, "--vocab", VOCAB, "--input", &bad,
    ]));
    assert!(err.contains("line 2"), "{err}");
    // A device this build lacks names its cargo feature.
    let err = one_error_line(&run(&[
        "explain", "--model", MODEL, "--vocab", VOCAB, "--text", "plot", "--device", "wgpu",
    ]));
    assert!(err.contains("wgpu"), "{err}");
}
