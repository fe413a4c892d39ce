//! Cross-backend agreement: random models, the same input, every backend compiled into this
//! build against one f64 reference (NdArray, else Flex).
//!
//! `cargo test --lib` compares the default CPU backends; `cargo test --lib --features wgpu,tch`
//! (CI, with libtorch and a wgpu adapter) adds wgpu (f32), LibTorch CPU (f64, f32), and, where
//! `LRP_AGREEMENT_CUDA=N` names a CUDA device, LibTorch CUDA. A backend that is built in but
//! cannot start fails the test.
//!
//! Tolerances are the conformance suite's, per precision ([`Tolerance::for_precision`]):
//! `|a − e| ≤ tol · max(1, |e|)` with, for f64, 1e-9 on logits and relevance; for f32 5e-6 on
//! logits and 1e-4 on relevance and rest (ε = 1e-3 bounds every quotient).

use lrp_conformance::Tolerance;
use lrp_conformance::compare::worst;
use lrp_conformance::random::{Rng, SingleLayer};
use lrp_core::{ExplainConfig, HostExplanation, LstmModel, ModelParams, Precision, Target};

use super::{DeviceChoice, check_precision, describe, device};
use crate::burn::tensor::{Device, Tensor, TensorData};

/// Every backend of this build that must agree with the reference, with its precisions.
fn backends_under_test() -> Vec<(DeviceChoice, Precision)> {
    let mut choices = Vec::new();
    for (choice, built) in [
        (DeviceChoice::NdArray, cfg!(feature = "ndarray")),
        (DeviceChoice::Flex, cfg!(feature = "flex")),
        (DeviceChoice::Wgpu, cfg!(feature = "wgpu")),
        (DeviceChoice::Tch, cfg!(feature = "tch")),
    ] {
        if built {
            choices.push(choice);
        }
    }
    if let Ok(index) = std::env::var("LRP_AGREEMENT_CUDA") {
        let index = index
            .parse()
            .unwrap_or_else(|_| panic!("LRP_AGREEMENT_CUDA={index} is not a device index"));
        choices.push(DeviceChoice::TchCuda(index));
    }
    choices
        .into_iter()
        .flat_map(|c| c.precisions().iter().map(move |&p| (c, p)))
        .filter(|&(c, p)| check_precision(c, p).is_ok())
        .collect()
}

fn reference_device() -> (DeviceChoice, Device) {
    let choice = if cfg!(feature = "ndarray") {
        DeviceChoice::NdArray
    } else {
        DeviceChoice::Flex
    };
    (choice, device(choice).expect("a CPU reference backend"))
}

/// The models: single-layer bi- and unidirectional LSTMs of several sizes, the larger ones with
/// enough hidden units for the products to be blocked differently on each backend.
fn models() -> Vec<(SingleLayer, ModelParams)> {
    let mut rng = Rng::new(31_337);
    [
        (1, 1, 1, false),
        (3, 2, 2, true),
        (5, 7, 3, false),
        (16, 12, 3, true),
        (40, 64, 2, true),
    ]
    .into_iter()
    .map(|(e, h, c, bidirectional)| {
        let shape = SingleLayer {
            e,
            h,
            c,
            bidirectional,
        };
        (shape, shape.random(&mut rng))
    })
    .collect()
}

fn run(
    params: &ModelParams,
    device: &Device,
    precision: Precision,
    x: &[f64],
    shape: [usize; 3],
    config: &ExplainConfig,
) -> HostExplanation {
    let model = LstmModel::new(params, device, precision).expect("model");
    let x: Tensor<3> = Tensor::from_data(
        TensorData::new(x.to_vec(), shape),
        (device, precision.dtype()),
    );
    model
        .explain(x, config)
        .and_then(|e| e.to_host())
        .unwrap_or_else(|e| panic!("explain: {e}"))
}

#[test]
fn every_backend_agrees_with_the_f64_reference_on_random_models() {
    let (reference_choice, reference) = reference_device();
    let backends = backends_under_test();
    let mut report = Vec::new();
    for &(choice, precision) in &backends {
        let device = device(choice).unwrap_or_else(|e| panic!("{e}"));
        let what = describe(choice).unwrap_or_else(|e| panic!("{e}"));
        let tol = Tolerance::for_precision(precision);
        let (mut worst_logits, mut worst_relevance) = (0.0f64, 0.0f64);
        let mut rng = Rng::new(4711);
        for (shape, params) in models() {
            let (b, t) = (3, 7);
            let x = rng.normals(b * t * shape.e, 1.0);
            for base in [
                ExplainConfig::new(),
                ExplainConfig::new().with_eps(0.01).with_bias_factor(1.0),
            ] {
                let expected = run(
                    &params,
                    &reference,
                    Precision::F64,
                    &x,
                    [b, t, shape.e],
                    &base,
                );
                // Explain the reference's classes, so that a near-tie that f32 rounding flips
                // does not compare two different classes.
                let config = base.clone().with_target(Target::PerSample(
                    expected.target.iter().map(|&c| c as usize).collect(),
                ));
                let actual = run(&params, &device, precision, &x, [b, t, shape.e], &config);
                let case = format!(
                    "{what} {precision} vs {reference_choice} f64, {shape:?}, eps {}, bias_factor {}",
                    base.eps, base.bias_factor
                );
                let logits = worst(&actual.logits, &expected.logits);
                let relevance = worst(&actual.relevance, &expected.relevance);
                let rest = worst(&actual.rest, &expected.rest);
                assert!(
                    logits.scaled_error <= tol.logits,
                    "{case}: logits {logits:?} > {:.1e}",
                    tol.logits
                );
                for (name, w) in [("relevance", relevance), ("rest", rest)] {
                    assert!(
                        w.scaled_error <= tol.relevance,
                        "{case}: {name} {w:?} > {:.1e}",
                        tol.relevance
                    );
                }
                worst_logits = worst_logits.max(logits.scaled_error);
                worst_relevance = worst_relevance
                    .max(relevance.scaled_error)
                    .max(rest.scaled_error);
            }
        }
        report.push(format!(
            "{what} {precision}: worst scaled error logits {worst_logits:.2e}, relevance/rest \
             {worst_relevance:.2e} (tolerances {:.0e}, {:.0e})",
            tol.logits, tol.relevance
        ));
    }
    println!(
        "agreement with {reference_choice} f64:\n  {}",
        report.join("\n  ")
    );
    assert!(!backends.is_empty());
}
