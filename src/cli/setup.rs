//! The set-up every command shares: the flags that say how to read a model file, the device and
//! precision, and the model on that device — read and validated once.

use std::path::PathBuf;

use clap::Args;
use lrp_core::{Activation, LstmModel, Precision, Readout};
use lrp_import::{ImportedModel, LoadOptions, ModelFormat, TorchModules, keras_config_from_file};
use lstm_lrp::backends::{self, DeviceChoice};

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
    /// PyTorch: the nn.LSTM / nn.GRU modules' names in the state dict, bottom first (e.g.
    /// `encoder.rnn` or `gru,lstm`); found by name and size when not given.
    #[arg(long, alias = "lstm", value_delimiter = ',')]
    pub rnn: Vec<String>,
    /// PyTorch: how the head reads the last recurrent module: `final` (h_n, the default), `last`
    /// (output[:, -1]), `mean`, `max`, or `per-step` (a head applied to every step's output).
    /// Keras files say it themselves.
    #[arg(long)]
    pub readout: Option<String>,
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
        let keras_config =
            match &self.keras_config {
                Some(path) => Some(keras_config_from_file(path).map_err(|e| {
                    CliError::file(path, e, "give the .keras file or its config.json")
                })?),
                None => None,
            };
        let options = LoadOptions {
            format,
            keras_config,
            torch: TorchModules {
                rnn: self.rnn.clone(),
                head: parse_head(&self.head)?,
                embedding: self.embedding.clone(),
                readout: self
                    .readout
                    .as_deref()
                    .map(str::parse::<Readout>)
                    .transpose()
                    .map_err(|e| CliError::usage(format!("--readout: {e}")))?,
            },
        };
        let imported = lrp_import::read_model(&self.model, &options).map_err(|e| {
            CliError::file(
                &self.model,
                e,
                "see `lstm-lrp inspect --help` for the supported formats and flags",
            )
        })?;
        let torch = matches!(
            imported.format,
            Some(ModelFormat::TorchPt | ModelFormat::TorchSafetensors)
        );
        if self.readout.is_some() && !torch {
            return Err(CliError::usage(format!(
                "--readout is for PyTorch state dicts, which do not record how the head reads \
                 the recurrent module; {} says it itself (`lstm-lrp inspect` shows it)",
                self.model.display()
            )));
        }
        Ok(imported)
    }
}

/// A model read from its file and placed on the chosen device in the chosen precision.
pub struct Setup {
    /// What was read, with the import report.
    pub imported: ImportedModel,
    /// The model on the device.
    pub model: LstmModel,
    /// The model file's name, for messages.
    pub model_name: String,
}

impl Setup {
    /// Reads the model as `args` say and puts it on `device` (a `--device` name) in `precision`.
    pub fn new(args: &ModelArgs, device: &str, precision: Precision) -> Result<Self, CliError> {
        let choice: DeviceChoice = device
            .parse()
            .map_err(|e: backends::BackendError| CliError::usage(format!("--device: {e}")))?;
        // The device (and its precision) first: a build without the backend fails at once.
        let device = backends::device_for(choice, precision)
            .map_err(|e| CliError::usage(format!("--device: {e}")))?;
        let imported = args.load()?;
        // Assumptions the file cannot settle (a PyTorch head's readout): one line each.
        for warning in &imported.report.warnings {
            eprintln!("note: {warning}");
        }
        let model_name = args.model.display().to_string();
        let model = LstmModel::new(&imported.params, &device, precision)
            .map_err(|e| CliError::explain(&model_name, e))?;
        Ok(Self {
            imported,
            model,
            model_name,
        })
    }
}
