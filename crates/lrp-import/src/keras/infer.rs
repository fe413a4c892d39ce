//! The architecture of a Keras 3 `.weights.h5` file without its configuration, when the layer
//! tree leaves no doubt.
//!
//! The tree names each layer's class (`/layers/lstm_1`, `/layers/bidirectional`, …) and its
//! weight shapes give the sizes, but not the order of the layers, the merge mode of a
//! bidirectional layer, activations or masking. The inference accepts a file only when exactly
//! one chain of recurrent layers fits the shapes, a concatenating merge is implied by the sizes,
//! there is a single Dense layer (its activation does not change the explained logit) and no
//! Embedding, Masking, pooling or TimeDistributed layer (whose settings the weights do not
//! record). LSTM and GRU cells are told apart by the recurrent kernel's width (4H or 3H), a GRU's
//! `reset_after` by its bias (`(2, 3H)` or `(3H)`); `go_backwards` is not recorded, so every
//! unidirectional layer is assumed to read forwards. It assumes Keras' default activations
//! (tanh, sigmoid) and says so in the report.

use lrp_model::{
    CellWeights, DenseLayer, GateActivation, GruWeights, InputLayer, LstmWeights, Matrix,
    MergeMode, ModelParams, RecurrentLayer,
};

use crate::HostArray;
use crate::error::{ImportError, Result};
use crate::formats::hdf5::Hdf5File as File;
use crate::report::{ImportReport, ImportedModel, describe_layers};

fn ambiguous(why: impl AsRef<str>) -> ImportError {
    ImportError::Format(format!(
        "this .weights.h5 file holds weights only and its architecture is ambiguous ({}); give \
         the model configuration too (the .keras file, or its config.json)",
        why.as_ref()
    ))
}

fn array(file: &File, path: &str) -> Result<HostArray<f64>> {
    Ok(file.read_floats(path)?)
}

fn count(file: &File, path: &str) -> Result<usize> {
    Ok(file.members(path)?.len())
}

fn direction(file: &File, vars: &str) -> Result<CellWeights> {
    let w_x = array(file, &format!("{vars}/0"))?;
    let w_h = array(file, &format!("{vars}/1"))?;
    let (e, cols) = match w_x.shape[..] {
        [e, g] => (e, g),
        _ => return Err(ImportError::Format(format!("`{vars}/0` is not a matrix"))),
    };
    let h = w_h.shape.first().copied().unwrap_or(0);
    let bias = if count(file, vars)? > 2 {
        Some(array(file, &format!("{vars}/2"))?)
    } else {
        None
    };
    let w_x = Matrix::new(e, cols, w_x.data)?;
    let w_h = Matrix::new(h, w_h.shape.get(1).copied().unwrap_or(0), w_h.data)?;
    if h > 0 && cols == 4 * h {
        return Ok(CellWeights::Lstm(LstmWeights {
            w_x,
            w_h,
            b: bias.map_or_else(|| vec![0.0; cols], |b| b.data),
        }));
    }
    if h > 0 && cols == 3 * h {
        let (b_x, b_h, reset_after) = match bias {
            Some(b) if b.shape == [2, cols] => {
                (b.data[..cols].to_vec(), b.data[cols..].to_vec(), true)
            }
            Some(b) if b.shape == [cols] => (b.data, vec![0.0; cols], false),
            Some(b) => {
                return Err(ImportError::Format(format!(
                    "`{vars}/2` has shape {:?}: not a GRU bias (2, 3H) or (3H)",
                    b.shape
                )));
            }
            None => {
                return Err(ambiguous(format!(
                    "`{vars}`: a GRU without bias, whose reset_after setting the weights do not show"
                )));
            }
        };
        return Ok(CellWeights::Gru(GruWeights {
            w_x,
            w_h,
            b_x,
            b_h,
            reset_after,
        }));
    }
    Err(ImportError::Format(format!(
        "`{vars}`: kernels of {cols} columns for {h} units are neither an LSTM's (4H) nor a GRU's (3H)"
    )))
}

struct Recurrent {
    key: String,
    forward: CellWeights,
    backward: Option<CellWeights>,
}

impl Recurrent {
    fn input(&self) -> usize {
        self.forward.input_size()
    }
    fn hidden(&self) -> usize {
        self.forward.hidden_size()
    }
    /// The output size if it feeds something of size `next`, or why it cannot.
    fn output_for(&self, next: usize) -> Option<usize> {
        match &self.backward {
            None => (self.hidden() == next).then_some(next),
            Some(_) if 2 * self.hidden() == next => Some(next),
            Some(_) => None,
        }
    }
}

/// Every order of `items` (small: a handful of layers).
fn permutations(n: usize) -> Vec<Vec<usize>> {
    if n == 0 {
        return vec![vec![]];
    }
    let mut out = Vec::new();
    for p in permutations(n - 1) {
        for pos in 0..=p.len() {
            let mut q = p.clone();
            q.insert(pos, n - 1);
            out.push(q);
        }
    }
    out
}

/// Infers the model of a Keras 3 weight tree (see the module documentation).
pub(crate) fn infer(file: &File, format: String) -> Result<ImportedModel> {
    let keys: Vec<String> = file.members("/layers")?;
    let base = |k: &str| -> String {
        match k.rsplit_once('_') {
            Some((b, n)) if n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty() => b.into(),
            _ => k.into(),
        }
    };
    let mut recurrent = Vec::new();
    let mut dense = Vec::new();
    for key in &keys {
        match base(key).as_str() {
            "lstm" | "gru" => recurrent.push(Recurrent {
                key: key.clone(),
                forward: direction(file, &format!("/layers/{key}/cell/vars"))?,
                backward: None,
            }),
            "bidirectional" => recurrent.push(Recurrent {
                key: key.clone(),
                forward: direction(file, &format!("/layers/{key}/forward_layer/cell/vars"))?,
                backward: Some(direction(
                    file,
                    &format!("/layers/{key}/backward_layer/cell/vars"),
                )?),
            }),
            "dense" => dense.push(key.clone()),
            "input_layer" | "dropout" | "spatial_dropout1d" | "gaussian_noise" => {}
            "embedding" | "masking" => {
                return Err(ambiguous(format!(
                    "`{key}`: its padding settings are not stored with the weights"
                )));
            }
            // Which activation, and which layer a batch norm follows, only the configuration
            // says.
            "activation" | "re_lu" | "softmax" | "batch_normalization" => {
                return Err(ambiguous(format!(
                    "`{key}`: the head's activations and the order of its layers are not stored \
                     with the weights"
                )));
            }
            "global_max_pooling1d" | "global_average_pooling1d" | "time_distributed" => {
                return Err(ambiguous(format!(
                    "`{key}`: the recurrent layers' return_sequences and go_backwards are not \
                     stored with the weights"
                )));
            }
            other => {
                return Err(ImportError::Unsupported(format!(
                    "layer `{key}` ({other}) is not supported"
                )));
            }
        }
    }
    if recurrent.is_empty() {
        return Err(ImportError::Format(
            "the file holds no recurrent (LSTM or GRU) layer".into(),
        ));
    }
    let [dense_key] = dense.as_slice() else {
        return Err(ambiguous(format!(
            "{} Dense layers: their order and activations are not stored",
            dense.len()
        )));
    };
    let kernel = array(file, &format!("/layers/{dense_key}/vars/0"))?;
    let [d, c] = kernel.shape[..] else {
        return Err(ImportError::Format(format!(
            "`{dense_key}` kernel is not a matrix"
        )));
    };
    let bias = if count(file, &format!("/layers/{dense_key}/vars"))? > 1 {
        array(file, &format!("/layers/{dense_key}/vars/1"))?.data
    } else {
        vec![0.0; c]
    };

    // Orders of the recurrent layers whose sizes chain up and end in the Dense layer.
    let fits = |order: &Vec<usize>| -> bool {
        order.windows(2).all(|w| {
            recurrent[w[0]]
                .output_for(recurrent[w[1]].input())
                .is_some()
        }) && recurrent[*order.last().expect("non-empty")]
            .output_for(d)
            .is_some()
    };
    let orders: Vec<Vec<usize>> = permutations(recurrent.len())
        .into_iter()
        .filter(fits)
        .collect();
    let order = match orders.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err(ambiguous(
                "no order of the recurrent layers fits their sizes with concatenating merges \
                 (a bidirectional layer may use merge mode sum or ave)",
            ));
        }
        _ => {
            return Err(ambiguous(
                "several orders of the recurrent layers fit their sizes",
            ));
        }
    };
    let mut taken: Vec<Option<Recurrent>> = recurrent.into_iter().map(Some).collect();
    let mut layers = Vec::new();
    let mut keys_in_order = Vec::new();
    for i in order {
        let r = taken[i].take().expect("each index once");
        keys_in_order.push(r.key.clone());
        layers.push(match r.backward {
            Some(bw) => RecurrentLayer::bidirectional(r.forward, bw, MergeMode::Concat),
            None => RecurrentLayer::unidirectional(r.forward),
        });
    }
    let e = layers[0].input_size();
    let params = ModelParams::new(
        InputLayer::Features {
            size: e,
            mask_value: None,
        },
        layers,
        vec![DenseLayer::linear(Matrix::new(d, c, kernel.data)?, bias)],
    )?;
    debug_assert!(
        params
            .recurrent()
            .iter()
            .all(|l| l.gate_activation == GateActivation::Sigmoid)
    );
    Ok(ImportedModel {
        report: ImportReport {
            format: format!("{format}, architecture inferred from the layer tree"),
            layers: describe_layers(&params),
            conversions: vec!["gate order i, f, c, o (Keras): kept as is".into()],
            notes: vec![
                format!(
                    "layer order inferred from weight shapes: {}",
                    keys_in_order.join(" → ")
                ),
                "assumed: Keras' default activations (tanh, sigmoid), concatenating \
                 bidirectional merges, no masking, no go_backwards; the Dense activation does not \
                 change the explained logit"
                    .into(),
            ],
            warnings: vec![],
        },
        params,
        format: None,
    })
}
