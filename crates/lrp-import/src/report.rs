//! What an importer found and did: for `lstm-lrp inspect` and for users checking an import.

use lrp_model::ModelParams;

/// A model read from a file, with an account of the conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportedModel {
    /// The model in the canonical layout.
    pub params: ModelParams,
    /// How it was read.
    pub report: ImportReport,
    /// The file format, when read by [`crate::read_model`].
    pub format: Option<crate::ModelFormat>,
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
    /// Everything else worth knowing: skipped layers, the skipped final activation.
    pub notes: Vec<String>,
    /// Assumptions made where the file does not say, which change the explanation if wrong
    /// (a PyTorch head's readout), and known departures from the framework's own output (Keras'
    /// `GlobalMaxPooling1D` on a masked model): a user interface shows these, one line each.
    pub warnings: Vec<String>,
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
        if !self.warnings.is_empty() {
            writeln!(f, "assumed:")?;
            for w in &self.warnings {
                writeln!(f, "  {w}")?;
            }
        }
        Ok(())
    }
}

/// One line describing each layer of `params`.
pub fn describe_layers(params: &ModelParams) -> Vec<String> {
    use lrp_model::{Activation, InputLayer, MergeMode, Readout};
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
    let n = params.recurrent().len();
    let readout = params.readout();
    for (k, layer) in params.recurrent().iter().enumerate() {
        let cell = layer.kind();
        let kind = match (&layer.backward, layer.merge) {
            (None, _) if layer.go_backwards => format!("{cell}, go_backwards"),
            (None, _) => cell.to_string(),
            (Some(_), MergeMode::Concat) => format!("bidirectional {cell} (concat)"),
            (Some(_), MergeMode::Sum) => format!("bidirectional {cell} (sum)"),
            (Some(_), MergeMode::Ave) => format!("bidirectional {cell} (ave)"),
        };
        let returns = if k + 1 < n || readout.reads_sequence() {
            "sequence"
        } else {
            "final state"
        };
        lines.push(format!(
            "recurrent[{k}]: {kind}, {} → {} units per direction, output {} ({returns}), gates {:?}",
            layer.input_size(),
            layer.hidden_size(),
            layer.output_size(),
            layer.gate_activation
        ));
    }
    lines.push(match readout {
        Readout::Final => "readout: final state (h_n)".to_string(),
        Readout::Last => "readout: output at each sequence's last real step".to_string(),
        Readout::Mean => "readout: mean over the real steps".to_string(),
        Readout::Max => "readout: per-feature max over the real steps".to_string(),
        Readout::PerStep => "readout: the head at every step (one output per step)".to_string(),
    });
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
