//! Explain a time-series forecaster: a many-to-one PyTorch LSTM with a linear output unit that
//! predicts the next value of a noisy sine window.
//! `cargo run --example forecast_regression [STATE_DICT [INPUT.safetensors]]`.
//!
//! Defaults to `fixtures/pytorch/p11_lstm_regression.safetensors` (`nn.LSTM(1, 8)` →
//! `nn.Linear(8, 1)` on `h_n[-1]`, trained; see `fixtures/pytorch/README.md`) and its recorded
//! windows `x (B, T, 1)` with the true next values `target (B, 1)`.
//!
//! A regression output is explained as a value: the target is output 0 (`--target 0` on the
//! command line), never `predicted`, and with `eps = 0`, `bias_factor = 1` the relevance of the
//! window's steps plus the `rest` adds up to the forecast itself.

use lstm_lrp::import::{LoadOptions, TorchModules};
use lstm_lrp::{ExplainConfig, LstmModel, Precision, Readout, Target, backends};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model_path = args
        .next()
        .unwrap_or_else(|| "fixtures/pytorch/p11_lstm_regression.safetensors".into());
    let input_path = args
        .next()
        .unwrap_or_else(|| "fixtures/pytorch/p11_lstm_regression.io.safetensors".into());

    // The head reads h_n: say so, rather than let the importer assume it.
    let options = LoadOptions {
        torch: TorchModules {
            readout: Some(Readout::Final),
            ..TorchModules::default()
        },
        ..LoadOptions::default()
    };
    let imported = lstm_lrp::import::read_model(&model_path, &options)?;
    assert_eq!(imported.params.num_classes(), 1, "a single output unit");
    let device = backends::default_device();
    let model = LstmModel::new(&imported.params, &device, Precision::F64)?;

    let inputs = lstm_lrp::io::read_input(&input_path)?;
    let [batch, steps] = inputs.batch_and_steps();
    let truth = read_truth(&input_path)?;
    let input = inputs.input_range(0..batch, &device, Precision::F64);
    let config = ExplainConfig::new()
        .with_eps(0.0)
        .with_bias_factor(1.0)
        .with_target(Target::Class(0));
    let explanation = model.explain(input, &config)?.to_host()?;
    let per_step = explanation.step_relevance(); // (B, T): one feature per step
    println!(
        "window of {steps} steps → forecast of the next value; relevance per step, oldest first"
    );
    for b in 0..batch {
        let forecast = explanation.logits[b];
        let row = &per_step[b * steps..(b + 1) * steps];
        let total: f64 = row.iter().sum::<f64>() + explanation.rest[b];
        // Conservation: the steps' relevance and the rest make up the forecast.
        assert!((total - forecast).abs() <= 1e-10 * (1.0 + forecast.abs()));
        let cells: Vec<String> = row.iter().map(|r| format!("{r:+.3}")).collect();
        println!(
            "window {b}: forecast {forecast:+.4} (true {}) = Σ [{}] + rest {:+.4}",
            truth.get(b).map_or("?".to_string(), |t| format!("{t:+.4}")),
            cells.join(" "),
            explanation.rest[b],
        );
    }
    Ok(())
}

/// The true next values `target (B, 1)` recorded with the windows, if the file has them.
fn read_truth(path: &str) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    let file = lstm_lrp::import::formats::safetensors::parse(&bytes)?;
    if !lstm_lrp::import::formats::safetensors::has(&file, "target") {
        return Ok(Vec::new());
    }
    Ok(lstm_lrp::import::formats::safetensors::float_array(&file, "target")?.data)
}
