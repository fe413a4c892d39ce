//! # lstm-lrp
//!
//! Explain the decisions of LSTM classifiers with Layer-wise Relevance Propagation (LRP), on any
//! burn backend. This crate is the facade: it re-exports the core ([`LstmModel`],
//! [`ExplainConfig`], [`ModelParams`]), the importers ([`import`]) and the backends chosen by
//! cargo feature ([`backends`]).
//!
//! ```
//! use lstm_lrp::{ExplainConfig, LstmModel, Precision, backends};
//!
//! let params = lstm_lrp::load_model("examples/data/keras2_sentiment_bilstm.safetensors")?;
//! let device = backends::default_device();
//! let model = LstmModel::new(&params, &device, Precision::F64)?;
//! let x = lstm_lrp::io::read_input("examples/data/random_embeddings.safetensors")?
//!     .features_tensor(&device, Precision::F64)
//!     .expect("feature vectors");
//! let explanation = model.explain(x, &ExplainConfig::new())?; // eps 1e-3, predicted class
//! assert_eq!(explanation.relevance.dims(), [4, 9, 60]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Token ids with padding, on a device chosen by name (as the CLI's `--device`), checking
//! conservation: at `eps = 0` and `bias_factor = 1` the relevances and the rest add up to the
//! explained logit.
//!
//! ```
//! use lstm_lrp::burn::tensor::{Int, Tensor, TensorData};
//! use lstm_lrp::{ExplainConfig, Input, LstmModel, Precision, backends};
//!
//! let params = lstm_lrp::load_model("examples/sentiment/model.safetensors")?;
//! let device = backends::device_for("cpu".parse()?, Precision::F64)?;
//! let model = LstmModel::new(&params, &device, Precision::F64)?;
//! // Two sentences of 3 and 2 tokens, post-padded with id 0.
//! let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![5i64, 6, 7, 8, 9, 0], [2, 3]), &device);
//! let input = Input::tokens(ids).with_lengths(vec![3, 2]);
//! let config = ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0);
//! let host = model.explain(input, &config)?.to_host()?;
//! let (steps, logits) = (host.step_relevance(), host.explained_logits());
//! for b in 0..2 {
//!     let total: f64 = steps[b * 3..(b + 1) * 3].iter().sum::<f64>() + host.rest[b];
//!     assert!((total - logits[b]).abs() <= 1e-9 * logits[b].abs().max(1.0));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The `lstm-lrp` binary wraps the same calls for files: `lstm-lrp explain --model M --input X
//! [--vocab V] [--jsonl F] [--html F] [--show]`, `lstm-lrp inspect`, `lstm-lrp check`.

#[cfg(feature = "mimalloc")]
pub mod alloc;
pub mod backends;
pub mod batched;
pub mod evaluation;
pub mod import;
pub mod io;

pub use lrp_core::{
    Activation, Attribution, CellWeights, DenseLayer, ExplainConfig, Explanation, GateActivation,
    GateRule, GruWeights, HostExplanation, HostStepExplanations, Input, InputLayer, LrpError,
    LstmModel, LstmWeights, Matrix, MergeMode, Method, ModelError, ModelParams, Padding, Precision,
    Readout, RecurrentLayer, Step, Target, burn,
};

/// Loads any supported model file (format detected from the content; see
/// [`import::read_model`]) into the canonical layout.
///
/// ```
/// let params = lstm_lrp::load_model("fixtures/keras3/a_bilstm_dense.keras")?;
/// assert_eq!(params.num_classes(), 3);
/// # Ok::<(), lstm_lrp::import::ImportError>(())
/// ```
///
/// # Errors
/// An unreadable or malformed file, or a model the library cannot explain.
pub fn load_model(path: impl AsRef<std::path::Path>) -> Result<ModelParams, import::ImportError> {
    Ok(import::read_model(path, &import::LoadOptions::default())?.params)
}
