//! The rule for a product of a gate and a signal (`f ⊙ c_{t-1}`, `i ⊙ g`, `o ⊙ tanh(c_t)`).
//!
//! Arras et al. (2017) give the product's whole relevance to the signal and none to the gate
//! ("signal-take-all"): the gate only decides how much of the signal passes, it does not carry
//! information of its own. Both references use this rule; it is why the relevance pass needs
//! no gate weights other than those of the cell candidate `g`.
//!
//! Under this rule the relevance of `h_t = o_t ⊙ tanh(c_t)` goes unchanged to `c_t` (through the
//! monotone `tanh`), which is the references' `R_c[t] += R_h[t]`; and the products `f ⊙ c_{t-1}`
//! and `i ⊙ g` hand their relevance to `c_{t-1}` and `g` respectively.

use burn::tensor::Tensor;

/// The relevance that reaches the signal of a gate product under signal-take-all: all of it.
pub(crate) fn signal_take_all<const D: usize>(product_relevance: Tensor<D>) -> Tensor<D> {
    product_relevance
}
