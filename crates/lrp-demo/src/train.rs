//! Training the demo classifier in burn: Adam on the cross-entropy, batches of equal-length
//! sentences (so there is no padding whose semantics the explanation would have to match).

use std::collections::BTreeMap;

use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use lrp_core::burn;

use super::SentimentError;
use super::model::{Cell, NetConfig, SentimentNet, ids_tensor};
use super::rng::Rng;
use super::task::{Sentence, Task};

/// Settings of a training run. Everything random derives from `seed`.
///
/// ```
/// use lrp_demo::model::Cell;
/// use lrp_demo::train::TrainConfig;
///
/// let shipped = TrainConfig::default(); // the settings of examples/sentiment/model.safetensors
/// assert_eq!((shipped.seed, shipped.train_size, shipped.epochs), (2019, 12_000, 6));
/// assert_eq!(shipped.cell, Cell::Lstm);
/// // examples/sentiment-gru/model.safetensors: the same settings with a GRU.
/// let gru = TrainConfig { cell: Cell::Gru, ..TrainConfig::default() };
/// let quick = TrainConfig { train_size: 200, test_size: 50, epochs: 1, ..shipped };
/// assert_eq!((quick.hidden, gru.hidden), (32, 32));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TrainConfig {
    /// Seed of the data, the initial weights and the batch order.
    pub seed: u64,
    /// Training sentences.
    pub train_size: usize,
    /// Held-out test sentences.
    pub test_size: usize,
    /// Embedding size E.
    pub embedding: usize,
    /// Hidden size H per direction.
    pub hidden: usize,
    /// Sentences per batch (at most; a length bucket's last batch may be smaller).
    pub batch: usize,
    /// Passes over the training set.
    pub epochs: usize,
    /// Adam learning rate.
    pub learning_rate: f64,
    /// The recurrent cell (the same seed gives the same data and batch order for both).
    pub cell: Cell,
}

impl Default for TrainConfig {
    /// The settings of the shipped model.
    fn default() -> Self {
        Self {
            seed: 2019,
            train_size: 12_000,
            test_size: 1_000,
            embedding: 32,
            hidden: 32,
            batch: 50,
            epochs: 6,
            learning_rate: 1e-2,
            cell: Cell::Lstm,
        }
    }
}

/// The result of [`train`].
///
/// ```
/// use lstm_lrp::backends;
/// use lrp_demo::task::{Task, TaskConfig};
/// use lrp_demo::train::{TrainConfig, train};
///
/// let task = Task::new(TaskConfig::default())?;
/// let config = TrainConfig {
///     train_size: 40, test_size: 10, embedding: 4, hidden: 4, batch: 20, epochs: 2,
///     ..TrainConfig::default()
/// };
/// let trained = train(&task, &config, &backends::default_device())?;
/// assert_eq!((trained.test.len(), trained.epoch_loss.len()), (10, 2));
/// assert!((0.0..=1.0).contains(&trained.test_accuracy));
/// assert!(trained.epoch_loss.iter().all(|l| l.is_finite() && *l > 0.0)); // cross-entropy
/// # Ok::<(), lrp_demo::SentimentError>(())
/// ```
#[derive(Debug)]
pub struct Trained {
    /// The classifier, without autodiff.
    pub net: SentimentNet,
    /// The held-out sentences.
    pub test: Vec<Sentence>,
    /// Accuracy on `test`.
    pub test_accuracy: f64,
    /// Mean training loss of each epoch.
    pub epoch_loss: Vec<f64>,
}

/// Batches of indices into `sentences`, each of one sentence length.
fn batches_by_length(sentences: &[Sentence], batch: usize) -> Vec<Vec<usize>> {
    let mut by_len: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, s) in sentences.iter().enumerate() {
        by_len.entry(s.ids.len()).or_default().push(i);
    }
    by_len
        .into_values()
        .flat_map(|idx| idx.chunks(batch).map(<[usize]>::to_vec).collect::<Vec<_>>())
        .collect()
}

/// Predicted classes of `sentences` (any lengths), batched by length.
///
/// ```
/// use lrp_demo::{model::SentimentNet, rng::Rng, train::predict};
/// use lrp_demo::task::{Task, TaskConfig};
///
/// let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
/// let device = lstm_lrp::backends::default_device();
/// let net = SentimentNet::from_params(&params, &device)?;
/// let sentences = Task::new(TaskConfig::default())?.sample(8, &mut Rng::new(2));
/// let classes = predict(&net, &sentences, &device); // in sentence order
/// assert_eq!(classes.len(), 8);
/// assert!(classes.iter().all(|&c| c < 2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn predict(net: &SentimentNet, sentences: &[Sentence], device: &Device) -> Vec<usize> {
    let mut out = vec![0; sentences.len()];
    for idx in batches_by_length(sentences, 256) {
        let rows: Vec<&[usize]> = idx.iter().map(|&i| sentences[i].ids.as_slice()).collect();
        let pred = net.forward(ids_tensor(&rows, device)).argmax(1);
        let pred: Vec<i64> = pred
            .into_data()
            .convert::<i64>()
            .try_to_vec::<i64>()
            .unwrap_or_default();
        for (&i, p) in idx.iter().zip(pred) {
            out[i] = p as usize;
        }
    }
    out
}

/// Accuracy of `net` on `sentences`.
///
/// ```
/// use lrp_demo::{model::SentimentNet, rng::Rng, train::accuracy};
/// use lrp_demo::task::{Task, TaskConfig};
///
/// let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
/// let device = lstm_lrp::backends::default_device();
/// let net = SentimentNet::from_params(&params, &device)?;
/// let sentences = Task::new(TaskConfig::default())?.sample(50, &mut Rng::new(3));
/// assert!(accuracy(&net, &sentences, &device) >= 0.9); // the shipped model
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn accuracy(net: &SentimentNet, sentences: &[Sentence], device: &Device) -> f64 {
    let pred = predict(net, sentences, device);
    let hits = pred
        .iter()
        .zip(sentences)
        .filter(|(p, s)| **p == s.label)
        .count();
    hits as f64 / sentences.len().max(1) as f64
}

/// Draws the data from `config.seed` and trains a classifier on `device` (autodiff is enabled
/// on it here). Same seed, same device kind → same sentences, same initial weights, same batch
/// order.
///
/// ```
/// use lstm_lrp::backends;
/// use lrp_demo::task::{Task, TaskConfig};
/// use lrp_demo::train::{TrainConfig, train};
///
/// let task = Task::new(TaskConfig::default())?;
/// let config = TrainConfig {
///     train_size: 40, test_size: 10, embedding: 4, hidden: 4, batch: 20, epochs: 1,
///     ..TrainConfig::default()
/// };
/// let device = backends::default_device();
/// let (a, b) = (train(&task, &config, &device)?, train(&task, &config, &device)?);
/// assert_eq!(a.test, b.test); // same seed, same held-out sentences
/// assert_eq!(a.net.head.weight.val().dims(), [8, 2]); // (2H, C)
/// # Ok::<(), lrp_demo::SentimentError>(())
/// ```
pub fn train(
    task: &Task,
    config: &TrainConfig,
    device: &Device,
) -> Result<Trained, SentimentError> {
    if config.train_size == 0 || config.batch == 0 || config.embedding == 0 || config.hidden == 0 {
        return Err(SentimentError::Config(format!(
            "train_size, batch, embedding and hidden must be > 0, got {config:?}"
        )));
    }
    let mut rng = Rng::new(config.seed);
    let train_set = task.sample(config.train_size, &mut rng);
    let test = task.sample(config.test_size, &mut rng);
    let ad = device.clone().autodiff();
    let net_config = NetConfig {
        vocab: task.vocab.len(),
        embedding: config.embedding,
        hidden: config.hidden,
        classes: 2,
        cell: config.cell,
    };
    let mut net = SentimentNet::init(net_config, config.seed ^ 0x5EED, &ad);
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);
    let mut batches = batches_by_length(&train_set, config.batch);
    let mut epoch_loss = Vec::with_capacity(config.epochs);
    for _ in 0..config.epochs {
        rng.shuffle(&mut batches);
        let mut total = 0.0;
        for idx in &batches {
            let rows: Vec<&[usize]> = idx.iter().map(|&i| train_set[i].ids.as_slice()).collect();
            let labels: Vec<i64> = idx.iter().map(|&i| train_set[i].label as i64).collect();
            let targets = Tensor::<1, Int>::from_data(TensorData::new(labels, [idx.len()]), &ad);
            let logits = net.forward(ids_tensor(&rows, &ad));
            let loss = loss_fn.forward(logits, targets);
            total += loss.clone().into_scalar::<f64>() * idx.len() as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &net);
            net = optim.step(config.learning_rate, net, grads);
        }
        epoch_loss.push(total / train_set.len() as f64);
    }
    let net = net.valid();
    let test_accuracy = accuracy(&net, &test, device);
    Ok(Trained {
        net,
        test,
        test_accuracy,
        epoch_loss,
    })
}
