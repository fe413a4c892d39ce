//! # lrp-import
//!
//! Reads model files into lstm-lrp's canonical [`ModelParams`](lrp_model::ModelParams) layout,
//! so that no user has to think about gate orders or bias conventions. Builds without burn:
//! the canonical model is [`lrp_model`]'s plain data.
//!
//! Entry point: [`read_model`] detects the format from the content ([`sniff`]) and returns the
//! canonical model with an [`ImportReport`] of what was found and converted.
//!
//! - [`formats`]: the containers — HDF5, zip, PyTorch checkpoints, `.npy`, safetensors — each a
//!   small module over a maintained crate (our own `.npy` reader excepted), with typed errors
//!   and allocation limits.
//! - [`canonical`]: the reference implementations' weight list as named safetensors tensors.
//! - [`keras`]: `.keras`, legacy `.h5`/`.hdf5` (Keras 2 and 3) and `.weights.h5`.
//! - [`read_torch_state_dict`]: `nn.LSTM` state dicts (`.pt`, safetensors) as a model.
//! - [`gates`]: explicit gate-order and layout conversion for anything else.
//!
//! Live burn modules are converted by the `lstm-lrp` facade (`lstm_lrp::import::burn_modules`),
//! where burn already is.

pub mod canonical;
mod error;
pub mod formats;
pub mod gates;
mod host_array;
pub mod keras;
mod model_file;
mod report;
pub mod sniff;
mod torch_model;
mod torch_weight_norm;

pub use canonical::read_canonical;
pub use error::{ImportError, Result};
pub use host_array::HostArray;
pub use model_file::{LoadOptions, ModelFormat, detect_format, keras_config_from_file, read_model};
pub use report::{ImportReport, ImportedModel, describe_layers};
pub use torch_model::{READOUT_METADATA_KEY, TorchModules, read_torch_state_dict};
