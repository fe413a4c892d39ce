//! # lrp-model
//!
//! The canonical model description of lstm-lrp: plain host data in one fixed layout, validated
//! on construction. It depends on no tensor library, so the file formats, the importers and
//! their fuzz targets build without burn; `lrp-core` uploads it to a device.
//!
//! Every importer converts into this layout, so the math never has to think about gate orders:
//!
//! - LSTM weights in Keras layout and gate order **i, f, c, o** (input, forget, cell candidate,
//!   output) along the `4H` axis: kernel `w_x (E, 4H)`, recurrent kernel `w_h (H, 4H)`, one bias
//!   `b (4H)` (frameworks with two biases, such as PyTorch, sum them).
//! - Dense layers as `w (D, C)` (inputs along rows) and `b (C)`.
//! - A bidirectional layer's backward direction reads the sequence reversed in time; its output
//!   at time `t` is the state after it has read `x[T-1] … x[t]`, and its final state (the one a
//!   classifier head sees) is the state after reading `x[0]`, as in Keras and PyTorch.
//!
//! - GRU weights in Keras layout and gate order **z, r, n** (update, reset, candidate) along the
//!   `3H` axis, with an input and a recurrent bias and Keras' `reset_after` flag ([`GruWeights`]).
//!
//! Modules: [`matrix`] (the storage), [`lstm`] and [`gru`] (one direction's cell weights),
//! [`recurrent`] (layers: cells, directions, merges, `go_backwards`), [`readout`] (how the head
//! reads the last layer), [`dense`] (the head), [`input`] (features or an embedding),
//! [`model`] ([`ModelParams`], the whole), [`error`].
//!
//! ```
//! use lrp_model::{DenseLayer, InputLayer, RecurrentLayer, LstmWeights, Matrix, ModelParams};
//!
//! // E = 2 features, H = 1 (4H = 4 gate columns i, f, c, o), C = 3 classes.
//! let lstm = LstmWeights { w_x: Matrix::zeros(2, 4), w_h: Matrix::zeros(1, 4), b: vec![0.0; 4] };
//! let input = InputLayer::Features { size: 2, mask_value: None };
//! let head = DenseLayer::linear(Matrix::zeros(1, 3), vec![0.0; 3]);
//! let params = ModelParams::new(input, vec![RecurrentLayer::unidirectional(lstm)], vec![head])?;
//! assert_eq!(params.num_parameters(), 8 + 4 + 4 + 3 + 3);
//! # Ok::<(), lrp_model::ModelError>(())
//! ```

#![forbid(unsafe_code)]

pub mod dense;
pub mod error;
pub mod gru;
pub mod input;
pub mod lstm;
pub mod matrix;
pub mod model;
pub mod readout;
pub mod recurrent;
mod validate;

pub use dense::{Activation, DenseLayer};
pub use error::{ModelError, Result};
pub use gru::GruWeights;
pub use input::InputLayer;
pub use lstm::LstmWeights;
pub use matrix::Matrix;
pub use model::ModelParams;
pub use readout::Readout;
pub use recurrent::{CellWeights, GateActivation, MergeMode, RecurrentLayer};
