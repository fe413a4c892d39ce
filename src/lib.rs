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
//! let x = lstm_lrp::files::read_input("examples/data/random_embeddings.safetensors")?
//!     .features_tensor(&device, Precision::F64);
//! let explanation = model.explain(x, &ExplainConfig::new())?; // eps 1e-3, predicted class
//! assert_eq!(explanation.relevance.dims(), [4, 9, 60]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#[cfg(feature = "mimalloc")]
pub mod alloc;
pub mod backends;
pub mod evaluation;
pub mod files;
pub mod sentiment;

pub use files::load_model;
pub use lrp_core::{
    Activation, DenseLayer, ExplainConfig, Explanation, GateActivation, GateRule, HostExplanation,
    Input, InputLayer, LrpError, LstmLayer, LstmModel, LstmWeights, Matrix, MergeMode, ModelParams,
    Padding, Precision, Target, burn,
};
pub use lrp_import as import;
