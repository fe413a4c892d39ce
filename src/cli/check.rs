//! `lstm-lrp check`: validates an import against the framework's own outputs, and the
//! explanation against conservation.
//!
//! The reference file is safetensors with the input `x` (features `(B, T, E)` or token ids
//! `(B, T)`, optionally `lengths`/`mask`) and the framework's output for it: `logits (B, C)`,
//! or `output (B, C)` after the model's final activation (softmax or sigmoid, which is then
//! applied to our logits before comparing). The fixtures' `*.io.safetensors` files have this
//! layout.

use std::path::PathBuf;

use clap::Args;
use lrp_core::{Activation, ExplainConfig, Precision};
use lrp_import::formats::safetensors as st;
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
    let input = inputs.input_range(0..batch, model.device(), Precision::F64);
    let explanation = model
        .explain(
            input,
            &ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0),
        )
        .and_then(|e| e.to_host())
        .map_err(|e| CliError::explain(&reference_name, e))?;

    // Forward pass against the framework.
    let c = explanation.classes;
    if expected.shape != [batch, c] {
        return Err(CliError::usage(format!(
            "{reference_name}: `{name}` has shape {:?}, the model gives ({batch}, {c})",
            expected.shape
        )));
    }
    let activation = imported
        .params
        .head()
        .last()
        .map(|d| d.activation)
        .unwrap_or(Activation::Linear);
    let ours: Vec<f64> = explanation
        .logits
        .chunks(c)
        .flat_map(|row| match (name.as_str(), activation) {
            ("logits", _) => row.to_vec(),
            (_, Activation::Softmax) => softmax(row),
            (_, Activation::Sigmoid) => row.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect(),
            _ => row.to_vec(),
        })
        .collect();
    let forward_error = ours
        .iter()
        .zip(&expected.data)
        .map(|(a, e)| (a - e).abs() / e.abs().max(1.0))
        .fold(0.0, f64::max);
    println!("model: {}", args.model.model.display());
    println!(
        "forward: {batch} samples, max error {forward_error:.3e} vs `{name}` of {reference_name} (tolerance {:.1e})",
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
             (check the format, --keras-config or the PyTorch module flags; `lstm-lrp inspect` shows what was read)",
            args.tolerance
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
