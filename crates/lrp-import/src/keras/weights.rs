//! Finding a layer's weight arrays in the two HDF5 layouts Keras writes.
//!
//! - **Legacy** (`model.save("m.h5")`, Keras 2 and 3; `save_weights("w.h5")` in Keras 2):
//!   `/model_weights/<layer name>/` (or the root for Keras 2 weight-only files) with an attribute
//!   `weight_names` listing dataset paths relative to that group, in Keras weight order. Large
//!   attributes are split by Keras into `weight_names0`, `weight_names1`, ….
//! - **Object tree** (Keras 3 `.weights.h5` and the `model.weights.h5` inside `.keras`):
//!   `/layers/<key>/vars/<i>`, LSTM weights under `cell/vars`, Bidirectional under
//!   `forward_layer/cell/vars` and `backward_layer/cell/vars`. `<key>` is the snake_case class
//!   name, suffixed `_1`, `_2`, … for later layers of the same class — not the layer's name.

use crate::HostArray;
use crate::error::{ImportError, Result};
use crate::formats::hdf5::Hdf5File as File;

/// One weight array with the name Keras gave it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Weight {
    /// Path of the array inside the file (for error messages).
    pub path: String,
    pub array: HostArray<f64>,
}

/// The two layouts.
pub(crate) enum Layout<'a> {
    /// `weight_names` lists under a base group (`/model_weights` or the root).
    Legacy { file: &'a File, base: String },
    /// Keras 3 object tree under `/layers`.
    Tree { file: &'a File },
}

fn read(file: &File, path: &str) -> Result<Weight> {
    Ok(Weight {
        path: path.to_string(),
        array: file.read_floats(path)?,
    })
}

/// A string-list attribute of group `path`, joined from Keras' `name0`, `name1`, … chunks when
/// split.
pub(crate) fn string_list(file: &File, path: &str, name: &str) -> Result<Option<Vec<String>>> {
    if let Some(v) = file.string_attribute(path, name)? {
        return Ok(Some(v));
    }
    let mut all = Vec::new();
    let mut chunk = 0;
    while let Some(v) = file.string_attribute(path, &format!("{name}{chunk}"))? {
        all.extend(v);
        chunk += 1;
    }
    Ok((chunk > 0).then_some(all))
}

impl Layout<'_> {
    /// The weights of a layer, in Keras weight order. `class` is the Keras class name and
    /// `occurrence` how many layers of that class came before it (for the object tree's keys).
    pub fn layer(&self, name: &str, class: &str, occurrence: usize) -> Result<Vec<Weight>> {
        match self {
            Layout::Legacy { file, base } => {
                let group_path = format!("{base}/{name}");
                if !file.has_group(&group_path)? {
                    return Err(ImportError::Format(format!(
                        "no weights for layer `{name}`: the file has no group `{group_path}`"
                    )));
                }
                let names = string_list(file, &group_path, "weight_names")?.ok_or_else(|| {
                    ImportError::Format(format!("`{group_path}` has no `weight_names` attribute"))
                })?;
                names
                    .iter()
                    .map(|w| read(file, &format!("{group_path}/{w}")))
                    .collect()
            }
            Layout::Tree { file } => {
                let key = tree_key(class, occurrence);
                let base = format!("/layers/{key}");
                if !file.has_group(&base)? {
                    return Err(ImportError::Format(format!(
                        "no weights for layer `{name}` ({class}): the file has no group `{base}`"
                    )));
                }
                let sub = match class {
                    "LSTM" | "GRU" => vec![format!("{base}/cell/vars")],
                    "TimeDistributed" => vec![format!("{base}/layer/vars")],
                    "Bidirectional" => vec![
                        format!("{base}/forward_layer/cell/vars"),
                        format!("{base}/backward_layer/cell/vars"),
                    ],
                    _ => vec![format!("{base}/vars")],
                };
                let mut weights = Vec::new();
                for vars in sub {
                    let count = file.members(&vars)?.len();
                    for i in 0..count {
                        weights.push(read(file, &format!("{vars}/{i}"))?);
                    }
                }
                Ok(weights)
            }
        }
    }
}

/// `LSTM` → `lstm`, `InputLayer` → `input_layer`; later layers of a class get `_1`, `_2`, ….
pub(crate) fn tree_key(class: &str, occurrence: usize) -> String {
    let mut snake = String::new();
    let chars: Vec<char> = class.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let prev_lower = i > 0 && chars[i - 1].is_ascii_lowercase();
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if i > 0 && (prev_lower || (next_lower && chars[i - 1].is_ascii_uppercase())) {
                snake.push('_');
            }
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    if occurrence == 0 {
        snake
    } else {
        format!("{snake}_{occurrence}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_keras_naming() {
        assert_eq!(tree_key("LSTM", 0), "lstm");
        assert_eq!(tree_key("Bidirectional", 0), "bidirectional");
        assert_eq!(tree_key("Dense", 1), "dense_1");
        assert_eq!(tree_key("InputLayer", 0), "input_layer");
        assert_eq!(tree_key("SpatialDropout1D", 0), "spatial_dropout1d");
    }
}
