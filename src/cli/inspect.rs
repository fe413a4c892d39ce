//! `lstm-lrp inspect`: what a model file holds and how it was read.

use clap::Args;

use super::CliError;
use super::setup::ModelArgs;

/// What the importers read, shown under `inspect --help` (every import error points here).
const SUPPORTED: &str = "\
Supported models:
  Keras 2/3 (.keras, .h5, .weights.h5): a chain (Sequential or functional) of InputLayer,
    Embedding (mask_zero), Masking (on the input), LSTM and GRU (tanh cells, sigmoid or
    hard_sigmoid gates, reset_after either way, go_backwards), Bidirectional (concat, sum, ave),
    GlobalMaxPooling1D / GlobalAveragePooling1D, Dense and TimeDistributed(Dense) (linear, relu,
    tanh; softmax or sigmoid last), Activation / ReLU() / Softmax() after a Dense layer,
    BatchNormalization between a Dense layer and its activation (folded into it), and layers
    that are the identity at inference (Dropout, SpatialDropout1D, GaussianNoise, ...; Flatten
    of a final state or a pooled vector).
  PyTorch state dicts (.pt, .pth, .safetensors): nn.LSTM / nn.GRU modules (stacked,
    bidirectional; no proj_size), an optional nn.Embedding, and nn.Linear heads (--head, with
    relu or tanh between them), read as --readout says (final, last, mean, max, per-step);
    also from a training checkpoint (a dict holding the state dict, Lightning's .ckpt;
    optimizer states, metrics and configuration values skipped); weight norm folded.
  The canonical safetensors layout (see lstm_lrp::import::read_canonical); burn modules through
    the Rust API.";

#[derive(Debug, Args)]
#[command(after_help = SUPPORTED)]
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
