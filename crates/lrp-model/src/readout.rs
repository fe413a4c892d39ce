//! How the head reads the last recurrent layer: its final state, one step of its output
//! sequence, or a pooling of it; or at every step (a per-step model).

use serde::{Deserialize, Serialize};

/// What the head reads from the last recurrent layer (the merged output of both directions for
/// a bidirectional layer).
///
/// Padding steps never count: `last` is each sequence's last real step, `mean` and `max` pool
/// over real steps only.
///
/// | readout | framework form | reads |
/// |---|---|---|
/// | `Final` | Keras `return_sequences=False`; PyTorch `h_n` | the final state of each direction: the forward one after the last step, the backward one after `x[0]` |
/// | `Last` | PyTorch `output[:, -1]` | the output at the last step: for a bidirectional layer the backward half has read one token only |
/// | `Mean` | Keras `GlobalAveragePooling1D` (masked mean); PyTorch `output.mean(1)` | the mean over real steps |
/// | `Max` | Keras `GlobalMaxPooling1D`; PyTorch `output.max(1)` | the per-feature maximum over real steps |
/// | `PerStep` | Keras `TimeDistributed(Dense)` or `Dense` on a sequence; a PyTorch head on `output` | every step: one output per step (sequence labelling, forecasting) |
///
/// ```
/// use lrp_model::Readout;
///
/// assert_eq!("last".parse::<Readout>(), Ok(Readout::Last));
/// assert_eq!(Readout::PerStep.to_string(), "per-step");
/// assert_eq!(Readout::default(), Readout::Final);
/// assert!("sum".parse::<Readout>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Readout {
    /// The final state of every direction.
    #[default]
    Final,
    /// The output at each sequence's last real step.
    Last,
    /// The mean of the outputs over real steps.
    Mean,
    /// The per-feature maximum of the outputs over real steps (the first step wins a tie).
    Max,
    /// The head at every step.
    PerStep,
}

impl Readout {
    /// Every readout, in the order of the table above.
    pub const ALL: [Readout; 5] = [
        Readout::Final,
        Readout::Last,
        Readout::Mean,
        Readout::Max,
        Readout::PerStep,
    ];

    /// The name used by the CLI and the Python package.
    pub fn name(self) -> &'static str {
        match self {
            Readout::Final => "final",
            Readout::Last => "last",
            Readout::Mean => "mean",
            Readout::Max => "max",
            Readout::PerStep => "per-step",
        }
    }

    /// Whether the head reads the output sequence (every readout but `Final`).
    pub fn reads_sequence(self) -> bool {
        self != Readout::Final
    }
}

impl std::fmt::Display for Readout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Readout {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Readout::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| format!("unknown readout `{s}` (final, last, mean, max or per-step)"))
    }
}
