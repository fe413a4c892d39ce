//! # lrp-demo (unpublished)
//!
//! A sentiment task with known relevant words, a BiLSTM and a BiGRU classifier trained on it in
//! burn, and the scoring of explanations against the ground truth.
//!
//! - [`task`]: sentences of neutral fillers and polar VADER words (with negation), their labels
//!   and per-token ground truth; the vocabulary (`vocab.txt`: line number = token id, line 0
//!   `<pad>`, line 1 `<unk>`).
//! - [`model`]: the classifier as burn modules (`Embedding → BiLstm or BiGru → Linear`), its
//!   seed-determined initialisation, its conversion through
//!   [`lstm_lrp::import::burn_modules`], and the model file it ships as.
//! - [`train`]: Adam training on equal-length batches.
//! - [`score`]: rank correlation and top-k precision against the ground truth, and LRP
//!   relevances per token.
//! - [`baselines`]: gradient, gradient × input, integrated gradients and occlusion: lrp-core's
//!   attribution methods on the canonical model, as per-token scores.
//! - [`rng`]: the small deterministic generator behind every random choice.
//!
//! `cargo run --release -p lrp-demo --example train_sentiment` reproduces the shipped model in
//! `examples/sentiment/` and the LSTM's table in `docs/evaluation.md`; `-- --cell gru` the GRU
//! model in `examples/sentiment-gru/` and its table.
//!
//! ```
//! use lrp_demo::{rng::Rng, score, task::{Task, TaskConfig}};
//! use lstm_lrp::{ExplainConfig, LstmModel, Precision, backends};
//!
//! // Draw sentences with known relevant words, explain the shipped model, score LRP.
//! let task = Task::new(TaskConfig::default())?;
//! let sentences = task.sample(30, &mut Rng::new(11));
//! let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
//! let device = backends::default_device();
//! let model = LstmModel::new(&params, &device, Precision::F64)?;
//! let relevance = score::lrp_relevance(&model, &sentences, &ExplainConfig::new(), &device)?;
//! let scores = score::score("lrp", &sentences, &relevance);
//! assert_eq!(scores.all.sentences, 30);
//! assert!(scores.plain.top_k > 0.9); // LRP finds the polar words when none is negated
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod baselines;
pub mod model;
pub mod rng;
pub mod score;
pub mod task;
pub mod train;

use std::path::PathBuf;

use lrp_core::LrpError;
use lrp_import::ImportError;
use thiserror::Error;

/// A file of the shipped demo model's folder (`examples/sentiment/` of the repository):
/// `model.safetensors`, `vocab.txt`, `sentences.tsv`, `evaluation_table.md`; `""` for the folder.
///
/// ```
/// assert!(lrp_demo::shipped("vocab.txt").is_file());
/// ```
pub fn shipped(file: &str) -> PathBuf {
    shipped_model(model::Cell::Lstm, file)
}

/// A file of the folder the demo model of `cell` ships in: `examples/sentiment/` (LSTM) or
/// `examples/sentiment-gru/` (GRU), with the same files; `""` for the folder.
///
/// ```
/// use lrp_demo::model::Cell;
///
/// assert_eq!(lrp_demo::shipped_model(Cell::Lstm, "vocab.txt"), lrp_demo::shipped("vocab.txt"));
/// assert!(lrp_demo::shipped_model(Cell::Gru, "model.safetensors").is_file());
/// ```
pub fn shipped_model(cell: model::Cell, file: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples"))
        .join(cell.folder())
        .join(file)
}

/// What can go wrong in the sentiment pipeline.
///
/// ```
/// use lrp_demo::{SentimentError, task::Vocab};
///
/// let err = Vocab::from_text("hello\nworld").unwrap_err();
/// assert!(matches!(err, SentimentError::Vocab(_)));
/// assert_eq!(err.to_string(), "vocabulary: the first two tokens must be <pad> and <unk>");
/// ```
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
