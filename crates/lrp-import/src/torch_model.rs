//! A PyTorch state dict (`nn.LSTM` + `nn.Linear`, optionally `nn.Embedding`) as a model.
//!
//! A state dict has no architecture, only named tensors. The importer finds the `nn.LSTM` by
//! its `weight_ih_l0` key, the `nn.Linear` head and the `nn.Embedding` by their shapes, and
//! refuses to guess: when several modules fit a role, or tensors are left over that might sit
//! between them (a LayerNorm, a second Linear), it asks the user to name the modules with
//! [`TorchModules`].
//!
//! Conventions (PyTorch's):
//! - `weight_ih_l{k}[_reverse]` `(4H, in)`, `weight_hh_l{k}[_reverse]` `(4H, H)` in gate order
//!   i, f, g, o — the same blocks as Keras' i, f, c, o — are transposed; `bias_ih` and `bias_hh`
//!   are summed. `proj_size > 0` (`weight_hr_l{k}`) is not supported.
//! - The head reads the last layer's final states: `cat(h_n[-2], h_n[-1])` for a bidirectional
//!   LSTM (forward, then backward after reading the whole sequence reversed), `h_n[-1]` for a
//!   unidirectional one. A model that reads `output[:, -1]` instead differs for the backward
//!   direction; the report states this assumption.
//! - `nn.Linear` weights `(out, in)` are transposed to `(in, out)`.

use std::collections::BTreeMap;

use lrp_model::{Activation, DenseLayer, InputLayer, LstmLayer, Matrix, MergeMode, ModelParams};

use crate::HostArray;
use crate::error::{ImportError, Result};
use crate::gates::{ForeignLstm, GateOrder, KernelLayout, to_canonical};
use crate::report::{ImportReport, ImportedModel, describe_layers};

/// The module names (state-dict prefixes) of a model, for when detection needs help.
///
/// Prefixes are given without the trailing dot, as the module attribute names: `lstm`,
/// `encoder.rnn`, `fc`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TorchModules {
    /// The `nn.LSTM`.
    pub lstm: Option<String>,
    /// The `nn.Linear` layers of the head, first to last, each with the activation after it
    /// (the last one's activation is not applied: the explained score is the logit).
    pub head: Vec<(String, Activation)>,
    /// The `nn.Embedding`, if the model reads token ids.
    pub embedding: Option<String>,
}

impl TorchModules {
    fn named(&self) -> bool {
        self.lstm.is_some() || !self.head.is_empty() || self.embedding.is_some()
    }
}

fn dotted(prefix: &str) -> String {
    if prefix.is_empty() {
        String::new()
    } else {
        format!("{prefix}.")
    }
}

struct Dict {
    tensors: BTreeMap<String, HostArray<f64>>,
    used: Vec<String>,
}

impl Dict {
    fn get(&mut self, key: &str) -> Option<&HostArray<f64>> {
        let t = self.tensors.get(key)?;
        self.used.push(key.to_string());
        Some(t)
    }
    fn require(&mut self, key: &str) -> Result<HostArray<f64>> {
        let present = self.tensors.keys().cloned().collect::<Vec<_>>().join(", ");
        self.get(key)
            .cloned()
            .ok_or_else(|| ImportError::MissingTensor {
                name: key.into(),
                present,
            })
    }
    fn matrix(&mut self, key: &str) -> Result<Matrix> {
        let t = self.require(key)?;
        match t.shape[..] {
            [r, c] => Ok(Matrix::new(r, c, t.data)?),
            _ => Err(ImportError::Rank {
                name: key.into(),
                shape: t.shape,
                expected: "2 dimensions",
            }),
        }
    }
    fn vector(&mut self, key: &str) -> Option<Result<Vec<f64>>> {
        let t = self.get(key)?.clone();
        Some(if t.shape.len() == 1 {
            Ok(t.data)
        } else {
            Err(ImportError::Rank {
                name: key.into(),
                shape: t.shape,
                expected: "1 dimension",
            })
        })
    }
    /// Prefixes `p` (with trailing dot, or empty) of keys `p + suffix`.
    fn prefixes_of(&self, suffix: &str) -> Vec<String> {
        self.tensors
            .keys()
            .filter_map(|k| k.strip_suffix(suffix).map(String::from))
            .collect()
    }
}

fn name_of(prefix: &str) -> String {
    prefix.trim_end_matches('.').to_string()
}

/// Builds the model from a state dict's tensors.
pub fn read_torch_state_dict(
    tensors: Vec<(String, HostArray<f64>)>,
    modules: &TorchModules,
    format: String,
) -> Result<ImportedModel> {
    let mut dict = Dict {
        tensors: tensors.into_iter().collect(),
        used: Vec::new(),
    };
    // The LSTM.
    let lstm_prefix = match &modules.lstm {
        Some(p) => dotted(p),
        None => match dict.prefixes_of("weight_ih_l0").as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(ImportError::Format(
                    "no nn.LSTM found: no tensor named `…weight_ih_l0` (is this an LSTM state dict?)"
                        .into(),
                ));
            }
            many => {
                return Err(ImportError::Format(format!(
                    "several nn.LSTM modules ({}); name the one to explain (--lstm)",
                    many.iter()
                        .map(|p| name_of(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        },
    };
    let mut layers = Vec::new();
    let mut bidirectional = false;
    let mut had_bias = false;
    for k in 0.. {
        let fw_key = format!("{lstm_prefix}weight_ih_l{k}");
        if !dict.tensors.contains_key(&fw_key) {
            break;
        }
        if dict
            .tensors
            .contains_key(&format!("{lstm_prefix}weight_hr_l{k}"))
        {
            return Err(ImportError::Unsupported(format!(
                "nn.LSTM `{}` has proj_size > 0 (weight_hr_l{k}): projected LSTMs are not supported",
                name_of(&lstm_prefix)
            )));
        }
        let mut direction = |dict: &mut Dict, suffix: &str| -> Result<_> {
            let biases: Vec<Vec<f64>> = [
                format!("{lstm_prefix}bias_ih_l{k}{suffix}"),
                format!("{lstm_prefix}bias_hh_l{k}{suffix}"),
            ]
            .iter()
            .filter_map(|key| dict.vector(key))
            .collect::<Result<_>>()?;
            had_bias |= !biases.is_empty();
            let foreign = ForeignLstm {
                order: GateOrder::PYTORCH,
                layout: KernelLayout::GatesByInputs,
                w_x: dict.matrix(&format!("{lstm_prefix}weight_ih_l{k}{suffix}"))?,
                w_h: dict.matrix(&format!("{lstm_prefix}weight_hh_l{k}{suffix}"))?,
                biases,
            };
            to_canonical(
                &foreign,
                &format!("{}[layer {k}{suffix}]", name_of(&lstm_prefix)),
            )
        };
        let forward = direction(&mut dict, "")?;
        let reverse_key = format!("{lstm_prefix}weight_ih_l{k}_reverse");
        let has_reverse = dict.tensors.contains_key(&reverse_key);
        let layer = if has_reverse {
            bidirectional = true;
            let backward = direction(&mut dict, "_reverse")?;
            LstmLayer::bidirectional(forward, backward, MergeMode::Concat)
        } else {
            LstmLayer::unidirectional(forward)
        };
        layers.push(layer);
    }
    if layers.is_empty() {
        return Err(ImportError::MissingTensor {
            name: format!("{lstm_prefix}weight_ih_l0"),
            present: dict.tensors.keys().cloned().collect::<Vec<_>>().join(", "),
        });
    }
    let feature_size = layers[0].input_size();
    let out_size = layers.last().expect("non-empty").output_size();

    // Candidate modules among the remaining 2-D `weight` tensors.
    let lstm_keys = |k: &str| !lstm_prefix.is_empty() && k.starts_with(&lstm_prefix);
    let candidates: Vec<(String, [usize; 2], bool)> = dict
        .tensors
        .iter()
        .filter(|(k, t)| k.ends_with("weight") && t.shape.len() == 2 && !lstm_keys(k))
        .map(|(k, t)| {
            let p = k
                .strip_suffix("weight")
                .expect("ends with weight")
                .to_string();
            let has_bias = dict.tensors.contains_key(&format!("{p}bias"));
            (p, [t.shape[0], t.shape[1]], has_bias)
        })
        .collect();

    // The head.
    let head_specs: Vec<(String, Activation)> = if modules.head.is_empty() {
        let fits: Vec<&(String, [usize; 2], bool)> = candidates
            .iter()
            .filter(|(_, s, _)| s[1] == out_size)
            .collect();
        match fits.as_slice() {
            [(p, _, _)] => vec![(p.clone(), Activation::Linear)],
            [] => {
                return Err(ImportError::Format(format!(
                    "no nn.Linear head reads the LSTM's {out_size} outputs; name the head's \
                     Linear layers (--head)"
                )));
            }
            many => {
                return Err(ImportError::Format(format!(
                    "several nn.Linear layers read the LSTM's {out_size} outputs ({}); name the \
                     head's layers in order (--head)",
                    many.iter()
                        .map(|(p, _, _)| name_of(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    } else {
        modules.head.iter().map(|(p, a)| (dotted(p), *a)).collect()
    };
    let mut head = Vec::new();
    for (prefix, activation) in &head_specs {
        let weight = dict.matrix(&format!("{prefix}weight"))?;
        let out = weight.rows();
        let b = match dict.vector(&format!("{prefix}bias")) {
            Some(b) => b?,
            None => vec![0.0; out],
        };
        head.push(DenseLayer {
            w: weight.transpose(),
            b,
            activation: *activation,
        });
    }

    // The embedding.
    let embedding_prefix = match &modules.embedding {
        Some(p) => Some(dotted(p)),
        None => {
            let fits: Vec<&(String, [usize; 2], bool)> = candidates
                .iter()
                .filter(|(p, s, has_bias)| {
                    !has_bias && s[1] == feature_size && !head_specs.iter().any(|(h, _)| h == p)
                })
                .collect();
            match fits.as_slice() {
                [] => None,
                [(p, _, _)] => Some(p.clone()),
                many => {
                    return Err(ImportError::Format(format!(
                        "several tensors could be the nn.Embedding ({}); name it (--embedding)",
                        many.iter()
                            .map(|(p, _, _)| name_of(p))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )));
                }
            }
        }
    };
    let input = match &embedding_prefix {
        Some(p) => InputLayer::Embedding {
            table: dict.matrix(&format!("{p}weight"))?,
            mask_zero: false,
        },
        None => InputLayer::Features {
            size: feature_size,
            mask_value: None,
        },
    };

    // Nothing may be left over unless the user named the modules: an unexplained tensor could
    // be a layer between them, and ignoring it would explain a different model.
    let leftover: Vec<String> = dict
        .tensors
        .keys()
        .filter(|k| !dict.used.contains(k))
        .cloned()
        .collect();
    let mut notes = vec![format!(
        "assumed: the head reads {} (the last layer's final hidden states)",
        if bidirectional {
            "cat(h_n[-2], h_n[-1])"
        } else {
            "h_n[-1]"
        }
    )];
    if !leftover.is_empty() {
        if modules.named() {
            notes.push(format!("tensors not used: {}", leftover.join(", ")));
        } else {
            return Err(ImportError::Unsupported(format!(
                "tensors that belong to no LSTM, Linear head or Embedding: {}; if they are not \
                 part of the path from input to logits, name the modules (--lstm, --head, \
                 --embedding) to proceed",
                leftover.join(", ")
            )));
        }
    }
    let params = ModelParams::new(input, layers, head)?;
    let mut conversions = vec![
        "LSTM kernels (4H, in) transposed to (in, 4H); gate order i, f, g, o = Keras i, f, c, o: \
         blocks kept"
            .to_string(),
    ];
    if had_bias {
        conversions.push("bias_ih + bias_hh summed into one bias".into());
    }
    conversions.push("Linear weights (out, in) transposed to (in, out)".into());
    Ok(ImportedModel {
        report: ImportReport {
            format,
            layers: describe_layers(&params),
            conversions,
            notes,
        },
        params,
    })
}
