//! # lrp-core
//!
//! Layer-wise Relevance Propagation (LRP) for LSTM and GRU networks after Arras et al. (2017),
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
//! - `cells`: the LSTM and GRU cells, forward step and relevance under each gate rule;
//! - `readout`: how the head reads the last layer (final state, last step, mean, max, one step);
//! - `relevance`: the pass that composes them through head, readout, merges and layers;
//! - [`kernels`]: the hook through which a backend crate runs a step's element-wise work (and
//!   the products around it) as fused kernels — lrp-flex does, on burn's Flex CPU backend; every
//!   other backend runs the tensor operations, which burn fuses itself on the GPU.
//!
//! Shapes: `B` batch, `T` time steps, `E` input features, `H` hidden units, `C` classes.
//!
//! ```
//! # #![allow(deprecated)]
//! use burn::tensor::{Device, Tensor};
//! use lrp_core::{ExplainConfig, LstmModel, LstmWeights, Matrix, ModelParams, Precision};
//!
//! // A bidirectional LSTM on E = 2 features with H = 1 unit per direction and C = 2 classes.
//! let dir = |w: f64| -> lrp_core::Result<LstmWeights> {
//!     Ok(LstmWeights {
//!         w_x: Matrix::new(2, 4, vec![w, 0.1, 0.9, 0.3, -0.2, 0.4, -w, 0.1])?,
//!         w_h: Matrix::new(1, 4, vec![0.2, 0.2, 0.5, 0.2])?,
//!         b: vec![0.1, 1.0, 0.0, 0.0],
//!     })
//! };
//! let head = Matrix::new(2, 2, vec![1.0, -1.0, 0.5, 0.3])?; // (D, C) with D = 2H
//! let params = ModelParams::single_layer(dir(0.5)?, Some(dir(-0.7)?), head, vec![0.1, 0.0])?;
//! let device = Device::flex();
//! let model = LstmModel::new(&params, &device, Precision::F64)?;
//! let x = Tensor::<3>::from_floats([[[1.0, 0.0], [0.5, -1.0], [2.0, 0.3]]], &device); // (1, 3, 2)
//! let config = ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0);
//! let host = model.explain(x, &config)?.to_host()?;
//! assert_eq!(host.relevance.len(), 3 * 2); // one score per input value
//! let total = host.relevance.iter().sum::<f64>() + host.rest[0];
//! assert!((total - host.explained_logits()[0]).abs() < 1e-12); // conservation
//! # Ok::<(), lrp_core::LrpError>(())
//! ```

pub mod attribution;
mod bucketing;
mod cells;
mod config;
mod error;
mod every_step;
mod explain;
mod forward;
mod input;
pub mod kernels;
mod model;
mod projection;
mod readout;
mod relevance;
mod rules;
mod tensor_ops;

pub use attribution::{Attribution, Method, Removal};
pub use config::{ExplainConfig, GateRule, Precision, Target};
pub use error::{LrpError, Result};
pub use every_step::HostStepExplanations;
pub use explain::{Explanation, HostExplanation, LayerOutputs};
pub use input::{Input, Padding};
/// The canonical model description ([`lrp_model`]), re-exported.
pub use lrp_model as params;
pub use lrp_model::{
    Activation, CellWeights, DenseLayer, GateActivation, GruWeights, InputLayer, LstmWeights,
    Matrix, MergeMode, ModelError, ModelParams, Readout, RecurrentLayer,
};
pub use model::LstmModel;
pub use readout::Step;

#[doc(hidden)]
pub use bucketing::group_count as __bucketing_group_count;
/// Re-export of the burn version the crate is built against.
pub use burn;
