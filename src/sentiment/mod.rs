//! A sentiment task with known relevant words, a BiLSTM classifier trained on it in burn, and
//! the scoring of explanations against the ground truth.
//!
//! - [`task`]: sentences of neutral fillers and polar VADER words (with negation), their labels
//!   and per-token ground truth; the vocabulary (`vocab.txt`: line number = token id, line 0
//!   `<pad>`, line 1 `<unk>`).
//! - [`model`]: the classifier as burn modules (`Embedding → BiLstm → Linear`), its
//!   seed-determined initialisation, its conversion through
//!   [`lrp_import::burn_modules`], and the model file it ships as.
//! - [`train`]: Adam training on equal-length batches.
//! - [`score`]: rank correlation and top-k precision against the ground truth, and LRP
//!   relevances per token.
//! - [`baselines`]: gradient, gradient × input, integrated gradients and occlusion computed with
//!   burn autodiff on the modules.
//! - [`rng`]: the small deterministic generator behind every random choice.
//!
//! `cargo run --release --example train_sentiment` reproduces the shipped model in
//! `examples/sentiment/` and the table in `docs/evaluation.md`.

pub mod baselines;
pub mod model;
pub mod rng;
pub mod score;
pub mod task;
pub mod train;

use lrp_core::LrpError;
use lrp_import::ImportError;
use thiserror::Error;

/// What can go wrong in the sentiment pipeline.
#[derive(Debug, Error)]
pub enum SentimentError {
    /// A malformed vocabulary.
    #[error("vocabulary: {0}")]
    Vocab(String),
    /// An invalid task or training setting.
    #[error("invalid setting: {0}")]
    Config(String),
    /// A model this module cannot write.
    #[error("model shape: {0}")]
    Shape(String),
    /// Converting or reading a model.
    #[error(transparent)]
    Import(#[from] ImportError),
    /// Explaining.
    #[error(transparent)]
    Lrp(#[from] LrpError),
}
