//! End-to-end throughput of the `lstm-lrp explain` binary against the library's own `explain`
//! on the same model and data, side by side in one run: bidirectional LSTM, T = 25, H = 300,
//! E = 200, C = 2, B = 1000 samples, f64, default device (`cpu`).
//!
//! ```text
//! cargo bench --bench cli_overhead                  # 3 repetitions, batches 1000, 100 and 256
//! cargo bench --bench cli_overhead -- --repeats 5 --samples 500
//! cargo bench --bench cli_overhead -- --repeats 1 --keep   # keep the model and input files
//! ```
//!
//! The model is written in the canonical safetensors layout and the input as `x (B, T, E)`
//! (f64) to a temporary directory. The library rows time `LstmModel::explain` + `to_host` over
//! the samples in batches (model and input already in memory, in a warm process); the CLI rows
//! time the whole process: start-up, reading the model and the 40 MB input, explaining in the
//! same batches, and writing the requested output. One row reads the input from `.npy`, which the
//! CLI streams `--batch-size` rows at a time. The table reports the median of the
//! repetitions and each CLI row's ratio to the library row of the same batch size, and the same
//! for the fastest repetition (the least disturbed on a shared machine).

mod harness;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

// The same allocator set-up as the `lstm-lrp` binary (see `lstm_lrp::alloc`).
#[global_allocator]
static GLOBAL: lstm_lrp::alloc::MiMalloc = lstm_lrp::alloc::MiMalloc;

use lrp_conformance::random::{Rng, SingleLayer};
use lrp_import::HostArray;
use lrp_import::formats::safetensors::{OutTensor, serialize};
use lstm_lrp::burn::tensor::{Tensor, TensorData};
use lstm_lrp::{ExplainConfig, LstmModel, Precision, backends};

use harness::reference::{C, E, H, T};

/// Times one `lstm-lrp explain` process; `extra` names the input (`--input FILE`) and outputs.
/// Each repetition of a row replaces its previous output (`--overwrite`: without it the CLI
/// refuses to write over an existing file, and the second repetition failed).
fn cli(model: &Path, extra: &[String]) -> f64 {
    let start = Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
        .args(["explain", "--print", "0", "--overwrite", "--model"])
        .arg(model)
        .args(extra)
        .stdout(Stdio::null())
        .status()
        .expect("run lstm-lrp");
    assert!(status.success(), "lstm-lrp explain failed");
    start.elapsed().as_secs_f64()
}

fn main() {
    // As the binary does: the library rows then reuse their pages, and no purge of freed memory
    // runs in this process while a CLI run is being timed.
    lstm_lrp::alloc::keep_freed_memory();
    let samples = harness::parsed("--samples", 1000, "1000");
    let repeats = harness::parsed("--repeats", 3usize, "3").max(1);
    let dir: PathBuf =
        std::env::temp_dir().join(format!("lstm-lrp-cli-overhead-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut rng = Rng::new(7);
    let params = SingleLayer {
        e: E,
        h: H,
        c: C,
        bidirectional: true,
    }
    .random(&mut rng);
    let (model_path, input_path) = (dir.join("model.safetensors"), dir.join("x.safetensors"));
    harness::write_canonical_model(&params, &model_path);
    let x = rng.normals(samples * T * E, 1.0);
    let bytes = serialize(
        &[(
            "x",
            OutTensor::F64(HostArray {
                shape: vec![samples, T, E],
                data: x.clone(),
            }),
        )],
        None,
    )
    .expect("input");
    std::fs::write(&input_path, bytes).expect("write input");
    // The same samples as .npy, which the CLI streams by rows (safetensors is read whole).
    let npy_path = dir.join("x.npy");
    std::fs::write(
        &npy_path,
        lrp_import::formats::npy::write_f64(&[samples, T, E], &x),
    )
    .expect("npy");

    // The library, as a Rust user would call it: the model file loaded the same way.
    let device = backends::default_device();
    let loaded = lstm_lrp::load_model(&model_path).expect("load model");
    let model = LstmModel::new(&loaded, &device, Precision::F64).expect("model");
    // `batch` samples at a time, as the CLI's `--batch-size` does.
    let library = |batch: usize| {
        let start = Instant::now();
        let mut explained = 0;
        for first in (0..samples).step_by(batch) {
            let n = batch.min(samples - first);
            let x: Tensor<3> = Tensor::from_data(
                TensorData::new(x[first * T * E..(first + n) * T * E].to_vec(), [n, T, E]),
                (&device, Precision::F64.dtype()),
            );
            let out = model
                .explain(x, &ExplainConfig::new())
                .and_then(|e| e.to_host())
                .expect("explain");
            explained += out.batch;
        }
        assert_eq!(explained, samples);
        start.elapsed().as_secs_f64()
    };

    let s = |v: &str| v.to_string();
    let out = |name: &str| dir.join(name).display().to_string();
    let batch = |b: usize| {
        vec![
            s("--input"),
            input_path.display().to_string(),
            s("--batch-size"),
            b.to_string(),
        ]
    };
    let npy_batch = |b: usize| {
        vec![
            s("--input"),
            npy_path.display().to_string(),
            s("--batch-size"),
            b.to_string(),
        ]
    };
    let with = |mut args: Vec<String>, more: &[String]| {
        args.extend_from_slice(more);
        args
    };
    // (name, batch size, CLI arguments or None for the library)
    let rows: Vec<(String, usize, Option<Vec<String>>)> = vec![
        (s("library, batch B"), samples, None),
        (s("cli, batch B, no output"), samples, Some(batch(samples))),
        // Run twice: on this VM the first process started after the in-process batch-B rows
        // (1.4 GB) is up to 2x slower while the kernel hands it fresh memory; the second shows
        // the CLI's own cost.
        (
            s("cli, batch B, no output (again)"),
            samples,
            Some(batch(samples)),
        ),
        (
            s("cli, batch B, --output .safetensors"),
            samples,
            Some(with(batch(samples), &[s("--output"), out("r.safetensors")])),
        ),
        (
            s("cli, batch B, --jsonl"),
            samples,
            Some(with(batch(samples), &[s("--jsonl"), out("r.jsonl")])),
        ),
        // The speed issue's measure: batch 100.
        (s("library, batch 100"), 100, None),
        (s("cli, batch 100, no output"), 100, Some(batch(100))),
        (s("library, batch 256"), 256, None),
        (
            s("cli, batch 256 (default), no output"),
            256,
            Some(batch(256)),
        ),
        (
            s("cli, batch 256, --output .safetensors"),
            256,
            Some(with(batch(256), &[s("--output"), out("r.safetensors")])),
        ),
        (
            s("cli, batch 256, --jsonl"),
            256,
            Some(with(batch(256), &[s("--jsonl"), out("r.jsonl")])),
        ),
        (
            s("cli, batch 256, .npy input streamed by rows, --jsonl"),
            256,
            Some(with(npy_batch(256), &[s("--jsonl"), out("r.jsonl")])),
        ),
    ];

    println!("B = {samples}, T = {T}, H = {H}, E = {E}, C = {C}, f64, bidirectional, device cpu");
    println!("{repeats} repetitions per row after one warm-up, interleaved\n");
    let run = |size: usize, args: &Option<Vec<String>>| {
        // Lets the previous run's worker threads go idle before the next one starts (a CLI
        // run right after an in-process run otherwise shares the cores with spinning threads).
        std::thread::sleep(std::time::Duration::from_millis(300));
        match args {
            None => library(size),
            Some(args) => cli(&model_path, args),
        }
    };
    for (_, size, args) in &rows {
        run(*size, args);
    }
    let mut times = vec![Vec::new(); rows.len()];
    for _ in 0..repeats {
        for (k, (_, size, args)) in rows.iter().enumerate() {
            times[k].push(run(*size, args));
        }
    }
    println!(
        "| run | median s | sequences/s | median / library's | fastest s | fastest / library's |"
    );
    println!("|---|---|---|---|---|---|");
    // The fastest run is the least disturbed by other load on a shared machine.
    let (mut base, mut base_min) = (f64::NAN, f64::NAN);
    for ((name, _, args), t) in rows.iter().zip(times) {
        let fastest = t.iter().copied().fold(f64::INFINITY, f64::min);
        let m = harness::median(t);
        if args.is_none() {
            (base, base_min) = (m, fastest);
        }
        println!(
            "| {name} | {m:.3} | {:.0} | {:.3} | {fastest:.3} | {:.3} |",
            samples as f64 / m,
            m / base,
            fastest / base_min
        );
    }
    if harness::flag("--keep") {
        println!("\nmodel and input kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
}
