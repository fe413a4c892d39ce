//! What the architecture costs at the reference configuration (`harness::reference`: T = 25,
//! H = 300, E = 200, C = 2), side by side in one run:
//!
//! 1. **cells**: LSTM against GRU (`reset_after`, the PyTorch/burn/Keras-default variant), uni-
//!    and bidirectional (concat), forward pass and `explain`;
//! 2. **readouts**: the same bidirectional model (same weights) read by its final states, its
//!    last step, the mean and the maximum over the steps, and per step (a per-step model
//!    explained at one step, `T/2`, through `LstmModel::at_step`), for the LSTM and the GRU.
//!
//! ```text
//! cargo bench --bench architectures                         # f64 and f32, flex, batch 100
//! cargo bench --bench architectures -- --precisions f64 --batch 10 --seconds 5
//! cargo bench --bench architectures -- --only readouts --backend ndarray --features ndarray
//! ```
//!
//! `--only cells|readouts` runs one of the two tables, `--gate-rule prop` explains with another
//! gate rule (default `all`), `--backend` takes the CLI's device names. The configurations
//! compared in one table (per precision; per cell for the readouts) are measured interleaved
//! (`harness::measure_interleaved`: a warm-up call each, then rounds calling each once, until
//! each has run at least 3 times and the rounds took `--seconds`, default 3, per configuration),
//! so that a load that comes and goes slows them alike; the tables report medians per batch and
//! the ratios to the LSTM (table 1) or to the `final` readout (table 2). Random weights and
//! inputs (fixed seeds), predicted class, eps = 1e-3. Results: `benches/README.md`.

mod harness;

// The same allocator set-up as the `lstm-lrp` binary (see `lstm_lrp::alloc`).
#[global_allocator]
static GLOBAL: lstm_lrp::alloc::MiMalloc = lstm_lrp::alloc::MiMalloc;

use std::time::Duration;

use lrp_conformance::random::{ArchLayer, Architecture, Cell, Rng};
use lstm_lrp::backends;
use lstm_lrp::burn::tensor::{Device, Tensor, TensorData};
use lstm_lrp::{
    Activation, ExplainConfig, GateActivation, GateRule, LstmModel, MergeMode, Precision, Readout,
    Step,
};

use harness::reference::{C, E, H, T};

struct Options {
    precisions: Vec<Precision>,
    batch: usize,
    seconds: f64,
    backend: String,
    gate_rule: GateRule,
    only: Option<String>,
}

fn options() -> Options {
    Options {
        precisions: harness::list("--precisions", vec![Precision::F64, Precision::F32], "f64"),
        batch: harness::parsed("--batch", 100, "100"),
        seconds: harness::parsed("--seconds", 3.0, "3"),
        backend: harness::parsed("--backend", "flex".to_string(), "ndarray"),
        gate_rule: harness::parsed("--gate-rule", GateRule::All, "prop"),
        only: harness::value("--only"),
    }
}

/// The reference-sized model: one recurrent layer of `cell` on E features, a Dense head of C
/// classes, read as `readout`.
fn reference_model(cell: Cell, bidirectional: bool, readout: Readout) -> Architecture {
    Architecture {
        embedding: None,
        mask_value: None,
        e: E,
        layers: vec![ArchLayer {
            cell,
            ..ArchLayer::lstm(H, bidirectional, MergeMode::Concat)
        }],
        readout,
        step: (readout == Readout::PerStep).then_some(Step::At(T / 2)),
        head: vec![(C, Activation::Linear)],
        gates: GateActivation::Sigmoid,
    }
}

const GRU: Cell = Cell::Gru { reset_after: true };

fn cell_name(cell: Cell) -> &'static str {
    match cell {
        Cell::Lstm => "LSTM",
        Cell::Gru { .. } => "GRU",
    }
}

/// A random `(B, T, E)` input in the model's precision.
fn input(rng: &mut Rng, batch: usize, device: &Device, precision: Precision) -> Tensor<3> {
    Tensor::from_data(
        TensorData::new(rng.normals(batch * T * E, 1.0), [batch, T, E]),
        (device, precision.dtype()),
    )
}

/// Median forward and explain times of each of `models` on `x`, all measured interleaved.
fn times(
    models: &[LstmModel],
    x: &Tensor<3>,
    config: &ExplainConfig,
    seconds: f64,
) -> Vec<[Duration; 2]> {
    let mut fs: Vec<Box<dyn FnMut() + '_>> = Vec::new();
    for model in models {
        fs.push(Box::new(move || {
            let _ = model.forward(x.clone()).expect("forward").into_data();
        }));
        fs.push(Box::new(move || {
            let e = model.explain(x.clone(), config).expect("explain");
            let _ = e.relevance.into_data();
        }));
    }
    harness::measure_interleaved(seconds, &mut fs)
        .chunks(2)
        .map(|t| [t[0], t[1]])
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ratio(a: Duration, b: Duration) -> f64 {
    a.as_secs_f64() / b.as_secs_f64()
}

/// Table 1: LSTM and GRU, uni- and bidirectional, all four models measured interleaved.
fn cells(o: &Options, device: &Device, precision: Precision, rng: &mut Rng) {
    let config = ExplainConfig::new().with_gate_rule(o.gate_rule);
    let x = input(rng, o.batch, device, precision);
    let mut rows = Vec::new();
    let mut models = Vec::new();
    for bidirectional in [false, true] {
        for cell in [Cell::Lstm, GRU] {
            let arch = reference_model(cell, bidirectional, Readout::Final);
            models.push(arch.model(&arch.random(rng), device, precision));
            rows.push((if bidirectional { "bi" } else { "uni" }, cell));
        }
    }
    let t = times(&models, &x, &config, o.seconds);
    for (k, ((layer, cell), [forward, explain])) in rows.into_iter().zip(&t).enumerate() {
        // The LSTM of the same layer shape: the row before a GRU's.
        let [f0, e0] = t[k - k % 2];
        println!(
            "| {precision} | {layer} | {} | {:.1} | {:.1} | {:.2} | {:.2} | {:.2} |",
            cell_name(cell),
            ms(*forward),
            ms(*explain),
            ratio(*explain, *forward),
            ratio(*forward, f0),
            ratio(*explain, e0),
        );
    }
}

/// Table 2: every readout on the same bidirectional model, the five measured interleaved.
fn readouts(o: &Options, device: &Device, precision: Precision, rng: &mut Rng) {
    let config = ExplainConfig::new().with_gate_rule(o.gate_rule);
    let x = input(rng, o.batch, device, precision);
    for cell in [Cell::Lstm, GRU] {
        // One set of weights; only the readout changes.
        let params = reference_model(cell, true, Readout::Final).random(rng);
        let mut names = Vec::new();
        let mut models = Vec::new();
        for readout in Readout::ALL {
            let arch = reference_model(cell, true, readout);
            models.push(arch.model(&params.clone().with_readout(readout), device, precision));
            names.push(match arch.step {
                Some(step) => format!("{readout} (step {step})"),
                None => readout.to_string(),
            });
        }
        let t = times(&models, &x, &config, o.seconds);
        let [f0, e0] = t[0]; // `final`, the first of Readout::ALL
        for (name, [forward, explain]) in names.iter().zip(&t) {
            println!(
                "| {precision} | {} | {name} | {:.1} | {:.1} | {:.2} | {:.2} |",
                cell_name(cell),
                ms(*forward),
                ms(*explain),
                ratio(*forward, f0),
                ratio(*explain, e0),
            );
        }
    }
}

fn main() {
    lstm_lrp::alloc::keep_freed_memory();
    let o = options();
    let run = |table: &str| o.only.as_deref().is_none_or(|only| only == table);
    let mut devices = Vec::new();
    for &precision in &o.precisions {
        match harness::device(&o.backend, precision) {
            Ok((choice, device)) => {
                let what = backends::describe(choice).unwrap_or_else(|e| e.to_string());
                eprintln!("{what}, {precision}");
                devices.push((precision, device));
            }
            Err(e) => eprintln!("--backend {} with {precision}: {e}; skipped", o.backend),
        }
    }
    let header = format!(
        "T={T} H={H} E={E} C={C}, batch {}, backend {}, gate rule {}, eps=1e-3, predicted \
         class; medians of >= 3 interleaved runs, >= {}s per configuration",
        o.batch, o.backend, o.gate_rule, o.seconds
    );
    if run("cells") {
        println!("\nCells: {header}");
        println!(
            "| precision | layer | cell | forward ms/batch | explain ms/batch | explain/forward | \
             forward ÷ LSTM | explain ÷ LSTM |"
        );
        println!("|---|---|---|---|---|---|---|---|");
        let mut rng = Rng::new(25);
        for (precision, device) in &devices {
            cells(&o, device, *precision, &mut rng);
        }
    }
    if run("readouts") {
        println!("\nReadouts (bidirectional): {header}");
        println!(
            "| precision | cell | readout | forward ms/batch | explain ms/batch | \
             forward ÷ final | explain ÷ final |"
        );
        println!("|---|---|---|---|---|---|---|");
        let mut rng = Rng::new(300);
        for (precision, device) in &devices {
            readouts(&o, device, *precision, &mut rng);
        }
    }
}
