//! `lstm-lrp explain`: read → explain → write, batch by batch.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, SyncSender};

use clap::Args;
use lrp_core::{
    ExplainConfig, HostExplanation, HostStepExplanations, InputLayer, LstmModel, Precision,
    Readout, Step, Target,
};
use lstm_lrp::io::{
    InputArrays, InputBatch, InputPath, InputSource, IoError, OutputPath, ReadAhead, Vocab,
    count_json_lines, read_targets,
};

use lstm_lrp::batched::offset_sample;

use super::CliError;
use super::output::{OutputPlan, Outputs};
use super::progress::Progress;
use super::setup::{ModelArgs, Setup};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    model: ModelArgs,
    /// Input file, or `-` for stdin: safetensors or .npz with `x` (floats (B, T, E) or token
    /// ids (B, T)) and optionally `lengths (B)` or `mask (B, T)`; a .npy array; or JSON lines of
    /// token-id arrays (with `--vocab` also of word arrays or plain sentences), bare or in an
    /// object's `text`, `sentence`, `tokens`, `words`, `input_ids` or `ids` field.
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
    /// Written when the run completes, atomically.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// JSON lines, one object per sequence (tokens, per-token relevance, target, predicted
    /// class, logit, rest), or `-` for stdout. Written batch by batch, so an interrupted run
    /// leaves every finished sequence.
    #[arg(long)]
    jsonl: Option<PathBuf>,
    /// Continue an interrupted run: keep the complete sequences already in the --jsonl file,
    /// skip them in the input and append the rest.
    #[arg(long, requires = "jsonl", conflicts_with_all = ["output", "html", "overwrite"])]
    resume: bool,
    /// Replace existing output files (otherwise an existing --output, --jsonl or --html file is
    /// an error and nothing is written).
    #[arg(long)]
    overwrite: bool,
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
    /// Compute device: `cpu` (the fastest CPU backend built in), `flex`, and with the matching
    /// cargo features `ndarray`, `wgpu`, `tch` or `tch-cuda:N`.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Print the per-time-step relevance of at most this many samples to stdout.
    #[arg(long, default_value_t = 8)]
    print: usize,
    /// For a model with one output per step (sequence labelling, forecasting at every step):
    /// the output to explain — a position K (0-based, in the order the model returns its
    /// outputs), `last` (each sequence's last real step), or `all` (every real position; the
    /// arrays gain an output-position axis, relevance (B, T_out, T, E)).
    #[arg(long, value_parser = parse_step_choice)]
    step: Option<StepChoice>,
}

/// `--step`: one output position, or all of them.
#[derive(Debug, Clone, Copy, PartialEq)]
enum StepChoice {
    One(Step),
    All,
}

fn parse_step_choice(s: &str) -> Result<StepChoice, String> {
    match s {
        "all" => Ok(StepChoice::All),
        other => other
            .parse::<Step>()
            .map(StepChoice::One)
            .map_err(|e| format!("{e}, or `all`")),
    }
}

/// The model to explain with: a per-step model read at the chosen step.
fn step_model(setup: &Setup, step: Option<StepChoice>) -> Result<LstmModel, CliError> {
    let model = &setup.model;
    let per_step = model.readout() == Readout::PerStep;
    match step {
        None if per_step => Err(CliError::usage(
            "the model has one output per time step (its head reads every step); choose the \
             output to explain with --step K (a position), --step last (each sequence's last \
             real step) or --step all",
        )),
        Some(_) if !per_step => Err(CliError::usage(format!(
            "--step is for models with one output per time step; this one has the `{}` readout \
             and one output per sequence",
            model.readout()
        ))),
        Some(StepChoice::One(step)) => model
            .at_step(step)
            .map_err(|e| CliError::explain("--step", e)),
        None | Some(StepChoice::All) => Ok(model.clone()),
    }
}

/// The relevance values `--step all` may hold for one pass (1 GiB of f64): a batch is explained
/// in parts of at most this size, as `(B, T_out, T, E)` grows with the square of T.
const STEP_PASS_VALUES: usize = 1 << 27;

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
    let classes = read_targets(&path)?;
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

/// The vocabulary, checked against the model's embedding.
fn read_vocab(args: &ExplainArgs, setup: &Setup) -> Result<Option<Arc<Vocab>>, CliError> {
    let Some(path) = &args.vocab else {
        return Ok(None);
    };
    let vocab = Vocab::read(path).map_err(|e| match e {
        IoError::Io { .. } => CliError::usage(format!(
            "{e} (--vocab expects a text file with one token per line)"
        )),
        other => other.into(),
    })?;
    if let InputLayer::Embedding { table, .. } = setup.imported.params.input()
        && vocab.len() != table.rows()
    {
        return Err(CliError::usage(format!(
            "{}: {} tokens, but the model's embedding has {} rows (use the vocabulary the \
             model was trained with)",
            path.display(),
            vocab.len(),
            table.rows()
        )));
    }
    Ok(Some(Arc::new(vocab)))
}

/// Opens the input: `--text`, a file, or stdin.
fn open_source(args: &ExplainArgs, vocab: Option<Arc<Vocab>>) -> Result<InputSource, CliError> {
    if let (Some(text), Some(vocab)) = (&args.text, &vocab) {
        return Ok(InputSource::from_sentences(
            std::slice::from_ref(text),
            Arc::clone(vocab),
            "--text",
        )?);
    }
    let path = args
        .input
        .clone()
        .ok_or_else(|| CliError::usage("give --input FILE (or -) or --text SENTENCE"))?;
    Ok(InputSource::open(InputPath::from(path), vocab)?)
}

fn report_unknown(unknown: usize) {
    if unknown > 0 {
        eprintln!("note: {unknown} word(s) not in the vocabulary were read as <unk>");
    }
}

pub fn run(args: ExplainArgs) -> Result<(), CliError> {
    // Cheap checks first: settings, then the outputs (an existing file stops the run before
    // any work), then the model and the input.
    let target = parse_target(&args.target)?;
    let config = ExplainConfig::new()
        .with_eps(args.eps)
        .with_bias_factor(args.bias_factor)
        .with_gate_rule(args.gate_rule)
        .with_target(target.clone());
    config
        .validate()
        .map_err(|e| CliError::explain("settings", e))?;
    let outputs = Outputs::open(OutputPlan {
        output: args.output.clone(),
        jsonl: args.jsonl.clone().map(OutputPath::from),
        resume: args.resume,
        html: args.html.clone(),
        show: args.show,
        print: args.print,
        overwrite: args.overwrite,
        every_step: args.step == Some(StepChoice::All),
    })?;
    let setup = Setup::new(&args.model, &args.device, args.precision)?;
    let model = step_model(&setup, args.step)?;
    let vocab = read_vocab(&args, &setup)?;
    let mut source = open_source(&args, vocab.clone())?;
    let input_name = source.name().to_string();
    if let Target::PerSample(classes) = &target {
        // Known for arrays; for a JSON-lines file counted now, so a wrong count stops the run
        // before any work (on stdin, only the end can tell).
        let total = match (source.position().total_sequences, &args.input) {
            (Some(total), _) => Some(total),
            (None, Some(path)) if path.as_os_str() != "-" => Some(count_json_lines(path)?),
            _ => None,
        };
        if let Some(total) = total.filter(|&t| t != classes.len()) {
            return Err(target_count_error(&args.target, classes.len(), total));
        }
    }
    let kept = outputs.kept();
    let skipped = source.skip(kept)?;
    if kept > 0 {
        eprintln!("resuming after the {skipped} sequence(s) already in the --jsonl file");
    }

    let progress = Progress::new(source.position());
    let run = BatchRun {
        model: &model,
        setup: &setup,
        args: &args,
        config: &config,
        target: &target,
        input_name: &input_name,
    };
    let (outputs, sequences, unknown_words) = run.explain_all(source, outputs, vocab, progress)?;
    if let Target::PerSample(classes) = &target
        && classes.len() != sequences
        && !outputs.stdout_closed()
    {
        return Err(target_count_error(&args.target, classes.len(), sequences));
    }
    report_unknown(unknown_words);
    let title = format!("lstm-lrp: {} on {input_name}", setup.model_name);
    outputs.finish(sequences, &title)
}

/// What the writer thread writes, in input order.
enum Part {
    /// One batch's explanation.
    Batch(InputBatch, HostExplanation),
    /// Some sequences of a batch explained at every output position (`--step all`).
    Steps(InputBatch, HostStepExplanations),
}

/// The settings every batch of a run shares.
struct BatchRun<'a> {
    model: &'a LstmModel,
    setup: &'a Setup,
    args: &'a ExplainArgs,
    config: &'a ExplainConfig,
    target: &'a Target,
    input_name: &'a str,
}

impl BatchRun<'_> {
    /// Explains every batch of `source` and writes it to `outputs`; returns the outputs (to
    /// finish), the index after the last sequence explained, and the words read as `<unk>`.
    ///
    /// Three threads share the work: a reader reads and decodes batch k + 1 ([`ReadAhead`]),
    /// this thread explains batch k, and a writer writes batch k − 1 (JSON lines, the summary,
    /// the parts `--output` keeps). Each hands over through a channel of one batch, so at most
    /// a few batches are in memory, and outputs keep the input's order. The writer stops at
    /// its first error, or when stdout's reader has gone; this thread then stops too.
    fn explain_all(
        &self,
        source: InputSource,
        outputs: Outputs,
        vocab: Option<Arc<Vocab>>,
        mut progress: Progress,
    ) -> Result<(Outputs, usize, usize), CliError> {
        let chunk = usize::try_from(self.args.batch_size).unwrap_or(usize::MAX);
        let mut unknown_words = source.unknown_words();
        let mut sequences = source.position().sequences;
        let batches = ReadAhead::start(source, chunk)?;
        std::thread::scope(|scope| {
            let (parts, written) = std::sync::mpsc::sync_channel::<Part>(1);
            let writer = std::thread::Builder::new()
                .name("lstm-lrp-writer".into())
                .spawn_scoped(scope, move || write_parts(outputs, written, vocab))
                .map_err(|e| CliError::usage(format!("could not start the writer thread: {e}")))?;
            for ahead in batches {
                let ahead = ahead?;
                unknown_words = ahead.unknown_words;
                let [n, _] = ahead.batch.inputs.batch_and_steps();
                sequences = ahead.batch.start + n;
                // `false`: the writer has stopped (an error, or stdout closed); its result
                // below says which.
                if !self.explain_batch(ahead.batch, &parts)? {
                    break;
                }
                progress.update(n, ahead.position);
            }
            progress.finish();
            drop(parts);
            let outputs = match writer.join() {
                Ok(result) => result?,
                Err(panic) => std::panic::resume_unwind(panic),
            };
            Ok((outputs, sequences, unknown_words))
        })
    }

    /// Explains one batch and hands it to the writer; `false` when the writer has stopped.
    fn explain_batch(&self, batch: InputBatch, parts: &SyncSender<Part>) -> Result<bool, CliError> {
        check_input_kind(&batch.inputs, self.setup, self.input_name)?;
        let [n, _] = batch.inputs.batch_and_steps();
        let range = batch.start..batch.start + n;
        let config = match self.target {
            Target::PerSample(classes) => {
                let Some(part) = classes.get(range.clone()) else {
                    return Err(target_count_error(
                        &self.args.target,
                        classes.len(),
                        range.end,
                    ));
                };
                self.config
                    .clone()
                    .with_target(Target::PerSample(part.to_vec()))
            }
            _ => self.config.clone(),
        };
        if self.args.step == Some(StepChoice::All) {
            return explain_every_step(
                self.model,
                &batch,
                &config,
                self.args,
                self.input_name,
                parts,
            );
        }
        let input = batch
            .inputs
            .input_range(0..n, self.model.device(), self.args.precision);
        let part = self
            .model
            .explain(input, &config)
            .and_then(|e| e.to_host())
            .map_err(|e| CliError::explain(self.input_name, offset_sample(e, range.start)))?;
        Ok(parts.send(Part::Batch(batch, part)).is_ok())
    }
}

/// The writer thread: writes each part as it arrives, until the channel closes, an output
/// fails, or stdout's reader has gone.
fn write_parts(
    mut outputs: Outputs,
    parts: Receiver<Part>,
    vocab: Option<Arc<Vocab>>,
) -> Result<Outputs, CliError> {
    for part in parts {
        match part {
            Part::Batch(batch, part) => outputs.write(&batch, part, vocab.as_deref())?,
            Part::Steps(batch, part) => outputs.write_steps(&batch, part, vocab.as_deref())?,
        }
        if outputs.stdout_closed() {
            break;
        }
    }
    Ok(outputs)
}

/// `--step all` on one batch: explained in parts small enough for [`STEP_PASS_VALUES`].
fn explain_every_step(
    model: &LstmModel,
    batch: &InputBatch,
    config: &ExplainConfig,
    args: &ExplainArgs,
    input_name: &str,
    parts: &SyncSender<Part>,
) -> Result<bool, CliError> {
    let [n, t] = batch.inputs.batch_and_steps();
    let per_sequence = t
        .saturating_mul(t)
        .saturating_mul(model.feature_size())
        .max(1);
    let rows = (STEP_PASS_VALUES / per_sequence).clamp(1, n);
    let mut start = 0;
    while start < n {
        let end = (start + rows).min(n);
        let part_config = match &config.target {
            Target::PerSample(classes) => config
                .clone()
                .with_target(Target::PerSample(classes[start..end].to_vec())),
            _ => config.clone(),
        };
        let input = batch
            .inputs
            .input_range(start..end, model.device(), args.precision);
        let part = model
            .explain_every_step(input, &part_config)
            .map_err(|e| CliError::explain(input_name, offset_sample(e, batch.start + start)))?;
        let rows_batch = InputBatch {
            inputs: batch.inputs.slice(start..end),
            start: batch.start + start,
            words: batch.words.as_ref().map(|w| w[start..end].to_vec()),
        };
        if parts.send(Part::Steps(rows_batch, part)).is_err() {
            return Ok(false);
        }
        start = end;
    }
    Ok(true)
}

/// Checks that the input's kind (token ids or feature vectors) is what the model reads.
fn check_input_kind(inputs: &InputArrays, setup: &Setup, input_name: &str) -> Result<(), CliError> {
    if inputs.is_tokens() == setup.model.reads_tokens() {
        return Ok(());
    }
    Err(CliError::usage(format!(
        "{input_name}: the input holds {} but the model {}",
        if inputs.is_tokens() {
            "token ids"
        } else {
            "feature vectors"
        },
        if setup.model.reads_tokens() {
            "starts with an embedding and reads token ids (batch, time)"
        } else {
            "reads feature vectors (batch, time, features)"
        }
    )))
}
