//! Throughput of `explain` and of the forward pass alone at the TF reference's benchmark
//! configuration: bidirectional LSTM, T = 25, H = 300, E = 200, C = 2, batch 10 and 100, on every
//! CPU backend built in, side by side in one run, f64 (and f32 with `--precision f32`).
//!
//! ```text
//! cargo bench --bench explain                       # f64, both backends
//! cargo bench --bench explain -- --precision f32 --batches 100,1000
//! # GPU and LibTorch backends (see the README's set-up; wgpu runs f32 only)
//! cargo bench --bench explain --features wgpu,tch -- --backends wgpu,tch --precision f32
//! cargo bench --bench explain --features tch -- --backends tch-cuda:0 --batches 100,1000,10000
//! ```
//!
//! `--gate-rules all,prop,abs,half` adds a row per gate rule (default `all`).
//!
//! `--backends` takes the CLI's device names (`flex`, `ndarray`, `cpu`, `wgpu`, `tch`,
//! `tch-cuda:N`, and `tch-cuda` for `tch-cuda:0`); a backend that does not support the precision
//! gets a row saying so.
//!
//! A plain `--bench` harness (no criterion): each configuration is run once to warm up, then
//! repeatedly for at least `--seconds` (default 3) and at least 3 times; the table reports the
//! median time per batch and per sample, and the explain/forward ratio. Results and analysis:
//! `benches/README.md`.

mod harness;

// The same allocator set-up as the `lstm-lrp` binary (see `lstm_lrp::alloc`).
#[global_allocator]
static GLOBAL: lstm_lrp::alloc::MiMalloc = lstm_lrp::alloc::MiMalloc;

use lrp_conformance::random::{Rng, SingleLayer};
use lstm_lrp::backends::{self, BackendError};
use lstm_lrp::burn::tensor::{Tensor, TensorData};
use lstm_lrp::{ExplainConfig, GateRule, LstmModel, Precision};

use harness::reference::{C, E, H, T};

/// The TF reference on this kind of machine, float64, ms per sample (from the issue).
const REFERENCE_MS_PER_SAMPLE: [(usize, f64); 2] = [(10, 67.0), (100, 63.0)];

struct Options {
    precision: Precision,
    batches: Vec<usize>,
    seconds: f64,
    backends: Vec<String>,
    gate_rules: Vec<GateRule>,
}

fn options() -> Options {
    Options {
        precision: harness::parsed("--precision", Precision::F64, "f32"),
        batches: harness::list("--batches", vec![10, 100], "10,100"),
        seconds: harness::parsed("--seconds", 3.0, "3"),
        backends: harness::list(
            "--backends",
            vec!["flex".into(), "ndarray".into()],
            "flex,wgpu",
        ),
        gate_rules: harness::list("--gate-rules", vec![GateRule::All], "all,prop,abs,half"),
    }
}

fn main() {
    lstm_lrp::alloc::keep_freed_memory();
    let o = options();
    let mut rng = Rng::new(1);
    let params = SingleLayer {
        e: E,
        h: H,
        c: C,
        bidirectional: true,
    }
    .random(&mut rng);
    println!(
        "bidirectional LSTM T={T} H={H} E={E} C={C}, {}, eps=1e-3, predicted class; \
         median of >= 3 runs and >= {}s each",
        o.precision, o.seconds
    );
    println!(
        "| backend | batch | gate rule | explain ms/batch | explain ms/sample | forward ms/sample | explain/forward | vs TF reference |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let mut devices = Vec::new();
    for name in &o.backends {
        match harness::device(name, o.precision) {
            Ok((choice, device)) => {
                let what = backends::describe(choice).unwrap_or_else(|e| e.to_string());
                eprintln!("{what}");
                devices.push((name, device));
            }
            // An unsupported precision (f64 on wgpu) is a row of the table, anything else fatal.
            Err(e @ BackendError::Precision { .. }) => println!("| {name} | – | – | {e} | | | | |"),
            Err(e) => {
                eprintln!("--backends {name}: {e}");
                std::process::exit(2);
            }
        }
    }
    for (name, device) in devices {
        let model = LstmModel::new(&params, &device, o.precision).expect("model");
        for &batch in &o.batches {
            let x: Tensor<3> = Tensor::from_data(
                TensorData::new(rng.normals(batch * T * E, 1.0), [batch, T, E]),
                (&device, o.precision.dtype()),
            );
            let forward = harness::measure(o.seconds, || {
                let _ = model.forward(x.clone()).expect("forward").into_data();
            });
            for &rule in &o.gate_rules {
                let config = ExplainConfig::new().with_gate_rule(rule);
                let explain = harness::measure(o.seconds, || {
                    let e = model.explain(x.clone(), &config).expect("explain");
                    let _ = e.relevance.into_data();
                });
                let per_sample = explain.as_secs_f64() * 1e3 / batch as f64;
                let reference = REFERENCE_MS_PER_SAMPLE
                    .iter()
                    .find(|(b, _)| *b == batch)
                    .map_or("–".to_string(), |(_, ms)| {
                        format!("{:.0}× faster", ms / per_sample)
                    });
                println!(
                    "| {name} | {batch} | {rule} | {:.1} | {per_sample:.3} | {:.3} | {:.2} | {reference} |",
                    explain.as_secs_f64() * 1e3,
                    forward.as_secs_f64() * 1e3 / batch as f64,
                    explain.as_secs_f64() / forward.as_secs_f64(),
                );
            }
        }
    }
}
