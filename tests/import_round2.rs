//! Round-2 framework fixtures (Keras 3 `e`–`p`, PyTorch `p4`–`p11`: GRU cells, go_backwards,
//! pooled, last-step and per-step readouts, masking and packing), from every file format each
//! ships in:
//!
//! - the forward pass equals the framework's recorded float32 outputs within 1e-5 (f64 here),
//!   every output step of a per-step model (the real steps where the batch is padded), and the
//!   recorded outputs of the layers in between;
//! - in f64, each padded sequence explained alone equals its row of the padded batch within
//!   1e-12 (relevance, rest and logits), and relevance is conserved at `eps = 0`,
//!   `bias_factor = 1`: `|Σ R + rest − logit| ≤ 1e-10 · Σ|R|`.
//!
//! Traps the fixture READMEs describe, and how they are handled here:
//! - Keras `GlobalMaxPooling1D` ignores the mask (it pools masked zeros too), while lstm-lrp pools
//!   real steps only: for `l` the pooled vector is compared with the real-step maximum of the
//!   recorded Bidirectional sequence, and the model output only on rows where the two poolings
//!   agree.
//! - Keras unidirectional `return_sequences` layers carry the previous output at masked steps,
//!   lstm-lrp's are 0 there: sequences are compared at real steps.
//! - PyTorch state dicts do not say their readout: each model's README entry does (p6 `last`,
//!   p7 `mean`, p8 `max`, p9 per-step, the others `final`).

mod common;

use std::path::{Path, PathBuf};

use common::{Io, host, softmax_rows};
use lrp_import::formats::safetensors::{float_array, parse};
use lrp_import::{LoadOptions, keras_config_from_file, read_model};
use lstm_lrp::burn::tensor::{Bool, Device, Tensor, TensorData};
use lstm_lrp::{
    Activation, ExplainConfig, HostExplanation, Input, LstmModel, ModelParams, Precision, Readout,
    Step, Target, backends,
};

/// Forward pass vs the framework's float32 outputs.
const FORWARD_TOL: f64 = 1e-5;
/// Our f64 forward pass vs PyTorch's own float64 run (`logits_f64`).
const F64_TOL: f64 = 1e-9;
/// A padded row vs the same sequence alone.
const ALONE_TOL: f64 = 1e-12;
/// Conservation, relative to Σ|R|.
const CONSERVATION_TOL: f64 = 1e-10;

#[derive(Clone, Copy, PartialEq, Debug)]
enum Family {
    Keras,
    Torch,
}

#[derive(Clone, Copy, Debug)]
struct Fixture {
    stem: &'static str,
    family: Family,
    /// The readout of a PyTorch model (from its README entry).
    readout: Readout,
    /// A regression model: explain output 0.
    regression: bool,
}

const fn keras(stem: &'static str) -> Fixture {
    Fixture {
        stem,
        family: Family::Keras,
        readout: Readout::Final,
        regression: false,
    }
}

const fn torch(stem: &'static str, readout: Readout) -> Fixture {
    Fixture {
        stem,
        family: Family::Torch,
        readout,
        regression: false,
    }
}

const FIXTURES: [Fixture; 20] = [
    keras("e_lstm_go_backwards"),
    keras("f_stack_go_backwards_seq"),
    keras("g_gru_reset_after"),
    keras("h_embed_mask_bigru_reset_before"),
    keras("i_gru_seq_lstm_masking"),
    keras("j_bilstm_seq_maxpool"),
    keras("k_embed_mask_lstm_seq_avgpool_mlp"),
    keras("l_embed_mask_bilstm_seq_maxpool"),
    keras("m_lstm_seq_bilstm_seq_timedistributed"),
    keras("n_gru_seq_dense3d"),
    Fixture {
        regression: true,
        ..keras("o_lstm_regression")
    },
    keras("p_masking_lstm_seq_timedistributed"),
    torch("p4_gru_linear", Readout::Final),
    torch("p5_embed_bigru_2layer_packed", Readout::Final),
    torch("p6_bilstm_last", Readout::Last),
    torch("p7_bilstm_meanpool", Readout::Mean),
    torch("p8_lstm_maxpool", Readout::Max),
    torch("p9_lstm_per_step", Readout::PerStep),
    torch("p10_gru_lstm_stack", Readout::Final),
    Fixture {
        regression: true,
        ..torch("p11_lstm_regression", Readout::Final)
    },
];

impl Fixture {
    fn dir(&self) -> &'static str {
        match self.family {
            Family::Keras => "keras3",
            Family::Torch => "pytorch",
        }
    }

    /// The file formats the fixture ships in (file name suffixes).
    fn forms(&self) -> &'static [&'static str] {
        match self.family {
            Family::Keras => &["keras", "h5", "weights.h5"],
            Family::Torch => &["state_dict.pt", "safetensors"],
        }
    }

    fn path(&self, suffix: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(self.dir())
            .join(format!("{}.{suffix}", self.stem))
    }

    fn load(&self, form: &str) -> ModelParams {
        let mut options = LoadOptions::default();
        match self.family {
            Family::Keras if form == "weights.h5" => {
                options.keras_config = Some(
                    keras_config_from_file(self.path("keras"))
                        .unwrap_or_else(|e| panic!("{}.keras: config: {e}", self.stem)),
                );
            }
            Family::Keras => {}
            Family::Torch => options.torch.readout = Some(self.readout),
        }
        read_model(self.path(form), &options)
            .unwrap_or_else(|e| panic!("{}.{form}: import failed: {e}", self.stem))
            .params
    }

    /// The target explained: output 0 of a regression model, else the predicted class.
    fn target(&self) -> Target {
        if self.regression {
            Target::Class(0)
        } else {
            Target::Predicted
        }
    }
}

/// The batch of an io file: feature vectors or token ids, and which steps are real.
struct Batch {
    b: usize,
    t: usize,
    /// Values per step: E for features, 1 for token ids.
    per_step: usize,
    features: Option<Vec<f64>>,
    tokens: Option<Vec<i64>>,
    /// `(B, T)`, true = real step.
    real: Vec<bool>,
    /// The padding must be given as lengths (PyTorch packing); Keras models derive their mask.
    lengths: Option<Vec<usize>>,
}

impl Batch {
    fn read(fx: &Fixture, io: &Io) -> Self {
        let (b, t, per_step, features, tokens) = if io.holds_floats("x") {
            let x = io.f("x");
            let [b, t, e]: [usize; 3] = x.shape.clone().try_into().unwrap();
            (b, t, e, Some(x.data), None)
        } else {
            let x = io.i("x");
            let [b, t]: [usize; 2] = x.shape.clone().try_into().unwrap();
            (b, t, 1, None, Some(x.data))
        };
        let real = if io.has("mask") {
            io.i("mask").data.iter().map(|&m| m != 0).collect()
        } else {
            vec![true; b * t]
        };
        let lengths = (fx.family == Family::Torch && io.has("lengths"))
            .then(|| io.i("lengths").data.iter().map(|&l| l as usize).collect());
        Batch {
            b,
            t,
            per_step,
            features,
            tokens,
            real,
            lengths,
        }
    }

    fn padded(&self) -> bool {
        self.real.iter().any(|r| !r)
    }

    fn real_steps(&self, row: usize) -> Vec<usize> {
        (0..self.t)
            .filter(|&s| self.real[row * self.t + s])
            .collect()
    }

    fn make(&self, rows: &[(usize, Vec<usize>)], device: &Device) -> Input {
        let t = rows[0].1.len();
        assert!(rows.iter().all(|(_, steps)| steps.len() == t));
        let pick = |v: usize| -> Vec<usize> {
            rows.iter()
                .flat_map(|(row, steps)| {
                    steps.iter().flat_map(move |&s| {
                        let start = (row * self.t + s) * v;
                        start..start + v
                    })
                })
                .collect()
        };
        if let Some(x) = &self.features {
            let data: Vec<f64> = pick(self.per_step).into_iter().map(|i| x[i]).collect();
            Input::features(Tensor::from_data(
                TensorData::new(data, [rows.len(), t, self.per_step]),
                (device, Precision::F64.dtype()),
            ))
        } else {
            let ids = self.tokens.as_ref().unwrap();
            let data: Vec<i64> = pick(1).into_iter().map(|i| ids[i]).collect();
            Input::tokens(Tensor::from_data(
                TensorData::new(data, [rows.len(), t]),
                device,
            ))
        }
    }

    /// The whole padded batch, as a user would give it.
    fn input(&self, device: &Device) -> Input {
        let rows: Vec<_> = (0..self.b).map(|r| (r, (0..self.t).collect())).collect();
        let input = self.make(&rows, device);
        match &self.lengths {
            Some(lengths) => input.with_lengths(lengths.clone()),
            None => input,
        }
    }

    /// The whole batch with the io file's mask given explicitly.
    fn input_with_mask(&self, device: &Device) -> Input {
        let rows: Vec<_> = (0..self.b).map(|r| (r, (0..self.t).collect())).collect();
        let mask: Tensor<2, Bool> =
            Tensor::from_data(TensorData::new(self.real.clone(), [self.b, self.t]), device);
        self.make(&rows, device).with_mask(mask)
    }

    /// Row `row` alone, its padding removed.
    fn alone(&self, row: usize, device: &Device) -> Input {
        self.make(&[(row, self.real_steps(row))], device)
    }

    /// The real steps of a `(B, T, F)` row-major array, flattened.
    fn at_real_steps(&self, values: &[f64]) -> Vec<f64> {
        let f = values.len() / (self.b * self.t);
        assert_eq!(values.len(), self.b * self.t * f);
        (0..self.b * self.t)
            .filter(|&i| self.real[i])
            .flat_map(|i| values[i * f..(i + 1) * f].iter().copied())
            .collect()
    }
}

/// The largest `|a − e| / max(1, |e|)`; panics naming `what` above `tol`.
#[track_caller]
fn close(what: &str, actual: &[f64], expected: &[f64], tol: f64) -> f64 {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: {} values, expected {}",
        actual.len(),
        expected.len()
    );
    let (mut worst, mut at) = (0.0f64, 0);
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let err = (a - e).abs() / e.abs().max(1.0);
        let err = if err.is_nan() { f64::INFINITY } else { err };
        if err > worst {
            (worst, at) = (err, i);
        }
    }
    assert!(
        worst <= tol,
        "{what}: element {at} is {} but expected {} (scaled error {worst:.3e} > {tol:.1e})",
        actual[at],
        expected[at]
    );
    worst
}

/// The largest deviation of each check, per fixture family, printed at the end of a test (run
/// with `--nocapture` to see them).
#[derive(Default)]
struct Report {
    rows: Vec<(String, String, f64)>,
}

impl Report {
    fn add(&mut self, fixture: &str, check: &str, value: f64) {
        self.rows
            .push((fixture.to_string(), check.to_string(), value));
    }
    fn print(&self, title: &str) {
        let mut checks: Vec<&str> = self.rows.iter().map(|r| r.1.as_str()).collect();
        checks.sort();
        checks.dedup();
        eprintln!("{title}: max deviation per fixture and check");
        let mut fixtures: Vec<&str> = self.rows.iter().map(|r| r.0.as_str()).collect();
        fixtures.dedup();
        for f in fixtures {
            let line: Vec<String> = checks
                .iter()
                .filter_map(|c| {
                    let v = self
                        .rows
                        .iter()
                        .filter(|r| r.0 == f && r.1 == *c)
                        .map(|r| r.2)
                        .reduce(f64::max)?;
                    Some(format!("{c} {v:.1e}"))
                })
                .collect();
            eprintln!("  {f}: {}", line.join(", "));
        }
    }
}

/// `(B, T, F)` → the maximum over the real steps of each row, `(B, F)`.
fn real_step_max(batch: &Batch, seq: &[f64]) -> Vec<f64> {
    let f = seq.len() / (batch.b * batch.t);
    (0..batch.b)
        .flat_map(|r| {
            let steps = batch.real_steps(r);
            (0..f).map(move |k| {
                steps
                    .iter()
                    .map(|&s| seq[(r * batch.t + s) * f + k])
                    .fold(f64::NEG_INFINITY, f64::max)
            })
        })
        .collect()
}

/// One fixture read from one file: what [`check_forward`] compares.
struct Case<'a> {
    fx: &'a Fixture,
    form: &'a str,
    params: &'a ModelParams,
    model: &'a LstmModel,
    batch: &'a Batch,
    io: &'a Io,
}

impl Case<'_> {
    /// Compares `ours` with the io tensor `theirs` (at the real steps only if `real_only`),
    /// recording the deviation under `kind`.
    fn layer(
        &self,
        report: &mut Report,
        name: &str,
        ours: &Tensor<3>,
        theirs: &str,
        real_only: bool,
    ) {
        let (mut ours, mut theirs) = (host(ours.clone()), self.io.f(theirs).data);
        if real_only {
            ours = self.batch.at_real_steps(&ours);
            theirs = self.batch.at_real_steps(&theirs);
        }
        self.compare(report, "layers", name, &ours, &theirs, FORWARD_TOL);
    }

    #[track_caller]
    fn compare(
        &self,
        report: &mut Report,
        kind: &str,
        name: &str,
        ours: &[f64],
        theirs: &[f64],
        tol: f64,
    ) {
        let what = format!("{}.{}: {name}", self.fx.stem, self.form);
        report.add(self.fx.stem, kind, close(&what, ours, theirs, tol));
    }
}

/// The forward pass of one fixture read from one file, against the framework's outputs.
fn check_forward(case: &Case, report: &mut Report) {
    let Case {
        fx,
        params,
        model,
        batch,
        io,
        ..
    } = *case;
    let device = model.device();
    let c = model.num_classes();
    let per_step = model.readout() == Readout::PerStep;
    let softmax = params.head().last().unwrap().activation == Activation::Softmax;
    let framework_out = match fx.family {
        Family::Keras => io.f("output").data,
        Family::Torch => io.f("logits").data,
    };
    // Every layer's output; for a per-step model read at the last real step.
    let layered = if per_step {
        model.at_step(Step::Last).unwrap()
    } else {
        model.clone()
    };
    let out = layered.forward_layers(batch.input(device)).unwrap();

    if per_step {
        assert!(!softmax, "{}: no per-step fixture ends in softmax", fx.stem);
        let steps = host(model.forward_steps(batch.input(device)).unwrap());
        let steps = batch.at_real_steps(&steps);
        case.compare(
            report,
            "output",
            "per-step outputs at every real step vs the framework's",
            &steps,
            &batch.at_real_steps(&framework_out),
            FORWARD_TOL,
        );
        if fx.family == Family::Torch {
            case.compare(
                report,
                "f64",
                "per-step outputs vs PyTorch's float64 run",
                &steps,
                &batch.at_real_steps(&io.f("logits_f64").data),
                F64_TOL,
            );
        }
    } else {
        let logits = host(out.logits.clone());
        // Rows whose framework output is comparable (see `l` below).
        let mut rows: Vec<usize> = (0..batch.b).collect();
        if fx.stem == "l_embed_mask_bilstm_seq_maxpool" {
            // Keras pools over every step, masked zeros included; we pool real steps only.
            // The pooled vector is compared with the real-step maximum of Keras' own sequence,
            // the logits with the Dense head on that maximum, and the model output on the rows
            // where both poolings agree.
            let pooled = real_step_max(batch, &io.f("layer.bidirectional").data);
            let ours_pooled = host(out.final_state.clone());
            case.compare(
                report,
                "layers",
                "pooled vector vs the real-step max of layer.bidirectional",
                &ours_pooled,
                &pooled,
                FORWARD_TOL,
            );
            let keras_pooled = io.f("layer.global_max_pooling1d").data;
            let f = keras_pooled.len() / batch.b;
            rows.retain(|&r| {
                (0..f).all(|k| (keras_pooled[r * f + k] - ours_pooled[r * f + k]).abs() <= 1e-6)
            });
            assert!(
                rows.contains(&0),
                "{}: the unpadded row 0 pools differently from Keras",
                fx.stem
            );
            let head = &params.head()[0];
            let expected: Vec<f64> = (0..batch.b)
                .flat_map(|r| {
                    let pooled = &pooled[r * f..(r + 1) * f];
                    (0..c).map(move |j| {
                        head.b[j] + (0..f).map(|k| pooled[k] * head.w.get(k, j)).sum::<f64>()
                    })
                })
                .collect();
            case.compare(
                report,
                "output",
                "logits vs Dense(real-step max of layer.bidirectional)",
                &logits,
                &expected,
                FORWARD_TOL,
            );
        }
        let pick = |v: &[f64]| -> Vec<f64> {
            rows.iter()
                .flat_map(|&r| v[r * c..(r + 1) * c].iter().copied())
                .collect()
        };
        if softmax {
            case.compare(
                report,
                "output",
                "logits vs the recorded pre-softmax logits",
                &pick(&logits),
                &pick(&io.f("logits").data),
                FORWARD_TOL,
            );
        }
        let ours = if softmax {
            softmax_rows(&logits, c)
        } else {
            logits.clone()
        };
        case.compare(
            report,
            "output",
            "output vs the framework's",
            &pick(&ours),
            &pick(&framework_out),
            FORWARD_TOL,
        );
        if fx.family == Family::Torch {
            case.compare(
                report,
                "f64",
                "logits vs PyTorch's float64 run",
                &logits,
                &io.f("logits_f64").data,
                F64_TOL,
            );
        }
        // The head's input: the final state or the pooled sequence.
        let head_input = match fx.stem {
            "e_lstm_go_backwards" | "o_lstm_regression" | "i_gru_seq_lstm_masking" => {
                Some("layer.lstm")
            }
            "f_stack_go_backwards_seq" => Some("layer.lstm_1"),
            "g_gru_reset_after" => Some("layer.gru"),
            "h_embed_mask_bigru_reset_before" => Some("layer.bidirectional"),
            "j_bilstm_seq_maxpool" => Some("layer.global_max_pooling1d"),
            "k_embed_mask_lstm_seq_avgpool_mlp" => Some("layer.global_average_pooling1d"),
            _ if fx.family == Family::Torch => Some("fc.input"),
            _ => None,
        };
        if let Some(name) = head_input {
            case.compare(
                report,
                "layers",
                &format!("head input vs {name}"),
                &host(out.final_state.clone()),
                &io.f(name).data,
                FORWARD_TOL,
            );
        }
    }

    // The layers in between. Sequences in the order the layer returns them (a go_backwards
    // one in processing order, as Keras); Keras' unidirectional ones carry the previous output
    // at masked steps, ours are 0 there: compared at real steps.
    let seq = |i: usize| out.sequences[i].clone();
    match fx.stem {
        "f_stack_go_backwards_seq" => case.layer(
            report,
            "go_backwards sequence",
            &seq(0),
            "layer.lstm",
            false,
        ),
        "i_gru_seq_lstm_masking" => case.layer(report, "gru sequence", &seq(0), "layer.gru", true),
        "h_embed_mask_bigru_reset_before"
        | "k_embed_mask_lstm_seq_avgpool_mlp"
        | "l_embed_mask_bilstm_seq_maxpool" => {
            case.layer(report, "embedding", &out.inputs, "layer.embedding", false)
        }
        "m_lstm_seq_bilstm_seq_timedistributed" => case.layer(
            report,
            "first LSTM's sequence",
            &seq(0),
            "layer.lstm",
            false,
        ),
        "p5_embed_bigru_2layer_packed" => {
            case.layer(report, "embedding", &out.inputs, "embedding.output", false);
            case.layer(report, "gru layer 0", &seq(0), "gru.layer0.output", true);
        }
        "p10_gru_lstm_stack" => case.layer(report, "gru sequence", &seq(0), "gru.output", false),
        _ => {}
    }
    if fx.stem == "k_embed_mask_lstm_seq_avgpool_mlp" {
        case.compare(
            report,
            "layers",
            "hidden Dense",
            &host(out.hidden[0].clone()),
            &io.f("layer.dense").data,
            FORWARD_TOL,
        );
    }

    // A Keras model's own mask equals the io file's.
    if batch.padded() && fx.family == Family::Keras {
        let run = |input: Input| {
            host(if per_step {
                model.forward_steps(input).unwrap()
            } else {
                model.forward(input).unwrap().unsqueeze()
            })
        };
        case.compare(
            report,
            "alone",
            "the model's own mask vs the io file's mask",
            &run(batch.input(device)),
            &run(batch.input_with_mask(device)),
            ALONE_TOL,
        );
    }
}

fn explain(model: &LstmModel, input: Input, config: &ExplainConfig, what: &str) -> HostExplanation {
    model
        .explain(input, config)
        .unwrap_or_else(|e| panic!("{what}: explain failed: {e}"))
        .to_host()
        .unwrap()
}

/// `max_b |Σ R + rest − logit| / Σ|R|`.
fn conservation(out: &HostExplanation, what: &str) -> f64 {
    let per = out.steps * out.features;
    let mut worst = 0.0f64;
    for (b, logit) in out.explained_logits().into_iter().enumerate() {
        let r = &out.relevance[b * per..(b + 1) * per];
        let total = r.iter().sum::<f64>() + out.rest[b];
        let size: f64 = r.iter().map(|v| v.abs()).sum();
        let err = (total - logit).abs() / size.max(f64::MIN_POSITIVE);
        assert!(
            err <= CONSERVATION_TOL,
            "{what}, sample {b}: Σ relevance + rest = {total}, explained logit {logit}: error \
             {:.3e} = {err:.3e} of Σ|R| = {size:.3e} > {CONSERVATION_TOL:.0e}",
            (total - logit).abs()
        );
        worst = worst.max(err);
    }
    worst
}

/// Explanations of one fixture read from one file: conservation, and every padded row equal
/// to its sequence alone.
fn check_explanations(
    fx: &Fixture,
    form: &str,
    model: &LstmModel,
    batch: &Batch,
    device: &Device,
    report: &mut Report,
) {
    let family = fx.stem;
    // The models explained: a per-step model at each sequence's last real step and, where
    // every sequence is real there, at its first and last position.
    let mut models = vec![];
    if model.readout() == Readout::PerStep {
        models.push(("step last".to_string(), model.at_step(Step::Last).unwrap()));
        for k in [0, batch.t - 1] {
            if (0..batch.b).all(|r| batch.real[r * batch.t + k]) {
                models.push((format!("step {k}"), model.at_step(Step::At(k)).unwrap()));
            }
        }
    } else {
        models.push((String::new(), model.clone()));
    }
    let conserving = ExplainConfig::new()
        .with_eps(0.0)
        .with_bias_factor(1.0)
        .with_target(fx.target());
    let default = ExplainConfig::new().with_target(fx.target());
    for (step, m) in &models {
        let what = format!("{}.{form} {step}", fx.stem);
        let what = what.trim_end();
        let out = explain(m, batch.input(device), &conserving, what);
        report.add(
            family,
            "conservation",
            conservation(
                &out,
                &format!("{what}: conservation (eps 0, bias_factor 1)"),
            ),
        );
        if model.readout() == Readout::PerStep {
            // The explained step's logits are that step of the per-step outputs (`last`: each
            // sequence's last real step).
            let steps = host(model.forward_steps(batch.input(device)).unwrap());
            let c = out.classes;
            let k = step.strip_prefix("step ").unwrap().parse::<usize>().ok();
            let at: Vec<f64> = (0..batch.b)
                .flat_map(|r| {
                    let t = k.unwrap_or_else(|| *batch.real_steps(r).last().unwrap());
                    let s = (r * batch.t + t) * c;
                    steps[s..s + c].to_vec()
                })
                .collect();
            close(
                &format!("{what}: logits vs forward_steps there"),
                &out.logits,
                &at,
                ALONE_TOL,
            );
        }
        let other = explain(m, batch.input(device), &default, what);
        for (config, all, name) in [
            (&conserving, &out, "eps 0, bf 1"),
            (&default, &other, "eps 1e-3, bf 0"),
        ] {
            let per = batch.t * all.features;
            for row in 0..batch.b {
                let real = batch.real_steps(row);
                let one_what = format!("{what} ({name}): row {row} alone vs in the padded batch");
                let one = explain(
                    m,
                    batch.alone(row, device),
                    &config
                        .clone()
                        .with_target(Target::Class(all.target[row] as usize)),
                    &one_what,
                );
                let e = all.features;
                let row_rel = &all.relevance[row * per..(row + 1) * per];
                let at_real: Vec<f64> = real
                    .iter()
                    .flat_map(|&s| row_rel[s * e..(s + 1) * e].iter().copied())
                    .collect();
                let mut d = close(
                    &format!("{one_what}: relevance"),
                    &one.relevance,
                    &at_real,
                    ALONE_TOL,
                );
                for s in (0..batch.t).filter(|s| !real.contains(s)) {
                    assert!(
                        row_rel[s * e..(s + 1) * e].iter().all(|&v| v == 0.0),
                        "{one_what}: relevance at padding step {s} is not 0"
                    );
                }
                let c = all.classes;
                d = d.max(close(
                    &format!("{one_what}: logits"),
                    &one.logits,
                    &all.logits[row * c..(row + 1) * c],
                    ALONE_TOL,
                ));
                d = d.max(close(
                    &format!("{one_what}: rest"),
                    &one.rest,
                    &all.rest[row..row + 1],
                    ALONE_TOL,
                ));
                report.add(family, "alone", d);
            }
        }
    }
}

#[test]
fn round2_fixtures_match_their_frameworks_and_explain_consistently() {
    let device = backends::default_device();
    let mut report = Report::default();
    for fx in &FIXTURES {
        let io = Io::open(fx.path("io.safetensors"));
        let batch = Batch::read(fx, &io);
        for form in fx.forms() {
            let params = fx.load(form);
            if fx.family == Family::Torch {
                assert_eq!(params.readout(), fx.readout, "{}.{form}: readout", fx.stem);
            }
            let model = LstmModel::new(&params, &device, Precision::F64)
                .unwrap_or_else(|e| panic!("{}.{form}: model: {e}", fx.stem));
            let case = Case {
                fx,
                form,
                params: &params,
                model: &model,
                batch: &batch,
                io: &io,
            };
            check_forward(&case, &mut report);
            check_explanations(fx, form, &model, &batch, &device, &mut report);
        }
    }
    report.print("round-2 fixtures");
}

/// PyTorch: the same weights read with another readout give the alternative outputs the io
/// files record (p6 `logits_final`: the `h_n` head), and p5's packed batch equals its rows run
/// alone by PyTorch (`logits_unpadded`).
#[test]
fn pytorch_alternative_readouts_and_unpadded_rows() {
    let device = backends::default_device();
    for (fx, tensor) in [
        (torch("p6_bilstm_last", Readout::Final), "logits_final"),
        (
            torch("p5_embed_bigru_2layer_packed", Readout::Final),
            "logits_unpadded",
        ),
    ] {
        let io = Io::open(fx.path("io.safetensors"));
        let batch = Batch::read(&fx, &io);
        for form in fx.forms() {
            let model = LstmModel::new(&fx.load(form), &device, Precision::F64).unwrap();
            close(
                &format!("{}.{form} (readout final) vs {tensor}", fx.stem),
                &host(model.forward(batch.input(&device)).unwrap()),
                &io.f(tensor).data,
                FORWARD_TOL,
            );
        }
    }
}

/// `lstm-lrp explain` on every fixture and file format, reading the io file's `x` (and its
/// mask or lengths): the logits it writes equal the framework's outputs, and its relevance the
/// library's. Per-step models need a step, which `explain` does not take (yet): they must fail
/// with one `error:` line that says so — or, once a step can be chosen and the default reads
/// each sequence's last real step, give the framework's outputs there.
#[test]
fn cli_explains_every_fixture() {
    use std::process::Command;
    let dir = std::env::temp_dir().join(format!("lstm-lrp-import-round2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let device = backends::default_device();
    for fx in &FIXTURES {
        let io = Io::open(fx.path("io.safetensors"));
        let batch = Batch::read(fx, &io);
        for form in fx.forms() {
            let what = format!("lstm-lrp explain on {}.{form}", fx.stem);
            let model_path = fx.path(form);
            let io_path = fx.path("io.safetensors");
            let out_path = dir.join(format!("{}.{form}.out.safetensors", fx.stem));
            let mut args: Vec<String> = vec![
                "explain".into(),
                "--model".into(),
                model_path.display().to_string(),
                "--input".into(),
                io_path.display().to_string(),
                "--output".into(),
                out_path.display().to_string(),
                "--overwrite".into(),
                "--print".into(),
                "0".into(),
            ];
            if *form == "weights.h5" {
                args.extend([
                    "--keras-config".into(),
                    fx.path("keras").display().to_string(),
                ]);
            }
            if fx.family == Family::Torch {
                args.extend(["--readout".into(), fx.readout.to_string()]);
            }
            if fx.regression {
                args.extend(["--target".into(), "0".into()]);
            }
            let params = fx.load(form);
            let per_step = params.readout() == Readout::PerStep;
            if per_step {
                // Each sequence's output at its last real step (`--step all` is tested in
                // tests/cli_steps.rs).
                args.extend(["--step".into(), "last".into()]);
            }
            let o = Command::new(env!("CARGO_BIN_EXE_lstm-lrp"))
                .args(&args)
                .output()
                .expect("run lstm-lrp");
            let stderr = String::from_utf8_lossy(&o.stderr);
            assert!(o.status.success(), "{what} failed: {stderr}");
            // Where the CLI's logits cannot equal Keras' (below), the run says so.
            let departs = fx.stem == "l_embed_mask_bilstm_seq_maxpool";
            assert_eq!(
                stderr.contains("note: `global_max_pooling1d` (GlobalMaxPooling1D) ignores"),
                departs,
                "{what}: {stderr}"
            );
            let bytes = std::fs::read(&out_path).unwrap();
            let st = parse(&bytes).unwrap();
            let logits = float_array(&st, "logits").unwrap().data;
            let relevance = float_array(&st, "relevance").unwrap().data;
            let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
            let model = if per_step {
                model.at_step(Step::Last).unwrap()
            } else {
                model
            };
            let config = ExplainConfig::new().with_target(fx.target());
            let lib = explain(&model, batch.input(&device), &config, &what);
            close(
                &format!("{what}: logits vs the library's"),
                &logits,
                &lib.logits,
                ALONE_TOL,
            );
            close(
                &format!("{what}: relevance vs the library's"),
                &relevance,
                &lib.relevance,
                ALONE_TOL,
            );
            if !per_step && fx.stem != "l_embed_mask_bilstm_seq_maxpool" {
                // (The library's logits were checked against the framework's above; here the
                // CLI's are, where the framework's are directly comparable.)
                let expected = match fx.family {
                    Family::Keras if io.has("logits") => io.f("logits").data,
                    Family::Keras => io.f("output").data,
                    Family::Torch => io.f("logits").data,
                };
                close(
                    &format!("{what}: logits vs the framework's"),
                    &logits,
                    &expected,
                    FORWARD_TOL,
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
