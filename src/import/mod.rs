//! Model files into the canonical model: every format of [`lrp_import`], and live burn modules
//! ([`burn_modules`], here because it is the one importer that needs burn).

pub mod burn_modules;

pub use lrp_import::*;

/// The head of a PyTorch state dict as the CLI's `--head` and the Python package's `head=` give
/// it: `nn.Linear` module names in order, each optionally with the activation after it, `name`
/// or `name:linear|relu|tanh` (the last layer's activation is not applied when explaining).
///
/// ```
/// use lstm_lrp::Activation;
/// use lstm_lrp::import::parse_head;
///
/// let head = parse_head(&["fc1:relu", "fc2"])?;
/// assert_eq!(head, vec![("fc1".to_string(), Activation::Relu), ("fc2".to_string(), Activation::Linear)]);
/// assert!(parse_head(&["fc1:gelu"]).unwrap_err().contains("unknown activation `gelu`"));
/// # Ok::<(), String>(())
/// ```
///
/// # Errors
/// An unknown activation or an empty module name, as a one-line message naming the entry.
pub fn parse_head(
    specs: &[impl AsRef<str>],
) -> Result<Vec<(String, lrp_core::Activation)>, String> {
    use lrp_core::Activation;
    specs
        .iter()
        .map(|spec| {
            let spec = spec.as_ref();
            let (name, act) = spec.split_once(':').unwrap_or((spec, "linear"));
            if name.is_empty() {
                return Err(format!("head entry `{spec}`: empty module name"));
            }
            let activation = match act {
                "linear" => Activation::Linear,
                "relu" => Activation::Relu,
                "tanh" => Activation::Tanh,
                other => {
                    return Err(format!(
                        "head entry `{spec}`: unknown activation `{other}` (linear, relu or tanh)"
                    ));
                }
            };
            Ok((name.to_string(), activation))
        })
        .collect()
}
