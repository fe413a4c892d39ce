//! The forward pass, optionally keeping what the relevance pass needs.
//!
//! Sequences are time-major `(T, B, F)`. Each direction runs its own recurrence (on its own
//! rayon task when the model allows, see [`LstmModel::with_parallel_directions`]); the backward
//! direction's reading step `s` reads time `T-1-s`, found by indexing rather than by reversing
//! any tensor. Each step computes `x_t W_x + h_{t-1} W_h + b` as two `(B, ·) × (·, G·H)`
//! products: measured on burn's CPU backends, one product over all time steps
//! (`(T·B, E) × (E, 4H)`) ran at half the GEMM throughput of these batch-sized ones and
//! allocated a large output whose pages must be faulted in. The cells' steps are in
//! [`crate::cells`].
//!
//! Padding (Keras masking, PyTorch packing): at a padding step the state is carried unchanged,
//! and a layer's output sequence is 0 there. A backward direction therefore starts at each
//! sequence's last real step, for post- and pre-padding alike.
//!
//! A `go_backwards` layer (Keras) reads its input reversed in time, and its output sequence
//! stays in that reading order: the layers above, the readout and the padding flags all see the
//! reversed order, as in Keras (`Frame`).

use burn::tensor::{Bool, Tensor};

use crate::cells::{gru, lstm};
use crate::input::Prepared;
use crate::kernels::Kernels;
use crate::model::{DenseTensors, LayerCell, LayerTensors, LstmModel};
use crate::params::{Activation, GateActivation, MergeMode};
use crate::readout::{self, Reading, ReadoutTrace};
use crate::tensor_ops::tanh;

/// The steps one direction keeps for the relevance pass, by cell kind (empty unless tracing).
#[derive(Debug, Clone)]
pub(crate) enum CellSteps {
    Lstm(Vec<lstm::LstmStep>),
    Gru(Vec<gru::GruStep>),
}

/// One direction's pass over a layer's input.
#[derive(Debug, Clone)]
pub(crate) struct DirectionTrace {
    /// By reading step (empty unless tracing).
    pub steps: CellSteps,
    /// The output at each step, `(B, H)`, 0 at padding, by reading step (empty when nobody
    /// reads the layer's sequence).
    pub outputs: Vec<Tensor<2>>,
    /// The final state `(B, H)`.
    pub final_h: Tensor<2>,
}

/// What one recurrent layer leaves for the relevance pass.
#[derive(Debug, Clone)]
pub(crate) struct LayerTrace {
    /// `(T, B, E)`: the layer's input, in the layer's own reading frame (reversed for a
    /// `go_backwards` layer).
    pub inputs: Tensor<3>,
    /// `(T, B)` padding flags in the same frame, `true` at padding.
    pub pad: Option<Tensor<2, Bool>>,
    /// Per step of the same frame, how many leading samples are real, when the real samples
    /// are always the first ones (see [`StepRows`]); then `pad` is not used for masking.
    pub active: Option<Vec<usize>>,
    /// Per direction.
    pub dirs: Vec<DirectionTrace>,
    /// For a bidirectional `sum`/`ave` layer whose sequence is read (by the layer above or the
    /// readout): each direction's output sequence, time-aligned `(T, B, H)`, and the merged
    /// sequence `(T, B, H)`.
    pub merge_inputs: Option<(Vec<Tensor<3>>, Tensor<3>)>,
}

/// The forward pass with everything the relevance pass reads.
#[derive(Debug, Clone)]
pub(crate) struct Trace {
    pub layers: Vec<LayerTrace>,
    /// The output sequence `(T, B, out)` of every recurrent layer whose sequence is read (all but
    /// the last, and the last when the readout reads it), in that layer's frame.
    pub sequences: Vec<Tensor<3>>,
    /// How the head read the last layer's sequence (`None` for the final state).
    pub readout: Option<ReadoutTrace>,
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

/// The recurrent layers' part of a forward pass.
pub(crate) struct Layers {
    pub traces: Vec<LayerTrace>,
    pub sequences: Vec<Tensor<3>>,
    pub top: Top,
}

/// What the last recurrent layer hands on.
// One value per pass, never in a collection: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Top {
    /// Its merged final state `(B, out)`.
    Final(Tensor<2>),
    /// Its merged output sequence `(T, B, out)` and the padding `(T, B)`, in its frame.
    Sequence(Tensor<3>, Option<Tensor<2, Bool>>),
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

/// What one direction's forward pass reads, whatever its cell.
pub(crate) struct DirectionRun<'a> {
    pub direction: usize,
    /// `(T, B, E)` the layer's input, in its frame.
    pub inputs: &'a Tensor<3>,
    pub pad: Option<&'a Tensor<2, Bool>>,
    /// Per time step of the frame, the number of leading real samples (see [`StepRows`]).
    pub active: Option<&'a [usize]>,
    pub hidden: usize,
    pub gates: GateActivation,
    /// `(1, 1)` −½ (the LSTM's cell-candidate unscaling).
    pub neg_half: &'a Tensor<2>,
    /// Keep the trace for the relevance pass.
    pub keep: bool,
    /// Keep the gate values too (a gate rule other than `all`).
    pub keep_gates: bool,
    /// Collect the output sequence.
    pub outputs: bool,
    /// The backend's fused step kernels, if the model uses them.
    pub kernels: Option<Kernels>,
}

/// The rows of the batch one step computes. When every step's real samples are its first `n`
/// (a batch sorted by length), only those are computed — as PyTorch's packed sequences do — and
/// the others keep their state (forward) or their relevance (backward) untouched; that is what
/// masking would give, without computing the padded rows. Otherwise every row is computed and
/// the padding masked.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StepRows {
    /// Rows computed: the first `n`.
    pub n: usize,
    /// The batch.
    pub batch: usize,
}

impl StepRows {
    /// The rows of time step `t` (in the frame) of a batch of `batch`.
    pub fn at(active: Option<&[usize]>, t: usize, batch: usize) -> Self {
        StepRows {
            n: active.map_or(batch, |a| a[t]),
            batch,
        }
    }

    /// Whether every row is computed.
    pub fn all(self) -> bool {
        self.n == self.batch
    }

    /// The computed rows of a `(B, ·)` tensor.
    pub fn take(self, x: Tensor<2>) -> Tensor<2> {
        if self.all() {
            x
        } else {
            x.slice_dim(0, 0..self.n)
        }
    }

    /// Time step `t` of a `(T, B, F)` sequence, computed rows only: `(n, F)`.
    pub fn step_of(self, seq: &Tensor<3>, t: usize) -> Tensor<2> {
        let f = seq.dims()[2];
        seq.clone()
            .slice([t..t + 1, 0..self.n])
            .reshape([self.n, f])
    }

    /// `new` `(n, F)` for the computed rows, `old` `(B, F)` kept for the others.
    pub fn put(self, new: Tensor<2>, old: Tensor<2>) -> Tensor<2> {
        if self.all() {
            new
        } else {
            Tensor::cat(vec![new, old.slice_dim(0, self.n..self.batch)], 0)
        }
    }

    /// `new` `(n, F)` for the computed rows, zeros for the others: `(B, F)`.
    pub fn zero_rest(self, new: Tensor<2>) -> Tensor<2> {
        if self.all() {
            return new;
        }
        let f = new.dims()[1];
        let zeros = Tensor::zeros([self.batch - self.n, f], (&new.device(), new.dtype()));
        Tensor::cat(vec![new, zeros], 0)
    }
}

/// Reverses a time-major tensor's time axis (dimension 0).
pub(crate) fn reverse_time<T: Flip>(t: T) -> T {
    t.reverse_time()
}

/// Tensors whose time axis (dimension 0) can be reversed.
pub(crate) trait Flip {
    fn reverse_time(self) -> Self;
}

impl<const D: usize> Flip for Tensor<D> {
    fn reverse_time(self) -> Self {
        self.flip([0])
    }
}

impl<const D: usize> Flip for Tensor<D, Bool> {
    fn reverse_time(self) -> Self {
        self.flip([0])
    }
}

impl LstmModel {
    /// Runs the model, keeping the trace when `keep` is set.
    pub(crate) fn run(&self, input: &Prepared, keep: bool) -> Trace {
        self.run_traced(input, keep, false)
    }

    /// The recurrent layers: their traces, the sequences read, and what the last one hands on
    /// (its merged final state, or its output sequence and the padding in its frame).
    pub(crate) fn run_layers(&self, input: &Prepared, keep: bool, keep_gates: bool) -> Layers {
        let mut x = input.x.clone();
        let mut pad = input.pad.clone();
        let mut active = input.active.clone().filter(|_| self.packed_steps);
        let mut layers = Vec::with_capacity(self.layers.len());
        let mut sequences = Vec::with_capacity(self.layers.len());
        let last = self.layers.len() - 1;
        let mut top = None;
        for (l, layer) in self.layers.iter().enumerate() {
            if layer.go_backwards {
                x = reverse_time(x);
                pad = pad.map(reverse_time);
                if let Some(a) = &mut active {
                    a.reverse();
                }
            }
            let sequence_read = l < last || self.reading.reads_sequence();
            let trace = self.layer_forward(
                layer,
                x.clone(),
                (pad.as_ref(), active.as_deref()),
                sequence_read,
                (keep, keep && keep_gates),
            );
            if sequence_read {
                let seq = merge_sequence(&trace, layer.merge);
                sequences.push(seq.clone());
                if l < last {
                    x = seq;
                } else {
                    top = Some(Top::Sequence(seq, pad.clone()));
                }
            } else {
                top = Some(Top::Final(merge_final(&trace, layer.merge)));
            }
            layers.push(trace);
        }
        Layers {
            traces: layers,
            sequences,
            top: top.expect("a validated model has a recurrent layer"),
        }
    }

    /// Runs the model, keeping the trace when `keep` is set, with the gate values when
    /// `keep_gates` is set too. For a model read at one step (or pooled); a per-step model
    /// without a chosen step is refused before this is called.
    pub(crate) fn run_traced(&self, input: &Prepared, keep: bool, keep_gates: bool) -> Trace {
        let Layers {
            traces: layers,
            sequences,
            top,
        } = self.run_layers(input, keep, keep_gates);
        let (features, readout_trace) = match top {
            Top::Final(state) => (state, None),
            Top::Sequence(seq, pad) => {
                let reading = self.frame_reading(input);
                let (pooled, r) = readout::forward(&reading, seq, pad.as_ref());
                (pooled, Some(r))
            }
        };
        let mut a = features;
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
            readout: readout_trace,
            hidden,
            head_inputs,
            head_z,
        }
    }

    /// Whether the last layer's sequence runs backwards in input time (an odd number of
    /// `go_backwards` layers).
    pub(crate) fn frame_reversed(&self) -> bool {
        self.layers.iter().filter(|l| l.go_backwards).count() % 2 == 1
    }

    /// The model's reading in the frame of `input`, whose leading and trailing all-padding steps
    /// are not computed: a chosen position moves with the window.
    pub(crate) fn frame_reading(&self, input: &Prepared) -> Reading {
        match self.reading {
            Reading::At(k) => {
                let (before, after) = input.trimmed;
                let skipped = if self.frame_reversed() { after } else { before };
                Reading::At(k.saturating_sub(skipped))
            }
            other => other,
        }
    }

    /// The head at every step of the last layer's output sequence `(T, B, out)`: `(T, B, C)`.
    pub(crate) fn head_per_step(&self, seq: Tensor<3>) -> Tensor<3> {
        let [t, b, out] = seq.dims();
        let mut a = seq.reshape([t * b, out]);
        let last_dense = self.head.len() - 1;
        for (k, dense) in self.head.iter().enumerate() {
            let z = dense_pre_activation(dense, a);
            a = if k == last_dense {
                z
            } else {
                hidden_activation(z, dense.activation)
            };
        }
        let c = a.dims()[1];
        a.reshape([t, b, c])
    }

    fn layer_forward(
        &self,
        layer: &LayerTensors,
        x: Tensor<3>,
        (pad, active): (Option<&Tensor<2, Bool>>, Option<&[usize]>),
        sequence_read: bool,
        (keep, keep_gates): (bool, bool),
    ) -> LayerTrace {
        let dirs = per_direction(layer.directions(), self.parallel_directions, |d| {
            let run = DirectionRun {
                direction: d,
                inputs: &x,
                pad,
                active,
                hidden: layer.hidden,
                gates: layer.gate_activation,
                neg_half: &self.neg_half,
                keep,
                keep_gates,
                outputs: sequence_read,
                kernels: self.kernels,
            };
            match &layer.cell {
                LayerCell::Lstm(cell) => lstm::run_direction(&cell.dirs[d], cell, run),
                LayerCell::Gru(cell) => gru::run_direction(&cell.dirs[d], cell.reset_after, run),
            }
        });
        let merge_inputs =
            (keep && sequence_read && dirs.len() == 2 && layer.merge != MergeMode::Concat).then(
                || {
                    let aligned: Vec<Tensor<3>> = dirs
                        .iter()
                        .enumerate()
                        .map(|(d, t)| time_aligned(d, &t.outputs))
                        .collect();
                    let merged = merge(aligned.clone(), layer.merge);
                    (aligned, merged)
                },
            );
        LayerTrace {
            inputs: x,
            pad: pad.cloned(),
            active: active.map(<[usize]>::to_vec),
            dirs,
            merge_inputs,
        }
    }
}

/// The computed rows ([`StepRows`]) of the time steps `times` of a `(T, B, F)` sequence, one step
/// after another: `(Σ n_t, F)`, and where each step's rows start in it.
pub(crate) fn gather_rows(
    seq: &Tensor<3>,
    active: &[usize],
    times: &[usize],
) -> (Tensor<2>, Vec<usize>) {
    let [_, batch, f] = seq.dims();
    let mut starts = Vec::with_capacity(times.len());
    let mut parts = Vec::with_capacity(times.len());
    let mut at = 0;
    for &t in times {
        let rows = StepRows::at(Some(active), t, batch);
        starts.push(at);
        at += rows.n;
        if rows.n > 0 {
            parts.push(rows.step_of(seq, t));
        }
    }
    let gathered = if parts.is_empty() {
        Tensor::zeros([0, f], (&seq.device(), seq.dtype()))
    } else {
        Tensor::cat(parts, 0)
    };
    (gathered, starts)
}

/// A recurrence's `(B, F)` state under packed steps ([`StepRows`]), kept so that the rows a step
/// does not compute are never copied: the computed rows are one `(n, F)` tensor (`live`), the
/// others wait as views (`parked`) until a later step computes them again. Shrinking to fewer
/// rows costs nothing; growing concatenates the rows that join. [`StepRows::put`] instead copied
/// the whole state at every step that left rows out. With every row computed it is the plain
/// state.
pub(crate) struct PackedState {
    /// Rows `0..n` of the state.
    live: Tensor<2>,
    /// The rows after `live`, as runs of consecutive rows, the lowest last.
    parked: Vec<Tensor<2>>,
}

impl PackedState {
    /// The state `(B, F)` before the first step.
    pub fn new(state: Tensor<2>) -> Self {
        PackedState {
            live: state,
            parked: Vec::new(),
        }
    }

    /// Rows `0..n` of the state, for a step that computes them.
    pub fn rows(&mut self, n: usize) -> Tensor<2> {
        let live = self.live.dims()[0];
        if n < live {
            self.parked.push(self.live.clone().slice_dim(0, n..live));
            self.live = self.live.clone().slice_dim(0, 0..n);
        } else if n > live {
            let mut parts = vec![self.live.clone()];
            let mut have = live;
            while have < n {
                let run = self
                    .parked
                    .pop()
                    .expect("the parked runs hold every row after the live ones");
                let len = run.dims()[0];
                let take = (n - have).min(len);
                if take < len {
                    self.parked.push(run.clone().slice_dim(0, take..len));
                    parts.push(run.slice_dim(0, 0..take));
                } else {
                    parts.push(run);
                }
                have += take;
            }
            self.live = Tensor::cat(parts, 0);
        }
        self.live.clone()
    }

    /// The step's new values of the rows it computed (`(n, F)`, `n` as asked of
    /// [`PackedState::rows`]).
    pub fn set(&mut self, rows: Tensor<2>) {
        debug_assert_eq!(rows.dims()[0], self.live.dims()[0]);
        self.live = rows;
    }

    /// The whole state `(B, F)`.
    pub fn into_full(self) -> Tensor<2> {
        if self.parked.is_empty() {
            return self.live;
        }
        let mut parts = vec![self.live];
        parts.extend(self.parked.into_iter().rev());
        Tensor::cat(parts, 0)
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

/// The merged output sequence `(T, B, out)` of a layer whose sequence is read.
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
