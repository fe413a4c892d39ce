//! Deterministic random models and inputs (no dependency: splitmix64 and Box–Muller), so every
//! backend sees exactly the same numbers.

use lrp_core::{GruWeights, LstmWeights, Matrix, ModelParams, Readout, Step};

/// A small deterministic generator (splitmix64).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    /// Uniform in `[0, 2^64)`.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `(0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// Uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize % n.max(1)
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * core::f64::consts::PI * v).cos()
    }

    /// `n` normal values with standard deviation `std`.
    pub fn normals(&mut self, n: usize, std: f64) -> Vec<f64> {
        (0..n).map(|_| std * self.normal()).collect()
    }

    /// A `rows × cols` matrix with entries N(0, 1/rows) (Glorot-like scale).
    pub fn matrix(&mut self, rows: usize, cols: usize) -> Matrix {
        let data = self.normals(rows * cols, 1.0 / (rows as f64).sqrt());
        Matrix::new(rows, cols, data).expect("consistent length")
    }

    /// LSTM weights for input size `e` and hidden size `h`, biases N(0, 0.5²).
    /// GRU weights `(E, 3H)`, `(H, 3H)`, two biases `(3H)` (as LSTM weights: kernels
    /// N(0, 1/rows), biases N(0, 0.5²)).
    pub fn gru_weights(&mut self, e: usize, h: usize, reset_after: bool) -> GruWeights {
        GruWeights {
            w_x: self.matrix(e, 3 * h),
            w_h: self.matrix(h, 3 * h),
            b_x: self.normals(3 * h, 0.5),
            b_h: self.normals(3 * h, 0.5),
            reset_after,
        }
    }

    pub fn lstm_weights(&mut self, e: usize, h: usize) -> LstmWeights {
        LstmWeights {
            w_x: self.matrix(e, 4 * h),
            w_h: self.matrix(h, 4 * h),
            b: self.normals(4 * h, 0.5),
        }
    }
}

/// Sizes of a single-layer model as the references support it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SingleLayer {
    /// Input features E.
    pub e: usize,
    /// Hidden units H.
    pub h: usize,
    /// Classes C.
    pub c: usize,
    /// Bidirectional (concat) or forward only.
    pub bidirectional: bool,
}

impl SingleLayer {
    /// A random model of these sizes with a nonzero Dense bias.
    pub fn random(self, rng: &mut Rng) -> ModelParams {
        let forward = rng.lstm_weights(self.e, self.h);
        let backward = self.bidirectional.then(|| rng.lstm_weights(self.e, self.h));
        let d = if self.bidirectional {
            2 * self.h
        } else {
            self.h
        };
        let w_dense = rng.matrix(d, self.c);
        let b_dense = rng.normals(self.c, 0.5);
        ModelParams::single_layer(forward, backward, w_dense, b_dense).expect("consistent sizes")
    }
}

/// The single-layer shapes every backend is checked on, including the degenerate ones
/// (H = 1, C = 1, E = 1).
pub fn single_layer_shapes() -> Vec<SingleLayer> {
    let mut shapes = Vec::new();
    for (e, h, c) in [
        (1, 1, 1),
        (3, 1, 2),
        (1, 4, 3),
        (5, 7, 1),
        (6, 8, 4),
        (16, 12, 3),
    ] {
        for bidirectional in [false, true] {
            shapes.push(SingleLayer {
                e,
                h,
                c,
                bidirectional,
            });
        }
    }
    shapes
}

/// The cell of a layer of an [`Architecture`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cell {
    /// LSTM.
    Lstm,
    /// GRU, with Keras' `reset_after` flag.
    Gru {
        /// Whether the reset gate multiplies the recurrent product.
        reset_after: bool,
    },
}

/// One recurrent layer of an [`Architecture`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArchLayer {
    /// Hidden size H.
    pub h: usize,
    /// Bidirectional.
    pub bidirectional: bool,
    /// How the two directions are merged.
    pub merge: lrp_core::MergeMode,
    /// LSTM or GRU.
    pub cell: Cell,
    /// Keras `go_backwards` (unidirectional layers).
    pub go_backwards: bool,
}

impl ArchLayer {
    /// An LSTM layer reading forwards.
    pub fn lstm(h: usize, bidirectional: bool, merge: lrp_core::MergeMode) -> Self {
        ArchLayer {
            h,
            bidirectional,
            merge,
            cell: Cell::Lstm,
            go_backwards: false,
        }
    }
}

/// A model shape for the architecture checks: input, recurrent layers, readout, head.
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    /// `(vocabulary, mask_zero)` for an embedding input.
    pub embedding: Option<(usize, bool)>,
    /// Keras `Masking` value for feature input.
    pub mask_value: Option<f64>,
    /// Input (or embedding) size E.
    pub e: usize,
    /// The recurrent layers, bottom first.
    pub layers: Vec<ArchLayer>,
    /// How the head reads the last layer.
    pub readout: Readout,
    /// For a per-step model: the step explained.
    pub step: Option<Step>,
    /// The Dense layers `(units, activation)`.
    pub head: Vec<(usize, lrp_core::Activation)>,
    /// The gates' nonlinearity.
    pub gates: lrp_core::GateActivation,
}

impl Architecture {
    /// A model of this shape with random weights.
    pub fn random(&self, rng: &mut Rng) -> ModelParams {
        use lrp_core::{CellWeights, DenseLayer, InputLayer, RecurrentLayer};
        let input = match self.embedding {
            Some((vocab, mask_zero)) => InputLayer::Embedding {
                table: Matrix::new(vocab, self.e, rng.normals(vocab * self.e, 1.0)).expect("len"),
                mask_zero,
            },
            None => InputLayer::Features {
                size: self.e,
                mask_value: self.mask_value,
            },
        };
        let mut size = self.e;
        let mut layers = Vec::new();
        for spec in &self.layers {
            let cell = |rng: &mut Rng| -> CellWeights {
                match spec.cell {
                    Cell::Lstm => rng.lstm_weights(size, spec.h).into(),
                    Cell::Gru { reset_after } => rng.gru_weights(size, spec.h, reset_after).into(),
                }
            };
            let forward = cell(rng);
            let mut layer = if spec.bidirectional {
                RecurrentLayer::bidirectional(forward, cell(rng), spec.merge)
            } else {
                RecurrentLayer::unidirectional(forward)
            };
            layer.gate_activation = self.gates;
            layer.go_backwards = spec.go_backwards;
            size = layer.output_size();
            layers.push(layer);
        }
        let head = self
            .head
            .iter()
            .map(|&(units, activation)| {
                let d = DenseLayer {
                    w: rng.matrix(size, units),
                    b: rng.normals(units, 0.5),
                    activation,
                };
                size = units;
                d
            })
            .collect();
        ModelParams::new(input, layers, head)
            .expect("consistent sizes")
            .with_readout(self.readout)
    }

    /// The model on `device`, read at [`Architecture::step`] for a per-step model.
    pub fn model(
        &self,
        params: &ModelParams,
        device: &lrp_core::burn::tensor::Device,
        precision: lrp_core::Precision,
    ) -> lrp_core::LstmModel {
        let model = lrp_core::LstmModel::new(params, device, precision).expect("model");
        match self.step {
            Some(step) => model.at_step(step).expect("a per-step model"),
            None => model,
        }
    }
}

pub fn architectures() -> Vec<Architecture> {
    use lrp_core::{Activation::*, GateActivation, MergeMode::*};
    let lstm = |h, bidirectional, merge| ArchLayer {
        h,
        bidirectional,
        merge,
        cell: Cell::Lstm,
        go_backwards: false,
    };
    let gru = |h, bidirectional, merge, reset_after| ArchLayer {
        h,
        bidirectional,
        merge,
        cell: Cell::Gru { reset_after },
        go_backwards: false,
    };
    let backwards = |layer: ArchLayer| ArchLayer {
        go_backwards: true,
        ..layer
    };
    let arch = |embedding,
                mask_value,
                e,
                layers: Vec<ArchLayer>,
                readout,
                head: Vec<(usize, lrp_core::Activation)>,
                gates| Architecture {
        embedding,
        mask_value,
        e,
        layers,
        step: (readout == Readout::PerStep).then_some(Step::Last),
        readout,
        head,
        gates,
    };
    use Readout::{Final, Last, Max, Mean, PerStep};
    let sigmoid = GateActivation::Sigmoid;
    vec![
        // LSTM classifiers (the first round).
        arch(
            None,
            None,
            3,
            vec![lstm(4, true, Concat)],
            Final,
            vec![(2, Linear)],
            sigmoid,
        ),
        arch(
            None,
            None,
            2,
            vec![lstm(3, false, Concat), lstm(4, true, Concat)],
            Final,
            vec![(3, Linear)],
            sigmoid,
        ),
        arch(
            None,
            Some(0.0),
            4,
            vec![lstm(5, true, Sum)],
            Final,
            vec![(6, Relu), (3, Softmax)],
            sigmoid,
        ),
        arch(
            Some((12, true)),
            None,
            5,
            vec![lstm(3, true, Concat), lstm(4, false, Concat)],
            Final,
            vec![(2, Linear)],
            sigmoid,
        ),
        arch(
            Some((9, false)),
            None,
            3,
            vec![lstm(2, true, Ave), lstm(3, true, Sum)],
            Final,
            vec![(4, Tanh), (5, Relu), (2, Sigmoid)],
            sigmoid,
        ),
        arch(
            None,
            None,
            1,
            vec![lstm(1, false, Concat)],
            Final,
            vec![(1, Linear)],
            sigmoid,
        ),
        arch(
            None,
            None,
            3,
            vec![
                lstm(2, true, Ave),
                lstm(2, true, Ave),
                lstm(3, true, Concat),
            ],
            Final,
            vec![(2, Linear)],
            GateActivation::HardSigmoidKeras2,
        ),
        arch(
            Some((7, true)),
            None,
            2,
            vec![lstm(3, true, Sum)],
            Final,
            vec![(3, Relu), (1, Linear)],
            GateActivation::HardSigmoidKeras3,
        ),
        // GRU cells, both reset variants, mixed stacks.
        arch(
            None,
            None,
            3,
            vec![gru(4, false, Concat, true)],
            Final,
            vec![(2, Linear)],
            sigmoid,
        ),
        arch(
            Some((11, true)),
            None,
            4,
            vec![gru(3, true, Concat, false)],
            Final,
            vec![(3, Softmax)],
            sigmoid,
        ),
        arch(
            None,
            Some(0.0),
            3,
            vec![gru(4, false, Concat, true), lstm(3, false, Concat)],
            Final,
            vec![(2, Linear)],
            sigmoid,
        ),
        arch(
            None,
            None,
            2,
            vec![lstm(3, true, Concat), gru(2, true, Sum, true)],
            Final,
            vec![(4, Relu), (2, Linear)],
            GateActivation::HardSigmoidKeras3,
        ),
        // go_backwards, alone and stacked.
        arch(
            None,
            None,
            3,
            vec![backwards(lstm(4, false, Concat))],
            Final,
            vec![(3, Linear)],
            sigmoid,
        ),
        arch(
            Some((8, true)),
            None,
            3,
            vec![backwards(lstm(3, false, Concat)), lstm(4, false, Concat)],
            Final,
            vec![(2, Linear)],
            sigmoid,
        ),
        // Readouts over the output sequence.
        arch(
            None,
            None,
            3,
            vec![lstm(3, true, Concat)],
            Max,
            vec![(2, Linear)],
            sigmoid,
        ),
        arch(
            Some((10, true)),
            None,
            4,
            vec![lstm(4, false, Concat)],
            Mean,
            vec![(5, Relu), (3, Softmax)],
            sigmoid,
        ),
        arch(
            None,
            Some(0.0),
            2,
            vec![gru(3, true, Concat, true)],
            Last,
            vec![(2, Linear)],
            sigmoid,
        ),
        arch(
            None,
            None,
            3,
            vec![
                backwards(gru(3, false, Concat, false)),
                gru(2, true, Ave, true),
            ],
            Mean,
            vec![(2, Linear)],
            GateActivation::HardSigmoidKeras3,
        ),
        // Per-step heads, explained at each sequence's last real step.
        arch(
            None,
            None,
            3,
            vec![lstm(3, false, Concat), lstm(2, true, Sum)],
            PerStep,
            vec![(3, Linear)],
            sigmoid,
        ),
        arch(
            Some((9, true)),
            None,
            3,
            vec![backwards(gru(4, false, Concat, true))],
            PerStep,
            vec![(3, Tanh), (2, Linear)],
            sigmoid,
        ),
    ]
}
