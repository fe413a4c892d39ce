//! The canonical safetensors layout: the reference implementations' weight list, by name.
//!
//! | tensor | shape | role |
//! |---|---|---|
//! | `w_x` | `(E, 4H)` | forward input kernel, gate order i, f, c, o |
//! | `w_h` | `(H, 4H)` | forward recurrent kernel |
//! | `b` | `(4H)` | forward bias |
//! | `w_x_bw`, `w_h_bw`, `b_bw` | as above | backward direction (absent: unidirectional) |
//! | `w_dense` | `(D, C)` | Dense kernel, D = 2H (bidirectional) or H |
//! | `b_dense` | `(C)` | Dense bias (absent: zeros) |
//!
//! Any float dtype is accepted and converted exactly to `f64`.

use lrp_model::{LstmWeights, Matrix, ModelParams};
use safetensors::SafeTensors;

use crate::HostArray;
use crate::error::{ImportError, Result};
use crate::formats::safetensors::{float_array, has, parse};

/// Reads a model in the canonical layout from safetensors bytes.
pub fn read_canonical(bytes: &[u8]) -> Result<ModelParams> {
    let st = parse(bytes)?;
    let forward = direction(&st, "")?;
    let backward = if has(&st, "w_x_bw") || has(&st, "w_h_bw") || has(&st, "b_bw") {
        Some(direction(&st, "_bw")?)
    } else {
        None
    };
    let w_dense = matrix(&st, "w_dense")?;
    let b_dense = if has(&st, "b_dense") {
        vector(&st, "b_dense")?
    } else {
        vec![0.0; w_dense.cols()]
    };
    Ok(ModelParams::single_layer(
        forward, backward, w_dense, b_dense,
    )?)
}

/// Whether safetensors bytes look like the canonical layout (they hold `w_x` or `w_dense`; a
/// file with only one of them is canonical and incomplete, and reading it names what is missing).
pub fn is_canonical(st: &SafeTensors<'_>) -> bool {
    has(st, "w_x") || has(st, "w_dense")
}

fn direction(st: &SafeTensors<'_>, suffix: &str) -> Result<LstmWeights> {
    Ok(LstmWeights {
        w_x: matrix(st, &format!("w_x{suffix}"))?,
        w_h: matrix(st, &format!("w_h{suffix}"))?,
        b: vector(st, &format!("b{suffix}"))?,
    })
}

pub(crate) fn matrix(st: &SafeTensors<'_>, name: &str) -> Result<Matrix> {
    let HostArray { shape, data } = float_array(st, name)?;
    match shape[..] {
        [rows, cols] => Ok(Matrix::new(rows, cols, data)?),
        _ => Err(ImportError::Rank {
            name: name.into(),
            shape,
            expected: "2 dimensions",
        }),
    }
}

pub(crate) fn vector(st: &SafeTensors<'_>, name: &str) -> Result<Vec<f64>> {
    let HostArray { shape, data } = float_array(st, name)?;
    if shape.len() != 1 {
        return Err(ImportError::Rank {
            name: name.into(),
            shape,
            expected: "1 dimension",
        });
    }
    Ok(data)
}
