//! Live burn modules (`burn::nn::Lstm`, `BiLstm`, `Linear`, `Embedding`) as a canonical model,
//! so a classifier trained in burn can be explained directly.
//!
//! burn's LSTM keeps one `GateController` per gate (input, forget, cell, output), each with an
//! `input_transform` and a `hidden_transform` `Linear` (weights `[d_input, d_output]`, optional
//! biases). The canonical kernel is their weights side by side in gate order i, f, c, o, and the
//! canonical bias the sum of the two biases of each gate.

use burn::module::Param;
use burn::nn::activation::Activation as BurnActivation;
use burn::nn::{BiLstm, Embedding, GateController, Linear, Lstm};
use burn::tensor::Tensor;
use lrp_core::{
    Activation, DenseLayer, GateActivation, InputLayer, LstmLayer, LstmWeights, Matrix, MergeMode,
    ModelParams, burn,
};

use lrp_import::{ImportError, Result};

/// One recurrent layer of a burn model.
#[derive(Debug, Clone, Copy)]
pub enum BurnRecurrent<'a> {
    /// A unidirectional `Lstm` (reading forwards).
    Lstm(&'a Lstm),
    /// A `BiLstm`; its output is the concatenation `[forward, reverse]`, as burn's own.
    BiLstm(&'a BiLstm),
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
    let kernel = |pick: fn(&GateController) -> &Linear| -> Result<Matrix> {
        let parts = gates
            .iter()
            .map(|g| matrix(&pick(g).weight))
            .collect::<Result<Vec<_>>>()?;
        let (rows, h) = (parts[0].rows(), parts[0].cols());
        let mut data = Vec::with_capacity(rows * 4 * h);
        for r in 0..rows {
            for p in &parts {
                data.extend_from_slice(&p.data()[r * h..(r + 1) * h]);
            }
        }
        Ok(Matrix::new(rows, 4 * h, data)?)
    };
    let w_x = kernel(|g| &g.input_transform)?;
    let w_h = kernel(|g| &g.hidden_transform)?;
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

/// Converts a burn classifier into the canonical model.
pub fn from_burn(model: &BurnClassifier<'_>) -> Result<ModelParams> {
    let mut layers = Vec::new();
    for (k, layer) in model.recurrent.iter().enumerate() {
        let name = format!("recurrent layer {k}");
        layers.push(match layer {
            BurnRecurrent::Lstm(lstm) => {
                if lstm.reverse {
                    return Err(ImportError::Unsupported(format!(
                        "{name}: a unidirectional LSTM reading backwards (reverse)"
                    )));
                }
                let (w, act) = direction(lstm, &name)?;
                let mut l = LstmLayer::unidirectional(w);
                l.gate_activation = act;
                l
            }
            BurnRecurrent::BiLstm(bi) => {
                let (fw, act) = direction(&bi.forward, &format!("{name} forward"))?;
                let (bw, act_bw) = direction(&bi.reverse, &format!("{name} reverse"))?;
                if act != act_bw {
                    return Err(ImportError::Unsupported(format!(
                        "{name}: the two directions use different gate activations"
                    )));
                }
                let mut l = LstmLayer::bidirectional(fw, bw, MergeMode::Concat);
                l.gate_activation = act;
                l
            }
        });
    }
    let input = match model.embedding {
        Some(e) => InputLayer::Embedding {
            table: matrix(&e.weight)?,
            mask_zero: false,
        },
        None => InputLayer::Features {
            size: layers.first().map_or(0, |l: &LstmLayer| l.input_size()),
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
