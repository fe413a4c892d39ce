//! The LSTM cell (Hochreiter & Schmidhuber 1997; Keras' formulation with a forget gate and one
//! bias): its forward step and its relevance under each gate rule.
//!
//! ```text
//! i, f, o = σ(x W + h_{t−1} U + b)      g = tanh(x W_g + h_{t−1} U_g + b_g)
//! c_t = f ⊙ c_{t−1} + i ⊙ g              h_t = o ⊙ tanh(c_t)
//! ```
//!
//! Relevance through a step (Arras et al. 2017, "Explaining Recurrent Neural Network
//! Predictions in Sentiment Analysis", WASSA, §3; Arras et al. 2019, "Explaining and
//! Interpreting LSTMs", LNCS 11700, §11.3), with `R_h`, `R_c` waiting on the step's states:
//!
//! 1. `h_t = o_t ⊙ tanh(c_t)`: a gate product; under signal-take-all `R_h` joins `R_c`.
//! 2. `c_t = f_t ⊙ c_{t-1} + i_t ⊙ g_t`: ε-rule with identity weights and `N = 2H`, splitting
//!    `R_c` between `f ⊙ c_{t-1}` and `i ⊙ g`, then the gate rule on each product.
//! 3. Each pre-activation `x_t W + h_{t-1} U + b`: ε-rule with `N = E + H` onto `x_t` and
//!    `h_{t-1}` (the cell candidate's always; the gates' only under rules that give gates
//!    relevance). The `x_t` halves of all steps are one product after the loop.

use burn::tensor::Tensor;

use crate::config::GateRule;
use crate::forward::{CellSteps, DirectionRun, DirectionTrace, PackedState, StepRows, time_of};
use crate::kernels::{self, Kernels, LstmRelevanceInputs, LstmStepInputs, LstmStepOutputs};
use crate::model::{DirectionTensors, LstmCellTensors};
use crate::params::GateActivation;
use crate::projection::InputProjection;
use crate::relevance::{
    DirectionPass, DirectionRelevance, StepRelevance, Upper, backward_through_time,
};
use crate::rules::epsilon::{add_optional, with_share};
use crate::rules::gate::{signal_take_all, split_product};
use crate::tensor_ops::{input_times_candidate, lstm_gates, tanh};

/// What one reading step of a direction leaves for the relevance pass, each `(B, H)`.
#[derive(Debug, Clone)]
pub(crate) struct LstmStep {
    /// `f_t ⊙ c_{t-1}`.
    pub fc: Tensor<2>,
    /// `i_t ⊙ g_t`.
    pub ig: Tensor<2>,
    /// `c_t`.
    pub c: Tensor<2>,
    /// The cell candidate's pre-activation.
    pub g_pre: Tensor<2>,
    /// `h_{t-1}`.
    pub h_prev: Tensor<2>,
    /// What a gate rule other than `all` reads; `None` under `all`.
    pub gates: Option<LstmGates>,
}

/// The gate values of one step, for the gate rules that give gates relevance.
#[derive(Debug, Clone)]
pub(crate) struct LstmGates {
    /// The true pre-activations `(B, 4H)`, gates in the order i, f, o, g.
    pub pre: Tensor<2>,
    /// Gate values `(B, H)`.
    pub i: Tensor<2>,
    pub f: Tensor<2>,
    pub o: Tensor<2>,
    /// The cell candidate `tanh(z_g)`.
    pub g: Tensor<2>,
    /// `tanh(c_t)`.
    pub tanh_c: Tensor<2>,
    /// `c_{t-1}`.
    pub c_prev: Tensor<2>,
}

/// One LSTM direction over a layer's input: the recurrence, its outputs and (when kept) what
/// the relevance pass reads.
pub(crate) fn run_direction(
    weights: &DirectionTensors,
    cell: &LstmCellTensors,
    run: DirectionRun<'_>,
) -> DirectionTrace {
    let [t_len, batch, _] = run.inputs.dims();
    let h = run.hidden;
    let zeros: Tensor<2> = Tensor::zeros([batch, h], (&weights.b_g.device(), weights.b_g.dtype()));
    let mut h_state = PackedState::new(zeros.clone());
    let mut c_state = PackedState::new(zeros);
    let mut steps = Vec::with_capacity(if run.keep { t_len } else { 0 });
    let mut outputs = Vec::with_capacity(if run.outputs { t_len } else { 0 });
    // The step kernel covers logistic gates; a gate rule other than `all` reads the gates'
    // values, which only the tensor path keeps.
    let fused = run
        .kernels
        .filter(|_| run.gates == GateActivation::Sigmoid && !run.keep_gates);
    // The step kernel adds the bias as it reads `pre_x`; the tensor path's projection adds it.
    let mut projection = InputProjection::new(
        run.inputs,
        (&weights.w_x, fused.is_none().then_some(&weights.b)),
        run.direction,
        run.active,
        run.kernels,
    );
    for s in 0..t_len {
        let t = time_of(run.direction, s, t_len);
        let rows = StepRows::at(run.active, t, batch);
        let h_prev = h_state.rows(rows.n);
        let c_prev = c_state.rows(rows.n);
        // h_{t−1} W_h + (x_t W_x + b), the latter computed ahead for a chunk of steps; h_0 = 0,
        // so the first step's pre-activations are the input half alone (exactly: the product
        // would be zeros).
        let pre_x = projection.step(s);
        let h_part = (s > 0).then(|| h_prev.clone());
        let unfused = match fused {
            Some(kernels) => {
                let step = LstmStepInputs {
                    pre_h: h_part.map(|h| kernels::matmul(Some(kernels), h, weights.w_h.clone())),
                    pre_x,
                    bias: weights.b.clone(),
                    c_prev: c_prev.clone(),
                };
                kernels.0.lstm_step(step, run.keep).map_err(|inputs| {
                    // The kernel's order: pre_h + (pre_x + bias).
                    let LstmStepInputs {
                        pre_h, pre_x, bias, ..
                    } = *inputs;
                    let pre_x = pre_x.add(bias);
                    match pre_h {
                        Some(pre_h) => pre_h.add(pre_x),
                        None => pre_x,
                    }
                })
            }
            None => Err(match h_part {
                Some(h) => kernels::matmul_add(run.kernels, h, weights.w_h.clone(), pre_x),
                None => pre_x,
            }),
        };
        let (out, gates) = match unfused {
            Ok(out) => (out, None),
            Err(pre) => step_tensor_ops(pre, c_prev.clone(), cell, &run),
        };
        let LstmStepOutputs {
            h: mut h_new,
            c: mut c_new,
            kept,
        } = out;
        // Padding computed with the real rows (no `active` prefix): masked.
        let step_pad = run.pad.filter(|_| run.active.is_none()).map(|p| {
            p.clone()
                .slice_dim(0, t..t + 1)
                .reshape([batch, 1])
                .expand([batch, h])
        });
        if let Some(p) = &step_pad {
            c_new = c_new.mask_where(p.clone(), c_prev.clone());
            h_new = h_new.mask_where(p.clone(), h_prev.clone());
        }
        if run.outputs {
            outputs.push(match &step_pad {
                Some(p) => h_new.clone().mask_fill(p.clone(), 0.0),
                None => rows.zero_rest(h_new.clone()),
            });
        }
        if let Some((fc, ig, g_pre)) = kept {
            steps.push(LstmStep {
                fc,
                ig,
                c: c_new.clone(),
                g_pre,
                h_prev,
                gates,
            });
        }
        h_state.set(h_new);
        c_state.set(c_new);
    }
    DirectionTrace {
        steps: CellSteps::Lstm(steps),
        outputs,
        final_h: h_state.into_full(),
    }
}

/// The element-wise tail of a step as tensor operations (what [`StepKernels::lstm_step`]
/// computes in one pass), with the gate values when a gate rule other than `all` needs them.
fn step_tensor_ops(
    pre: Tensor<2>,
    c_prev: Tensor<2>,
    cell: &LstmCellTensors,
    run: &DirectionRun<'_>,
) -> (LstmStepOutputs, Option<LstmGates>) {
    let h = run.hidden;
    // Internal layout: the g columns hold −2 z_g (exactly). Taken before `lstm_gates` so that
    // `pre` is unique again there and its `exp` can run in place.
    let g_pre = run.keep.then(|| {
        pre.clone()
            .slice_dim(1, 3 * h..4 * h)
            .mul(run.neg_half.clone())
    });
    let pre_true = run
        .keep_gates
        .then(|| pre.clone().mul(cell.unscale.clone()));
    let (i, f, o, sigmoid_2zg) = lstm_gates(pre, h, run.gates);
    let gate_values = pre_true.map(|pre| {
        let g = sigmoid_2zg.clone().mul_scalar(2.0).sub_scalar(1.0);
        (pre, i.clone(), f.clone(), o.clone(), g)
    });
    let ig = input_times_candidate(i, sigmoid_2zg);
    let fc = f.mul(c_prev.clone());
    let c_new = fc.clone().add(ig.clone());
    let tanh_c = tanh(c_new.clone());
    let gates = gate_values.map(|(pre, i, f, o, g)| LstmGates {
        pre,
        i,
        f,
        o: o.clone(),
        g,
        tanh_c: tanh_c.clone(),
        c_prev,
    });
    let h_new = tanh_c.mul(o);
    let kept = g_pre.map(|g_pre| (fc, ig, g_pre));
    (
        LstmStepOutputs {
            h: h_new,
            c: c_new,
            kept,
        },
        gates,
    )
}

/// The backward pass through one LSTM direction under signal-take-all.
pub(crate) fn direction_relevance(
    pass: DirectionPass<'_>,
    weights: &DirectionTensors,
    steps: &[LstmStep],
    upper: Upper,
) -> DirectionRelevance {
    let rule = pass.rule;
    let n_gate = pass.inputs + pass.hidden;
    let h = pass.hidden;
    // The kernel covers the default rule (eps > 0, no bias share); eps = 0 needs the absorbed
    // relevance at zero denominators, a bias factor the shares: both stay on the tensor path.
    let fused = pass
        .kernels
        .filter(|_| rule.eps > 0.0 && rule.bias_factor == 0.0);
    backward_through_time(&pass, upper, true, |s, r_h, r_c| {
        let r_c = r_c.expect("an LSTM carries a cell state");
        let step = &steps[s];
        let (r_h, r_c) = match fused {
            None => (r_h, r_c),
            Some(kernels) => {
                let inputs = LstmRelevanceInputs {
                    r_h,
                    r_c,
                    fc: step.fc.clone(),
                    ig: step.ig.clone(),
                    c: step.c.clone(),
                    g_pre: step.g_pre.clone(),
                };
                match kernels.0.lstm_relevance_step(inputs, rule.eps) {
                    Ok(out) => return fused_step_relevance(out, weights, step, kernels),
                    Err(inputs) => {
                        let LstmRelevanceInputs { r_h, r_c, .. } = *inputs;
                        (r_h, r_c)
                    }
                }
            }
        };
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
            r_c_prev: Some(r_c_prev),
            q: q_g,
            share: share_g,
            lost: add_optional(lost_c, lost_g),
        }
    })
}

/// A relevance step from the fused kernel's `(R_{c,t−1}, q_g)`: the candidate's ε-rule onto
/// `h_{t−1}` (no share: `bias_factor = 0`; nothing absorbed: `eps > 0`).
fn fused_step_relevance(
    (r_c_prev, q_g): (Tensor<2>, Tensor<2>),
    weights: &DirectionTensors,
    step: &LstmStep,
    fused: Kernels,
) -> StepRelevance {
    let r_h_prev =
        kernels::matmul(Some(fused), q_g.clone(), weights.w_h_g_t.clone()).mul(step.h_prev.clone());
    StepRelevance {
        r_h_prev,
        r_c_prev: Some(r_c_prev),
        q: q_g,
        share: None,
        lost: None,
    }
}

/// The backward pass through one direction under a gate rule that gives gates relevance
/// (`prop`, `abs`, `half`): each step splits `o ⊙ tanh(c_t)`, `f ⊙ c_{t−1}` and `i ⊙ g` by the
/// rule, and the relevance of all four gates' pre-activations goes to `x_t` and `h_{t−1}` by the
/// ε-rule on the gates' weights (`N = E + H` each), as one `(B, 4H) × (4H, H)` product per step.
/// The quotients returned are `(B, 4H)`, gates i, f, o, g, in true (unscaled) units.
pub(crate) fn direction_relevance_gates(
    pass: DirectionPass<'_>,
    cell: &LstmCellTensors,
    direction: usize,
    steps: &[LstmStep],
    upper: Upper,
    gate_rule: GateRule,
) -> DirectionRelevance {
    let rule = pass.rule;
    let n_gate = pass.inputs + pass.hidden;
    let h = pass.hidden;
    let weights = &cell.dirs[direction];
    let w_h_gates_t = weights.w_h_gates_t(&cell.unscale);
    backward_through_time(&pass, upper, true, |s, r_h, r_c| {
        let r_c = r_c.expect("an LSTM carries a cell state");
        let step = &steps[s];
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
                .matmul(w_h_gates_t.clone())
                .mul(step.h_prev.clone()),
            &share,
        );
        StepRelevance {
            r_h_prev,
            r_c_prev: Some(r_c_prev),
            q,
            share,
            lost: add_optional(lost, lost_z),
        }
    })
}
