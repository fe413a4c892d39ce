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

#[cfg(test)]
mod tests {
    //! Each rule on one product with two units, worked out by hand.

    use super::*;
    use burn::tensor::{Device, TensorData};

    fn device() -> Device {
        #[allow(deprecated)] // the crate's dev-dependency backend (see Cargo.toml)
        Device::flex()
    }

    fn t(v: [f64; 2]) -> Tensor<2> {
        Tensor::from_data(
            TensorData::new(v.to_vec(), [1, 2]),
            (&device(), burn::tensor::DType::F64),
        )
    }

    fn host(x: Tensor<2>) -> Vec<f64> {
        x.into_data().try_to_vec::<f64>().expect("f64")
    }

    fn assert_close(got: Vec<f64>, want: [f64; 2]) {
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{got:?} vs {want:?}");
        }
    }

    /// gate = (0.25, -0.5), signal = (0.75, 1.5), relevance of the product r = (2, 1).
    fn split(rule: GateRule, eps: f64) -> ProductSplit {
        let eps = EpsilonRule {
            eps,
            bias_factor: 1.0,
        };
        split_product(rule, eps, t([0.25, -0.5]), t([0.75, 1.5]), t([2.0, 1.0]))
    }

    #[test]
    fn all_gives_everything_to_the_signal() {
        let s = split(GateRule::All, 0.0);
        assert!(s.gate.is_none() && s.absorbed.is_none());
        assert_close(host(s.signal), [2.0, 1.0]);
    }

    #[test]
    fn half_splits_evenly() {
        let s = split(GateRule::Half, 0.0);
        assert_close(host(s.gate.unwrap()), [1.0, 0.5]);
        assert_close(host(s.signal), [1.0, 0.5]);
    }

    #[test]
    fn prop_splits_by_the_signed_factors() {
        // z = gate + signal = (1, 1): the gate gets r·gate/z = (0.5, -0.5), the signal
        // r·signal/z = (1.5, 1.5); each unit's shares add up to its r.
        let s = split(GateRule::Prop, 0.0);
        assert_close(host(s.gate.unwrap()), [0.5, -0.5]);
        assert_close(host(s.signal), [1.5, 1.5]);
        // With eps = 0.5 the denominators are z + 0.5 = 1.5, q = r / 1.5 = (4/3, 2/3), and the
        // stabiliser's part 0.5 · q (bias_factor = 1) goes half to each factor: (1/3, 1/6).
        let s = split(GateRule::Prop, 0.5);
        let (g, v) = (host(s.gate.unwrap()), host(s.signal));
        assert_close(
            g.clone(),
            [0.25 * 4.0 / 3.0 + 1.0 / 3.0, -0.5 * 2.0 / 3.0 + 1.0 / 6.0],
        );
        assert_close(
            v.clone(),
            [0.75 * 4.0 / 3.0 + 1.0 / 3.0, 1.5 * 2.0 / 3.0 + 1.0 / 6.0],
        );
        assert_close(vec![g[0] + v[0], g[1] + v[1]], [2.0, 1.0]);
    }

    #[test]
    fn abs_splits_by_magnitudes() {
        // |gate| + |signal| = (1, 2): gate (2·0.25, 1·0.5/2), signal (2·0.75, 1·1.5/2).
        let s = split(GateRule::Abs, 0.0);
        assert_close(host(s.gate.unwrap()), [0.5, 0.25]);
        assert_close(host(s.signal), [1.5, 0.75]);
    }

    #[test]
    fn a_zero_denominator_is_absorbed_not_divided() {
        // prop with gate = -signal: z = 0, the rule is undefined; at eps = 0 the unit's
        // relevance goes to `absorbed` (the caller's `rest`) and both shares are 0.
        let eps = EpsilonRule {
            eps: 0.0,
            bias_factor: 1.0,
        };
        let s = split_product(
            GateRule::Prop,
            eps,
            t([0.5, 0.25]),
            t([-0.5, 0.75]),
            t([3.0, 1.0]),
        );
        assert_close(host(s.gate.unwrap()), [0.0, 0.25]);
        assert_close(host(s.signal), [0.0, 0.75]);
        let absorbed = s.absorbed.unwrap().into_data().try_to_vec::<f64>().unwrap();
        assert_eq!(absorbed, [3.0]);
    }
}
