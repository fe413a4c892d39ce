//! Settings of an explanation and of the numeric precision.

use burn::config::Config;
use burn::tensor::{DType, FloatDType};
use serde::{Deserialize, Serialize};

use crate::error::{LrpError, Result};

/// Which output score is explained for each sample.
///
/// ```
/// use burn::tensor::Tensor;
/// use lrp_core::{ExplainConfig, Target};
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
/// // Two sequences of two steps: (B, T, E) = (2, 2, 1).
/// let x = Tensor::<3>::from_floats([[[1.0], [2.0]], [[-1.0], [0.5]]], &device);
/// let explain = |target| model.explain(x.clone(), &ExplainConfig::new().with_target(target));
/// assert_eq!(explain(Target::PerSample(vec![1, 0]))?.to_host()?.target, vec![1, 0]);
/// assert_eq!(explain(Target::Class(1))?.to_host()?.target, vec![1, 1]);
/// assert!(explain(Target::Class(2)).is_err()); // the model has 2 classes
/// # Ok::<(), lrp_core::LrpError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// The class with the highest logit (the model's prediction; ties go to the lowest index).
    #[default]
    Predicted,
    /// The same class for every sample.
    Class(usize),
    /// One class per sample, in batch order.
    PerSample(Vec<usize>),
}

/// Settings of the LRP pass.
///
/// The ε-rule used on every linear map redistributes the relevance `R_j` of an output
/// `z_j = Σ_i x_i w_ij + b_j` onto its `N` inputs as
///
/// ```text
/// R_i = Σ_j (x_i w_ij + bias_factor · (b_j + eps · s_j) / N) / (z_j + eps · s_j) · R_j,
/// s_j = +1 if z_j >= 0 else -1
/// ```
///
/// With `eps = 0` and `bias_factor = 1` the relevance is conserved: the input relevances plus
/// the `rest` left on the initial LSTM states add up to the explained logit.
///
/// ```
/// use lrp_core::{ExplainConfig, Target};
/// let config = ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0).with_target(Target::Class(2));
/// assert_eq!(config.eps, 0.0);
/// ```
#[derive(Config, Debug, PartialEq)]
pub struct ExplainConfig {
    /// Stabiliser ε ≥ 0 added to every denominator, away from zero. Larger values absorb more
    /// relevance and give smoother explanations. With `eps = 0`, a denominator that is exactly 0
    /// passes no relevance (its quotient is defined as 0) instead of producing NaN; that
    /// relevance is reported in `rest`, so conservation still holds.
    #[config(default = 1e-3)]
    pub eps: f64,
    /// Share of the bias and stabiliser terms redistributed to the inputs (0 = none, the
    /// references' recommendation; 1 = all, which makes the relevance conserved).
    #[config(default = 0.0)]
    pub bias_factor: f64,
    /// The class explained for each sample.
    #[config(default = "Target::Predicted")]
    pub target: Target,
    /// How the relevance of a gate ⊙ signal product is split (see [`GateRule`]).
    #[config(default = "GateRule::All")]
    pub gate_rule: GateRule,
}

/// The rule for the LSTM's products of a gate and a signal: `f ⊙ c_{t−1}`, `i ⊙ g` and
/// `o ⊙ tanh(c_t)`. The variants are those compared by Arras, Osman, Müller and Samek (2019),
/// "Evaluating Recurrent Neural Network Explanations", BlackboxNLP (arXiv:1904.11829), §3, and
/// Arras et al. (2019), "Explaining and Interpreting LSTMs", LNCS 11700, §11.3.
///
/// For a product `z = z_g · z_s` of a gate value `z_g` and a signal value `z_s` with relevance
/// `R`:
///
/// | rule | gate receives | signal receives |
/// |---|---|---|
/// | `all` | 0 | `R` |
/// | `prop` | `z_g / (z_g + z_s) · R` | `z_s / (z_g + z_s) · R` |
/// | `abs` | `\|z_g\| / (\|z_g\| + \|z_s\|) · R` | `\|z_s\| / (\|z_g\| + \|z_s\|) · R` |
/// | `half` | `R / 2` | `R / 2` |
///
/// `prop` and `abs` are stabilised like the ε-rule (they are the ε-rule of the two-input sum
/// `z_g + z_s`, resp. `|z_g| + |z_s|`, with `N = 2`): the denominator gets `eps · s`, and
/// `bias_factor` redistributes the stabiliser's share, half to each factor, so that at
/// `eps = 0`, `bias_factor = 1` everything is conserved; a zero denominator at `eps = 0`
/// passes nothing and its relevance goes to `rest`. The relevance a gate receives passes
/// through its activation unchanged to the gate's pre-activation `z = x_t W_x + h_{t−1} W_h + b`
/// and on to `x_t` and `h_{t−1}` by the ε-rule on that gate's weights (`N = E + H`), exactly as
/// the cell candidate's does. `all` is the references' rule and the default; with it the gates'
/// weights never enter the relevance pass.
///
/// Every rule conserves the relevance at `eps = 0`, `bias_factor = 1`:
///
/// ```
/// use burn::tensor::Tensor;
/// use lrp_core::{ExplainConfig, GateRule};
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
/// assert_eq!("prop".parse::<GateRule>()?, GateRule::Prop);
/// assert_eq!(GateRule::Half.to_string(), "half");
/// let x = Tensor::<3>::from_floats([[[1.0], [-0.5], [2.0]]], &device); // (B, T, E) = (1, 3, 1)
/// for rule in GateRule::ALL_RULES {
///     let config = ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0).with_gate_rule(rule);
///     let host = model.explain(x.clone(), &config)?.to_host()?;
///     let total = host.relevance.iter().sum::<f64>() + host.rest[0];
///     assert!((total - host.explained_logits()[0]).abs() < 1e-12, "{rule}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GateRule {
    /// Signal-take-all (Arras et al. 2017): the signal gets everything.
    #[default]
    All,
    /// In proportion to the two factors' values.
    Prop,
    /// In proportion to the two factors' absolute values.
    Abs,
    /// Half each.
    Half,
}

impl GateRule {
    /// Every rule, in the order of the table above.
    pub const ALL_RULES: [GateRule; 4] =
        [GateRule::All, GateRule::Prop, GateRule::Abs, GateRule::Half];
}

impl core::fmt::Display for GateRule {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            GateRule::All => "all",
            GateRule::Prop => "prop",
            GateRule::Abs => "abs",
            GateRule::Half => "half",
        })
    }
}

impl core::str::FromStr for GateRule {
    type Err = String;
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        match s {
            "all" => Ok(GateRule::All),
            "prop" => Ok(GateRule::Prop),
            "abs" => Ok(GateRule::Abs),
            "half" => Ok(GateRule::Half),
            other => Err(format!(
                "unknown gate rule `{other}` (expected all, prop, abs or half)"
            )),
        }
    }
}

impl ExplainConfig {
    /// Checks that `eps` is finite and non-negative and `bias_factor` is finite.
    ///
    /// [`LstmModel::explain`](crate::LstmModel::explain) calls it first.
    ///
    /// ```
    /// use lrp_core::{ExplainConfig, LrpError};
    ///
    /// assert_eq!(ExplainConfig::new().with_eps(0.0).with_bias_factor(1.0).validate(), Ok(()));
    /// let err = ExplainConfig::new().with_eps(-1e-3).validate().unwrap_err();
    /// assert!(matches!(err, LrpError::InvalidSetting { name: "eps", .. }));
    /// assert!(ExplainConfig::new().with_bias_factor(f64::NAN).validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<()> {
        if !(self.eps.is_finite() && self.eps >= 0.0) {
            return Err(LrpError::InvalidSetting {
                name: "eps",
                value: self.eps,
                reason: "must be finite and >= 0",
            });
        }
        if !self.bias_factor.is_finite() {
            return Err(LrpError::InvalidSetting {
                name: "bias_factor",
                value: self.bias_factor,
                reason: "must be finite",
            });
        }
        Ok(())
    }
}

/// The floating-point precision a model computes in.
///
/// ```
/// use lrp_core::Precision;
///
/// assert_eq!("float32".parse::<Precision>()?, Precision::F32);
/// assert_eq!(Precision::default().to_string(), "f64");
/// assert!("f16".parse::<Precision>().is_err());
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// IEEE binary32 (what GPUs run fast; ~1e-6 relative).
    F32,
    /// IEEE binary64 (what the references use; ~1e-15 relative).
    #[default]
    F64,
}

impl Precision {
    /// The burn float dtype.
    ///
    /// ```
    /// use burn::tensor::FloatDType;
    /// use lrp_core::Precision;
    ///
    /// assert_eq!(Precision::F32.float_dtype(), FloatDType::F32);
    /// ```
    pub fn float_dtype(self) -> FloatDType {
        match self {
            Precision::F32 => FloatDType::F32,
            Precision::F64 => FloatDType::F64,
        }
    }

    /// The burn dtype.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use burn::tensor::{DType, Device, Tensor};
    /// use lrp_core::Precision;
    ///
    /// assert_eq!(Precision::F64.dtype(), DType::F64);
    /// let device = Device::flex();
    /// let x = Tensor::<2>::zeros([2, 3], (&device, Precision::F64.dtype()));
    /// assert_eq!(x.dtype(), DType::F64);
    /// ```
    pub fn dtype(self) -> DType {
        DType::from(self.float_dtype())
    }
}

impl core::fmt::Display for Precision {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        })
    }
}

impl core::str::FromStr for Precision {
    type Err = String;
    fn from_str(s: &str) -> core::result::Result<Self, Self::Err> {
        match s {
            "f32" | "F32" | "float32" => Ok(Precision::F32),
            "f64" | "F64" | "float64" => Ok(Precision::F64),
            other => Err(format!("unknown precision `{other}` (expected f32 or f64)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_references() {
        let c = ExplainConfig::new();
        assert_eq!(c.eps, 1e-3);
        assert_eq!(c.bias_factor, 0.0);
        assert_eq!(c.target, Target::Predicted);
        c.validate().unwrap();
    }

    #[test]
    fn bad_settings_are_refused() {
        for eps in [-1e-3, f64::NAN, f64::INFINITY] {
            let err = ExplainConfig::new().with_eps(eps).validate().unwrap_err();
            assert!(matches!(err, LrpError::InvalidSetting { name: "eps", .. }));
        }
        let err = ExplainConfig::new()
            .with_bias_factor(f64::NAN)
            .validate()
            .unwrap_err();
        assert!(matches!(
            err,
            LrpError::InvalidSetting {
                name: "bias_factor",
                ..
            }
        ));
    }

    #[test]
    fn precision_parses() {
        assert_eq!("f32".parse::<Precision>().unwrap(), Precision::F32);
        assert!("f16".parse::<Precision>().is_err());
    }
}
