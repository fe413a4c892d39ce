//! The rules for a product of a gate and a signal (`f ⊙ c_{t-1}`, `i ⊙ g`, `o ⊙ tanh(c_t)`);
//! definitions and sources in [`GateRule`].
//!
//! Arras et al. (2017) give the product's whole relevance to the signal and none to the gate
//! ("signal-take-all", [`GateRule::All`]): the gate only decides how much of the signal passes.
//! Both references use this rule; under it the relevance of `h_t = o_t ⊙ tanh(c_t)` goes
//! unchanged to `c_t` (the references' `R_c[t] += R_h[t]`), the products `f ⊙ c_{t-1}` and
//! `i ⊙ g` hand theirs to `c_{t-1}` and `g`, and the relevance pass needs no gate weights other
//! than the cell candidate's. The other rules give the gate a share, which then flows through the
//! gate's own weights (see `crate::relevance`).

use burn::tensor::Tensor;

use crate::config::GateRule;
use crate::rules::epsilon::{EpsilonRule, with_share};

/// The relevance that reaches the signal of a gate product under signal-take-all: all of it.
pub(crate) fn signal_take_all<const D: usize>(product_relevance: Tensor<D>) -> Tensor<D> {
    product_relevance
}

/// How one gate product's relevance `r` splits between its factors.
pub(crate) struct ProductSplit {
    /// The gate's share (`None`: exactly zero, under `all`).
    pub gate: Option<Tensor<2>>,
    /// The signal's share.
    pub signal: Tensor<2>,
    /// Relevance at zero denominators (`prop`/`abs` at `eps = 0`), summed per sample `(B, 1)`.
    pub absorbed: Option<Tensor<2>>,
}

/// Splits the relevance `r` of `gate ⊙ signal` (all `(B, H)`) by `rule`; `prop` and `abs`
/// are stabilised by `eps` (the ε-rule of a two-input sum, `N = 2`).
pub(crate) fn split_product(
    rule: GateRule,
    eps: EpsilonRule,
    gate: Tensor<2>,
    signal: Tensor<2>,
    r: Tensor<2>,
) -> ProductSplit {
    let (a_gate, a_signal) = match rule {
        GateRule::All => {
            return ProductSplit {
                gate: None,
                signal: signal_take_all(r),
                absorbed: None,
            };
        }
        GateRule::Half => {
            let half = r.mul_scalar(0.5);
            return ProductSplit {
                gate: Some(half.clone()),
                signal: half,
                absorbed: None,
            };
        }
        GateRule::Prop => (gate, signal),
        GateRule::Abs => (gate.abs(), signal.abs()),
    };
    let z = a_gate.clone().add(a_signal.clone());
    let (q, absorbed) = eps.quotient(r, z.clone());
    // The stabiliser's share of each unit, half to each factor (element-wise: every unit of the
    // product has its own two inputs).
    let share = (eps.eps != 0.0 && eps.bias_factor != 0.0).then(|| {
        eps.stabiliser(&z)
            .mul(q.clone())
            .mul_scalar(eps.bias_factor / 2.0)
    });
    ProductSplit {
        gate: Some(with_share(a_gate.mul(q.clone()), &share)),
        signal: with_share(a_signal.mul(q), &share),
        absorbed,
    }
}
