//! Length bucketing (`lrp_core`'s `bucketing`): a large padded batch of spread lengths is
//! explained in groups of similar length, and every sample's result must still equal its
//! explanation alone.

use burn::tensor::{Device, Int, Tensor, TensorData};
use lrp_core::{Activation, ExplainConfig, Input, MergeMode, Precision, Readout, Step, Target};

use crate::compare::Tolerance;
use crate::random::{Architecture, Rng};

const VOCAB: usize = 50;

/// 96 token sequences of lengths spread over `3..=30` (every third pre-padded, the others
/// post-padded) through a 2-layer BiLSTM with an embedding (`mask_zero`): relevance, rest
/// and logits of every sample equal the sample explained alone (f64 at `eps = 0`:
/// [`Tolerance::alone_eps0`]; f32 at the default `eps`: [`Tolerance::alone`]), padding holds
/// exactly 0, and per-sample targets follow their samples through the regrouping.
pub fn bucketed_batch_equals_singles(device: &Device, precision: Precision) {
    use crate::random::{ArchLayer, Cell};
    let layer = |h, bidirectional, merge, cell, go_backwards| ArchLayer {
        h,
        bidirectional,
        merge,
        cell,
        go_backwards,
    };
    let arch = |layers, readout: Readout| Architecture {
        embedding: Some((VOCAB, true)),
        mask_value: None,
        e: 5,
        layers,
        step: (readout == Readout::PerStep).then_some(Step::Last),
        readout,
        head: vec![(3, Activation::Linear)],
        gates: lrp_core::GateActivation::Sigmoid,
    };
    let gru = Cell::Gru { reset_after: true };
    let archs = [
        arch(
            vec![
                layer(4, true, MergeMode::Concat, Cell::Lstm, false),
                layer(3, true, MergeMode::Sum, Cell::Lstm, false),
            ],
            Readout::Final,
        ),
        // Windows move with a reversed frame (go_backwards) and with every readout.
        arch(
            vec![
                layer(3, false, MergeMode::Concat, gru, true),
                layer(3, true, MergeMode::Concat, Cell::Lstm, false),
            ],
            Readout::Max,
        ),
        arch(
            vec![layer(4, true, MergeMode::Ave, gru, false)],
            Readout::Mean,
        ),
        arch(
            vec![layer(3, false, MergeMode::Concat, Cell::Lstm, true)],
            Readout::Last,
        ),
        arch(
            vec![layer(3, true, MergeMode::Concat, gru, false)],
            Readout::PerStep,
        ),
    ];
    for (a, arch) in archs.iter().enumerate() {
        bucketed_case(device, precision, a, arch);
    }
}

fn bucketed_case(device: &Device, precision: Precision, a: usize, arch: &Architecture) {
    let mut rng = Rng::new(4242 + a as u64);
    let params = arch.random(&mut rng);
    let (b, t) = (96, 30);
    let lengths: Vec<usize> = (0..b).map(|s| 3 + (s * 11) % (t - 2)).collect();
    let pre = |s: usize| s % 3 == 2;
    let windows: Vec<core::ops::Range<usize>> = lengths
        .iter()
        .enumerate()
        .map(|(s, &len)| if pre(s) { t - len..t } else { 0..len })
        .collect();
    assert!(
        lrp_core::__bucketing_group_count(&windows) > 1,
        "this batch must be explained in several groups"
    );
    let mut ids = vec![0i64; b * t];
    let mut alone = Vec::new();
    for (s, window) in windows.iter().enumerate() {
        let tokens: Vec<i64> = window
            .clone()
            .map(|_| 1 + rng.below(VOCAB - 1) as i64)
            .collect();
        for (k, step) in window.clone().enumerate() {
            ids[s * t + step] = tokens[k];
        }
        alone.push(tokens);
    }
    let targets: Vec<usize> = (0..b).map(|s| (s * 5) % 3).collect();
    let x: Tensor<2, Int> = Tensor::from_data(TensorData::new(ids, [b, t]), device);
    // f64 at eps = 0 (everything conserved, nothing absorbed); f32 with the default stabiliser:
    // at eps = 0 a batch and a single row that round differently (LibTorch CPU) differ by up to
    // 5e-3 on these 30-step sequences: a bound that loose would say little.
    let eps = match precision {
        Precision::F64 => 0.0,
        Precision::F32 => ExplainConfig::new().eps,
    };
    let config = ExplainConfig::new()
        .with_eps(eps)
        .with_bias_factor(1.0)
        .with_target(Target::PerSample(targets.clone()));
    let tol = Tolerance::for_precision(precision).alone_for(config.eps);
    // Packed (only the real rows of each step computed) and masked (every row) recurrences.
    for packed in [true, false] {
        let model = arch
            .model(&params, device, precision)
            .with_packed_steps(packed);
        let batch = Batch {
            x: &x,
            windows: &windows,
            alone: &alone,
            targets: &targets,
        };
        check_against_singles(
            &model,
            &batch,
            &config,
            tol,
            &format!("architecture {a}, packed {packed}"),
        );
    }
}

/// A padded batch of token ids `x (B, T)`: each sample's real steps, its tokens alone and its
/// target class.
struct Batch<'a> {
    x: &'a Tensor<2, Int>,
    windows: &'a [core::ops::Range<usize>],
    alone: &'a [Vec<i64>],
    targets: &'a [usize],
}

/// Every sample of the batch explained as alone.
fn check_against_singles(
    model: &lrp_core::LstmModel,
    batch: &Batch<'_>,
    config: &ExplainConfig,
    tol: f64,
    case: &str,
) {
    let Batch {
        x,
        windows,
        alone,
        targets,
    } = *batch;
    let device = model.device();
    let [_, t] = x.dims();
    let all = model
        .explain(Input::tokens(x.clone()), config)
        .and_then(|e| e.to_host())
        .unwrap_or_else(|e| panic!("{e}"));
    let e = all.features;
    for (s, window) in windows.iter().enumerate() {
        assert_eq!(all.target[s] as usize, targets[s], "sample {s}: target");
        let len = window.len();
        let one: Tensor<2, Int> =
            Tensor::from_data(TensorData::new(alone[s].clone(), [1, len]), device);
        let single = model
            .explain(
                Input::tokens(one),
                &config.clone().with_target(Target::Class(targets[s])),
            )
            .and_then(|e| e.to_host())
            .unwrap_or_else(|e| panic!("{e}"));
        let row = &all.relevance[s * t * e..(s + 1) * t * e];
        let what = format!("{case}, sample {s} (length {len}, window {window:?})");
        let outside = row[..window.start * e]
            .iter()
            .chain(&row[window.end * e..])
            .all(|v| *v == 0.0);
        assert!(outside, "{what}: padding must hold exactly 0");
        crate::checks::assert_matches_alone(
            &what,
            &all,
            s,
            &row[window.start * e..window.end * e],
            &single,
            tol,
        );
    }
}
