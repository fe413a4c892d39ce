//! The GRU step kernels on plain slices (`reset_after`, logistic gates): one pass over a step's
//! rows, each element computed in the order of floating-point operations of the tensor path in
//! `lrp_core::cells::gru` (see [`lrp_core::kernels::StepKernels::gru_step`]), with
//! [`Real::exp`] for the platform's `exp`. Compiled for AVX-512, AVX2 and the baseline like the
//! LSTM's kernels (`super::lstm`), and spread over rayon's threads in blocks of rows the same way.

use super::elementwise::{Isa, Out, denominator, per_isa, sigmoid_of_negated, tanh, thread_blocks};
use super::real::Real;

/// The row-major `(B, 3H)` halves of a step's pre-activations without their biases, gate
/// blocks z, r, n (`x_t W_x`, `h_{t−1} U`), the biases `b_x`, `b_h` (`3H` each, added to every
/// row: `gx = x_t W_x + b_x`, `gh = h_{t−1} U + b_h`), and `h_{t−1}` `(B, H)`.
pub(crate) struct StepInputs<'a, E> {
    pub gx: &'a [E],
    pub gh: &'a [E],
    pub b_x: &'a [E],
    pub b_h: &'a [E],
    pub h_prev: &'a [E],
    pub hidden: usize,
}

/// The `(B, H)` outputs of a step: `h_t` and, for the relevance pass, `[z ⊙ h_{t−1},
/// (1 − z) ⊙ n, a_n, r ⊙ m, m]`. [`step`] writes every element of each.
pub(crate) struct StepOutputs<'a, E> {
    pub h: Out<'a, E>,
    pub kept: Option<[Out<'a, E>; 5]>,
}

/// The `(B, H)` inputs of a relevance step (see `StepKernels::gru_relevance_step`).
#[derive(Clone, Copy)]
pub(crate) struct RelevanceInputs<'a, E> {
    pub r_h: &'a [E],
    pub h: &'a [E],
    pub keep: &'a [E],
    pub update: &'a [E],
    pub a_n: &'a [E],
    pub reset_product: &'a [E],
    pub m: &'a [E],
    pub eps: E,
}

/// The `(B, H)` outputs of a relevance step: `[R_keep, q_n, q_m]`, every element written.
pub(crate) type RelevanceOutputs<'a, E> = [Out<'a, E>; 3];

/// Runs one forward step, its rows in blocks on rayon's threads when there are enough of them;
/// each element is computed the same way either way.
pub(crate) fn step<E: Real>(isa: Isa, inputs: &StepInputs<'_, E>, outputs: StepOutputs<'_, E>) {
    let n = outputs.h.len();
    let h = inputs.hidden;
    assert!(
        h > 0 && n.is_multiple_of(h),
        "GRU step: {n} outputs for hidden size {h}"
    );
    assert!(
        inputs.b_x.len() == 3 * h && inputs.b_h.len() == 3 * h,
        "GRU step: biases of {} and {} elements for hidden size {h}",
        inputs.b_x.len(),
        inputs.b_h.len()
    );
    assert!(
        inputs.gx.len() == 3 * n && inputs.gh.len() == 3 * n && inputs.h_prev.len() == n,
        "GRU step: inputs of {}, {} and {} elements for {n} outputs",
        inputs.gx.len(),
        inputs.gh.len(),
        inputs.h_prev.len()
    );
    if let Some(kept) = &outputs.kept {
        assert!(kept.iter().all(|k| k.len() == n), "GRU step: kept values");
    }
    step_blocks(isa, inputs, outputs, thread_blocks(n, n / h));
}

/// [`step`] over `blocks` blocks of rows, halving recursively.
fn step_blocks<E: Real>(
    isa: Isa,
    inputs: &StepInputs<'_, E>,
    outputs: StepOutputs<'_, E>,
    blocks: usize,
) {
    if blocks <= 1 {
        return step_isa(isa, inputs, outputs);
    }
    let h = inputs.hidden;
    let rows = outputs.h.len() / h;
    let first = blocks / 2;
    let mid = rows * first / blocks;
    let (inputs_a, inputs_b) = inputs.split_at(mid);
    let (outputs_a, outputs_b) = outputs.split_at(mid * h);
    rayon::join(
        || step_blocks(isa, &inputs_a, outputs_a, first),
        || step_blocks(isa, &inputs_b, outputs_b, blocks - first),
    );
}

impl<'a, E> StepInputs<'a, E> {
    /// The first `rows` rows and the rest.
    fn split_at(&self, rows: usize) -> (StepInputs<'a, E>, StepInputs<'a, E>) {
        let h = self.hidden;
        let (gx_a, gx_b) = self.gx.split_at(rows * 3 * h);
        let (gh_a, gh_b) = self.gh.split_at(rows * 3 * h);
        let (h_a, h_b) = self.h_prev.split_at(rows * h);
        let part = |gx, gh, h_prev| StepInputs {
            gx,
            gh,
            b_x: self.b_x,
            b_h: self.b_h,
            h_prev,
            hidden: h,
        };
        (part(gx_a, gh_a, h_a), part(gx_b, gh_b, h_b))
    }
}

impl<E> StepOutputs<'_, E> {
    /// The first `at` elements of every output and the rest.
    fn split_at(self, at: usize) -> (Self, Self) {
        let (h_a, h_b) = self.h.split_at_mut(at);
        let (kept_a, kept_b) = match self.kept {
            Some(kept) => {
                let [a, b] = split_all(kept, at);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        (
            StepOutputs {
                h: h_a,
                kept: kept_a,
            },
            StepOutputs {
                h: h_b,
                kept: kept_b,
            },
        )
    }
}

/// The first `at` elements of each output, and the rest of each.
fn split_all<'a, E, const N: usize>(outs: [Out<'a, E>; N], at: usize) -> [[Out<'a, E>; N]; 2] {
    let mut firsts = Vec::with_capacity(N);
    let mut rests = Vec::with_capacity(N);
    for out in outs {
        let (a, b) = out.split_at_mut(at);
        firsts.push(a);
        rests.push(b);
    }
    let array = |v: Vec<Out<'a, E>>| -> [Out<'a, E>; N] {
        v.try_into()
            .unwrap_or_else(|_| unreachable!("N outputs in, N out"))
    };
    [array(firsts), array(rests)]
}

per_isa! {
    /// [`step_rows`] for `isa`.
    fn step_isa(inputs: &StepInputs<'_, E>, outputs: StepOutputs<'_, E>) => step_rows
}

/// One element of a step: `(z ⊙ h_{t−1}, (1 − z) ⊙ n, a_n, r ⊙ m, h_t)` from the two halves of
/// `a_z`, `a_r`, the input half of `a_n`, `m` and `h_{t−1}`.
#[inline(always)]
fn cell<E: Real, const FUSED: bool>(
    (az_x, az_h): (E, E),
    (ar_x, ar_h): (E, E),
    an_x: E,
    m: E,
    h_prev: E,
) -> (E, E, E, E, E) {
    let z = sigmoid_of_negated::<E, FUSED>(-(az_x + az_h));
    let r = sigmoid_of_negated::<E, FUSED>(-(ar_x + ar_h));
    let reset_product = r * m;
    let a_n = an_x + reset_product;
    let n = tanh::<E, FUSED>(a_n);
    let keep = z * h_prev;
    let update = (-z + E::ONE) * n;
    (keep, update, a_n, reset_product, keep + update)
}

/// The three `n`-element gate blocks of a `3n`-element row.
#[inline(always)]
fn blocks<E>(row: &[E], n: usize) -> [&[E]; 3] {
    let (z, rest) = row.split_at(n);
    let (r, c) = rest.split_at(n);
    [z, r, &c[..n]]
}

#[inline(always)]
fn step_rows<E: Real, const FUSED: bool>(inputs: &StepInputs<'_, E>, outputs: StepOutputs<'_, E>) {
    let n = inputs.hidden;
    let ([bxz, bxr, bxn], [bhz, bhr, bhn]) = (blocks(inputs.b_x, n), blocks(inputs.b_h, n));
    let rows = inputs
        .gx
        .chunks_exact(3 * n)
        .zip(inputs.gh.chunks_exact(3 * n))
        .zip(inputs.h_prev.chunks_exact(n));
    match outputs.kept {
        Some([keep, update, a_n, reset_product, m]) => {
            let outs = outputs
                .h
                .chunks_exact_mut(n)
                .zip(keep.chunks_exact_mut(n))
                .zip(update.chunks_exact_mut(n))
                .zip(a_n.chunks_exact_mut(n))
                .zip(reset_product.chunks_exact_mut(n))
                .zip(m.chunks_exact_mut(n));
            for (((gx, gh), h_prev), (((((h, keep), update), a_n), reset_product), m)) in
                rows.zip(outs)
            {
                let ([xz, xr, xn], [hz, hr, hn]) = (blocks(gx, n), blocks(gh, n));
                let h_prev = &h_prev[..n];
                let (keep, update, a_n) = (&mut keep[..n], &mut update[..n], &mut a_n[..n]);
                let (reset_product, m, h) = (&mut reset_product[..n], &mut m[..n], &mut h[..n]);
                for j in 0..n {
                    let m_j = hn[j] + bhn[j];
                    let (k, u, a, rm, h_t) = cell::<E, FUSED>(
                        (xz[j] + bxz[j], hz[j] + bhz[j]),
                        (xr[j] + bxr[j], hr[j] + bhr[j]),
                        xn[j] + bxn[j],
                        m_j,
                        h_prev[j],
                    );
                    keep[j].write(k);
                    update[j].write(u);
                    a_n[j].write(a);
                    reset_product[j].write(rm);
                    m[j].write(m_j);
                    h[j].write(h_t);
                }
            }
        }
        None => {
            for (((gx, gh), h_prev), h) in rows.zip(outputs.h.chunks_exact_mut(n)) {
                let ([xz, xr, xn], [hz, hr, hn]) = (blocks(gx, n), blocks(gh, n));
                let (h_prev, h) = (&h_prev[..n], &mut h[..n]);
                for j in 0..n {
                    let (.., h_t) = cell::<E, FUSED>(
                        (xz[j] + bxz[j], hz[j] + bhz[j]),
                        (xr[j] + bxr[j], hr[j] + bhr[j]),
                        xn[j] + bxn[j],
                        hn[j] + bhn[j],
                        h_prev[j],
                    );
                    h[j].write(h_t);
                }
            }
        }
    }
}

/// Runs one relevance step, writing every element of the outputs.
pub(crate) fn relevance<E: Real>(
    isa: Isa,
    inputs: &RelevanceInputs<'_, E>,
    outputs: RelevanceOutputs<'_, E>,
) {
    let n = inputs.r_h.len();
    let lens = [
        inputs.h.len(),
        inputs.keep.len(),
        inputs.update.len(),
        inputs.a_n.len(),
        inputs.reset_product.len(),
        inputs.m.len(),
    ];
    assert!(
        lens.iter().all(|&l| l == n) && outputs.iter().all(|o| o.len() == n),
        "GRU relevance step: slice lengths {lens:?} vs {n}"
    );
    relevance_blocks(isa, inputs, outputs, thread_blocks(n, n.div_ceil(16)));
}

/// [`relevance`] over `blocks` blocks of elements, halving recursively.
fn relevance_blocks<E: Real>(
    isa: Isa,
    inputs: &RelevanceInputs<'_, E>,
    outputs: RelevanceOutputs<'_, E>,
    blocks: usize,
) {
    if blocks <= 1 {
        return relevance_isa(isa, inputs, outputs);
    }
    let first = blocks / 2;
    let mid = super::block_boundary(inputs.r_h.len(), blocks, first);
    let (inputs_a, inputs_b) = inputs.split_at(mid);
    let [outputs_a, outputs_b] = split_all(outputs, mid);
    rayon::join(
        || relevance_blocks(isa, &inputs_a, outputs_a, first),
        || relevance_blocks(isa, &inputs_b, outputs_b, blocks - first),
    );
}

impl<'a, E: Copy> RelevanceInputs<'a, E> {
    /// The first `at` elements of every input and the rest.
    fn split_at(&self, at: usize) -> (RelevanceInputs<'a, E>, RelevanceInputs<'a, E>) {
        let split = |s: &'a [E]| s.split_at(at);
        let ((r_h_a, r_h_b), (h_a, h_b)) = (split(self.r_h), split(self.h));
        let ((keep_a, keep_b), (update_a, update_b)) = (split(self.keep), split(self.update));
        let ((a_n_a, a_n_b), (rm_a, rm_b), (m_a, m_b)) =
            (split(self.a_n), split(self.reset_product), split(self.m));
        let part = |r_h, h, keep, update, a_n, reset_product, m| RelevanceInputs {
            r_h,
            h,
            keep,
            update,
            a_n,
            reset_product,
            m,
            eps: self.eps,
        };
        (
            part(r_h_a, h_a, keep_a, update_a, a_n_a, rm_a, m_a),
            part(r_h_b, h_b, keep_b, update_b, a_n_b, rm_b, m_b),
        )
    }
}

per_isa! {
    /// [`relevance_elements`] for `isa`.
    fn relevance_isa(inputs: &RelevanceInputs<'_, E>, outputs: RelevanceOutputs<'_, E>) => relevance_elements
}

#[inline(always)]
fn relevance_elements<E: Real, const FUSED: bool>(
    inputs: &RelevanceInputs<'_, E>,
    outputs: RelevanceOutputs<'_, E>,
) {
    let [r_keep, q_n, q_m] = outputs;
    let n = r_keep.len();
    let eps = inputs.eps;
    let (r_h, h, keep, update) = (
        &inputs.r_h[..n],
        &inputs.h[..n],
        &inputs.keep[..n],
        &inputs.update[..n],
    );
    let (a_n, reset_product, m) = (&inputs.a_n[..n], &inputs.reset_product[..n], &inputs.m[..n]);
    let (q_n, q_m) = (&mut q_n[..n], &mut q_m[..n]);
    for j in 0..n {
        let q_h = r_h[j] / denominator(h[j], eps);
        r_keep[j].write(keep[j] * q_h);
        let q = (update[j] * q_h) / denominator(a_n[j], eps);
        q_n[j].write(q);
        q_m[j].write((reset_product[j] * q) / denominator(m[j], eps));
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use super::*;

    /// Output buffers filled with NaN, so that an element a kernel leaves unwritten shows.
    fn unwritten<const N: usize>(n: usize) -> [Vec<MaybeUninit<f64>>; N] {
        std::array::from_fn(|_| vec![MaybeUninit::new(f64::NAN); n])
    }

    fn written(buf: &[MaybeUninit<f64>]) -> Vec<f64> {
        // SAFETY: `unwritten` initialised every element.
        buf.iter().map(|v| unsafe { v.assume_init() }).collect()
    }

    fn isas() -> Vec<Isa> {
        let mut isas = vec![Isa::Baseline];
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx2") {
                isas.push(Isa::Avx2);
            }
            if std::is_x86_feature_detected!("avx512f") {
                isas.push(Isa::Avx512);
            }
        }
        isas
    }

    /// Deterministic values in `[−scale, scale)`, zero included.
    fn values(n: usize, stride: usize, scale: f64) -> Vec<f64> {
        (0..n)
            .map(|k| ((k * stride % 2003) as f64 / 2003.0 - 0.5) * 2.0 * scale)
            .collect()
    }

    /// `gx`, `gh` (the gates' working range, saturation included) and `h_prev` of `rows` rows.
    fn step_values(rows: usize, h: usize) -> [Vec<f64>; 3] {
        [
            values(rows * 3 * h, 7919, 12.0),
            values(rows * 3 * h, 104_729, 6.0),
            values(rows * h, 31, 1.0),
        ]
    }

    /// Biases `(b_x, b_h)` of `3h` elements each.
    fn biases(h: usize) -> (Vec<f64>, Vec<f64>) {
        (values(3 * h, 13, 2.0), values(3 * h, 101, 1.0))
    }

    /// Every row of `v` plus `bias`.
    fn with_bias(v: &[f64], bias: &[f64]) -> Vec<f64> {
        v.iter()
            .enumerate()
            .map(|(k, x)| x + bias[k % bias.len()])
            .collect()
    }

    /// The step as `lrp_core::cells::gru` computes it with tensor operations, with `std`'s
    /// `exp`: `[h, keep, update, a_n, reset_product, m]` per element.
    fn reference(gx: &[f64], gh: &[f64], h_prev: &[f64], h: usize) -> Vec<[f64; 6]> {
        let sigmoid = |a: f64| 1.0 / ((-a).exp() + 1.0);
        let tanh = |a: f64| (1.0 / ((a * -2.0).exp() + 1.0)) * 2.0 - 1.0;
        let mut out = Vec::new();
        for b in 0..h_prev.len() / h {
            for j in 0..h {
                let at = |v: &[f64], k: usize| v[b * 3 * h + k * h + j];
                let z = sigmoid(at(gx, 0) + at(gh, 0));
                let r = sigmoid(at(gx, 1) + at(gh, 1));
                let m = at(gh, 2);
                let product = r * m;
                let a_n = at(gx, 2) + product;
                let n = tanh(a_n);
                let keep = z * h_prev[b * h + j];
                let update = (-z + 1.0) * n;
                out.push([keep + update, keep, update, a_n, product, m]);
            }
        }
        out
    }

    fn run_step(isa: Isa, inputs: &StepInputs<'_, f64>, blocks: usize) -> Vec<Vec<f64>> {
        let n = inputs.h_prev.len();
        let [mut h, mut keep, mut update, mut a_n, mut rm, mut m] = unwritten::<6>(n);
        let outputs = StepOutputs {
            h: &mut h,
            kept: Some([&mut keep, &mut update, &mut a_n, &mut rm, &mut m]),
        };
        if blocks == 0 {
            step(isa, inputs, outputs);
        } else {
            step_blocks(isa, inputs, outputs, blocks);
        }
        [h, keep, update, a_n, rm, m]
            .iter()
            .map(|b| written(b))
            .collect()
    }

    #[test]
    fn every_instruction_set_computes_the_tensor_paths_step() {
        let (rows, h) = (3, 37);
        let [gx, gh, h_prev] = step_values(rows, h);
        let (b_x, b_h) = biases(h);
        let inputs = StepInputs {
            gx: &gx,
            gh: &gh,
            b_x: &b_x,
            b_h: &b_h,
            h_prev: &h_prev,
            hidden: h,
        };
        // The tensor path's halves hold the biases, added before anything else.
        let want = reference(&with_bias(&gx, &b_x), &with_bias(&gh, &b_h), &h_prev, h);
        // The first result with and without fused multiply-adds.
        let mut first: [Option<Vec<Vec<f64>>>; 2] = [None, None];
        for isa in isas() {
            let got = run_step(isa, &inputs, 0);
            for (k, w) in want.iter().enumerate() {
                for (o, &v) in w.iter().enumerate() {
                    let g = got[o][k];
                    assert!(
                        (g - v).abs() <= 4e-16 * v.abs().max(1.0),
                        "{isa:?} output {o}, element {k}: {g} vs {v}"
                    );
                }
            }
            // Without the kept values, the same state.
            let [mut h_only] = unwritten::<1>(rows * h);
            step(
                isa,
                &inputs,
                StepOutputs {
                    h: &mut h_only,
                    kept: None,
                },
            );
            assert_eq!(written(&h_only), got[0], "{isa:?}: h without kept values");
            // Every instruction set with (without) fused multiply-adds gives the same bits.
            match &first[usize::from(isa.fused())] {
                None => first[usize::from(isa.fused())] = Some(got),
                Some(f) => assert!(f == &got, "{isa:?}: other bits"),
            }
        }
    }

    #[test]
    fn steps_in_blocks_of_rows_give_the_bits_of_one_block() {
        let (rows, h) = (37, 300);
        let [gx, gh, h_prev] = step_values(rows, h);
        let (b_x, b_h) = biases(h);
        let inputs = StepInputs {
            gx: &gx,
            gh: &gh,
            b_x: &b_x,
            b_h: &b_h,
            h_prev: &h_prev,
            hidden: h,
        };
        let isa = Isa::detect();
        let one = run_step(isa, &inputs, 1);
        assert!(one.iter().flatten().all(|v| v.is_finite()));
        for blocks in [2, 3, 5] {
            assert_eq!(run_step(isa, &inputs, blocks), one, "{blocks} blocks");
        }
    }

    fn run_relevance(isa: Isa, inputs: &RelevanceInputs<'_, f64>, blocks: usize) -> Vec<Vec<f64>> {
        let [mut r_keep, mut q_n, mut q_m] = unwritten::<3>(inputs.r_h.len());
        let outputs = [&mut r_keep[..], &mut q_n[..], &mut q_m[..]];
        if blocks == 0 {
            relevance(isa, inputs, outputs);
        } else {
            relevance_blocks(isa, inputs, outputs, blocks);
        }
        [r_keep, q_n, q_m].iter().map(|b| written(b)).collect()
    }

    #[test]
    fn the_relevance_step_is_the_tensor_paths_arithmetic() {
        let n = 10_007;
        let [r_h, mut h, keep, update, a_n, rm, m] =
            [3, 5, 7, 11, 13, 17, 19].map(|s| values(n, s, 2.0));
        h[0] = 0.0;
        h[1] = -0.0;
        let eps = 1e-3;
        let inputs = RelevanceInputs {
            r_h: &r_h,
            h: &h,
            keep: &keep,
            update: &update,
            a_n: &a_n,
            reset_product: &rm,
            m: &m,
            eps,
        };
        let den = |z: f64| if z < 0.0 { z - eps } else { z + eps };
        let got = run_relevance(Isa::detect(), &inputs, 0);
        for j in 0..n {
            let q_h = r_h[j] / den(h[j]);
            let q_n = (update[j] * q_h) / den(a_n[j]);
            assert_eq!(got[0][j], keep[j] * q_h);
            assert_eq!(got[1][j], q_n);
            assert_eq!(got[2][j], (rm[j] * q_n) / den(m[j]));
        }
        // sign(0) = sign(−0) = +1, as in both references.
        assert_eq!(got[0][1], keep[1] * (r_h[1] / eps));
        for isa in isas() {
            for blocks in [1, 2, 3, 7] {
                assert_eq!(
                    run_relevance(isa, &inputs, blocks),
                    got,
                    "{isa:?}, {blocks}"
                );
            }
        }
    }
}
