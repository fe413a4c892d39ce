//! The writing half of `explain`: every output the flags ask for, checked before any work
//! starts, fed batch by batch, and finished (array outputs written atomically) at the end.

use std::io::Write;
use std::path::PathBuf;

use lrp_core::HostExplanation;
use lstm_lrp::io::{
    Collected, Colours, Existing, InputBatch, IoError, JsonlMode, JsonlSink, OutputPath, Row,
    Vocab, check_writable, explanation_safetensors, html, relevance_npy, rows, terminal,
    write_atomic,
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
}

/// The open outputs of a run.
pub struct Outputs {
    plan: OutputPlan,
    existing: Existing,
    jsonl: Option<JsonlSink>,
    /// Set when stdout was closed by its reader (`| head`): stop quietly.
    stdout_closed: bool,
    collected: Collected,
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
            if let Some(sink) = &mut self.jsonl {
                match sink.write(&batch_rows) {
                    Err(IoError::Write { source, .. })
                        if source.kind() == std::io::ErrorKind::BrokenPipe
                            && self.plan.jsonl == Some(OutputPath::Stdout) =>
                    {
                        self.stdout_closed = true;
                    }
                    other => other?,
                }
            }
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

    /// Writes the outputs that need every sequence: `--output` and `--html` (atomically), and
    /// prints `--show`.
    pub fn finish(self, sequences: usize, title: &str) -> Result<(), CliError> {
        self.summary.finish(sequences);
        if let Some(path) = &self.plan.output
            && let Some((all, tokens)) = self.collected.finish()
        {
            let bytes = if path.extension().and_then(|e| e.to_str()) == Some("npy") {
                relevance_npy(&all)
            } else {
                explanation_safetensors(&all, tokens.as_ref())
                    .map_err(|e| CliError::file(path, e, "could not serialise the explanation"))?
            };
            write_atomic(path, &bytes, self.existing)?;
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
