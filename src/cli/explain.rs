//! `lstm-lrp explain`: relevances for every sequence of an input file.

use std::path::PathBuf;

use clap::Args;
use lrp_core::{ExplainConfig, HostExplanation, LstmModel, Precision, Target};
use lstm_lrp::backends::{self, DeviceChoice};
use lstm_lrp::files;

use std::io::{IsTerminal, Write};

use lstm_lrp::files::InputArrays;

use super::CliError;
use super::model_args::ModelArgs;
use super::stream::{self, Source};
use super::words::{self, Vocab};
use super::{render, resume};

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
    /// Continue an interrupted run: keep the complete sequences already in the --jsonl file,
    /// skip them in the input and append the rest.
    #[arg(long, requires = "jsonl", conflicts_with_all = ["output", "html"])]
    resume: bool,
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
    #[arg(long, default_value = "predicted", allow_hyphen_values = true)]
    target: String,
    /// Numeric precision.
    #[arg(long, default_value = "f64", value_parser = parse_precision)]
    precision: Precision,
    /// Samples explained at once (bounds memory use).
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    batch_size: u64,
    /// Compute device: `cpu` (the fastest CPU backend built in), `ndarray`, `flex`, and with
    /// the matching cargo features `wgpu`, `tch` or `tch-cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print the per-time-step relevance of at most this many samples to stdout.
    #[arg(long, default_value_t = 8)]
    print: usize,
}

fn parse_precision(s: &str) -> Result<Precision, String> {
    s.parse()
}

/// The class to explain; a per-sample class file is checked against the samples as they come.
fn parse_target(spec: &str) -> Result<Target, CliError> {
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
    classes
        .into_iter()
        .map(|c| {
            usize::try_from(c).map_err(|_| {
                CliError::usage(format!(
                    "{}: class {c} is negative (give class indices 0..C)",
                    path.display()
                ))
            })
        })
        .collect::<Result<_, _>>()
        .map(Target::PerSample)
}

fn target_count_error(spec: &str, classes: usize, samples: usize) -> CliError {
    CliError::usage(format!(
        "{spec}: {classes} target classes for {samples} input samples (give one class per sample)"
    ))
}

/// Opens the input: `--text`, or a file (JSON lines streamed unless `whole`).
fn open_source<'v>(
    args: &ExplainArgs,
    vocab: Option<&'v Vocab>,
    whole: bool,
) -> Result<(Source<'v>, String), CliError> {
    if let (Some(text), Some(vocab)) = (&args.text, vocab) {
        let words = words::tokenize(text);
        let (inputs, unknown) = vocab.encode(std::slice::from_ref(&words), "--text")?;
        report_unknown(unknown);
        return Ok((Source::words(inputs, vec![words]), "--text".into()));
    }
    let path = args
        .input
        .as_ref()
        .ok_or_else(|| CliError::usage("give --input FILE or --text SENTENCE"))?;
    Ok((
        Source::open(path, vocab, whole)?,
        path.display().to_string(),
    ))
}

fn report_unknown(unknown: usize) {
    if unknown > 0 {
        eprintln!("note: {unknown} word(s) not in the vocabulary were read as <unk>");
    }
}

fn write_error(path: &std::path::Path, e: std::io::Error) -> CliError {
    CliError::usage(format!(
        "{}: {e} (check that the directory exists and is writable)",
        path.display()
    ))
}

fn write_file(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    std::fs::write(path, bytes).map_err(|e| write_error(path, e))
}

/// Checks that the input's kind (token ids or feature vectors) is what the model reads.
fn check_input_kind(
    inputs: &InputArrays,
    model: &LstmModel,
    input_name: &str,
) -> Result<(), CliError> {
    if inputs.is_tokens() == model.reads_tokens() {
        return Ok(());
    }
    Err(CliError::usage(format!(
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
    )))
}

pub fn run(args: ExplainArgs) -> Result<(), CliError> {
    let imported = args.model.load()?;
    let model_name = args.model.model.display().to_string();
    let vocab = args.vocab.as_deref().map(Vocab::read).transpose()?;
    if let (Some(vocab), lrp_core::InputLayer::Embedding { table, .. }) =
        (&vocab, imported.params.input())
    {
        let embedding = table.rows();
        if vocab.len() != embedding {
            return Err(CliError::usage(format!(
                "{}: {} tokens, but the model's embedding has {embedding} rows (use the \
                 vocabulary the model was trained with)",
                args.vocab
                    .as_ref()
                    .map_or(String::new(), |p| p.display().to_string()),
                vocab.len()
            )));
        }
    }
    let target = parse_target(&args.target)?;
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
    let device = backends::device_for(choice, args.precision)
        .map_err(|e| CliError::usage(format!("--device: {e}")))?;
    let model = LstmModel::new(&imported.params, &device, args.precision)
        .map_err(|e| CliError::explain(&model_name, e))?;

    // `--output` needs every sample in one padded array; the other outputs stream.
    let (mut source, input_name) = open_source(&args, vocab.as_ref(), args.output.is_some())?;
    if let Target::PerSample(classes) = &target {
        // Check the count before explaining anything (one pass over a JSON-lines file).
        let total = source
            .total()
            .or_else(|| args.input.as_deref().and_then(stream::count_lines));
        if let Some(total) = total.filter(|&n| n != classes.len()) {
            return Err(target_count_error(&args.target, classes.len(), total));
        }
    }
    let done = match &args.jsonl {
        Some(path) if args.resume => resume::completed(path)?,
        _ => 0,
    };
    let skipped = source.skip(done)?;
    if done > 0 {
        eprintln!("resuming after the {skipped} sequence(s) already in the --jsonl file");
    }
    let mut jsonl = match &args.jsonl {
        Some(path) => Some(std::io::BufWriter::new(
            std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(args.resume)
                .truncate(!args.resume)
                .open(path)
                .map_err(|e| write_error(path, e))?,
        )),
        None => None,
    };
    let mut progress = Progress::new(
        || {
            source
                .total()
                .or_else(|| args.input.as_deref().and_then(stream::count_lines))
        },
        skipped,
    );

    let chunk = usize::try_from(args.batch_size).unwrap_or(usize::MAX);
    let keep_result = args.output.is_some();
    let keep_rows = args.html.is_some() || args.show;
    let mut result: Option<HostExplanation> = None;
    let mut all_rows = Vec::new();
    let summary = Summary::new(args.print, !keep_rows);
    let mut samples = skipped;
    while let Some(batch) = source.next_batch(chunk)? {
        check_input_kind(&batch.inputs, &model, &input_name)?;
        let [n, _] = batch.inputs.batch_and_steps();
        let range = batch.start..batch.start + n;
        samples = range.end;
        let batch_config = match &target {
            Target::PerSample(classes) => {
                let Some(part) = classes.get(range.clone()) else {
                    return Err(target_count_error(&args.target, classes.len(), range.end));
                };
                config.clone().with_target(Target::PerSample(part.to_vec()))
            }
            _ => config.clone(),
        };
        let input = batch.inputs.input_range(0..n, &device, args.precision);
        let part = model
            .explain(input, &batch_config)
            .and_then(|e| e.to_host())
            .map_err(|e| CliError::explain(&input_name, offset_sample(e, range.start)))?;
        let rows = (jsonl.is_some() || keep_rows).then(|| {
            let mut rows = render::rows(&part, &batch.inputs, 0, vocab.as_ref());
            // Show the words as written, unknown ones included, rather than `<unk>`.
            for (row, words) in rows.iter_mut().zip(batch.words.iter().flatten()) {
                if row.words.len() == words.len() {
                    row.words.clone_from(words);
                }
            }
            rows
        });
        if let (Some(out), Some(path), Some(rows)) = (&mut jsonl, &args.jsonl, &rows) {
            render::write_jsonl(rows, out).map_err(|e| write_error(path, e))?;
        }
        summary.print(&part, range.start);
        progress.update(n);
        if keep_rows {
            all_rows.extend(rows.unwrap_or_default());
        }
        if keep_result {
            match &mut result {
                Some(all) => all.append(part),
                None => result = Some(part),
            }
        }
    }
    progress.finish();
    if let Target::PerSample(classes) = &target
        && classes.len() != samples
    {
        return Err(target_count_error(&args.target, classes.len(), samples));
    }
    report_unknown(source.unknown());
    summary.finish(samples);

    if let (Some(output), Some(result)) = (&args.output, &result) {
        let bytes = if output.extension().and_then(|e| e.to_str()) == Some("npy") {
            lrp_import::npy::write_f64(
                &[result.batch, result.steps, result.features],
                &result.relevance,
            )
        } else {
            // With `--output` the input was read whole, as one padded array.
            let tokens = match &source {
                Source::Arrays { inputs, .. } => inputs.tokens(),
                Source::Lines(_) | Source::Npy(_) => None,
            };
            files::explanation_safetensors(result, tokens)
                .map_err(|e| CliError::file(output, e, "could not serialise the explanation"))?
        };
        write_file(output, &bytes)?;
    }
    if let Some(path) = &args.html {
        let title = format!("lstm-lrp: {model_name} on {input_name}");
        write_file(path, render::html(&all_rows, &title).as_bytes())?;
    }
    if args.show {
        print!(
            "{}",
            render::terminal(&all_rows, render::Colours::for_stdout())
        );
    }
    Ok(())
}

/// Sequences done and throughput on stderr, only when stderr is a terminal, and only for runs
/// that last (the first update after half a second), so one sentence prints no bar.
struct Progress {
    total: Option<usize>,
    /// Sequences done, those skipped by `--resume` included.
    done: usize,
    /// Sequences explained by this run (for the throughput).
    explained: usize,
    start: std::time::Instant,
    on: bool,
    shown: bool,
}

impl Progress {
    /// `total` is only asked for when stderr is a terminal (counting JSON lines reads the file).
    fn new(total: impl FnOnce() -> Option<usize>, skipped: usize) -> Self {
        let on = std::io::stderr().is_terminal();
        Progress {
            total: if on { total() } else { None },
            done: skipped,
            explained: 0,
            start: std::time::Instant::now(),
            on,
            shown: false,
        }
    }

    fn update(&mut self, more: usize) {
        self.done += more;
        self.explained += more;
        let elapsed = self.start.elapsed().as_secs_f64();
        if !self.on || (!self.shown && elapsed < 0.5) {
            return;
        }
        self.shown = true;
        let rate = self.explained as f64 / elapsed.max(1e-9);
        let done = self.done;
        match self.total {
            Some(total) => {
                let width = 30;
                let filled = (width * done / total.max(1)).min(width);
                eprint!(
                    "\r[{}{}] {done}/{total} sequences, {rate:.1} sequences/s",
                    "#".repeat(filled),
                    " ".repeat(width - filled),
                );
            }
            None => eprint!("\r{done} sequences, {rate:.1} sequences/s"),
        }
    }

    fn finish(&self) {
        if self.shown {
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

/// The per-step relevance of the first `max` samples on stdout, printed as batches finish.
struct Summary {
    max: usize,
    on: bool,
}

impl Summary {
    fn new(max: usize, on: bool) -> Self {
        Summary { max, on }
    }

    /// Prints the samples of `out` (samples `offset..`) that are among the first `max`.
    fn print(&self, out: &HostExplanation, offset: usize) {
        if !self.on || offset >= self.max {
            return;
        }
        let steps = out.step_relevance();
        let logits = out.explained_logits();
        let mut stdout = std::io::stdout().lock();
        for b in 0..out.batch.min(self.max - offset) {
            let row = &steps[b * out.steps..(b + 1) * out.steps];
            let cells: Vec<String> = row
                .iter()
                .enumerate()
                .map(|(t, r)| format!("t{t} {r:+.4}"))
                .collect();
            // A closed stdout (`| head`) is not an error worth stopping the run for.
            let _ = writeln!(
                stdout,
                "sample {}: class {} logit {:.6} rest {:.6}\n  {}",
                offset + b,
                out.target[b],
                logits[b],
                out.rest[b],
                cells.join("  ")
            );
        }
    }

    fn finish(&self, samples: usize) {
        if self.on && self.max > 0 && samples > self.max {
            println!(
                "… {} more samples (see the output files)",
                samples - self.max
            );
        }
    }
}
