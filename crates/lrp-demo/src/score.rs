//! Scoring per-token relevances against the task's ground truth.
//!
//! The ground truth of a sentence, oriented towards the explained class `y` (its label), is
//! `g_t = s_y · v_t`: the effective signed valence `v_t` of a polar word (0 for fillers and for
//! `not`), with `s_y = +1` for the positive class and `−1` for the negative one — a word that
//! speaks for the explained class should receive positive relevance.
//!
//! - **Rank correlation**: Spearman's ρ between the relevances `r_t` and `g_t` over all the
//!   sentence's tokens (ties get their average rank; a constant vector has ρ = 0).
//! - **Top-k precision**: with `k` the number of polar words, the share of the `k` tokens of
//!   largest `|r_t|` that are polar words (ties broken by position).
//!
//! Both are averaged over sentences.

use std::collections::BTreeMap;

use lrp_core::burn::tensor::Device;
use lrp_core::{ExplainConfig, LstmModel, Target};

use super::SentimentError;
use super::model::ids_tensor;
use super::task::Sentence;

/// Ranks `0..n` of `values`, ties given their average rank.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

/// Spearman's rank correlation of two equally long vectors; 0 when either is constant.
///
/// # Panics
/// When the lengths differ.
///
/// ```
/// use lrp_demo::score::spearman;
///
/// assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12); // monotone
/// assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
/// assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0); // constant
/// // Ties get average ranks: [0.5, 0.5, 2] against [0, 1, 2] gives 1.5 / √3.
/// let rho = spearman(&[0.0, 0.0, 1.0], &[1.0, 2.0, 3.0]);
/// assert!((rho - 1.5 / 3f64.sqrt()).abs() < 1e-12);
/// ```
pub fn spearman(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "spearman: vectors of different lengths");
    let (ra, rb) = (ranks(a), ranks(b));
    let n = a.len() as f64;
    let (ma, mb) = (ra.iter().sum::<f64>() / n, rb.iter().sum::<f64>() / n);
    let (mut cov, mut va, mut vb) = (0.0, 0.0, 0.0);
    for (x, y) in ra.iter().zip(&rb) {
        cov += (x - ma) * (y - mb);
        va += (x - ma) * (x - ma);
        vb += (y - mb) * (y - mb);
    }
    if va == 0.0 || vb == 0.0 {
        0.0
    } else {
        cov / (va * vb).sqrt()
    }
}

/// Share of the `k = #relevant` positions of largest `|relevance|` that are relevant (0 when
/// nothing is relevant).
///
/// # Panics
/// When the lengths differ.
///
/// ```
/// use lrp_demo::score::top_k_precision;
///
/// // Tokens 1 and 3 are the polar words: k = 2.
/// let relevant = [false, true, false, true];
/// assert_eq!(top_k_precision(&[0.1, -3.0, 0.2, 2.0], &relevant), 1.0); // by magnitude
/// assert_eq!(top_k_precision(&[5.0, -3.0, 0.2, 0.0], &relevant), 0.5);
/// assert_eq!(top_k_precision(&[1.0, 2.0], &[false, false]), 0.0);
/// ```
pub fn top_k_precision(relevance: &[f64], relevant: &[bool]) -> f64 {
    assert_eq!(relevance.len(), relevant.len());
    let k = relevant.iter().filter(|&&r| r).count();
    if k == 0 {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..relevance.len()).collect();
    // Stable sort: equal magnitudes keep position order.
    order.sort_by(|&a, &b| relevance[b].abs().total_cmp(&relevance[a].abs()));
    order[..k].iter().filter(|&&t| relevant[t]).count() as f64 / k as f64
}

/// The oriented ground truth `g_t` of a sentence (see the module docs).
///
/// ```
/// use lrp_demo::{score::oriented_truth, task::Sentence};
///
/// let words = ["not", "good", "awful"].map(String::from).to_vec();
/// // "good" negated (1.9 → −1.9), "awful" −2.0: a negative sentence (label 0).
/// let s = Sentence { words, ids: vec![2, 3, 4], truth: vec![0.0, -1.9, -2.0], label: 0 };
/// // Oriented towards the negative class: words against it get negative relevance.
/// assert_eq!(oriented_truth(&s), vec![0.0, 1.9, 2.0]);
/// ```
pub fn oriented_truth(s: &Sentence) -> Vec<f64> {
    let sign = if s.label == 1 { 1.0 } else { -1.0 };
    s.truth.iter().map(|v| sign * v).collect()
}

/// Mean scores over a set of sentences.
///
/// ```
/// use lrp_demo::{score::score, task::Sentence};
///
/// let words = ["a", "good", "day"].map(String::from).to_vec();
/// let s = Sentence { words, ids: vec![0; 3], truth: vec![0.0, 1.9, 0.0], label: 1 };
/// let m = score("ideal", &[s], &[vec![0.0, 1.0, 0.0]]).all;
/// assert_eq!((m.spearman, m.top_k, m.sentences), (1.0, 1.0, 1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Mean Spearman ρ with the oriented valences.
    pub spearman: f64,
    /// Mean top-k precision of the polar words.
    pub top_k: f64,
    /// Number of sentences.
    pub sentences: usize,
}

/// The scores of one method: on all sentences, on those without negation, on those with.
///
/// ```
/// use lrp_demo::{score::score, task::Sentence};
///
/// let sentence = |w: &[&str], truth: Vec<f64>, label| Sentence {
///     words: w.iter().map(|s| s.to_string()).collect(), ids: vec![0; w.len()], truth, label,
/// };
/// let plain = sentence(&["so", "good"], vec![0.0, 1.9], 1);
/// let negated = sentence(&["not", "good"], vec![0.0, -1.9], 0);
/// let scores = score("m", &[plain, negated], &[vec![0.0, 1.0], vec![1.0, 0.0]]);
/// assert_eq!((scores.plain.sentences, scores.negated.sentences), (1, 1));
/// assert_eq!((scores.plain.spearman, scores.negated.spearman), (1.0, -1.0));
/// assert_eq!(scores.all.spearman, 0.0); // the mean
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct MethodScore {
    /// The method's name.
    pub method: String,
    /// All sentences.
    pub all: Metrics,
    /// Sentences without `not`.
    pub plain: Metrics,
    /// Sentences with at least one negated polar word.
    pub negated: Metrics,
}

fn metrics<'a>(pairs: impl Iterator<Item = (&'a Sentence, &'a Vec<f64>)>) -> Metrics {
    let (mut rho, mut top, mut n) = (0.0, 0.0, 0usize);
    for (s, r) in pairs {
        rho += spearman(r, &oriented_truth(s));
        let polar: Vec<bool> = s.truth.iter().map(|&v| v != 0.0).collect();
        top += top_k_precision(r, &polar);
        n += 1;
    }
    let d = n.max(1) as f64;
    Metrics {
        spearman: rho / d,
        top_k: top / d,
        sentences: n,
    }
}

/// Whether a sentence holds a negation.
///
/// ```
/// use lrp_demo::{score::is_negated, task::Sentence};
///
/// let words = ["not", "good"].map(String::from).to_vec();
/// let s = Sentence { words, ids: vec![2, 3], truth: vec![0.0, -1.9], label: 0 };
/// assert!(is_negated(&s));
/// ```
pub fn is_negated(s: &Sentence) -> bool {
    s.words.iter().any(|w| w == super::task::NOT)
}

/// Scores per-token relevances (one vector per sentence, in sentence order).
///
/// # Panics
/// When the counts of sentences and relevance vectors, or a sentence's length and its
/// relevance vector's, differ.
///
/// ```
/// use lrp_demo::{rng::Rng, score::score, task::{Task, TaskConfig}};
///
/// let task = Task::new(TaskConfig::default())?;
/// let sentences = task.sample(50, &mut Rng::new(1));
/// // The ground truth itself as the explanation: perfect top-k precision.
/// let truth: Vec<Vec<f64>> = sentences.iter().map(|s| s.truth.clone()).collect();
/// let scores = score("truth", &sentences, &truth);
/// assert_eq!(scores.all.sentences, 50);
/// assert_eq!(scores.all.top_k, 1.0);
/// assert_eq!(scores.plain.sentences + scores.negated.sentences, 50);
/// # Ok::<(), lrp_demo::SentimentError>(())
/// ```
pub fn score(method: &str, sentences: &[Sentence], relevance: &[Vec<f64>]) -> MethodScore {
    assert_eq!(sentences.len(), relevance.len());
    let pairs = || sentences.iter().zip(relevance);
    MethodScore {
        method: method.to_string(),
        all: metrics(pairs()),
        plain: metrics(pairs().filter(|(s, _)| !is_negated(s))),
        negated: metrics(pairs().filter(|(s, _)| is_negated(s))),
    }
}

/// Groups sentence indices by length (batches of equal-length sentences need no padding).
///
/// ```
/// use lrp_demo::{score::by_length, task::Sentence};
///
/// let sentence = |n: usize| Sentence {
///     words: vec!["a".into(); n], ids: vec![0; n], truth: vec![0.0; n], label: 0,
/// };
/// let sentences = [sentence(3), sentence(5), sentence(3)];
/// assert_eq!(by_length(&sentences), vec![vec![0, 2], vec![1]]); // shortest first
/// ```
pub fn by_length(sentences: &[Sentence]) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, s) in sentences.iter().enumerate() {
        groups.entry(s.ids.len()).or_default().push(i);
    }
    groups.into_values().collect()
}

/// LRP per-token relevance (summed over the embedding axis) of each sentence's label class.
///
/// ```
/// use lrp_demo::{rng::Rng, score, task::{Task, TaskConfig}};
/// use lstm_lrp::{ExplainConfig, LstmModel, Precision, backends};
///
/// let params = lstm_lrp::load_model(lrp_demo::shipped("model.safetensors"))?;
/// let device = backends::default_device();
/// let model = LstmModel::new(&params, &device, Precision::F64)?;
/// // Sentences without negation, where LRP finds the polar words.
/// let task = Task::new(TaskConfig { negation: 0.0, ..TaskConfig::default() })?;
/// let sentences = task.sample(20, &mut Rng::new(1));
/// let relevance = score::lrp_relevance(&model, &sentences, &ExplainConfig::new(), &device)?;
/// assert_eq!(relevance[0].len(), sentences[0].words.len()); // one score per token
/// let scores = score::score("lrp", &sentences, &relevance);
/// assert!(scores.all.top_k > 0.9 && scores.all.spearman > 0.5);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lrp_relevance(
    model: &LstmModel,
    sentences: &[Sentence],
    config: &ExplainConfig,
    device: &Device,
) -> Result<Vec<Vec<f64>>, SentimentError> {
    let mut out = vec![Vec::new(); sentences.len()];
    for idx in by_length(sentences) {
        let rows: Vec<&[usize]> = idx.iter().map(|&i| sentences[i].ids.as_slice()).collect();
        let labels = idx.iter().map(|&i| sentences[i].label).collect();
        let config = config.clone().with_target(Target::PerSample(labels));
        let e = model
            .explain(lrp_core::Input::tokens(ids_tensor(&rows, device)), &config)?
            .to_host()?;
        let steps = e.step_relevance();
        for (b, &i) in idx.iter().enumerate() {
            out[i] = steps[b * e.steps..(b + 1) * e.steps].to_vec();
        }
    }
    Ok(out)
}

/// The scores as a Markdown table: ρ and top-k precision on all sentences, on those without
/// negation and on those with.
///
/// ```
/// use lrp_demo::score::{MethodScore, Metrics, markdown_table};
///
/// let m = Metrics { spearman: 0.5, top_k: 1.0, sentences: 4 };
/// let row = MethodScore { method: "lrp".into(), all: m, plain: m, negated: m };
/// let table = markdown_table(&[row]);
/// assert!(table.starts_with("| method | ρ, all (4) |"));
/// assert!(table.ends_with("| lrp | 0.500 | 1.000 | 0.500 | 1.000 | 0.500 | 1.000 |\n"));
/// ```
pub fn markdown_table(scores: &[MethodScore]) -> String {
    let n = |f: fn(&MethodScore) -> Metrics| scores.first().map_or(0, |m| f(m).sentences);
    let mut s = format!(
        "| method | ρ, all ({}) | top-k, all | ρ, no negation ({}) | top-k, no negation | \
         ρ, with negation ({}) | top-k, with negation |\n|---|---|---|---|---|---|---|\n",
        n(|m| m.all),
        n(|m| m.plain),
        n(|m| m.negated)
    );
    for m in scores {
        s.push_str(&format!(
            "| {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |\n",
            m.method,
            m.all.spearman,
            m.all.top_k,
            m.plain.spearman,
            m.plain.top_k,
            m.negated.spearman,
            m.negated.top_k
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spearman_on_constructed_cases() {
        assert!((spearman(&[1.0, 2.0, 3.0], &[10.0, 20.0, 30.0]) - 1.0).abs() < 1e-12);
        assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, 1.0]) + 1.0).abs() < 1e-12);
        assert_eq!(spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]), 0.0);
        // Ties: ranks of [0, 0, 1] are [0.5, 0.5, 2]; of [1, 2, 3] are [0, 1, 2].
        // centred: [-0.5, -0.5, 1] and [-1, 0, 1]; cov 1.5, var 1.5 and 2 → 1.5/√3.
        let rho = spearman(&[0.0, 0.0, 1.0], &[1.0, 2.0, 3.0]);
        assert!((rho - 1.5 / 3f64.sqrt()).abs() < 1e-12, "{rho}");
    }

    #[test]
    fn top_k_on_constructed_cases() {
        let relevant = [false, true, false, true];
        assert_eq!(top_k_precision(&[0.1, -3.0, 0.2, 2.0], &relevant), 1.0);
        assert_eq!(top_k_precision(&[5.0, -3.0, 0.2, 0.0], &relevant), 0.5);
        assert_eq!(top_k_precision(&[5.0, 0.0, 4.0, 0.0], &relevant), 0.0);
    }
}
