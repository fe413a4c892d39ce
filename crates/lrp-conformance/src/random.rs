//! Deterministic random models and inputs (no dependency: splitmix64 and Box–Muller), so every
//! backend sees exactly the same numbers.

use lrp_core::{LstmWeights, Matrix, ModelParams};

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

/// A random architecture: input kind, a stack of LSTM layers and a Dense head.
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    /// `Some((vocab, mask_zero))` for token input through an embedding; `None` for features.
    pub embedding: Option<(usize, bool)>,
    /// Keras `Masking(mask_value)` on feature input.
    pub mask_value: Option<f64>,
    /// Input (embedding) size E.
    pub e: usize,
    /// Per layer: hidden size, bidirectional, merge mode.
    pub layers: Vec<(usize, bool, lrp_core::MergeMode)>,
    /// Hidden Dense layers (units, activation), then the output layer's classes and activation.
    pub head: Vec<(usize, lrp_core::Activation)>,
    /// Gate nonlinearity of every layer.
    pub gates: lrp_core::GateActivation,
}

impl Architecture {
    /// Random weights for this architecture.
    pub fn random(&self, rng: &mut Rng) -> ModelParams {
        use lrp_core::{DenseLayer, InputLayer, LstmLayer};
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
        for &(h, bi, merge) in &self.layers {
            let forward = rng.lstm_weights(size, h);
            let mut layer = if bi {
                LstmLayer::bidirectional(forward, rng.lstm_weights(size, h), merge)
            } else {
                LstmLayer::unidirectional(forward)
            };
            layer.gate_activation = self.gates;
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
        ModelParams::new(input, layers, head).expect("consistent sizes")
    }
}

/// Architectures covering every supported combination at least once: uni- and bidirectional
/// layers, stacks of two and three, concat/sum/ave merges in the middle and at the top, token
/// input with and without mask_zero, Masking, multi-layer heads with ReLU and tanh, final
/// softmax/sigmoid, hard-sigmoid gates, and the degenerate sizes H = 1, C = 1.
pub fn architectures() -> Vec<Architecture> {
    use lrp_core::{Activation::*, GateActivation, MergeMode::*};
    let arch = |embedding,
                mask_value,
                e,
                layers: Vec<(usize, bool, lrp_core::MergeMode)>,
                head: Vec<(usize, lrp_core::Activation)>,
                gates| Architecture {
        embedding,
        mask_value,
        e,
        layers,
        head,
        gates,
    };
    vec![
        arch(
            None,
            None,
            3,
            vec![(4, true, Concat)],
            vec![(2, Linear)],
            GateActivation::Sigmoid,
        ),
        arch(
            None,
            None,
            2,
            vec![(3, false, Concat), (4, true, Concat)],
            vec![(3, Linear)],
            GateActivation::Sigmoid,
        ),
        arch(
            None,
            Some(0.0),
            4,
            vec![(5, true, Sum)],
            vec![(6, Relu), (3, Softmax)],
            GateActivation::Sigmoid,
        ),
        arch(
            Some((12, true)),
            None,
            5,
            vec![(3, true, Concat), (4, false, Concat)],
            vec![(2, Linear)],
            GateActivation::Sigmoid,
        ),
        arch(
            Some((9, false)),
            None,
            3,
            vec![(2, true, Ave), (3, true, Sum)],
            vec![(4, Tanh), (5, Relu), (2, Sigmoid)],
            GateActivation::Sigmoid,
        ),
        arch(
            None,
            None,
            1,
            vec![(1, false, Concat)],
            vec![(1, Linear)],
            GateActivation::Sigmoid,
        ),
        arch(
            None,
            None,
            3,
            vec![(2, true, Ave), (2, true, Ave), (3, true, Concat)],
            vec![(2, Linear)],
            GateActivation::HardSigmoidKeras2,
        ),
        arch(
            Some((7, true)),
            None,
            2,
            vec![(3, true, Sum)],
            vec![(3, Relu), (1, Linear)],
            GateActivation::HardSigmoidKeras3,
        ),
    ]
}
