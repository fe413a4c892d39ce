//! The checks of the suite. Each panics with a precise message on failure.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use lrp_core::{
    ExplainConfig, GateRule, HostExplanation, Input, LrpError, LstmModel, LstmWeights, Matrix,
    ModelParams, Precision, Target,
};

use crate::compare::{Tolerance, assert_close, worst};
use crate::golden;
use crate::random::{Rng, single_layer_shapes};

/// `x (B, T, E)` on `device` in `precision`.
pub fn input(
    values: &[f64],
    shape: [usize; 3],
    device: &Device,
    precision: Precision,
) -> Tensor<3> {
    Tensor::from_data(
        TensorData::new(values.to_vec(), shape),
        (device, precision.dtype()),
    )
}

fn explain(
    model: &LstmModel,
    x: &[f64],
    shape: [usize; 3],
    config: &ExplainConfig,
) -> HostExplanation {
    let x = input(x, shape, model.device(), model.precision());
    model
        .explain(x, config)
        .unwrap_or_else(|e| panic!("explain failed: {e}"))
        .to_host()
        .expect("read back")
}

/// The worst scaled errors `|a − e| / max(1, |e|)` of one golden case.
#[derive(Debug, Clone, PartialEq)]
pub struct GoldenReport {
    /// The case.
    pub name: String,
    /// Worst error of the logits.
    pub logits: f64,
    /// Worst error of the relevance.
    pub relevance: f64,
    /// Worst error of the rest.
    pub rest: f64,
    /// Whether the explained classes equal the reference's.
    pub same_targets: bool,
    /// The case's ε (0 means no stabiliser: the relevance is ill-conditioned in f32).
    pub eps: f64,
}

/// Runs every golden case and reports its worst errors (no assertion on the errors; see
/// [`golden_cases`]). In f32 the reference's own targets are explained, so that a near-tie
/// flipped by f32 rounding does not compare different classes.
pub fn golden_report(device: &Device, precision: Precision) -> Vec<GoldenReport> {
    golden::cases()
        .iter()
        .filter(|case| {
            precision == Precision::F64 || !golden::F64_ONLY.contains(&case.name.as_str())
        })
        .map(|case| {
            let model = LstmModel::new(&case.params, device, precision).expect("model");
            let mut config = case.config.clone();
            if precision == Precision::F32 {
                config = config.with_target(Target::PerSample(
                    case.target.iter().map(|&t| t as usize).collect(),
                ));
            }
            let shape = [case.x.shape[0], case.x.shape[1], case.x.shape[2]];
            let out = explain(&model, &case.x.data, shape, &config);
            GoldenReport {
                name: case.name.clone(),
                logits: worst(&out.logits, &case.logits).scaled_error,
                relevance: worst(&out.relevance, &case.relevance).scaled_error,
                rest: worst(&out.rest, &case.rest).scaled_error,
                same_targets: out.target == case.target,
                eps: case.config.eps,
            }
        })
        .collect()
}

/// Every golden case: logits, target, relevance and rest equal the reference's within the
/// precision's tolerance ([`Tolerance::for_precision`]).
pub fn golden_cases(device: &Device, precision: Precision) {
    let tol = Tolerance::for_precision(precision);
    let report = golden_report(device, precision);
    for r in &report {
        println!(
            "{precision} {:40} logits {:.2e}  relevance {:.2e}  rest {:.2e}",
            r.name, r.logits, r.relevance, r.rest
        );
    }
    for r in &report {
        let name = &r.name;
        assert!(
            r.same_targets,
            "{name}: explained classes differ from the reference"
        );
        assert!(
            r.logits <= tol.logits,
            "{name}: logits error {:.3e} > {:.1e}",
            r.logits,
            tol.logits
        );
        let rel_tol = tol.relevance_for(r.eps);
        assert!(
            r.relevance <= rel_tol,
            "{name}: relevance error {:.3e} > {rel_tol:.1e}",
            r.relevance
        );
        assert!(
            r.rest <= rel_tol,
            "{name}: rest error {:.3e} > {rel_tol:.1e}",
            r.rest
        );
    }
}

/// `|Σ relevance + rest − logit| <= tol · (|logit| + Σ|relevance| + |rest|)` per sample: the
/// error is measured against the size of the terms summed, so cancellation cannot hide it.
#[track_caller]
pub fn assert_conserved(what: &str, out: &HostExplanation, tol: f64) {
    let per_sample = out.steps * out.features;
    for (b, logit) in out.explained_logits().into_iter().enumerate() {
        let r = &out.relevance[b * per_sample..(b + 1) * per_sample];
        let total: f64 = r.iter().sum::<f64>() + out.rest[b];
        let scale = logit.abs() + r.iter().map(|v| v.abs()).sum::<f64>() + out.rest[b].abs();
        let err = (total - logit).abs();
        assert!(
            err <= tol * scale.max(f64::MIN_POSITIVE),
            "{what}, sample {b}: relevance + rest = {total}, explained logit = {logit} \
             (error {err:.3e}, {:.3e} relative to the terms' size {scale:.3e})",
            err / scale
        );
    }
}

/// Conservation at `eps = 0`, `bias_factor = 1` on random single-layer models of many shapes,
/// for batches with `B = 1` and `B = 3` and sequences with `T = 1` and `T = 6`.
pub fn conservation_on_random_models(device: &Device, precision: Precision) {
    let tol = Tolerance::for_precision(precision).property;
    let config = ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0);
    let mut rng = Rng::new(2024);
    for shape in single_layer_shapes() {
        let params = shape.random(&mut rng);
        let model = LstmModel::new(&params, device, precision).expect("model");
        for (b, t) in [(1, 1), (3, 6), (1, 6)] {
            let x = rng.normals(b * t * shape.e, 1.0);
            let out = explain(&model, &x, [b, t, shape.e], &config);
            assert_conserved(&format!("{shape:?}, B={b}, T={t}"), &out, tol);
        }
    }
}

/// A batch of N sequences gives the same explanation as the N sequences one at a time.
pub fn batch_equals_singles(device: &Device, precision: Precision) {
    let tolerance = Tolerance::for_precision(precision);
    let mut rng = Rng::new(7);
    for shape in single_layer_shapes() {
        let params = shape.random(&mut rng);
        let model = LstmModel::new(&params, device, precision).expect("model");
        let (b, t, e) = (4, 5, shape.e);
        let x = rng.normals(b * t * e, 1.0);
        for config in [
            ExplainConfig::new(),
            ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0),
            ExplainConfig::new().with_eps(0.01).with_bias_factor(0.5),
        ] {
            let all = explain(&model, &x, [b, t, e], &config);
            for s in 0..b {
                let one = explain(&model, &x[s * t * e..(s + 1) * t * e], [1, t, e], &config);
                let what = format!("{shape:?}, eps {}, sample {s}", config.eps);
                assert_eq!(one.target[0], all.target[s], "{what}: target");
                let rel = &all.relevance[s * t * e..(s + 1) * t * e];
                let tol = tolerance.alone_for(config.eps);
                assert_close(&format!("{what}: relevance"), &one.relevance, rel, tol);
                assert_close(
                    &format!("{what}: rest"),
                    &one.rest,
                    &all.rest[s..s + 1],
                    tol,
                );
                let c = shape.c;
                let logits = &all.logits[s * c..(s + 1) * c];
                let tol = tolerance.alone;
                assert_close(&format!("{what}: logits"), &one.logits, logits, tol);
            }
        }
    }
}

fn small_model(device: &Device, precision: Precision) -> LstmModel {
    let mut rng = Rng::new(99);
    let params = crate::random::SingleLayer {
        e: 3,
        h: 2,
        c: 2,
        bidirectional: true,
    }
    .random(&mut rng);
    LstmModel::new(&params, device, precision).expect("model")
}

/// Wrong feature size, empty batch, empty sequence, NaN and infinite values, out-of-range and
/// miscounted targets and invalid settings each get their own typed error.
pub fn bad_input_errors(device: &Device, precision: Precision) {
    let model = small_model(device, precision);
    let config = ExplainConfig::new();
    let err = |x: Tensor<3>, config: &ExplainConfig| -> LrpError {
        model
            .explain(x, config)
            .expect_err("bad input must be refused")
    };
    let zeros =
        |shape: [usize; 3]| input(&vec![0.0; shape.iter().product()], shape, device, precision);

    assert_eq!(
        err(zeros([2, 4, 5]), &config),
        LrpError::FeatureSize {
            expected: 3,
            actual: 5
        }
    );
    assert_eq!(err(zeros([0, 4, 3]), &config), LrpError::EmptyBatch);
    assert_eq!(
        err(zeros([2, 0, 3]), &config),
        LrpError::EmptySequence { sample: 0 }
    );
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let mut values = vec![0.5; 3 * 4 * 3];
        values[2 * 12 + 7] = bad;
        let x = input(&values, [3, 4, 3], device, precision);
        assert_eq!(
            err(x, &config),
            LrpError::NonFiniteInput { sample: 2 },
            "{bad}"
        );
    }
    assert_eq!(
        err(
            zeros([2, 4, 3]),
            &config.clone().with_target(Target::Class(2))
        ),
        LrpError::TargetOutOfRange {
            sample: 0,
            class: 2,
            classes: 2
        }
    );
    assert_eq!(
        err(
            zeros([2, 4, 3]),
            &config.clone().with_target(Target::PerSample(vec![0, 5]))
        ),
        LrpError::TargetOutOfRange {
            sample: 1,
            class: 5,
            classes: 2
        }
    );
    assert_eq!(
        err(
            zeros([2, 4, 3]),
            &config.clone().with_target(Target::PerSample(vec![0]))
        ),
        LrpError::TargetCount { given: 1, batch: 2 }
    );
    assert!(matches!(
        err(zeros([2, 4, 3]), &config.clone().with_eps(-1.0)),
        LrpError::InvalidSetting { name: "eps", .. }
    ));
    assert!(matches!(
        model.forward(zeros([1, 2, 4])),
        Err(LrpError::FeatureSize { .. })
    ));
}

/// With `eps = 0`, denominators that are exactly zero (an all-zero model; a zero input step
/// with zero biases) give finite relevance, never NaN: the quotient of a zero denominator is 0.
pub fn zero_denominators_are_defined(device: &Device, precision: Precision) {
    let zero_lstm = |e: usize, h: usize| LstmWeights {
        w_x: Matrix::zeros(e, 4 * h),
        w_h: Matrix::zeros(h, 4 * h),
        b: vec![0.0; 4 * h],
    };
    let config = ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0);
    // Everything zero: every denominator is 0, the logits are 0, all relevance is 0.
    let params = ModelParams::single_layer(
        zero_lstm(2, 3),
        Some(zero_lstm(2, 3)),
        Matrix::zeros(6, 2),
        vec![0.0, 0.0],
    )
    .expect("params");
    let model = LstmModel::new(&params, device, precision).expect("model");
    let out = explain(&model, &[1.0, -2.0, 0.5, 3.0], [1, 2, 2], &config);
    assert!(
        out.relevance.iter().chain(&out.rest).all(|v| *v == 0.0),
        "{out:?}"
    );

    // Random weights, zero biases, a zero first step: g's pre-activation and c are exactly 0
    // there.
    let mut rng = Rng::new(5);
    let mut fw = rng.lstm_weights(2, 3);
    fw.b = vec![0.0; 12];
    let params =
        ModelParams::single_layer(fw, None, rng.matrix(3, 2), vec![0.0, 0.0]).expect("params");
    let model = LstmModel::new(&params, device, precision).expect("model");
    let out = explain(&model, &[0.0, 0.0, 1.0, -1.0, 0.3, 2.0], [1, 3, 2], &config);
    assert!(
        out.relevance.iter().chain(&out.rest).all(|v| v.is_finite()),
        "{out:?}"
    );
    assert!(
        out.relevance[..2].iter().all(|v| *v == 0.0),
        "a zero step gets no relevance"
    );
}

/// Every class can be explained, not only the predicted one, and conservation holds for each.
pub fn explicit_targets(device: &Device, precision: Precision) {
    let tol = Tolerance::for_precision(precision).property;
    let mut rng = Rng::new(11);
    let shape = crate::random::SingleLayer {
        e: 4,
        h: 5,
        c: 3,
        bidirectional: true,
    };
    let model = LstmModel::new(&shape.random(&mut rng), device, precision).expect("model");
    let x = rng.normals(2 * 4 * 4, 1.0);
    for class in 0..3 {
        let config = ExplainConfig::new()
            .with_eps(0.0)
            .with_bias_factor(1.0)
            .with_target(Target::Class(class));
        let out = explain(&model, &x, [2, 4, 4], &config);
        assert_eq!(out.target, vec![class as i64; 2]);
        assert_conserved(&format!("class {class}"), &out, tol);
    }
}

/// One padded batch for an architecture: `B = 4`, `T = 6`; sample 0 is full, 1 post-padded to
/// 3 steps, 2 pre-padded to 4 steps, 3 has a single step. Returns the model input and, per
/// sample, the real steps' first-layer vectors (for the oracle and for unpadded runs) and their
/// positions.
pub struct PaddedBatch {
    /// The batch as the model reads it.
    pub input: Input,
    /// Per sample: the time indices of the real steps.
    pub real: Vec<Vec<usize>>,
    /// Per sample: the real steps as the model reads them alone (an unpadded input).
    pub alone: Vec<Input>,
    /// Per sample: the first layer's input vectors at the real steps.
    pub vectors: Vec<Vec<Vec<f64>>>,
}

const T_PADDED: usize = 6;

/// Mixed lengths, pre- and post-padded: the recurrences compute every row and mask.
fn real_steps() -> Vec<Vec<usize>> {
    vec![
        (0..6).collect(),
        (0..3).collect(),
        (2..6).collect(),
        vec![0],
    ]
}

/// Post-padded, longest first, and pre-padded, earliest first: at every step the real samples
/// are the first ones, so the recurrences compute only those rows (`lrp_core`'s packed path).
fn sorted_real_steps() -> [Vec<Vec<usize>>; 2] {
    [
        vec![
            (0..6).collect(),
            (0..4).collect(),
            (0..3).collect(),
            vec![0],
        ],
        vec![
            (0..6).collect(),
            (2..6).collect(),
            (3..6).collect(),
            vec![5],
        ],
    ]
}

/// Builds the padded batch for `arch`'s model `params` (mixed padding).
pub fn padded_batch(
    arch: &crate::random::Architecture,
    params: &ModelParams,
    rng: &mut Rng,
    device: &Device,
    precision: Precision,
) -> PaddedBatch {
    padded_batch_of(arch, params, rng, device, precision, real_steps())
}

/// Builds a padded batch whose sample `s` is real at the steps `real[s]` (of 6 steps).
pub fn padded_batch_of(
    arch: &crate::random::Architecture,
    params: &ModelParams,
    rng: &mut Rng,
    device: &Device,
    precision: Precision,
    real: Vec<Vec<usize>>,
) -> PaddedBatch {
    let (b, t, e) = (real.len(), T_PADDED, arch.e);
    let mask: Vec<bool> = real
        .iter()
        .flat_map(|r| (0..t).map(move |s| r.contains(&s)))
        .collect();
    let mask_tensor =
        || Tensor::<2, Bool>::from_data(TensorData::new(mask.clone(), [b, t]), device);
    match arch.embedding {
        Some((vocab, mask_zero)) => {
            let ids: Vec<i64> = mask
                .iter()
                .map(|&m| {
                    if m {
                        1 + rng.below(vocab - 1) as i64
                    } else {
                        0
                    }
                })
                .collect();
            let tokens = |data: Vec<i64>, n: usize, len: usize| {
                Tensor::<2, Int>::from_data(TensorData::new(data, [n, len]), device)
            };
            let mut input = Input::tokens(tokens(ids.clone(), b, t));
            if !mask_zero {
                input = input.with_mask(mask_tensor());
            }
            let per_sample: Vec<Vec<i64>> = real
                .iter()
                .enumerate()
                .map(|(s, r)| r.iter().map(|&k| ids[s * t + k]).collect())
                .collect();
            PaddedBatch {
                input,
                alone: per_sample
                    .iter()
                    .map(|ids| Input::tokens(tokens(ids.clone(), 1, ids.len())))
                    .collect(),
                vectors: per_sample
                    .iter()
                    .map(|ids| crate::oracle::first_layer_inputs(params, &[], ids))
                    .collect(),
                real,
            }
        }
        None => {
            let pad_value = arch.mask_value.unwrap_or(0.0);
            let x: Vec<f64> = mask
                .iter()
                .flat_map(|&m| {
                    let v: Vec<f64> = if m {
                        rng.normals(e, 1.0)
                    } else {
                        vec![pad_value; e]
                    };
                    v
                })
                .collect();
            let mut input = Input::features(self::input(&x, [b, t, e], device, precision));
            if arch.mask_value.is_none() {
                input = input.with_mask(mask_tensor());
            }
            let vectors: Vec<Vec<Vec<f64>>> = real
                .iter()
                .enumerate()
                .map(|(s, r)| {
                    r.iter()
                        .map(|&k| x[(s * t + k) * e..(s * t + k + 1) * e].to_vec())
                        .collect()
                })
                .collect();
            PaddedBatch {
                input,
                alone: vectors
                    .iter()
                    .map(|v| {
                        let flat: Vec<f64> = v.iter().flatten().copied().collect();
                        Input::features(self::input(&flat, [1, v.len(), e], device, precision))
                    })
                    .collect(),
                vectors,
                real,
            }
        }
    }
}

/// Sample `s` of the batch explanation `all` (its relevance at its real steps: `relevance`)
/// equals `single`, the sample explained alone: relevance, logits and rest.
pub(crate) fn assert_matches_alone(
    what: &str,
    all: &HostExplanation,
    s: usize,
    relevance: &[f64],
    single: &HostExplanation,
    tol: f64,
) {
    assert_close(
        &format!("{what}: relevance"),
        relevance,
        &single.relevance,
        tol,
    );
    let c = all.classes;
    assert_close(
        &format!("{what}: logits"),
        &all.logits[s * c..(s + 1) * c],
        &single.logits,
        tol,
    );
    assert_close(
        &format!("{what}: rest"),
        &all.rest[s..s + 1],
        &single.rest,
        tol,
    );
}

/// `model`'s explanation of `input` under `config`, read back (panics on an error).
pub fn host_explain(model: &LstmModel, input: Input, config: &ExplainConfig) -> HostExplanation {
    model
        .explain(input, config)
        .unwrap_or_else(|e| panic!("explain failed: {e}"))
        .to_host()
        .expect("read back")
}

/// The relevance of sample `s` at its real steps, `(len, E)` flattened, and whether every
/// padded step holds exactly 0.
fn real_relevance(out: &HostExplanation, s: usize, real: &[usize]) -> (Vec<f64>, bool) {
    let (t, e) = (out.steps, out.features);
    let at = |k: usize| &out.relevance[(s * t + k) * e..(s * t + k + 1) * e];
    let values = real.iter().flat_map(|&k| at(k).to_vec()).collect();
    let padded_zero = (0..t)
        .filter(|k| !real.contains(k))
        .all(|k| at(k).iter().all(|v| *v == 0.0));
    (values, padded_zero)
}

/// Every architecture of [`crate::random::architectures`] on a padded batch (pre- and
/// post-padding, mixed lengths): logits, relevance and rest equal the plain-Rust oracle's
/// ([`Tolerance::oracle`]), padded steps get exactly zero relevance.
pub fn architectures_match_the_oracle(device: &Device, precision: Precision) {
    oracle_agreement(device, precision, GateRule::All);
}

/// The gate rules `prop`, `abs` and `half` ([`GateRule`]) on every architecture of
/// [`crate::random::architectures`]: as [`architectures_match_the_oracle`]. In
/// f32 `prop` is left out: its denominator `z_gate + z_signal` has no bound away from zero, so
/// f32 rounding is amplified without limit (it is checked in f64).
pub fn gate_rules_match_the_oracle(device: &Device, precision: Precision) {
    for rule in [GateRule::Prop, GateRule::Abs, GateRule::Half] {
        if precision == Precision::F32 && rule == GateRule::Prop {
            continue;
        }
        oracle_agreement(device, precision, rule);
    }
}

/// Conservation at `eps = 0`, `bias_factor = 1` under every gate rule, on every architecture.
pub fn conservation_under_every_gate_rule(device: &Device, precision: Precision) {
    let tol = Tolerance::for_precision(precision).property;
    let mut rng = Rng::new(78);
    for (a, arch) in crate::random::architectures().iter().enumerate() {
        let params = arch.random(&mut rng);
        let model = arch.model(&params, device, precision);
        let batch = padded_batch(arch, &params, &mut rng, device, precision);
        for rule in GateRule::ALL_RULES {
            if precision == Precision::F32 && rule == GateRule::Prop {
                continue;
            }
            let config = ExplainConfig::new()
                .with_eps(0.0)
                .with_bias_factor(1.0)
                .with_gate_rule(rule);
            let out = host_explain(&model, batch.input.clone(), &config);
            assert_conserved(
                &format!("architecture {a} ({arch:?}), gate rule {rule}"),
                &out,
                tol,
            );
        }
    }
}

fn oracle_agreement(device: &Device, precision: Precision, gate_rule: GateRule) {
    let tolerance = Tolerance::for_precision(precision);
    let configs: Vec<ExplainConfig> = match precision {
        Precision::F64 => vec![
            ExplainConfig::new(),
            ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0),
            ExplainConfig::new().with_eps(0.01).with_bias_factor(0.5),
        ],
        Precision::F32 => vec![ExplainConfig::new()],
    };
    let configs: Vec<ExplainConfig> = configs
        .into_iter()
        .map(|c| c.with_gate_rule(gate_rule))
        .collect();
    let mut rng = Rng::new(4242);
    for (a, arch) in crate::random::architectures().iter().enumerate() {
        let params = arch.random(&mut rng);
        let model = arch.model(&params, device, precision);
        let batch = padded_batch(arch, &params, &mut rng, device, precision);
        for config in &configs {
            let tol = tolerance.oracle_for(config.eps);
            let out = host_explain(&model, batch.input.clone(), config);
            for (s, real) in batch.real.iter().enumerate() {
                let oracle = crate::oracle::explain_with(
                    &params,
                    &batch.vectors[s],
                    Some(out.target[s] as usize),
                    config.eps,
                    config.bias_factor,
                    gate_rule,
                );
                let what = format!(
                    "architecture {a} ({arch:?}), sample {s}, eps {}, bf {}, gate rule {gate_rule}",
                    config.eps, config.bias_factor
                );
                let c = out.classes;
                assert_close(
                    &format!("{what}: logits"),
                    &out.logits[s * c..(s + 1) * c],
                    &oracle.logits,
                    tol,
                );
                let (relevance, padded_zero) = real_relevance(&out, s, real);
                assert!(padded_zero, "{what}: padded steps must hold exactly 0");
                assert_close(
                    &format!("{what}: relevance"),
                    &relevance,
                    &oracle.relevance,
                    tol,
                );
                assert_close(
                    &format!("{what}: rest"),
                    &out.rest[s..s + 1],
                    &[oracle.rest],
                    tol,
                );
            }
        }
    }
}

/// Conservation at `eps = 0`, `bias_factor = 1` on every architecture, padded batches included.
pub fn conservation_on_random_architectures(device: &Device, precision: Precision) {
    let tol = Tolerance::for_precision(precision).property;
    let config = ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0);
    let mut rng = Rng::new(77);
    for (a, arch) in crate::random::architectures().iter().enumerate() {
        let params = arch.random(&mut rng);
        let model = arch.model(&params, device, precision);
        let batch = padded_batch(arch, &params, &mut rng, device, precision);
        let out = host_explain(&model, batch.input, &config);
        assert_conserved(&format!("architecture {a} ({arch:?})"), &out, tol);
    }
}

/// A padded batch explains each sequence as that sequence alone, unpadded
/// ([`Tolerance::alone`]): mixed padding (every row computed and masked), and post- or pre-padded
/// batches in length order (only the real rows computed), on every architecture.
pub fn padded_batch_equals_unpadded(device: &Device, precision: Precision) {
    let tolerance = Tolerance::for_precision(precision);
    let mut rng = Rng::new(99);
    let [post, pre] = sorted_real_steps();
    for (a, arch) in crate::random::architectures().iter().enumerate() {
        let params = arch.random(&mut rng);
        let model = arch.model(&params, device, precision);
        for (pattern, real) in [
            ("mixed", real_steps()),
            ("post-sorted", post.clone()),
            ("pre-sorted", pre.clone()),
        ] {
            let batch = padded_batch_of(arch, &params, &mut rng, device, precision, real);
            for rule in [GateRule::All, GateRule::Half] {
                let config = ExplainConfig::new().with_gate_rule(rule);
                let tol = tolerance.alone_for(config.eps);
                let all = host_explain(&model, batch.input.clone(), &config);
                for (s, real) in batch.real.iter().enumerate() {
                    let single = host_explain(
                        &model,
                        batch.alone[s].clone(),
                        &config
                            .clone()
                            .with_target(Target::Class(all.target[s] as usize)),
                    );
                    let what = format!(
                        "architecture {a}, {pattern} padding, gate rule {rule}, sample {s}"
                    );
                    let (relevance, padded_zero) = real_relevance(&all, s, real);
                    assert!(padded_zero, "{what}: padded steps must hold exactly 0");
                    assert_matches_alone(&what, &all, s, &relevance, &single, tol);
                }
            }
        }
    }
}

/// Every output position of the per-step architectures of [`crate::random::architectures`]
/// at once ([`LstmModel::explain_every_step`]) on a padded batch: each real position equals the
/// oracle's explanation of that position of the sequence alone ([`Tolerance::oracle`]), positions at
/// padding are marked invalid and hold exactly zero relevance.
pub fn every_step_matches_the_oracle(device: &Device, precision: Precision) {
    let tolerance = Tolerance::for_precision(precision);
    let configs = [
        ExplainConfig::new(),
        ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0),
    ];
    let mut rng = Rng::new(4343);
    let per_step = crate::random::architectures()
        .into_iter()
        .filter(|a| a.readout == lrp_core::Readout::PerStep);
    let mut checked = 0;
    for (a, arch) in per_step.enumerate() {
        let params = arch.random(&mut rng);
        let model = LstmModel::new(&params, device, precision).expect("model");
        let reversed = params.recurrent().iter().filter(|l| l.go_backwards).count() % 2 == 1;
        let batch = padded_batch(&arch, &params, &mut rng, device, precision);
        for config in &configs {
            let tol = tolerance.oracle_for(config.eps);
            let out = model
                .explain_every_step(batch.input.clone(), config)
                .unwrap_or_else(|e| panic!("explain_every_step failed: {e}"));
            let (t, e, c) = (out.steps, out.features, out.classes);
            for (s, real) in batch.real.iter().enumerate() {
                let len = real.len();
                for k in 0..t {
                    let what = format!(
                        "per-step architecture {a} ({arch:?}), sample {s}, position {k}, eps {}",
                        config.eps
                    );
                    let at = s * t + k;
                    let relevance = &out.relevance[at * t * e..(at + 1) * t * e];
                    let input_step = if reversed { t - 1 - k } else { k };
                    let Some(i) = real.iter().position(|&r| r == input_step) else {
                        assert!(!out.valid[at], "{what}: padding marked valid");
                        assert!(relevance.iter().all(|v| *v == 0.0), "{what}: not zero");
                        continue;
                    };
                    assert!(out.valid[at], "{what}: a real position marked invalid");
                    // The same output of the sequence alone: its position in the alone frame.
                    let j = if reversed { len - 1 - i } else { i };
                    let oracle = crate::oracle::explain_reading(
                        &params,
                        &batch.vectors[s],
                        crate::oracle::OracleReading::At(j),
                        Some(out.target[at] as usize),
                        config.eps,
                        config.bias_factor,
                        config.gate_rule,
                    );
                    assert_close(
                        &format!("{what}: logits"),
                        &out.logits[at * c..(at + 1) * c],
                        &oracle.logits,
                        tol,
                    );
                    let at_real: Vec<f64> = real
                        .iter()
                        .flat_map(|&r| relevance[r * e..(r + 1) * e].to_vec())
                        .collect();
                    assert_close(
                        &format!("{what}: relevance"),
                        &at_real,
                        &oracle.relevance,
                        tol,
                    );
                    let padded_zero = (0..t)
                        .filter(|r| !real.contains(r))
                        .all(|r| relevance[r * e..(r + 1) * e].iter().all(|v| *v == 0.0));
                    assert!(
                        padded_zero,
                        "{what}: padded input steps must hold exactly 0"
                    );
                    assert_close(
                        &format!("{what}: rest"),
                        &out.rest[at..at + 1],
                        &[oracle.rest],
                        tol,
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked >= 20, "only {checked} positions were checked");
}
