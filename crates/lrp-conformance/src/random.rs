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
