//! Live burn modules (`burn::nn::Lstm`, `BiLstm`, `Gru`, `BiGru`, `Linear`, `Embedding`) as a
//! canonical model, so a classifier trained in burn can be explained directly.
//!
//! burn's LSTM keeps one `GateController` per gate (input, forget, cell, output), each with an
//! `input_transform` and a `hidden_transform` `Linear` (weights `[d_input, d_output]`, optional
//! biases). The canonical kernel is their weights side by side in gate order i, f, c, o, and the
//! canonical bias the sum of the two biases of each gate. burn's GRU has the same controllers
//! for its update, reset and new gates (canonical order z, r, n; `h = z h + (1 − z) n`, as
//! Keras), with the input and hidden biases kept apart and its own `reset_after` flag.

use burn::module::Param;
use burn::nn::activation::Activation as BurnActivation;
use burn::nn::gru::{BiGru, Gru};
use burn::nn::{BiLstm, Embedding, GateController, Linear, Lstm};
use burn::tensor::Tensor;
use lrp_core::{
    Activation, CellWeights, DenseLayer, GateActivation, GruWeights, InputLayer, LstmWeights,
    Matrix, MergeMode, ModelParams, RecurrentLayer, burn,
};

use lrp_import::{ImportError, Result};

/// One recurrent layer of a burn model.
#[derive(Debug, Clone, Copy)]
pub enum BurnRecurrent<'a> {
    /// A unidirectional `Lstm` (reading forwards).
    Lstm(&'a Lstm),
    /// A `BiLstm`; its output is the concatenation `[forward, reverse]`, as burn's own.
    BiLstm(&'a BiLstm),
    /// A unidirectional `Gru` (reading forwards).
    Gru(&'a Gru),
    /// A `BiGru`; its output is the concatenation `[forward, reverse]`.
    BiGru(&'a BiGru),
}

/// The modules of an LSTM classifier built from burn layers: an optional `Embedding`, one or
/// more recurrent layers (all but the last returning their output sequence to the next), and a
/// head of `Linear` layers with the activation after each (the last one's is not applied when
/// explaining). The head reads the last recurrent layer's final hidden state(s): for a
/// `BiLstm`, `[forward state after x[T-1], reverse state after x[0]]`.
#[derive(Debug, Clone)]
pub struct BurnClassifier<'a> {
    /// `Embedding` for token-id input; `None` for feature input.
    pub embedding: Option<&'a Embedding>,
    /// The recurrent layers, bottom first.
    pub recurrent: Vec<BurnRecurrent<'a>>,
    /// The head.
    pub head: Vec<(&'a Linear, Activation)>,
}

fn values<const D: usize>(t: &Param<Tensor<D>>) -> Result<(Vec<usize>, Vec<f64>)> {
    let tensor = t.val();
    let shape = tensor.dims().to_vec();
    let data = tensor
        .try_into_vec_as::<f64>()
        .map_err(|e| ImportError::Format(format!("reading a burn parameter: {e:?}")))?;
    Ok((shape, data))
}

fn matrix(t: &Param<Tensor<2>>) -> Result<Matrix> {
    let (shape, data) = values(t)?;
    Ok(Matrix::new(shape[0], shape[1], data)?)
}

fn gate_activation(act: &BurnActivation, name: &str) -> Result<GateActivation> {
    match act {
        BurnActivation::Sigmoid(_) => Ok(GateActivation::Sigmoid),
        BurnActivation::HardSigmoid(h) if h.alpha == 0.2 && h.beta == 0.5 => {
            Ok(GateActivation::HardSigmoidKeras2)
        }
        BurnActivation::HardSigmoid(h) if h.alpha == 1.0 / 6.0 && h.beta == 0.5 => {
            Ok(GateActivation::HardSigmoidKeras3)
        }
        other => Err(ImportError::Unsupported(format!(
            "{name}: gate activation {other:?} (sigmoid or hard sigmoid)"
        ))),
    }
}

fn is_tanh(act: &BurnActivation) -> bool {
    matches!(act, BurnActivation::Tanh(_))
}

/// One direction in canonical layout, with its gate activation.
fn direction(lstm: &Lstm, name: &str) -> Result<(LstmWeights, GateActivation)> {
    if lstm.input_forget {
        return Err(ImportError::Unsupported(format!(
            "{name}: coupled input and forget gates (input_forget)"
        )));
    }
    if lstm.clip.is_some() {
        return Err(ImportError::Unsupported(format!(
            "{name}: cell-state clipping"
        )));
    }
    if !is_tanh(&lstm.cell_activation) || !is_tanh(&lstm.hidden_activation) {
        return Err(ImportError::Unsupported(format!(
            "{name}: cell and hidden activations other than tanh"
        )));
    }
    let forget = lstm
        .forget_gate
        .as_ref()
        .ok_or_else(|| ImportError::Unsupported(format!("{name}: no forget gate")))?;
    let gates: [&GateController; 4] =
        [&lstm.input_gate, forget, &lstm.cell_gate, &lstm.output_gate];
    let w_x = side_by_side(&gates, |g| &g.input_transform)?;
    let w_h = side_by_side(&gates, |g| &g.hidden_transform)?;
    let h = lstm.d_hidden;
    let mut b = Vec::with_capacity(4 * h);
    for g in gates {
        let mut sum = vec![0.0; h];
        for linear in [&g.input_transform, &g.hidden_transform] {
            if let Some(bias) = &linear.bias {
                for (acc, v) in sum.iter_mut().zip(values(bias)?.1) {
                    *acc += v;
                }
            }
        }
        b.extend(sum);
    }
    Ok((
        LstmWeights { w_x, w_h, b },
        gate_activation(&lstm.gate_activation, name)?,
    ))
}

/// The gates' kernels side by side `(rows, G·H)`, for the transform `pick` chooses.
fn side_by_side(gates: &[&GateController], pick: fn(&GateController) -> &Linear) -> Result<Matrix> {
    let parts = gates
        .iter()
        .map(|g| matrix(&pick(g).weight))
        .collect::<Result<Vec<_>>>()?;
    let (rows, h) = (parts[0].rows(), parts[0].cols());
    let mut data = Vec::with_capacity(rows * gates.len() * h);
    for r in 0..rows {
        for p in &parts {
            data.extend_from_slice(&p.data()[r * h..(r + 1) * h]);
        }
    }
    Ok(Matrix::new(rows, gates.len() * h, data)?)
}

/// The biases of `pick`'s transform of every gate, side by side (zeros where a gate has none).
fn biases(
    gates: &[&GateController],
    pick: fn(&GateController) -> &Linear,
    h: usize,
) -> Result<Vec<f64>> {
    let mut out = Vec::with_capacity(gates.len() * h);
    for g in gates {
        match &pick(g).bias {
            Some(b) => out.extend(values(b)?.1),
            None => out.extend(std::iter::repeat_n(0.0, h)),
        }
    }
    Ok(out)
}

/// One GRU direction in canonical layout (z, r, n), with its gate activation.
fn gru_direction(gru: &Gru, name: &str) -> Result<(GruWeights, GateActivation)> {
    if gru.clip.is_some() {
        return Err(ImportError::Unsupported(format!(
            "{name}: hidden-state clipping"
        )));
    }
    if !is_tanh(&gru.hidden_activation) {
        return Err(ImportError::Unsupported(format!(
            "{name}: a candidate activation other than tanh"
        )));
    }
    let gates = [&gru.update_gate, &gru.reset_gate, &gru.new_gate];
    let h = gru.d_hidden;
    Ok((
        GruWeights {
            w_x: side_by_side(&gates, |g| &g.input_transform)?,
            w_h: side_by_side(&gates, |g| &g.hidden_transform)?,
            b_x: biases(&gates, |g| &g.input_transform, h)?,
            b_h: biases(&gates, |g| &g.hidden_transform, h)?,
            reset_after: gru.reset_after,
        },
        gate_activation(&gru.gate_activation, name)?,
    ))
}

/// A layer from its directions' weights and gate activations.
fn layer_of(
    name: &str,
    forward: (CellWeights, GateActivation),
    backward: Option<(CellWeights, GateActivation)>,
) -> Result<RecurrentLayer> {
    let mut layer = match backward {
        Some((bw, act_bw)) => {
            if act_bw != forward.1 {
                return Err(ImportError::Unsupported(format!(
                    "{name}: the two directions use different gate activations"
                )));
            }
            RecurrentLayer::bidirectional(forward.0, bw, MergeMode::Concat)
        }
        None => RecurrentLayer::unidirectional(forward.0),
    };
    layer.gate_activation = forward.1;
    Ok(layer)
}

/// Converts a burn classifier into the canonical model.
pub fn from_burn(model: &BurnClassifier<'_>) -> Result<ModelParams> {
    let mut layers = Vec::new();
    for (k, layer) in model.recurrent.iter().enumerate() {
        let name = format!("recurrent layer {k}");
        let lstm = |l: &Lstm, n: &str| direction(l, n).map(|(w, a)| (CellWeights::Lstm(w), a));
        let gru = |g: &Gru, n: &str| gru_direction(g, n).map(|(w, a)| (CellWeights::Gru(w), a));
        layers.push(match layer {
            BurnRecurrent::Lstm(l) => {
                if l.reverse {
                    return Err(ImportError::Unsupported(format!(
                        "{name}: a unidirectional LSTM reading backwards (reverse)"
                    )));
                }
                layer_of(&name, lstm(l, &name)?, None)?
            }
            BurnRecurrent::BiLstm(bi) => layer_of(
                &name,
                lstm(&bi.forward, &format!("{name} forward"))?,
                Some(lstm(&bi.reverse, &format!("{name} reverse"))?),
            )?,
            BurnRecurrent::Gru(g) => layer_of(&name, gru(g, &name)?, None)?,
            BurnRecurrent::BiGru(bi) => layer_of(
                &name,
                gru(&bi.forward, &format!("{name} forward"))?,
                Some(gru(&bi.reverse, &format!("{name} reverse"))?),
            )?,
        });
    }
    let input = match model.embedding {
        Some(e) => InputLayer::Embedding {
            table: matrix(&e.weight)?,
            mask_zero: false,
        },
        None => InputLayer::Features {
            size: layers
                .first()
                .map_or(0, |l: &RecurrentLayer| l.input_size()),
            mask_value: None,
        },
    };
    let head = model
        .head
        .iter()
        .map(|(linear, activation)| {
            let w = matrix(&linear.weight)?;
            let b = match &linear.bias {
                Some(b) => values(b)?.1,
                None => vec![0.0; w.cols()],
            };
            Ok(DenseLayer {
                w,
                b,
                activation: *activation,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(ModelParams::new(input, layers, head)?)
}
