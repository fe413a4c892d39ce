//! What an importer found and did: for `lstm-lrp inspect` and for users checking an import.

use lrp_model::ModelParams;

/// A model read from a file, with an account of the conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedModel {
    /// The model in the canonical layout.
    pub params: ModelParams,
    /// How it was read.
    pub report: ImportReport,
}

/// How a model file was interpreted.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportReport {
    /// The detected format, e.g. `Keras 3 .keras (keras 3.15.1)`.
    pub format: String,
    /// One line per layer of the model, input first.
    pub layers: Vec<String>,
    /// The layout conversions applied (gate order, transposes, bias sums).
    pub conversions: Vec<String>,
    /// Everything else worth knowing: skipped layers, the skipped final activation, assumptions
    /// made where the file does not say.
    pub notes: Vec<String>,
}

impl core::fmt::Display for ImportReport {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        writeln!(f, "format: {}", self.format)?;
        writeln!(f, "layers:")?;
        for l in &self.layers {
            writeln!(f, "  {l}")?;
        }
        if !self.conversions.is_empty() {
            writeln!(f, "conversions:")?;
            for c in &self.conversions {
                writeln!(f, "  {c}")?;
            }
        }
        if !self.notes.is_empty() {
            writeln!(f, "notes:")?;
            for n in &self.notes {
                writeln!(f, "  {n}")?;
            }
        }
        Ok(())
    }
}

/// One line describing each layer of `params`.
pub fn describe_layers(params: &ModelParams) -> Vec<String> {
    use lrp_model::{Activation, InputLayer, MergeMode};
    let mut lines = Vec::new();
    match params.input() {
        InputLayer::Features { size, mask_value } => lines.push(match mask_value {
            Some(v) => format!("input: {size} features per step, Masking(mask_value={v})"),
            None => format!("input: {size} features per step"),
        }),
        InputLayer::Embedding { table, mask_zero } => lines.push(format!(
            "embedding: {} token ids → {} dimensions{}",
            table.rows(),
            table.cols(),
            if *mask_zero {
                ", mask_zero (id 0 is padding)"
            } else {
                ""
            }
        )),
    }
    let n = params.lstm().len();
    for (k, layer) in params.lstm().iter().enumerate() {
        let kind = match (&layer.backward, layer.merge) {
            (None, _) => "LSTM".to_string(),
            (Some(_), MergeMode::Concat) => "bidirectional LSTM (concat)".to_string(),
            (Some(_), MergeMode::Sum) => "bidirectional LSTM (sum)".to_string(),
            (Some(_), MergeMode::Ave) => "bidirectional LSTM (ave)".to_string(),
        };
        let returns = if k + 1 < n { "sequence" } else { "final state" };
        lines.push(format!(
            "lstm[{k}]: {kind}, {} → {} units per direction, output {} ({returns}), gates {:?}",
            layer.input_size(),
            layer.hidden_size(),
            layer.output_size(),
            layer.gate_activation
        ));
    }
    let last = params.head().len() - 1;
    for (k, dense) in params.head().iter().enumerate() {
        let act = match dense.activation {
            Activation::Linear => "linear",
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
            Activation::Softmax => "softmax",
            Activation::Sigmoid => "sigmoid",
        };
        let skipped = if k == last && dense.activation != Activation::Linear {
            " (skipped: the explained score is the logit)"
        } else {
            ""
        };
        lines.push(format!(
            "dense[{k}]: {} → {}, activation {act}{skipped}",
            dense.w.rows(),
            dense.w.cols()
        ));
    }
    lines.push(format!("{} parameters", params.num_parameters()));
    lines
}
