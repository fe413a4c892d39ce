//! The forward pass, optionally keeping what the relevance pass needs.
//!
//! Sequences are time-major `(T, B, F)`. Each direction runs its own recurrence (on its own
//! rayon task when the model allows, see [`LstmModel::with_parallel_directions`]); the backward
//! direction's reading step `s` reads time `T-1-s`, found by indexing rather than by reversing
//! any tensor. Each step computes `x_t W_x + h_{t-1} W_h + b` as two `(B, ·) × (·, 4H)` products:
//! measured on burn's CPU backends, one product over all time steps (`(T·B, E) × (E, 4H)`) ran at
//! half the GEMM throughput of these batch-sized ones and allocated a large output whose pages
//! must be faulted in.
//!
//! Padding (Keras masking, PyTorch packing): at a padding step the state is carried unchanged,
//! and a layer's output sequence is 0 there. A backward direction therefore starts at each
//! sequence's last real step, for post- and pre-padding alike.

use burn::tensor::{Bool, Tensor};

use crate::input::Prepared;
use crate::model::{DenseTensors, DirectionTensors, LstmLayerTensors, LstmModel};
use crate::params::{Activation, GateActivation, MergeMode};
use crate::tensor_ops::{input_times_candidate, lstm_gates, tanh};

/// What one reading step of a direction leaves for the relevance pass, each `(B, H)`.
#[derive(Debug, Clone)]
pub(crate) struct StepTrace {
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
    pub gates: Option<GateTrace>,
}

/// The gate values of one step, for the gate rules that give gates relevance.
#[derive(Debug, Clone)]
pub(crate) struct GateTrace {
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

/// One direction's pass over a layer's input.
#[derive(Debug, Clone)]
pub(crate) struct DirectionTrace {
    /// By reading step (empty unless tracing).
    pub steps: Vec<StepTrace>,
    /// The output at each step, `(B, H)`, 0 at padding, by reading step (empty for the last
    /// layer, whose sequence nobody reads).
    pub outputs: Vec<Tensor<2>>,
    /// The final state `(B, H)`.
    pub final_h: Tensor<2>,
}

/// What one LSTM layer leaves for the relevance pass.
#[derive(Debug, Clone)]
pub(crate) struct LayerTrace {
    /// `(T, B, E)`: the layer's input.
    pub inputs: Tensor<3>,
    /// `(T, B)` padding flags, `true` at padding.
    pub pad: Option<Tensor<2, Bool>>,
    /// Per direction.
    pub dirs: Vec<DirectionTrace>,
    /// For a bidirectional `sum`/`ave` layer below another LSTM layer: each direction's output
    /// sequence, time-aligned `(T, B, H)`, and the merged sequence `(T, B, H)`.
    pub merge_inputs: Option<(Vec<Tensor<3>>, Tensor<3>)>,
}

/// The forward pass with everything the relevance pass reads.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    pub layers: Vec<LayerTrace>,
    /// The output sequence `(T, B, out)` of every LSTM layer but the last.
    pub sequences: Vec<Tensor<3>>,
    /// The output of every Dense layer after its activation, except the last (the logits).
    pub hidden: Vec<Tensor<2>>,
    /// Input of each Dense layer `(B, D_k)`.
    pub head_inputs: Vec<Tensor<2>>,
    /// Pre-activation of each Dense layer `(B, C_k)`; the last one is the logits.
    pub head_z: Vec<Tensor<2>>,
}

impl Trace {
    pub fn logits(&self) -> Tensor<2> {
        self.head_z
            .last()
            .expect("a validated model has a Dense layer")
            .clone()
    }
}

/// The time index a direction reads at reading step `s`.
pub(crate) fn time_of(direction: usize, s: usize, steps: usize) -> usize {
    if direction == 0 { s } else { steps - 1 - s }
}

/// Runs `f` for each direction; with `parallel`, both as rayon tasks (`rayon::join`), so that the
/// backends' own rayon-parallel kernels (GEMM) share the same worker threads by work stealing
/// instead of oversubscribing the cores.
pub(crate) fn per_direction<R: Send>(
    directions: usize,
    parallel: bool,
    f: impl Fn(usize) -> R + Sync,
) -> Vec<R> {
    if directions == 1 || !parallel {
        return (0..directions).map(&f).collect();
    }
    let (forward, backward) = rayon::join(|| f(0), || f(1));
    vec![forward, backward]
}

impl LstmModel {
    /// Runs the model, keeping the trace when `keep` is set.
    pub(crate) fn run(&self, input: &Prepared, keep: bool) -> Trace {
        self.run_traced(input, keep, false)
    }

    /// Runs the model, keeping the trace when `keep` is set, with the gate values
    /// ([`GateTrace`]) when `keep_gates` is set too.
    pub(crate) fn run_traced(&self, input: &Prepared, keep: bool, keep_gates: bool) -> Trace {
        let mut x = input.x.clone();
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut sequences = Vec::with_capacity(self.layers.len() - 1);
        let mut features = None;
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let trace = self.lstm_layer(
                layer,
                x.clone(),
                input.pad.as_ref(),
                l == last,
                (keep, keep && keep_gates),
            );
            if l < last {
                let seq = merge_sequence(&trace, layer.merge);
                sequences.push(seq.clone());
                x = seq;
            } else {
                features = Some(merge_final(&trace, layer.merge));
            }
            layers.push(trace);
        }
        let mut a = features.expect("the last LSTM layer returns its final state");
        let mut head_inputs = Vec::with_capacity(self.head.len());
        let mut head_z = Vec::with_capacity(self.head.len());
        let mut hidden = Vec::with_capacity(self.head.len() - 1);
        let last_dense = self.head.len() - 1;
        for (k, dense) in self.head.iter().enumerate() {
            let z = dense_pre_activation(dense, a.clone());
            head_inputs.push(a);
            a = if k == last_dense {
                // The final activation (softmax, sigmoid, …) is not applied: the explained score
                // is the logit.
                z.clone()
            } else {
                let out = hidden_activation(z.clone(), dense.activation);
                hidden.push(out.clone());
                out
            };
            head_z.push(z);
        }
        Trace {
            layers,
            sequences,
            hidden,
            head_inputs,
            head_z,
        }
    }

    fn lstm_layer(
        &self,
        layer: &LstmLayerTensors,
        x: Tensor<3>,
        pad: Option<&Tensor<2, Bool>>,
        is_last: bool,
        (keep, keep_gates): (bool, bool),
    ) -> LayerTrace {
        let dirs = per_direction(layer.directions(), self.parallel_directions, |d| {
            run_direction(
                &layer.dirs[d],
                DirectionRun {
                    direction: d,
                    inputs: &x,
                    pad,
                    hidden: layer.hidden,
                    gates: layer.gate_activation,
                    neg_half: &self.neg_half,
                    keep,
                    keep_gates: keep_gates.then_some(&layer.unscale),
                    outputs: !is_last,
                },
            )
        });
        let merge_inputs =
            (keep && !is_last && dirs.len() == 2 && layer.merge != MergeMode::Concat).then(|| {
                let aligned: Vec<Tensor<3>> = dirs
                    .iter()
                    .enumerate()
                    .map(|(d, t)| time_aligned(d, &t.outputs))
                    .collect();
                let merged = merge(aligned.clone(), layer.merge);
                (aligned, merged)
            });
        LayerTrace {
            inputs: x,
            pad: pad.cloned(),
            dirs,
            merge_inputs,
        }
    }
}

struct DirectionRun<'a> {
    direction: usize,
    /// `(T, B, E)` the layer's input, time order.
    inputs: &'a Tensor<3>,
    pad: Option<&'a Tensor<2, Bool>>,
    hidden: usize,
    gates: GateActivation,
    neg_half: &'a Tensor<2>,
    keep: bool,
    /// Keep the gate values too: the layer's `unscale` constant.
    keep_gates: Option<&'a Tensor<2>>,
    outputs: bool,
}

fn run_direction(weights: &DirectionTensors, run: DirectionRun<'_>) -> DirectionTrace {
    let [t_len, batch, e] = run.inputs.dims();
    let h = run.hidden;
    let zeros: Tensor<2> = Tensor::zeros([batch, h], (&weights.b_g.device(), weights.b_g.dtype()));
    let mut h_state = zeros.clone();
    let mut c_state = zeros;
    let mut steps = Vec::with_capacity(if run.keep { t_len } else { 0 });
    let mut outputs = Vec::with_capacity(if run.outputs { t_len } else { 0 });
    for s in 0..t_len {
        let t = time_of(run.direction, s, t_len);
        let x_t = run
            .inputs
            .clone()
            .slice_dim(0, t..t + 1)
            .reshape([batch, e]);
        // Fresh products: the additions run in place.
        let pre = x_t
            .matmul(weights.w_x.clone())
            .add(h_state.clone().matmul(weights.w_h.clone()))
            .add(weights.b.clone());
        // Internal layout: the g columns hold −2 z_g (exactly). Taken before `lstm_gates` so that
        // `pre` is unique again there and its `exp` can run in place.
        let g_pre = run.keep.then(|| {
            pre.clone()
                .slice_dim(1, 3 * h..4 * h)
                .mul(run.neg_half.clone())
        });
        let pre_true = run
            .keep_gates
            .map(|unscale| pre.clone().mul(unscale.clone()));
        let (i, f, o, sigmoid_2zg) = lstm_gates(pre, h, run.gates);
        let gate_values = pre_true.map(|pre| {
            let g = sigmoid_2zg.clone().mul_scalar(2.0).sub_scalar(1.0);
            (pre, i.clone(), f.clone(), o.clone(), g)
        });
        let ig = input_times_candidate(i, sigmoid_2zg);
        let fc = f.mul(c_state.clone());
        let mut c_new = fc.clone().add(ig.clone());
        let tanh_c = tanh(c_new.clone());
        let gates = gate_values.map(|(pre, i, f, o, g)| GateTrace {
            pre,
            i,
            f,
            o: o.clone(),
            g,
            tanh_c: tanh_c.clone(),
            c_prev: c_state.clone(),
        });
        let mut h_new = tanh_c.mul(o);
        let step_pad = run.pad.map(|p| {
            p.clone()
                .slice_dim(0, t..t + 1)
                .reshape([batch, 1])
                .expand([batch, h])
        });
        if let Some(p) = &step_pad {
            c_new = c_new.mask_where(p.clone(), c_state.clone());
            h_new = h_new.mask_where(p.clone(), h_state.clone());
        }
        if run.outputs {
            outputs.push(match &step_pad {
                Some(p) => h_new.clone().mask_fill(p.clone(), 0.0),
                None => h_new.clone(),
            });
        }
        if let Some(g_pre) = g_pre {
            steps.push(StepTrace {
                fc,
                ig,
                c: c_new.clone(),
                g_pre,
                h_prev: h_state,
                gates,
            });
        }
        h_state = h_new;
        c_state = c_new;
    }
    DirectionTrace {
        steps,
        outputs,
        final_h: h_state,
    }
}

/// A direction's per-step values (reading order) as a time-aligned `(T, B, H)` sequence.
pub(crate) fn time_aligned(direction: usize, by_step: &[Tensor<2>]) -> Tensor<3> {
    let ordered: Vec<Tensor<2>> = if direction == 0 {
        by_step.to_vec()
    } else {
        by_step.iter().rev().cloned().collect()
    };
    Tensor::stack(ordered, 0)
}

/// Combines the directions' (time-aligned) values: concatenation, sum or average.
pub(crate) fn merge<const D: usize>(mut dirs: Vec<Tensor<D>>, mode: MergeMode) -> Tensor<D> {
    if dirs.len() == 1 {
        return dirs.pop().expect("one direction");
    }
    let bw = dirs.pop().expect("two directions");
    let fw = dirs.pop().expect("two directions");
    match mode {
        MergeMode::Concat => Tensor::cat(vec![fw, bw], D - 1),
        MergeMode::Sum => fw.add(bw),
        MergeMode::Ave => fw.add(bw).mul_scalar(0.5),
    }
}

/// The merged output sequence `(T, B, out)` of a layer below another.
fn merge_sequence(trace: &LayerTrace, mode: MergeMode) -> Tensor<3> {
    match &trace.merge_inputs {
        Some((_, merged)) => merged.clone(),
        None => merge(
            trace
                .dirs
                .iter()
                .enumerate()
                .map(|(d, t)| time_aligned(d, &t.outputs))
                .collect(),
            mode,
        ),
    }
}

/// The merged final state `(B, out)` of the last layer.
fn merge_final(trace: &LayerTrace, mode: MergeMode) -> Tensor<2> {
    merge(trace.dirs.iter().map(|t| t.final_h.clone()).collect(), mode)
}

fn dense_pre_activation(dense: &DenseTensors, a: Tensor<2>) -> Tensor<2> {
    a.matmul(dense.w.clone()).add(dense.b.clone())
}

fn hidden_activation(z: Tensor<2>, activation: Activation) -> Tensor<2> {
    match activation {
        Activation::Linear => z,
        Activation::Relu => z.clamp_min(0.0),
        Activation::Tanh => tanh(z),
        // Validation keeps these to the last layer.
        Activation::Softmax | Activation::Sigmoid => z,
    }
}
