//! From the layer chain and its weights to the canonical [`ModelParams`].

use std::collections::HashMap;

use lrp_model::{
    Activation, CellWeights, DenseLayer, GateActivation, GruWeights, InputLayer, LstmWeights,
    Matrix, MergeMode, ModelParams, Readout, RecurrentLayer,
};

use super::config::{CellSpec, LayerSpec, LstmSpec};
use super::weights::{Layout, Weight};
use crate::error::{ImportError, Result};
use crate::report::{ImportReport, ImportedModel, describe_layers};

/// The Keras major version, which decides what `hard_sigmoid` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KerasVersion {
    Two,
    Three,
    Unknown,
}

impl KerasVersion {
    pub fn from_version_string(v: &str) -> Self {
        match v.split('.').next() {
            Some("2") => KerasVersion::Two,
            Some("3") => KerasVersion::Three,
            _ => KerasVersion::Unknown,
        }
    }
}

fn matrix(w: &Weight, rows: usize, cols: usize) -> Result<Matrix> {
    if w.array.shape != [rows, cols] {
        return Err(ImportError::Format(format!(
            "`{}` has shape {:?}, expected [{rows}, {cols}]",
            w.path, w.array.shape
        )));
    }
    Ok(Matrix::new(rows, cols, w.array.data.clone())?)
}

fn vector(w: &Weight, len: usize) -> Result<Vec<f64>> {
    if w.array.shape != [len] {
        return Err(ImportError::Format(format!(
            "`{}` has shape {:?}, expected [{len}]",
            w.path, w.array.shape
        )));
    }
    Ok(w.array.data.clone())
}

/// One direction's weights from `weights[0..]`, by cell, and how many arrays it used.
fn cell_weights(spec: &LstmSpec, input: usize, weights: &[Weight]) -> Result<(CellWeights, usize)> {
    match spec.cell {
        CellSpec::Lstm => {
            lstm_weights(spec, input, weights).map(|(w, used)| (CellWeights::Lstm(w), used))
        }
        CellSpec::Gru { reset_after } => gru_weights(spec, reset_after, input, weights)
            .map(|(w, used)| (CellWeights::Gru(w), used)),
    }
}

/// One GRU direction: kernel `(E, 3H)`, recurrent kernel `(H, 3H)` and (with `use_bias`) a bias
/// `(2, 3H)` (`reset_after`: input and recurrent bias) or `(3H)`, in Keras gate order z, r, n —
/// the canonical order, so nothing is permuted.
fn gru_weights(
    spec: &LstmSpec,
    reset_after: bool,
    input: usize,
    weights: &[Weight],
) -> Result<(GruWeights, usize)> {
    let h = spec.units;
    let needed = if spec.use_bias { 3 } else { 2 };
    if weights.len() < needed {
        return Err(ImportError::Format(format!(
            "GRU `{}` needs {needed} weight arrays, found {}",
            spec.name,
            weights.len()
        )));
    }
    // `units` comes from the configuration: an absurd value must be an error, not an overflow.
    let gates = h.checked_mul(3).ok_or_else(|| {
        ImportError::Format(format!(
            "GRU `{}`: {h} units is too large (3 x units overflows)",
            spec.name
        ))
    })?;
    let w_x = matrix(&weights[0], input, gates)?;
    let w_h = matrix(&weights[1], h, gates)?;
    let (b_x, b_h) = match (spec.use_bias, reset_after) {
        // Bounded: `gates` has just been checked against the kernel's data.
        (false, _) => (vec![0.0; gates], vec![0.0; gates]),
        (true, true) => {
            let both = matrix(&weights[2], 2, gates)?.into_data();
            (both[..gates].to_vec(), both[gates..].to_vec())
        }
        (true, false) => (vector(&weights[2], gates)?, vec![0.0; gates]),
    };
    Ok((
        GruWeights {
            w_x,
            w_h,
            b_x,
            b_h,
            reset_after,
        },
        needed,
    ))
}

/// One LSTM direction's weights from `weights[0..]`: kernel, recurrent kernel and (with
/// `use_bias`) bias, in Keras gate order i, f, c, o — the canonical order, so nothing is
/// permuted.
fn lstm_weights(spec: &LstmSpec, input: usize, weights: &[Weight]) -> Result<(LstmWeights, usize)> {
    let h = spec.units;
    let needed = if spec.use_bias { 3 } else { 2 };
    if weights.len() < needed {
        return Err(ImportError::Format(format!(
            "LSTM `{}` needs {needed} weight arrays, found {}",
            spec.name,
            weights.len()
        )));
    }
    // `units` comes from the configuration: an absurd value must be an error, not an overflow.
    let gates = h.checked_mul(4).ok_or_else(|| {
        ImportError::Format(format!(
            "LSTM `{}`: {h} units is too large (4 x units overflows)",
            spec.name
        ))
    })?;
    let w_x = matrix(&weights[0], input, gates)?;
    let w_h = matrix(&weights[1], h, gates)?;
    let b = if spec.use_bias {
        vector(&weights[2], gates)?
    } else {
        // Bounded: `gates` has just been checked against the kernel's data.
        vec![0.0; gates]
    };
    Ok((LstmWeights { w_x, w_h, b }, needed))
}

fn gate_activation(spec: &LstmSpec, version: KerasVersion) -> Result<GateActivation> {
    match (spec.recurrent_activation.as_str(), version) {
        ("sigmoid", _) => Ok(GateActivation::Sigmoid),
        ("hard_sigmoid", KerasVersion::Two) => Ok(GateActivation::HardSigmoidKeras2),
        ("hard_sigmoid", KerasVersion::Three) => Ok(GateActivation::HardSigmoidKeras3),
        ("hard_sigmoid", KerasVersion::Unknown) => Err(ImportError::Unsupported(format!(
            "{} `{}` uses hard_sigmoid, whose definition differs between Keras 2 and 3, and the \
             file does not say which Keras wrote it",
            spec.cell.class(),
            spec.name
        ))),
        (other, _) => Err(ImportError::Unsupported(format!(
            "{} `{}`: recurrent activation `{other}`",
            spec.cell.class(),
            spec.name
        ))),
    }
}

/// Folds an inference-time `BatchNormalization` of the layer's outputs into the layer:
/// `γ (x·w + b − μ) / √(σ² + ε) + β` = `x·w' + b'` with `w'_{:,j} = w_{:,j} a_j`,
/// `b'_j = (b_j − μ_j) a_j + β_j`, `a_j = γ_j / √(σ²_j + ε)` — the function unchanged, and a
/// linear layer that the ε-rule explains as one (as the LRP canonizers merging batch norm into
/// the layer before it do). `weights` are Keras' `[γ], [β], μ, σ²` (γ with `scale`, β with
/// `center`).
fn fold_batch_norm(
    dense: &mut DenseLayer,
    name: &str,
    weights: &[Weight],
    epsilon: f64,
    (center, scale): (bool, bool),
) -> Result<()> {
    if dense.activation != Activation::Linear {
        return Err(ImportError::Unsupported(format!(
            "layer `{name}` (BatchNormalization) after a Dense layer's {:?} activation (only \
             between a Dense layer and its activation can it be folded)",
            dense.activation
        )));
    }
    let units = dense.b.len();
    let expected = 2 + usize::from(center) + usize::from(scale);
    if weights.len() != expected {
        return Err(ImportError::Format(format!(
            "BatchNormalization `{name}` has {} weight arrays, expected {expected} (center \
             {center}, scale {scale})",
            weights.len()
        )));
    }
    let mut arrays = weights.iter();
    let mut next = || vector(arrays.next().expect("counted above"), units);
    let gamma = if scale { next()? } else { vec![1.0; units] };
    let beta = if center { next()? } else { vec![0.0; units] };
    let (mean, variance) = (next()?, next()?);
    let mut factors = Vec::with_capacity(units);
    for j in 0..units {
        let a = gamma[j] / (variance[j] + epsilon).sqrt();
        if !a.is_finite() {
            return Err(ImportError::Format(format!(
                "BatchNormalization `{name}`: feature {j} has variance {} and epsilon {epsilon}, \
                 so its scale γ/√(σ²+ε) is not finite",
                variance[j]
            )));
        }
        factors.push(a);
    }
    let [rows, cols] = dense.w.shape();
    let mut w = std::mem::replace(&mut dense.w, Matrix::zeros(0, 0)).into_data();
    for row in w.chunks_exact_mut(cols) {
        for (x, a) in row.iter_mut().zip(&factors) {
            *x *= a;
        }
    }
    dense.w = Matrix::new(rows, cols, w)?;
    for (j, b) in dense.b.iter_mut().enumerate() {
        *b = (*b - mean[j]) * factors[j] + beta[j];
    }
    Ok(())
}

fn dense_activation(name: &str, class: &str, activation: &str) -> Result<Activation> {
    Ok(match activation {
        "linear" => Activation::Linear,
        "relu" => Activation::Relu,
        "tanh" => Activation::Tanh,
        "softmax" => Activation::Softmax,
        "sigmoid" => Activation::Sigmoid,
        other => {
            return Err(ImportError::Unsupported(format!(
                "layer `{name}` ({class}): activation `{other}` (linear, relu, tanh, and softmax \
                 or sigmoid on the last layer)"
            )));
        }
    })
}

/// Assembles the canonical model from the layer chain, reading each layer's weights from
/// `layout`.
pub(crate) fn build(
    specs: &[LayerSpec],
    layout: &Layout<'_>,
    version: KerasVersion,
    format: String,
) -> Result<ImportedModel> {
    let mut notes = Vec::new();
    let mut input: Option<InputLayer> = None;
    let mut features: Option<usize> = None;
    let mut mask_value: Option<f64> = None;
    let mut recurrent: Vec<(RecurrentLayer, bool)> = Vec::new();
    let mut head: Vec<DenseLayer> = Vec::new();
    let mut readout = Readout::Final;
    // The name of a GlobalMaxPooling1D, whose Keras layer ignores the mask (see the warning
    // after the loop).
    let mut max_pool: Option<&str> = None;
    let mut occurrences: HashMap<&'static str, usize> = HashMap::new();
    let mut next = |class: &'static str| {
        let n = occurrences.entry(class).or_insert(0);
        *n += 1;
        *n - 1
    };
    // Output size of the layer chain so far, and whether it is a sequence.
    let mut size: Option<usize> = None;
    let mut sequence = false;
    let recurrent_after_head = |name: &str, head: &[DenseLayer]| -> Result<()> {
        if head.is_empty() {
            Ok(())
        } else {
            Err(ImportError::Unsupported(format!(
                "recurrent layer `{name}` after a Dense layer"
            )))
        }
    };

    for spec in specs {
        match spec {
            LayerSpec::Input { features: f } => {
                features = *f;
                size = *f;
                sequence = true;
            }
            LayerSpec::Embedding {
                name,
                input_dim,
                output_dim,
                mask_zero,
            } => {
                if input.is_some() || !recurrent.is_empty() {
                    return Err(ImportError::Unsupported(format!(
                        "layer `{name}` (Embedding) must come first"
                    )));
                }
                let w = layout.layer(name, "Embedding", next("Embedding"))?;
                let table = matrix(
                    w.first().ok_or_else(|| {
                        ImportError::Format(format!("Embedding `{name}` has no weights"))
                    })?,
                    *input_dim,
                    *output_dim,
                )?;
                input = Some(InputLayer::Embedding {
                    table,
                    mask_zero: *mask_zero,
                });
                size = Some(*output_dim);
                sequence = true;
            }
            LayerSpec::Masking {
                name,
                mask_value: v,
            } => {
                if input.is_some() || !recurrent.is_empty() {
                    return Err(ImportError::Unsupported(format!(
                        "layer `{name}` (Masking) is only supported directly on the input features"
                    )));
                }
                mask_value = Some(*v);
            }
            LayerSpec::Lstm(s) => {
                recurrent_after_head(&s.name, &head)?;
                if !sequence && !recurrent.is_empty() {
                    return Err(ImportError::Unsupported(format!(
                        "{} `{}` reads a layer that does not return sequences",
                        s.cell.class(),
                        s.name
                    )));
                }
                let class = s.cell.class();
                let w = layout.layer(&s.name, class, next(class))?;
                let e = size
                    .or_else(|| kernel_rows(&w))
                    .ok_or_else(|| unknown_input(&s.name))?;
                let (forward, _) = cell_weights(s, e, &w)?;
                let mut layer = RecurrentLayer::unidirectional(forward);
                layer.gate_activation = gate_activation(s, version)?;
                layer.go_backwards = s.go_backwards;
                size = Some(layer.output_size());
                sequence = s.return_sequences;
                recurrent.push((layer, s.return_sequences));
            }
            LayerSpec::Bidirectional {
                name,
                merge_mode,
                forward,
                backward,
            } => {
                recurrent_after_head(name, &head)?;
                if forward.units != backward.units
                    || forward.cell != backward.cell
                    || forward.recurrent_activation != backward.recurrent_activation
                    || forward.return_sequences != backward.return_sequences
                {
                    return Err(ImportError::Unsupported(format!(
                        "Bidirectional `{name}`: forward and backward layers differ in cell, units, \
                         activation or return_sequences"
                    )));
                }
                let w = layout.layer(name, "Bidirectional", next("Bidirectional"))?;
                let e = size
                    .or_else(|| kernel_rows(&w))
                    .ok_or_else(|| unknown_input(name))?;
                let (fw, used) = cell_weights(forward, e, &w)?;
                let (bw, _) = cell_weights(backward, e, &w[used..])?;
                let merge = match merge_mode.as_str() {
                    "concat" => MergeMode::Concat,
                    "sum" => MergeMode::Sum,
                    _ => MergeMode::Ave,
                };
                let mut layer = RecurrentLayer::bidirectional(fw, bw, merge);
                layer.gate_activation = gate_activation(forward, version)?;
                size = Some(layer.output_size());
                sequence = forward.return_sequences;
                recurrent.push((layer, forward.return_sequences));
            }
            LayerSpec::Pooling { name, max } => {
                if recurrent.is_empty() || !sequence || !head.is_empty() {
                    return Err(ImportError::Unsupported(format!(
                        "pooling layer `{name}` must read the last recurrent layer's sequence \
                         (return_sequences=True), before any Dense layer"
                    )));
                }
                readout = if *max { Readout::Max } else { Readout::Mean };
                if *max {
                    max_pool = Some(name);
                }
                // (For a masked model, the difference to Keras' max is a warning, below.)
                notes.push(if *max {
                    format!("`{name}` (GlobalMaxPooling1D): the max over real steps")
                } else {
                    format!(
                        "`{name}` (GlobalAveragePooling1D): the mean over real steps, as Keras'"
                    )
                });
                sequence = false;
            }
            LayerSpec::Dense {
                name,
                units,
                activation,
                use_bias,
                time_distributed,
            } => {
                if recurrent.is_empty() {
                    return Err(ImportError::Unsupported(format!(
                        "Dense `{name}` before the first recurrent layer (per-step Dense layers \
                         on the input are not supported)"
                    )));
                }
                if *time_distributed && !sequence {
                    return Err(ImportError::Unsupported(format!(
                        "TimeDistributed `{name}` reads a layer that does not return sequences"
                    )));
                }
                if sequence {
                    // Dense (or TimeDistributed(Dense)) on the last recurrent layer's sequence:
                    // one output per step.
                    readout = Readout::PerStep;
                }
                let d = size.ok_or_else(|| unknown_input(name))?;
                let class = if *time_distributed {
                    "TimeDistributed"
                } else {
                    "Dense"
                };
                let w = layout.layer(name, class, next(class))?;
                let kernel = w
                    .first()
                    .ok_or_else(|| ImportError::Format(format!("Dense `{name}` has no kernel")))?;
                // The kernel's shape first: it bounds `units` (from the configuration) by data
                // that exists before the zero bias of that length is allocated.
                let kernel = matrix(kernel, d, *units)?;
                let b = if *use_bias {
                    vector(
                        w.get(1).ok_or_else(|| {
                            ImportError::Format(format!("Dense `{name}` has no bias"))
                        })?,
                        *units,
                    )?
                } else {
                    vec![0.0; *units]
                };
                head.push(DenseLayer {
                    w: kernel,
                    b,
                    activation: dense_activation(name, "Dense", activation)?,
                });
                size = Some(*units);
            }
            LayerSpec::Activation {
                name,
                class,
                activation,
            } => {
                if activation == "linear" {
                    notes.push(format!("`{name}` ({class}) skipped: linear, the identity"));
                    continue;
                }
                // An activation layer is the activation of the Dense layer before it, which
                // must not have one of its own (the rules know one per layer).
                let Some(dense) = head.last_mut() else {
                    return Err(ImportError::Unsupported(format!(
                        "layer `{name}` ({class}): `{activation}` is only supported after a \
                         Dense layer"
                    )));
                };
                if dense.activation != Activation::Linear {
                    return Err(ImportError::Unsupported(format!(
                        "layer `{name}` ({class}): `{activation}` after a Dense layer that has \
                         its own activation ({:?})",
                        dense.activation
                    )));
                }
                dense.activation = dense_activation(name, class, activation)?;
                notes.push(format!(
                    "`{name}` ({class}) `{activation}`: the activation of the Dense layer before it"
                ));
            }
            LayerSpec::BatchNorm {
                name,
                epsilon,
                center,
                scale,
            } => {
                let w = layout.layer(name, "BatchNormalization", next("BatchNormalization"))?;
                let dense = head.last_mut().ok_or_else(|| {
                    ImportError::Unsupported(format!(
                        "layer `{name}` (BatchNormalization): only supported after a Dense layer \
                         (it is folded into that layer)"
                    ))
                })?;
                fold_batch_norm(dense, name, &w, *epsilon, (*center, *scale))?;
                notes.push(format!(
                    "`{name}` (BatchNormalization) folded into the Dense layer before it: \
                     w·γ/√(σ²+ε), (b − μ)·γ/√(σ²+ε) + β"
                ));
            }
            LayerSpec::Flatten { name } => {
                if recurrent.is_empty() || sequence {
                    return Err(ImportError::Unsupported(format!(
                        "layer `{name}` (Flatten): it flattens a sequence (batch, steps, \
                         features) into one vector, so the Dense layer after it weighs every \
                         step separately, a readout lstm-lrp does not explain; it explains the \
                         last state (return_sequences=False), a pooling layer \
                         (GlobalMaxPooling1D, GlobalAveragePooling1D) or a per-step head"
                    )));
                }
                notes.push(format!(
                    "`{name}` (Flatten) skipped: its input is already (batch, features), the \
                     identity"
                ));
            }
            LayerSpec::Skipped { name, class } => {
                let why = if class == "NotEqual" || class == "Any" {
                    "a mask computation (of Embedding(mask_zero) or Masking)"
                } else {
                    "the identity at inference"
                };
                notes.push(format!("`{name}` ({class}) skipped: {why}"));
            }
        }
    }

    // Every recurrent layer but the last returns its sequence; the last hands on its final
    // state, or its sequence to a pooling layer or a per-step head.
    let last = recurrent.len().saturating_sub(1);
    for (k, (_, returns_sequences)) in recurrent.iter().enumerate() {
        if k < last && !returns_sequences {
            return Err(ImportError::Unsupported(format!(
                "recurrent layer {k} does not return sequences but another recurrent layer follows"
            )));
        }
        if k == last && *returns_sequences && readout == Readout::Final {
            return Err(ImportError::Unsupported(
                "the last recurrent layer returns sequences (return_sequences=True) but nothing \
                 pools them or reads every step (GlobalMaxPooling1D, GlobalAveragePooling1D, \
                 Dense/TimeDistributed(Dense))"
                    .into(),
            ));
        }
    }
    let input = match input {
        Some(i) => i,
        None => InputLayer::Features {
            size: features
                .or_else(|| recurrent.first().map(|(l, _)| l.input_size()))
                .ok_or_else(|| ImportError::Format("the model has no recurrent layer".into()))?,
            mask_value,
        },
    };
    // A masked model's padded steps are where lstm-lrp and Keras part: a departure from the
    // framework's own output that every run should name, not only `inspect`.
    let masked = match &input {
        InputLayer::Embedding { mask_zero, .. } => *mask_zero,
        InputLayer::Features { mask_value, .. } => mask_value.is_some(),
    };
    let warnings = match max_pool {
        Some(name) if masked => vec![format!(
            "`{name}` (GlobalMaxPooling1D) ignores the model's mask in Keras: on a padded \
             sequence Keras also pools its padded steps' outputs, lstm-lrp only the real steps, \
             so the explained logits of padded sequences are Keras' prediction for the sequence \
             unpadded and can differ from `model.predict` on the padded batch"
        )],
        _ => vec![],
    };
    let params = ModelParams::new(input, recurrent.into_iter().map(|(l, _)| l).collect(), head)?
        .with_readout(readout);
    if let Some(last) = params.head().last()
        && matches!(last.activation, Activation::Softmax | Activation::Sigmoid)
    {
        notes.push(format!(
            "the last layer's {:?} is skipped: the explained score is the logit",
            last.activation
        ));
    }
    let mut conversions = vec![
        "LSTM gate order i, f, c, o (Keras): kept as is; kernels (inputs, 4H) kept as is".into(),
    ];
    if params
        .recurrent()
        .iter()
        .any(|l| matches!(l.forward, CellWeights::Gru(_)))
    {
        conversions.push(
            "GRU gate order z, r, h (Keras): kept as is; a (2, 3H) bias split into input and \
             recurrent bias"
                .into(),
        );
    }
    Ok(ImportedModel {
        report: ImportReport {
            format,
            layers: describe_layers(&params),
            conversions,
            notes,
            warnings,
        },
        params,
        format: None,
    })
}

/// Rows of a layer's first weight (its input size), for models that declare no input shape.
fn kernel_rows(weights: &[Weight]) -> Option<usize> {
    weights.first().and_then(|w| w.array.shape.first().copied())
}

fn unknown_input(name: &str) -> ImportError {
    ImportError::Format(format!(
        "the input size of layer `{name}` is unknown (the model declares no input shape)"
    ))
}
