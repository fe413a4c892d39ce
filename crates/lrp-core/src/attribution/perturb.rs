//! Forward passes on inputs with some time steps removed: what deletion curves and other
//! perturbation metrics run.

use burn::tensor::{Bool, Tensor, TensorData};

use crate::error::{LrpError, Result};
use crate::input::Input;
use crate::model::LstmModel;
use crate::tensor_ops::from_f64;

/// How a removed time step is taken out of the input.
///
/// ```
/// use burn::tensor::Tensor;
/// use lrp_core::Removal;
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
/// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device);
/// // Two copies: the input unchanged, then with its last step removed.
/// let removed = [false, false, false, false, false, true];
/// let masked = model.forward_removed(x.clone(), &removed, 2, Removal::Mask)?;
/// let masked = masked.try_into_vec_as::<f64>()?; // (N·B, C) = (2, 2)
/// // Masking a last step is the same as not giving it.
/// let short = Tensor::<3>::from_floats([[[1.0], [-0.5]]], &device);
/// let short = model.forward(short)?.try_into_vec_as::<f64>()?;
/// assert!((masked[2] - short[0]).abs() < 1e-12);
/// let zeroed = model.forward_removed(x, &removed, 2, Removal::Zero)?;
/// assert_eq!(zeroed.dims(), [2, 2]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Removal {
    /// The step's input vector (feature vector or embedding row) is set to zeros.
    #[default]
    Zero,
    /// The step is treated as padding: the LSTM skips it and keeps its state.
    Mask,
}

impl LstmModel {
    /// Logits `(N · B, C)` of `copies = N` perturbed copies of `input`: row `n·B + b` is sample
    /// `b` with the steps `t` where `removed[(n·B + b)·T + t]` is true taken out by `removal`.
    ///
    /// # Errors
    /// The input errors of [`LstmModel::forward`], or `removed` of a length other than
    /// `copies · B · T`.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::Removal;
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
    /// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device); // (B, T) = (1, 3)
    /// // Copy n removes the first n steps: a deletion curve in one pass.
    /// let removed: Vec<bool> = (0..4).flat_map(|n| (0..3).map(move |t| t < n)).collect();
    /// let logits = model.forward_removed(x.clone(), &removed, 4, Removal::Zero)?;
    /// let logits = logits.try_into_vec_as::<f64>()?; // (4, 2)
    /// let full = model.forward(x.clone())?.try_into_vec_as::<f64>()?;
    /// assert_eq!(&logits[..2], &full[..]); // copy 0 is the input itself
    /// // 12 flags are not 3 copies × 1 sample × 3 steps.
    /// assert!(model.forward_removed(x, &removed, 3, Removal::Zero).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn forward_removed(
        &self,
        input: impl Into<Input>,
        removed: &[bool],
        copies: usize,
        removal: Removal,
    ) -> Result<Tensor<2>> {
        let prepared = self.prepare(input.into())?;
        let steps = prepared.steps();
        let rows = copies * prepared.batch;
        if removed.len() != rows * steps || copies == 0 {
            return Err(LrpError::InvalidPadding(format!(
                "{} removal flags for {copies} copies of {} samples × {steps} steps",
                removed.len(),
                prepared.batch
            )));
        }
        let x = prepared.full_x.clone();
        let tiled = Tensor::cat(vec![x; copies], 1); // (T, N·B, E)
        // Time-major flags.
        let flags: Vec<bool> = (0..steps * rows)
            .map(|i| removed[(i % rows) * steps + i / rows])
            .collect();
        let mut p = self.replicated(&prepared, copies, tiled.clone());
        match removal {
            Removal::Zero => {
                let keep: Vec<f64> = flags.iter().map(|&r| if r { 0.0 } else { 1.0 }).collect();
                let keep = from_f64(keep, [steps, rows, 1], &tiled.device(), tiled.dtype());
                let x = tiled * keep;
                let (before, after) = p.trimmed;
                p.x = x.clone().slice_dim(0, before..steps - after);
                p.full_x = x;
            }
            Removal::Mask => {
                let (before, after) = p.trimmed;
                let window = before..steps - after;
                let extra: Tensor<2, Bool> =
                    Tensor::from_data(TensorData::new(flags, [steps, rows]), &tiled.device());
                let extra = extra.slice_dim(0, window);
                p.pad = Some(match p.pad.take() {
                    Some(pad) => pad.bool_or(extra),
                    None => extra,
                });
            }
        }
        Ok(self.run(&p, false).logits())
    }
}

impl LstmModel {
    /// `(B, T)` row-major, `true` at the steps of `input` that are real (not padding), after the
    /// model's own masking rules.
    ///
    /// ```
    /// use burn::tensor::Tensor;
    /// use lrp_core::Input;
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
    /// let x = Tensor::<3>::zeros([2, 3, 1], &device);
    /// let real = model.real_steps(Input::features(x).with_lengths(vec![3, 1]))?;
    /// assert_eq!(real, vec![true, true, true, true, false, false]); // (B, T) row-major
    /// # Ok::<(), lrp_core::LrpError>(())
    /// ```
    ///
    /// # Errors
    /// The input errors of [`LstmModel::forward`].
    pub fn real_steps(&self, input: impl Into<Input>) -> Result<Vec<bool>> {
        let prepared = self.prepare(input.into())?;
        Ok(match &prepared.pad_flags {
            Some(flags) => flags.iter().map(|&p| !p).collect(),
            None => vec![true; prepared.batch * prepared.steps()],
        })
    }
}
