//! Forward passes on inputs with some time steps removed: what deletion curves and other
//! perturbation metrics run.

use burn::tensor::{Bool, Tensor, TensorData};

use crate::error::{LrpError, Result};
use crate::input::Input;
use crate::model::LstmModel;
use crate::tensor_ops::from_f64;

/// How a removed time step is taken out of the input.
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
