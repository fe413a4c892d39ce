//! Large batches explained as shards in parallel tasks (`LstmModel::with_parallel_samples`, on
//! by default on Flex) against the batch as one task, on every architecture of the conformance
//! suite: the same results up to rounding (1e-12 of the largest value, f64: a product over fewer
//! rows may be split differently, so partial sums may round differently), for mixed-padded and
//! unpadded batches (down to one sample per shard), under the default rule and a gate rule with
//! bias shares, in a pool of four threads (so that unidirectional models run four shards and
//! bidirectional ones two, whatever the machine's core count).

use lrp_conformance::checks::padded_batch_of;
use lrp_conformance::random::{Rng, architectures};
use lrp_core::{ExplainConfig, GateRule, Input, LstmModel, Precision};

/// Asserts `|a − b| ≤ 1e-12 · max |b|`.
fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}");
    let scale = b.iter().fold(1e-300_f64, |m, v| m.max(v.abs()));
    let worst = a
        .iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()));
    assert!(
        worst <= 1e-12 * scale,
        "{what}: differs by {worst:e} of {scale:e}"
    );
}

/// 96 samples of 6 steps: post-padded, pre-padded, inner-only and full spans, interleaved.
fn spans() -> Vec<Vec<usize>> {
    (0..96)
        .map(|s| match s % 4 {
            0 => (0..1 + s % 6).collect(),
            1 => (s % 6..6).collect(),
            2 => (1..5).collect(),
            _ => (0..6).collect(),
        })
        .collect()
}

#[test]
fn shards_explain_and_run_as_one_task_does() {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(4)
        .build()
        .expect("a pool of four threads");
    let device = lrp_flex::device();
    let mut rng = Rng::new(77);
    let configs = [
        ExplainConfig::new(),
        ExplainConfig::new()
            .with_bias_factor(1.0)
            .with_gate_rule(GateRule::Prop),
    ];
    for (a, arch) in architectures().iter().enumerate() {
        let params = arch.random(&mut rng);
        let sharded = arch.model(&params, &device, Precision::F64);
        let one = sharded.clone().with_parallel_samples(false);
        let mut inputs: Vec<Input> =
            vec![padded_batch_of(arch, &params, &mut rng, &device, Precision::F64, spans()).input];
        if arch.embedding.is_none() {
            // A large unpadded batch, and one of 3 samples (a shard per sample).
            for n in [64, 3] {
                let full = vec![(0..6).collect::<Vec<_>>(); n];
                inputs.push(
                    padded_batch_of(arch, &params, &mut rng, &device, Precision::F64, full).input,
                );
            }
        }
        for input in inputs {
            for config in &configs {
                let explain = |m: &LstmModel| {
                    pool.install(|| m.explain(input.clone(), config))
                        .expect("explain")
                        .to_host()
                        .expect("read back")
                };
                let (got, want) = (explain(&sharded), explain(&one));
                let what = format!("architecture {a}, {config:?}");
                assert_eq!(got.target, want.target, "{what}");
                assert_close(&got.relevance, &want.relevance, &what);
                assert_close(&got.rest, &want.rest, &what);
                assert_close(&got.logits, &want.logits, &what);
            }
            let forward = |m: &LstmModel| -> Vec<f64> {
                pool.install(|| m.forward(input.clone()))
                    .expect("forward")
                    .try_into_vec_as::<f64>()
                    .expect("read back")
            };
            let what = format!("architecture {a}, forward");
            assert_close(&forward(&sharded), &forward(&one), &what);
        }
    }
}
