//! Padding cost: a 2-layer bidirectional LSTM with an embedding (`mask_zero`) explained on
//! batches of mixed lengths, against the same batch with every sequence at full length.
//!
//! ```text
//! cargo bench --bench padded                    # f64, flex, batch 100, T = 50
//! cargo bench --bench padded -- --backend ndarray --batch 32 --seconds 5
//! ```
//!
//! The batch has B sequences of T steps; in the padded cases the lengths are drawn uniformly from
//! `[T/5, T]` (so about 40 % of the positions are padding) and the padding sits after (post) or
//! before (pre) the tokens. The bar (issue "Real architectures"): padding may not cost more than
//! the padded positions' share of the work, i.e. `time(padded) ≤ time(full)`; the table also
//! reports the ideal `real share × time(full)` that a pass doing no work at all on padding would
//! reach. Same harness as `benches/explain.rs` (median of ≥ 3 runs and ≥ `--seconds`).

mod harness;

#[global_allocator]
static GLOBAL: lstm_lrp::alloc::MiMalloc = lstm_lrp::alloc::MiMalloc;

use lrp_conformance::random::{ArchLayer, Architecture, Rng};
use lstm_lrp::backends::{self, DeviceChoice};
use lstm_lrp::burn::tensor::{Int, Tensor, TensorData};
use lstm_lrp::{Activation, ExplainConfig, Input, LstmModel, MergeMode, Precision};

const VOCAB: usize = 5000;
const E: usize = 128;
const H: usize = 128;
const C: usize = 2;

struct Options {
    backend: String,
    batch: usize,
    steps: usize,
    seconds: f64,
    precision: Precision,
}

fn options() -> Options {
    Options {
        backend: harness::parsed("--backend", "flex".to_string(), "flex"),
        batch: harness::parsed("--batch", 100, "100"),
        steps: harness::parsed("--steps", 50, "50"),
        seconds: harness::parsed("--seconds", 3.0, "3"),
        precision: harness::parsed("--precision", Precision::F64, "f32"),
    }
}

/// Token ids `(B, T)`: random ids in `1..VOCAB` on the real steps, 0 (the `mask_zero` padding
/// id) elsewhere; `pre` puts the padding before the tokens.
fn tokens(rng: &mut Rng, lengths: &[usize], steps: usize, pre: bool) -> Vec<i64> {
    let mut ids = Vec::with_capacity(lengths.len() * steps);
    for &len in lengths {
        let pad = steps - len;
        for t in 0..steps {
            let real = if pre { t >= pad } else { t < len };
            ids.push(if real {
                1 + rng.below(VOCAB - 1) as i64
            } else {
                0
            });
        }
    }
    ids
}

fn main() {
    let o = options();
    let architecture = Architecture {
        embedding: Some((VOCAB, true)),
        mask_value: None,
        e: E,
        layers: vec![
            ArchLayer::lstm(H, true, MergeMode::Concat),
            ArchLayer::lstm(H, true, MergeMode::Concat),
        ],
        readout: lstm_lrp::Readout::Final,
        step: None,
        head: vec![(C, Activation::Linear)],
        gates: lstm_lrp::GateActivation::Sigmoid,
    };
    let mut rng = Rng::new(2017);
    let params = architecture.random(&mut rng);
    let choice: DeviceChoice = o.backend.parse().expect("--backend: a device name");
    let device = backends::device_for(choice, o.precision).unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "{}",
        backends::describe(choice).unwrap_or_else(|e| e.to_string())
    );
    let model = LstmModel::new(&params, &device, o.precision).expect("model");
    let config = ExplainConfig::new();

    let (b, t) = (o.batch, o.steps);
    let full = vec![t; b];
    let mixed: Vec<usize> = (0..b).map(|_| t / 5 + rng.below(t - t / 5 + 1)).collect();
    let real_share = mixed.iter().sum::<usize>() as f64 / (b * t) as f64;

    println!(
        "2-layer BiLSTM, embedding {VOCAB}×{E} (mask_zero), H={H}, C={C}, {}, backend {}, B={b}, T={t}",
        o.precision, o.backend
    );
    println!("| batch | real positions | explain ms/batch | vs full | ideal (real share × full) |");
    println!("|---|---|---|---|---|");
    let mut full_time = None;
    for (name, lengths, pre) in [
        ("full length", &full, false),
        ("mixed, post-padded", &mixed, false),
        ("mixed, pre-padded", &mixed, true),
    ] {
        let ids = tokens(&mut rng, lengths, t, pre);
        let x: Tensor<2, Int> = Tensor::from_data(TensorData::new(ids, [b, t]), &device);
        let time = harness::measure(o.seconds, || {
            let e = model
                .explain(Input::tokens(x.clone()), &config)
                .expect("explain");
            let _ = e.relevance.into_data();
        });
        let full = *full_time.get_or_insert(time);
        let share = lengths.iter().sum::<usize>() as f64 / (b * t) as f64;
        println!(
            "| {name} | {:.0} % | {:.1} | {:.2} | {:.2} |",
            share * 100.0,
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() / full.as_secs_f64(),
            if share < 1.0 { real_share } else { 1.0 },
        );
    }
}
