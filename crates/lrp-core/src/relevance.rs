//! The relevance pass: the target logit redistributed backwards through head, merges and LSTM
//! layers with the rules of [`crate::rules`].
//!
//! Through an LSTM step (Arras et al., 2017), with `R_h`, `R_c` the relevance waiting on the
//! step's hidden and cell state:
//!
//! 1. `h_t = o_t ⊙ tanh(c_t)`: signal-take-all, so `R_h` joins `R_c` (`R_c[t] += R_h[t]`).
//! 2. `c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t`: ε-rule with identity weights and `N = 2H`, splitting
//!    `R_c` between `f ⊙ c_{t-1}` (→ `c_{t-1}` by signal-take-all) and `i ⊙ g` (→ `g`).
//! 3. `g_t = tanh(x_t W_xg + h_{t-1} W_hg + b_g)`: ε-rule with `N = E + H` onto `x_t` and
//!    `h_{t-1}`. Only the `h_{t-1}` half is computed inside the loop; the `x_t` halves of all
//!    steps are one batched matrix product afterwards.
//!
//! What is left on the initial states `h_{-1}`, `c_{-1}` of every layer and direction is the
//! `rest`. A padding step leaves the state unchanged, so its relevance passes through untouched
//! and its input gets exactly zero.

use burn::tensor::{Bool, Tensor};

use crate::forward::{LayerTrace, Trace, time_aligned};
use crate::model::{LstmLayerTensors, LstmModel};
use crate::params::MergeMode;
use crate::rules::epsilon::{EpsilonRule, with_share};
use crate::rules::gate::signal_take_all;

/// Relevance arriving at an LSTM layer's outputs from above.
enum Upper {
    /// On the final states `(D, B, H)` (the last layer, from the head).
    Final(Tensor<3>),
    /// On every step's output `(D, T, B, H)`, reading order (a lower layer, from the layer above).
    Sequence(Tensor<4>),
}

impl LstmModel {
    /// Redistributes `relevance` on the logits `(B, C)` down to the first layer's inputs.
    /// Returns the input relevance `(T, B, E)` (time-major) and the rest `(B)`.
    pub(crate) fn relevance(
        &self,
        trace: &Trace,
        relevance: Tensor<2>,
        rule: EpsilonRule,
    ) -> (Tensor<3>, Tensor<1>) {
        // The Dense head, last layer first; relevance passes unchanged through the element-wise
        // activations.
        let mut r = relevance;
        for (k, dense) in self.head.iter().enumerate().rev() {
            let a = trace.head_inputs[k].clone();
            let z = trace.head_z[k].clone();
            let q = rule.quotient(r, z.clone());
            let share = rule.share(&q, &z, Some(&dense.b), dense.inputs);
            r = with_share(a.mul(q.matmul(dense.w_t.clone())), &share);
        }

        let top = self.layers.len() - 1;
        let mut upper = Upper::Final(split_final(
            &self.layers[top],
            &trace.layers[top],
            trace.head_inputs[0].clone(),
            r,
            rule,
        ));
        let mut rest: Option<Tensor<1>> = None;
        for l in (0..self.layers.len()).rev() {
            let (r_in, layer_rest) =
                lstm_layer_relevance(&self.layers[l], &trace.layers[l], upper, rule);
            rest = Some(match rest {
                Some(acc) => acc.add(layer_rest),
                None => layer_rest,
            });
            if l == 0 {
                return (r_in, rest.expect("set above"));
            }
            upper = Upper::Sequence(split_sequence(
                &self.layers[l - 1],
                &trace.layers[l - 1],
                r_in,
                rule,
            ));
        }
        unreachable!("a validated model has at least one LSTM layer")
    }
}

/// Relevance on the last layer's merged output `(B, out)` → per direction `(D, B, H)`.
fn split_final(
    layer: &LstmLayerTensors,
    trace: &LayerTrace,
    merged: Tensor<2>,
    r: Tensor<2>,
    rule: EpsilonRule,
) -> Tensor<3> {
    let h = layer.hidden;
    if layer.directions == 1 {
        return r.unsqueeze_dim(0);
    }
    match layer.merge {
        MergeMode::Concat => Tensor::stack(
            vec![r.clone().slice_dim(1, 0..h), r.slice_dim(1, h..2 * h)],
            0,
        ),
        MergeMode::Sum | MergeMode::Ave => {
            let dirs: Vec<Tensor<2>> = (0..2)
                .map(|k| trace.final_h.clone().slice_dim(0, k..k + 1).squeeze_dim(0))
                .collect();
            Tensor::stack(merge_relevance(dirs, merged, r, layer.merge, h, rule), 0)
        }
    }
}

/// Relevance on a lower layer's output sequence `(T, B, out)` → per direction in reading order
/// `(D, T, B, H)`.
fn split_sequence(
    layer: &LstmLayerTensors,
    trace: &LayerTrace,
    r: Tensor<3>,
    rule: EpsilonRule,
) -> Tensor<4> {
    let h = layer.hidden;
    if layer.directions == 1 {
        return r.unsqueeze_dim(0);
    }
    let [fw, bw] = match (layer.merge, &trace.merge_inputs) {
        (MergeMode::Concat, _) => [r.clone().slice_dim(2, 0..h), r.slice_dim(2, h..2 * h)],
        (merge, Some((per_dir, merged))) => {
            let aligned = time_aligned(per_dir.clone());
            let mut parts = merge_relevance(aligned, merged.clone(), r, merge, h, rule);
            let bw = parts.pop().expect("two directions");
            let fw = parts.pop().expect("two directions");
            [fw, bw]
        }
        (_, None) => unreachable!("sum/ave layers keep their merge inputs"),
    };
    // Direction 1 reads time backwards: bring its part into reading order.
    Tensor::stack(vec![fw, bw.flip([0])], 0)
}

/// The ε-rule through `z = w · (a_fw + a_bw)` with `w = 1` (sum) or `1/2` (ave), no bias and
/// `N = 2H` (the same dense-identity convention as the cell-state split).
fn merge_relevance<const D: usize>(
    dirs: Vec<Tensor<D>>,
    merged: Tensor<D>,
    r: Tensor<D>,
    merge: MergeMode,
    h: usize,
    rule: EpsilonRule,
) -> Vec<Tensor<D>> {
    let weight = if merge == MergeMode::Ave { 0.5 } else { 1.0 };
    let q = rule.quotient(r, merged.clone());
    let share = rule.share(&q, &merged, None, 2 * h);
    dirs.into_iter()
        .map(|a| with_share(a.mul_scalar(weight).mul(q.clone()), &share))
        .collect()
}

/// The relevance pass through one LSTM layer. Returns the relevance of the layer's input
/// sequence `(T, B, E)` (time order) and the rest on its initial states `(B)`.
fn lstm_layer_relevance(
    layer: &LstmLayerTensors,
    trace: &LayerTrace,
    upper: Upper,
    rule: EpsilonRule,
) -> (Tensor<3>, Tensor<1>) {
    let [d, t_len, batch, e] = trace.inputs.dims();
    let h = layer.hidden;
    let zeros = trace.final_h.zeros_like();
    let (mut r_h, sequence) = match upper {
        Upper::Final(r) => (r, None),
        Upper::Sequence(r) => (zeros.clone(), Some(r)),
    };
    let mut r_c = zeros;
    let mut quotients = Vec::with_capacity(t_len);
    let mut shares = Vec::with_capacity(t_len);

    for s in (0..t_len).rev() {
        let step = &trace.steps[s];
        if let Some(r_out) = &sequence {
            r_h = r_h.add(r_out.clone().slice_dim(1, s..s + 1).reshape([d, batch, h]));
        }
        // h_t = o ⊙ tanh(c_t): the output gate takes nothing, c_t takes R_h.
        let r_cell = r_c.clone().add(signal_take_all(r_h.clone()));
        // c_t = f ⊙ c_{t-1} + i ⊙ g: identity weights, N = 2H.
        let q_c = rule.quotient(r_cell, step.c.clone());
        let share_c = rule.share(&q_c, &step.c, None, 2 * h);
        let mut r_c_prev = signal_take_all(with_share(step.fc.clone().mul(q_c.clone()), &share_c));
        let r_g = signal_take_all(with_share(step.ig.clone().mul(q_c), &share_c));
        // g = tanh(x W_xg + h_{t-1} W_hg + b_g): N = E + H.
        let mut q_g = rule.quotient(r_g, step.g_pre.clone());
        let mut share_g = rule.share(&q_g, &step.g_pre, Some(&layer.b_g), e + h);
        let mut r_h_prev = with_share(
            step.h_prev
                .clone()
                .mul(q_g.clone().matmul(layer.w_h_g_t.clone())),
            &share_g,
        );
        if let Some(pad) = &trace.pad {
            // A padding step carries the state: relevance passes through, the input gets none.
            let flags: Tensor<3, Bool> = pad.clone().slice_dim(0, s..s + 1).reshape([d, batch, 1]);
            let wide = flags.clone().expand([d, batch, h]);
            r_h_prev = r_h_prev.mask_where(wide.clone(), r_h.clone());
            r_c_prev = r_c_prev.mask_where(wide.clone(), r_c.clone());
            q_g = q_g.mask_fill(wide, 0.0);
            share_g = share_g.map(|sh| sh.mask_fill(flags, 0.0));
        }
        quotients.push(q_g);
        shares.push(share_g);
        r_h = r_h_prev;
        r_c = r_c_prev;
    }
    quotients.reverse();
    shares.reverse();

    // The x_t halves of every step's ε-rule in one batched product: (D, T·B, H) × (D, H, E).
    let q_all: Tensor<4> = Tensor::stack(quotients, 1);
    let mut r_inputs = trace.inputs.clone().mul(
        q_all
            .reshape([d, t_len * batch, h])
            .matmul(layer.w_x_g_t.clone())
            .reshape([d, t_len, batch, e]),
    );
    if shares.iter().all(Option::is_some) && !shares.is_empty() {
        let share_all: Tensor<4> = Tensor::stack(shares.into_iter().flatten().collect(), 1);
        r_inputs = r_inputs.add(share_all);
    }
    let r_x = time_aligned(r_inputs)
        .into_iter()
        .reduce(|a, b| a.add(b))
        .expect("at least one direction");
    let rest = r_h.add(r_c).sum_dim(2).sum_dim(0).reshape([batch]);
    (r_x, rest)
}
