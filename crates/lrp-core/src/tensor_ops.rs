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
    t.try_into_vec_as::<f64>()
        .map_err(|e| LrpError::Device(format!("{e:?}")))
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

/// The logistic sigmoid `1 / (1 + exp(-x))`, computed in the tensor's own dtype.
pub(crate) fn sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.neg().exp().add_scalar(1.0).recip()
}

/// The LSTM gate nonlinearity.
pub(crate) fn gate_activation<const D: usize>(x: Tensor<D>, kind: GateActivation) -> Tensor<D> {
    match kind {
        GateActivation::Sigmoid => sigmoid(x),
        GateActivation::HardSigmoidKeras2 => x.mul_scalar(0.2).add_scalar(0.5).clamp(0.0, 1.0),
        GateActivation::HardSigmoidKeras3 => x.add_scalar(3.0).clamp(0.0, 6.0).div_scalar(6.0),
    }
}
