//! # lrp-core
//!
//! Layer-wise Relevance Propagation (LRP) for LSTM classifiers after Arras et al. (2017),
//! written once against burn's tensor API and run on any burn [`Device`](burn::tensor::Device).
//!
//! The target logit of each sample is redistributed backwards through the network: the ε-rule
//! (with `bias_factor`) on every linear map, signal-take-all on the gate products. Every input
//! value receives a relevance score in the units of the logit; with `eps = 0` and
//! `bias_factor = 1` the scores plus the `rest` left on the initial states add up to the logit.
//!
//! Structure, after burn-nn and zennit:
//! - [`params`]: the canonical, validated model description (plain host data);
//! - [`LstmModel`]: the model on a device, with [`LstmModel::forward`] and [`LstmModel::explain`];
//! - `rules`: the LRP rules (ε-rule, gate rule) — one purpose each;
//! - `relevance`: the pass that composes them through head, merges and LSTM layers.
//!
//! Shapes: `B` batch, `T` time steps, `E` input features, `H` hidden units, `C` classes.

pub mod attribution;
mod bucketing;
mod config;
mod error;
mod explain;
mod forward;
mod input;
mod model;
pub mod params;
mod relevance;
mod rules;
mod tensor_ops;

pub use attribution::{Attribution, Method, Removal};
pub use config::{ExplainConfig, GateRule, Precision, Target};
pub use error::{LrpError, Result};
pub use explain::{Explanation, HostExplanation, LayerOutputs};
pub use input::{Input, Padding};
pub use model::LstmModel;
pub use params::{
    Activation, DenseLayer, GateActivation, InputLayer, LstmLayer, LstmWeights, Matrix, MergeMode,
    ModelParams,
};

#[doc(hidden)]
pub use bucketing::group_count as __bucketing_group_count;
/// Re-export of the burn version the crate is built against.
pub use burn;
