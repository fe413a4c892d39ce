//! Fused step kernels: the element-wise work of a cell step as one pass over memory, for the
//! backends that can run it faster than a chain of tensor operations.
//!
//! The core is written once against burn's tensor API, and on the GPU backends burn fuses the
//! element-wise chains of a step itself. The CPU backends run every tensor operation as its own
//! pass with its own output buffer, and call the platform's scalar `exp` per element; at the
//! reference shape that element-wise work between the matrix products was ≈ 40 % of an
//! explanation's time (`benches/README.md` §7). A backend crate can implement [`StepKernels`]
//! for its own tensors and [`register_step_kernels`] once; every [`crate::LstmModel`] built on
//! a device the kernels support uses them (see [`crate::LstmModel::with_fused_kernels`]).
//!
//! Each kernel computes exactly what the tensor path next to its call site computes, in the same
//! order of floating-point operations; an implementation may differ only in the rounding of the
//! transcendental functions (its `exp`), which the backend crate tests against the platform's.
//! Kernels receive tensors of the model's device and dtype in any layout; a kernel hands back
//! what it cannot run (an autodiff tensor of the gradient baselines, say), and the step runs as
//! tensor operations.

use std::fmt;
use std::sync::RwLock;

use burn::tensor::{DType, Device, Tensor};

/// What [`StepKernels::lstm_step`] returns: the new states and, when asked, what the relevance
/// pass keeps. Every tensor is `(B, H)`.
#[derive(Debug, Clone)]
pub struct LstmStepOutputs {
    /// `h_t = o ⊙ tanh(c_t)`.
    pub h: Tensor<2>,
    /// `c_t = f ⊙ c_{t−1} + i ⊙ g`.
    pub c: Tensor<2>,
    /// `(f ⊙ c_{t−1}, i ⊙ g, z_g)` when the trace is kept, `z_g` being the cell candidate's true
    /// pre-activation.
    pub kept: Option<(Tensor<2>, Tensor<2>, Tensor<2>)>,
}

/// The inputs of one LSTM step: its pre-activations `(B, 4H)` in parts, in the model's
/// internal layout `[−z_i, −z_f, −z_o, −2 z_g]` (see `tensor_ops::lstm_gates`), and the previous
/// cell state `(B, H)`. The pre-activations are `pre_h + (pre_x + bias)`, summed per element in
/// that order (the order of the tensor path, whose input projection adds the bias).
#[derive(Debug, Clone)]
pub struct LstmStepInputs {
    /// The recurrent half `h_{t−1} W_h`; `None` at the first step, where `h_0 = 0`.
    pub pre_h: Option<Tensor<2>>,
    /// The input half `x_t W_x`, without the bias.
    pub pre_x: Tensor<2>,
    /// The bias `(1, 4H)`, added to every row of `pre_x`. The core passes it here so that the
    /// input projection need not copy it under every row of its product first.
    pub bias: Tensor<2>,
    /// `c_{t−1}`.
    pub c_prev: Tensor<2>,
}

/// The inputs of one LSTM relevance step under signal-take-all, all `(B, H)`.
#[derive(Debug, Clone)]
pub struct LstmRelevanceInputs {
    /// Relevance of `h_t`.
    pub r_h: Tensor<2>,
    /// Relevance of `c_t`.
    pub r_c: Tensor<2>,
    /// `f ⊙ c_{t−1}`, `i ⊙ g`, `c_t` and the candidate's pre-activation `z_g`, from the forward
    /// pass.
    pub fc: Tensor<2>,
    pub ig: Tensor<2>,
    pub c: Tensor<2>,
    pub g_pre: Tensor<2>,
}

/// The inputs of one GRU step (`reset_after`, logistic gates), gate blocks in the order z, r, n.
#[derive(Debug, Clone)]
pub struct GruStepInputs {
    /// The input half `x_t W_x` `(B, 3H)`, without its bias.
    pub gx: Tensor<2>,
    /// The recurrent half `h_{t−1} U` `(B, 3H)`, without its bias.
    pub gh: Tensor<2>,
    /// `b_x` `(1, 3H)`, added to every row of `gx` before anything else. The core passes the
    /// biases here so that the products need not copy them under every row of their outputs.
    pub b_x: Tensor<2>,
    /// `b_h` `(1, 3H)`, added to every row of `gh` before anything else.
    pub b_h: Tensor<2>,
    /// `h_{t−1}` `(B, H)`.
    pub h_prev: Tensor<2>,
}

/// What [`StepKernels::gru_step`] returns; every tensor is `(B, H)`.
#[derive(Debug, Clone)]
pub struct GruStepOutputs {
    /// `h_t = z ⊙ h_{t−1} + (1 − z) ⊙ n`.
    pub h: Tensor<2>,
    /// What the relevance pass keeps, when asked.
    pub kept: Option<GruKept>,
}

/// The values of a GRU step the relevance pass reads, each `(B, H)`.
#[derive(Debug, Clone)]
pub struct GruKept {
    /// `z ⊙ h_{t−1}`.
    pub keep: Tensor<2>,
    /// `(1 − z) ⊙ n`.
    pub update: Tensor<2>,
    /// The candidate's pre-activation `a_n = gx_n + r ⊙ m`.
    pub a_n: Tensor<2>,
    /// `r ⊙ m`.
    pub reset_product: Tensor<2>,
    /// `m = h_{t−1} U_n + b_hn`.
    pub m: Tensor<2>,
}

/// The inputs of one GRU relevance step (`reset_after`) under signal-take-all, all `(B, H)`,
/// from the forward pass but `r_h`.
#[derive(Debug, Clone)]
pub struct GruRelevanceInputs {
    /// Relevance of `h_t`.
    pub r_h: Tensor<2>,
    /// `h_t` before padding.
    pub h: Tensor<2>,
    pub keep: Tensor<2>,
    pub update: Tensor<2>,
    pub a_n: Tensor<2>,
    pub reset_product: Tensor<2>,
    pub m: Tensor<2>,
}

/// What [`StepKernels::gru_relevance_step`] returns, each `(B, H)`.
#[derive(Debug, Clone)]
pub struct GruRelevanceOutputs {
    /// `z ⊙ h_{t−1}`'s relevance, all of it `h_{t−1}`'s.
    pub r_keep: Tensor<2>,
    /// The candidate's quotient `q_n`, for the input relevance.
    pub q_n: Tensor<2>,
    /// `m`'s quotient `q_m`, for the recurrent relevance `(q_m U_nᵀ) ⊙ h_{t−1}`.
    pub q_m: Tensor<2>,
}

/// The inputs a kernel hands back because it does not run them, for the tensor path. Boxed: a
/// tensor handle is large, and the fallback is the rare case (autodiff tensors).
pub type Unfused<T> = Box<T>;

/// Fused element-wise kernels of the cells' steps, implemented by a backend crate for its own
/// tensors.
pub trait StepKernels: Send + Sync {
    /// A short name for diagnostics and benchmarks.
    fn name(&self) -> &'static str;

    /// Whether models on this backend explain large batches as shards in parallel rayon tasks
    /// (see `LstmModel::with_parallel_samples`): `true` for a CPU backend whose products and
    /// kernels run on rayon's pool. Asked once per model.
    fn parallel_samples(&self) -> bool {
        false
    }

    /// Whether the kernels run tensors of `dtype` on `device`; asked once per model.
    fn supports(&self, device: &Device, dtype: DType) -> bool;

    /// The element-wise tail of an LSTM step with logistic gates (see [`LstmStepInputs`]).
    /// Computes, per element, `pre = pre_h + (pre_x + bias)`, `σ = 1 / (exp(pre) + 1)` for all
    /// four blocks, `i ⊙ g = 2 (i ⊙ σ_g) − i`, `f ⊙ c_{t−1}`, `c_t`,
    /// `tanh(c_t) = 2 / (exp(−2 c_t) + 1) − 1` and `h_t = tanh(c_t) ⊙ o`; with `keep` also
    /// `z_g = pre_g · (−½)`. Summing the parts here, in the pass that reads them anyway, spares
    /// copying the input half into the recurrent product's output, and the bias into the input
    /// projection's, first. Returns the
    /// inputs back when it does not run them.
    fn lstm_step(
        &self,
        step: LstmStepInputs,
        keep: bool,
    ) -> Result<LstmStepOutputs, Unfused<LstmStepInputs>>;

    /// One LSTM relevance step under signal-take-all with the ε-rule at `eps > 0` and
    /// `bias_factor = 0`: `R = R_c + R_h`, `q_c = R / (c + eps · s(c))`, `R_{c,t−1} = fc ⊙ q_c`,
    /// and the candidate's quotient `q_g = (ig ⊙ q_c) / (z_g + eps · s(z_g))`, `s(z) = +1` for
    /// `z ≥ 0` and −1 otherwise. Returns `(R_{c,t−1}, q_g)`, each `(B, H)`, or the inputs back
    /// when it does not run them.
    fn lstm_relevance_step(
        &self,
        step: LstmRelevanceInputs,
        eps: f64,
    ) -> Result<(Tensor<2>, Tensor<2>), Unfused<LstmRelevanceInputs>>;

    /// The element-wise tail of a GRU step (`reset_after`, logistic gates; see
    /// [`GruStepInputs`]): per element, after adding the biases to the halves (`gx + b_x`,
    /// `gh + b_h`), `a = gx + gh` and `σ(a) = 1 / (exp(−a) + 1)` for `z` and
    /// `r`, `m = gh_n`, `r ⊙ m`, `a_n = gx_n + r ⊙ m`, `n = 2 / (exp(−2 a_n) + 1) − 1`,
    /// `z ⊙ h_{t−1}`, `(1 − z) ⊙ n` and their sum `h_t`; with `keep` also the values of
    /// [`GruKept`]. Returns the inputs back when it does not run them; a backend without a GRU
    /// kernel keeps this default.
    fn gru_step(
        &self,
        step: GruStepInputs,
        keep: bool,
    ) -> Result<GruStepOutputs, Unfused<GruStepInputs>> {
        let _ = keep;
        Err(Box::new(step))
    }

    /// One GRU relevance step (`reset_after`) under signal-take-all with the ε-rule at
    /// `eps > 0` and `bias_factor = 0`: `q_h = R_h / (h + eps · s(h))`, `R_keep = keep ⊙ q_h`,
    /// `q_n = (update ⊙ q_h) / (a_n + eps · s(a_n))` and
    /// `q_m = (reset_product ⊙ q_n) / (m + eps · s(m))` (`s` as in
    /// [`StepKernels::lstm_relevance_step`]). Returns the inputs back when it does not run
    /// them; a backend without a GRU kernel keeps this default.
    fn gru_relevance_step(
        &self,
        step: GruRelevanceInputs,
        eps: f64,
    ) -> Result<GruRelevanceOutputs, Unfused<GruRelevanceInputs>> {
        let _ = eps;
        Err(Box::new(step))
    }

    /// `a · b + c` with `a` `(m, k)`, `b` `(k, n)` and `c` `(m, n)` or `(1, n)` (one row, added
    /// to every row), as one product accumulated onto `c` (BLAS's `beta = 1`) instead of a
    /// product and an addition; only the rounding of the product's partial sums may differ.
    /// Returns `Err([a, b, c])` for inputs it does not run.
    fn matmul_add(
        &self,
        a: Tensor<2>,
        b: Tensor<2>,
        c: Tensor<2>,
    ) -> Result<Tensor<2>, Unfused<[Tensor<2>; 3]>>;

    /// `a · b`, `a` `(m, k)`, `b` `(k, n)`, where the backend's own product costs more than the
    /// multiplication (an output buffer filled before it is written, say). Returns
    /// `Err([a, b])` for inputs it does not run.
    fn matmul(&self, a: Tensor<2>, b: Tensor<2>) -> Result<Tensor<2>, Unfused<[Tensor<2>; 2]>>;
}

/// `a · b` (see [`StepKernels::matmul`]) by the kernels when they run it, else as a tensor
/// operation.
pub(crate) fn matmul(kernels: Option<Kernels>, a: Tensor<2>, b: Tensor<2>) -> Tensor<2> {
    let unfused = match kernels {
        Some(k) => k.0.matmul(a, b),
        None => Err(Box::new([a, b])),
    };
    unfused.unwrap_or_else(|inputs| {
        let [a, b] = *inputs;
        a.matmul(b)
    })
}

/// `a · b + c` (see [`StepKernels::matmul_add`]) by the kernels when they run it, else as
/// tensor operations.
pub(crate) fn matmul_add(
    kernels: Option<Kernels>,
    a: Tensor<2>,
    b: Tensor<2>,
    c: Tensor<2>,
) -> Tensor<2> {
    let unfused = match kernels {
        Some(k) => k.0.matmul_add(a, b, c),
        None => Err(Box::new([a, b, c])),
    };
    unfused.unwrap_or_else(|inputs| {
        let [a, b, c] = *inputs;
        a.matmul(b).add(c)
    })
}

/// A registered set of kernels; `Copy`, so that a model holds it without a lifetime.
#[derive(Clone, Copy)]
pub(crate) struct Kernels(pub &'static dyn StepKernels);

impl fmt::Debug for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

static REGISTRY: RwLock<Vec<&'static dyn StepKernels>> = RwLock::new(Vec::new());

/// Registers a backend's kernels for the models built after the call. Registering kernels of the
/// same [`StepKernels::name`] again does nothing, so a backend crate may call this from its
/// device constructor.
pub fn register_step_kernels(kernels: &'static dyn StepKernels) {
    // A poisoned lock only means a panic elsewhere while registering; the list stays valid.
    let mut registry = REGISTRY.write().unwrap_or_else(|e| e.into_inner());
    if !registry.iter().any(|k| k.name() == kernels.name()) {
        registry.push(kernels);
    }
}

/// The registered kernels that run `dtype` on `device`, if any.
pub(crate) fn for_device(device: &Device, dtype: DType) -> Option<Kernels> {
    let registry = REGISTRY.read().unwrap_or_else(|e| e.into_inner());
    registry
        .iter()
        .find(|k| k.supports(device, dtype))
        .map(|k| Kernels(*k))
}
