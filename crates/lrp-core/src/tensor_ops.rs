//! Small tensor helpers that keep every tensor in the model's own dtype.
//!
//! burn creates tensors in the device's *default* dtype unless told otherwise, and some backends'
//! built-in activations compute in f32 whatever the tensor's dtype (burn-ndarray's `sigmoid`).
//! Everything here takes the dtype explicitly or derives it from an existing tensor, so an f64
//! model never silently drops to f32 and f32 and f64 models can share one device.

use burn::tensor::{Bool, DType, Device, Int, Tensor, TensorData};

use crate::error::{LrpError, Result};
use crate::params::GateActivation;

/// A float tensor of the given shape from row-major `f64` values, stored as `dtype`.
pub(crate) fn from_f64<const D: usize>(
    values: Vec<f64>,
    shape: [usize; D],
    device: &Device,
    dtype: DType,
) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), (device, dtype))
}

/// Reads a float tensor back as `f64` values (row-major).
pub(crate) fn to_f64_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f64>> {
    let device = |e: &dyn std::fmt::Debug| LrpError::Device(format!("{e:?}"));
    let data = t.try_into_data().map_err(|e| device(&e))?;
    match data.dtype() {
        // f32 → f64 in one widening pass over the slice. burn's generic conversion took
        // ~2 ns a value (1 ms per batch of the benchmark's relevance, on the CLI's main
        // thread while the workers waited). Widening is exact either way.
        DType::F32 => Ok(data
            .as_slice::<f32>()
            .map_err(|e| device(&e))?
            .iter()
            .map(|&v| f64::from(v))
            .collect()),
        _ => data
            .try_cast_as::<f64>()
            .and_then(|d| d.try_into_vec::<f64>())
            .map_err(|e| device(&e)),
    }
}

/// Reads an int tensor back as `i64` values.
pub(crate) fn to_i64_vec<const D: usize>(t: Tensor<D, Int>) -> Result<Vec<i64>> {
    t.try_into_vec_as::<i64>()
        .map_err(|e| LrpError::Device(format!("{e:?}")))
}

/// Reads a bool tensor back.
pub(crate) fn to_bool_vec<const D: usize>(t: Tensor<D, Bool>) -> Result<Vec<bool>> {
    let data = t
        .try_into_data()
        .map_err(|e| LrpError::Device(format!("{e:?}")))?;
    Ok(data.iter::<bool>().collect())
}

/// The LSTM gates from the pre-activations in the model's internal layout.
///
/// The internal weights are scaled so that `pre = [−z_i, −z_f, −z_o, −2 z_g]` (see
/// [`crate::model`]): then one `exp` over all `4H` columns gives every gate, since
/// `σ(z) = 1 / (1 + e^{−z})` and `tanh(z) = 2 σ(2z) − 1`. Scaling by −1 and −2 is exact in
/// floating point, so `z_g = −pre_g / 2` is recovered bit for bit. Transcendental functions are
/// the CPU backends' most expensive element-wise operations; this halves their count.
///
/// `pre` is `(B, 4H)`; returns `(i, f, o, σ(2 z_g))`, each `(B, H)`; the caller forms
/// `tanh(z_g) = 2 σ(2 z_g) − 1` where it is used (see [`input_times_candidate`]).
pub(crate) fn lstm_gates(
    pre: Tensor<2>,
    h: usize,
    kind: GateActivation,
) -> (Tensor<2>, Tensor<2>, Tensor<2>, Tensor<2>) {
    let (ifo, sg) = match kind {
        GateActivation::Sigmoid => {
            let s = pre.exp().add_scalar(1.0).recip();
            (
                s.clone().slice_dim(1, 0..3 * h),
                s.slice_dim(1, 3 * h..4 * h),
            )
        }
        hard => {
            let ifo = pre.clone().slice_dim(1, 0..3 * h);
            let sg = pre.slice_dim(1, 3 * h..4 * h).exp().add_scalar(1.0).recip();
            let ifo = match hard {
                GateActivation::HardSigmoidKeras2 => ifo.mul_scalar(-0.2).add_scalar(0.5),
                _ => ifo.mul_scalar(-1.0 / 6.0).add_scalar(0.5),
            };
            (ifo.clamp(0.0, 1.0), sg)
        }
    };
    let i = ifo.clone().slice_dim(1, 0..h);
    let f = ifo.clone().slice_dim(1, h..2 * h);
    let o = ifo.slice_dim(1, 2 * h..3 * h);
    (i, f, o, sg)
}

/// A gate's value from its true pre-activation `a`, in `a`'s dtype: the logistic sigmoid
/// `1 / (1 + e^{−a})` or Keras' hard sigmoid (2: `clip(0.2 a + 0.5, 0, 1)`; 3:
/// `clip(a / 6 + 0.5, 0, 1)`).
pub(crate) fn gate_activation<const D: usize>(a: Tensor<D>, kind: GateActivation) -> Tensor<D> {
    match kind {
        GateActivation::Sigmoid => a.neg().exp().add_scalar(1.0).recip(),
        GateActivation::HardSigmoidKeras2 => a.mul_scalar(0.2).add_scalar(0.5).clamp(0.0, 1.0),
        GateActivation::HardSigmoidKeras3 => {
            a.mul_scalar(1.0 / 6.0).add_scalar(0.5).clamp(0.0, 1.0)
        }
    }
}

/// `i ⊙ g` with `g = tanh(z_g) = 2 σ(2 z_g) − 1`, as `2 (i ⊙ σ) − i`: binary operations on the
/// gates' strided views and in-place scalar ones, no scalar operation on a view.
pub(crate) fn input_times_candidate(i: Tensor<2>, sigmoid_2zg: Tensor<2>) -> Tensor<2> {
    i.clone().mul(sigmoid_2zg).mul_scalar(2.0).sub(i)
}

/// `tanh(x) = 2 / (1 + e^{−2x}) − 1`: one `exp` and cheap arithmetic, about twice as fast as the
/// backends' scalar `tanh` on CPUs, within a few ulps of it in absolute terms, and saturating
/// to ±1 without NaN for large `|x|`.
pub(crate) fn tanh<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.mul_scalar(-2.0)
        .exp()
        .add_scalar(1.0)
        .recip()
        .mul_scalar(2.0)
        .sub_scalar(1.0)
}
