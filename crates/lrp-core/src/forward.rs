//! The forward pass, optionally keeping what the relevance pass needs.
//!
//! Layout: sequences are time-major `(T, B, F)`. Inside an LSTM layer both directions run in one
//! batched computation along a leading direction axis `D`: direction 1 reads the sequence
//! reversed, so its step `s` reads time `T-1-s`. The input projections of all time steps are one
//! batched matrix product before the recurrence; only the `h W_h` product stays sequential.
//!
//! Padding (Keras masking, PyTorch packing): at a padding step the state is carried unchanged,
//! and a layer's output sequence is 0 there. A backward direction therefore starts at each
//! sequence's last real step, for post- and pre-padding alike.

use burn::tensor::{Bool, Tensor};

use crate::input::Prepared;
use crate::model::{DenseTensors, LstmLayerTensors, LstmModel};
use crate::params::{Activation, MergeMode};
use crate::tensor_ops::{lstm_gates, tanh};

/// What one reading step of an LSTM layer leaves for the relevance pass, each `(D, B, H)`.
#[derive(Debug, Clone)]
pub(crate) struct StepTrace {
    /// `f_t ⊙ c_{t-1}`.
    pub fc: Tensor<3>,
    /// `i_t ⊙ g_t`.
    pub ig: Tensor<3>,
    /// `c_t`.
    pub c: Tensor<3>,
    /// The cell candidate's pre-activation.
    pub g_pre: Tensor<3>,
    /// `h_{t-1}`.
    pub h_prev: Tensor<3>,
}

/// What one LSTM layer leaves for the relevance pass.
#[derive(Debug, Clone)]
pub(crate) struct LayerTrace {
    /// `(D, T, B, E)`: each direction's input in its reading order.
    pub inputs: Tensor<4>,
    /// By reading step.
    pub steps: Vec<StepTrace>,
    /// `(T, D, B, 1)` padding flags in each direction's reading order.
    pub pad: Option<Tensor<4, Bool>>,
    /// For a bidirectional `sum`/`ave` layer below another LSTM layer: each direction's output
    /// sequence `(D, T, B, H)` (reading order) and the merged sequence `(T, B, H)`.
    pub merge_inputs: Option<(Tensor<4>, Tensor<3>)>,
    /// For the last layer: the final states `(D, B, H)`.
    pub final_h: Tensor<3>,
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

/// Output of one LSTM layer.
struct LayerOutput {
    /// `(T, B, out)` time-aligned output sequence (0 at padding); only for non-last layers.
    sequence: Option<Tensor<3>>,
    /// `(B, out)` merged final state; only for the last layer.
    last: Option<Tensor<2>>,
    trace: LayerTrace,
}

impl LstmModel {
    /// Runs the model, keeping the trace when `keep` is set.
    pub(crate) fn run(&self, input: &Prepared, keep: bool) -> Trace {
        let mut x = input.x.clone();
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut sequences = Vec::with_capacity(self.layers.len() - 1);
        let mut features = None;
        let last = self.layers.len() - 1;
        for (l, layer) in self.layers.iter().enumerate() {
            let out = lstm_layer(layer, x.clone(), input.pad.as_ref(), l == last, keep);
            if keep {
                layers.push(out.trace);
            }
            match (out.sequence, out.last) {
                (Some(seq), _) => {
                    sequences.push(seq.clone());
                    x = seq;
                }
                (None, Some(last)) => features = Some(last),
                (None, None) => unreachable!("every layer returns a sequence or a final state"),
            }
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

/// Stacks a time-major sequence `(T, B, F)` per direction in reading order: `(D, T, B, F)`.
pub(crate) fn per_direction<const N: usize, const M: usize, K>(
    seq: Tensor<N, K>,
    directions: usize,
) -> Tensor<M, K>
where
    K: burn::tensor::kind::Basic,
{
    if directions == 1 {
        seq.unsqueeze_dim(0)
    } else {
        let reversed = seq.clone().flip([0]);
        Tensor::stack(vec![seq, reversed], 0)
    }
}

fn lstm_layer(
    layer: &LstmLayerTensors,
    x: Tensor<3>,
    pad: Option<&Tensor<2, Bool>>,
    is_last: bool,
    keep: bool,
) -> LayerOutput {
    let [t_len, batch, e] = x.dims();
    let d = layer.directions;
    let h = layer.hidden;

    // All input projections at once: (D, T·B, E) × (D, E, 4H).
    let inputs: Tensor<4> = per_direction(x, d);
    let projected = inputs
        .clone()
        .reshape([d, t_len * batch, e])
        .matmul(layer.w_x.clone())
        .add(layer.b.clone())
        .reshape([d, t_len, batch, 4 * h]);

    // (T, D, B, 1) padding flags in reading order.
    let pad: Option<Tensor<4, Bool>> = pad.map(|p| {
        let per_dir: Tensor<3, Bool> = per_direction(p.clone(), d);
        per_dir.swap_dims(0, 1).unsqueeze_dim(3)
    });

    let zeros = projected
        .clone()
        .slice_dim(1, 0..1)
        .slice_dim(3, 0..h)
        .reshape([d, batch, h])
        .zeros_like();
    let mut h_state = zeros.clone();
    let mut c_state = zeros;
    let mut steps = Vec::with_capacity(if keep { t_len } else { 0 });
    let mut outputs = Vec::with_capacity(if is_last { 0 } else { t_len });

    for s in 0..t_len {
        // The step's slice of the projection is a strided view; the addition reads it in place.
        let recurrent = h_state.clone().matmul(layer.w_h.clone());
        let pre = projected
            .clone()
            .slice_dim(1, s..s + 1)
            .add(recurrent.reshape([d, 1, batch, 4 * h]))
            .reshape([d, batch, 4 * h]);
        // Internal layout: the g columns hold −2 z_g (exactly). Taken before `lstm_gates` so that
        // `pre` is unique again there and its `exp` can run in place.
        let g_pre = keep.then(|| pre.clone().slice_dim(2, 3 * h..4 * h).mul_scalar(-0.5));
        let (i, f, o, g) = lstm_gates(pre, h, layer.gate_activation);
        let ig = i.mul(g);
        let fc = f.mul(c_state.clone());
        let mut c_new = fc.clone().add(ig.clone());
        let mut h_new = o.mul(tanh(c_new.clone()));
        let step_pad = pad.as_ref().map(|p| {
            p.clone()
                .slice_dim(0, s..s + 1)
                .reshape([d, batch, 1])
                .expand([d, batch, h])
        });
        if let Some(p) = &step_pad {
            c_new = c_new.mask_where(p.clone(), c_state.clone());
            h_new = h_new.mask_where(p.clone(), h_state.clone());
        }
        if !is_last {
            outputs.push(match &step_pad {
                Some(p) => h_new.clone().mask_fill(p.clone(), 0.0),
                None => h_new.clone(),
            });
        }
        if keep {
            steps.push(StepTrace {
                fc,
                ig,
                c: c_new.clone(),
                g_pre: g_pre.expect("kept when tracing"),
                h_prev: h_state,
            });
        }
        h_state = h_new;
        c_state = c_new;
    }

    let (sequence, merge_inputs) = if is_last {
        (None, None)
    } else {
        // (T, D, B, H) in reading order → each direction time-aligned, then merged.
        let by_step: Tensor<4> = Tensor::stack(outputs, 0);
        let per_dir = by_step.swap_dims(0, 1);
        let aligned = time_aligned(per_dir.clone());
        let merged = merge_sequence(aligned, layer.merge);
        let keep_merge = keep && d == 2 && layer.merge != MergeMode::Concat;
        let merge_inputs = keep_merge.then(|| (per_dir, merged.clone()));
        (Some(merged), merge_inputs)
    };
    let last = is_last.then(|| merge_final(h_state.clone(), layer.merge));
    LayerOutput {
        sequence,
        last,
        trace: LayerTrace {
            inputs,
            steps,
            pad,
            merge_inputs,
            final_h: h_state,
        },
    }
}

/// `(D, T, B, H)` in reading order → `[(T, B, H); D]` in time order.
pub(crate) fn time_aligned(per_dir: Tensor<4>) -> Vec<Tensor<3>> {
    let d = per_dir.dims()[0];
    (0..d)
        .map(|k| {
            let seq: Tensor<3> = per_dir.clone().slice_dim(0, k..k + 1).squeeze_dim(0);
            if k == 1 { seq.flip([0]) } else { seq }
        })
        .collect()
}

/// Merges the time-aligned direction outputs `[(T, B, H); D]` into `(T, B, out)`.
fn merge_sequence(mut dirs: Vec<Tensor<3>>, merge: MergeMode) -> Tensor<3> {
    if dirs.len() == 1 {
        return dirs.pop().expect("one direction");
    }
    let bw = dirs.pop().expect("two directions");
    let fw = dirs.pop().expect("two directions");
    match merge {
        MergeMode::Concat => Tensor::cat(vec![fw, bw], 2),
        MergeMode::Sum => fw.add(bw),
        MergeMode::Ave => fw.add(bw).mul_scalar(0.5),
    }
}

/// Merges the final states `(D, B, H)` into `(B, out)`.
fn merge_final(final_h: Tensor<3>, merge: MergeMode) -> Tensor<2> {
    let d = final_h.dims()[0];
    let dirs = (0..d)
        .map(|k| {
            final_h
                .clone()
                .slice_dim(0, k..k + 1)
                .squeeze_dim::<2>(0)
                .unsqueeze_dim(0)
        })
        .collect::<Vec<Tensor<3>>>();
    merge_sequence(dirs, merge).squeeze_dim(0)
}
