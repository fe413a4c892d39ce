//! An independent oracle: LRP for one sequence in plain Rust `f64`, written straight from the
//! equations with explicit loops and the references' message form
//! `R_i = Σ_j (a_i w_ij + bias_factor (b_j + eps s_j) / N) / (z_j + eps s_j) · R_j` — no burn,
//! no quotient trick, no batching, no scaled gate layout. The burn implementation is checked
//! against it on random architectures.
//!
//! Conventions (the library's, stated once): LSTM gate order i, f, c, o; GRU gate order z, r, n
//! with `h_t = z h_{t-1} + (1 - z) n`; a bidirectional layer's backward direction reads the
//! sequence reversed and its output at time t is its state after reading `x[T-1] … x[t]`; a
//! `go_backwards` layer reads its input reversed and returns its outputs in that reading order;
//! merges concat/sum/ave; `N` is the number of inputs of each ε-rule: `D` for a Dense layer with
//! `D` inputs, `2H` for the LSTM cell-state split, the GRU state sum and sum/ave merges
//! (dense-identity convention), `E + H` for a gate's pre-activation (and for the GRU candidate,
//! whose inputs are `x` and the `H` reset products or `r ⊙ h`), `H` for the GRU's `h U_n + b_hn`,
//! `n` (real steps) for a mean readout; relevance on an output whose denominator is exactly 0
//! (`eps = 0` only) is reported in `rest`. Padding is handled by the caller passing only the real
//! steps (a padded step leaves the state unchanged, which is the same as skipping it); the
//! readouts then read the last of them, or pool over all of them.

use lrp_core::{
    Activation, CellWeights, GateActivation, GateRule, GruWeights, InputLayer, LstmWeights,
    MergeMode, ModelParams, Readout, RecurrentLayer,
};

/// The oracle's result for one sequence.
#[derive(Debug, Clone, PartialEq)]
pub struct OracleResult {
    /// Logits `(C)`.
    pub logits: Vec<f64>,
    /// The explained class.
    pub target: usize,
    /// Relevance of the first layer's input vectors, `(T, E)` row-major.
    pub relevance: Vec<f64>,
    /// Relevance left on the initial states of every layer and direction.
    pub rest: f64,
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn gate(x: f64, kind: GateActivation) -> f64 {
    match kind {
        GateActivation::Sigmoid => sigmoid(x),
        GateActivation::HardSigmoidKeras2 => (0.2 * x + 0.5).clamp(0.0, 1.0),
        GateActivation::HardSigmoidKeras3 => (x / 6.0 + 0.5).clamp(0.0, 1.0),
    }
}

/// The ε-rule for one linear map: inputs `a (D)`, weights `w[i][j]` given as a closure, bias
/// `b (M)`, outputs `z (M)`, relevance `r (M)`, `n` inputs per output for the bias share.
/// Relevance on an output with a zero denominator (possible only with `eps = 0`) is not passed
/// on but added to `absorbed` (the library reports it in `rest`).
#[allow(clippy::too_many_arguments)]
fn epsilon(
    a: &[f64],
    w: impl Fn(usize, usize) -> f64,
    b: &[f64],
    z: &[f64],
    r: &[f64],
    n: usize,
    eps: f64,
    bf: f64,
    absorbed: &mut f64,
) -> Vec<f64> {
    let mut out = vec![0.0; a.len()];
    for j in 0..z.len() {
        let s = if z[j] >= 0.0 { 1.0 } else { -1.0 };
        let den = z[j] + eps * s;
        if den == 0.0 {
            *absorbed += r[j];
            continue;
        }
        for (i, o) in out.iter_mut().enumerate() {
            let numer = a[i] * w(i, j) + bf * (b[j] + eps * s) / n as f64;
            *o += numer / den * r[j];
        }
    }
    out
}

/// One LSTM direction's forward record of a step.
struct Step {
    x: Vec<f64>,
    h_prev: Vec<f64>,
    c_prev: Vec<f64>,
    i: Vec<f64>,
    f: Vec<f64>,
    g: Vec<f64>,
    o: Vec<f64>,
    /// All four pre-activations, canonical order i, f, c, o.
    z: Vec<f64>,
    c: Vec<f64>,
    h: Vec<f64>,
}

fn run_direction(w: &LstmWeights, xs: &[Vec<f64>], act: GateActivation) -> Vec<Step> {
    let h_size = w.hidden_size();
    let e = w.input_size();
    let mut h = vec![0.0; h_size];
    let mut c = vec![0.0; h_size];
    let mut steps = Vec::new();
    for x in xs {
        let mut z = w.b.clone();
        for (j, zj) in z.iter_mut().enumerate() {
            for (k, xk) in x.iter().enumerate().take(e) {
                *zj += xk * w.w_x.get(k, j);
            }
            for (k, hk) in h.iter().enumerate() {
                *zj += hk * w.w_h.get(k, j);
            }
        }
        let i: Vec<f64> = (0..h_size).map(|u| gate(z[u], act)).collect();
        let f: Vec<f64> = (0..h_size).map(|u| gate(z[h_size + u], act)).collect();
        let g: Vec<f64> = (0..h_size).map(|u| z[2 * h_size + u].tanh()).collect();
        let o: Vec<f64> = (0..h_size).map(|u| gate(z[3 * h_size + u], act)).collect();
        let c_new: Vec<f64> = (0..h_size).map(|u| f[u] * c[u] + i[u] * g[u]).collect();
        let h_new: Vec<f64> = (0..h_size).map(|u| o[u] * c_new[u].tanh()).collect();
        steps.push(Step {
            x: x.clone(),
            h_prev: h.clone(),
            c_prev: c.clone(),
            i,
            f,
            g,
            o,
            z,
            c: c_new.clone(),
            h: h_new.clone(),
        });
        h = h_new;
        c = c_new;
    }
    steps
}

/// Splits the relevance `r` of a product `gate · signal` by a gate rule, written from the
/// definitions (Arras et al. 2019): returns (gate's share, signal's share). `prop`/`abs` are the
/// ε-rule of the two-input sum, `N = 2`; a zero denominator passes nothing (into `absorbed`).
fn split_product(
    rule: GateRule,
    gate: f64,
    signal: f64,
    r: f64,
    eps: f64,
    bf: f64,
    absorbed: &mut f64,
) -> (f64, f64) {
    let (a, b) = match rule {
        GateRule::All => return (0.0, r),
        GateRule::Half => return (r / 2.0, r / 2.0),
        GateRule::Prop => (gate, signal),
        GateRule::Abs => (gate.abs(), signal.abs()),
    };
    let z = a + b;
    let s = if z >= 0.0 { 1.0 } else { -1.0 };
    let den = z + eps * s;
    if den == 0.0 {
        *absorbed += r;
        return (0.0, 0.0);
    }
    (
        (a + bf * eps * s / 2.0) / den * r,
        (b + bf * eps * s / 2.0) / den * r,
    )
}

/// The backward pass through one direction. `r_out[s]` is the relevance arriving at the output
/// of reading step `s` from above (already including the head's share on the last step).
/// Returns the relevance of each step's input and the rest.
#[allow(clippy::too_many_arguments)]
fn relevance_direction(
    w: &LstmWeights,
    steps: &[Step],
    r_out: &[Vec<f64>],
    eps: f64,
    bf: f64,
    gate_rule: GateRule,
    absorbed: &mut f64,
) -> (Vec<Vec<f64>>, f64) {
    let h = w.hidden_size();
    let e = w.input_size();
    let mut r_h = vec![0.0; h];
    let mut r_c = vec![0.0; h];
    let mut r_x = vec![vec![0.0; e]; steps.len()];
    let zeros = vec![0.0; h];
    for s in (0..steps.len()).rev() {
        let st = &steps[s];
        // h_t = o ⊙ tanh(c_t): the output gate's share, and tanh(c_t) → c_t.
        let mut r_o = vec![0.0; h];
        for u in 0..h {
            r_h[u] += r_out[s][u];
            let (to_gate, to_signal) = split_product(
                gate_rule,
                st.o[u],
                st.c[u].tanh(),
                r_h[u],
                eps,
                bf,
                absorbed,
            );
            r_o[u] = to_gate;
            r_c[u] += to_signal;
        }
        // c_t = f ⊙ c_{t-1} + i ⊙ g: a dense identity map from the 2H products, N = 2H.
        let fc: Vec<f64> = (0..h).map(|u| st.f[u] * st.c_prev[u]).collect();
        let ig: Vec<f64> = (0..h).map(|u| st.i[u] * st.g[u]).collect();
        let id = |i: usize, j: usize| if i == j { 1.0 } else { 0.0 };
        // Both products share the outputs c (and below, x and h share each z): what a zero
        // denominator absorbs is counted by the first call only.
        let mut counted_already = 0.0;
        let r_fc = epsilon(&fc, id, &zeros, &st.c, &r_c, 2 * h, eps, bf, absorbed);
        let r_ig = epsilon(
            &ig,
            id,
            &zeros,
            &st.c,
            &r_c,
            2 * h,
            eps,
            bf,
            &mut counted_already,
        );
        let mut r_f = vec![0.0; h];
        let mut r_i = vec![0.0; h];
        let mut r_g = vec![0.0; h];
        let mut r_c_prev = vec![0.0; h];
        for u in 0..h {
            (r_f[u], r_c_prev[u]) =
                split_product(gate_rule, st.f[u], st.c_prev[u], r_fc[u], eps, bf, absorbed);
            (r_i[u], r_g[u]) =
                split_product(gate_rule, st.i[u], st.g[u], r_ig[u], eps, bf, absorbed);
        }
        // Each gate's pre-activation z_k = x W_xk + h W_hk + b_k (canonical blocks i, f, c, o):
        // the ε-rule onto x (E) and h_{t-1} (H), N = E + H.
        let mut rx = vec![0.0; e];
        let mut rh = vec![0.0; h];
        for (block, r_k) in [(0, &r_i), (1, &r_f), (2, &r_g), (3, &r_o)] {
            if gate_rule == GateRule::All && block != 2 {
                continue; // the gates receive nothing: skip the no-op rules
            }
            let cols = block * h..(block + 1) * h;
            let b_k = &w.b[cols.clone()];
            let z_k = &st.z[cols.clone()];
            let from_x = epsilon(
                &st.x,
                |i, j| w.w_x.get(i, block * h + j),
                b_k,
                z_k,
                r_k,
                e + h,
                eps,
                bf,
                absorbed,
            );
            let from_h = epsilon(
                &st.h_prev,
                |i, j| w.w_h.get(i, block * h + j),
                b_k,
                z_k,
                r_k,
                e + h,
                eps,
                bf,
                &mut counted_already,
            );
            rx.iter_mut().zip(from_x).for_each(|(a, v)| *a += v);
            rh.iter_mut().zip(from_h).for_each(|(a, v)| *a += v);
        }
        r_x[s] = rx;
        r_h = rh;
        r_c = r_c_prev;
    }
    let rest = r_h.iter().sum::<f64>() + r_c.iter().sum::<f64>();
    (r_x, rest)
}

/// One GRU direction's forward record of a step.
struct GruRecord {
    x: Vec<f64>,
    h_prev: Vec<f64>,
    z: Vec<f64>,
    r: Vec<f64>,
    n: Vec<f64>,
    /// Pre-activations `a_z`, `a_r` (H each) and `a_n`.
    a_z: Vec<f64>,
    a_r: Vec<f64>,
    a_n: Vec<f64>,
    /// `reset_after`: `m = h U_n + b_hn`; reset before: `u = r h` (the product's signal part is
    /// `h_prev` there).
    m: Vec<f64>,
    u: Vec<f64>,
    h: Vec<f64>,
}

fn run_gru(w: &GruWeights, xs: &[Vec<f64>], act: GateActivation) -> Vec<GruRecord> {
    let h_size = w.hidden_size();
    let e = w.input_size();
    let mut h = vec![0.0; h_size];
    let mut steps = Vec::new();
    for x in xs {
        let gx: Vec<f64> = (0..3 * h_size)
            .map(|j| w.b_x[j] + (0..e).map(|k| x[k] * w.w_x.get(k, j)).sum::<f64>())
            .collect();
        let gh: Vec<f64> = (0..3 * h_size)
            .map(|j| w.b_h[j] + (0..h_size).map(|k| h[k] * w.w_h.get(k, j)).sum::<f64>())
            .collect();
        let a_z: Vec<f64> = (0..h_size).map(|u| gx[u] + gh[u]).collect();
        let a_r: Vec<f64> = (0..h_size)
            .map(|u| gx[h_size + u] + gh[h_size + u])
            .collect();
        let z: Vec<f64> = a_z.iter().map(|&a| gate(a, act)).collect();
        let r: Vec<f64> = a_r.iter().map(|&a| gate(a, act)).collect();
        let (m, u, a_n): (Vec<f64>, Vec<f64>, Vec<f64>) = if w.reset_after {
            let m: Vec<f64> = (0..h_size).map(|j| gh[2 * h_size + j]).collect();
            let a_n = (0..h_size)
                .map(|j| gx[2 * h_size + j] + r[j] * m[j])
                .collect();
            (m, Vec::new(), a_n)
        } else {
            let u: Vec<f64> = (0..h_size).map(|k| r[k] * h[k]).collect();
            let a_n = (0..h_size)
                .map(|j| {
                    gx[2 * h_size + j]
                        + w.b_h[2 * h_size + j]
                        + (0..h_size)
                            .map(|k| u[k] * w.w_h.get(k, 2 * h_size + j))
                            .sum::<f64>()
                })
                .collect();
            (Vec::new(), u, a_n)
        };
        let n: Vec<f64> = a_n.iter().map(|a: &f64| a.tanh()).collect();
        let h_new: Vec<f64> = (0..h_size)
            .map(|j| z[j] * h[j] + (1.0 - z[j]) * n[j])
            .collect();
        steps.push(GruRecord {
            x: x.clone(),
            h_prev: h.clone(),
            z,
            r,
            n,
            a_z,
            a_r,
            a_n,
            m,
            u,
            h: h_new.clone(),
        });
        h = h_new;
    }
    steps
}

/// The backward pass through one GRU direction, written from the equations (see the module
/// documentation for `N`). `r_out[s]` is the relevance arriving at reading step `s`'s output.
#[allow(clippy::too_many_arguments)]
fn relevance_gru(
    w: &GruWeights,
    steps: &[GruRecord],
    r_out: &[Vec<f64>],
    eps: f64,
    bf: f64,
    gate_rule: GateRule,
    absorbed: &mut f64,
) -> (Vec<Vec<f64>>, f64) {
    let h = w.hidden_size();
    let e = w.input_size();
    let mut r_h = vec![0.0; h];
    let mut r_x = vec![vec![0.0; e]; steps.len()];
    let zeros = vec![0.0; h];
    let id = |i: usize, j: usize| if i == j { 1.0 } else { 0.0 };
    for s in (0..steps.len()).rev() {
        let st = &steps[s];
        for u in 0..h {
            r_h[u] += r_out[s][u];
        }
        // h_t = z h_{t-1} + (1 - z) n: a dense identity map from the 2H products, N = 2H.
        let keep: Vec<f64> = (0..h).map(|u| st.z[u] * st.h_prev[u]).collect();
        let update: Vec<f64> = (0..h).map(|u| (1.0 - st.z[u]) * st.n[u]).collect();
        let mut counted_already = 0.0;
        let r_keep = epsilon(&keep, id, &zeros, &st.h, &r_h, 2 * h, eps, bf, absorbed);
        let r_update = epsilon(
            &update,
            id,
            &zeros,
            &st.h,
            &r_h,
            2 * h,
            eps,
            bf,
            &mut counted_already,
        );
        let mut r_az = vec![0.0; h];
        let mut r_ar = vec![0.0; h];
        let mut r_n = vec![0.0; h];
        let mut r_prev = vec![0.0; h];
        for u in 0..h {
            let (to_z, to_h) = split_product(
                gate_rule,
                st.z[u],
                st.h_prev[u],
                r_keep[u],
                eps,
                bf,
                absorbed,
            );
            let (to_1mz, to_n) = split_product(
                gate_rule,
                1.0 - st.z[u],
                st.n[u],
                r_update[u],
                eps,
                bf,
                absorbed,
            );
            r_az[u] = to_z + to_1mz;
            r_prev[u] = to_h;
            r_n[u] = to_n;
        }
        // a_n: inputs x (E) and H products (r m, or u = r h), N = E + H.
        let b_n: Vec<f64> = if w.reset_after {
            w.b_x[2 * h..].to_vec()
        } else {
            (0..h)
                .map(|j| w.b_x[2 * h + j] + w.b_h[2 * h + j])
                .collect()
        };
        let products: Vec<f64> = if w.reset_after {
            (0..h).map(|u| st.r[u] * st.m[u]).collect()
        } else {
            st.u.clone()
        };
        let inputs: Vec<f64> = st.x.iter().chain(&products).copied().collect();
        let r_in = epsilon(
            &inputs,
            |i, j| {
                if i < e {
                    w.w_x.get(i, 2 * h + j)
                } else if w.reset_after {
                    id(i - e, j)
                } else {
                    w.w_h.get(i - e, 2 * h + j)
                }
            },
            &b_n,
            &st.a_n,
            &r_n,
            e + h,
            eps,
            bf,
            absorbed,
        );
        let mut rx = r_in[..e].to_vec();
        let mut r_m = vec![0.0; h];
        for u in 0..h {
            let r_product = r_in[e + u];
            if w.reset_after {
                // r ⊙ m, then m = h U_n + b_hn (N = H) below.
                let (to_r, to_m) =
                    split_product(gate_rule, st.r[u], st.m[u], r_product, eps, bf, absorbed);
                r_ar[u] = to_r;
                r_m[u] = to_m;
            } else {
                let (to_r, to_h) = split_product(
                    gate_rule,
                    st.r[u],
                    st.h_prev[u],
                    r_product,
                    eps,
                    bf,
                    absorbed,
                );
                r_ar[u] = to_r;
                r_prev[u] += to_h;
            }
        }
        if w.reset_after {
            let from_m = epsilon(
                &st.h_prev,
                |i, j| w.w_h.get(i, 2 * h + j),
                &w.b_h[2 * h..],
                &st.m,
                &r_m,
                h,
                eps,
                bf,
                absorbed,
            );
            r_prev.iter_mut().zip(from_m).for_each(|(a, v)| *a += v);
        }
        if gate_rule != GateRule::All {
            // a_z and a_r: N = E + H onto x and h_{t-1}.
            for (block, r_k, a_k) in [(0, &r_az, &st.a_z), (1, &r_ar, &st.a_r)] {
                let cols = block * h..(block + 1) * h;
                let b_k: Vec<f64> = cols.clone().map(|j| w.b_x[j] + w.b_h[j]).collect();
                let from_x = epsilon(
                    &st.x,
                    |i, j| w.w_x.get(i, block * h + j),
                    &b_k,
                    a_k,
                    r_k,
                    e + h,
                    eps,
                    bf,
                    absorbed,
                );
                let mut counted = 0.0;
                let from_h = epsilon(
                    &st.h_prev,
                    |i, j| w.w_h.get(i, block * h + j),
                    &b_k,
                    a_k,
                    r_k,
                    e + h,
                    eps,
                    bf,
                    &mut counted,
                );
                rx.iter_mut().zip(from_x).for_each(|(a, v)| *a += v);
                r_prev.iter_mut().zip(from_h).for_each(|(a, v)| *a += v);
            }
        }
        r_x[s] = rx;
        r_h = r_prev;
    }
    (r_x, r_h.iter().sum())
}

/// What the oracle's head reads from the last layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OracleReading {
    /// The final states.
    Final,
    /// The output at the last step.
    Last,
    /// The mean of the outputs.
    Mean,
    /// The per-feature maximum of the outputs (the first step wins a tie).
    Max,
    /// The output at this position.
    At(usize),
}

impl OracleReading {
    /// The reading of a model whose per-step head is read at `step`, or its own readout.
    pub fn of(params: &ModelParams, step: Option<lrp_core::Step>) -> Self {
        match (params.readout(), step) {
            (Readout::PerStep, Some(lrp_core::Step::At(k))) => OracleReading::At(k),
            (Readout::PerStep, _) | (Readout::Last, _) => OracleReading::Last,
            (Readout::Final, _) => OracleReading::Final,
            (Readout::Mean, _) => OracleReading::Mean,
            (Readout::Max, _) => OracleReading::Max,
        }
    }
}

/// One direction's record, by cell.
enum Record {
    Lstm(Vec<Step>),
    Gru(Vec<GruRecord>),
}

impl Record {
    fn run(w: &CellWeights, xs: &[Vec<f64>], act: GateActivation) -> Self {
        match w {
            CellWeights::Lstm(w) => Record::Lstm(run_direction(w, xs, act)),
            CellWeights::Gru(w) => Record::Gru(run_gru(w, xs, act)),
        }
    }

    fn h(&self, s: usize) -> &[f64] {
        match self {
            Record::Lstm(steps) => &steps[s].h,
            Record::Gru(steps) => &steps[s].h,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn relevance(
        &self,
        w: &CellWeights,
        r_out: &[Vec<f64>],
        eps: f64,
        bf: f64,
        gate_rule: GateRule,
        absorbed: &mut f64,
    ) -> (Vec<Vec<f64>>, f64) {
        match (self, w) {
            (Record::Lstm(steps), CellWeights::Lstm(w)) => {
                relevance_direction(w, steps, r_out, eps, bf, gate_rule, absorbed)
            }
            (Record::Gru(steps), CellWeights::Gru(w)) => {
                relevance_gru(w, steps, r_out, eps, bf, gate_rule, absorbed)
            }
            _ => unreachable!("a record of the direction's own cell"),
        }
    }
}

fn merge(layer: &RecurrentLayer, a: &[f64], b: Option<&[f64]>) -> Vec<f64> {
    match (b, layer.merge) {
        (None, _) => a.to_vec(),
        (Some(b), MergeMode::Concat) => a.iter().chain(b).copied().collect(),
        (Some(b), MergeMode::Sum) => a.iter().zip(b).map(|(x, y)| x + y).collect(),
        (Some(b), MergeMode::Ave) => a.iter().zip(b).map(|(x, y)| (x + y) / 2.0).collect(),
    }
}

/// Explains one sequence of real steps `xs` (each the first layer's input vector: features, or
/// embedding rows for token models) for `target` (or the predicted class).
pub fn explain(
    params: &ModelParams,
    xs: &[Vec<f64>],
    target: Option<usize>,
    eps: f64,
    bf: f64,
) -> OracleResult {
    explain_with(params, xs, target, eps, bf, GateRule::All)
}

/// [`explain`] under a gate rule.
pub fn explain_with(
    params: &ModelParams,
    xs: &[Vec<f64>],
    target: Option<usize>,
    eps: f64,
    bf: f64,
    gate_rule: GateRule,
) -> OracleResult {
    let reading = OracleReading::of(params, None);
    explain_reading(params, xs, reading, target, eps, bf, gate_rule)
}

/// [`explain_with`] with the head reading the last layer as `reading` says (a per-step
/// model's chosen step, or the model's own readout).
#[allow(clippy::too_many_arguments)]
pub fn explain_reading(
    params: &ModelParams,
    xs: &[Vec<f64>],
    reading: OracleReading,
    target: Option<usize>,
    eps: f64,
    bf: f64,
    gate_rule: GateRule,
) -> OracleResult {
    let t_len = xs.len();
    // Forward through the recurrent stack, each layer in its own frame.
    let mut records: Vec<(Record, Option<Record>)> = Vec::new();
    let mut seq = xs.to_vec();
    let mut final_out = Vec::new();
    let layers = params.recurrent();
    for layer in layers {
        if layer.go_backwards {
            seq.reverse();
        }
        let act = layer.gate_activation;
        let fw = Record::run(&layer.forward, &seq, act);
        let bw = layer.backward.as_ref().map(|w| {
            let reversed: Vec<Vec<f64>> = seq.iter().rev().cloned().collect();
            Record::run(w, &reversed, act)
        });
        // Output at frame position t: forward step t, backward step T-1-t.
        seq = (0..t_len)
            .map(|t| merge(layer, fw.h(t), bw.as_ref().map(|b| b.h(t_len - 1 - t))))
            .collect();
        final_out = merge(layer, fw.h(t_len - 1), bw.as_ref().map(|b| b.h(t_len - 1)));
        records.push((fw, bw));
    }
    let top_seq = seq;
    let width = top_seq[0].len();
    // What the head reads, and for Max the winning position of each feature.
    let mut winners = vec![0usize; width];
    let read: Vec<f64> = match reading {
        OracleReading::Final => final_out,
        OracleReading::Last => top_seq[t_len - 1].clone(),
        OracleReading::At(k) => top_seq[k].clone(),
        OracleReading::Mean => (0..width)
            .map(|j| top_seq.iter().map(|v| v[j]).sum::<f64>() / t_len as f64)
            .collect(),
        OracleReading::Max => (0..width)
            .map(|j| {
                for t in 0..t_len {
                    if top_seq[t][j] > top_seq[winners[j]][j] {
                        winners[j] = t;
                    }
                }
                top_seq[winners[j]][j]
            })
            .collect(),
    };
    // Head.
    let mut a = read.clone();
    let mut head_io = Vec::new();
    let last = params.head().len() - 1;
    for (k, d) in params.head().iter().enumerate() {
        let z: Vec<f64> = (0..d.w.cols())
            .map(|j| {
                d.b[j]
                    + a.iter()
                        .enumerate()
                        .map(|(i, ai)| ai * d.w.get(i, j))
                        .sum::<f64>()
            })
            .collect();
        head_io.push((a.clone(), z.clone()));
        a = if k == last {
            z
        } else {
            z.iter()
                .map(|&v| match d.activation {
                    Activation::Relu => v.max(0.0),
                    Activation::Tanh => v.tanh(),
                    _ => v,
                })
                .collect()
        };
    }
    let logits = a;
    let target = target.unwrap_or_else(|| {
        // First maximum, as argmax.
        let mut best = 0;
        for (c, v) in logits.iter().enumerate() {
            if *v > logits[best] {
                best = c;
            }
        }
        best
    });
    // Relevance through the head.
    let mut absorbed = 0.0;
    let mut r: Vec<f64> = (0..logits.len())
        .map(|c| if c == target { logits[c] } else { 0.0 })
        .collect();
    for (k, d) in params.head().iter().enumerate().rev() {
        let (a_in, z) = &head_io[k];
        r = epsilon(
            a_in,
            |i, j| d.w.get(i, j),
            &d.b,
            z,
            &r,
            d.w.rows(),
            eps,
            bf,
            &mut absorbed,
        );
    }
    // Through the readout, onto the top layer's output sequence (or its final state).
    let mut r_final = None;
    let mut r_seq: Vec<Vec<f64>> = vec![vec![0.0; width]; t_len];
    match reading {
        OracleReading::Final => r_final = Some(r),
        OracleReading::Last => r_seq[t_len - 1] = r,
        OracleReading::At(k) => r_seq[k] = r,
        OracleReading::Max => {
            for j in 0..width {
                r_seq[winners[j]][j] = r[j];
            }
        }
        OracleReading::Mean => {
            // read_j = Σ_t a_tj / T: each unit's T inputs, N = T, no bias.
            for j in 0..width {
                let s = if read[j] >= 0.0 { 1.0 } else { -1.0 };
                let den = read[j] + eps * s;
                if den == 0.0 {
                    absorbed += r[j];
                    continue;
                }
                for t in 0..t_len {
                    r_seq[t][j] =
                        (top_seq[t][j] / t_len as f64 + bf * eps * s / t_len as f64) / den * r[j];
                }
            }
        }
    }
    // Through the recurrent stack, top down; `r_seq[t]` is on the merged output at frame
    // position t.
    let mut rest = 0.0;
    for l in (0..layers.len()).rev() {
        let layer = &layers[l];
        let h = layer.hidden_size();
        let (fw, bw) = &records[l];
        // Split merged relevance into the directions (per time for sequences).
        let split = |r: &[f64],
                     a_fw: &[f64],
                     a_bw: Option<&[f64]>,
                     absorbed: &mut f64|
         -> (Vec<f64>, Vec<f64>) {
            match (a_bw, layer.merge) {
                (None, _) => (r.to_vec(), vec![0.0; h]),
                (Some(_), MergeMode::Concat) => (r[..h].to_vec(), r[h..].to_vec()),
                (Some(a_bw), mode) => {
                    let w = if mode == MergeMode::Ave { 0.5 } else { 1.0 };
                    let z: Vec<f64> = (0..h).map(|u| w * (a_fw[u] + a_bw[u])).collect();
                    let a: Vec<f64> = a_fw.iter().chain(a_bw).copied().collect();
                    let zeros = vec![0.0; h];
                    // A dense map from the 2H outputs to H units with weight w on (u, u) and
                    // (H + u, u), N = 2H.
                    let r_in = epsilon(
                        &a,
                        |i, j| if i % h == j { w } else { 0.0 },
                        &zeros,
                        &z,
                        r,
                        2 * h,
                        eps,
                        bf,
                        absorbed,
                    );
                    (r_in[..h].to_vec(), r_in[h..].to_vec())
                }
            }
        };
        let mut r_out_fw = vec![vec![0.0; h]; t_len];
        let mut r_out_bw = vec![vec![0.0; h]; t_len];
        if let Some(r) = r_final.take() {
            let (f, b) = split(
                &r,
                fw.h(t_len - 1),
                bw.as_ref().map(|b| b.h(t_len - 1)),
                &mut absorbed,
            );
            r_out_fw[t_len - 1] = f;
            r_out_bw[t_len - 1] = b;
        } else {
            for t in 0..t_len {
                let (f, b) = split(
                    &r_seq[t],
                    fw.h(t),
                    bw.as_ref().map(|b| b.h(t_len - 1 - t)),
                    &mut absorbed,
                );
                r_out_fw[t] = f;
                r_out_bw[t_len - 1 - t] = b;
            }
        }
        let (rx_fw, rest_fw) =
            fw.relevance(&layer.forward, &r_out_fw, eps, bf, gate_rule, &mut absorbed);
        let mut r_in = rx_fw;
        rest += rest_fw;
        if let (Some(w_bw), Some(bw)) = (&layer.backward, bw) {
            let (rx_bw, rest_bw) = bw.relevance(w_bw, &r_out_bw, eps, bf, gate_rule, &mut absorbed);
            rest += rest_bw;
            for t in 0..t_len {
                for (acc, v) in r_in[t].iter_mut().zip(&rx_bw[t_len - 1 - t]) {
                    *acc += v;
                }
            }
        }
        if layer.go_backwards {
            // Back into the order of the sequence this layer read.
            r_in.reverse();
        }
        r_seq = r_in;
    }
    OracleResult {
        logits,
        target,
        relevance: r_seq.into_iter().flatten().collect(),
        rest: rest + absorbed,
    }
}

/// The outputs of a per-step model at every position of one sequence of real steps, `(T, C)`.
pub fn forward_steps(params: &ModelParams, xs: &[Vec<f64>]) -> Vec<Vec<f64>> {
    (0..xs.len())
        .map(|k| {
            explain_reading(
                params,
                xs,
                OracleReading::At(k),
                Some(0),
                0.0,
                0.0,
                GateRule::All,
            )
            .logits
        })
        .collect()
}

/// The vectors a model's first recurrent layer reads for one sequence's real steps: the features
/// themselves, or the embedding rows of the token ids.
pub fn first_layer_inputs(
    params: &ModelParams,
    features: &[Vec<f64>],
    tokens: &[i64],
) -> Vec<Vec<f64>> {
    match params.input() {
        InputLayer::Features { .. } => features.to_vec(),
        InputLayer::Embedding { table, .. } => tokens
            .iter()
            .map(|&id| {
                let id = id as usize;
                table.data()[id * table.cols()..(id + 1) * table.cols()].to_vec()
            })
            .collect(),
    }
}
