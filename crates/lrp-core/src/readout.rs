//! Reading the last recurrent layer: which step of its output sequence — or which pooling of it
//! — the head sees, and how the relevance of what the head saw flows back onto the sequence.
//!
//! Only real steps count: `Last` is each sequence's last real position, `Mean` and `Max` pool
//! over real steps. Positions are those of the sequence the head reads, in the last layer's
//! frame (after a `go_backwards` layer: its reading order, as Keras returns it).
//!
//! Relevance: a selection (`Last`, a chosen step) passes the relevance of the selected vector
//! to that step unchanged; `Max` is winner-take-all per feature (Bach et al. 2015, "On
//! Pixel-Wise Explanations for Non-Linear Classifier Decisions by Layer-Wise Relevance
//! Propagation", PLoS ONE, §4: max-pooling passes all relevance to the maximal input), the first
//! real position winning a tie; `Mean` is a linear map and takes the ε-rule
//! ([`crate::rules::epsilon`]) with weights `1/n` and no bias, `N = n` (the real steps each unit
//! averages). All three conserve the relevance exactly at `eps = 0`.

use burn::tensor::{Bool, Int, Tensor};

use crate::params::Readout;
use crate::rules::epsilon::EpsilonRule;

/// Which output of a per-step model is explained.
///
/// ```
/// use lrp_core::Step;
///
/// assert_eq!("last".parse::<Step>(), Ok(Step::Last));
/// assert_eq!("3".parse::<Step>(), Ok(Step::At(3)));
/// assert_eq!(Step::At(3).to_string(), "3");
/// assert!("-1".parse::<Step>().is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// Each sequence's last real position.
    Last,
    /// This position (0-based) of the output sequence, for every sequence.
    At(usize),
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Last => f.write_str("last"),
            Step::At(k) => write!(f, "{k}"),
        }
    }
}

impl std::str::FromStr for Step {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "last" => Ok(Step::Last),
            other => other.parse::<usize>().map(Step::At).map_err(|_| {
                format!("`{other}` is not a step (give `last` or a position 0, 1, …)")
            }),
        }
    }
}

/// What the head reads, on a model: its readout, or for a per-step model the chosen step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reading {
    Final,
    Last,
    Mean,
    Max,
    /// One position of a per-step model's output sequence.
    At(usize),
    /// Every position: a per-step model before a step is chosen.
    PerStep,
}

impl Reading {
    pub fn from_readout(readout: Readout) -> Self {
        match readout {
            Readout::Final => Reading::Final,
            Readout::Last => Reading::Last,
            Readout::Mean => Reading::Mean,
            Readout::Max => Reading::Max,
            Readout::PerStep => Reading::PerStep,
        }
    }

    /// Whether the head reads the last layer's output sequence.
    pub fn reads_sequence(self) -> bool {
        self != Reading::Final
    }
}

/// How the head read the sequence, for the relevance pass.
#[derive(Debug, Clone)]
// One value per pass, never in a collection: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ReadoutTrace {
    /// One position per sample: a `(T, B, 1)` one-hot weight.
    Select(Tensor<3>),
    /// The per-feature winners: a `(T, B, out)` one-hot along time.
    Winner(Tensor<3>),
    /// The mean: the sequence `(T, B, out)`, the weights `1/n` at real steps `(T, B, 1)`, the
    /// real steps as 1/0 `(T, B, 1)`, `n` per sample `(1, B, 1)` and the pooled vectors
    /// `(B, out)`.
    Mean {
        seq: Tensor<3>,
        weights: Tensor<3>,
        real: Tensor<3>,
        counts: Tensor<3>,
        pooled: Tensor<2>,
    },
}

/// `(T, B, 1)`: 1 at real steps, 0 at padding, in `seq`'s dtype.
fn real_steps(seq: &Tensor<3>, pad: Option<&Tensor<2, Bool>>) -> Tensor<3> {
    let [t, b, _] = seq.dims();
    let ones = seq.clone().slice_dim(2, 0..1).ones_like();
    match pad {
        Some(p) => ones.mask_fill(p.clone().reshape([t, b, 1]), 0.0),
        None => ones,
    }
}

/// `(T, B, 1)` one-hot of each sample's last real position.
fn last_real(seq: &Tensor<3>, pad: Option<&Tensor<2, Bool>>) -> Tensor<3> {
    let [t, b, _] = seq.dims();
    let device = seq.device();
    let zero = seq.clone().slice_dim(2, 0..1).zeros_like();
    let positions: Tensor<2, Int> = Tensor::<1, Int>::arange(0..t as i64, &device)
        .reshape([t, 1])
        .expand([t, b]);
    let last: Tensor<2, Int> = match pad {
        // (position + 1) at real steps, 0 at padding: the maximum is the last real position + 1.
        Some(p) => positions
            .clone()
            .add_scalar(1)
            .mask_fill(p.clone(), 0)
            .max_dim(0)
            .sub_scalar(1),
        None => positions.clone().slice_dim(0, t - 1..t),
    };
    let hit = positions.equal(last.expand([t, b])).reshape([t, b, 1]);
    zero.mask_fill(hit, 1.0)
}

/// The vectors the head reads `(B, out)` from the sequence `seq (T, B, out)` with padding `pad`.
pub(crate) fn forward(
    reading: &Reading,
    seq: Tensor<3>,
    pad: Option<&Tensor<2, Bool>>,
) -> (Tensor<2>, ReadoutTrace) {
    let [t, b, out] = seq.dims();
    let select = |weight: Tensor<3>| {
        let read = seq.clone().mul(weight.clone()).sum_dim(0).reshape([b, out]);
        (read, ReadoutTrace::Select(weight))
    };
    match reading {
        Reading::Last => select(last_real(&seq, pad)),
        Reading::At(k) => {
            let k = (*k).min(t - 1);
            let weight = seq.clone().slice_dim(2, 0..1).zeros_like();
            let ones = weight.clone().slice_dim(0, k..k + 1).ones_like();
            select(weight.slice_assign([k..k + 1, 0..b, 0..1], ones))
        }
        Reading::Mean => {
            let real = real_steps(&seq, pad);
            let counts = real.clone().sum_dim(0); // (1, B, 1)
            let weights = real.clone().div(counts.clone());
            let pooled = seq
                .clone()
                .mul(weights.clone())
                .sum_dim(0)
                .reshape([b, out]);
            (
                pooled.clone(),
                ReadoutTrace::Mean {
                    seq,
                    weights,
                    real,
                    counts,
                    pooled,
                },
            )
        }
        Reading::Max => {
            let masked = match pad {
                Some(p) => seq.clone().mask_fill(
                    p.clone().reshape([t, b, 1]).expand([t, b, out]),
                    f64::NEG_INFINITY,
                ),
                None => seq.clone(),
            };
            let max = masked.clone().max_dim(0); // (1, B, out)
            let hits = masked.equal(max.clone().expand([t, b, out]));
            // The first hit along time wins a tie.
            let first = hits.clone().int().cumsum(0).equal_elem(1).bool_and(hits);
            let winner = seq.zeros_like().mask_fill(first, 1.0);
            (max.reshape([b, out]), ReadoutTrace::Winner(winner))
        }
        Reading::Final | Reading::PerStep => {
            unreachable!("the final state and per-step models are not read through a readout")
        }
    }
}

/// The relevance `(T, B, out)` of the sequence, given the relevance `r (B, out)` of what the
/// head read; also the relevance absorbed at zero denominators (the mean at `eps = 0`), `(B)`.
pub(crate) fn relevance(
    trace: &ReadoutTrace,
    r: Tensor<2>,
    rule: EpsilonRule,
) -> (Tensor<3>, Option<Tensor<1>>) {
    let [b, out] = r.dims();
    let spread = |weight: &Tensor<3>| weight.clone().mul(r.clone().reshape([1, b, out]));
    match trace {
        ReadoutTrace::Select(weight) | ReadoutTrace::Winner(weight) => (spread(weight), None),
        ReadoutTrace::Mean {
            seq,
            weights,
            real,
            counts,
            pooled,
        } => {
            let (q, lost) = rule.quotient(r, pooled.clone());
            let q3 = q.clone().reshape([1, b, out]);
            let mut r_seq = seq.clone().mul(weights.clone()).mul(q3.clone());
            // The stabiliser's share of each unit, over its n real inputs (no bias).
            if rule.eps != 0.0 && rule.bias_factor != 0.0 {
                let share = rule
                    .stabiliser(pooled)
                    .reshape([1, b, out])
                    .mul(q3)
                    .div(counts.clone())
                    .mul_scalar(rule.bias_factor);
                r_seq = r_seq.add(real.clone().mul(share));
            }
            (r_seq, lost.map(|l| l.reshape([b])))
        }
    }
}
