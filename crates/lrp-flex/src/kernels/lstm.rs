//! The LSTM step kernels on plain slices: one pass over a step's rows, each element computed in
//! the order of floating-point operations of the tensor path in `lrp_core::cells::lstm` (see
//! [`lrp_core::kernels::StepKernels`]), with [`Real::exp`] for the platform's `exp`.
//!
//! The loops are written per element and compiled three times — for AVX-512, for AVX2 and for
//! the build's baseline — and [`Isa::detect`] picks one at run time, so that a default build
//! vectorises them on the CPU it runs on (`super::elementwise::per_isa`). The arithmetic is the
//! same in all three, except that `exp` fuses its multiply-adds where the CPU has them (AVX-512,
//! AVX2; see [`Real::exp`]): results depend on the CPU only in that the baseline copy, which runs
//! on x86-64 CPUs without AVX2, may round `exp` differently (both within 1 ulp of `std`'s).

use super::elementwise::{Isa, Out, denominator, per_isa, sigmoid_of_negated, tanh, thread_blocks};
use super::real::Real;

/// The row-major `(B, 4H)` pre-activations of a step, `pre_h + pre_x` (`pre_x` alone without
/// `pre_h`), and its `(B, H)` previous cell state.
pub(crate) struct StepInputs<'a, E> {
    pub pre_x: &'a [E],
    pub pre_h: Option<&'a [E]>,
    /// `4 · hidden` elements, added to every row of `pre_x`.
    pub bias: &'a [E],
    pub c_prev: &'a [E],
    pub hidden: usize,
}

/// The `(B, H)` outputs of a step; `kept` = `(f ⊙ c_{t−1}, i ⊙ g, z_g)` for the relevance pass.
/// [`step`] writes every element of each.
pub(crate) struct StepOutputs<'a, E> {
    pub h: Out<'a, E>,
    pub c: Out<'a, E>,
    pub kept: Option<(Out<'a, E>, Out<'a, E>, Out<'a, E>)>,
}

/// The `(B, H)` inputs of a relevance step (see `StepKernels::lstm_relevance_step`).
pub(crate) struct RelevanceInputs<'a, E> {
    pub r_h: &'a [E],
    pub r_c: &'a [E],
    pub fc: &'a [E],
    pub ig: &'a [E],
    pub c: &'a [E],
    pub g_pre: &'a [E],
    pub eps: E,
}

/// Runs one forward step, its rows in blocks on rayon's threads when there are enough of them
/// (see [`thread_blocks`]); each element is computed the same way either way.
pub(crate) fn step<E: Real>(
    isa: Isa,
    inputs: &StepInputs<'_, E>,
    outputs: &mut StepOutputs<'_, E>,
) {
    check_step(inputs, outputs);
    let n = outputs.h.len();
    let rows = n / inputs.hidden;
    step_blocks(isa, inputs, outputs.reborrow(), thread_blocks(n, rows));
}

/// [`step`] over `blocks` blocks of rows, halving recursively.
fn step_blocks<E: Real>(
    isa: Isa,
    inputs: &StepInputs<'_, E>,
    mut outputs: StepOutputs<'_, E>,
    blocks: usize,
) {
    if blocks <= 1 {
        return step_isa(isa, inputs, &mut outputs);
    }
    let rows = outputs.h.len() / inputs.hidden;
    let first = blocks / 2;
    let mid = rows * first / blocks;
    let (inputs_a, inputs_b) = inputs.split_at(mid);
    let (outputs_a, outputs_b) = outputs.split_at(mid * inputs.hidden);
    rayon::join(
        || step_blocks(isa, &inputs_a, outputs_a, first),
        || step_blocks(isa, &inputs_b, outputs_b, blocks - first),
    );
}

per_isa! {
    /// [`step_rows`] for `isa`.
    fn step_isa(inputs: &StepInputs<'_, E>, outputs: &mut StepOutputs<'_, E>) => step_rows
}

impl<'a, E> StepInputs<'a, E> {
    /// The first `rows` rows and the rest.
    fn split_at(&self, rows: usize) -> (StepInputs<'a, E>, StepInputs<'a, E>) {
        let h = self.hidden;
        let (x_a, x_b) = self.pre_x.split_at(rows * 4 * h);
        let (c_a, c_b) = self.c_prev.split_at(rows * h);
        let (h_a, h_b) = match self.pre_h {
            Some(pre_h) => {
                let (a, b) = pre_h.split_at(rows * 4 * h);
                (Some(a), Some(b))
            }
            None => (None, None),
        };
        let part = |pre_x, pre_h, c_prev| StepInputs {
            pre_x,
            pre_h,
            bias: self.bias,
            c_prev,
            hidden: h,
        };
        (part(x_a, h_a, c_a), part(x_b, h_b, c_b))
    }
}

impl<E> StepOutputs<'_, E> {
    fn reborrow(&mut self) -> StepOutputs<'_, E> {
        StepOutputs {
            h: &mut *self.h,
            c: &mut *self.c,
            kept: self
                .kept
                .as_mut()
                .map(|(fc, ig, g_pre)| (&mut **fc, &mut **ig, &mut **g_pre)),
        }
    }

    /// The first `at` elements of every output and the rest.
    fn split_at(self, at: usize) -> (Self, Self) {
        let (h_a, h_b) = self.h.split_at_mut(at);
        let (c_a, c_b) = self.c.split_at_mut(at);
        let (kept_a, kept_b) = match self.kept {
            Some((fc, ig, g_pre)) => {
                let (fc_a, fc_b) = fc.split_at_mut(at);
                let (ig_a, ig_b) = ig.split_at_mut(at);
                let (g_a, g_b) = g_pre.split_at_mut(at);
                (Some((fc_a, ig_a, g_a)), Some((fc_b, ig_b, g_b)))
            }
            None => (None, None),
        };
        (
            StepOutputs {
                h: h_a,
                c: c_a,
                kept: kept_a,
            },
            StepOutputs {
                h: h_b,
                c: c_b,
                kept: kept_b,
            },
        )
    }
}

/// Runs one relevance step into `(r_c_prev, q_g)`, writing every element of both.
pub(crate) fn relevance<E: Real>(
    isa: Isa,
    inputs: &RelevanceInputs<'_, E>,
    r_c_prev: Out<'_, E>,
    q_g: Out<'_, E>,
) {
    let n = r_c_prev.len();
    let lens = [
        inputs.r_h.len(),
        inputs.r_c.len(),
        inputs.fc.len(),
        inputs.ig.len(),
        inputs.c.len(),
        inputs.g_pre.len(),
        q_g.len(),
    ];
    assert!(
        lens.iter().all(|&l| l == n),
        "relevance step: slice lengths {lens:?} vs {n}"
    );
    relevance_blocks(isa, inputs, r_c_prev, q_g, thread_blocks(n, n.div_ceil(16)));
}

/// [`relevance`] over `blocks` blocks of elements (their boundaries from
/// [`super::block_boundary`]), halving recursively.
fn relevance_blocks<E: Real>(
    isa: Isa,
    inputs: &RelevanceInputs<'_, E>,
    r_c_prev: Out<'_, E>,
    q_g: Out<'_, E>,
    blocks: usize,
) {
    if blocks <= 1 {
        return relevance_isa(isa, inputs, r_c_prev, q_g);
    }
    let first = blocks / 2;
    let mid = super::block_boundary(r_c_prev.len(), blocks, first);
    let (inputs_a, inputs_b) = inputs.split_at(mid);
    let (r_a, r_b) = r_c_prev.split_at_mut(mid);
    let (q_a, q_b) = q_g.split_at_mut(mid);
    rayon::join(
        || relevance_blocks(isa, &inputs_a, r_a, q_a, first),
        || relevance_blocks(isa, &inputs_b, r_b, q_b, blocks - first),
    );
}

per_isa! {
    /// [`relevance_elements`] for `isa`.
    fn relevance_isa(
        inputs: &RelevanceInputs<'_, E>,
        r_c_prev: Out<'_, E>,
        q_g: Out<'_, E>,
    ) => relevance_elements
}

impl<'a, E: Copy> RelevanceInputs<'a, E> {
    /// The first `at` elements of every input and the rest.
    fn split_at(&self, at: usize) -> (RelevanceInputs<'a, E>, RelevanceInputs<'a, E>) {
        let split = |s: &'a [E]| s.split_at(at);
        let ((r_h_a, r_h_b), (r_c_a, r_c_b), (fc_a, fc_b)) =
            (split(self.r_h), split(self.r_c), split(self.fc));
        let ((ig_a, ig_b), (c_a, c_b), (g_a, g_b)) =
            (split(self.ig), split(self.c), split(self.g_pre));
        let part = |r_h, r_c, fc, ig, c, g_pre| RelevanceInputs {
            r_h,
            r_c,
            fc,
            ig,
            c,
            g_pre,
            eps: self.eps,
        };
        (
            part(r_h_a, r_c_a, fc_a, ig_a, c_a, g_a),
            part(r_h_b, r_c_b, fc_b, ig_b, c_b, g_b),
        )
    }
}

/// The shapes the glue promises; checked once per step, so that the loops need no bounds checks.
fn check_step<E>(inputs: &StepInputs<'_, E>, outputs: &StepOutputs<'_, E>) {
    let n = outputs.h.len();
    let h = inputs.hidden;
    assert!(
        h > 0 && n.is_multiple_of(h),
        "step: {n} outputs for hidden size {h}"
    );
    assert_eq!(inputs.pre_x.len(), 4 * n, "step: pre-activations");
    if let Some(pre_h) = inputs.pre_h {
        assert_eq!(pre_h.len(), 4 * n, "step: recurrent pre-activations");
    }
    assert_eq!(inputs.bias.len(), 4 * h, "step: bias");
    assert_eq!(inputs.c_prev.len(), n, "step: previous cell state");
    assert_eq!(outputs.c.len(), n, "step: cell state");
    if let Some((fc, ig, g_pre)) = &outputs.kept {
        assert!(
            fc.len() == n && ig.len() == n && g_pre.len() == n,
            "step: kept values"
        );
    }
}

#[inline(always)]
fn step_rows<E: Real, const FUSED: bool>(
    inputs: &StepInputs<'_, E>,
    outputs: &mut StepOutputs<'_, E>,
) {
    match inputs.pre_h {
        Some(pre_h) => step_rows_of::<E, FUSED, true>(inputs, pre_h, outputs),
        None => step_rows_of::<E, FUSED, false>(inputs, inputs.pre_x, outputs),
    }
}

/// The rows of a step; with `SUM` the pre-activations are `pre_h + (pre_x + bias)`, else
/// `pre_x + bias` (`pre_h` is then not read). Two instances, so that neither loop tests per
/// element.
#[inline(always)]
fn step_rows_of<E: Real, const FUSED: bool, const SUM: bool>(
    inputs: &StepInputs<'_, E>,
    pre_h: &[E],
    outputs: &mut StepOutputs<'_, E>,
) {
    let h = inputs.hidden;
    let rows = inputs
        .pre_x
        .chunks_exact(4 * h)
        .zip(pre_h.chunks_exact(4 * h))
        .zip(inputs.c_prev.chunks_exact(h));
    match &mut outputs.kept {
        Some((fc, ig, g_pre)) => {
            let outs = outputs
                .h
                .chunks_exact_mut(h)
                .zip(outputs.c.chunks_exact_mut(h))
                .zip(fc.chunks_exact_mut(h))
                .zip(ig.chunks_exact_mut(h))
                .zip(g_pre.chunks_exact_mut(h));
            for (((x, hp), c_prev), ((((h_out, c_out), fc), ig), g_pre)) in rows.zip(outs) {
                let pre = PreRow::<E, SUM>::new(x, hp, inputs.bias, h);
                step_row_kept::<E, FUSED, SUM>(&pre, c_prev, h_out, c_out, fc, ig, g_pre);
            }
        }
        None => {
            let outs = outputs
                .h
                .chunks_exact_mut(h)
                .zip(outputs.c.chunks_exact_mut(h));
            for (((x, hp), c_prev), (h_out, c_out)) in rows.zip(outs) {
                let pre = PreRow::<E, SUM>::new(x, hp, inputs.bias, h);
                step_row::<E, FUSED, SUM>(&pre, c_prev, h_out, c_out);
            }
        }
    }
}

/// One row's pre-activations: the four blocks `[−z_i, −z_f, −z_o, −2 z_g]` of `n` elements of
/// `pre_x`, the bias and, with `SUM`, `pre_h`, added as `pre_h + (pre_x + bias)` (the tensor
/// path's order, whose input projection adds the bias).
struct PreRow<'a, E, const SUM: bool> {
    x: [&'a [E]; 4],
    h: [&'a [E]; 4],
    bias: [&'a [E]; 4],
}

impl<'a, E: Real, const SUM: bool> PreRow<'a, E, SUM> {
    #[inline(always)]
    fn new(x: &'a [E], h: &'a [E], bias: &'a [E], n: usize) -> Self {
        PreRow {
            x: blocks(x, n),
            h: blocks(h, n),
            bias: blocks(bias, n),
        }
    }

    /// Element `j` of block `b`.
    #[inline(always)]
    fn at(&self, b: usize, j: usize) -> E {
        let x = self.x[b][j] + self.bias[b][j];
        if SUM { self.h[b][j] + x } else { x }
    }
}

/// The four `n`-element blocks of a `4n`-element row.
#[inline(always)]
fn blocks<E>(row: &[E], n: usize) -> [&[E]; 4] {
    let (zi, rest) = row.split_at(n);
    let (zf, rest) = rest.split_at(n);
    let (zo, zg) = rest.split_at(n);
    [zi, zf, zo, &zg[..n]]
}

/// `(i ⊙ g, f ⊙ c_{t−1}, c_t, h_t)` of one element.
#[inline(always)]
fn cell<E: Real, const FUSED: bool>(zi: E, zf: E, zo: E, zg: E, c_prev: E) -> (E, E, E, E) {
    // Each gate from its negated pre-activation (the internal layout).
    let gate = sigmoid_of_negated::<E, FUSED>;
    let (i, f, o, sg) = (gate(zi), gate(zf), gate(zo), gate(zg));
    let ig = (i * sg) * E::TWO - i;
    let fc = f * c_prev;
    let c = fc + ig;
    let tanh_c = tanh::<E, FUSED>(c);
    (ig, fc, c, tanh_c * o)
}

#[inline(always)]
fn step_row<E: Real, const FUSED: bool, const SUM: bool>(
    pre: &PreRow<'_, E, SUM>,
    c_prev: &[E],
    h_out: Out<'_, E>,
    c_out: Out<'_, E>,
) {
    let n = h_out.len();
    let (c_prev, c_out) = (&c_prev[..n], &mut c_out[..n]);
    for j in 0..n {
        let (_, _, c, h) = cell::<E, FUSED>(
            pre.at(0, j),
            pre.at(1, j),
            pre.at(2, j),
            pre.at(3, j),
            c_prev[j],
        );
        c_out[j].write(c);
        h_out[j].write(h);
    }
}

#[inline(always)]
fn step_row_kept<E: Real, const FUSED: bool, const SUM: bool>(
    pre: &PreRow<'_, E, SUM>,
    c_prev: &[E],
    h_out: Out<'_, E>,
    c_out: Out<'_, E>,
    fc_out: Out<'_, E>,
    ig_out: Out<'_, E>,
    g_pre_out: Out<'_, E>,
) {
    let n = h_out.len();
    let (c_prev, c_out) = (&c_prev[..n], &mut c_out[..n]);
    let (fc_out, ig_out, g_pre_out) = (&mut fc_out[..n], &mut ig_out[..n], &mut g_pre_out[..n]);
    for j in 0..n {
        let zg = pre.at(3, j);
        let (ig, fc, c, h) =
            cell::<E, FUSED>(pre.at(0, j), pre.at(1, j), pre.at(2, j), zg, c_prev[j]);
        c_out[j].write(c);
        h_out[j].write(h);
        fc_out[j].write(fc);
        ig_out[j].write(ig);
        // The candidate's columns hold −2 z_g: z_g = pre · (−½), exactly.
        g_pre_out[j].write(zg * E::NEG_HALF);
    }
}

#[inline(always)]
fn relevance_elements<E: Real, const FUSED: bool>(
    inputs: &RelevanceInputs<'_, E>,
    r_c_prev: Out<'_, E>,
    q_g: Out<'_, E>,
) {
    let n = r_c_prev.len();
    let eps = inputs.eps;
    let (r_h, r_c, fc, ig) = (
        &inputs.r_h[..n],
        &inputs.r_c[..n],
        &inputs.fc[..n],
        &inputs.ig[..n],
    );
    let (c, g_pre, q_g) = (&inputs.c[..n], &inputs.g_pre[..n], &mut q_g[..n]);
    for j in 0..n {
        let q_c = (r_c[j] + r_h[j]) / denominator(c[j], eps);
        r_c_prev[j].write(fc[j] * q_c);
        q_g[j].write((ig[j] * q_c) / denominator(g_pre[j], eps));
    }
}

#[cfg(test)]
mod tests {
    use std::mem::MaybeUninit;

    use super::*;

    /// An output buffer filled with NaN, so that an element a kernel leaves unwritten shows.
    fn unwritten(n: usize) -> Vec<MaybeUninit<f64>> {
        vec![MaybeUninit::new(f64::NAN); n]
    }

    fn written(buf: &[MaybeUninit<f64>]) -> Vec<f64> {
        // SAFETY: `unwritten` initialised every element.
        buf.iter().map(|v| unsafe { v.assume_init() }).collect()
    }

    /// The same step as the tensor path would compute it, with `std`'s `exp`.
    fn reference(pre: &[f64], c_prev: &[f64], h: usize) -> Vec<[f64; 5]> {
        let rows = c_prev.len() / h;
        let mut out = Vec::new();
        for b in 0..rows {
            for j in 0..h {
                let z = |k: usize| pre[b * 4 * h + k * h + j];
                let g = |x: f64| 1.0 / (x.exp() + 1.0);
                let (i, f, o, sg) = (g(z(0)), g(z(1)), g(z(2)), g(z(3)));
                let ig = (i * sg) * 2.0 - i;
                let fc = f * c_prev[b * h + j];
                let c = fc + ig;
                let t = (1.0 / ((c * -2.0).exp() + 1.0)) * 2.0 - 1.0;
                out.push([t * o, c, fc, ig, z(3) * -0.5]);
            }
        }
        out
    }

    fn inputs(rows: usize, h: usize) -> (Vec<f64>, Vec<f64>) {
        // Deterministic values over the gates' working range, saturation and a zero included.
        let pre = (0..rows * 4 * h)
            .map(|k| ((k * 7919 % 2003) as f64 / 2003.0 - 0.5) * 24.0)
            .collect();
        let c_prev = (0..rows * h)
            .map(|k| ((k * 104_729 % 997) as f64 / 997.0 - 0.5) * 6.0)
            .collect();
        (pre, c_prev)
    }

    #[test]
    fn every_instruction_set_computes_the_tensor_paths_step() {
        let (rows, h) = (3, 37);
        let (pre_x, c_prev) = inputs(rows, h);
        // The bias, added to every row: pre = pre_x + bias at the first step.
        let bias: Vec<f64> = (0..4 * h).map(|k| (k % 9) as f64 * 0.5 - 2.0).collect();
        let biased: Vec<f64> = pre_x
            .iter()
            .enumerate()
            .map(|(k, x)| x + bias[k % (4 * h)])
            .collect();
        // A recurrent half, for the steps after the first: pre = pre_h + (pre_x + bias).
        let pre_h: Vec<f64> = pre_x.iter().rev().map(|v| v * 0.3).collect();
        let sum: Vec<f64> = pre_h.iter().zip(&biased).map(|(a, b)| a + b).collect();
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
        for (recurrent, pre) in [(None, &biased), (Some(&pre_h[..]), &sum)] {
            let want = reference(pre, &c_prev, h);
            // The first result with and without fused multiply-adds.
            let mut first: [Option<Vec<f64>>; 2] = [None, None];
            for &isa in &isas {
                let n = rows * h;
                let mut bufs = vec![unwritten(n); 5];
                let [hh, c, fc, ig, gp] = &mut bufs[..] else {
                    unreachable!()
                };
                let mut outputs = StepOutputs {
                    h: hh,
                    c,
                    kept: Some((fc, ig, gp)),
                };
                let inputs = StepInputs {
                    pre_x: &pre_x,
                    pre_h: recurrent,
                    bias: &bias,
                    c_prev: &c_prev,
                    hidden: h,
                };
                step(isa, &inputs, &mut outputs);
                let bufs: Vec<Vec<f64>> = bufs.iter().map(|b| written(b)).collect();
                for (k, w) in want.iter().enumerate() {
                    for (m, &v) in w.iter().enumerate() {
                        let got = bufs[m][k];
                        assert!(
                            (got - v).abs() <= 4e-16 * v.abs().max(1.0),
                            "{isa:?} [{m}][{k}]: {got} vs {v}"
                        );
                    }
                }
                // Without `kept`, the same states.
                let (mut h2, mut c2) = (unwritten(n), unwritten(n));
                let mut outputs = StepOutputs {
                    h: &mut h2,
                    c: &mut c2,
                    kept: None,
                };
                step(isa, &inputs, &mut outputs);
                assert_eq!(written(&h2), bufs[0], "{isa:?}: h without kept values");
                assert_eq!(written(&c2), bufs[1], "{isa:?}: c without kept values");
                // Every instruction set with (without) fused multiply-adds gives the same bits.
                let flat: Vec<f64> = bufs.concat();
                match &first[usize::from(isa.fused())] {
                    None => first[usize::from(isa.fused())] = Some(flat),
                    Some(f) => assert!(f == &flat, "{isa:?}: other bits"),
                }
            }
        }
    }

    /// Deterministic `(r_h, r_c, fc, ig, c, g_pre)` of `n` elements each, in [−2, 2).
    fn relevance_values(n: usize) -> [Vec<f64>; 6] {
        [3, 5, 7, 11, 13, 17].map(|s| {
            (0..n)
                .map(|k| ((k * s % 97) as f64 / 97.0 - 0.5) * 4.0)
                .collect()
        })
    }

    fn relevance_inputs(v: &[Vec<f64>; 6], eps: f64) -> RelevanceInputs<'_, f64> {
        let [r_h, r_c, fc, ig, c, g_pre] = v;
        RelevanceInputs {
            r_h,
            r_c,
            fc,
            ig,
            c,
            g_pre,
            eps,
        }
    }

    #[test]
    fn the_relevance_step_is_the_tensor_paths_arithmetic() {
        let n = 41;
        let [r_h, r_c, fc, ig, mut c, g_pre] = relevance_values(n);
        c[0] = 0.0;
        c[1] = -0.0;
        let eps = 1e-3;
        let (mut r_c_out, mut q_g_out) = (unwritten(n), unwritten(n));
        let values = [r_h, r_c, fc, ig, c, g_pre];
        let inputs = relevance_inputs(&values, eps);
        let [r_h, r_c, fc, ig, c, g_pre] = &values;
        relevance(Isa::detect(), &inputs, &mut r_c_out, &mut q_g_out);
        let (r_c_prev, q_g) = (written(&r_c_out), written(&q_g_out));
        for j in 0..n {
            let den = |z: f64| if z < 0.0 { z - eps } else { z + eps };
            let q_c = (r_c[j] + r_h[j]) / den(c[j]);
            assert_eq!(r_c_prev[j], fc[j] * q_c);
            assert_eq!(q_g[j], (ig[j] * q_c) / den(g_pre[j]));
        }
        // sign(0) = sign(−0) = +1, as in both references.
        assert_eq!(r_c_prev[0], fc[0] * ((r_c[0] + r_h[0]) / eps));
        assert_eq!(r_c_prev[1], fc[1] * ((r_c[1] + r_h[1]) / eps));
    }

    #[test]
    fn steps_in_blocks_of_rows_give_the_bits_of_one_block() {
        // Rows of a size that splits unevenly; blocks given directly, so the test does not
        // depend on the machine's thread count.
        let (rows, h) = (37, 300);
        let n = rows * h;
        let (pre_x, c_prev) = inputs(rows, h);
        let pre_h: Vec<f64> = pre_x.iter().rev().map(|v| v * 0.3).collect();
        let bias: Vec<f64> = (0..4 * h).map(|k| (k % 7) as f64 * 0.25 - 0.75).collect();
        let isa = Isa::detect();
        for recurrent in [None, Some(&pre_h[..])] {
            let inputs = StepInputs {
                pre_x: &pre_x,
                pre_h: recurrent,
                bias: &bias,
                c_prev: &c_prev,
                hidden: h,
            };
            let run = |blocks: usize| {
                let mut bufs = vec![unwritten(n); 5];
                let [hh, c, fc, ig, gp] = &mut bufs[..] else {
                    unreachable!()
                };
                let outputs = StepOutputs {
                    h: hh,
                    c,
                    kept: Some((fc, ig, gp)),
                };
                step_blocks(isa, &inputs, outputs, blocks);
                bufs.iter().map(|b| written(b)).collect::<Vec<_>>()
            };
            let one = run(1);
            assert!(one.iter().flatten().all(|v| v.is_finite()));
            for blocks in [2, 3, 5] {
                assert_eq!(run(blocks), one, "{blocks} blocks");
            }
        }
        assert_eq!(thread_blocks(100, 10), 1);
        assert!(thread_blocks(1 << 30, 3) <= 3);
    }

    #[test]
    fn relevance_in_blocks_gives_the_bits_of_one_block() {
        let n = 10_007;
        let values = relevance_values(n);
        let inputs = relevance_inputs(&values, 1e-3);
        let run = |blocks: usize| {
            let (mut r, mut q) = (unwritten(n), unwritten(n));
            relevance_blocks(Isa::detect(), &inputs, &mut r, &mut q, blocks);
            (written(&r), written(&q))
        };
        let one = run(1);
        assert!(one.0.iter().chain(&one.1).all(|v| v.is_finite()));
        for blocks in [2, 3, 7] {
            assert_eq!(run(blocks), one, "{blocks} blocks");
        }
    }
}
