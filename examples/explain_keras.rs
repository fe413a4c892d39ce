//! Explain a Keras model file: `cargo run --example explain_keras [MODEL.keras|.h5 [INPUT.safetensors]]`.
//!
//! Defaults to the Keras 3 fixture `fixtures/keras3/d_masking_bilstm_sum_mlp.keras` (Masking,
//! a bidirectional LSTM with a `sum` merge and an MLP head) and its recorded input. The importer
//! reads the architecture from the file, converts the weights to the canonical layout and reports
//! what it did.

use lstm_lrp::{ExplainConfig, LstmModel, Precision, backends};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model_path = args
        .next()
        .unwrap_or_else(|| "fixtures/keras3/d_masking_bilstm_sum_mlp.keras".into());
    let input_path = args
        .next()
        .unwrap_or_else(|| "fixtures/keras3/d_masking_bilstm_sum_mlp.io.safetensors".into());

    let imported = lstm_lrp::import::read_model(&model_path, &Default::default())?;
    println!("{}", imported.report);
    let device = backends::default_device();
    let model = LstmModel::new(&imported.params, &device, Precision::F64)?;
    let inputs = lstm_lrp::io::read_input(&input_path)?;
    let [batch, _] = inputs.batch_and_steps();
    let input = inputs.input_range(0..batch, &device, Precision::F64);
    let explanation = model.explain(input, &ExplainConfig::new())?.to_host()?;
    let steps = explanation.step_relevance();
    let logits = explanation.explained_logits();
    for b in 0..explanation.batch {
        let row = &steps[b * explanation.steps..(b + 1) * explanation.steps];
        let cells: Vec<String> = row.iter().map(|r| format!("{r:+.3}")).collect();
        println!(
            "sample {b}: class {} (logit {:.3}): {}",
            explanation.target[b],
            logits[b],
            cells.join(" ")
        );
    }
    Ok(())
}
