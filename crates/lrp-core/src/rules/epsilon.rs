//! The ε-rule for a linear map `z_j = Σ_i a_i w_ij + b_j`, in quotient form.
//!
//! The references build the full message tensor `(a_i w_ij + share_j) / den_j · R_j` of shape
//! `(B, D, M)` and sum it over `j`. With the quotient `q_j = R_j / den_j` the same sum is
//!
//! ```text
//! R_i = a_i · Σ_j w_ij q_j  +  (bias_factor / N) · Σ_j (b_j + eps · s_j) q_j
//!     = a_i · (q Wᵀ)_i       +  share
//! ```
//!
//! one matrix product plus a per-sample scalar that every input receives alike, never a
//! `(B, D, M)` tensor. `den_j = z_j + eps · s_j` with `s_j = +1` for `z_j >= 0` and `-1` otherwise
//! (so `sign(0) = +1`, as in both references).

use burn::tensor::Tensor;

/// The ε-rule's two settings, shared by every linear map of a pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct EpsilonRule {
    /// Stabiliser ε ≥ 0.
    pub eps: f64,
    /// Share of the bias and stabiliser redistributed to the inputs.
    pub bias_factor: f64,
}

impl EpsilonRule {
    /// The stabilised denominator `z + eps · s(z)`.
    pub fn denominator<const D: usize>(&self, z: Tensor<D>) -> Tensor<D> {
        if self.eps == 0.0 {
            return z;
        }
        let negative = z.clone().lower_elem(0.0);
        z.clone()
            .add_scalar(self.eps)
            .mask_where(negative, z.sub_scalar(self.eps))
    }

    /// The quotient `q = R / (z + eps · s(z))`, and the relevance it cannot pass on.
    ///
    /// With `eps > 0`, `|den| >= eps` and everything passes. With `eps = 0` a denominator can be
    /// exactly 0 (a cell state or pre-activation that is exactly zero, e.g. behind saturated
    /// hard-sigmoid gates); the rule is undefined there. Such an output's quotient is 0 — never NaN
    /// or infinity — and its relevance is returned as `absorbed` (summed over the last
    /// dimension, kept with size 1) so that the caller can report it in `rest` and conservation
    /// still holds.
    pub fn quotient<const D: usize>(
        &self,
        relevance: Tensor<D>,
        z: Tensor<D>,
    ) -> (Tensor<D>, Option<Tensor<D>>) {
        let den = self.denominator(z);
        if self.eps != 0.0 {
            return (relevance.div(den), None);
        }
        let zero = den.clone().equal_elem(0.0);
        let absorbed = relevance
            .clone()
            .mask_fill(zero.clone().bool_not(), 0.0)
            .sum_dim(D - 1);
        let q = relevance
            .div(den.mask_fill(zero.clone(), 1.0))
            .mask_fill(zero, 0.0);
        (q, Some(absorbed))
    }

    /// The share `(bias_factor / n) · Σ_j (b_j + eps · s_j) q_j` that each of the `n` inputs of
    /// the map receives, summed over the last dimension (kept, size 1). `bias` broadcasts against
    /// `q` (e.g. `(D, 1, H)` against `(D, B, H)`); `None` means a map without bias.
    ///
    /// Returns `None` when the share is exactly zero for every input (`bias_factor = 0`, or no
    /// bias and `eps = 0`), so callers skip adding it: adding an exact zero would not change a
    /// single bit, and skipping it saves a pass.
    pub fn share<const D: usize>(
        &self,
        q: &Tensor<D>,
        z: &Tensor<D>,
        bias: Option<&Tensor<D>>,
        n: usize,
    ) -> Option<Tensor<D>> {
        if self.bias_factor == 0.0 || (bias.is_none() && self.eps == 0.0) {
            return None;
        }
        let mut weight = match bias {
            Some(b) if self.eps != 0.0 => self.stabiliser(z).add(b.clone()),
            Some(b) => b.clone(),
            None => self.stabiliser(z),
        };
        weight = weight.mul(q.clone());
        Some(
            weight
                .sum_dim(D - 1)
                .mul_scalar(self.bias_factor / n as f64),
        )
    }

    /// `eps · s(z)`.
    pub fn stabiliser<const D: usize>(&self, z: &Tensor<D>) -> Tensor<D> {
        let negative = z.clone().lower_elem(0.0);
        z.ones_like()
            .mul_scalar(self.eps)
            .mask_fill(negative, -self.eps)
    }
}

/// `a + b` where a missing term is exactly zero.
pub(crate) fn add_optional<const D: usize>(
    a: Option<Tensor<D>>,
    b: Option<Tensor<D>>,
) -> Option<Tensor<D>> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.add(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

/// `relevance + share`, where a missing share is exactly zero.
pub(crate) fn with_share<const D: usize>(
    relevance: Tensor<D>,
    share: &Option<Tensor<D>>,
) -> Tensor<D> {
    match share {
        Some(s) => relevance.add(s.clone()),
        None => relevance,
    }
}
