//! The LSTM step kernels on plain slices: one pass over a step's rows, each element computed in
//! the order of floating-point operations of the tensor path in `lrp_core::cells::lstm` (see
//! [`lrp_core::kernels::StepKernels`]), with [`Real::exp`] for the platform's `exp`.
//!
//! The loops are written per element and compiled three times — for AVX-512, for AVX2 and for
//! the build's baseline — and [`Isa::detect`] picks one at run time, so that a default build
//! vectorises them on the CPU it runs on. The arithmetic is the same in all three (Rust never
//! contracts `a * b + c` into a fused multiply-add), so results do not depend on the CPU.

use super::real::Real;

/// The row-major `(B, 4H)` pre-activations and `(B, H)` previous cell state of a step.
pub(crate) struct StepInputs<'a, E> {
    pub pre: &'a [E],
    pub c_prev: &'a [E],
    pub hidden: usize,
}

/// The `(B, H)` outputs of a step; `kept` = `(f ⊙ c_{t−1}, i ⊙ g, z_g)` for the relevance pass.
pub(crate) struct StepOutputs<'a, E> {
    pub h: &'a mut [E],
    pub c: &'a mut [E],
    pub kept: Option<(&'a mut [E], &'a mut [E], &'a mut [E])>,
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

/// The instruction sets the kernels are compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Isa {
    #[cfg(target_arch = "x86_64")]
    Avx512,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    Baseline,
}

impl Isa {
    /// The widest the CPU supports.
    pub fn detect() -> Isa {
        #[cfg(target_arch = "x86_64")]
        {
            if std::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") {
                return Isa::Avx2;
            }
        }
        Isa::Baseline
    }
}

/// Runs one forward step.
pub(crate) fn step<E: Real>(
    isa: Isa,
    inputs: &StepInputs<'_, E>,
    outputs: &mut StepOutputs<'_, E>,
) {
    check_step(inputs, outputs);
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx512` is only constructed after detecting AVX-512F at run time.
        Isa::Avx512 => unsafe { step_avx512(inputs, outputs) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `Isa::Avx2` is only constructed after detecting AVX2 at run time.
        Isa::Avx2 => unsafe { step_avx2(inputs, outputs) },
        Isa::Baseline => step_rows(inputs, outputs),
    }
}

/// Runs one relevance step into `(r_c_prev, q_g)`.
pub(crate) fn relevance<E: Real>(
    isa: Isa,
    inputs: &RelevanceInputs<'_, E>,
    r_c_prev: &mut [E],
    q_g: &mut [E],
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
    match isa {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `step`.
        Isa::Avx512 => unsafe { relevance_avx512(inputs, r_c_prev, q_g) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: as in `step`.
        Isa::Avx2 => unsafe { relevance_avx2(inputs, r_c_prev, q_g) },
        Isa::Baseline => relevance_elements(inputs, r_c_prev, q_g),
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
    assert_eq!(inputs.pre.len(), 4 * n, "step: pre-activations");
    assert_eq!(inputs.c_prev.len(), n, "step: previous cell state");
    assert_eq!(outputs.c.len(), n, "step: cell state");
    if let Some((fc, ig, g_pre)) = &outputs.kept {
        assert!(
            fc.len() == n && ig.len() == n && g_pre.len() == n,
            "step: kept values"
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn step_avx512<E: Real>(inputs: &StepInputs<'_, E>, outputs: &mut StepOutputs<'_, E>) {
    step_rows(inputs, outputs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn step_avx2<E: Real>(inputs: &StepInputs<'_, E>, outputs: &mut StepOutputs<'_, E>) {
    step_rows(inputs, outputs)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
fn relevance_avx512<E: Real>(inputs: &RelevanceInputs<'_, E>, r_c_prev: &mut [E], q_g: &mut [E]) {
    relevance_elements(inputs, r_c_prev, q_g)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn relevance_avx2<E: Real>(inputs: &RelevanceInputs<'_, E>, r_c_prev: &mut [E], q_g: &mut [E]) {
    relevance_elements(inputs, r_c_prev, q_g)
}

#[inline(always)]
fn step_rows<E: Real>(inputs: &StepInputs<'_, E>, outputs: &mut StepOutputs<'_, E>) {
    let h = inputs.hidden;
    let rows = inputs
        .pre
        .chunks_exact(4 * h)
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
            for ((pre, c_prev), ((((h_out, c_out), fc), ig), g_pre)) in rows.zip(outs) {
                step_row_kept(pre, c_prev, h_out, c_out, fc, ig, g_pre);
            }
        }
        None => {
            let outs = outputs
                .h
                .chunks_exact_mut(h)
                .zip(outputs.c.chunks_exact_mut(h));
            for ((pre, c_prev), (h_out, c_out)) in rows.zip(outs) {
                step_row(pre, c_prev, h_out, c_out);
            }
        }
    }
}

/// `1 / (exp(x) + 1)`: a gate from its negated pre-activation, as the tensor path forms it.
#[inline(always)]
fn gate<E: Real>(neg_z: E) -> E {
    E::ONE / (neg_z.exp() + E::ONE)
}

/// `(i ⊙ g, f ⊙ c_{t−1}, c_t, h_t)` of one element.
#[inline(always)]
fn cell<E: Real>(zi: E, zf: E, zo: E, zg: E, c_prev: E) -> (E, E, E, E) {
    let (i, f, o, sg) = (gate(zi), gate(zf), gate(zo), gate(zg));
    let ig = (i * sg) * E::TWO - i;
    let fc = f * c_prev;
    let c = fc + ig;
    let tanh_c = (E::ONE / ((c * E::NEG_TWO).exp() + E::ONE)) * E::TWO - E::ONE;
    (ig, fc, c, tanh_c * o)
}

#[inline(always)]
fn step_row<E: Real>(pre: &[E], c_prev: &[E], h_out: &mut [E], c_out: &mut [E]) {
    let n = h_out.len();
    let (zi, rest) = pre.split_at(n);
    let (zf, rest) = rest.split_at(n);
    let (zo, zg) = rest.split_at(n);
    let (zg, c_prev, c_out) = (&zg[..n], &c_prev[..n], &mut c_out[..n]);
    for j in 0..n {
        let (_, _, c, h) = cell(zi[j], zf[j], zo[j], zg[j], c_prev[j]);
        c_out[j] = c;
        h_out[j] = h;
    }
}

#[inline(always)]
fn step_row_kept<E: Real>(
    pre: &[E],
    c_prev: &[E],
    h_out: &mut [E],
    c_out: &mut [E],
    fc_out: &mut [E],
    ig_out: &mut [E],
    g_pre_out: &mut [E],
) {
    let n = h_out.len();
    let (zi, rest) = pre.split_at(n);
    let (zf, rest) = rest.split_at(n);
    let (zo, zg) = rest.split_at(n);
    let (zg, c_prev, c_out) = (&zg[..n], &c_prev[..n], &mut c_out[..n]);
    let (fc_out, ig_out, g_pre_out) = (&mut fc_out[..n], &mut ig_out[..n], &mut g_pre_out[..n]);
    for j in 0..n {
        let (ig, fc, c, h) = cell(zi[j], zf[j], zo[j], zg[j], c_prev[j]);
        c_out[j] = c;
        h_out[j] = h;
        fc_out[j] = fc;
        ig_out[j] = ig;
        // The candidate's columns hold −2 z_g: z_g = pre · (−½), exactly.
        g_pre_out[j] = zg[j] * E::NEG_HALF;
    }
}

/// `z + eps · s(z)`, `s(z) = −1` for `z < 0` and `+1` otherwise (a NaN stays NaN).
#[inline(always)]
fn denominator<E: Real>(z: E, eps: E) -> E {
    if z < E::ZERO { z - eps } else { z + eps }
}

#[inline(always)]
fn relevance_elements<E: Real>(inputs: &RelevanceInputs<'_, E>, r_c_prev: &mut [E], q_g: &mut [E]) {
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
        r_c_prev[j] = fc[j] * q_c;
        q_g[j] = (ig[j] * q_c) / denominator(g_pre[j], eps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let (pre, c_prev) = inputs(rows, h);
        let want = reference(&pre, &c_prev, h);
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
        let mut first: Option<Vec<f64>> = None;
        for isa in isas {
            let n = rows * h;
            let mut bufs = vec![vec![0.0; n]; 5];
            let [hh, c, fc, ig, gp] = &mut bufs[..] else {
                unreachable!()
            };
            let mut outputs = StepOutputs {
                h: hh,
                c,
                kept: Some((fc, ig, gp)),
            };
            step(
                isa,
                &StepInputs {
                    pre: &pre,
                    c_prev: &c_prev,
                    hidden: h,
                },
                &mut outputs,
            );
            for (k, w) in want.iter().enumerate() {
                for (m, &v) in w.iter().enumerate() {
                    let got = bufs[m][k];
                    assert!(
                        (got - v).abs() <= 4e-16 * v.abs().max(1.0),
                        "{isa:?} [{m}][{k}]: {got} vs {v}"
                    );
                }
            }
            // Every instruction set gives the same bits.
            let flat: Vec<f64> = bufs.concat();
            match &first {
                None => first = Some(flat),
                Some(f) => assert_eq!(f, &flat, "{isa:?}"),
            }
        }
    }

    #[test]
    fn the_relevance_step_is_the_tensor_paths_arithmetic() {
        let n = 41;
        let v = |s: usize| -> Vec<f64> {
            (0..n)
                .map(|k| ((k * s % 97) as f64 / 97.0 - 0.5) * 4.0)
                .collect()
        };
        let (r_h, r_c, fc, ig, mut c, g_pre) = (v(3), v(5), v(7), v(11), v(13), v(17));
        c[0] = 0.0;
        c[1] = -0.0;
        let eps = 1e-3;
        let mut r_c_prev = vec![0.0; n];
        let mut q_g = vec![0.0; n];
        let inputs = RelevanceInputs {
            r_h: &r_h,
            r_c: &r_c,
            fc: &fc,
            ig: &ig,
            c: &c,
            g_pre: &g_pre,
            eps,
        };
        relevance(Isa::detect(), &inputs, &mut r_c_prev, &mut q_g);
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
}
