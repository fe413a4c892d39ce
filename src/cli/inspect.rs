//! `lstm-lrp inspect`: what a model file holds and how it was read.

use clap::Args;

use super::CliError;
use super::setup::ModelArgs;

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[command(flatten)]
    model: ModelArgs,
}

pub fn run(args: InspectArgs) -> Result<(), CliError> {
    let imported = args.model.load()?;
    println!("model: {}", args.model.model.display());
    print!("{}", imported.report);
    Ok(())
}
