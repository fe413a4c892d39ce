//! The relevance pass: the target logit redistributed backwards through the head, the readout,
//! the merges and the recurrent layers with the rules of [`crate::rules`]; each cell's step is in
//! [`crate::cells`], the readout's in [`crate::readout`].
//!
//! What is left on the initial states (`h_{-1}`, and `c_{-1}` for an LSTM) of every layer and
//! direction is the `rest`. A padding step leaves the state unchanged, so its relevance passes
//! through untouched and its input gets exactly zero. A `go_backwards` layer's input relevance
//! is turned back into the time order of the layer below.

use burn::tensor::{Bool, Tensor};

use crate::cells::{gru, lstm};
use crate::config::GateRule;
use crate::forward::{
    CellSteps, DirectionTrace, LayerTrace, PackedState, StepRows, Trace, gather_rows,
    per_direction, reverse_time, time_of,
};
use crate::kernels::{self, Kernels};
use crate::model::{LayerCell, LayerTensors, LstmModel};
use crate::params::MergeMode;
use crate::readout;
use crate::rules::epsilon::{EpsilonRule, add_optional, with_share};

/// Relevance arriving at one direction of a recurrent layer from above.
#[derive(Clone)]
pub(crate) enum Upper {
    /// On the final state `(B, H)` (the last layer, from the head).
    Final(Tensor<2>),
    /// On every step's output, time-aligned `(T, B, H)` (from the layer above or the readout).
    Sequence(Tensor<3>),
}

/// What the backward pass through one direction leaves.
pub(crate) struct DirectionRelevance {
    /// By time (0 at padding): the ε-rule quotients of the pre-activations whose `x_t` part is
    /// computed after the loop — `(B, H)` for the candidate only (`all`), `(B, G·H)` for every
    /// gate (other rules), gates in the cell's relevance order.
    pub quotients: Vec<Tensor<2>>,
    /// Their bias/stabiliser shares `(B, 1)` by time; `None` where they are exactly 0. Where
    /// the pass [`leaves_packed_rows`], both hold each step's computed rows only (`(n_t, ·)`).
    pub shares: Vec<Option<Tensor<2>>>,
    /// Relevance left on the initial state, and absorbed at zero denominators, `(B)`.
    pub rest: Tensor<1>,
}

/// What the backward pass through one direction reads, whatever its cell.
pub(crate) struct DirectionPass<'a> {
    pub trace: &'a DirectionTrace,
    pub direction: usize,
    pub pad: Option<&'a Tensor<2, Bool>>,
    /// Per time step, the leading real samples the forward pass computed (see
    /// [`crate::forward::StepRows`]); then `pad` is not used.
    pub active: Option<&'a [usize]>,
    pub rule: EpsilonRule,
    /// Reading steps T.
    pub steps: usize,
    /// The layer's input size E and hidden size H.
    pub inputs: usize,
    pub hidden: usize,
    /// The backend's fused step kernels, if the model uses them.
    pub kernels: Option<Kernels>,
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
        let mut upper: Vec<Upper> = match &trace.readout {
            // The head read the final states.
            None => {
                let finals: Vec<Tensor<2>> = trace.layers[top]
                    .dirs
                    .iter()
                    .map(|d| d.final_h.clone())
                    .collect();
                let merged = trace.head_inputs[0].clone();
                let (parts, lost) = split(&self.layers[top], finals, merged, r, rule);
                absorbed = add_optional(absorbed, lost.map(|l| l.reshape([batch])));
                parts.into_iter().map(Upper::Final).collect()
            }
            // The head read (a step or a pooling of) the output sequence.
            Some(read) => {
                let (r_seq, lost) = readout::relevance(read, r, rule);
                absorbed = add_optional(absorbed, lost);
                self.split_sequence(trace, top, r_seq, rule, &mut absorbed)
            }
        };
        let mut rest: Option<Tensor<1>> = None;
        for l in (0..self.layers.len()).rev() {
            let (mut r_in, layer_rest) =
                self.layer_relevance(&self.layers[l], &trace.layers[l], upper, rule, gate_rule);
            rest = add_optional(rest, Some(layer_rest));
            if self.layers[l].go_backwards {
                // Back into the time order of the sequence this layer read.
                r_in = reverse_time(r_in);
            }
            if l == 0 {
                let rest = rest.expect("set above");
                return (
                    r_in,
                    add_optional(Some(rest.clone()), absorbed).unwrap_or(rest),
                );
            }
            upper = self.split_sequence(trace, l - 1, r_in, rule, &mut absorbed);
        }
        unreachable!("a validated model has at least one recurrent layer")
    }

    /// Relevance on layer `l`'s merged output sequence `(T, B, out)` → per direction.
    fn split_sequence(
        &self,
        trace: &Trace,
        l: usize,
        r_seq: Tensor<3>,
        rule: EpsilonRule,
        absorbed: &mut Option<Tensor<1>>,
    ) -> Vec<Upper> {
        let batch = r_seq.dims()[1];
        let layer = &trace.layers[l];
        let (outputs, merged) = match &layer.merge_inputs {
            Some((aligned, merged)) => (aligned.clone(), merged.clone()),
            // Only a sum/ave merge reads the outputs; concatenation just splits.
            None => (Vec::new(), r_seq.clone()),
        };
        let (parts, lost) = split(&self.layers[l], outputs, merged, r_seq, rule);
        // (T, B, 1) → (B).
        *absorbed = add_optional(absorbed.take(), lost.map(|l| l.sum_dim(0).reshape([batch])));
        parts.into_iter().map(Upper::Sequence).collect()
    }

    /// The relevance pass through one recurrent layer. Returns the relevance of the layer's
    /// input sequence `(T, B, E)` (in the layer's frame) and the rest on its initial states
    /// `(B)`.
    fn layer_relevance(
        &self,
        layer: &LayerTensors,
        trace: &LayerTrace,
        upper: Vec<Upper>,
        rule: EpsilonRule,
        gate_rule: GateRule,
    ) -> (Tensor<3>, Tensor<1>) {
        let [t_len, batch, e] = trace.inputs.dims();
        let h = layer.hidden;
        // The x_t parts of every step's ε-rules, per direction in one product after its loop:
        // q_d (T·B, G) × W_d (G, E), with G = H (the candidate only, under `all`) or the cell's
        // G·H (every gate); the directions' (D·G, E) matrices stacked.
        let w_x_t = match (&layer.cell, gate_rule) {
            (LayerCell::Lstm(cell), GateRule::All) => &cell.w_x_g_t,
            (LayerCell::Lstm(cell), _) => cell.w_x_gates_t(),
            (LayerCell::Gru(cell), GateRule::All) => &cell.w_x_n_t,
            (LayerCell::Gru(cell), _) => cell.w_x_gates_t(),
        };
        let width = w_x_t.dims()[0] / layer.directions();
        // Packed steps with relevance on the final state leave each step's computed rows only
        // (see `leaves_packed_rows`): the input relevance is computed over those rows
        // — Σ n_t instead of T·B — and placed back among zeros at the end.
        let packed = match (trace.active.as_deref(), upper.first()) {
            (Some(active), Some(first)) if leaves_packed_rows(Some(active), first) => {
                let steps: Vec<usize> = (0..t_len).filter(|&t| active[t] > 0).collect();
                let (x, _) = gather_rows(&trace.inputs, active, &steps);
                Some((active, steps, x))
            }
            _ => None,
        };
        // Each direction's backward pass and its input relevance in the same task, so that the
        // directions' products, stacking and products by x_t run in parallel too; their sum
        // afterwards is the references' order (R_x = R_x,fw + R_x,bw).
        let dirs = per_direction(layer.directions(), self.parallel_directions, |d| {
            let pass = DirectionPass {
                trace: &trace.dirs[d],
                direction: d,
                pad: trace.pad.as_ref(),
                active: trace.active.as_deref(),
                rule,
                steps: t_len,
                inputs: e,
                hidden: h,
                kernels: self.kernels,
            };
            let upper = upper[d].clone();
            assert_eq!(
                leaves_packed_rows(pass.active, &upper),
                packed.is_some(),
                "both directions of a layer receive relevance the same way"
            );
            let relevance = match (&layer.cell, &trace.dirs[d].steps) {
                (LayerCell::Lstm(cell), CellSteps::Lstm(steps)) => match gate_rule {
                    GateRule::All => lstm::direction_relevance(pass, &cell.dirs[d], steps, upper),
                    other => lstm::direction_relevance_gates(pass, cell, d, steps, upper, other),
                },
                (LayerCell::Gru(cell), CellSteps::Gru(steps)) => {
                    gru::direction_relevance(pass, &cell.dirs[d], steps, upper, gate_rule)
                }
                _ => unreachable!("a layer's trace is of its own cell kind"),
            };
            let w_d = w_x_t.clone().slice_dim(0, d * width..(d + 1) * width);
            let r_x = match &packed {
                Some((active, steps, x)) => {
                    packed_input_relevance(&relevance, active, steps, x, w_d, self.kernels)
                }
                None => input_relevance(&relevance, &trace.inputs, w_d, self.kernels),
            };
            (r_x, relevance.rest)
        });
        let (r_x, rest) = dirs
            .into_iter()
            .reduce(|(r_a, rest_a), (r_b, rest_b)| (r_a.add(r_b), rest_a.add(rest_b)))
            .expect("at least one direction");
        let r_x = match packed {
            Some((active, _, _)) => place_back(r_x, &active[..t_len], batch),
            None => r_x,
        };
        (r_x.reshape([t_len, batch, e]), rest)
    }
}

/// Whether a direction's backward pass keeps only each step's computed rows: packed steps
/// (`active`) with relevance on the final state only. (Relevance on the output sequence
/// arrives at every row at every step, so there the rows stay together.)
fn leaves_packed_rows(active: Option<&[usize]>, upper: &Upper) -> bool {
    active.is_some() && matches!(upper, Upper::Final(_))
}

/// The relevance of a layer's input `(T·B, E)` from one direction's quotients over every row:
/// `(q · W_d) ⊙ x` plus the shares, `w_d` `(G, E)`, `inputs` `(T, B, E)`.
fn input_relevance(
    d: &DirectionRelevance,
    inputs: &Tensor<3>,
    w_d: Tensor<2>,
    kernels: Option<Kernels>,
) -> Tensor<2> {
    let [t_len, batch, e] = inputs.dims();
    let width = w_d.dims()[0];
    let q: Tensor<3> = Tensor::stack(d.quotients.clone(), 0);
    let mut r_x = kernels::matmul(kernels, q.reshape([t_len * batch, width]), w_d)
        .reshape([t_len, batch, e])
        .mul(inputs.clone());
    if d.shares.iter().any(Option::is_some) {
        // Steps without a share have exactly none (padding under eps = 0).
        let zeros = d.quotients[0].clone().slice_dim(1, 0..1).zeros_like();
        let shares: Vec<Tensor<2>> = d
            .shares
            .iter()
            .map(|s| s.clone().unwrap_or_else(|| zeros.clone()))
            .collect();
        r_x = r_x.add(Tensor::stack(shares, 0));
    }
    r_x.reshape([t_len * batch, e])
}

/// The relevance of a layer's input over the computed rows only `(Σ n_t, E)`, from one
/// direction whose quotients hold each step's computed rows (see [`leaves_packed_rows`]):
/// `steps` are the times with any, `x` their rows gathered.
fn packed_input_relevance(
    d: &DirectionRelevance,
    active: &[usize],
    steps: &[usize],
    x: &Tensor<2>,
    w_d: Tensor<2>,
    kernels: Option<Kernels>,
) -> Tensor<2> {
    // The direction's quotients of each step's rows, the steps one after another: (Σ n_t, G).
    let q = Tensor::cat(steps.iter().map(|&t| d.quotients[t].clone()).collect(), 0);
    let mut r = kernels::matmul(kernels, q, w_d).mul(x.clone());
    if d.shares.iter().any(Option::is_some) {
        let shares = steps
            .iter()
            .map(|&t| {
                d.shares[t]
                    .clone()
                    .unwrap_or_else(|| Tensor::zeros([active[t], 1], (&x.device(), x.dtype())))
            })
            .collect();
        r = r.add(Tensor::cat(shares, 0));
    }
    r
}

/// The computed rows `(Σ n_t, E)` of every step back among zeros at the padding: `(T·B, E)`.
fn place_back(r: Tensor<2>, active: &[usize], batch: usize) -> Tensor<2> {
    let e = r.dims()[1];
    let zeros = |rows: usize| Tensor::zeros([rows, e], (&r.device(), r.dtype()));
    let mut parts = Vec::with_capacity(2 * active.len());
    let mut at = 0;
    for &n in active {
        if n > 0 {
            parts.push(r.clone().slice_dim(0, at..at + n));
            at += n;
        }
        if n < batch {
            parts.push(zeros(batch - n));
        }
    }
    Tensor::cat(parts, 0)
}

/// Relevance on a layer's merged output (`(B, out)` final state or `(T, B, out)` sequence) →
/// per direction (`(B, H)` / `(T, B, H)`). `outputs` are the directions' own outputs (only read
/// by a sum/ave merge) and `merged` their merge. Also returns the relevance absorbed at zero
/// denominators of a sum/ave merge (eps = 0 only), summed over the last dimension.
fn split<const D: usize>(
    layer: &LayerTensors,
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

/// What one backward step through a direction produces, before padding is applied.
pub(crate) struct StepRelevance {
    /// Relevance of `h_{t-1}`, `(B, H)`.
    pub r_h_prev: Tensor<2>,
    /// Relevance of `c_{t-1}` `(B, H)` (an LSTM's; `None` for cells without a cell state).
    pub r_c_prev: Option<Tensor<2>>,
    /// The ε-rule quotients of the step's pre-activations whose `x_t` part is computed after
    /// the loop (`(B, G)`, see [`DirectionRelevance::quotients`]).
    pub q: Tensor<2>,
    /// Their bias/stabiliser share `(B, 1)` for each of the step's `x_t` inputs; `None` where
    /// exactly 0.
    pub share: Option<Tensor<2>>,
    /// Relevance absorbed at zero denominators `(B, 1)`.
    pub lost: Option<Tensor<2>>,
}

/// The backward recurrence of one direction, common to every cell and gate rule: relevance
/// arriving from above, the padding (a padded step passes `R_h` (and `R_c`) through unchanged
/// and gives its input nothing), and the result. `step` applies the cell's rule to reading step
/// `s` given `R_h` and, for a cell with a cell state (`cell_state`), `R_c`.
pub(crate) fn backward_through_time(
    pass: &DirectionPass<'_>,
    upper: Upper,
    cell_state: bool,
    mut step: impl FnMut(usize, Tensor<2>, Option<Tensor<2>>) -> StepRelevance,
) -> DirectionRelevance {
    let trace = pass.trace;
    let t_len = pass.steps;
    let [batch, h] = trace.final_h.dims();
    let zeros = trace.final_h.zeros_like();
    let leaves_packed = leaves_packed_rows(pass.active, &upper);
    let (mut r_h, sequence) = match upper {
        Upper::Final(r) => (r, None),
        Upper::Sequence(r) => (zeros.clone(), Some(r)),
    };
    let mut r_c = cell_state.then_some(zeros);
    let mut quotients = vec![None; t_len];
    let mut shares = vec![None; t_len];
    // Relevance at exactly-zero denominators (eps = 0 only), `(B, 1)`, reported in `rest`.
    let mut absorbed: Option<Tensor<2>> = None;
    // The rows a step leaves out keep their relevance as parked views (see `PackedState`),
    // nothing is copied.
    let mut packed = leaves_packed.then(|| {
        let r_c = r_c.take().map(PackedState::new);
        (PackedState::new(r_h.clone()), r_c)
    });
    for s in (0..t_len).rev() {
        let t = time_of(pass.direction, s, t_len);
        let rows = StepRows::at(pass.active, t, batch);
        if let Some((h_state, c_state)) = &mut packed {
            let r_h_rows = h_state.rows(rows.n);
            let r_c_rows = c_state.as_mut().map(|c| c.rows(rows.n));
            let out = step(s, r_h_rows, r_c_rows);
            h_state.set(out.r_h_prev);
            if let (Some(c_state), Some(r)) = (c_state.as_mut(), out.r_c_prev) {
                c_state.set(r);
            }
            absorbed = add_optional(absorbed, out.lost.map(|l| rows.zero_rest(l)));
            quotients[t] = Some(out.q);
            shares[t] = out.share;
            continue;
        }
        if let Some(r_out) = &sequence {
            r_h = r_h.add(r_out.clone().slice_dim(0, t..t + 1).reshape([batch, h]));
        }
        let pad = pass.pad.filter(|_| pass.active.is_none());
        // Without masking R_c and R_h are not needed after the step, and the rule can reuse
        // their buffers; with a prefix of rows, the others' are kept as they are.
        let kept = (pad.is_some() || !rows.all()).then(|| (r_h.clone(), r_c.clone()));
        let mut out = step(s, rows.take(r_h), r_c.map(|r| rows.take(r)));
        if let Some((r_h_kept, r_c_kept)) = kept {
            if let Some(pad) = pad {
                let flags: Tensor<2, Bool> = pad.clone().slice_dim(0, t..t + 1).reshape([batch, 1]);
                let wide = flags.clone().expand([batch, h]);
                out.r_h_prev = out.r_h_prev.mask_where(wide.clone(), r_h_kept);
                out.r_c_prev = match (out.r_c_prev, r_c_kept) {
                    (Some(r), Some(kept)) => Some(r.mask_where(wide, kept)),
                    (r, _) => r,
                };
                let width = out.q.dims()[1];
                out.q = out.q.mask_fill(flags.clone().expand([batch, width]), 0.0);
                out.share = out.share.map(|sh| sh.mask_fill(flags.clone(), 0.0));
                out.lost = out.lost.map(|l| l.mask_fill(flags, 0.0));
            } else {
                // The rows not computed pass their relevance through and give nothing.
                out.r_h_prev = rows.put(out.r_h_prev, r_h_kept);
                out.r_c_prev = match (out.r_c_prev, r_c_kept) {
                    (Some(r), Some(kept)) => Some(rows.put(r, kept)),
                    (r, _) => r,
                };
                out.q = rows.zero_rest(out.q);
                out.share = out.share.map(|sh| rows.zero_rest(sh));
                out.lost = out.lost.map(|l| rows.zero_rest(l));
            }
        }
        absorbed = add_optional(absorbed, out.lost);
        quotients[t] = Some(out.q);
        shares[t] = out.share;
        r_h = out.r_h_prev;
        r_c = out.r_c_prev;
    }
    if let Some((h_state, c_state)) = packed {
        r_h = h_state.into_full();
        r_c = c_state.map(PackedState::into_full);
    }
    DirectionRelevance {
        quotients: quotients
            .into_iter()
            .map(|q| q.expect("every time step is visited once"))
            .collect(),
        shares,
        rest: add_optional(
            Some(match r_c {
                Some(r_c) => r_h.add(r_c).sum_dim(1),
                None => r_h.sum_dim(1),
            }),
            absorbed,
        )
        .expect("the first term is present")
        .reshape([batch]),
    }
}
