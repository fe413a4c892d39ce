//! The GRU cell (Cho et al. 2014, "Learning Phrase Representations using RNN Encoder–Decoder",
//! EMNLP; Keras' and PyTorch's formulation, gate order z, r, n): its forward step and its
//! relevance under each gate rule.
//!
//! ```text
//! z = σ(a_z),  a_z = x W_z + h_{t−1} U_z + b_z          r = σ(a_r),  a_r = x W_r + h_{t−1} U_r + b_r
//! reset_after:   a_n = x W_n + b_xn + r ⊙ m,   m = h_{t−1} U_n + b_hn
//! reset before:  a_n = x W_n + u U_n + b_n,    u = r ⊙ h_{t−1}
//! n = tanh(a_n)                                  h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n
//! ```
//!
//! (Cho et al. and some later papers write `h_t = (1 − z) ⊙ h_{t−1} + z ⊙ n`: the same cell,
//! with the gate called `1 − z` here.)
//!
//! LRP through a step follows Arras et al. (2017, WASSA, §3), who state their rules for the
//! multiplicative connections "as they arise in recurrent network architectures such as LSTMs
//! and GRUs", and Arras et al. (2019, LNCS 11700, §11.3) for the gate-rule variants; Ding et al.
//! (2017, "Visualizing and Understanding Neural Machine Translation", ACL) propagate relevance
//! through GRUs the same way (gates as weights, the ε-rule on every sum). With `R_h` on `h_t`:
//!
//! 1. `h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n`: the ε-rule with identity weights and `N = 2H`, as
//!    the LSTM's cell-state sum, splits `R_h` between the two products.
//! 2. The products `z ⊙ h_{t−1}` (gate `z`) and `(1 − z) ⊙ n` (gate `1 − z`) by the gate rule;
//!    under signal-take-all the first passes its relevance straight to `h_{t−1}`, the second to
//!    `n`, and `tanh` passes it on to `a_n`.
//! 3. `a_n`, `reset_after`: the ε-rule over its inputs — the `E` input values and the `H` reset
//!    products `r ⊙ m`, each unit reading its own product (identity weights), `N = E + H` by the
//!    dense-identity convention of every sum here (the cell-state sum, the merges); the product
//!    by the gate rule (all of it to `m` under signal-take-all); `m = h U_n + b_hn` by the
//!    ε-rule with `N = H` onto `h_{t−1}`.
//!    `a_n`, reset before: the ε-rule over `N = E + H` inputs (`x_t` and `u`), then the product
//!    `u = r ⊙ h_{t−1}` by the gate rule (all of it to `h_{t−1}` under signal-take-all).
//! 4. Under `prop`, `abs` and `half`, the gates' shares flow to their pre-activations: `z`'s
//!    from `z ⊙ h_{t−1}` and `1 − z`'s from `(1 − z) ⊙ n` both to `a_z`, `r`'s to `a_r`; each by
//!    the ε-rule with `N = E + H` onto `x_t` and `h_{t−1}`.
//!
//! Every rule conserves at `eps = 0`, `bias_factor = 1`. A padded step passes `R_h` through
//! unchanged and gives its input nothing, as for the LSTM.

use burn::tensor::Tensor;

use crate::config::GateRule;
use crate::forward::{CellSteps, DirectionRun, DirectionTrace, PackedState, StepRows, time_of};
use crate::kernels::{
    self, GruRelevanceInputs, GruRelevanceOutputs, GruStepInputs, GruStepOutputs, Kernels, Unfused,
};
use crate::model::GruDirectionTensors;
use crate::params::GateActivation;
use crate::projection::InputProjection;
use crate::relevance::{
    DirectionPass, DirectionRelevance, StepRelevance, Upper, backward_through_time,
};
use crate::rules::epsilon::{add_optional, with_share};
use crate::rules::gate::split_product;
use crate::tensor_ops::{gate_activation, tanh};

/// What one reading step of a GRU direction leaves for the relevance pass, each `(B, H)`.
#[derive(Debug, Clone)]
pub(crate) struct GruStep {
    /// `h_{t−1}`.
    pub h_prev: Tensor<2>,
    /// `z ⊙ h_{t−1}`.
    pub keep: Tensor<2>,
    /// `(1 − z) ⊙ n`.
    pub update: Tensor<2>,
    /// `h_t` before padding: `keep + update`.
    pub h: Tensor<2>,
    /// The candidate's pre-activation `a_n`.
    pub a_n: Tensor<2>,
    /// `reset_after`: `r ⊙ m` and `m`; reset before: `u = r ⊙ h_{t−1}` and `None`.
    pub reset_product: Tensor<2>,
    pub m: Option<Tensor<2>>,
    /// What a gate rule other than `all` reads; `None` under `all`.
    pub gates: Option<GruGates>,
}

/// The gate values of one GRU step, for the gate rules that give gates relevance.
#[derive(Debug, Clone)]
pub(crate) struct GruGates {
    /// `[a_z | a_r]` `(B, 2H)`.
    pub a_zr: Tensor<2>,
    /// `z`, `1 − z`, `r`, `n`, each `(B, H)`.
    pub z: Tensor<2>,
    pub one_minus_z: Tensor<2>,
    pub r: Tensor<2>,
    pub n: Tensor<2>,
}

/// One GRU direction over a layer's input.
pub(crate) fn run_direction(
    weights: &GruDirectionTensors,
    reset_after: bool,
    run: DirectionRun<'_>,
) -> DirectionTrace {
    let [t_len, batch, _] = run.inputs.dims();
    let h = run.hidden;
    let mut h_state = PackedState::new(Tensor::zeros(
        [batch, h],
        (&weights.b_x.device(), weights.b_x.dtype()),
    ));
    let mut steps = Vec::with_capacity(if run.keep { t_len } else { 0 });
    let mut outputs = Vec::with_capacity(if run.outputs { t_len } else { 0 });
    // The step kernel covers `reset_after` with logistic gates; a gate rule other than `all`
    // reads the gates' values, which only the tensor path keeps.
    let fused = run
        .kernels
        .filter(|_| reset_after && run.gates == GateActivation::Sigmoid && !run.keep_gates);
    // The step kernel adds the biases as it reads the halves; the tensor path's products add
    // them.
    let mut projection = InputProjection::new(
        run.inputs,
        (&weights.w_x, fused.is_none().then_some(&weights.b_x)),
        run.direction,
        run.active,
        run.kernels,
    );
    for s in 0..t_len {
        let t = time_of(run.direction, s, t_len);
        let rows = StepRows::at(run.active, t, batch);
        let h_prev = h_state.rows(rows.n);
        // x_t W_x (+ b_x on the tensor path), computed ahead for a chunk of steps.
        let gx = projection.step(s);
        let (h_raw, step) = match fused {
            Some(kernels) => fused_step(kernels, gx, h_prev.clone(), weights, &run),
            None => step_tensor_ops(gx, None, h_prev.clone(), weights, reset_after, &run),
        };
        // Padding computed with the real rows (no `active` prefix): masked.
        let step_pad = run.pad.filter(|_| run.active.is_none()).map(|p| {
            p.clone()
                .slice_dim(0, t..t + 1)
                .reshape([batch, 1])
                .expand([batch, h])
        });
        let h_new = match &step_pad {
            Some(p) => h_raw.clone().mask_where(p.clone(), h_prev.clone()),
            None => h_raw.clone(),
        };
        if run.outputs {
            outputs.push(match &step_pad {
                Some(p) => h_new.clone().mask_fill(p.clone(), 0.0),
                None => rows.zero_rest(h_new.clone()),
            });
        }
        steps.extend(step);
        h_state.set(h_new);
    }
    DirectionTrace {
        steps: CellSteps::Gru(steps),
        outputs,
        final_h: h_state.into_full(),
    }
}

/// One step by the backend's fused kernel (`reset_after`, logistic gates, no gate values): the
/// new state before padding and, with `run.keep`, what the relevance pass keeps; the tensor path
/// when the kernel hands the step back.
fn fused_step(
    kernels: Kernels,
    gx: Tensor<2>,
    h_prev: Tensor<2>,
    weights: &GruDirectionTensors,
    run: &DirectionRun<'_>,
) -> (Tensor<2>, Option<GruStep>) {
    let gh = kernels::matmul(Some(kernels), h_prev.clone(), weights.w_h.clone());
    let inputs = GruStepInputs {
        gx,
        gh,
        b_x: weights.b_x.clone(),
        b_h: weights.b_h.clone(),
        h_prev: h_prev.clone(),
    };
    match kernels.0.gru_step(inputs, run.keep) {
        Ok(GruStepOutputs { h, kept }) => {
            let step = kept.map(|kept| GruStep {
                h_prev,
                keep: kept.keep,
                update: kept.update,
                h: h.clone(),
                a_n: kept.a_n,
                reset_product: kept.reset_product,
                m: Some(kept.m),
                gates: None,
            });
            (h, step)
        }
        Err(inputs) => {
            let GruStepInputs {
                gx, gh, b_x, b_h, ..
            } = *inputs;
            step_tensor_ops(gx.add(b_x), Some(gh.add(b_h)), h_prev, weights, true, run)
        }
    }
}

/// One step as tensor operations (what [`kernels::StepKernels::gru_step`] computes in one pass
/// for `reset_after`): the new state before padding and, with `run.keep`, what the relevance
/// pass keeps. `gh`: `reset_after`'s recurrent half `h_{t−1} U + b_h` when already computed.
fn step_tensor_ops(
    gx: Tensor<2>,
    gh: Option<Tensor<2>>,
    h_prev: Tensor<2>,
    weights: &GruDirectionTensors,
    reset_after: bool,
    run: &DirectionRun<'_>,
) -> (Tensor<2>, Option<GruStep>) {
    let h = run.hidden;
    let (a_zr, m, reset_source) = if reset_after {
        let gh = gh.unwrap_or_else(|| {
            kernels::matmul_add(
                run.kernels,
                h_prev.clone(),
                weights.w_h.clone(),
                weights.b_h.clone(),
            )
        });
        let a_zr = gx
            .clone()
            .slice_dim(1, 0..2 * h)
            .add(gh.clone().slice_dim(1, 0..2 * h));
        (a_zr, Some(gh.slice_dim(1, 2 * h..3 * h)), None)
    } else {
        let a_zr = gx.clone().slice_dim(1, 0..2 * h).add(kernels::matmul(
            run.kernels,
            h_prev.clone(),
            weights.w_h_zr.clone(),
        ));
        (a_zr, None, Some(h_prev.clone()))
    };
    let zr = gate_activation(a_zr.clone(), run.gates);
    let z = zr.clone().slice_dim(1, 0..h);
    let r = zr.slice_dim(1, h..2 * h);
    let (reset_product, a_n) = match (&m, reset_source) {
        (Some(m), _) => {
            let product = r.clone().mul(m.clone());
            let a_n = gx.slice_dim(1, 2 * h..3 * h).add(product.clone());
            (product, a_n)
        }
        (None, Some(h_prev)) => {
            let u = r.clone().mul(h_prev);
            let a_n = gx.slice_dim(1, 2 * h..3 * h).add(kernels::matmul(
                run.kernels,
                u.clone(),
                weights.w_h_n.clone(),
            ));
            (u, a_n)
        }
        (None, None) => unreachable!("one of the two reset variants"),
    };
    let n = tanh(a_n.clone());
    let one_minus_z = z.clone().neg().add_scalar(1.0);
    let keep = z.clone().mul(h_prev.clone());
    let update = one_minus_z.clone().mul(n.clone());
    let h_raw = keep.clone().add(update.clone());
    let gates = run.keep_gates.then(|| GruGates {
        a_zr,
        z,
        one_minus_z,
        r,
        n,
    });
    let step = run.keep.then(|| GruStep {
        h_prev,
        keep,
        update,
        h: h_raw.clone(),
        a_n,
        reset_product,
        m,
        gates,
    });
    (h_raw, step)
}

/// The backward pass through one GRU direction under `gate_rule` (see the module
/// documentation). The quotients returned for the `x_t` part are those of `a_n` `(B, H)` under
/// `all`, of `[a_z, a_r, a_n]` `(B, 3H)` otherwise.
pub(crate) fn direction_relevance(
    pass: DirectionPass<'_>,
    weights: &GruDirectionTensors,
    steps: &[GruStep],
    upper: Upper,
    gate_rule: GateRule,
) -> DirectionRelevance {
    let rule = pass.rule;
    let (e, h) = (pass.inputs, pass.hidden);
    let reset_after = steps.first().is_none_or(|s| s.m.is_some());
    // The kernel covers `reset_after` under signal-take-all with the default ε-rule (eps > 0, no
    // bias share); the other cases stay on the tensor path.
    let fused = pass.kernels.filter(|_| {
        reset_after && gate_rule == GateRule::All && rule.eps > 0.0 && rule.bias_factor == 0.0
    });
    backward_through_time(&pass, upper, false, |s, r_h, _| {
        let step = &steps[s];
        let r_h = match fused {
            None => r_h,
            Some(kernels) => match fused_step_relevance(kernels, r_h, step, weights, rule.eps) {
                Ok(relevance) => return relevance,
                Err(r_h) => *r_h,
            },
        };
        // h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n: identity weights, N = 2H.
        let (q_h, lost_h) = rule.quotient(r_h, step.h.clone());
        let share_h = rule.share(&q_h, &step.h, None, 2 * h);
        let r_keep = with_share(step.keep.clone().mul(q_h.clone()), &share_h);
        let r_update = with_share(step.update.clone().mul(q_h), &share_h);
        let gates = step.gates.as_ref();
        // A gate's value, kept only for the rules that read it; under `all` split_product never
        // looks at it, and any tensor of the right shape stands in.
        let gate = |f: fn(&GruGates) -> &Tensor<2>| {
            gates.map_or_else(|| step.h_prev.clone(), |g| f(g).clone())
        };
        // z ⊙ h_{t−1} and (1 − z) ⊙ n.
        let kept = split_product(gate_rule, rule, gate(|g| &g.z), step.h_prev.clone(), r_keep);
        let updated = split_product(
            gate_rule,
            rule,
            gate(|g| &g.one_minus_z),
            gate(|g| &g.n),
            r_update,
        );
        let mut lost = add_optional(add_optional(lost_h, kept.absorbed), updated.absorbed);
        let mut r_h_prev = kept.signal;
        // n = tanh(a_n): the relevance passes to a_n.
        let r_an = updated.signal;
        let (q_n, lost_n) = rule.quotient(r_an, step.a_n.clone());
        lost = add_optional(lost, lost_n);
        let (share_x_n, r_gate_r) = if reset_after {
            // a_n = x W_n + b_xn + r ⊙ m: N = E + H (the inputs and the H products).
            let share_x = rule.share(&q_n, &step.a_n, Some(&weights.b_n), e + h);
            let r_product = with_share(step.reset_product.clone().mul(q_n.clone()), &share_x);
            let m = step.m.clone().expect("reset_after keeps m");
            let reset = split_product(gate_rule, rule, gate(|g| &g.r), m.clone(), r_product);
            lost = add_optional(lost, reset.absorbed);
            // m = h_{t−1} U_n + b_hn: N = H.
            let (q_m, lost_m) = rule.quotient(reset.signal, m.clone());
            lost = add_optional(lost, lost_m);
            let share_m = rule.share(&q_m, &m, Some(&weights.b_hn), h);
            r_h_prev = r_h_prev.add(with_share(
                kernels::matmul(pass.kernels, q_m, weights.w_h_n_t.clone())
                    .mul(step.h_prev.clone()),
                &share_m,
            ));
            (share_x, reset.gate)
        } else {
            // a_n = x W_n + u U_n + b_n: N = E + H.
            let share = rule.share(&q_n, &step.a_n, Some(&weights.b_n), e + h);
            let r_u = with_share(
                kernels::matmul(pass.kernels, q_n.clone(), weights.w_h_n_t.clone())
                    .mul(step.reset_product.clone()),
                &share,
            );
            let reset = split_product(gate_rule, rule, gate(|g| &g.r), step.h_prev.clone(), r_u);
            lost = add_optional(lost, reset.absorbed);
            r_h_prev = r_h_prev.add(reset.signal);
            (share, reset.gate)
        };
        let Some(g) = gates else {
            return StepRelevance {
                r_h_prev,
                r_c_prev: None,
                q: q_n,
                share: share_x_n,
                lost,
            };
        };
        // The gates' pre-activations a_z (from both z and 1 − z) and a_r: N = E + H each.
        let zero = || step.h_prev.zeros_like();
        let r_az = add_optional(kept.gate, updated.gate).unwrap_or_else(zero);
        let r_ar = r_gate_r.unwrap_or_else(zero);
        let (q_zr, lost_zr) = rule.quotient(Tensor::cat(vec![r_az, r_ar], 1), g.a_zr.clone());
        lost = add_optional(lost, lost_zr);
        let share_zr = rule.share(&q_zr, &g.a_zr, Some(&weights.b_zr), e + h);
        r_h_prev = r_h_prev.add(with_share(
            kernels::matmul(pass.kernels, q_zr.clone(), weights.w_h_zr_t.clone())
                .mul(step.h_prev.clone()),
            &share_zr,
        ));
        StepRelevance {
            r_h_prev,
            r_c_prev: None,
            q: Tensor::cat(vec![q_zr, q_n], 1),
            share: add_optional(share_zr, share_x_n),
            lost,
        }
    })
}

/// A relevance step by the backend's fused kernel (`reset_after`, signal-take-all, `eps > 0`,
/// `bias_factor = 0`: no share, nothing absorbed), then `m`'s ε-rule onto `h_{t−1}` as one
/// product; `Err(r_h)` when the kernel hands the step back.
fn fused_step_relevance(
    kernels: Kernels,
    r_h: Tensor<2>,
    step: &GruStep,
    weights: &GruDirectionTensors,
    eps: f64,
) -> Result<StepRelevance, Unfused<Tensor<2>>> {
    let inputs = GruRelevanceInputs {
        r_h,
        h: step.h.clone(),
        keep: step.keep.clone(),
        update: step.update.clone(),
        a_n: step.a_n.clone(),
        reset_product: step.reset_product.clone(),
        m: step.m.clone().expect("reset_after keeps m"),
    };
    let GruRelevanceOutputs { r_keep, q_n, q_m } = kernels
        .0
        .gru_relevance_step(inputs, eps)
        .map_err(|inputs| Box::new(inputs.r_h))?;
    let r_h_prev = r_keep
        .add(kernels::matmul(Some(kernels), q_m, weights.w_h_n_t.clone()).mul(step.h_prev.clone()));
    Ok(StepRelevance {
        r_h_prev,
        r_c_prev: None,
        q: q_n,
        share: None,
        lost: None,
    })
}
