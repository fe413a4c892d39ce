//! Baseline attribution methods (gradient, gradient × input, integrated gradients, occlusion)
//! checked against hand/finite-difference computations on small random f64 models.

use lrp_conformance::random::{ArchLayer, Architecture, Rng, SingleLayer};
use lrp_core::attribution::{Attribution, Method};
use lstm_lrp::burn::tensor::{Device, Int, Tensor, TensorData};
use lstm_lrp::{Activation, GateActivation, Input, LstmModel, MergeMode, Precision, Target};

const B: usize = 2;
const T: usize = 4;
const E: usize = 3;

#[allow(deprecated)] // f64 + autodiff on the reference CPU backend
fn device() -> Device {
    Device::flex()
}

fn model() -> LstmModel {
    let params = SingleLayer {
        e: E,
        h: 4,
        c: 3,
        bidirectional: true,
    }
    .random(&mut Rng::new(7));
    LstmModel::new(&params, &device(), Precision::F64).expect("model")
}

fn values() -> Vec<f64> {
    Rng::new(3).normals(B * T * E, 1.0)
}

fn x(v: &[f64]) -> Tensor<3> {
    Tensor::from_data(
        TensorData::new(v.to_vec(), [B, T, E]),
        (&device(), Precision::F64.dtype()),
    )
}

fn host(t: Tensor<3>) -> Vec<f64> {
    t.try_into_vec_as::<f64>().expect("host")
}

fn target_logits(model: &LstmModel, v: &[f64], targets: &[usize]) -> Vec<f64> {
    let l: Vec<f64> = model
        .forward(x(v))
        .expect("forward")
        .try_into_vec_as::<f64>()
        .expect("host");
    let c = model.num_classes();
    targets
        .iter()
        .enumerate()
        .map(|(b, &k)| l[b * c + k])
        .collect()
}

fn attribute(model: &LstmModel, v: &[f64], method: Method) -> Attribution {
    model
        .attribute(x(v), &method, &Target::Class(1))
        .expect("attribute")
}

/// Central differences with h = 1e-6 in f64 agree with autodiff to 1e-7 (absolute, logits O(1)).
#[test]
fn gradient_matches_finite_differences() {
    let model = model();
    let v = values();
    let a = attribute(&model, &v, Method::Gradient);
    assert_eq!(a.scores.dims(), [B, T, E]);
    let g = host(a.scores);
    let h = 1e-6;
    for i in 0..v.len() {
        let (mut up, mut down) = (v.clone(), v.clone());
        up[i] += h;
        down[i] -= h;
        let fu = target_logits(&model, &up, &[1, 1]);
        let fd = target_logits(&model, &down, &[1, 1]);
        let b = i / (T * E);
        let fd_grad = (fu[b] - fd[b]) / (2.0 * h);
        assert!(
            (fd_grad - g[i]).abs() < 1e-7,
            "value {i}: finite difference {fd_grad} vs autodiff {}",
            g[i]
        );
    }
    // The per-step squared norm (the numpy reference's sensitivity) sums g² over features.
    let norms: Vec<f64> = attribute(&model, &v, Method::Gradient)
        .step_squared_norms()
        .try_into_vec_as::<f64>()
        .expect("host");
    assert_eq!(norms.len(), B * T);
    for (bt, n) in norms.iter().enumerate() {
        let want: f64 = g[bt * E..(bt + 1) * E].iter().map(|x| x * x).sum();
        assert!((n - want).abs() < 1e-12, "step {bt}: {n} vs {want}");
    }
    // Gradient × input is the product, value by value.
    let gxi = host(attribute(&model, &v, Method::GradientTimesInput).scores);
    for i in 0..v.len() {
        assert!((gxi[i] - g[i] * v[i]).abs() < 1e-12);
    }
}

/// The completeness gap of integrated gradients shrinks with the number of points and is below
/// 1e-3 of |f(x) − f(0)| at m = 256.
#[test]
fn integrated_gradients_complete() {
    let model = model();
    let v = values();
    let gap = |steps| {
        let a = attribute(
            &model,
            &v,
            Method::IntegratedGradients {
                steps,
                baseline: None,
            },
        );
        a.completeness_error.expect("IG reports completeness")
    };
    let f = target_logits(&model, &v, &[1, 1]);
    let f0 = target_logits(&model, &vec![0.0; v.len()], &[1, 1]);
    let coarse = gap(4);
    let fine = gap(256);
    for b in 0..B {
        let scale = (f[b] - f0[b]).abs().max(1e-3);
        assert!(
            fine[b] / scale < 1e-3,
            "sample {b}: gap {} of {scale}",
            fine[b]
        );
        assert!(
            fine[b] < coarse[b],
            "sample {b}: {} !< {}",
            fine[b],
            coarse[b]
        );
    }
}

/// Occlusion of step 2 equals the logit drop computed by zeroing that step by hand.
#[test]
fn occlusion_is_the_logit_drop() {
    let model = model();
    let v = values();
    let a = attribute(&model, &v, Method::Occlusion);
    let steps: Vec<f64> = a.step_scores().try_into_vec_as::<f64>().expect("host");
    let f = target_logits(&model, &v, &[1, 1]);
    for t in 0..T {
        let mut occluded = v.clone();
        for b in 0..B {
            for e in 0..E {
                occluded[(b * T + t) * E + e] = 0.0;
            }
        }
        let fo = target_logits(&model, &occluded, &[1, 1]);
        for b in 0..B {
            let want = f[b] - fo[b];
            assert!(
                (steps[b * T + t] - want).abs() < 1e-12,
                "step {t} sample {b}: {} vs {want}",
                steps[b * T + t]
            );
        }
    }
}

/// Padding steps get exactly 0 from every method; a token model's scores have the embedding's
/// shape and the gradient there is nonzero.
#[test]
fn padding_is_zero_and_token_models_work() {
    let arch = Architecture {
        embedding: Some((10, true)),
        mask_value: None,
        e: 3,
        layers: vec![ArchLayer::lstm(4, true, MergeMode::Concat)],
        readout: lstm_lrp::Readout::Final,
        step: None,
        head: vec![(2, Activation::Linear)],
        gates: GateActivation::Sigmoid,
    };
    let params = arch.random(&mut Rng::new(11));
    let model = LstmModel::new(&params, &device(), Precision::F64).expect("model");
    let ids: Tensor<2, Int> = Tensor::from_data(
        TensorData::new(vec![3i64, 5, 0, 0, 0, 2, 7, 9], [2, 4]),
        &device(),
    );
    let padded = [(0, 2), (0, 3), (1, 0)];
    for method in [
        Method::Gradient,
        Method::GradientTimesInput,
        Method::IntegratedGradients {
            steps: 8,
            baseline: None,
        },
        Method::Occlusion,
        Method::Lrp(lstm_lrp::ExplainConfig::new()),
    ] {
        let name = method.name();
        let a = model
            .attribute(Input::tokens(ids.clone()), &method, &Target::Predicted)
            .expect("attribute");
        assert_eq!(a.scores.dims(), [2, 4, 3], "{name}");
        let s = host(a.scores);
        for &(b, t) in &padded {
            for e in 0..3 {
                assert_eq!(s[(b * 4 + t) * 3 + e], 0.0, "{name}: sample {b} step {t}");
            }
        }
        assert!(s.iter().any(|&r| r != 0.0), "{name}: all zero");
    }
}
