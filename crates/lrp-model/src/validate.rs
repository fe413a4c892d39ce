//! Shape, length and finiteness checks shared by the layer validators.

use crate::error::{ModelError, Result};

pub(crate) fn check_shape(name: &str, actual: [usize; 2], expected: [usize; 2]) -> Result<()> {
    if actual != expected {
        return Err(ModelError::ParamShape {
            name: name.into(),
            expected: expected.to_vec(),
            actual: actual.to_vec(),
        });
    }
    Ok(())
}

pub(crate) fn check_len(name: &str, actual: usize, expected: usize) -> Result<()> {
    if actual != expected {
        return Err(ModelError::ParamShape {
            name: name.into(),
            expected: vec![expected],
            actual: vec![actual],
        });
    }
    Ok(())
}

pub(crate) fn check_finite(name: &str, data: &[f64]) -> Result<()> {
    match data.iter().position(|v| !v.is_finite()) {
        Some(index) => Err(ModelError::ParamNotFinite {
            name: name.into(),
            index,
            value: data[index],
        }),
        None => Ok(()),
    }
}
