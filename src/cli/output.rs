//! The writing half of `explain`: every output the flags ask for, checked before any work
//! starts, fed batch by batch, and finished (array outputs written atomically) at the end.

use std::io::Write;
use std::path::PathBuf;

use lrp_core::{HostExplanation, HostStepExplanations};
use lstm_lrp::io::{
    Collected, CollectedSteps, Colours, Existing, InputBatch, IoError, JsonLine, JsonlMode,
    JsonlSink, OutputPath, Row, Vocab, check_writable, html, rows, step_explanation_safetensors,
    step_relevance_npy, step_rows, terminal, write_atomic, write_atomic_with,
};

use super::CliError;

/// What the flags ask to write.
pub struct OutputPlan {
    /// `--output`: safetensors, or `.npy` (the relevance only).
    pub output: Option<PathBuf>,
    /// `--jsonl`: a file or stdout.
    pub jsonl: Option<OutputPath>,
    /// `--resume` (with a `--jsonl` file).
    pub resume: bool,
    /// `--html`.
    pub html: Option<PathBuf>,
    /// `--show`.
    pub show: bool,
    /// `--print N`: the per-step summary of the first N sequences on stdout.
    pub print: usize,
    /// `--overwrite`.
    pub overwrite: bool,
    /// `--step all`: every output position of a per-step model.
    pub every_step: bool,
}

/// The most relevance values `--output` gathers with `--step all` (8 GiB of f64): the arrays
/// are written at the end, so they are held in memory; JSON lines are not.
const MAX_COLLECTED_STEP_VALUES: usize = 1 << 30;

/// The open outputs of a run.
pub struct Outputs {
    plan: OutputPlan,
    existing: Existing,
    jsonl: Option<JsonlSink>,
    /// Set when stdout was closed by its reader (`| head`): stop quietly.
    stdout_closed: bool,
    collected: Collected,
    collected_steps: CollectedSteps,
    all_rows: Vec<Row>,
    summary: Summary,
}

impl Outputs {
    /// Checks every output before any work: an existing `--output`/`--html` file is refused
    /// unless `--overwrite`; the `--jsonl` file is created (or, with `--resume`, its complete
    /// lines kept).
    pub fn open(plan: OutputPlan) -> Result<Self, CliError> {
        let existing = if plan.overwrite {
            Existing::Replace
        } else {
            Existing::Refuse
        };
        if let Some(path) = &plan.output {
            if path.as_os_str() == "-" {
                return Err(CliError::usage(
                    "--output -: array outputs go to a file; use --jsonl - for stdout",
                ));
            }
            check_writable(path, existing, "--overwrite")?;
        }
        if let Some(path) = &plan.html {
            check_writable(path, existing, "--overwrite")?;
        }
        if plan.every_step && (plan.html.is_some() || plan.show) {
            return Err(CliError::usage(
                "--step all explains every output position of each sequence; --html and --show \
                 show one explanation per sequence (use --step K or --step last with them)",
            ));
        }
        let jsonl_to_stdout = plan.jsonl.as_ref() == Some(&OutputPath::Stdout);
        if jsonl_to_stdout && plan.show {
            return Err(CliError::usage(
                "--jsonl - writes JSON lines to stdout; --show would mix text into them (use one)",
            ));
        }
        if jsonl_to_stdout && plan.resume {
            return Err(CliError::usage("--resume needs a --jsonl file, not stdout"));
        }
        let jsonl = match &plan.jsonl {
            Some(path) => {
                let mode = if plan.resume {
                    JsonlMode::Resume
                } else {
                    JsonlMode::Create(existing)
                };
                Some(JsonlSink::open(path, mode)?)
            }
            None => None,
        };
        // Per-step lines on stdout unless stdout carries JSON lines or the words are shown.
        let summary = Summary::new(plan.print, !plan.show && !jsonl_to_stdout);
        Ok(Self {
            plan,
            existing,
            jsonl,
            stdout_closed: false,
            collected: Collected::default(),
            collected_steps: CollectedSteps::default(),
            all_rows: Vec::new(),
            summary,
        })
    }

    /// Sequences an interrupted run already wrote to the `--jsonl` file (`--resume`).
    pub fn kept(&self) -> usize {
        self.jsonl.as_ref().map_or(0, JsonlSink::kept)
    }

    /// Whether a reader of stdout has gone away (the run can stop).
    pub fn stdout_closed(&self) -> bool {
        self.stdout_closed
    }

    /// Writes (or keeps, for the end) one batch's explanation.
    pub fn write(
        &mut self,
        batch: &InputBatch,
        part: HostExplanation,
        vocab: Option<&Vocab>,
    ) -> Result<(), CliError> {
        let keep_rows = self.plan.html.is_some() || self.plan.show;
        if self.jsonl.is_some() || keep_rows {
            let batch_rows = rows(&part, batch, vocab);
            self.write_jsonl(&batch_rows)?;
            if keep_rows {
                self.all_rows.extend(batch_rows);
            }
        }
        self.summary.print(&part, batch.start);
        if self.plan.output.is_some() {
            self.collected.push(batch, part);
        }
        Ok(())
    }

    /// Writes (or keeps, for the end) one batch's every-step explanation (`--step all`).
    pub fn write_steps(
        &mut self,
        batch: &InputBatch,
        part: HostStepExplanations,
        vocab: Option<&Vocab>,
    ) -> Result<(), CliError> {
        if self.jsonl.is_some() {
            self.write_jsonl(&step_rows(&part, batch, vocab))?;
        }
        self.summary.print_steps(&part, batch.start);
        if let Some(path) = &self.plan.output {
            if self.collected_steps.len() + part.relevance.len() > MAX_COLLECTED_STEP_VALUES {
                return Err(CliError::usage(format!(
                    "{}: the relevance of every step of every sequence would exceed {} GiB in \
                     memory before it is written; use --jsonl (written batch by batch), fewer \
                     sequences, or --step K",
                    path.display(),
                    (MAX_COLLECTED_STEP_VALUES * 8) >> 30
                )));
            }
            self.collected_steps.push(batch, part);
        }
        Ok(())
    }

    fn write_jsonl<R: JsonLine>(&mut self, batch_rows: &[R]) -> Result<(), CliError> {
        let Some(sink) = &mut self.jsonl else {
            return Ok(());
        };
        match sink.write(batch_rows) {
            Err(IoError::Write { source, .. })
                if source.kind() == std::io::ErrorKind::BrokenPipe
                    && self.plan.jsonl == Some(OutputPath::Stdout) =>
            {
                self.stdout_closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    /// Writes the outputs that need every sequence: `--output` and `--html` (atomically), and
    /// prints `--show`.
    pub fn finish(self, sequences: usize, title: &str) -> Result<(), CliError> {
        self.summary.finish(sequences);
        if let Some(path) = &self.plan.output {
            let npy = path.extension().and_then(|e| e.to_str()) == Some("npy");
            if let Some((all, tokens)) = self.collected_steps.finish() {
                let bytes = if npy {
                    Ok(step_relevance_npy(&all))
                } else {
                    step_explanation_safetensors(&all, tokens.as_ref())
                };
                let bytes = bytes
                    .map_err(|e| CliError::file(path, e, "could not serialise the explanation"))?;
                write_atomic(path, &bytes, self.existing)?;
            } else if !self.collected.is_empty() {
                // Written straight from the batches as they were explained.
                let collected = &self.collected;
                write_atomic_with(path, self.existing, |out| {
                    if npy {
                        collected.write_relevance_npy(out).map(drop)
                    } else {
                        collected.write_safetensors(out).map(drop)
                    }
                })?;
            }
        }
        if let Some(path) = &self.plan.html {
            write_atomic(path, html(&self.all_rows, title).as_bytes(), self.existing)?;
        }
        if self.plan.show {
            print!("{}", terminal(&self.all_rows, Colours::for_stdout()));
        }
        Ok(())
    }
}

/// The per-step relevance of the first `max` sequences on stdout, printed as batches finish.
struct Summary {
    max: usize,
    on: bool,
}

impl Summary {
    fn new(max: usize, on: bool) -> Self {
        Summary { max, on }
    }

    /// Prints the sequences of `out` (sequences `offset..`) that are among the first `max`.
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

    /// Prints the explained positions of the sequences of `out` that are among the first
    /// `max`.
    fn print_steps(&self, out: &HostStepExplanations, offset: usize) {
        if !self.on || offset >= self.max {
            return;
        }
        let (t, c) = (out.steps, out.classes);
        let per_step = out.step_relevance();
        let mut stdout = std::io::stdout().lock();
        for b in 0..out.batch.min(self.max - offset) {
            for k in (0..t).filter(|&k| out.valid[b * t + k]) {
                let at = b * t + k;
                let cells: Vec<String> = per_step[at * t..(at + 1) * t]
                    .iter()
                    .enumerate()
                    .map(|(s, r)| format!("t{s} {r:+.4}"))
                    .collect();
                let class = out.target[at] as usize;
                let _ = writeln!(
                    stdout,
                    "sample {} step {k}: class {class} logit {:.6} rest {:.6}\n  {}",
                    offset + b,
                    out.logits[at * c + class],
                    out.rest[at],
                    cells.join("  ")
                );
            }
        }
    }

    fn finish(&self, sequences: usize) {
        if self.on && self.max > 0 && sequences > self.max {
            let _ = writeln!(
                std::io::stdout(),
                "… {} more samples (see the output files)",
                sequences - self.max
            );
        }
    }
}
