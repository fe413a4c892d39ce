//! The input halves `x_t W_x + b` of a direction's pre-activations, computed for many steps in
//! one matrix product.
//!
//! Only `h_{t−1} W_h` depends on the previous step; `x_t W_x + b` can be computed ahead for every
//! step, as cuDNN and PyTorch's CPU LSTM do. One `(S·B, E) × (E, G)` product over a chunk of
//! `S` steps runs far closer to the machine's GEMM rate than `S` products of `B` rows
//! (`benches/README.md` §7), and the bias is added once per chunk instead of once per step.
//! A caller whose step kernel adds the bias itself asks for `x_t W_x` alone, which spares
//! copying the bias under every row of the product before it. Chunks of about [`CHUNK_ROWS`]
//! rows keep the memory at `O(CHUNK_ROWS · G)` per direction whatever the sequence's length.
//! Under packed steps (see [`StepRows`]) only the computed rows of each step are projected,
//! gathered into one matrix.

use burn::tensor::Tensor;

use crate::forward::{StepRows, gather_rows, time_of};
use crate::kernels::{self, Kernels};

/// Rows of one chunk's product: enough for the GEMM kernels to reach their large-matrix rate,
/// small enough that a chunk's `(rows, G)` result stays a few MB (at 2048 rows, 20 MB in f64 at
/// G = 1200, the allocator handed each chunk fresh pages from the kernel: 4 % of the time went
/// to clearing them).
const CHUNK_ROWS: usize = 512;

/// The precomputed `x_t W_x + b` of one direction, served step by step in reading order.
pub(crate) struct InputProjection<'a> {
    inputs: &'a Tensor<3>,
    w_x: &'a Tensor<2>,
    b: Option<&'a Tensor<2>>,
    direction: usize,
    active: Option<&'a [usize]>,
    kernels: Option<Kernels>,
    chunk_steps: usize,
    /// The current chunk: its first reading step, its `(rows, G)` product, and each of its
    /// steps' first row.
    chunk: Option<(usize, Tensor<2>, Vec<usize>)>,
}

impl<'a> InputProjection<'a> {
    /// `inputs` `(T, B, E)` in the layer's frame, `w_x` `(E, G)`, `b` `(1, G)` (`None`: the
    /// products are `x_t W_x` alone).
    pub fn new(
        inputs: &'a Tensor<3>,
        (w_x, b): (&'a Tensor<2>, Option<&'a Tensor<2>>),
        direction: usize,
        active: Option<&'a [usize]>,
        kernels: Option<Kernels>,
    ) -> Self {
        let [t_len, batch, _] = inputs.dims();
        let chunk_steps = CHUNK_ROWS.div_ceil(batch.max(1)).clamp(1, t_len.max(1));
        InputProjection {
            inputs,
            w_x,
            b,
            direction,
            active,
            kernels,
            chunk_steps,
            chunk: None,
        }
    }

    /// `x_t W_x + b` (or `x_t W_x`, see [`InputProjection::new`]) for reading step `s` (steps
    /// asked in increasing order), computed rows only: `(n, G)`, a contiguous view into the
    /// chunk's product.
    pub fn step(&mut self, s: usize) -> Tensor<2> {
        let [t_len, batch, _] = self.inputs.dims();
        let stale = self
            .chunk
            .as_ref()
            .is_none_or(|(first, _, _)| s < *first || s >= first + self.chunk_steps);
        if stale {
            self.chunk = Some(self.compute(s, t_len, batch));
        }
        let (first, product, starts) = self.chunk.as_ref().expect("computed above");
        let t = time_of(self.direction, s, t_len);
        let rows = StepRows::at(self.active, t, batch);
        let start = starts[s - first];
        product.clone().slice_dim(0, start..start + rows.n)
    }

    fn compute(&self, first: usize, t_len: usize, batch: usize) -> (usize, Tensor<2>, Vec<usize>) {
        let e = self.inputs.dims()[2];
        let last = (first + self.chunk_steps).min(t_len);
        let times: Vec<usize> = (first..last)
            .map(|s| time_of(self.direction, s, t_len))
            .collect();
        let (x, starts) = match self.active {
            // Every row of every step: the chunk's steps are one contiguous block of the
            // sequence, forwards or backwards.
            None => {
                let lo = *times.iter().min().expect("at least one step");
                let hi = *times.iter().max().expect("at least one step") + 1;
                let x = self
                    .inputs
                    .clone()
                    .slice_dim(0, lo..hi)
                    .reshape([(hi - lo) * batch, e]);
                let starts = times.iter().map(|t| (t - lo) * batch).collect();
                (x, starts)
            }
            // Each step's computed rows, gathered.
            Some(active) => gather_rows(self.inputs, active, &times),
        };
        let product = match self.b {
            Some(b) => kernels::matmul_add(self.kernels, x, self.w_x.clone(), b.clone()),
            None => kernels::matmul(self.kernels, x, self.w_x.clone()),
        };
        (first, product, starts)
    }
}
