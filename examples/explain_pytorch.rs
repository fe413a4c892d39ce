//! Explain a PyTorch `nn.LSTM` classifier saved as a state dict:
//! `cargo run --example explain_pytorch [STATE_DICT.pt|.safetensors [INPUT.safetensors]]`.
//!
//! Defaults to `fixtures/pytorch/p2_embed_2layer_bilstm_packed.state_dict.pt`: an embedding, two
//! bidirectional layers and a Linear head, with packed (variable-length) input. A state dict has
//! no architecture: the `nn.LSTM`, `nn.Linear` and `nn.Embedding` modules are found by their
//! parameter names; name them with `LoadOptions` when that is ambiguous. PyTorch's gate order
//! (i, f, g, o) and its two biases are converted for you.

use lstm_lrp::import::LoadOptions;
use lstm_lrp::{ExplainConfig, LstmModel, Precision, Target, backends};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let model_path = args
        .next()
        .unwrap_or_else(|| "fixtures/pytorch/p2_embed_2layer_bilstm_packed.state_dict.pt".into());
    let input_path = args
        .next()
        .unwrap_or_else(|| "fixtures/pytorch/p2_embed_2layer_bilstm_packed.io.safetensors".into());

    let imported = lstm_lrp::import::read_model(&model_path, &LoadOptions::default())?;
    println!("{}", imported.report);
    let device = backends::default_device();
    let model = LstmModel::new(&imported.params, &device, Precision::F64)?;
    // `x` holds token ids (B, T), `lengths` the real length of each sequence.
    let inputs = lstm_lrp::io::read_input(&input_path)?;
    let [batch, _] = inputs.batch_and_steps();
    let input = inputs.input_range(0..batch, &device, Precision::F64);
    // Explain class 0 for every sequence, conserving relevance exactly.
    let config = ExplainConfig::new()
        .with_eps(0.0)
        .with_bias_factor(1.0)
        .with_target(Target::Class(0));
    let explanation = model.explain(input, &config)?.to_host()?;
    let steps = explanation.step_relevance();
    let logits = explanation.explained_logits();
    for b in 0..explanation.batch {
        let row = &steps[b * explanation.steps..(b + 1) * explanation.steps];
        let total: f64 = row.iter().sum();
        println!(
            "sequence {b}: logit {:.4} = Σ relevance {:.4} + rest {:.4}; per token {:?}",
            logits[b],
            total,
            explanation.rest[b],
            row.iter()
                .map(|r| (r * 1000.0).round() / 1000.0)
                .collect::<Vec<_>>()
        );
    }
    Ok(())
}
