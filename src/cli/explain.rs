//! `lstm-lrp explain`: relevances for every sequence of an input file.

use std::path::PathBuf;

use clap::Args;
use lrp_core::{ExplainConfig, HostExplanation, LstmModel, Precision, Target};
use lstm_lrp::backends::{self, DeviceChoice};
use lstm_lrp::files;

use super::CliError;
use super::model_args::ModelArgs;

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input file: safetensors with `x` (floats (B, T, E) or token ids (B, T)) and optionally
    /// `lengths (B)` or `mask (B, T)`; a .npy array; or JSON lines of token-id arrays.
    #[arg(long, short)]
    input: PathBuf,
    /// Output file (safetensors): relevance (B, T, E), step_relevance (B, T), rest (B),
    /// logits (B, C), target (B), and tokens (B, T) for token input.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Stabiliser ε >= 0 of the ε-rule.
    #[arg(long, default_value_t = 1e-3, allow_negative_numbers = true)]
    eps: f64,
    /// Share of bias and stabiliser redistributed to the inputs (1 makes relevance conserved).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    bias_factor: f64,
    /// Rule for the gate ⊙ signal products: all (signal takes all, the references'), prop, abs
    /// or half (Arras et al. 2019).
    #[arg(long, default_value = "all")]
    gate_rule: lrp_core::GateRule,
    /// Class to explain: `predicted`, a class index K, or a file with one class per sample
    /// (.npy, safetensors `target`, or text).
    #[arg(long, default_value = "predicted")]
    target: String,
    /// Numeric precision.
    #[arg(long, default_value = "f64", value_parser = parse_precision)]
    precision: Precision,
    /// Samples explained at once (bounds memory use).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    /// Compute device: `cpu` (the fastest CPU backend built in), `ndarray` or `flex`.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print the per-time-step relevance of at most this many samples to stdout.
    #[arg(long, default_value_t = 8)]
    print: usize,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse()
}

fn parse_target(spec: &str, batch: usize) -> Result<Target, CliError> {
    if spec == "predicted" {
        return Ok(Target::Predicted);
    }
    if let Ok(k) = spec.parse::<usize>() {
        return Ok(Target::Class(k));
    }
    let path = PathBuf::from(spec);
    if !path.exists() {
        return Err(CliError::usage(format!(
            "--target `{spec}` is neither `predicted`, a class index, nor an existing file"
        )));
    }
    let classes = files::read_targets(&path)
        .map_err(|e| CliError::file(&path, e, "expected one class index per sample"))?;
    if classes.len() != batch {
        return Err(CliError::usage(format!(
            "{}: {} target classes for {batch} input samples (give one class per sample)",
            path.display(),
            classes.len()
        )));
    }
    classes
        .into_iter()
        .map(|c| {
            usize::try_from(c)
                .map_err(|_| CliError::usage(format!("{}: class {c} is negative", path.display())))
        })
        .collect::<Result<_, _>>()
        .map(Target::PerSample)
}

pub fn run(args: ExplainArgs) -> Result<(), CliError> {
    let imported = args.model.load()?;
    let model_name = args.model.model.display().to_string();
    let inputs = files::read_input(&args.input).map_err(|e| {
        CliError::file(
            &args.input,
            e,
            "expected `x` as floats (batch, time, features) or token ids (batch, time)",
        )
    })?;
    let [batch, _] = inputs.batch_and_steps();
    let target = parse_target(&args.target, batch)?;
    let config = ExplainConfig::new()
        .with_eps(args.eps)
        .with_bias_factor(args.bias_factor)
        .with_gate_rule(args.gate_rule)
        .with_target(target.clone());
    config
        .validate()
        .map_err(|e| CliError::explain("settings", e))?;

    let choice: DeviceChoice = args
        .device
        .parse()
        .map_err(|e: backends::BackendError| CliError::usage(format!("--device: {e}")))?;
    let device = backends::device(choice).map_err(|e| CliError::usage(format!("--device: {e}")))?;
    let model = LstmModel::new(&imported.params, &device, args.precision)
        .map_err(|e| CliError::explain(&model_name, e))?;
    if inputs.is_tokens() != model.reads_tokens() {
        return Err(CliError::usage(format!(
            "{}: the input holds {} but the model {}",
            args.input.display(),
            if inputs.is_tokens() {
                "token ids"
            } else {
                "feature vectors"
            },
            if model.reads_tokens() {
                "starts with an embedding and reads token ids (batch, time)"
            } else {
                "reads feature vectors (batch, time, features)"
            }
        )));
    }

    let input_name = args.input.display().to_string();
    let chunk = args.batch_size as usize;
    let mut result: Option<HostExplanation> = None;
    for start in (0..batch).step_by(chunk) {
        let range = start..(start + chunk).min(batch);
        let chunk_config = match &target {
            Target::PerSample(classes) => config
                .clone()
                .with_target(Target::PerSample(classes[range.clone()].to_vec())),
            _ => config.clone(),
        };
        let input = inputs.input_range(range.clone(), &device, args.precision);
        let part = model
            .explain(input, &chunk_config)
            .and_then(|e| e.to_host())
            .map_err(|e| CliError::explain(&input_name, offset_sample(e, range.start)))?;
        match &mut result {
            Some(all) => all.append(part),
            None => result = Some(part),
        }
    }
    let result =
        result.ok_or_else(|| CliError::explain(&input_name, lrp_core::LrpError::EmptyBatch))?;

    if let Some(output) = &args.output {
        let bytes = files::explanation_safetensors(&result, inputs.tokens())
            .map_err(|e| CliError::file(output, e, "could not serialise the explanation"))?;
        std::fs::write(output, bytes).map_err(|e| {
            CliError::file(
                output,
                lrp_import::ImportError::Io {
                    path: output.display().to_string(),
                    source: e,
                },
                "check that the directory exists and is writable",
            )
        })?;
    }
    print_summary(&result, args.print);
    Ok(())
}

/// Error sample indices are relative to the chunk; report them relative to the file.
fn offset_sample(err: lrp_core::LrpError, offset: usize) -> lrp_core::LrpError {
    use lrp_core::LrpError::*;
    match err {
        NonFiniteInput { sample } => NonFiniteInput {
            sample: sample + offset,
        },
        EmptySequence { sample } => EmptySequence {
            sample: sample + offset,
        },
        TargetOutOfRange {
            sample,
            class,
            classes,
        } => TargetOutOfRange {
            sample: sample + offset,
            class,
            classes,
        },
        other => other,
    }
}

fn print_summary(out: &HostExplanation, max_samples: usize) {
    let steps = out.step_relevance();
    let logits = out.explained_logits();
    for b in 0..out.batch.min(max_samples) {
        println!(
            "sample {b}: class {} logit {:.6} rest {:.6}",
            out.target[b], logits[b], out.rest[b]
        );
        let row = &steps[b * out.steps..(b + 1) * out.steps];
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(t, r)| format!("t{t} {r:+.4}"))
            .collect();
        println!("  {}", cells.join("  "));
    }
    if out.batch > max_samples {
        println!(
            "… {} more samples (see the output file)",
            out.batch - max_samples
        );
    }
}
