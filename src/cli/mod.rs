//! Argument parsing and dispatch.

mod check;
mod error;
mod evaluate;
mod explain;
mod inspect;
mod output;
mod progress;
mod setup;

use clap::{Parser, Subcommand};

pub use error::CliError;

/// Explain LSTM classifiers with Layer-wise Relevance Propagation.
#[derive(Debug, Parser)]
#[command(name = "lstm-lrp", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Explain every sequence of an input file and write the relevances.
    Explain(Box<explain::ExplainArgs>),
    /// Show the architecture found in a model file and the conversions applied.
    Inspect(inspect::InspectArgs),
    /// Check an import: forward pass vs the framework's recorded outputs, and conservation.
    Check(Box<check::CheckArgs>),
    /// Compare explanation methods: deletion curves (AOPC), DA_k, sparsity; table and SVG plot.
    Evaluate(Box<evaluate::EvaluateArgs>),
}

/// Parses the command line and runs the command.
pub fn run() -> Result<(), CliError> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            use clap::error::ErrorKind::*;
            if matches!(
                err.kind(),
                DisplayHelp | DisplayVersion | DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                err.exit();
            }
            // clap's own message spans several lines (the problem, the arguments concerned,
            // usage, tips): keep what comes before the usage, on one line.
            let rendered = err.render().to_string();
            let what: Vec<&str> = rendered
                .lines()
                .take_while(|l| !l.starts_with("Usage:") && !l.trim_start().starts_with("tip:"))
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            let what = what.join(" ");
            let what = what.strip_prefix("error: ").unwrap_or(&what);
            return Err(CliError::usage(format!("{what} (see `lstm-lrp --help`)")));
        }
    };
    match cli.command {
        Command::Explain(args) => explain::run(*args),
        Command::Inspect(args) => inspect::run(args),
        Command::Check(args) => check::run(*args),
        Command::Evaluate(args) => evaluate::run(*args),
    }
}
