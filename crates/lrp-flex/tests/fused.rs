//! The fused step kernels (LSTM, and GRU with `reset_after`) against the tensor path they
//! replace, on every architecture of the conformance suite: the same explanations up to the rounding of `exp` (f64: 1e-12 of the
//! largest relevance; f32: 1e-4), under the default rule (fused forward and backward), under
//! eps = 0 with bias factor 1 (fused forward, tensor backward) and under a gate rule (tensor
//! path throughout); and the gradient baselines, which run autodiff tensors the kernels hand
//! back, unchanged.

use burn::tensor::{Tensor, TensorData};
use lrp_conformance::checks::{host_explain as explain, padded_batch};
use lrp_conformance::random::{Cell, Rng, architectures, single_layer_shapes};
use lrp_core::{ExplainConfig, GateRule, Input, LstmModel, Method, Precision, Target};

/// Largest `|a − b|` over the largest `|b|` (or 1e-300 when `b` is all zeros).
fn relative(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(0.0_f64, |m, v| m.max(v.abs())).max(1e-300);
    a.iter()
        .zip(b)
        .fold(0.0_f64, |m, (x, y)| m.max((x - y).abs()))
        / scale
}

fn tolerance(precision: Precision) -> f64 {
    match precision {
        Precision::F64 => 1e-12,
        Precision::F32 => 1e-4,
    }
}

#[test]
fn models_on_the_flex_device_use_the_fused_kernels() {
    let device = lrp_flex::device();
    let arch = &architectures()[0];
    let params = arch.random(&mut Rng::new(1));
    for precision in [Precision::F64, Precision::F32] {
        let model = LstmModel::new(&params, &device, precision).expect("model");
        assert_eq!(model.fused_kernels(), Some("flex-fused"));
        assert_eq!(
            model.clone().with_fused_kernels(false).fused_kernels(),
            None
        );
        assert_eq!(
            model
                .with_fused_kernels(false)
                .with_fused_kernels(true)
                .fused_kernels(),
            Some("flex-fused")
        );
    }
}

#[test]
fn fused_steps_explain_as_the_tensor_path_does() {
    let device = lrp_flex::device();
    let configs = [
        ("default", ExplainConfig::new()),
        (
            "eps 0, bias factor 1",
            ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0),
        ),
        (
            "gate rule half",
            ExplainConfig::new().with_gate_rule(GateRule::Half),
        ),
    ];
    let mut rng = Rng::new(2024);
    for precision in [Precision::F64, Precision::F32] {
        let mut worst: f64 = 0.0;
        for (a, arch) in architectures().iter().enumerate() {
            let params = arch.random(&mut rng);
            let fused = arch.model(&params, &device, precision);
            assert!(fused.fused_kernels().is_some());
            let plain = fused.clone().with_fused_kernels(false);
            let batch = padded_batch(arch, &params, &mut rng, &device, precision);
            for (name, config) in &configs {
                let want = explain(&plain, batch.input.clone(), config);
                // The tensor path's classes, so that a near-tie cannot pick another one.
                let config = config.clone().with_target(Target::PerSample(
                    want.target.iter().map(|&c| c as usize).collect(),
                ));
                let got = explain(&fused, batch.input.clone(), &config);
                let what = format!("{precision:?}, architecture {a}, {name}");
                let errors = [
                    relative(&got.relevance, &want.relevance),
                    relative(&got.logits, &want.logits),
                    relative(&got.rest, &want.rest),
                ];
                for (part, e) in ["relevance", "logits", "rest"].iter().zip(errors) {
                    assert!(e <= tolerance(precision), "{what}: {part} differs by {e:e}");
                    worst = worst.max(e);
                }
            }
        }
        println!("{precision:?}: worst relative difference fused vs tensor path {worst:e}");
    }
}

#[test]
fn the_gradient_baseline_runs_the_tensor_path_under_the_kernels() {
    let device = lrp_flex::device();
    let mut rng = Rng::new(7);
    // The first LSTM architecture, and the first with a GRU layer (`reset_after`), whose kernel
    // hands the step back after its recurrent product.
    let archs = architectures();
    let gru = archs
        .iter()
        .find(|a| {
            a.layers
                .iter()
                .any(|l| l.cell == Cell::Gru { reset_after: true })
        })
        .expect("a GRU architecture");
    for arch in [&archs[0], gru] {
        let params = arch.random(&mut rng);
        let fused = arch.model(&params, &device, Precision::F64);
        let plain = fused.clone().with_fused_kernels(false);
        let batch = padded_batch(arch, &params, &mut rng, &device, Precision::F64);
        let scores = |m: &LstmModel| -> Vec<f64> {
            m.attribute(batch.input.clone(), &Method::Gradient, &Target::Predicted)
                .expect("gradient")
                .scores
                .try_into_vec_as::<f64>()
                .expect("read back")
        };
        let (got, want) = (scores(&fused), scores(&plain));
        assert!(
            want.iter().any(|v| *v != 0.0),
            "the gradient is not trivially zero"
        );
        assert!(relative(&got, &want) <= 1e-12, "{}", relative(&got, &want));
    }
}

#[test]
fn the_forward_pass_agrees() {
    let device = lrp_flex::device();
    let mut rng = Rng::new(11);
    for arch in architectures() {
        let params = arch.random(&mut rng);
        let fused = arch.model(&params, &device, Precision::F64);
        let plain = fused.clone().with_fused_kernels(false);
        let batch = padded_batch(&arch, &params, &mut rng, &device, Precision::F64);
        let logits = |m: &LstmModel| -> Vec<f64> {
            let out: Tensor<2> = m.forward(batch.input.clone()).expect("forward");
            out.try_into_vec_as::<f64>().expect("read back")
        };
        let e = relative(&logits(&fused), &logits(&plain));
        assert!(e <= 1e-12, "{e:e}");
    }
}

/// Packed steps (the default: each step computes its real rows only, and the input relevance is
/// one product over those rows) against masked steps (every row computed, padding masked), on
/// post-padded batches of lengths 6, 4, 3, 1 (unsorted: the model sorts them), with the bias
/// factor's shares that the packed input relevance places row by row.
#[test]
fn packed_steps_explain_as_masked_steps_do_with_bias_shares() {
    let device = lrp_flex::device();
    let configs = [
        ExplainConfig::new().with_bias_factor(1.0),
        ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0),
        ExplainConfig::new()
            .with_bias_factor(0.5)
            .with_gate_rule(GateRule::Half),
    ];
    let lengths = vec![3, 6, 1, 4];
    let (b, t) = (lengths.len(), 6);
    let mut rng = Rng::new(4242);
    let mut worst: f64 = 0.0;
    for (a, shape) in single_layer_shapes().into_iter().enumerate() {
        let e = shape.e;
        let params = shape.random(&mut rng);
        let packed = LstmModel::new(&params, &device, Precision::F64).expect("model");
        let masked = packed.clone().with_packed_steps(false);
        let x = Tensor::<3>::from_data(
            TensorData::new(rng.normals(b * t * e, 1.0), [b, t, e]),
            (&device, Precision::F64.dtype()),
        );
        let input = Input::features(x).with_lengths(lengths.clone());
        for config in &configs {
            let want = explain(&masked, input.clone(), config);
            let config = config.clone().with_target(Target::PerSample(
                want.target.iter().map(|&c| c as usize).collect(),
            ));
            let got = explain(&packed, input.clone(), &config);
            for (part, err) in [
                ("relevance", relative(&got.relevance, &want.relevance)),
                ("rest", relative(&got.rest, &want.rest)),
            ] {
                assert!(
                    err <= 1e-10,
                    "shape {a}, {config:?}: {part} differs by {err:e}"
                );
                worst = worst.max(err);
            }
            // Padding gets exactly nothing.
            for (s, &len) in lengths.iter().enumerate() {
                let padded = &got.relevance[(s * t + len) * e..(s + 1) * t * e];
                assert!(padded.iter().all(|v| *v == 0.0), "shape {a}, sample {s}");
            }
        }
    }
    println!("packed vs masked steps: worst relative difference {worst:e}");
}
