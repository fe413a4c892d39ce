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
//!    steps and directions are one matrix product afterwards.
//!
//! What is left on the initial states `h_{-1}`, `c_{-1}` of every layer and direction is the
//! `rest`. A padding step leaves the state unchanged, so its relevance passes through untouched
//! and its input gets exactly zero.

use burn::tensor::{Bool, Tensor};

use crate::config::GateRule;
use crate::forward::{DirectionTrace, LayerTrace, Trace, per_direction, time_of};
use crate::model::{DirectionTensors, LstmLayerTensors, LstmModel};
use crate::params::MergeMode;
use crate::rules::epsilon::{EpsilonRule, add_optional, with_share};
use crate::rules::gate::{signal_take_all, split_product};

/// Relevance arriving at one direction of an LSTM layer from above.
#[derive(Clone)]
enum Upper {
    /// On the final state `(B, H)` (the last layer, from the head).
    Final(Tensor<2>),
    /// On every step's output, time-aligned `(T, B, H)` (a lower layer, from the layer above).
    Sequence(Tensor<3>),
}

/// What the backward pass through one direction leaves.
struct DirectionRelevance {
    /// The cell candidate's ε-rule quotients `(B, H)` by time (0 at padding).
    quotients: Vec<Tensor<2>>,
    /// Its bias/stabiliser shares `(B, 1)` by time; `None` where they are exactly 0.
    shares: Vec<Option<Tensor<2>>>,
    /// Relevance left on the initial state, and absorbed at zero denominators, `(B)`.
    rest: Tensor<1>,
}

impl LstmModel {
    /// Redistributes `relevance` on the logits `(B, C)` down to the first layer's inputs.
    /// Returns the input relevance `(T, B, E)` (time-major) and the rest `(B)`.
    pub(crate) fn relevance(
        &self,
        trace: &Trace,
        relevance: Tensor<2>,
        rule: EpsilonRule,
        gate_rule: GateRule,
    ) -> (Tensor<3>, Tensor<1>) {
        // The Dense head, last layer first; relevance passes unchanged through the element-wise
        // activations.
        let batch = relevance.dims()[0];
        // Relevance at exactly-zero denominators (eps = 0 only), reported in `rest`.
        let mut absorbed: Option<Tensor<1>> = None;
        let mut r = relevance;
        for (k, dense) in self.head.iter().enumerate().rev() {
            let a = trace.head_inputs[k].clone();
            let z = trace.head_z[k].clone();
            let (q, lost) = rule.quotient(r, z.clone());
            absorbed = add_optional(absorbed, lost.map(|l| l.reshape([batch])));
            let share = rule.share(&q, &z, Some(&dense.b), dense.inputs);
            r = with_share(q.matmul(dense.w_t.clone()).mul(a), &share);
        }

        let top = self.layers.len() - 1;
        let finals: Vec<Tensor<2>> = trace.layers[top]
            .dirs
            .iter()
            .map(|d| d.final_h.clone())
            .collect();
        let merged = trace.head_inputs[0].clone();
        let (parts, lost) = split(&self.layers[top], finals, merged, r, rule);
        absorbed = add_optional(absorbed, lost.map(|l| l.reshape([batch])));
        let mut upper: Vec<Upper> = parts.into_iter().map(Upper::Final).collect();
        let mut rest: Option<Tensor<1>> = None;
        for l in (0..self.layers.len()).rev() {
            let (r_in, layer_rest) =
                self.layer_relevance(&self.layers[l], &trace.layers[l], upper, rule, gate_rule);
            rest = Some(match rest {
                Some(acc) => acc.add(layer_rest),
                None => layer_rest,
            });
            if l == 0 {
                let rest = rest.expect("set above");
                return (
                    r_in,
                    add_optional(Some(rest.clone()), absorbed).unwrap_or(rest),
                );
            }
            let below = &trace.layers[l - 1];
            let (outputs, merged) = match &below.merge_inputs {
                Some((aligned, merged)) => (aligned.clone(), merged.clone()),
                // Only a sum/ave merge reads the outputs; concatenation just splits.
                None => (Vec::new(), r_in.clone()),
            };
            let (parts, lost) = split(&self.layers[l - 1], outputs, merged, r_in, rule);
            // (T, B, 1) → (B).
            absorbed = add_optional(absorbed, lost.map(|l| l.sum_dim(0).reshape([batch])));
            upper = parts.into_iter().map(Upper::Sequence).collect();
        }
        unreachable!("a validated model has at least one LSTM layer")
    }

    /// The relevance pass through one LSTM layer. Returns the relevance of the layer's input
    /// sequence `(T, B, E)` and the rest on its initial states `(B)`.
    fn layer_relevance(
        &self,
        layer: &LstmLayerTensors,
        trace: &LayerTrace,
        upper: Vec<Upper>,
        rule: EpsilonRule,
        gate_rule: GateRule,
    ) -> (Tensor<3>, Tensor<1>) {
        let [t_len, batch, e] = trace.inputs.dims();
        let h = layer.hidden;
        let dirs = per_direction(layer.directions(), self.parallel_directions, |d| {
            let pass = DirectionPass {
                weights: &layer.dirs[d],
                trace: &trace.dirs[d],
                direction: d,
                pad: trace.pad.as_ref(),
                rule,
                n_gate: e + h,
            };
            match gate_rule {
                GateRule::All => direction_relevance(pass, upper[d].clone()),
                other => direction_relevance_gates(pass, upper[d].clone(), other),
            }
        });
        // The x_t parts of every step's and direction's ε-rules in one product:
        // [q_fw | q_bw] (T·B, D·G) × (D·G, E), with G = H (the cell candidate only, under
        // `all`) or 4H (every gate).
        let (width, w_x_t) = match gate_rule {
            GateRule::All => (h, &layer.w_x_g_t),
            _ => (4 * h, &layer.w_x_gates_t),
        };
        let q: Tensor<3> = Tensor::cat(
            dirs.iter()
                .map(|d| Tensor::stack(d.quotients.clone(), 0))
                .collect(),
            2,
        );
        let mut r_x = q
            .reshape([t_len * batch, layer.directions() * width])
            .matmul(w_x_t.clone())
            .reshape([t_len, batch, e])
            .mul(trace.inputs.clone());
        for d in &dirs {
            if let Some(shares) = d.shares.iter().cloned().collect::<Option<Vec<Tensor<2>>>>() {
                let shares: Tensor<3> = Tensor::stack(shares, 0);
                r_x = r_x.add(shares);
            }
        }
        let rest = dirs
            .into_iter()
            .map(|d| d.rest)
            .reduce(|a, b| a.add(b))
            .expect("at least one direction");
        (r_x, rest)
    }
}

/// Relevance on a layer's merged output (`(B, out)` final state or `(T, B, out)` sequence) →
/// per direction (`(B, H)` / `(T, B, H)`). `outputs` are the directions' own outputs (only read
/// by a sum/ave merge) and `merged` their merge. Also returns the relevance absorbed at zero
/// denominators of a sum/ave merge (eps = 0 only), summed over the last dimension.
fn split<const D: usize>(
    layer: &LstmLayerTensors,
    outputs: Vec<Tensor<D>>,
    merged: Tensor<D>,
    r: Tensor<D>,
    rule: EpsilonRule,
) -> (Vec<Tensor<D>>, Option<Tensor<D>>) {
    let h = layer.hidden;
    if layer.directions() == 1 {
        return (vec![r], None);
    }
    match layer.merge {
        MergeMode::Concat => (
            vec![
                r.clone().slice_dim(D - 1, 0..h),
                r.slice_dim(D - 1, h..2 * h),
            ],
            None,
        ),
        // The ε-rule through z = w (a_fw + a_bw), w = 1 (sum) or 1/2 (ave), no bias, N = 2H
        // (the same dense-identity convention as the cell-state split).
        MergeMode::Sum | MergeMode::Ave => {
            let weight = if layer.merge == MergeMode::Ave {
                0.5
            } else {
                1.0
            };
            let (q, lost) = rule.quotient(r, merged.clone());
            let share = rule.share(&q, &merged, None, 2 * h);
            let parts = outputs
                .into_iter()
                .map(|a| with_share(a.mul_scalar(weight).mul(q.clone()), &share))
                .collect();
            (parts, lost)
        }
    }
}

/// What the backward pass through one direction reads.
struct DirectionPass<'a> {
    weights: &'a DirectionTensors,
    trace: &'a DirectionTrace,
    direction: usize,
    pad: Option<&'a Tensor<2, Bool>>,
    rule: EpsilonRule,
    /// `N` of the gates' ε-rules: `E + H`.
    n_gate: usize,
}

/// What one backward step through a direction produces, before padding is applied.
struct StepRelevance {
    /// Relevance of `h_{t-1}` and `c_{t-1}`, `(B, H)`.
    r_h_prev: Tensor<2>,
    r_c_prev: Tensor<2>,
    /// The ε-rule quotients of the step's pre-activations whose `x_t` part is computed after
    /// the loop: `(B, H)` (cell candidate) or `(B, 4H)` (every gate).
    q: Tensor<2>,
    /// Their bias/stabiliser share `(B, 1)`; `None` where exactly 0.
    share: Option<Tensor<2>>,
    /// Relevance absorbed at zero denominators `(B, 1)`.
    lost: Option<Tensor<2>>,
}

/// The backward recurrence of one direction, common to every gate rule: relevance arriving from
/// above, the padding (a padded step passes `R_h`, `R_c` through unchanged and gives its input
/// nothing), and the result. `step` applies the rule to reading step `s` given `R_h`, `R_c`.
fn backward_through_time(
    pass: &DirectionPass<'_>,
    upper: Upper,
    mut step: impl FnMut(usize, Tensor<2>, Tensor<2>) -> StepRelevance,
) -> DirectionRelevance {
    let trace = pass.trace;
    let t_len = trace.steps.len();
    let [batch, h] = trace.final_h.dims();
    let zeros = trace.final_h.zeros_like();
    let (mut r_h, sequence) = match upper {
        Upper::Final(r) => (r, None),
        Upper::Sequence(r) => (zeros.clone(), Some(r)),
    };
    let mut r_c = zeros;
    let mut quotients = vec![None; t_len];
    let mut shares = vec![None; t_len];
    // Relevance at exactly-zero denominators (eps = 0 only), `(B, 1)`, reported in `rest`.
    let mut absorbed: Option<Tensor<2>> = None;
    for s in (0..t_len).rev() {
        let t = time_of(pass.direction, s, t_len);
        if let Some(r_out) = &sequence {
            r_h = r_h.add(r_out.clone().slice_dim(0, t..t + 1).reshape([batch, h]));
        }
        // Without padding R_c and R_h are not needed after the step, and the rule can reuse
        // their buffers.
        let kept = pass.pad.map(|_| (r_h.clone(), r_c.clone()));
        let mut out = step(s, r_h, r_c);
        if let (Some(pad), Some((r_h_kept, r_c_kept))) = (pass.pad, kept) {
            let flags: Tensor<2, Bool> = pad.clone().slice_dim(0, t..t + 1).reshape([batch, 1]);
            let wide = flags.clone().expand([batch, h]);
            out.r_h_prev = out.r_h_prev.mask_where(wide.clone(), r_h_kept);
            out.r_c_prev = out.r_c_prev.mask_where(wide, r_c_kept);
            let width = out.q.dims()[1];
            out.q = out.q.mask_fill(flags.clone().expand([batch, width]), 0.0);
            out.share = out.share.map(|sh| sh.mask_fill(flags.clone(), 0.0));
            out.lost = out.lost.map(|l| l.mask_fill(flags, 0.0));
        }
        absorbed = add_optional(absorbed, out.lost);
        quotients[t] = Some(out.q);
        shares[t] = out.share;
        r_h = out.r_h_prev;
        r_c = out.r_c_prev;
    }
    DirectionRelevance {
        quotients: quotients
            .into_iter()
            .map(|q| q.expect("every time step is visited once"))
            .collect(),
        shares,
        rest: add_optional(Some(r_h.add(r_c).sum_dim(1)), absorbed)
            .expect("the first term is present")
            .reshape([batch]),
    }
}

/// The backward pass through one direction of a layer under signal-take-all.
fn direction_relevance(pass: DirectionPass<'_>, upper: Upper) -> DirectionRelevance {
    let (weights, rule, n_gate) = (pass.weights, pass.rule, pass.n_gate);
    let h = pass.trace.final_h.dims()[1];
    backward_through_time(&pass, upper, |s, r_h, r_c| {
        let step = &pass.trace.steps[s];
        // h_t = o ⊙ tanh(c_t): the output gate takes nothing, c_t takes R_h.
        let r_cell = r_c.add(signal_take_all(r_h));
        // c_t = f ⊙ c_{t-1} + i ⊙ g: identity weights, N = 2H.
        let (q_c, lost_c) = rule.quotient(r_cell, step.c.clone());
        let share_c = rule.share(&q_c, &step.c, None, 2 * h);
        let r_c_prev = signal_take_all(with_share(step.fc.clone().mul(q_c.clone()), &share_c));
        let r_g = signal_take_all(with_share(step.ig.clone().mul(q_c), &share_c));
        // g = tanh(x W_xg + h_{t-1} W_hg + b_g): N = E + H.
        let (q_g, lost_g) = rule.quotient(r_g, step.g_pre.clone());
        let share_g = rule.share(&q_g, &step.g_pre, Some(&weights.b_g), n_gate);
        let r_h_prev = with_share(
            q_g.clone()
                .matmul(weights.w_h_g_t.clone())
                .mul(step.h_prev.clone()),
            &share_g,
        );
        StepRelevance {
            r_h_prev,
            r_c_prev,
            q: q_g,
            share: share_g,
            lost: add_optional(lost_c, lost_g),
        }
    })
}

/// The backward pass through one direction under a gate rule that gives gates relevance
/// (`prop`, `abs`, `half`): each step splits `o ⊙ tanh(c_t)`, `f ⊙ c_{t−1}` and `i ⊙ g` by the
/// rule, and the relevance of all four gates' pre-activations goes to `x_t` and `h_{t−1}` by the
/// ε-rule on the gates' weights (`N = E + H` each), as one `(B, 4H) × (4H, H)` product per step.
/// The quotients returned are `(B, 4H)`, gates i, f, o, g, in true (unscaled) units.
fn direction_relevance_gates(
    pass: DirectionPass<'_>,
    upper: Upper,
    gate_rule: GateRule,
) -> DirectionRelevance {
    let (weights, rule, n_gate) = (pass.weights, pass.rule, pass.n_gate);
    let h = pass.trace.final_h.dims()[1];
    backward_through_time(&pass, upper, |s, r_h, r_c| {
        let step = &pass.trace.steps[s];
        let gates = step
            .gates
            .as_ref()
            .expect("the forward pass keeps the gate values for this rule");
        // h_t = o ⊙ tanh(c_t).
        let out = split_product(gate_rule, rule, gates.o.clone(), gates.tanh_c.clone(), r_h);
        let mut lost = out.absorbed;
        let r_cell = r_c.add(out.signal);
        // c_t = f ⊙ c_{t-1} + i ⊙ g: identity weights, N = 2H.
        let (q_c, lost_c) = rule.quotient(r_cell, step.c.clone());
        lost = add_optional(lost, lost_c);
        let share_c = rule.share(&q_c, &step.c, None, 2 * h);
        let r_fc = with_share(step.fc.clone().mul(q_c.clone()), &share_c);
        let r_ig = with_share(step.ig.clone().mul(q_c), &share_c);
        let forget = split_product(gate_rule, rule, gates.f.clone(), gates.c_prev.clone(), r_fc);
        let input = split_product(gate_rule, rule, gates.i.clone(), gates.g.clone(), r_ig);
        lost = add_optional(add_optional(lost, forget.absorbed), input.absorbed);
        let r_c_prev = forget.signal;
        // Every gate's pre-activation z = x W_x + h_{t-1} W_h + b: the ε-rule with N = E + H.
        let gate_or_zero = |r: Option<Tensor<2>>| r.unwrap_or_else(|| r_c_prev.zeros_like());
        let r_z = Tensor::cat(
            vec![
                gate_or_zero(input.gate),
                gate_or_zero(forget.gate),
                gate_or_zero(out.gate),
                input.signal,
            ],
            1,
        );
        let (q, lost_z) = rule.quotient(r_z, gates.pre.clone());
        let share = rule.share(&q, &gates.pre, Some(&weights.b_gates), n_gate);
        let r_h_prev = with_share(
            q.clone()
                .matmul(weights.w_h_gates_t.clone())
                .mul(step.h_prev.clone()),
            &share,
        );
        StepRelevance {
            r_h_prev,
            r_c_prev,
            q,
            share,
            lost: add_optional(lost, lost_z),
        }
    })
}
