//! The sentiment pipeline: training in burn, conversion through the importer's burn-module path,
//! the model file, and the shipped demo models (LSTM and GRU).

use lrp_demo::model::{Cell, max_logit_difference, model_file_bytes};
use lrp_demo::score::lrp_relevance;
use lrp_demo::task::{Task, TaskConfig, Vocab};
use lrp_demo::train::{TrainConfig, train};
use lstm_lrp::import::{LoadOptions, read_model};
use lstm_lrp::{ExplainConfig, Input, LstmModel, ModelParams, Precision};

fn tiny() -> TrainConfig {
    TrainConfig {
        seed: 11,
        train_size: 240,
        test_size: 40,
        embedding: 6,
        hidden: 5,
        batch: 40,
        epochs: 1,
        learning_rate: 1e-2,
        cell: Cell::Lstm,
    }
}

/// Trains with `config` and converts the result.
fn trained_params(task: &Task, config: &TrainConfig) -> ModelParams {
    let trained = train(task, config, &lrp_flex::device()).unwrap();
    trained.net.to_params().unwrap()
}

/// Writes `params` as the demo's model file, reads it back with the importer, removes the file.
fn file_round_trip(params: &ModelParams, name: &str) -> ModelParams {
    let bytes = model_file_bytes(params, Default::default()).unwrap();
    let file = format!("lrp-demo-{name}-{}.safetensors", std::process::id());
    let path = std::env::temp_dir().join(file);
    std::fs::write(&path, bytes).unwrap();
    let read = read_model(&path, &LoadOptions::default());
    std::fs::remove_file(&path).unwrap();
    read.unwrap().params
}

#[test]
fn tiny_training_converts_exactly_and_is_reproducible() {
    let device = lrp_flex::device();
    let task = Task::new(TaskConfig::default()).unwrap();
    let a = train(&task, &tiny(), &device).unwrap();
    assert_eq!(a.epoch_loss.len(), 1);
    assert!(a.epoch_loss[0].is_finite() && a.epoch_loss[0] > 0.0);
    let params = a.net.to_params().unwrap();
    assert_eq!(params.num_classes(), 2);
    assert_eq!(params.feature_size(), 6);
    // Both compute in f64 on the same device; they differ only in summation order.
    let diff = max_logit_difference(&a.net, &params, &a.test, &device, Precision::F64).unwrap();
    assert!(diff < 1e-9, "burn modules vs converted model: {diff}");

    // Same seed → same weights, bit for bit.
    assert_eq!(trained_params(&task, &tiny()), params);
    // A different seed gives a different model.
    let other = TrainConfig { seed: 12, ..tiny() };
    assert_ne!(trained_params(&task, &other), params);

    // The model file reads back as the same canonical model.
    assert_eq!(file_round_trip(&params, "lstm"), params);

    // LRP runs on it and gives one relevance per token.
    let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
    let r = lrp_relevance(&model, &a.test, &ExplainConfig::new(), &device).unwrap();
    for (s, r) in a.test.iter().zip(&r) {
        assert_eq!(r.len(), s.ids.len());
        assert!(r.iter().all(|v| v.is_finite()));
    }
}

#[test]
fn shipped_models_classify_the_shipped_sentences() {
    for cell in Cell::ALL {
        shipped_model_classifies_its_sentences(cell);
    }
}

fn shipped_model_classifies_its_sentences(cell: Cell) {
    let shipped = |file| lrp_demo::shipped_model(cell, file);
    let device = lrp_flex::device();
    let params = lstm_lrp::load_model(shipped("model.safetensors")).unwrap();
    let vocab = Vocab::from_text(&std::fs::read_to_string(shipped("vocab.txt")).unwrap()).unwrap();
    // The shipped vocabulary is the task's.
    assert_eq!(vocab, Task::new(TaskConfig::default()).unwrap().vocab);
    let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
    let text = std::fs::read_to_string(shipped("sentences.tsv")).unwrap();
    let mut count = 0;
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (label, sentence) = line.split_once('\t').unwrap();
        let ids: Vec<i64> = vocab
            .encode(sentence)
            .into_iter()
            .map(|i| i as i64)
            .collect();
        assert!(
            ids.iter().all(|&i| i > 1),
            "every word is known: {sentence}"
        );
        let t = ids.len();
        let x = lstm_lrp::burn::tensor::Tensor::<2, lstm_lrp::burn::tensor::Int>::from_data(
            lstm_lrp::burn::tensor::TensorData::new(ids, [1, t]),
            &device,
        );
        let logits: Vec<f64> = model
            .forward(Input::tokens(x))
            .unwrap()
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .unwrap();
        let predicted = if logits[1] > logits[0] {
            "positive"
        } else {
            "negative"
        };
        assert_eq!(predicted, label, "{cell}: {sentence}: logits {logits:?}");
        count += 1;
    }
    assert!(
        count >= 5,
        "{cell}: the file holds example sentences ({count})"
    );
}

/// The baselines (lrp-core's attribution on the token model), checked through an independent
/// path: the same weights as a feature-input model, its forward on hand-zeroed vectors.
#[test]
fn baselines_agree_with_the_converted_model() {
    use lrp_core::Method;
    use lrp_demo::baselines::baseline_relevance;
    use lstm_lrp::InputLayer;
    use lstm_lrp::burn::tensor::{Tensor, TensorData};

    let device = lrp_flex::device();
    let task = Task::new(TaskConfig::default()).unwrap();
    let a = train(&task, &tiny(), &device).unwrap();
    let params = a.net.to_params().unwrap();
    let InputLayer::Embedding { table, .. } = params.input() else {
        panic!("token model expected")
    };
    let e = table.cols();
    let features = ModelParams::new(
        InputLayer::Features {
            size: e,
            mask_value: None,
        },
        params.recurrent().to_vec(),
        params.head().to_vec(),
    )
    .unwrap();
    let model = LstmModel::new(&features, &device, Precision::F64).unwrap();
    // The label logit of one sentence given as vectors, with the tokens in `zeroed` set to 0.
    let logit = |ids: &[usize], label: usize, zeroed: &[usize]| -> f64 {
        let mut x = Vec::with_capacity(ids.len() * e);
        for (t, &id) in ids.iter().enumerate() {
            let row = &table.data()[id * e..(id + 1) * e];
            x.extend(
                row.iter()
                    .map(|&v| if zeroed.contains(&t) { 0.0 } else { v }),
            );
        }
        let x = Tensor::<3>::from_data(TensorData::new(x, [1, ids.len(), e]), &device);
        let l = model.forward(Input::features(x)).unwrap().into_data();
        l.convert::<f64>().try_to_vec::<f64>().unwrap()[label]
    };
    let sentences = &a.test[..8];
    let tokens = LstmModel::new(&params, &device, Precision::F64).unwrap();
    let occlusion = baseline_relevance(&tokens, sentences, &Method::Occlusion, &device).unwrap();
    let ig = Method::IntegratedGradients {
        steps: 64,
        baseline: None,
    };
    let ig = baseline_relevance(&tokens, sentences, &ig, &device).unwrap();
    for ((s, occ), ig) in sentences.iter().zip(&occlusion).zip(&ig) {
        let full = logit(&s.ids, s.label, &[]);
        for (t, o) in occ.iter().enumerate() {
            let expected = full - logit(&s.ids, s.label, &[t]);
            assert!((o - expected).abs() < 1e-9, "occlusion {o} vs {expected}");
        }
        // Completeness: Σ_t IG_t = y(x) − y(0), up to the midpoint rule's O(1/m²) error.
        let all: Vec<usize> = (0..s.ids.len()).collect();
        let delta = full - logit(&s.ids, s.label, &all);
        let sum: f64 = ig.iter().sum();
        assert!(
            (sum - delta).abs() < 1e-3 * (1.0 + delta.abs()),
            "IG sum {sum} vs {delta}"
        );
    }
}

#[test]
fn shipped_models_round_trip_through_burn_modules() {
    use lrp_demo::model::SentimentNet;
    use lrp_demo::rng::Rng;

    let device = lrp_flex::device();
    for cell in Cell::ALL {
        let params =
            lstm_lrp::load_model(lrp_demo::shipped_model(cell, "model.safetensors")).unwrap();
        let net = SentimentNet::from_params(&params, &device).unwrap();
        assert_eq!(net.recurrent.cell(), cell);
        assert_eq!(net.to_params().unwrap(), params);
        let task = Task::new(TaskConfig::default()).unwrap();
        let sentences = task.sample(100, &mut Rng::new(5));
        let diff =
            max_logit_difference(&net, &params, &sentences, &device, Precision::F64).unwrap();
        assert!(
            diff < 1e-9,
            "{cell}: burn modules vs canonical model: {diff}"
        );
        // The shipped model solves the task.
        let acc = lrp_demo::train::accuracy(&net, &sentences, &device);
        assert!(acc >= 0.95, "{cell}: accuracy {acc}");
    }
}

/// The GRU path: a short training run of burn's `BiGru`, converted by `from_burn`, written as a
/// PyTorch-style `nn.GRU` state dict (gate order r, z, n) and read back by the importer.
#[test]
fn tiny_gru_training_converts_exactly_and_round_trips_through_the_file() {
    use lrp_demo::model::SentimentNet;
    use lstm_lrp::{CellWeights, GateRule, Readout};

    let device = lrp_flex::device();
    let task = Task::new(TaskConfig::default()).unwrap();
    let config = TrainConfig {
        cell: Cell::Gru,
        ..tiny()
    };
    let a = train(&task, &config, &device).unwrap();
    assert!(a.epoch_loss[0].is_finite() && a.epoch_loss[0] > 0.0);
    assert_eq!(a.net.recurrent.cell(), Cell::Gru);
    let params = a.net.to_params().unwrap();
    let layer = &params.recurrent()[0];
    let (Some(fw), Some(bw)) = (
        layer.forward.as_gru(),
        layer.backward.as_ref().and_then(CellWeights::as_gru),
    ) else {
        panic!(
            "a bidirectional GRU expected, got {:?}",
            layer.forward.kind()
        )
    };
    // burn's GRU resets after the recurrent product (as PyTorch), and training moved both biases.
    assert!(fw.reset_after && bw.reset_after);
    assert!(fw.b_h.iter().any(|&b| b != 0.0) && fw.b_x.iter().any(|&b| b != 0.0));
    // Same data and batch order as the LSTM of the same seed: the same held-out sentences.
    assert_eq!(a.test, train(&task, &tiny(), &device).unwrap().test);

    let diff = max_logit_difference(&a.net, &params, &a.test, &device, Precision::F64).unwrap();
    assert!(diff < 1e-12, "burn modules vs converted model: {diff}");
    // Same seed → same weights, bit for bit.
    assert_eq!(trained_params(&task, &config), params);

    // The model file (nn.GRU layout, gate order r, z, n) reads back as exactly the same
    // canonical model, and says how its head reads the GRU.
    let read = file_round_trip(&params, "gru");
    assert_eq!(read, params);
    assert_eq!(read.readout(), Readout::Final);
    // And back into burn modules, which compute the same logits.
    let net = SentimentNet::from_params(&params, &device).unwrap();
    assert_eq!(net.to_params().unwrap(), params);
    let again = max_logit_difference(&net, &params, &a.test, &device, Precision::F64).unwrap();
    assert!(again < 1e-12, "{again}");

    // LRP runs on it under every gate rule and gives one finite relevance per token.
    let model = LstmModel::new(&params, &device, Precision::F64).unwrap();
    for rule in GateRule::ALL_RULES {
        let config = ExplainConfig::new().with_gate_rule(rule);
        let r = lrp_relevance(&model, &a.test, &config, &device).unwrap();
        for (s, r) in a.test.iter().zip(&r) {
            assert_eq!(r.len(), s.ids.len());
            assert!(r.iter().all(|v| v.is_finite()), "{rule}");
        }
    }
}

/// burn's own initialisation of a `BiGru` (Xavier-normal weights and biases, not the demo's
/// generator), converted by `from_burn`: the same logits within 1e-12 in f64.
#[test]
fn burn_initialised_bigru_converts_exactly() {
    use lrp_demo::model::{Recurrent, SentimentNet};
    use lrp_demo::rng::Rng;
    use lstm_lrp::burn::nn::gru::BiGruConfig;
    use lstm_lrp::burn::nn::{EmbeddingConfig, LinearConfig};

    let device = lrp_flex::device();
    let task = Task::new(TaskConfig::default()).unwrap();
    let (e, h) = (7, 6);
    let net = SentimentNet {
        embedding: EmbeddingConfig::new(task.vocab.len(), e).init(&device),
        recurrent: Recurrent::Gru(BiGruConfig::new(e, h, true).init(&device)),
        head: LinearConfig::new(2 * h, 2).init(&device),
    };
    let params = net.to_params().unwrap();
    let gru = params.recurrent()[0].forward.as_gru().unwrap();
    assert!(
        gru.b_h.iter().any(|&b| b != 0.0),
        "burn initialises the biases"
    );
    let sentences = task.sample(60, &mut Rng::new(9));
    let diff = max_logit_difference(&net, &params, &sentences, &device, Precision::F64).unwrap();
    assert!(diff < 1e-12, "burn modules vs converted model: {diff}");
}
