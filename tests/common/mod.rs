//! Helpers shared by the framework-fixture tests (`import_frameworks`, `import_round2`): the
//! named tensors of a fixture's io file, and host copies of results.

// Each test binary uses its own part of these helpers.
#![allow(dead_code)]

use std::path::Path;

use lrp_import::HostArray;
use lrp_import::formats::safetensors::{float_array, holds_floats, int_array, parse};
use lstm_lrp::burn::tensor::Tensor;

/// The named tensors of an io (`<stem>.io.safetensors`) file.
pub struct Io {
    bytes: Vec<u8>,
}

impl Io {
    pub fn open(path: impl AsRef<Path>) -> Self {
        let path = path.as_ref();
        Io {
            bytes: std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
        }
    }
    /// A float tensor as f64.
    pub fn f(&self, name: &str) -> HostArray<f64> {
        float_array(&parse(&self.bytes).unwrap(), name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    /// An integer tensor as i64.
    pub fn i(&self, name: &str) -> HostArray<i64> {
        int_array(&parse(&self.bytes).unwrap(), name).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
    pub fn has(&self, name: &str) -> bool {
        parse(&self.bytes).unwrap().names().contains(&name)
    }
    /// Whether the tensor holds floats (not integers).
    pub fn holds_floats(&self, name: &str) -> bool {
        holds_floats(&parse(&self.bytes).unwrap(), name)
            .unwrap_or_else(|| panic!("no tensor {name}"))
    }
}

/// A tensor's values, row-major.
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data().iter::<f64>().collect()
}

/// Softmax of each row of `c` logits.
pub fn softmax_rows(logits: &[f64], c: usize) -> Vec<f64> {
    logits
        .chunks(c)
        .flat_map(|row| {
            let m = row.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let e: Vec<f64> = row.iter().map(|v| (v - m).exp()).collect();
            let s: f64 = e.iter().sum();
            e.into_iter().map(move |v| v / s)
        })
        .collect()
}
