//! The LRP rules: how one kind of operation redistributes the relevance of its output onto its
//! inputs. The relevance pass ([`crate::relevance`]) composes them along the network.
//!
//! - [`epsilon`]: the ε-rule for linear maps (Dense layers, the LSTM's gate pre-activations,
//!   the element-wise sums inside the cell and the bidirectional merges).
//! - [`gate`]: the rule for a product of a gate and a signal (signal-take-all).

pub(crate) mod epsilon;
pub(crate) mod gate;
