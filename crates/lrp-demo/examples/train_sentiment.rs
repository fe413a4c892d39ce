//! Trains the demo sentiment BiLSTM (or BiGRU) in burn, converts it with the importer's
//! burn-module path, checks the conversion, writes the shipped model to `examples/sentiment/`
//! (`examples/sentiment-gru/`), and scores the explanation methods against the task's ground
//! truth (the tables of `docs/evaluation.md`).
//!
//! ```bash
//! cargo run --release -p lrp-demo --example train_sentiment                  # examples/sentiment/
//! cargo run --release -p lrp-demo --example train_sentiment -- --cell gru    # examples/sentiment-gru/
//! cargo run --release -p lrp-demo --example train_sentiment -- OUT_DIR       # writes elsewhere
//! cargo run --release -p lrp-demo --example train_sentiment -- --cell gru OUT_DIR
//! ```
//!
//! Deterministic: the seed in `TrainConfig::default()` fixes data, initial weights and batch
//! order (the same data and batch order for both cells), and the run reproduces the shipped
//! files.

use std::collections::HashMap;
use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use lrp_core::Method;
use lrp_demo::baselines::{baseline_relevance, describe};
use lrp_demo::model::{Cell, max_logit_difference, model_file_bytes};
use lrp_demo::rng::Rng;
use lrp_demo::score::{MethodScore, lrp_relevance, markdown_table, score};
use lrp_demo::task::{Task, TaskConfig};
use lrp_demo::train::{TrainConfig, predict, train};
use lstm_lrp::{ExplainConfig, GateRule, LstmModel, Precision, backends};

/// Test sentences scored for the table.
const SCORED: usize = 1000;

/// `[--cell lstm|gru] [OUT_DIR]`: the cell (default LSTM) and the output folder (default the
/// cell's shipped folder).
fn arguments() -> Result<(Cell, PathBuf), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let (mut cell, mut out) = (Cell::Lstm, None);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cell" => {
                let value = args.next().ok_or("--cell needs a value: lstm or gru")?;
                cell = value.parse()?;
            }
            flag if flag.starts_with("--") => {
                return Err(
                    format!("unknown option {flag} (usage: [--cell lstm|gru] [OUT_DIR])").into(),
                );
            }
            dir if out.is_none() => out = Some(PathBuf::from(dir)),
            extra => return Err(format!("unexpected argument {extra}").into()),
        }
    }
    let out = out.unwrap_or_else(|| lrp_demo::shipped_model(cell, ""));
    Ok((cell, out))
}

fn main() -> Result<(), Box<dyn Error>> {
    let (cell, out) = arguments()?;
    std::fs::create_dir_all(&out)?;
    let device = backends::default_device();
    let task = Task::new(TaskConfig::default())?;
    let config = TrainConfig {
        cell,
        ..TrainConfig::default()
    };

    let start = Instant::now();
    let trained = train(&task, &config, &device)?;
    println!(
        "trained a {} in {:.1} s; loss per epoch {:?}; test accuracy {:.2}% ({} sentences)",
        cell.label(),
        start.elapsed().as_secs_f64(),
        trained
            .epoch_loss
            .iter()
            .map(|l| format!("{l:.4}"))
            .collect::<Vec<_>>(),
        100.0 * trained.test_accuracy,
        trained.test.len()
    );

    let params = trained.net.to_params()?;
    let diff = max_logit_difference(
        &trained.net,
        &params,
        &trained.test,
        &device,
        Precision::F64,
    )?;
    println!("converted model vs burn modules: max |Δ logit| = {diff:.3e} on the test set");

    // The writer sorts the metadata (the readout is added to it), so the file is the same
    // from run to run.
    // The LSTM's text is that of the shipped file, which predates the GRU.
    let command = match cell {
        Cell::Lstm => "examples/train_sentiment.rs".to_string(),
        Cell::Gru => "crates/lrp-demo/examples/train_sentiment.rs --cell gru".to_string(),
    };
    let meta = HashMap::from([(
        "provenance".to_string(),
        format!(
            "lstm-lrp {command}, seed {}, test accuracy {:.4}; words from the VADER lexicon (MIT \
             License, C.J. Hutto)",
            config.seed, trained.test_accuracy
        ),
    )]);
    std::fs::write(
        out.join("model.safetensors"),
        model_file_bytes(&params, meta)?,
    )?;
    std::fs::write(out.join("vocab.txt"), task.vocab.to_text())?;

    // Example sentences: the first few correctly classified test sentences, some negated.
    let pred = predict(&trained.net, &trained.test, &device);
    let mut examples = String::from(
        "# label<TAB>sentence (held-out sentences of the task, classified correctly)\n",
    );
    let (mut plain, mut negated) = (0, 0);
    for (s, p) in trained.test.iter().zip(&pred) {
        let is_negated = s.words.iter().any(|w| w == "not");
        if *p != s.label || (is_negated && negated >= 3) || (!is_negated && plain >= 5) {
            continue;
        }
        if is_negated {
            negated += 1
        } else {
            plain += 1
        }
        let label = if s.label == 1 { "positive" } else { "negative" };
        examples.push_str(&format!("{label}\t{}\n", s.text()));
    }
    std::fs::write(out.join("sentences.tsv"), examples)?;

    // Scoring.
    let model = LstmModel::new(&params, &device, Precision::F64)?;
    let sentences = &trained.test[..SCORED.min(trained.test.len())];
    let mut scores: Vec<MethodScore> = Vec::new();
    for rule in GateRule::ALL_RULES {
        let config = ExplainConfig::new().with_gate_rule(rule);
        let lrp = lrp_relevance(&model, sentences, &config, &device)?;
        scores.push(score(
            &format!("LRP, gate rule `{rule}` (ε = 1e-3)"),
            sentences,
            &lrp,
        ));
    }
    for method in [
        Method::Gradient,
        Method::GradientTimesInput,
        Method::IntegratedGradients {
            steps: 32,
            baseline: None,
        },
        Method::Occlusion,
    ] {
        let r = baseline_relevance(&model, sentences, &method, &device)?;
        scores.push(score(&describe(&method), sentences, &r));
    }
    // Control: uniformly random relevances (what a method that knows nothing scores).
    let mut rng = Rng::new(1);
    let random: Vec<Vec<f64>> = sentences
        .iter()
        .map(|s| s.ids.iter().map(|_| rng.symmetric(1.0)).collect())
        .collect();
    scores.push(score("random relevance (control)", sentences, &random));
    let table = markdown_table(&scores);
    println!("\n{table}");
    std::fs::write(out.join("evaluation_table.md"), &table)?;
    println!("wrote {}", out.display());
    Ok(())
}
