//! `lstm-lrp check`: validates an import against the framework's own outputs, and the
//! explanation against conservation.
//!
//! The reference file is safetensors with the input `x` (features `(B, T, E)` or token ids
//! `(B, T)`, optionally `lengths`/`mask`) and the framework's output for it: `logits (B, C)`,
//! or `output (B, C)` after the model's final activation (softmax, sigmoid, tanh or relu, which
//! is then applied to our logits before comparing). The fixtures' `*.io.safetensors` files have
//! this layout. A per-step model's reference is `(B, T, C)`, compared at the real output positions.
//! For a PyTorch state dict that does not match, the other readouts are tried and the ones that
//! match are suggested.

use std::path::PathBuf;

use clap::Args;
use lrp_core::{Activation, ExplainConfig, Input, LrpError, LstmModel, Precision, Readout, Step};
use lrp_import::formats::safetensors as st;
use lrp_import::{HostArray, ModelFormat};
use lstm_lrp::io::InputArrays;

use super::CliError;
use super::setup::{ModelArgs, Setup};

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Reference file (safetensors): `x` and the framework's `logits` or `output`.
    #[arg(long, short)]
    reference: PathBuf,
    /// The reference tensor to compare with (default: `logits` if present, else `output`).
    #[arg(long)]
    output_name: Option<String>,
    /// Largest accepted |ours − reference| / max(1, |reference|) of the forward pass (frameworks
    /// usually compute in f32).
    #[arg(long, default_value_t = 1e-5)]
    tolerance: f64,
}

/// The framework's recorded outputs, and how to compare ours with them.
struct Reference<'a> {
    /// `logits` (compared as they are) or an output after the final activation.
    name: &'a str,
    /// `(B, C)`, or `(B, T, C)` for a per-step model.
    expected: &'a HostArray<f64>,
    /// The head's last activation, applied to our logits unless the reference is `logits`.
    activation: Activation,
    /// The rows compared (`None`: all).
    rows: Option<Vec<bool>>,
}

impl Reference<'_> {
    /// The largest |ours − reference| / max(1, |reference|) of `model`'s forward pass, over the
    /// real output positions for a per-step model (the frameworks' values at padding have no
    /// meaning); `None` when the shapes differ.
    fn compare(&self, model: &LstmModel, input: Input) -> Result<Option<f64>, LrpError> {
        let c = model.num_classes();
        let (ours, real) = if model.readout() == Readout::PerStep {
            let real = model.real_outputs(input.clone())?;
            let out = model.forward_steps(input)?;
            let [b, t, _] = out.dims();
            if self.expected.shape != [b, t, c] {
                return Ok(None);
            }
            (host(out)?, Some(real))
        } else {
            let out = model.forward(input)?;
            if self.expected.shape != out.dims().to_vec() {
                return Ok(None);
            }
            (host(out)?, None)
        };
        let error = ours
            .chunks(c)
            .zip(self.expected.data.chunks(c))
            .enumerate()
            .filter(|(i, _)| real.as_ref().is_none_or(|r| r[*i]))
            .filter(|(i, _)| {
                let row = if real.is_some() {
                    i / self.steps_of(model)
                } else {
                    *i
                };
                self.rows.as_ref().is_none_or(|r| r[row])
            })
            .flat_map(|(_, (row, expected))| {
                self.activate(row)
                    .into_iter()
                    .zip(expected)
                    .map(|(a, e)| (a - e).abs() / e.abs().max(1.0))
                    .collect::<Vec<_>>()
            })
            .fold(0.0, f64::max);
        Ok(Some(error))
    }

    /// Output rows per sample: T for a per-step reference, else 1.
    fn steps_of(&self, model: &LstmModel) -> usize {
        if model.readout() == Readout::PerStep {
            self.expected.shape.get(1).copied().unwrap_or(1).max(1)
        } else {
            1
        }
    }

    fn activate(&self, row: &[f64]) -> Vec<f64> {
        match (self.name, self.activation) {
            ("logits", _) => row.to_vec(),
            (_, Activation::Softmax) => softmax(row),
            (_, Activation::Sigmoid) => row.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect(),
            (_, Activation::Tanh) => row.iter().map(|v| v.tanh()).collect(),
            (_, Activation::Relu) => row.iter().map(|v| v.max(0.0)).collect(),
            (_, Activation::Linear) => row.to_vec(),
        }
    }
}

fn host<const D: usize>(t: lrp_core::burn::tensor::Tensor<D>) -> Result<Vec<f64>, LrpError> {
    t.try_into_vec_as::<f64>()
        .map_err(|e| LrpError::Device(format!("{e:?}")))
}

/// For a Keras model with a max-pooling readout: the sequences without padding (`true`), the
/// only ones Keras' `GlobalMaxPooling1D` scores as lstm-lrp does (the Keras layer ignores the
/// mask); `None` for every other model.
fn keras_max_pool_rows(
    setup: &Setup,
    model: &LstmModel,
    input: Input,
) -> Result<Option<Vec<bool>>, LrpError> {
    let keras = matches!(
        setup.imported.format,
        Some(ModelFormat::Keras | ModelFormat::KerasH5 | ModelFormat::KerasWeights)
    );
    if !keras || model.readout() != Readout::Max {
        return Ok(None);
    }
    let [_, t] = input.batch_and_steps();
    let real = model.real_steps(input)?;
    Ok(Some(
        real.chunks(t.max(1))
            .map(|row| row.iter().all(|r| *r))
            .collect(),
    ))
}

/// What the model gives, for a shape mismatch.
fn model_output_shape(model: &LstmModel, batch: usize, steps: usize) -> String {
    let c = model.num_classes();
    if model.readout() == Readout::PerStep {
        format!("({batch}, {steps}, {c}) (one output per step)")
    } else {
        format!("({batch}, {c})")
    }
}

/// For a PyTorch state dict (whose readout is assumed or given, never recorded): the other
/// readouts with which the forward pass matches the reference, as a hint to append to an
/// error; empty when none does or the file says its readout itself.
fn readout_hint(setup: &Setup, reference: &Reference<'_>, input: Input, tolerance: f64) -> String {
    let torch = matches!(
        setup.imported.format,
        Some(ModelFormat::TorchPt | ModelFormat::TorchSafetensors)
    );
    let current = setup.imported.params.readout();
    if !torch {
        return String::new();
    }
    let matching: Vec<String> = [
        Readout::Final,
        Readout::Last,
        Readout::Mean,
        Readout::Max,
        Readout::PerStep,
    ]
    .into_iter()
    .filter(|&r| r != current)
    .filter_map(|r| {
        let params = setup.imported.params.clone().with_readout(r);
        let model = LstmModel::new(&params, setup.model.device(), Precision::F64).ok()?;
        let error = reference.compare(&model, input.clone()).ok()??;
        (error <= tolerance).then(|| format!("--readout {r} (max error {error:.1e})"))
    })
    .collect();
    if matching.is_empty() {
        String::new()
    } else {
        format!("; it matches with {}", matching.join(", or "))
    }
}

fn softmax(row: &[f64]) -> Vec<f64> {
    let max = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let exp: Vec<f64> = row.iter().map(|v| (v - max).exp()).collect();
    let sum: f64 = exp.iter().sum();
    exp.into_iter().map(|v| v / sum).collect()
}

pub fn run(args: CheckArgs) -> Result<(), CliError> {
    let setup = Setup::new(&args.model, "cpu", Precision::F64)?;
    let imported = &setup.imported;
    let reference_name = args.reference.display().to_string();
    // Read once: the input and the framework's outputs come from the same parsed file.
    let bytes = std::fs::read(&args.reference).map_err(|e| {
        CliError::usage(format!(
            "{reference_name}: {e} (a safetensors reference file)"
        ))
    })?;
    let file = st::parse(&bytes).map_err(|e| {
        CliError::file(
            &args.reference,
            e,
            "expected safetensors with `x` and `logits`",
        )
    })?;
    let name = match &args.output_name {
        Some(n) => n.clone(),
        None if file.names().contains(&"logits") => "logits".into(),
        None => "output".into(),
    };
    let expected = st::float_array(&file, &name).map_err(|e| {
        CliError::file(
            &args.reference,
            e,
            "name the reference output with --output-name",
        )
    })?;
    let inputs = InputArrays::from_safetensors(&file)
        .map_err(|e| CliError::file(&args.reference, e, "expected the input as `x`"))?;
    let model = &setup.model;
    let [batch, _] = inputs.batch_and_steps();
    let input = || inputs.input_range(0..batch, model.device(), Precision::F64);
    let activation = imported
        .params
        .head()
        .last()
        .map(|d| d.activation)
        .unwrap_or(Activation::Linear);
    let rows = keras_max_pool_rows(&setup, model, input())
        .map_err(|e| CliError::explain(&reference_name, e))?;
    if let Some(rows) = &rows {
        let skipped = rows.iter().filter(|r| !**r).count();
        if skipped == batch {
            return Err(CliError::usage(format!(
                "{reference_name}: every sequence has padding, and Keras' GlobalMaxPooling1D \
                 pools the padded steps' outputs, which lstm-lrp leaves out (it explains each \
                 sequence as Keras scores it unpadded); give a reference with unpadded sequences"
            )));
        }
    }
    let skipped = rows
        .as_ref()
        .map_or(0, |r| r.iter().filter(|r| !**r).count());
    let reference = Reference {
        name: &name,
        expected: &expected,
        activation,
        rows,
    };
    let forward = reference
        .compare(model, input())
        .map_err(|e| CliError::explain(&reference_name, e))?;
    let Some(forward_error) = forward else {
        let shape = model_output_shape(model, batch, inputs.batch_and_steps()[1]);
        return Err(CliError::usage(format!(
            "{reference_name}: `{name}` has shape {:?}, the model gives {shape}{}",
            expected.shape,
            readout_hint(&setup, &reference, input(), args.tolerance)
        )));
    };
    // Conservation at eps = 0, bias_factor = 1 (a per-step model: at each sequence's last step).
    let explained_model = if model.readout() == Readout::PerStep {
        model
            .at_step(Step::Last)
            .map_err(|e| CliError::explain(&reference_name, e))?
    } else {
        model.clone()
    };
    let explanation = explained_model
        .explain(
            input(),
            &ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0),
        )
        .and_then(|e| e.to_host())
        .map_err(|e| CliError::explain(&reference_name, e))?;
    println!("model: {}", args.model.model.display());
    if skipped > 0 {
        println!(
            "forward: {skipped} padded sample(s) not compared: Keras' GlobalMaxPooling1D pools \
             their padded steps' outputs, lstm-lrp only the real steps"
        );
    }
    println!(
        "forward: {} samples, max error {forward_error:.3e} vs `{name}` of {reference_name} (tolerance {:.1e})",
        batch - skipped,
        args.tolerance
    );

    // Conservation at eps = 0, bias_factor = 1, relative to the size of the summed terms.
    let explained = explanation.explained_logits();
    let per_sample = explanation.steps * explanation.features;
    let conservation_error = (0..batch)
        .map(|b| {
            let row = &explanation.relevance[b * per_sample..(b + 1) * per_sample];
            let total: f64 = row.iter().sum();
            let size = row.iter().map(|v| v.abs()).sum::<f64>()
                + explanation.rest[b].abs()
                + explained[b].abs();
            (total + explanation.rest[b] - explained[b]).abs() / size.max(1.0)
        })
        .fold(0.0, f64::max);
    const CONSERVATION_TOLERANCE: f64 = 1e-10;
    println!(
        "conservation (eps 0, bias_factor 1, f64): max error {conservation_error:.3e} (tolerance {CONSERVATION_TOLERANCE:.0e})"
    );
    if forward_error > args.tolerance {
        return Err(CliError::usage(format!(
            "{reference_name}: the forward pass differs from `{name}` by {forward_error:.3e} > {:.1e} \
             (check the format, --keras-config or the PyTorch module flags; `lstm-lrp inspect` shows what was read){}",
            args.tolerance,
            readout_hint(&setup, &reference, input(), args.tolerance)
        )));
    }
    if conservation_error > CONSERVATION_TOLERANCE {
        return Err(CliError::usage(format!(
            "relevance is not conserved: error {conservation_error:.3e} (please report this model)"
        )));
    }
    println!("ok");
    Ok(())
}
