//! The model on a device: the canonical parameters uploaded as tensors in the layout the forward
//! and relevance passes want.

use std::sync::OnceLock;

use burn::tensor::{DType, Device, Tensor};

use crate::config::Precision;
use crate::error::{LrpError, Result};
use crate::kernels::{self, Kernels};
use crate::params::{
    Activation, CellWeights, GateActivation, GruWeights, InputLayer, LstmWeights, Matrix,
    MergeMode, ModelParams, Readout, RecurrentLayer,
};
use crate::readout::{Reading, Step};
use crate::tensor_ops::from_f64;

/// A recurrent model (LSTM and GRU layers) on a burn [`Device`], ready to run and explain.
///
/// Built from validated [`ModelParams`]; all tensors are created in the chosen [`Precision`],
/// independent of the device's default dtype, so f32 and f64 models can share a device.
///
/// ```
/// # #![allow(deprecated)]
/// use burn::tensor::{Device, Tensor, TensorData};
/// use lrp_core::{ExplainConfig, LstmModel, LstmWeights, Matrix, ModelParams, Precision};
///
/// // A 1-feature, 1-unit unidirectional LSTM with a 2-class head.
/// let weights = LstmWeights {
///     w_x: Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
///     w_h: Matrix::new(1, 4, vec![0.2, 0.2, 0.2, 0.2])?,
///     b: vec![0.0; 4],
/// };
/// let params = ModelParams::single_layer(weights, None, Matrix::new(1, 2, vec![1.0, -1.0])?, vec![0.0, 0.0])?;
/// let device = Device::flex();
/// let model = lrp_core::LstmModel::new(&params, &device, Precision::F64)?;
///
/// // Batch of one sequence of three steps: x has shape (B, T, E) = (1, 3, 1).
/// let x = Tensor::<3>::from_data(TensorData::new(vec![1.0, -0.5, 2.0], [1, 3, 1]), (&device, Precision::F64.dtype()));
/// let explanation = model.explain(x, &ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0))?;
/// let host = explanation.to_host()?;
/// // Conservation: the relevances plus the rest add up to the explained logit.
/// let total: f64 = host.relevance.iter().sum::<f64>() + host.rest[0];
/// assert!((total - host.explained_logits()[0]).abs() < 1e-12);
/// # Ok::<(), lrp_core::LrpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LstmModel {
    pub(crate) device: Device,
    pub(crate) precision: Precision,
    pub(crate) input: InputTensors,
    pub(crate) layers: Vec<LayerTensors>,
    /// How the head reads the last layer (for a per-step model: the chosen step, if any).
    pub(crate) reading: Reading,
    pub(crate) head: Vec<DenseTensors>,
    pub(crate) num_classes: usize,
    /// `Reading::Last` chosen as a step of a per-step model (not a `Last` readout).
    pub(crate) step_last: bool,
    pub(crate) parallel_directions: bool,
    /// Explain and run large batches as shards in parallel tasks (see
    /// [`LstmModel::with_parallel_samples`]).
    pub(crate) parallel_samples: bool,
    pub(crate) packed_steps: bool,
    /// A backend's fused step kernels for this device and dtype, if one registered them.
    pub(crate) kernels: Option<Kernels>,
    /// `(1, 1)` holding −½: multiplying a strided view by a broadcast tensor takes the backends'
    /// fast binary path, where a scalar operation on a view may not.
    pub(crate) neg_half: Tensor<2>,
}

/// The input layer on the device.
// burn's `Tensor` is a sizeable inline handle; boxing it would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum InputTensors {
    Features {
        size: usize,
        mask_value: Option<f64>,
    },
    Embedding {
        /// `(V, E)`.
        table: Tensor<2>,
        vocab: usize,
        mask_zero: bool,
    },
}

/// One recurrent layer on the device.
#[derive(Debug, Clone)]
pub(crate) struct LayerTensors {
    pub hidden: usize,
    pub input: usize,
    pub merge: MergeMode,
    pub gate_activation: GateActivation,
    /// Keras `go_backwards`: the layer reads its input reversed in time and returns its output
    /// sequence in that reading order.
    pub go_backwards: bool,
    /// The cells' weights.
    pub cell: LayerCell,
}

/// The cells of a layer: every direction is the same kind.
// burn's `Tensor` is a sizeable inline handle; boxing it would only add an indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub(crate) enum LayerCell {
    Lstm(LstmCellTensors),
    Gru(GruCellTensors),
}

impl LayerTensors {
    /// Number of directions (1 or 2).
    pub fn directions(&self) -> usize {
        match &self.cell {
            LayerCell::Lstm(c) => c.dirs.len(),
            LayerCell::Gru(c) => c.dirs.len(),
        }
    }
}

/// The LSTM cells of one layer.
///
/// Internal layout of the gate kernels: gates reordered to i, f, o, g (the three sigmoid gates
/// one contiguous slice) and scaled by −1 (i, f, o) and −2 (g), so that the pre-activations come
/// out as `[−z_i, −z_f, −z_o, −2 z_g]` and one `exp` yields all four gates
/// ([`crate::tensor_ops::lstm_gates`]). The cell candidate's kernels for the relevance pass are
/// kept unscaled.
#[derive(Debug, Clone)]
pub(crate) struct LstmCellTensors {
    /// `(D·H, E)`: the cell candidates' input kernels, transposed, directions stacked by rows,
    /// so the input relevance of every step and direction is one matrix product.
    pub w_x_g_t: Tensor<2>,
    /// `(D·4H, E)`: every gate's input kernel, unscaled, gates in the order i, f, o, g,
    /// transposed, directions stacked by rows: the input relevance under a gate rule other than
    /// `all` (whose gates pass relevance on to `x_t`). Derived on the device at first use (see
    /// [`LstmCellTensors::w_x_gates_t`]).
    w_x_gates_t: OnceLock<Tensor<2>>,
    /// `(1, 4H)`: multiplies the internal pre-activations into the true ones,
    /// `[−1 (i, f, o), −1/2 (g)]`.
    pub unscale: Tensor<2>,
    /// Per direction (forward, then backward).
    pub dirs: Vec<DirectionTensors>,
}

/// The weights of one LSTM direction.
#[derive(Debug, Clone)]
pub(crate) struct DirectionTensors {
    /// `(E, 4H)`, internal layout.
    pub w_x: Tensor<2>,
    /// `(H, 4H)`, internal layout.
    pub w_h: Tensor<2>,
    /// `(1, 4H)`, internal layout.
    pub b: Tensor<2>,
    /// The cell candidate's recurrent kernel, transposed: `(H, H)`.
    pub w_h_g_t: Tensor<2>,
    /// The cell candidate's bias: `(1, H)`.
    pub b_g: Tensor<2>,
    /// Every gate's recurrent kernel, unscaled, gates i, f, o, g, transposed: `(4H, H)`.
    /// Derived on the device at first use (see [`DirectionTensors::w_h_gates_t`]).
    w_h_gates_t: OnceLock<Tensor<2>>,
    /// Every gate's bias, unscaled, gates i, f, o, g: `(1, 4H)`.
    pub b_gates: Tensor<2>,
}

impl LstmCellTensors {
    /// The gate rules' input kernels `(D·4H, E)` (see the field), from the internal ones on
    /// the device: `W_x ⊙ unscale`, transposed, the directions stacked.
    ///
    /// Only the gate rules other than `all` read them. Built with the model, they had cost a
    /// reordered and a transposed copy of every input and recurrent kernel on the host, about
    /// a third of a large model's start-up (`benches/README.md` §7, round 2h). Scaling by −1
    /// and −½ is exact, so these are the values the host copies held, bit for bit.
    pub fn w_x_gates_t(&self) -> &Tensor<2> {
        self.w_x_gates_t.get_or_init(|| {
            stacked_transposed(
                self.dirs
                    .iter()
                    .map(|d| d.w_x.clone().mul(self.unscale.clone())),
            )
        })
    }
}

impl DirectionTensors {
    /// The gate rules' recurrent kernel `(4H, H)` (see the field), from the internal one on the
    /// device, as [`LstmCellTensors::w_x_gates_t`]: `W_h ⊙ unscale`, transposed (a strided
    /// view, which the matrix products read as it is).
    pub fn w_h_gates_t(&self, unscale: &Tensor<2>) -> &Tensor<2> {
        self.w_h_gates_t
            .get_or_init(|| self.w_h.clone().mul(unscale.clone()).transpose())
    }
}

/// The GRU cells of one layer (gate order z, r, n as in the canonical layout).
#[derive(Debug, Clone)]
pub(crate) struct GruCellTensors {
    /// Keras `reset_after` (see [`GruWeights`]).
    pub reset_after: bool,
    /// `(D·H, E)`: the candidates' input kernels `W_n`, transposed, directions stacked by rows
    /// (the input relevance under `all`).
    pub w_x_n_t: Tensor<2>,
    /// `(D·3H, E)`: every gate's input kernel, transposed, directions stacked by rows (the
    /// input relevance under the other gate rules). Derived on the device at first use (see
    /// [`GruCellTensors::w_x_gates_t`]).
    w_x_gates_t: OnceLock<Tensor<2>>,
    /// Per direction (forward, then backward).
    pub dirs: Vec<GruDirectionTensors>,
}

impl GruCellTensors {
    /// The gate rules' input kernels `(D·3H, E)` (see the field): each direction's `W_x`
    /// transposed, the directions stacked. Only the gate rules other than `all` read them, so
    /// they are not built with the model (as for the LSTM's,
    /// [`LstmCellTensors::w_x_gates_t`]); a transpose moves values without changing them.
    pub fn w_x_gates_t(&self) -> &Tensor<2> {
        self.w_x_gates_t
            .get_or_init(|| stacked_transposed(self.dirs.iter().map(|d| d.w_x.clone())))
    }
}

/// The directions' `(E, G)` kernels transposed and stacked by rows: `(D·G, E)`, contiguous.
fn stacked_transposed(kernels: impl Iterator<Item = Tensor<2>>) -> Tensor<2> {
    Tensor::cat(kernels.map(|w| w.transpose()).collect(), 0)
}

/// The weights of one GRU direction.
#[derive(Debug, Clone)]
pub(crate) struct GruDirectionTensors {
    /// `(E, 3H)`.
    pub w_x: Tensor<2>,
    /// `(1, 3H)`: the input bias; without `reset_after` the recurrent bias is added in.
    pub b_x: Tensor<2>,
    /// `(H, 2H)`: the update and reset gates' recurrent kernels.
    pub w_h_zr: Tensor<2>,
    /// `(H, H)`: the candidate's recurrent kernel `U_n`.
    pub w_h_n: Tensor<2>,
    /// `(H, 3H)`: the whole recurrent kernel (one product per step under `reset_after`).
    pub w_h: Tensor<2>,
    /// `(1, 3H)`: the recurrent bias (`reset_after` only; zeros otherwise).
    pub b_h: Tensor<2>,
    /// `(H, H)`: `U_nᵀ`.
    pub w_h_n_t: Tensor<2>,
    /// `(2H, H)`: `[U_z | U_r]ᵀ`.
    pub w_h_zr_t: Tensor<2>,
    /// `(1, 2H)`: the update and reset gates' whole bias `b_x + b_h`.
    pub b_zr: Tensor<2>,
    /// `(1, H)`: the candidate's input bias (`reset_after`), or its whole bias `b_xn + b_hn`.
    pub b_n: Tensor<2>,
    /// `(1, H)`: the candidate's recurrent bias `b_hn` inside the reset product (`reset_after`).
    pub b_hn: Tensor<2>,
}

/// A Dense layer on the device.
#[derive(Debug, Clone)]
pub(crate) struct DenseTensors {
    /// `(D, C)`.
    pub w: Tensor<2>,
    /// `(C, D)`.
    pub w_t: Tensor<2>,
    /// `(1, C)`.
    pub b: Tensor<2>,
    pub inputs: usize,
    pub activation: Activation,
}

impl LstmModel {
    /// Uploads `params` to `device` in `precision`.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use burn::tensor::{Device, Tensor};
    /// use lrp_core::{LstmModel, LstmWeights, Matrix, ModelParams, Precision};
    ///
    /// let lstm = LstmWeights {
    ///     w_x: Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    ///     w_h: Matrix::new(1, 4, vec![0.2; 4])?,
    ///     b: vec![0.0; 4],
    /// };
    /// let head = Matrix::new(1, 2, vec![1.0, -1.0])?;
    /// let params = ModelParams::single_layer(lstm, None, head, vec![0.0; 2])?;
    /// let device = Device::flex();
    /// // An f64 and an f32 copy of the same model, on the same device.
    /// let m64 = LstmModel::new(&params, &device, Precision::F64)?;
    /// let m32 = LstmModel::new(&params, &device, Precision::F32)?;
    /// assert_eq!((m64.num_classes(), m64.feature_size(), m64.reads_tokens()), (2, 1, false));
    /// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device);
    /// let a = m64.forward(x.clone())?.try_into_vec_as::<f64>()?;
    /// let b = m32.forward(x)?.try_into_vec_as::<f64>()?;
    /// assert!((a[0] - b[0]).abs() < 1e-6);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(params: &ModelParams, device: &Device, precision: Precision) -> Result<Self> {
        let dtype = precision.dtype();
        let input = match params.input() {
            InputLayer::Features { size, mask_value } => InputTensors::Features {
                size: *size,
                mask_value: *mask_value,
            },
            InputLayer::Embedding { table, mask_zero } => InputTensors::Embedding {
                table: matrix_tensor(table, device, dtype),
                vocab: table.rows(),
                mask_zero: *mask_zero,
            },
        };
        let layers = params
            .recurrent()
            .iter()
            .map(|layer| upload_layer(layer, device, dtype))
            .collect();
        let head = params
            .head()
            .iter()
            .map(|dense| DenseTensors {
                w: matrix_tensor(&dense.w, device, dtype),
                w_t: matrix_tensor(&dense.w.transpose(), device, dtype),
                b: from_f64(dense.b.clone(), [1, dense.b.len()], device, dtype),
                inputs: dense.w.rows(),
                activation: dense.activation,
            })
            .collect();
        // The backend's kernels for this device, if it registered any (one registry lookup).
        let kernels = kernels::for_device(device, dtype);
        Ok(Self {
            device: device.clone(),
            precision,
            input,
            layers,
            reading: Reading::from_readout(params.readout()),
            head,
            num_classes: params.num_classes(),
            step_last: false,
            parallel_directions: true,
            parallel_samples: kernels.is_some_and(|k| k.0.parallel_samples()),
            packed_steps: true,
            kernels,
            neg_half: from_f64(vec![-0.5], [1, 1], device, dtype),
        })
    }

    /// Whether the two directions of a bidirectional layer run in parallel (the default), as two
    /// rayon tasks.
    ///
    /// The directions are independent until they are merged, and CPU backends run each
    /// element-wise kernel on one core; two tasks keep two cores busy. Results are the same
    /// either way. Turn it off to keep a model to the calling thread.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::ExplainConfig;
    ///
    /// # let lstm = lrp_core::LstmWeights {
    /// #     w_x: lrp_core::Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    /// #     w_h: lrp_core::Matrix::new(1, 4, vec![0.2, 0.2, 0.2, 0.2])?,
    /// #     b: vec![0.0; 4],
    /// # };
    /// # let head = lrp_core::Matrix::new(1, 2, vec![1.0, -1.0])?;
    /// # let params = lrp_core::ModelParams::single_layer(lstm, None, head, vec![0.0, 0.0])?;
    /// # #[allow(deprecated)]
    /// # let device = burn::tensor::Device::flex();
    /// # let model = lrp_core::LstmModel::new(&params, &device, lrp_core::Precision::F64)?;
    /// // `model`: 1 feature, 1 hidden unit, 2 classes, f64 (as in the `LstmModel` example).
    /// let serial = model.clone().with_parallel_directions(false);
    /// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device);
    /// let a = model.explain(x.clone(), &ExplainConfig::new())?.to_host()?;
    /// assert_eq!(a, serial.explain(x, &ExplainConfig::new())?.to_host()?);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn with_parallel_directions(mut self, parallel: bool) -> Self {
        self.parallel_directions = parallel;
        self
    }

    /// Whether [`LstmModel::explain`] and [`LstmModel::forward`] split a large batch into
    /// shards of consecutive samples (of a length group) that run as parallel rayon tasks — the
    /// default on CPU backends whose kernels ask for it (Flex), off elsewhere (a GPU wants one
    /// large batch).
    ///
    /// A bidirectional layer keeps two cores busy with its two directions; a unidirectional
    /// one, or a bidirectional one on more cores, leaves cores waiting for the next small
    /// product of every step. Shards (one per thread the directions leave idle, at most one per
    /// sample) run whole recurrences side by side instead. Every sample's result is the
    /// same either way up to rounding (a product over fewer rows may add its partial sums in
    /// another order): the samples of a batch are independent.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::ExplainConfig;
    ///
    /// # let lstm = lrp_core::LstmWeights {
    /// #     w_x: lrp_core::Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    /// #     w_h: lrp_core::Matrix::new(1, 4, vec![0.2, 0.2, 0.2, 0.2])?,
    /// #     b: vec![0.0; 4],
    /// # };
    /// # let head = lrp_core::Matrix::new(1, 2, vec![1.0, -1.0])?;
    /// # let params = lrp_core::ModelParams::single_layer(lstm, None, head, vec![0.0, 0.0])?;
    /// # #[allow(deprecated)]
    /// # let device = burn::tensor::Device::flex();
    /// # let model = lrp_core::LstmModel::new(&params, &device, lrp_core::Precision::F64)?;
    /// // `model`: 1 feature, 1 hidden unit, 2 classes, f64 (as in the `LstmModel` example).
    /// let one_task = model.clone().with_parallel_samples(false);
    /// let x = Tensor::<3>::from_floats([[[0.5], [-1.0]]; 96], &device); // (B, T, E) = (96, 2, 1)
    /// let a = model.explain(x.clone(), &ExplainConfig::new())?.to_host()?;
    /// assert_eq!(a, one_task.explain(x, &ExplainConfig::new())?.to_host()?);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn with_parallel_samples(mut self, parallel: bool) -> Self {
        self.parallel_samples = parallel;
        self
    }

    /// Whether a padded batch's recurrences compute only the real rows of each step (default
    /// `true`): [`LstmModel::explain`] sorts a padded batch by length (or splits one that mixes
    /// pre- and post-padding into groups) so that every step's real samples come first, and
    /// computes just those, as PyTorch's packed sequences do. With `false` every row of every
    /// step is computed and the padding masked — the same results up to rounding, at the cost
    /// of the padded positions (for benchmarks and for comparing the two).
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::{ExplainConfig, Input};
    ///
    /// # let lstm = lrp_core::LstmWeights {
    /// #     w_x: lrp_core::Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    /// #     w_h: lrp_core::Matrix::new(1, 4, vec![0.2, 0.2, 0.2, 0.2])?,
    /// #     b: vec![0.0; 4],
    /// # };
    /// # let head = lrp_core::Matrix::new(1, 2, vec![1.0, -1.0])?;
    /// # let params = lrp_core::ModelParams::single_layer(lstm, None, head, vec![0.0, 0.0])?;
    /// # #[allow(deprecated)]
    /// # let device = burn::tensor::Device::flex();
    /// # let model = lrp_core::LstmModel::new(&params, &device, lrp_core::Precision::F64)?;
    /// let masked = model.clone().with_packed_steps(false);
    /// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]], [[0.5], [0.0], [0.0]]], &device);
    /// let input = || Input::features(x.clone()).with_lengths(vec![3, 1]);
    /// let a = model.explain(input(), &ExplainConfig::new())?.to_host()?;
    /// let b = masked.explain(input(), &ExplainConfig::new())?.to_host()?;
    /// for (x, y) in a.relevance.iter().zip(&b.relevance) {
    ///     assert!((x - y).abs() < 1e-12);
    /// }
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn with_packed_steps(mut self, packed: bool) -> Self {
        self.packed_steps = packed;
        self
    }

    /// Whether the cells' steps use the fused kernels a backend registered for this device
    /// (default: yes, when there are any; see [`crate::kernels`]). `false` runs every step as
    /// tensor operations — the same results up to the rounding of `exp` — for benchmarks and
    /// for checking the kernels against the tensor path. Turning it on again looks the kernels up
    /// anew.
    ///
    /// ```
    /// # let lstm = lrp_core::LstmWeights {
    /// #     w_x: lrp_core::Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    /// #     w_h: lrp_core::Matrix::new(1, 4, vec![0.2, 0.2, 0.2, 0.2])?,
    /// #     b: vec![0.0; 4],
    /// # };
    /// # let head = lrp_core::Matrix::new(1, 2, vec![1.0, -1.0])?;
    /// # let params = lrp_core::ModelParams::single_layer(lstm, None, head, vec![0.0, 0.0])?;
    /// # #[allow(deprecated)]
    /// # let device = burn::tensor::Device::flex();
    /// # let model = lrp_core::LstmModel::new(&params, &device, lrp_core::Precision::F64)?;
    /// let tensor_ops_only = model.with_fused_kernels(false);
    /// assert_eq!(tensor_ops_only.fused_kernels(), None);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn with_fused_kernels(mut self, fused: bool) -> Self {
        self.kernels = fused
            .then(|| kernels::for_device(&self.device, self.precision.dtype()))
            .flatten();
        self
    }

    /// The name of the fused kernels the model's steps use, if any (see
    /// [`LstmModel::with_fused_kernels`]).
    pub fn fused_kernels(&self) -> Option<&'static str> {
        self.kernels.map(|k| k.0.name())
    }

    /// The device the model lives on.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    ///
    /// # let lstm = lrp_core::LstmWeights {
    /// #     w_x: lrp_core::Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    /// #     w_h: lrp_core::Matrix::new(1, 4, vec![0.2, 0.2, 0.2, 0.2])?,
    /// #     b: vec![0.0; 4],
    /// # };
    /// # let head = lrp_core::Matrix::new(1, 2, vec![1.0, -1.0])?;
    /// # let params = lrp_core::ModelParams::single_layer(lstm, None, head, vec![0.0, 0.0])?;
    /// # #[allow(deprecated)]
    /// # let device = burn::tensor::Device::flex();
    /// # let model = lrp_core::LstmModel::new(&params, &device, lrp_core::Precision::F64)?;
    /// // `model`: 1 feature, 1 hidden unit, 2 classes, f64 (as in the `LstmModel` example).
    /// let x = Tensor::<3>::zeros([1, 4, model.feature_size()], model.device());
    /// assert_eq!(model.forward(x)?.dims(), [1, model.num_classes()]);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The precision the model computes in.
    ///
    /// ```
    /// # let lstm = lrp_core::LstmWeights {
    /// #     w_x: lrp_core::Matrix::new(1, 4, vec![0.5, 0.1, 0.9, 0.3])?,
    /// #     w_h: lrp_core::Matrix::new(1, 4, vec![0.2, 0.2, 0.2, 0.2])?,
    /// #     b: vec![0.0; 4],
    /// # };
    /// # let head = lrp_core::Matrix::new(1, 2, vec![1.0, -1.0])?;
    /// # let params = lrp_core::ModelParams::single_layer(lstm, None, head, vec![0.0, 0.0])?;
    /// # #[allow(deprecated)]
    /// # let device = burn::tensor::Device::flex();
    /// # let model = lrp_core::LstmModel::new(&params, &device, lrp_core::Precision::F64)?;
    /// // `model`: 1 feature, 1 hidden unit, 2 classes, f64 (as in the `LstmModel` example).
    /// assert_eq!(model.precision(), lrp_core::Precision::F64);
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// Number of classes C (outputs of the head per sample, or per step of a per-step model).
    pub fn num_classes(&self) -> usize {
        self.num_classes
    }

    /// How the head reads the last recurrent layer (`PerStep` for a per-step model, also when
    /// one of its steps is chosen, see [`LstmModel::at_step`]).
    pub fn readout(&self) -> Readout {
        match self.reading {
            Reading::Final => Readout::Final,
            Reading::Last => Readout::Last,
            Reading::Mean => Readout::Mean,
            Reading::Max => Readout::Max,
            Reading::At(_) | Reading::PerStep => Readout::PerStep,
        }
    }

    /// The step of a per-step model that [`LstmModel::forward`] and [`LstmModel::explain`]
    /// read, once chosen with [`LstmModel::at_step`].
    pub fn step(&self) -> Option<Step> {
        match (self.reading, self.step_last) {
            (Reading::At(k), _) => Some(Step::At(k)),
            (Reading::Last, true) => Some(Step::Last),
            _ => None,
        }
    }

    /// The same per-step model read at one step: each sequence's last real position, or one
    /// position of the output sequence (0-based, in the order the model returns its outputs).
    /// The result is a model with one output vector per sequence, which [`LstmModel::forward`],
    /// [`LstmModel::explain`] and [`LstmModel::attribute`] treat like any classifier.
    ///
    /// # Errors
    /// [`LrpError::NotPerStep`] for a model whose head does not read every step.
    pub fn at_step(&self, step: Step) -> Result<LstmModel> {
        if self.readout() != Readout::PerStep {
            return Err(LrpError::NotPerStep {
                readout: self.readout().to_string(),
            });
        }
        let mut model = self.clone();
        (model.reading, model.step_last) = match step {
            Step::Last => (Reading::Last, true),
            Step::At(k) => (Reading::At(k), false),
        };
        Ok(model)
    }

    /// Feature size E of the vectors the first recurrent layer reads (the embedding size for token
    /// models).
    pub fn feature_size(&self) -> usize {
        self.layers[0].input
    }

    /// Whether the model reads token ids (it has an embedding layer).
    pub fn reads_tokens(&self) -> bool {
        matches!(self.input, InputTensors::Embedding { .. })
    }
}

fn matrix_tensor(m: &Matrix, device: &Device, dtype: DType) -> Tensor<2> {
    from_f64(m.data().to_vec(), m.shape(), device, dtype)
}

/// Canonical gate blocks i, f, c, o → internal i, f, o, g, scaled by −1, −1, −1, −2 (exact),
/// appended to `out`.
fn push_internal_gate_order(row: &[f64], h: usize, out: &mut Vec<f64>) {
    out.extend(row[..2 * h].iter().chain(&row[3 * h..4 * h]).map(|v| -v));
    out.extend(row[2 * h..3 * h].iter().map(|v| -2.0 * v));
}

/// Canonical gate blocks i, f, c, o → i, f, o, g, unscaled (the gate rules' layout), appended
/// to `out`.
fn push_relevance_gate_order(row: &[f64], h: usize, out: &mut Vec<f64>) {
    out.extend_from_slice(&row[..2 * h]);
    out.extend_from_slice(&row[3 * h..4 * h]);
    out.extend_from_slice(&row[2 * h..3 * h]);
}

/// Every row of `m` (`4H` columns) rearranged by `push`. The output is allocated once: the
/// weights of a large model are tens of MB, and growing the vector as it fills (what collecting
/// a flattened iterator does) copied them over and over at start-up.
fn rows_reordered(m: &Matrix, h: usize, push: fn(&[f64], usize, &mut Vec<f64>)) -> Vec<f64> {
    let mut out = Vec::with_capacity(m.data().len());
    m.data()
        .chunks(m.cols())
        .for_each(|row| push(row, h, &mut out));
    out
}

fn reorder_columns(m: &Matrix, h: usize) -> Vec<f64> {
    rows_reordered(m, h, push_internal_gate_order)
}

/// The bias in the model's internal layout.
fn internal_bias(b: &[f64], h: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(b.len());
    push_internal_gate_order(b, h, &mut out);
    out
}

/// The bias in the gate rules' layout.
fn relevance_bias(b: &[f64], h: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(b.len());
    push_relevance_gate_order(b, h, &mut out);
    out
}

fn upload_layer(layer: &RecurrentLayer, device: &Device, dtype: DType) -> LayerTensors {
    let weights: Vec<&CellWeights> = core::iter::once(&layer.forward)
        .chain(layer.backward.as_ref())
        .collect();
    let cell = match &layer.forward {
        CellWeights::Lstm(_) => {
            let dirs: Vec<&LstmWeights> = weights.iter().filter_map(|w| w.as_lstm()).collect();
            LayerCell::Lstm(upload_lstm(&dirs, device, dtype))
        }
        CellWeights::Gru(first) => {
            let dirs: Vec<&GruWeights> = weights.iter().filter_map(|w| w.as_gru()).collect();
            LayerCell::Gru(upload_gru(&dirs, first.reset_after, device, dtype))
        }
    };
    LayerTensors {
        hidden: layer.hidden_size(),
        input: layer.input_size(),
        merge: layer.merge,
        gate_activation: layer.gate_activation,
        go_backwards: layer.go_backwards,
        cell,
    }
}

fn upload_lstm(weights: &[&LstmWeights], device: &Device, dtype: DType) -> LstmCellTensors {
    let h = weights[0].hidden_size();
    let e = weights[0].input_size();
    let d = weights.len();
    let w_x_g_t: Vec<f64> = weights
        .iter()
        .map(|w| w.w_x.columns(2 * h..3 * h).transpose().into_data())
        .collect::<Vec<_>>()
        .concat();
    let dirs = weights
        .iter()
        .map(|w| DirectionTensors {
            w_x: from_f64(reorder_columns(&w.w_x, h), [e, 4 * h], device, dtype),
            w_h: from_f64(reorder_columns(&w.w_h, h), [h, 4 * h], device, dtype),
            b: from_f64(internal_bias(&w.b, h), [1, 4 * h], device, dtype),
            w_h_g_t: from_f64(
                w.w_h.columns(2 * h..3 * h).transpose().into_data(),
                [h, h],
                device,
                dtype,
            ),
            b_g: from_f64(w.b[2 * h..3 * h].to_vec(), [1, h], device, dtype),
            w_h_gates_t: OnceLock::new(),
            b_gates: from_f64(relevance_bias(&w.b, h), [1, 4 * h], device, dtype),
        })
        .collect();
    let unscale: Vec<f64> = (0..4 * h)
        .map(|j| if j < 3 * h { -1.0 } else { -0.5 })
        .collect();
    LstmCellTensors {
        w_x_g_t: from_f64(w_x_g_t, [d * h, e], device, dtype),
        w_x_gates_t: OnceLock::new(),
        unscale: from_f64(unscale, [1, 4 * h], device, dtype),
        dirs,
    }
}

fn upload_gru(
    weights: &[&GruWeights],
    reset_after: bool,
    device: &Device,
    dtype: DType,
) -> GruCellTensors {
    let h = weights[0].hidden_size();
    let e = weights[0].input_size();
    let d = weights.len();
    let vector = |v: Vec<f64>| {
        let n = v.len();
        from_f64(v, [1, n], device, dtype)
    };
    let dirs = weights
        .iter()
        .map(|w| {
            let b_x: Vec<f64> = if reset_after {
                w.b_x.clone()
            } else {
                w.b_x.iter().zip(&w.b_h).map(|(a, b)| a + b).collect()
            };
            let b_zr: Vec<f64> = w.b_x[..2 * h]
                .iter()
                .zip(&w.b_h[..2 * h])
                .map(|(a, b)| a + b)
                .collect();
            let b_n: Vec<f64> = if reset_after {
                w.b_x[2 * h..].to_vec()
            } else {
                w.b_x[2 * h..]
                    .iter()
                    .zip(&w.b_h[2 * h..])
                    .map(|(a, b)| a + b)
                    .collect()
            };
            let b_h = if reset_after {
                w.b_h.clone()
            } else {
                vec![0.0; 3 * h]
            };
            GruDirectionTensors {
                w_x: from_f64(w.w_x.data().to_vec(), [e, 3 * h], device, dtype),
                b_x: vector(b_x),
                w_h_zr: from_f64(
                    w.w_h.columns(0..2 * h).into_data(),
                    [h, 2 * h],
                    device,
                    dtype,
                ),
                w_h_n: from_f64(
                    w.w_h.columns(2 * h..3 * h).into_data(),
                    [h, h],
                    device,
                    dtype,
                ),
                w_h: from_f64(w.w_h.data().to_vec(), [h, 3 * h], device, dtype),
                b_h: vector(b_h),
                w_h_n_t: from_f64(
                    w.w_h.columns(2 * h..3 * h).transpose().into_data(),
                    [h, h],
                    device,
                    dtype,
                ),
                w_h_zr_t: from_f64(
                    w.w_h.columns(0..2 * h).transpose().into_data(),
                    [2 * h, h],
                    device,
                    dtype,
                ),
                b_zr: vector(b_zr),
                b_n: vector(b_n),
                b_hn: vector(w.b_h[2 * h..].to_vec()),
            }
        })
        .collect();
    let w_x_n_t: Vec<f64> = weights
        .iter()
        .map(|w| w.w_x.columns(2 * h..3 * h).transpose().into_data())
        .collect::<Vec<_>>()
        .concat();
    GruCellTensors {
        reset_after,
        w_x_n_t: from_f64(w_x_n_t, [d * h, e], device, dtype),
        w_x_gates_t: OnceLock::new(),
        dirs,
    }
}
