//! Weight normalisation in a PyTorch state dict, folded into the plain weights it stands for.
//!
//! Weight normalisation (Salimans & Kingma, 2016, "Weight Normalization: A Simple
//! Reparameterization to Accelerate Training of Deep Neural Networks", arXiv:1602.07868) writes a
//! weight as `w = g · v / ‖v‖`. PyTorch saves the two factors instead of `w`:
//! `torch.nn.utils.parametrizations.weight_norm(module, name, dim)` as
//! `{module}.parametrizations.{name}.original0` (`g`) and `.original1` (`v`), the deprecated
//! `torch.nn.utils.weight_norm` as `{module}.{name}_g` and `{module}.{name}_v`. The norm runs over
//! every dimension of `v` but `dim`, which the file does not record: `g` has `v`'s size at `dim`
//! and 1 elsewhere (one element for `dim=None`), which is how it is read back. The folded weight
//! is the one the module multiplies by at inference, so the model is explained as it runs.
//!
//! Any other parametrization (spectral norm, in either API, orthogonal, a user's own) is refused
//! by name: its weight is not a function of the saved tensors alone, or not one this module
//! knows.

use std::collections::BTreeMap;

use crate::error::{ImportError, Result};
use crate::host_array::HostArray;

const PARAMETRIZATIONS: &str = "parametrizations.";

/// A state dict's tensors by name.
type Tensors = Vec<(String, HostArray<f64>)>;

/// The state dict with every weight-normalised weight folded into `{module}.{name}`, and the
/// names of the weights folded (for the import report).
///
/// # Errors
/// [`ImportError::Unsupported`] for a parametrization other than weight norm;
/// [`ImportError::Format`] when `g`'s shape does not fit `v`'s, or a direction `v` is zero (the
/// module's weight would be NaN).
pub(crate) fn fold_weight_norm(tensors: Tensors) -> Result<(Tensors, Vec<String>)> {
    let mut dict: BTreeMap<String, HostArray<f64>> = tensors.into_iter().collect();
    let mut pairs: Vec<(String, String, String)> = Vec::new(); // (weight, g key, v key)
    for key in dict.keys() {
        if let Some((module, rest)) = split_parametrization(key) {
            let Some(name) = rest.strip_suffix(".original0") else {
                if rest.ends_with(".original1") {
                    continue; // paired with its original0 below
                }
                let name = rest.split('.').next().unwrap_or(rest);
                return Err(ImportError::Unsupported(format!(
                    "`{key}`: a parametrization of `{module}{name}` other than weight norm \
                     (spectral_norm, orthogonal or a custom one); lstm-lrp reads plain weights \
                     and weight norm: save the state dict after \
                     torch.nn.utils.parametrize.remove_parametrizations(module, \"{name}\")"
                )));
            };
            let v = format!("{module}{PARAMETRIZATIONS}{name}.original1");
            if !dict.contains_key(&v) {
                return Err(ImportError::Format(format!(
                    "`{key}` (weight norm's magnitude) has no direction `{v}` beside it"
                )));
            }
            pairs.push((format!("{module}{name}"), key.clone(), v));
        } else if let Some(weight) = key.strip_suffix("_orig")
            && dict.contains_key(&format!("{weight}_u"))
            && dict.contains_key(&format!("{weight}_v"))
        {
            return Err(ImportError::Unsupported(format!(
                "`{key}`, `{weight}_u`, `{weight}_v`: spectral norm \
                 (torch.nn.utils.spectral_norm), whose weight depends on its power iteration; \
                 lstm-lrp reads plain weights and weight norm: save the state dict after \
                 torch.nn.utils.remove_spectral_norm(module)"
            )));
        } else if let Some(weight) = key.strip_suffix("_g") {
            // The deprecated API; only where both halves are present and the weight is not.
            let v = format!("{weight}_v");
            if dict.contains_key(&v) && !dict.contains_key(weight) {
                pairs.push((weight.to_string(), key.clone(), v));
            }
        }
    }
    let mut folded = Vec::with_capacity(pairs.len());
    for (weight, g_key, v_key) in pairs {
        let (Some(g), Some(v)) = (dict.remove(&g_key), dict.remove(&v_key)) else {
            continue; // unreachable: both keys were seen above
        };
        if dict.contains_key(&weight) {
            return Err(ImportError::Format(format!(
                "`{weight}` is in the state dict twice: as a tensor and weight-normalised \
                 (`{g_key}`, `{v_key}`)"
            )));
        }
        let w = fold(&g, &v).map_err(|why| {
            ImportError::Format(format!("weight norm `{g_key}` and `{v_key}`: {why}"))
        })?;
        dict.insert(weight.clone(), w);
        folded.push(weight);
    }
    Ok((dict.into_iter().collect(), folded))
}

/// `key` as (`{module}` with its trailing dot, what follows `parametrizations.`), if it is a
/// parametrization's tensor.
fn split_parametrization(key: &str) -> Option<(&str, &str)> {
    let at = if key.starts_with(PARAMETRIZATIONS) {
        0
    } else {
        key.find(&format!(".{PARAMETRIZATIONS}"))? + 1
    };
    Some((&key[..at], &key[at + PARAMETRIZATIONS.len()..]))
}

/// `g · v / ‖v‖`, the norm over every dimension of `v` but the one where `g` is not 1.
fn fold(g: &HostArray<f64>, v: &HostArray<f64>) -> std::result::Result<HostArray<f64>, String> {
    let shapes = || format!("g {:?}, v {:?}", g.shape, v.shape);
    // The dimension the norm leaves out, if any (`dim=None` norms over all of `v`).
    let dim = if g.data.len() == 1 {
        None
    } else {
        if g.shape.len() != v.shape.len() {
            return Err(format!("g's rank does not match v's ({})", shapes()));
        }
        let kept: Vec<usize> = (0..g.shape.len()).filter(|&d| g.shape[d] != 1).collect();
        match kept[..] {
            [d] if g.shape[d] == v.shape[d] => Some(d),
            _ => return Err(format!("g is not one of v's dimensions ({})", shapes())),
        }
    };
    // Row-major: the index along `dim` of flat position i is (i / stride) % size.
    let (size, stride) = match dim {
        Some(d) => (v.shape[d], v.shape[d + 1..].iter().product::<usize>()),
        None => (1, 1),
    };
    let along = |i: usize| (i / stride) % size;
    let mut squares = vec![0.0f64; size];
    for (i, x) in v.data.iter().enumerate() {
        squares[along(i)] += x * x;
    }
    if let Some(j) = squares.iter().position(|&s| s <= 0.0 || !s.is_finite()) {
        return Err(format!(
            "the direction's norm is {} at index {j} along the kept dimension, so the weight \
             is not finite",
            squares[j].sqrt()
        ));
    }
    let scale: Vec<f64> = squares
        .iter()
        .zip(&g.data)
        .map(|(s, g)| g / s.sqrt())
        .collect();
    Ok(HostArray {
        shape: v.shape.clone(),
        data: v
            .data
            .iter()
            .enumerate()
            .map(|(i, x)| x * scale[along(i)])
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(shape: &[usize], data: &[f64]) -> HostArray<f64> {
        HostArray {
            shape: shape.to_vec(),
            data: data.to_vec(),
        }
    }

    #[test]
    fn rows_columns_and_the_whole_tensor() {
        let v = t(&[2, 2], &[3.0, 4.0, 0.0, 2.0]);
        // dim=0: each row to its magnitude.
        let w = fold(&t(&[2, 1], &[10.0, 1.0]), &v).unwrap();
        assert_eq!(w.data, [6.0, 8.0, 0.0, 1.0]);
        // dim=1: each column (norms 3 and √20).
        let w = fold(&t(&[1, 2], &[3.0, 20f64.sqrt()]), &v).unwrap();
        assert_eq!(w.data, [3.0, 4.0, 0.0, 2.0]);
        // dim=None: the whole tensor (norm √29).
        let w = fold(&t(&[], &[29f64.sqrt()]), &v).unwrap();
        for (a, b) in w.data.iter().zip(&v.data) {
            assert!((a - b).abs() < 1e-15);
        }
        // Shapes that fit no dimension, and a zero direction.
        assert!(fold(&t(&[2], &[1.0, 1.0]), &v).is_err());
        assert!(fold(&t(&[2, 2], &[1.0; 4]), &v).is_err());
        let err = fold(&t(&[2, 1], &[1.0, 1.0]), &t(&[2, 2], &[1.0, 0.0, 0.0, 0.0])).unwrap_err();
        assert!(err.contains("index 1"), "{err}");
    }

    #[test]
    fn both_apis_are_folded_and_other_parametrizations_refused() {
        let dict = vec![
            (
                "fc.parametrizations.weight.original0".into(),
                t(&[1, 1], &[2.0]),
            ),
            (
                "fc.parametrizations.weight.original1".into(),
                t(&[1, 2], &[3.0, 4.0]),
            ),
            ("fc.bias".into(), t(&[1], &[0.5])),
            ("lstm.weight_hh_l0_g".into(), t(&[1, 1], &[5.0])),
            ("lstm.weight_hh_l0_v".into(), t(&[1, 1], &[-1.0])),
        ];
        let (dict, folded) = fold_weight_norm(dict).unwrap();
        assert_eq!(folded, ["fc.weight", "lstm.weight_hh_l0"]);
        let get = |k: &str| &dict.iter().find(|(n, _)| n == k).unwrap().1;
        let w = &get("fc.weight").data;
        assert!(
            (w[0] - 1.2).abs() < 1e-15 && (w[1] - 1.6).abs() < 1e-15,
            "{w:?}"
        );
        assert_eq!(get("lstm.weight_hh_l0").data, [-5.0]);
        assert_eq!(dict.len(), 3);

        let spectral = vec![(
            "fc.parametrizations.weight.original".into(),
            t(&[1], &[1.0]),
        )];
        let err = fold_weight_norm(spectral).unwrap_err().to_string();
        assert!(
            err.contains("parametrization of `fc.weight` other than weight norm"),
            "{err}"
        );
        let half = vec![("parametrizations.weight.original0".into(), t(&[1], &[1.0]))];
        assert!(fold_weight_norm(half).is_err());
        let spectral = vec![
            ("fc.weight_orig".into(), t(&[1, 1], &[1.0])),
            ("fc.weight_u".into(), t(&[1], &[1.0])),
            ("fc.weight_v".into(), t(&[1], &[1.0])),
        ];
        let err = fold_weight_norm(spectral).unwrap_err().to_string();
        assert!(err.contains("spectral norm"), "{err}");
        // `_g` without `_v` is an ordinary tensor.
        let plain = vec![("gate_g".into(), t(&[1], &[1.0]))];
        assert_eq!(fold_weight_norm(plain).unwrap().1, Vec::<String>::new());
    }
}
