//! Explains a classifier held as live burn modules (`Embedding → BiLstm or BiGru → Linear`):
//! hands the modules to the importer's burn-module path and prints the LRP relevance of each
//! word of a sentence, next to the word's true signed valence when the sentence comes from the
//! task.
//!
//! The modules are the shipped demo model loaded into burn (`examples/sentiment/`, with
//! `--cell gru` `examples/sentiment-gru/`), or, with `--train`, a small model trained here in a
//! few seconds.
//!
//! ```bash
//! cargo run --release --example explain_burn_model
//! cargo run --release --example explain_burn_model -- "the plot was not gratefuller"
//! cargo run --release --example explain_burn_model -- --cell gru "the plot was not gratefuller"
//! cargo run --release --example explain_burn_model -- --train
//! ```

use std::error::Error;

use lrp_demo::model::{Cell, SentimentNet};
use lrp_demo::rng::Rng;
use lrp_demo::score::oriented_truth;
use lrp_demo::task::{Sentence, Task, TaskConfig};
use lrp_demo::train::{TrainConfig, train};
use lstm_lrp::burn::tensor::{Int, Tensor, TensorData};
use lstm_lrp::import::burn_modules::from_burn;
use lstm_lrp::{ExplainConfig, Input, LstmModel, Precision, Target, backends};

fn main() -> Result<(), Box<dyn Error>> {
    let device = backends::default_device();
    let task = Task::new(TaskConfig::default())?;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let train_here = args.iter().any(|a| a == "--train");
    let cell: Cell = match args.iter().position(|a| a == "--cell") {
        Some(i) => args.get(i + 1).ok_or("--cell needs lstm or gru")?.parse()?,
        None => Cell::Lstm,
    };
    let text = args
        .iter()
        .enumerate()
        .find(|(i, a)| !a.starts_with("--") && (*i == 0 || args[i - 1] != "--cell"))
        .map(|(_, a)| a.clone());

    let (net, sample): (SentimentNet, Vec<Sentence>) = if train_here {
        let config = TrainConfig {
            train_size: 3_000,
            test_size: 200,
            embedding: 16,
            hidden: 16,
            epochs: 3,
            cell,
            ..TrainConfig::default()
        };
        let trained = train(&task, &config, &device)?;
        println!(
            "trained a {} (E = 16, H = 16) in burn: test accuracy {:.1}%",
            cell.label(),
            100.0 * trained.test_accuracy
        );
        (trained.net, trained.test)
    } else {
        let params = lstm_lrp::load_model(lrp_demo::shipped_model(cell, "model.safetensors"))?;
        println!("loaded the shipped {} into burn modules", cell.label());
        (
            SentimentNet::from_params(&params, &device)?,
            task.sample(50, &mut Rng::new(7)),
        )
    };

    // The live burn modules → the canonical model (no file in between).
    let params = from_burn(&net.as_burn_classifier())?;
    let model = LstmModel::new(&params, &device, Precision::F64)?;

    let (words, truth): (Vec<String>, Option<Vec<f64>>) = match text {
        Some(text) => (
            text.split_whitespace().map(str::to_lowercase).collect(),
            None,
        ),
        None => {
            let s = sample
                .iter()
                .find(|s| s.words.iter().any(|w| w == "not"))
                .unwrap_or(&sample[0]);
            (s.words.clone(), Some(oriented_truth(s)))
        }
    };
    let ids: Vec<i64> = words.iter().map(|w| task.vocab.id(w) as i64).collect();
    let t = ids.len();
    if t == 0 {
        return Err("empty sentence".into());
    }
    let x = Tensor::<2, Int>::from_data(TensorData::new(ids, [1, t]), &device);
    let e = model
        .explain(
            Input::tokens(x),
            &ExplainConfig::new().with_target(Target::Predicted),
        )?
        .to_host()?;
    let class = if e.target[0] == 1 {
        "positive"
    } else {
        "negative"
    };
    println!(
        "\"{}\" → {class} (logit {:.3}, rest {:.3})",
        words.join(" "),
        e.explained_logits()[0],
        e.rest[0]
    );
    if truth.is_some() {
        println!(
            "truth: each polar word's signed valence (negation applied), oriented towards the \
             sentence's label"
        );
    }
    println!("\n{:<18} {:>10} {:>14}", "word", "relevance", "truth");
    let relevance = e.step_relevance();
    for (k, (w, r)) in words.iter().zip(&relevance).enumerate() {
        let known = if task.vocab.id(w) == 1 {
            " (unknown word)"
        } else {
            ""
        };
        match &truth {
            // The ground truth, oriented towards the sentence's label class.
            Some(g) if g[k] != 0.0 => println!("{w:<18} {r:>10.3} {:>14.1}{known}", g[k]),
            _ => println!("{w:<18} {r:>10.3} {:>14}{known}", ""),
        }
    }
    Ok(())
}
