//! The demo classifier as burn modules — `Embedding → BiLstm → Linear`, or `Embedding → BiGru →
//! Linear` — its deterministic initialisation, its conversion to the canonical model through the
//! importer's burn-module path, and the model file it ships as.

use std::collections::HashMap;

use burn::module::{Module, Param};
use burn::nn::gru::{BiGru, BiGruConfig};
use burn::nn::{
    BiLstm, BiLstmConfig, Embedding, EmbeddingConfig, GateController, Linear, LinearConfig,
};
use burn::tensor::{DType, Device, Int, Tensor, TensorData};
use lrp_core::{
    Activation, CellWeights, Input, InputLayer, LstmModel, Matrix, ModelParams, Precision, burn,
};
use lrp_import::HostArray;
use lrp_import::formats::safetensors::{OutTensor, serialize};
use lstm_lrp::import::burn_modules::{BurnClassifier, BurnRecurrent, from_burn};

use super::SentimentError;
use super::rng::Rng;
use super::score::by_length;
use super::task::Sentence;

/// The recurrent cell of the classifier: burn's `BiLstm` or `BiGru`.
///
/// ```
/// use lrp_demo::model::Cell;
///
/// assert_eq!("gru".parse::<Cell>(), Ok(Cell::Gru));
/// assert_eq!(Cell::default(), Cell::Lstm); // the shipped model of examples/sentiment/
/// assert_eq!(Cell::Gru.to_string(), "gru");
/// assert_eq!(Cell::Gru.folder(), "sentiment-gru");
/// assert!("rnn".parse::<Cell>().is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Cell {
    /// A bidirectional LSTM (`burn::nn::BiLstm`, sigmoid gates, tanh).
    #[default]
    Lstm,
    /// A bidirectional GRU (`burn::nn::gru::BiGru`, sigmoid gates, tanh, `reset_after`).
    Gru,
}

impl Cell {
    /// Both cells.
    pub const ALL: [Cell; 2] = [Cell::Lstm, Cell::Gru];

    /// `lstm` or `gru`.
    pub fn name(self) -> &'static str {
        match self {
            Cell::Lstm => "lstm",
            Cell::Gru => "gru",
        }
    }

    /// `BiLSTM` or `BiGRU`, for messages.
    pub fn label(self) -> &'static str {
        match self {
            Cell::Lstm => "BiLSTM",
            Cell::Gru => "BiGRU",
        }
    }

    /// The folder of `examples/` the model of this cell ships in: `sentiment` (the LSTM) or
    /// `sentiment-gru`.
    pub fn folder(self) -> &'static str {
        match self {
            Cell::Lstm => "sentiment",
            Cell::Gru => "sentiment-gru",
        }
    }
}

impl std::fmt::Display for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Cell {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cell::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown cell `{s}` (lstm or gru)"))
    }
}

/// Sizes of the classifier.
///
/// ```
/// use lstm_lrp::backends;
/// use lrp_demo::model::{Cell, NetConfig, SentimentNet};
///
/// let config = NetConfig { vocab: 20, embedding: 4, hidden: 3, classes: 2, cell: Cell::Lstm };
/// let net = SentimentNet::init(config, 7, &backends::default_device());
/// let params = net.to_params()?;
/// // V·E + 2 directions · (4H·E + 4H·H + 4H) + 2H·C + C scalars.
/// assert_eq!(params.num_parameters(), 20 * 4 + 2 * (48 + 36 + 12) + 6 * 2 + 2);
/// // A GRU has 3 gates, each with an input and a recurrent bias: 2 · (3H·E + 3H·H + 2 · 3H).
/// let gru = SentimentNet::init(NetConfig { cell: Cell::Gru, ..config }, 7, &backends::default_device());
/// assert_eq!(gru.to_params()?.num_parameters(), 20 * 4 + 2 * (36 + 27 + 18) + 6 * 2 + 2);
/// # Ok::<(), lrp_demo::SentimentError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetConfig {
    /// Vocabulary size V.
    pub vocab: usize,
    /// Embedding size E.
    pub embedding: usize,
    /// Hidden size H of each recurrent direction.
    pub hidden: usize,
    /// Number of classes C.
    pub classes: usize,
    /// LSTM or GRU.
    pub cell: Cell,
}

/// The recurrent layer of a [`SentimentNet`]: burn's bidirectional LSTM or GRU.
// burn's `Module` derive has no `Box<M>` field support, and one network holds one of these.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Recurrent {
    /// `burn::nn::BiLstm`.
    Lstm(BiLstm),
    /// `burn::nn::gru::BiGru` (`batch_first`).
    Gru(BiGru),
}

impl Recurrent {
    /// The cell.
    pub fn cell(&self) -> Cell {
        match self {
            Recurrent::Lstm(_) => Cell::Lstm,
            Recurrent::Gru(_) => Cell::Gru,
        }
    }

    /// The final hidden states `(2, B, H)`, `[forward after x[T−1], reverse after x[0]]`.
    fn final_states(&self, x: Tensor<3>) -> Tensor<3> {
        match self {
            Recurrent::Lstm(lstm) => lstm.forward(x, None).1.hidden,
            Recurrent::Gru(gru) => gru.forward(x, None).1,
        }
    }
}

/// `Embedding (V, E) → BiLstm or BiGru (E → 2×H) → Linear (2H → C)`: the head reads the final
/// states `[forward after x[T−1], reverse after x[0]]`, the layout the importer's burn path
/// expects.
///
/// ```
/// use lstm_lrp::backends;
/// use lrp_demo::model::{Cell, NetConfig, SentimentNet, ids_tensor};
///
/// let device = backends::default_device();
/// for cell in Cell::ALL {
///     let config = NetConfig { vocab: 10, embedding: 4, hidden: 3, classes: 2, cell };
///     let net = SentimentNet::init(config, 1, &device);
///     assert_eq!(net.embedding.weight.val().dims(), [10, 4]);
///     assert_eq!(net.recurrent.cell(), cell);
///     let logits = net.forward(ids_tensor(&[&[2, 3, 4], &[5, 6, 7]], &device));
///     assert_eq!(logits.dims(), [2, 2]); // (B, C)
/// }
/// ```
#[derive(Module, Debug)]
pub struct SentimentNet {
    /// Token vectors; row 0 is the padding id (never read: batches hold equal-length sentences).
    pub embedding: Embedding,
    /// The recurrent layer.
    pub recurrent: Recurrent,
    /// The classifier head.
    pub head: Linear,
}

/// Replaces a parameter's values, keeping its shape and dtype.
fn refill<const D: usize>(
    param: &mut Param<Tensor<D>>,
    device: &Device,
    mut value: impl FnMut() -> f64,
) {
    let old = param.val();
    let shape = old.dims();
    let dtype: DType = old.dtype();
    let n = shape.iter().product();
    let data =
        TensorData::new((0..n).map(|_| value()).collect::<Vec<f64>>(), shape).convert_dtype(dtype);
    *param = Param::from_data(data, device);
}

fn refill_gate(gate: &mut GateController, rng: &mut Rng, device: &Device, bias: f64) {
    for linear in [&mut gate.input_transform, &mut gate.hidden_transform] {
        let fan_in = linear.weight.dims()[0] as f64;
        let a = 1.0 / fan_in.sqrt();
        refill(&mut linear.weight, device, || rng.symmetric(a));
        if let Some(b) = linear.bias.as_mut() {
            refill(b, device, || 0.0);
        }
    }
    // One bias per gate in the canonical model: put the whole of it on the input transform.
    if let Some(b) = gate.input_transform.bias.as_mut() {
        refill(b, device, || bias);
    }
}

/// Sets the gates' weights from canonical kernels whose column blocks are the gates in order:
/// gate `k` reads columns `k·H..(k+1)·H` of `w_x` and `w_h` and entries `k·H..(k+1)·H` of the
/// input bias `b_x` and of the recurrent bias `b_h` (zeros when `None`).
fn set_gates(
    gates: &mut [&mut GateController],
    w_x: &Matrix,
    w_h: &Matrix,
    b_x: &[f64],
    b_h: Option<&[f64]>,
    device: &Device,
) {
    let h = w_h.rows();
    let set = |param: &mut Param<Tensor<2>>, m: &Matrix| {
        let mut values = m.data().iter().copied();
        refill(param, device, || values.next().unwrap_or(0.0));
    };
    for (k, gate) in gates.iter_mut().enumerate() {
        let block = k * h..(k + 1) * h;
        set(
            &mut gate.input_transform.weight,
            &w_x.columns(block.clone()),
        );
        set(
            &mut gate.hidden_transform.weight,
            &w_h.columns(block.clone()),
        );
        let mut input_bias = b_x[block.clone()].iter().copied();
        if let Some(b) = gate.input_transform.bias.as_mut() {
            refill(b, device, || input_bias.next().unwrap_or(0.0));
        }
        let mut hidden_bias = b_h.map(|b| b[block].iter().copied());
        if let Some(b) = gate.hidden_transform.bias.as_mut() {
            refill(b, device, || {
                hidden_bias.as_mut().and_then(Iterator::next).unwrap_or(0.0)
            });
        }
    }
}

impl SentimentNet {
    /// A new classifier whose weights come from `seed` alone (burn's own initialisers draw from
    /// the device's global generator, which is shared with other work in the process; ours are
    /// overwritten with values from [`Rng`]): weights uniform in `±1/√fan_in`, embedding uniform
    /// in `±0.5`, biases 0 except the LSTM forget gates' (1, the usual choice for fast
    /// learning). The values are drawn in module order: embedding, each direction's gates
    /// (LSTM: input, forget, cell, output; GRU: update, reset, new; each the input then the
    /// hidden transform), head.
    ///
    /// ```
    /// use lstm_lrp::backends;
    /// use lrp_demo::model::{Cell, NetConfig, SentimentNet};
    ///
    /// let device = backends::default_device();
    /// let config = NetConfig { vocab: 10, embedding: 4, hidden: 3, classes: 2, cell: Cell::Gru };
    /// let a = SentimentNet::init(config, 5, &device);
    /// let b = SentimentNet::init(config, 5, &device);
    /// assert_eq!(a.to_params()?, b.to_params()?); // the seed alone decides
    /// let table = a.embedding.weight.val().try_into_vec_as::<f64>()?;
    /// assert!(table.iter().all(|v| v.abs() <= 0.5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn init(config: NetConfig, seed: u64, device: &Device) -> Self {
        let mut rng = Rng::new(seed);
        let mut embedding = EmbeddingConfig::new(config.vocab, config.embedding).init(device);
        let mut recurrent = match config.cell {
            Cell::Lstm => Recurrent::Lstm(
                BiLstmConfig::new(config.embedding, config.hidden, true).init(device),
            ),
            Cell::Gru => {
                Recurrent::Gru(BiGruConfig::new(config.embedding, config.hidden, true).init(device))
            }
        };
        let mut head = LinearConfig::new(2 * config.hidden, config.classes).init(device);
        refill(&mut embedding.weight, device, || rng.symmetric(0.5));
        match &mut recurrent {
            Recurrent::Lstm(lstm) => {
                for direction in [&mut lstm.forward, &mut lstm.reverse] {
                    refill_gate(&mut direction.input_gate, &mut rng, device, 0.0);
                    if let Some(f) = direction.forget_gate.as_mut() {
                        refill_gate(f, &mut rng, device, 1.0);
                    }
                    refill_gate(&mut direction.cell_gate, &mut rng, device, 0.0);
                    refill_gate(&mut direction.output_gate, &mut rng, device, 0.0);
                }
            }
            Recurrent::Gru(gru) => {
                for direction in [&mut gru.forward, &mut gru.reverse] {
                    refill_gate(&mut direction.update_gate, &mut rng, device, 0.0);
                    refill_gate(&mut direction.reset_gate, &mut rng, device, 0.0);
                    refill_gate(&mut direction.new_gate, &mut rng, device, 0.0);
                }
            }
        }
        let a = 1.0 / ((2 * config.hidden) as f64).sqrt();
        refill(&mut head.weight, device, || rng.symmetric(a));
        if let Some(b) = head.bias.as_mut() {
            refill(b, device, || 0.0);
        }
        Self {
            embedding,
            recurrent,
            head,
        }
    }

    /// The classifier with the weights of a canonical model (an embedding, one bidirectional
    /// sigmoid-gated LSTM or GRU layer, one Dense layer): the inverse of
    /// [`SentimentNet::to_params`], e.g. to run the shipped model in burn. An LSTM gate's whole
    /// bias goes to its input transform; a GRU's input and recurrent biases to the input and
    /// hidden transforms.
    ///
    /// ```
    /// use lrp_demo::model::{SentimentNet, ids_tensor};
    /// use lstm_lrp::{Input, LstmModel, Precision, backends};
    ///
    /// let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
    /// let device = backends::default_device();
    /// let net = SentimentNet::from_params(&params, &device)?;
    /// let ids = ids_tensor(&[&[3, 12, 329]], &device);
    /// let burn = net.forward(ids.clone()).try_into_vec_as::<f64>()?;
    /// let model = LstmModel::new(&params, &device, Precision::F64)?;
    /// let core = model.forward(Input::tokens(ids))?.try_into_vec_as::<f64>()?;
    /// assert!(burn.iter().zip(&core).all(|(a, b)| (a - b).abs() < 1e-4));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_params(params: &ModelParams, device: &Device) -> Result<Self, SentimentError> {
        let InputLayer::Embedding { table, .. } = params.input() else {
            return Err(SentimentError::Shape("the model has no embedding".into()));
        };
        let ([layer], [dense]) = (params.recurrent(), params.head()) else {
            return Err(SentimentError::Shape(
                "only one recurrent layer and one Dense layer are supported".into(),
            ));
        };
        let Some(backward) = layer.backward.as_ref() else {
            return Err(SentimentError::Shape(
                "the recurrent layer is not bidirectional".into(),
            ));
        };
        let cell = match (&layer.forward, backward) {
            (CellWeights::Lstm(_), CellWeights::Lstm(_)) => Cell::Lstm,
            (CellWeights::Gru(_), CellWeights::Gru(_)) => Cell::Gru,
            _ => {
                return Err(SentimentError::Shape(
                    "the two directions are different cells".into(),
                ));
            }
        };
        if layer.merge != lrp_core::MergeMode::Concat
            || layer.gate_activation != lrp_core::GateActivation::Sigmoid
            || layer.go_backwards
            || params.readout() != lrp_core::Readout::Final
        {
            return Err(SentimentError::Shape(
                "only concatenated directions with sigmoid gates, read by their final states, \
                 are supported"
                    .into(),
            ));
        }
        let config = NetConfig {
            vocab: table.rows(),
            embedding: table.cols(),
            hidden: layer.hidden_size(),
            classes: dense.w.cols(),
            cell,
        };
        if dense.w.rows() != 2 * config.hidden {
            return Err(SentimentError::Shape(format!(
                "the Dense layer reads {} values, the recurrent layer gives {}",
                dense.w.rows(),
                2 * config.hidden
            )));
        }
        let mut net = Self::init(config, 0, device);
        let mut values = table.data().iter().copied();
        refill(&mut net.embedding.weight, device, || {
            values.next().unwrap_or(0.0)
        });
        let directions = [&layer.forward, backward];
        match &mut net.recurrent {
            Recurrent::Lstm(bi) => {
                for (lstm, w) in [&mut bi.forward, &mut bi.reverse]
                    .into_iter()
                    .zip(directions)
                {
                    let (Some(w), Some(forget)) = (w.as_lstm(), lstm.forget_gate.as_mut()) else {
                        return Err(SentimentError::Shape("no forget gate".into()));
                    };
                    let mut gates = [
                        &mut lstm.input_gate,
                        forget,
                        &mut lstm.cell_gate,
                        &mut lstm.output_gate,
                    ];
                    set_gates(&mut gates, &w.w_x, &w.w_h, &w.b, None, device);
                }
            }
            Recurrent::Gru(bi) => {
                for (gru, w) in [&mut bi.forward, &mut bi.reverse]
                    .into_iter()
                    .zip(directions)
                {
                    let Some(w) = w.as_gru() else {
                        return Err(SentimentError::Shape("not a GRU".into()));
                    };
                    gru.reset_after = w.reset_after;
                    let mut gates = [&mut gru.update_gate, &mut gru.reset_gate, &mut gru.new_gate];
                    set_gates(&mut gates, &w.w_x, &w.w_h, &w.b_x, Some(&w.b_h), device);
                }
            }
        }
        let mut values = dense.w.data().iter().copied();
        refill(&mut net.head.weight, device, || {
            values.next().unwrap_or(0.0)
        });
        if let Some(b) = net.head.bias.as_mut() {
            let mut bias = dense.b.iter().copied();
            refill(b, device, || bias.next().unwrap_or(0.0));
        }
        Ok(net)
    }

    /// Logits `(B, C)` of token ids `(B, T)` (every sentence of the batch has T tokens).
    ///
    /// ```
    /// use lstm_lrp::backends;
    /// use lrp_demo::model::{SentimentNet, ids_tensor};
    ///
    /// let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
    /// let device = backends::default_device();
    /// let net = SentimentNet::from_params(&params, &device)?;
    /// // Three sentences of four tokens: (B, T) = (3, 4).
    /// let ids = ids_tensor(&[&[3, 12, 67, 329], &[3, 12, 67, 362], &[4, 5, 6, 7]], &device);
    /// assert_eq!(net.forward(ids).dims(), [3, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forward(&self, ids: Tensor<2, Int>) -> Tensor<2> {
        let x = self.embedding.forward(ids);
        let state = self.recurrent.final_states(x);
        // hidden: (2, B, H), [forward, reverse] → (B, 2H) = [forward | reverse].
        let [_, b, h] = state.dims();
        let last = state.swap_dims(0, 1).reshape([b, 2 * h]);
        self.head.forward(last)
    }

    /// The modules as the importer sees them.
    ///
    /// ```
    /// use lstm_lrp::backends;
    /// use lrp_demo::model::{Cell, NetConfig, SentimentNet};
    ///
    /// let config = NetConfig { vocab: 10, embedding: 4, hidden: 3, classes: 2, cell: Cell::Lstm };
    /// let net = SentimentNet::init(config, 1, &backends::default_device());
    /// let modules = net.as_burn_classifier();
    /// assert!(modules.embedding.is_some());
    /// assert_eq!((modules.recurrent.len(), modules.head.len()), (1, 1));
    /// ```
    pub fn as_burn_classifier(&self) -> BurnClassifier<'_> {
        let recurrent = match &self.recurrent {
            Recurrent::Lstm(lstm) => BurnRecurrent::BiLstm(lstm),
            Recurrent::Gru(gru) => BurnRecurrent::BiGru(gru),
        };
        BurnClassifier {
            embedding: Some(&self.embedding),
            recurrent: vec![recurrent],
            head: vec![(&self.head, Activation::Linear)],
        }
    }

    /// The canonical model, through the importer's burn-module path.
    ///
    /// ```
    /// use lstm_lrp::backends;
    /// use lrp_demo::model::{Cell, NetConfig, SentimentNet};
    ///
    /// let config = NetConfig { vocab: 10, embedding: 4, hidden: 3, classes: 2, cell: Cell::Gru };
    /// let params = SentimentNet::init(config, 1, &backends::default_device()).to_params()?;
    /// assert_eq!((params.feature_size(), params.num_classes()), (4, 2));
    /// assert_eq!(params.recurrent()[0].directions(), 2);
    /// assert_eq!(params.recurrent()[0].forward.kind(), "GRU");
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn to_params(&self) -> Result<ModelParams, SentimentError> {
        Ok(from_burn(&self.as_burn_classifier())?)
    }
}

/// Token ids as a burn tensor `(B, T)`; all rows must have the same length.
///
/// ```
/// use lrp_demo::model::ids_tensor;
/// use lstm_lrp::backends;
///
/// let ids = ids_tensor(&[&[5, 6, 7], &[8, 9, 10]], &backends::default_device());
/// assert_eq!(ids.dims(), [2, 3]);
/// assert_eq!(ids.try_into_vec_as::<i64>()?, vec![5, 6, 7, 8, 9, 10]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn ids_tensor(rows: &[&[usize]], device: &Device) -> Tensor<2, Int> {
    let t = rows.first().map_or(0, |r| r.len());
    let data: Vec<i64> = rows
        .iter()
        .flat_map(|r| r.iter().map(|&v| v as i64))
        .collect();
    Tensor::from_data(TensorData::new(data, [rows.len(), t]), device)
}

fn transpose(rows: usize, cols: usize, data: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            out[c * rows + r] = data[r * cols + c];
        }
    }
    out
}

/// PyTorch's gate blocks of a GRU (r, z, n) from the canonical ones (z, r, n): block `p` of
/// PyTorch's layout is canonical block `TORCH_GRU_BLOCKS[p]` (the swap is its own inverse).
const TORCH_GRU_BLOCKS: [usize; 3] = [1, 0, 2];

/// The column blocks of `(rows, G·H)` `m` in the order `blocks`, transposed to `(G·H, rows)`:
/// PyTorch's `(gates·H, in)` kernel layout.
fn torch_kernel(m: &Matrix, blocks: &[usize]) -> Vec<f64> {
    let (rows, h) = (m.rows(), m.cols() / blocks.len());
    let mut out = Vec::with_capacity(rows * m.cols());
    for &k in blocks {
        for j in k * h..(k + 1) * h {
            out.extend((0..rows).map(|r| m.data()[r * m.cols() + j]));
        }
    }
    out
}

/// The blocks of a `(G·H)` bias in the order `blocks`.
fn torch_bias(b: &[f64], blocks: &[usize]) -> Vec<f64> {
    let h = b.len() / blocks.len();
    blocks
        .iter()
        .flat_map(|&k| b[k * h..(k + 1) * h].iter().copied())
        .collect()
}

/// The PyTorch state-dict tensors of one direction of an `nn.LSTM` (under `lstm`) or `nn.GRU`
/// (under `gru`).
fn weights(
    w: &CellWeights,
    suffix: &str,
    out: &mut Vec<(String, OutTensor)>,
) -> Result<(), SentimentError> {
    // LSTM: canonical i, f, c, o = PyTorch's i, f, g, o, one bias (the sum of PyTorch's two).
    let (prefix, blocks, w_x, w_h, b_ih, b_hh) = match w {
        CellWeights::Lstm(w) => {
            let zeros = vec![0.0; w.b.len()];
            (
                "lstm",
                &[0, 1, 2, 3][..],
                &w.w_x,
                &w.w_h,
                w.b.clone(),
                zeros,
            )
        }
        CellWeights::Gru(w) if w.reset_after => (
            "gru",
            &TORCH_GRU_BLOCKS[..],
            &w.w_x,
            &w.w_h,
            torch_bias(&w.b_x, &TORCH_GRU_BLOCKS),
            torch_bias(&w.b_h, &TORCH_GRU_BLOCKS),
        ),
        CellWeights::Gru(_) => {
            return Err(SentimentError::Shape(
                "a GRU that resets before the recurrent product has no nn.GRU state dict".into(),
            ));
        }
    };
    let (e, g, h) = (w_x.rows(), w_x.cols(), w_h.rows());
    let f = |shape: Vec<usize>, data: Vec<f64>| OutTensor::F64(HostArray { shape, data });
    out.push((
        format!("{prefix}.weight_ih_l0{suffix}"),
        f(vec![g, e], torch_kernel(w_x, blocks)),
    ));
    out.push((
        format!("{prefix}.weight_hh_l0{suffix}"),
        f(vec![g, h], torch_kernel(w_h, blocks)),
    ));
    out.push((format!("{prefix}.bias_ih_l0{suffix}"), f(vec![g], b_ih)));
    out.push((format!("{prefix}.bias_hh_l0{suffix}"), f(vec![g], b_hh)));
    Ok(())
}

/// Serialises an embedding + single-layer (Bi)LSTM or (Bi)GRU + one-Linear model as a
/// PyTorch-style state dict in safetensors (F64): `embedding.weight (V, E)`; for an LSTM
/// `lstm.weight_ih_l0[_reverse] (4H, E)`, `lstm.weight_hh_l0[_reverse] (4H, H)`,
/// `lstm.bias_ih_l0[_reverse] (4H)` (the whole bias), `lstm.bias_hh_l0[_reverse]` (zeros), in
/// gate order i, f, g, o (the canonical one); for a GRU (`reset_after`, PyTorch's) the same
/// keys under `gru.` with `3H` rows in PyTorch's gate order r, z, n and both biases; then
/// `fc.weight (C, 2H)`, `fc.bias (C)`. The canonical safetensors layout has no embedding table;
/// this one does, and [`load_model`](lstm_lrp::load_model) reads it back exactly (the importer
/// turns r, z, n back into the canonical z, r, n). The metadata gets
/// [`lrp_import::READOUT_METADATA_KEY`] = the model's readout, so that the file says how its
/// head reads the recurrent layer.
///
/// ```
/// use std::collections::HashMap;
/// use lrp_demo::model::model_file_bytes;
///
/// let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
/// let metadata = HashMap::from([("seed".to_string(), "2019".to_string())]);
/// let bytes = model_file_bytes(&params, metadata)?;
/// let path = std::env::temp_dir().join(format!("lstm-lrp-doc-{}.st", std::process::id()));
/// std::fs::write(&path, &bytes)?;
/// let back = lstm_lrp::load_model(&path);
/// std::fs::remove_file(&path)?;
/// assert_eq!(back?, params); // exact round trip
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn model_file_bytes(
    params: &ModelParams,
    mut metadata: HashMap<String, String>,
) -> Result<Vec<u8>, SentimentError> {
    metadata.insert(
        lrp_import::READOUT_METADATA_KEY.to_string(),
        params.readout().to_string(),
    );
    let InputLayer::Embedding { table, .. } = params.input() else {
        return Err(SentimentError::Shape("the model has no embedding".into()));
    };
    let ([layer], [dense]) = (params.recurrent(), params.head()) else {
        return Err(SentimentError::Shape(
            "only one recurrent layer and one Dense layer are supported".into(),
        ));
    };
    let mut out = vec![(
        "embedding.weight".to_string(),
        OutTensor::F64(HostArray {
            shape: vec![table.rows(), table.cols()],
            data: table.data().to_vec(),
        }),
    )];
    weights(&layer.forward, "", &mut out)?;
    if let Some(bw) = &layer.backward {
        weights(bw, "_reverse", &mut out)?;
    }
    let (d, c) = (dense.w.rows(), dense.w.cols());
    out.push((
        "fc.weight".into(),
        OutTensor::F64(HostArray {
            shape: vec![c, d],
            data: transpose(d, c, dense.w.data()),
        }),
    ));
    out.push((
        "fc.bias".into(),
        OutTensor::F64(HostArray {
            shape: vec![c],
            data: dense.b.clone(),
        }),
    ));
    let named: Vec<(&str, OutTensor)> = out.iter().map(|(n, t)| (n.as_str(), t.clone())).collect();
    Ok(serialize(&named, Some(metadata))?)
}

/// The largest absolute difference between the burn modules' logits and the converted
/// canonical model's (computed by lrp-core in `precision`) over `sentences`.
///
/// ```
/// use lrp_demo::{model, rng::Rng, task::{Task, TaskConfig}};
/// use lstm_lrp::{Precision, backends};
///
/// let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
/// let device = backends::default_device();
/// let net = model::SentimentNet::from_params(&params, &device)?;
/// let sentences = Task::new(TaskConfig::default())?.sample(10, &mut Rng::new(1));
/// let diff = model::max_logit_difference(&net, &params, &sentences, &device, Precision::F64)?;
/// assert!(diff < 1e-4, "{diff}"); // burn's modules and lrp-core agree
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn max_logit_difference(
    net: &SentimentNet,
    params: &ModelParams,
    sentences: &[Sentence],
    device: &Device,
    precision: Precision,
) -> Result<f64, SentimentError> {
    let model = LstmModel::new(params, device, precision)?;
    let mut worst = 0.0f64;
    for idx in by_length(sentences) {
        let rows: Vec<&[usize]> = idx.iter().map(|&i| sentences[i].ids.as_slice()).collect();
        let ids = ids_tensor(&rows, device);
        let ours = net.forward(ids.clone()).into_data().convert::<f64>();
        let core = model
            .forward(Input::tokens(ids))?
            .into_data()
            .convert::<f64>();
        let (ours, core) = (
            ours.try_to_vec::<f64>().unwrap_or_default(),
            core.try_to_vec::<f64>().unwrap_or_default(),
        );
        if ours.len() != core.len() || ours.is_empty() {
            return Err(SentimentError::Shape(format!(
                "logits of {} and {} values",
                ours.len(),
                core.len()
            )));
        }
        for (a, b) in ours.iter().zip(&core) {
            worst = worst.max((a - b).abs());
        }
    }
    Ok(worst)
}
