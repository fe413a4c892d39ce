//! `lstm-lrp explain`: relevances for every sequence of an input file.

use std::path::PathBuf;

use clap::Args;
use lrp_core::{ExplainConfig, HostExplanation, LstmModel, Precision, Target};
use lstm_lrp::backends::{self, DeviceChoice};
use lstm_lrp::files;

use std::io::IsTerminal;

use lstm_lrp::files::InputArrays;

use super::CliError;
use super::model_args::ModelArgs;
use super::render;
use super::words::{self, Vocab};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input file: safetensors with `x` (floats (B, T, E) or token ids (B, T)) and optionally
    /// `lengths (B)` or `mask (B, T)`; a .npy array; or JSON lines of token-id arrays (with
    /// `--vocab` also of word arrays or plain sentences).
    #[arg(long, short, required_unless_present = "text", conflicts_with = "text")]
    input: Option<PathBuf>,
    /// One sentence to explain (needs `--vocab`): lowercased, split on spaces and punctuation.
    #[arg(long, requires = "vocab")]
    text: Option<String>,
    /// Vocabulary: one token per line, line number = token id (line 0 `<pad>`, line 1
    /// `<unk>`, which unknown words map to). Words are shown in every output.
    #[arg(long)]
    vocab: Option<PathBuf>,
    /// Output file (safetensors): relevance (B, T, E), step_relevance (B, T), rest (B),
    /// logits (B, C), target (B), and tokens (B, T) for token input; `.npy`: the relevance.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// JSON lines, one object per sequence: tokens, per-token relevance, target, predicted
    /// class, logit, rest. Written batch by batch, so an interrupted run leaves every finished
    /// sequence.
    #[arg(long)]
    jsonl: Option<PathBuf>,
    /// A self-contained HTML heatmap: one row per sequence, words red (for the explained
    /// class) or blue (against it).
    #[arg(long)]
    html: Option<PathBuf>,
    /// Print every sequence's words coloured by relevance (plain values when stdout is not a
    /// terminal or NO_COLOR is set) instead of the per-step summary.
    #[arg(long)]
    show: bool,
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

/// Reads the input: `--text`, word JSON lines with `--vocab`, or an array file.
fn read_inputs(
    args: &ExplainArgs,
    vocab: Option<&Vocab>,
) -> Result<(InputArrays, String), CliError> {
    if let (Some(text), Some(vocab)) = (&args.text, vocab) {
        let (inputs, unknown) = vocab.encode(&[words::tokenize(text)], "--text")?;
        report_unknown(unknown);
        return Ok((inputs, "--text".into()));
    }
    let path = args
        .input
        .as_ref()
        .ok_or_else(|| CliError::usage("give --input FILE or --text SENTENCE"))?;
    let name = path.display().to_string();
    let is_array_file = matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("safetensors" | "npy")
    );
    if let (Some(vocab), false) = (vocab, is_array_file) {
        let (inputs, unknown) = words::read_jsonl_words(path, vocab)?;
        report_unknown(unknown);
        return Ok((inputs, name));
    }
    let inputs = files::read_input(path).map_err(|e| {
        CliError::file(
            path,
            e,
            "expected `x` as floats (batch, time, features) or token ids (batch, time)",
        )
    })?;
    Ok((inputs, name))
}

fn report_unknown(unknown: usize) {
    if unknown > 0 {
        eprintln!("note: {unknown} word(s) not in the vocabulary were read as <unk>");
    }
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| {
        CliError::usage(format!(
            "{}: {e} (check that the directory exists and is writable)",
            path.display()
        ))
    })
}

pub fn run(args: ExplainArgs) -> Result<(), CliError> {
    let imported = args.model.load()?;
    let model_name = args.model.model.display().to_string();
    let vocab = args.vocab.as_deref().map(Vocab::read).transpose()?;
    let (inputs, input_name) = read_inputs(&args, vocab.as_ref())?;
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
            "{input_name}: the input holds {} but the model {}",
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

    if let (Some(vocab), lrp_core::InputLayer::Embedding { table, .. }) =
        (&vocab, imported.params.input())
    {
        let embedding = table.rows();
        if vocab.len() != embedding {
            return Err(CliError::usage(format!(
                "{}: {} tokens, but the model's embedding has {embedding} rows (use the                  vocabulary the model was trained with)",
                args.vocab
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string()),
                vocab.len()
            )));
        }
    }
    let mut jsonl = match &args.jsonl {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::File::create(path).map_err(|e| {
                CliError::usage(format!(
                    "{}: {e} (check that the directory exists and is writable)",
                    path.display()
                ))
            })?,
        )),
        None => None,
    };
    let progress = Progress::new(batch);
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
        if let (Some(out), Some(path)) = (&mut jsonl, &args.jsonl) {
            render::write_jsonl(
                &render::rows(&part, &inputs, range.start, vocab.as_ref()),
                out,
            )
            .map_err(|e| CliError::usage(format!("{}: {e}", path.display())))?;
        }
        progress.update(range.end);
        match &mut result {
            Some(all) => all.append(part),
            None => result = Some(part),
        }
    }
    let result =
        result.ok_or_else(|| CliError::explain(&input_name, lrp_core::LrpError::EmptyBatch))?;

    progress.finish();
    if let Some(output) = &args.output {
        let bytes = if output.extension().and_then(|e| e.to_str()) == Some("npy") {
            lrp_import::npy::write_f64(
                &[result.batch, result.steps, result.features],
                &result.relevance,
            )
        } else {
            files::explanation_safetensors(&result, inputs.tokens())
                .map_err(|e| CliError::file(output, e, "could not serialise the explanation"))?
        };
        write_file(output, &bytes)?;
    }
    let needs_rows = args.html.is_some() || args.show;
    let rows = needs_rows.then(|| render::rows(&result, &inputs, 0, vocab.as_ref()));
    if let (Some(path), Some(rows)) = (&args.html, &rows) {
        let title = format!("lstm-lrp: {model_name} on {input_name}");
        write_file(path, render::html(rows, &title).as_bytes())?;
    }
    match &rows {
        Some(rows) if args.show => {
            let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
            print!("{}", render::terminal(rows, colour));
        }
        _ => print_summary(&result, args.print),
    }
    Ok(())
}

/// Sequences done and throughput on stderr, only when stderr is a terminal.
struct Progress {
    total: usize,
    start: std::time::Instant,
    on: bool,
}

impl Progress {
    fn new(total: usize) -> Self {
        Progress {
            total,
            start: std::time::Instant::now(),
            on: std::io::stderr().is_terminal(),
        }
    }

    fn update(&self, done: usize) {
        if self.on {
            let rate = done as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
            let width = 30;
            let filled = width * done / self.total.max(1);
            eprint!(
                "\r[{}{}] {done}/{} sequences, {rate:.1}/s",
                "#".repeat(filled),
                " ".repeat(width - filled),
                self.total
            );
        }
    }

    fn finish(&self) {
        if self.on {
            eprintln!();
        }
    }
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
