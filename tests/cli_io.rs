//! The CLI's I/O guarantees: nothing is lost (an existing output is refused unless
//! `--overwrite`), array outputs appear whole or not at all, stdin and stdout work as `-` in a
//! pipeline, and every input is read once (a named pipe can only be read once).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const MODEL: &str = "examples/sentiment/model.safetensors";
const VOCAB: &str = "examples/sentiment/vocab.txt";
const SENTENCES: &str = "\"the plot was not gratefuller\"\n[\"a\", \"tragedies\", \"week\"]\n\
                         \"good week\"\n";

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("lstm-lrp-cli-io-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn lstm_lrp(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .args(args)
        .output()
        .expect("run lstm-lrp")
}

fn explain(extra: &[&str]) -> Output {
    let mut args = vec![
        "explain", "--model", MODEL, "--vocab", VOCAB, "--print", "0",
    ];
    args.extend_from_slice(extra);
    lstm_lrp(&args)
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn existing_outputs_are_kept_unless_overwrite() {
    let d = dir("overwrite");
    let input = d.join("in.jsonl");
    std::fs::write(&input, SENTENCES).unwrap();
    for flag in ["--jsonl", "--output", "--html"] {
        let out = d.join(format!("out{}", flag.trim_start_matches('-')));
        std::fs::write(&out, "earlier results").unwrap();
        let o = explain(&["--input", s(&input), flag, s(&out)]);
        assert!(
            !o.status.success(),
            "{flag}: an existing file must be refused"
        );
        let err = stderr(&o);
        assert!(
            err.contains(s(&out)) && err.contains("exists") && err.contains("--overwrite"),
            "{flag}: {err}"
        );
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "earlier results");
        let o = explain(&["--input", s(&input), flag, s(&out), "--overwrite"]);
        assert!(o.status.success(), "{flag}: {}", stderr(&o));
        assert_ne!(std::fs::read(&out).unwrap(), b"earlier results");
    }
    // The refusal comes before any work: an existing file with a broken model still says
    // "exists", not a model error.
    let o = lstm_lrp(&[
        "explain",
        "--model",
        "no/such/model.keras",
        "--input",
        s(&input),
        "--jsonl",
        s(&d.join("outjsonl")),
    ]);
    assert!(stderr(&o).contains("exists"), "{}", stderr(&o));
}

#[test]
fn array_outputs_appear_whole_or_not_at_all() {
    let d = dir("atomic");
    // The third line is broken: the run fails after explaining the first batch.
    let input = d.join("in.jsonl");
    std::fs::write(&input, "\"good week\"\n\"the plot\"\n[1, \"x\"]\n").unwrap();
    let out = d.join("out.safetensors");
    let html = d.join("out.html");
    let o = explain(&[
        "--input",
        s(&input),
        "--batch-size",
        "2",
        "--output",
        s(&out),
        "--html",
        s(&html),
    ]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("line 3"), "{}", stderr(&o));
    let left: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, ["in.jsonl"], "no partial output or temporary file");
    // A complete run writes them, and no temporary file is left beside them.
    std::fs::write(&input, SENTENCES).unwrap();
    let o = explain(&[
        "--input",
        s(&input),
        "--output",
        s(&out),
        "--html",
        s(&html),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut left: Vec<String> = std::fs::read_dir(&d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["in.jsonl", "out.html", "out.safetensors"]);
}

/// Runs `lstm-lrp ARGS` with `input` on stdin; returns its output.
fn piped(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run lstm-lrp");
    let mut stdin = child.stdin.take().unwrap();
    let bytes = input.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// The JSON lines `explain` (with the vocabulary) writes to stdout for `input`.
fn explained_jsonl(input: &Path) -> Vec<serde_json::Value> {
    let o = explain(&["--input", s(input), "--jsonl", "-"]);
    assert!(o.status.success(), "{}: {}", s(input), stderr(&o));
    json_lines(&String::from_utf8_lossy(&o.stdout))
}

#[test]
fn stdin_and_stdout_work_in_a_pipeline() {
    let d = dir("pipe");
    let input = d.join("in.jsonl");
    std::fs::write(&input, SENTENCES).unwrap();
    let file_out = d.join("out.jsonl");
    let o = explain(&["--input", s(&input), "--jsonl", s(&file_out)]);
    assert!(o.status.success(), "{}", stderr(&o));
    let expected = json_lines(&std::fs::read_to_string(&file_out).unwrap());
    assert_eq!(expected.len(), 3);

    // … | lstm-lrp explain --input - --jsonl - | …
    let args = [
        "explain", "--model", MODEL, "--vocab", VOCAB, "--input", "-", "--jsonl", "-",
    ];
    let o = piped(&args, SENTENCES.as_bytes());
    assert!(o.status.success(), "{}", stderr(&o));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert_eq!(
        json_lines(&stdout),
        expected,
        "stdout carries only the JSON lines"
    );

    // Arrays on stdin: a safetensors file of token ids is read into memory whole.
    let ids = "fixtures/keras3/c_embed_bilstmseq_lstm.io.safetensors";
    let reference = lstm_lrp(&[
        "explain",
        "--model",
        "fixtures/keras3/c_embed_bilstmseq_lstm.keras",
        "--input",
        ids,
        "--jsonl",
        "-",
    ]);
    assert!(reference.status.success(), "{}", stderr(&reference));
    let o = piped(
        &[
            "explain",
            "--model",
            "fixtures/keras3/c_embed_bilstmseq_lstm.keras",
            "--input",
            "-",
            "--jsonl",
            "-",
        ],
        &std::fs::read(ids).unwrap(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(o.stdout, reference.stdout);

    // A reader that stops early (`| head -1`) ends the run quietly.
    let many = SENTENCES.repeat(400);
    let mut child = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .args(args)
        .args(["--batch-size", "2"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(many.as_bytes());
    });
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("error"), "{}", stderr(&out));
}

#[test]
fn output_dash_is_refused_and_show_does_not_mix_into_jsonl() {
    let o = explain(&["--text", "good week", "--output", "-"]);
    assert!(stderr(&o).contains("--jsonl -"), "{}", stderr(&o));
    let o = explain(&["--text", "good week", "--jsonl", "-", "--show"]);
    assert!(
        !o.status.success() && stderr(&o).contains("--show"),
        "{}",
        stderr(&o)
    );
}

/// Creates a named pipe (FIFO): it can be read exactly once, so a command that opens its input
/// twice hangs on the second open or reads nothing.
#[cfg(unix)]
fn fifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

/// Runs `args` with `bytes` written into the FIFO `pipe`, with a time limit.
#[cfg(unix)]
fn through_fifo(args: &[&str], pipe: &Path, bytes: Vec<u8>) -> Output {
    let pipe_for_writer = pipe.to_path_buf();
    let writer = std::thread::spawn(move || {
        // Blocks until the command opens the pipe for reading.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(pipe_for_writer)
            .unwrap();
        let _ = f.write_all(&bytes);
    });
    let child = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let pid = child.id();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("{args:?} did not finish reading a named pipe: it opened its input twice");
        }
    };
    writer.join().unwrap();
    out
}

#[cfg(unix)]
#[test]
fn every_input_is_read_once() {
    let d = dir("fifo");
    // JSON lines, streamed.
    let pipe = d.join("in.jsonl");
    fifo(&pipe);
    let args = [
        "explain",
        "--model",
        MODEL,
        "--vocab",
        VOCAB,
        "--input",
        s(&pipe),
        "--jsonl",
        "-",
    ];
    let o = through_fifo(&args, &pipe, SENTENCES.as_bytes().to_vec());
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 3);

    // safetensors, read whole.
    let pipe = d.join("in.safetensors");
    fifo(&pipe);
    let model = "examples/data/keras2_sentiment_bilstm.safetensors";
    let args = [
        "explain",
        "--model",
        model,
        "--input",
        s(&pipe),
        "--jsonl",
        "-",
    ];
    let bytes = std::fs::read("examples/data/random_embeddings.safetensors").unwrap();
    let o = through_fifo(&args, &pipe, bytes);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).lines().count(), 4);

    // A model file through a pipe: safetensors and HDF5 are read once, whole.
    for (model, input) in [
        (
            "examples/data/keras2_sentiment_bilstm.safetensors",
            "examples/data/random_embeddings.safetensors",
        ),
        (
            "fixtures/keras2/keras2_sentiment_bilstm.hdf5",
            "examples/data/random_embeddings.safetensors",
        ),
    ] {
        let pipe = d.join(format!(
            "model-{}",
            Path::new(model).file_name().unwrap().to_string_lossy()
        ));
        fifo(&pipe);
        let args = [
            "explain",
            "--model",
            s(&pipe),
            "--input",
            input,
            "--jsonl",
            "-",
        ];
        let o = through_fifo(&args, &pipe, std::fs::read(model).unwrap());
        assert!(o.status.success(), "{model}: {}", stderr(&o));
        assert_eq!(
            String::from_utf8_lossy(&o.stdout).lines().count(),
            4,
            "{model}"
        );
    }
}

/// `.npz` inputs as numpy writes them (`fixtures/inputs/`): `np.savez(x=…, lengths=…)` explains
/// as the safetensors file with the same `x` and `lengths`, `np.savez_compressed(path, ids)`
/// (one array, `arr_0`) as the `.npy` of the same ids; an archive of other files is a model.
#[test]
fn npz_inputs_read_as_their_safetensors_and_npy_twins() {
    let explained = |input: &str| {
        let lines = explained_jsonl(Path::new(&format!("fixtures/inputs/{input}")));
        assert_eq!(lines.len(), 4, "{input}");
        lines
    };
    assert_eq!(
        explained("ids_lengths.npz"),
        explained("ids_lengths.safetensors")
    );
    assert_eq!(
        explained("ids_positional_compressed.npz"),
        explained("ids.npy")
    );
    // The lengths matter: without them the padding is read as tokens.
    assert_ne!(explained("ids_lengths.npz"), explained("ids.npy"));
    let o = lstm_lrp(&[
        "explain",
        "--model",
        MODEL,
        "--input",
        "fixtures/keras3/round5/y1_lstm_flatten_dense.keras",
    ]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("this is a model file, not an input"),
        "{}",
        stderr(&o)
    );
}

/// A dataset's rows as JSON objects (`{"text": …, "label": …}`, `{"input_ids": […]}`) explain as
/// the same sequences written as plain JSON lines, and so does a file that starts with a UTF-8
/// byte-order mark; plain text is refused with how to write it.
#[test]
fn object_lines_and_a_byte_order_mark_read_as_plain_json_lines() {
    let d = dir("objects");
    let write = |name: &str, text: &str| {
        let path = d.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let plain = write(
        "plain.jsonl",
        "\"the plot was not good\"\n[\"a\", \"week\"]\n[5, 6, 7]\n",
    );
    let objects = write(
        "objects.jsonl",
        "{\"text\": \"the plot was not good\", \"label\": 0}\n{\"id\": 2, \"tokens\": [\"a\", \
         \"week\"]}\n{\"input_ids\": [5, 6, 7]}\n",
    );
    let bom = write(
        "bom.jsonl",
        "\u{feff}\"the plot was not good\"\n[\"a\", \"week\"]\n[5, 6, 7]\n",
    );
    let reference = explained_jsonl(&plain);
    assert_eq!(reference.len(), 3);
    assert_eq!(explained_jsonl(&objects), reference);
    assert_eq!(explained_jsonl(&bom), reference);

    let ambiguous = write("both.jsonl", "{\"text\": \"good\", \"input_ids\": [5]}\n");
    let o = explain(&["--input", s(&ambiguous)]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("several sequences"), "{}", stderr(&o));
    let text = write("plain.txt", "the plot was not good\n");
    let o = explain(&["--input", s(&text)]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("text whose first line is not JSON"),
        "{}",
        stderr(&o)
    );
}
