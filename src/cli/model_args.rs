//! The flags that say how to read a model file, shared by every command.

use std::path::PathBuf;

use clap::Args;
use lrp_core::Activation;
use lrp_import::{ImportedModel, LoadOptions, ModelFormat, TorchModules, keras_config_from_file};
use lstm_lrp::files;

use super::CliError;

#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Model file: Keras (.keras, .h5, .hdf5, .weights.h5), PyTorch state dict (.pt, .pth,
    /// .safetensors) or the canonical safetensors layout; the format is detected from the content.
    #[arg(long, short)]
    pub model: PathBuf,
    /// Force the model format: canonical, keras, keras-h5, keras-weights, torch, torch-safetensors.
    #[arg(long)]
    pub format: Option<String>,
    /// The architecture for a Keras .weights.h5 file: its .keras file or config.json.
    #[arg(long)]
    pub keras_config: Option<PathBuf>,
    /// PyTorch: the nn.LSTM module's name in the state dict (e.g. `encoder.lstm`).
    #[arg(long)]
    pub lstm: Option<String>,
    /// PyTorch: the head's nn.Linear modules in order, each optionally with the activation
    /// after it: `fc1:relu,fc2` (linear, relu, tanh; the last one's is not applied).
    #[arg(long, value_delimiter = ',')]
    pub head: Vec<String>,
    /// PyTorch: the nn.Embedding module's name.
    #[arg(long)]
    pub embedding: Option<String>,
}

fn parse_head(specs: &[String]) -> Result<Vec<(String, Activation)>, CliError> {
    specs
        .iter()
        .map(|spec| {
            let (name, act) = spec.split_once(':').unwrap_or((spec.as_str(), "linear"));
            let activation = match act {
                "linear" => Activation::Linear,
                "relu" => Activation::Relu,
                "tanh" => Activation::Tanh,
                other => {
                    return Err(CliError::usage(format!(
                        "--head {spec}: unknown activation `{other}` (linear, relu or tanh)"
                    )));
                }
            };
            Ok((name.to_string(), activation))
        })
        .collect()
}

impl ModelArgs {
    /// Reads the model as the flags say.
    pub fn load(&self) -> Result<ImportedModel, CliError> {
        let format = self
            .format
            .as_deref()
            .map(str::parse::<ModelFormat>)
            .transpose()
            .map_err(|e| CliError::usage(format!("--format: {e}")))?;
        let keras_config = match &self.keras_config {
            Some(path) => {
                let bytes = files::read_bytes(path).map_err(|e| {
                    CliError::file(path, e, "give the .keras file or its config.json")
                })?;
                Some(keras_config_from_file(&bytes).map_err(|e| {
                    CliError::file(path, e, "give the .keras file or its config.json")
                })?)
            }
            None => None,
        };
        let options = LoadOptions {
            format,
            keras_config,
            torch: TorchModules {
                lstm: self.lstm.clone(),
                head: parse_head(&self.head)?,
                embedding: self.embedding.clone(),
            },
        };
        files::load_model_with(&self.model, &options).map_err(|e| {
            CliError::file(
                &self.model,
                e,
                "see `lstm-lrp inspect --help` for the supported formats and flags",
            )
        })
    }
}
