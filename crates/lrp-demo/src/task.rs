//! The synthetic sentiment task: sentences of neutral filler words and polar VADER words, with
//! the label and the relevant words known exactly.
//!
//! A sentence has `min_len..=max_len` tokens; `1..=max_polar` of them are polar words, each
//! preceded by the negation `not` with probability `negation`, the rest fillers. A polar word's
//! effective valence is its VADER mean valence (−4..4), sign-flipped when negated. The label is
//! the sign of the sum of the effective valences (1 = positive, 0 = negative); sentences whose
//! sum is within `min_margin` of zero are redrawn, so that every label is unambiguous.

use std::collections::HashMap;

use super::SentimentError;
use super::rng::Rng;

const POLAR_WORDS: &str = include_str!("data/vader_subset.tsv");
const FILLER_WORDS: &str = include_str!("data/fillers.txt");

/// The padding token (id 0).
pub const PAD: &str = "<pad>";
/// The unknown-word token (id 1).
pub const UNK: &str = "<unk>";
/// The negation token.
pub const NOT: &str = "not";

/// The words of the task: fillers and polar words with their VADER valences.
///
/// ```
/// use lrp_demo::task::Lexicon;
///
/// let lexicon = Lexicon::builtin();
/// assert_eq!((lexicon.polar.len(), lexicon.fillers.len()), (240, 151));
/// let positive = lexicon.polar.iter().filter(|(_, v)| *v > 0.0).count();
/// assert_eq!(positive, 120);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Lexicon {
    /// Neutral words.
    pub fillers: Vec<String>,
    /// Polar words and their mean valence (−4..4).
    pub polar: Vec<(String, f64)>,
}

impl Lexicon {
    /// The lexicon that ships with the crate: 240 VADER words (120 positive, 120 negative, see
    /// `src/sentiment/data/vader_subset.tsv` for the selection rule) and 151 fillers.
    ///
    /// ```
    /// use lrp_demo::task::Lexicon;
    ///
    /// let lexicon = Lexicon::builtin();
    /// assert!(lexicon.polar.iter().all(|(_, v)| (-4.0..=4.0).contains(v) && *v != 0.0));
    /// assert!(lexicon.fillers.iter().all(|w| lexicon.valence(w).is_none()));
    /// ```
    pub fn builtin() -> Self {
        let lines = |text: &'static str| {
            text.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
        };
        let fillers = lines(FILLER_WORDS).map(String::from).collect();
        let polar = lines(POLAR_WORDS)
            .filter_map(|l| {
                let (word, value) = l.split_once('\t')?;
                Some((word.to_string(), value.trim().parse().ok()?))
            })
            .collect();
        Self { fillers, polar }
    }

    /// The valence of a word, if it is polar.
    ///
    /// ```
    /// use lrp_demo::task::Lexicon;
    ///
    /// let lexicon = Lexicon::builtin();
    /// let (word, valence) = lexicon.polar[0].clone();
    /// assert_eq!(lexicon.valence(&word), Some(valence));
    /// assert_eq!(lexicon.valence(&lexicon.fillers[0]), None);
    /// ```
    pub fn valence(&self, word: &str) -> Option<f64> {
        self.polar.iter().find(|(w, _)| w == word).map(|(_, v)| *v)
    }
}

/// Token ids: one token per line of `vocab.txt`, the line number (from 0) is the id; line 0 is
/// `<pad>`, line 1 `<unk>`.
///
/// ```
/// use lrp_demo::task::Vocab;
///
/// let vocab = Vocab::from_text(&std::fs::read_to_string(lrp_demo::shipped("vocab.txt"))?)?;
/// assert_eq!(vocab.len(), 394);
/// assert_eq!(vocab.encode("The movie"), vec![3, 12]); // lower-cased, one id per word
/// assert_eq!(vocab.token(12), Some("movie"));
/// assert_eq!(vocab.id("zyzzyva"), 1); // <unk>
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Vocab {
    tokens: Vec<String>,
    ids: HashMap<String, usize>,
}

impl Vocab {
    /// `<pad>`, `<unk>`, `not`, the fillers, then the polar words.
    ///
    /// ```
    /// use lrp_demo::task::{Lexicon, Vocab};
    ///
    /// let lexicon = Lexicon::builtin();
    /// let vocab = Vocab::from_lexicon(&lexicon);
    /// assert_eq!(vocab.len(), 3 + 151 + 240);
    /// assert_eq!(vocab.token(2), Some("not"));
    /// assert_eq!(vocab.id(&lexicon.fillers[0]), 3);
    /// // The shipped model's vocabulary is this one.
    /// assert_eq!(vocab.to_text(), std::fs::read_to_string(lrp_demo::shipped("vocab.txt"))?);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn from_lexicon(lexicon: &Lexicon) -> Self {
        let mut tokens = vec![PAD.to_string(), UNK.to_string(), NOT.to_string()];
        tokens.extend(lexicon.fillers.iter().cloned());
        tokens.extend(lexicon.polar.iter().map(|(w, _)| w.clone()));
        Self::from_tokens(tokens).expect("the builtin lexicon has unique words")
    }

    /// From a list of tokens; the first two must be `<pad>` and `<unk>`, none may repeat.
    ///
    /// ```
    /// use lrp_demo::task::Vocab;
    ///
    /// let tokens = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    /// let vocab = Vocab::from_tokens(tokens(&["<pad>", "<unk>", "good", "bad"]))?;
    /// assert_eq!(vocab.encode("bad good ugly"), vec![3, 2, 1]);
    /// assert!(Vocab::from_tokens(tokens(&["good", "<pad>", "<unk>"])).is_err());
    /// assert!(Vocab::from_tokens(tokens(&["<pad>", "<unk>", "good", "good"])).is_err());
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn from_tokens(tokens: Vec<String>) -> Result<Self, SentimentError> {
        if tokens.first().map(String::as_str) != Some(PAD)
            || tokens.get(1).map(String::as_str) != Some(UNK)
        {
            return Err(SentimentError::Vocab(format!(
                "the first two tokens must be {PAD} and {UNK}"
            )));
        }
        let mut ids = HashMap::with_capacity(tokens.len());
        for (i, t) in tokens.iter().enumerate() {
            if ids.insert(t.clone(), i).is_some() {
                return Err(SentimentError::Vocab(format!(
                    "token `{t}` appears twice (line {i})"
                )));
            }
        }
        Ok(Self { tokens, ids })
    }

    /// Parses a `vocab.txt` (one token per line).
    ///
    /// ```
    /// use lrp_demo::task::Vocab;
    ///
    /// let vocab = Vocab::from_text("<pad>\r\n<unk>\r\nfine\r\n")?; // CRLF is accepted
    /// assert_eq!(vocab.len(), 3);
    /// assert_eq!(vocab.to_text(), "<pad>\n<unk>\nfine\n");
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn from_text(text: &str) -> Result<Self, SentimentError> {
        Self::from_tokens(
            text.lines()
                .map(|l| l.trim_end_matches('\r').to_string())
                .collect(),
        )
    }

    /// The `vocab.txt` text.
    ///
    /// ```
    /// use lrp_demo::task::Vocab;
    ///
    /// let text = "<pad>\n<unk>\nnot\nfine\n";
    /// assert_eq!(Vocab::from_text(text)?.to_text(), text); // round trip
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn to_text(&self) -> String {
        let mut s = self.tokens.join("\n");
        s.push('\n');
        s
    }

    /// Number of tokens.
    ///
    /// ```
    /// use lrp_demo::task::Vocab;
    ///
    /// assert_eq!(Vocab::from_text("<pad>\n<unk>\nfine")?.len(), 3);
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether there are no tokens (never, for a valid vocabulary).
    ///
    /// ```
    /// use lrp_demo::task::Vocab;
    ///
    /// assert!(!Vocab::from_text("<pad>\n<unk>")?.is_empty());
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The id of a word, `<unk>` (1) when it is unknown.
    ///
    /// ```
    /// use lrp_demo::task::Vocab;
    ///
    /// let vocab = Vocab::from_text("<pad>\n<unk>\nfine")?;
    /// assert_eq!((vocab.id("fine"), vocab.id("Fine"), vocab.id("<pad>")), (2, 1, 0));
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn id(&self, word: &str) -> usize {
        self.ids.get(word).copied().unwrap_or(1)
    }

    /// The token of an id.
    ///
    /// ```
    /// use lrp_demo::task::Vocab;
    ///
    /// let vocab = Vocab::from_text("<pad>\n<unk>\nfine")?;
    /// assert_eq!((vocab.token(2), vocab.token(3)), (Some("fine"), None));
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn token(&self, id: usize) -> Option<&str> {
        self.tokens.get(id).map(String::as_str)
    }

    /// The ids of a whitespace-separated, lower-cased sentence.
    ///
    /// ```
    /// use lrp_demo::task::Vocab;
    ///
    /// let vocab = Vocab::from_text("<pad>\n<unk>\nnot\nfine")?;
    /// assert_eq!(vocab.encode("  Not   FINE today "), vec![2, 3, 1]);
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn encode(&self, sentence: &str) -> Vec<usize> {
        sentence
            .split_whitespace()
            .map(|w| self.id(&w.to_lowercase()))
            .collect()
    }
}

/// How sentences are drawn.
///
/// ```
/// use lrp_demo::task::{Task, TaskConfig};
///
/// let config = TaskConfig { min_len: 4, max_len: 6, ..TaskConfig::default() };
/// assert_eq!((config.max_polar, config.negation), (3, 0.25)); // the defaults
/// let task = Task::new(config)?;
/// assert_eq!(task.config.min_len, 4);
/// // A sentence needs at least two tokens.
/// assert!(Task::new(TaskConfig { min_len: 1, ..TaskConfig::default() }).is_err());
/// # Ok::<(), lrp_demo::SentimentError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct TaskConfig {
    /// Shortest sentence (tokens, ≥ 2).
    pub min_len: usize,
    /// Longest sentence (tokens).
    pub max_len: usize,
    /// Most polar words per sentence (≥ 1).
    pub max_polar: usize,
    /// Probability that a polar word is negated by a preceding `not`.
    pub negation: f64,
    /// Smallest |sum of effective valences| a sentence may have.
    pub min_margin: f64,
}

impl Default for TaskConfig {
    fn default() -> Self {
        Self {
            min_len: 5,
            max_len: 12,
            max_polar: 3,
            negation: 0.25,
            min_margin: 1.0,
        }
    }
}

impl TaskConfig {
    fn validate(&self) -> Result<(), SentimentError> {
        if self.min_len < 2 || self.max_len < self.min_len || self.max_polar == 0 {
            return Err(SentimentError::Config(format!(
                "need 2 <= min_len <= max_len and max_polar >= 1, got {self:?}"
            )));
        }
        let negation_ok = (0.0..=1.0).contains(&self.negation);
        let margin_ok = self.min_margin.is_finite() && self.min_margin >= 0.0;
        if !(negation_ok && margin_ok) {
            return Err(SentimentError::Config(format!(
                "need negation in [0, 1] and min_margin >= 0, got {self:?}"
            )));
        }
        Ok(())
    }
}

/// One sentence with its ground truth.
///
/// ```
/// use lrp_demo::{rng::Rng, task::{Task, TaskConfig}};
///
/// let task = Task::new(TaskConfig::default())?;
/// for s in task.sample(20, &mut Rng::new(1)) {
///     assert_eq!((s.ids.len(), s.truth.len()), (s.words.len(), s.words.len()));
///     let sum: f64 = s.truth.iter().sum();
///     assert_eq!(s.label, usize::from(sum > 0.0)); // 1 = positive
///     assert!(sum.abs() >= 1.0); // min_margin
/// }
/// # Ok::<(), lrp_demo::SentimentError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Sentence {
    /// The words.
    pub words: Vec<String>,
    /// Token ids (in the task's [`Vocab`]).
    pub ids: Vec<usize>,
    /// Per position: the effective signed valence of a polar word (negation applied), 0 for
    /// fillers and for `not`.
    pub truth: Vec<f64>,
    /// 1 = positive (sum of `truth` > 0), 0 = negative.
    pub label: usize,
}

impl Sentence {
    /// The sentence as text.
    ///
    /// ```
    /// use lrp_demo::{rng::Rng, task::{Task, TaskConfig}};
    ///
    /// let task = Task::new(TaskConfig::default())?;
    /// let s = &task.sample(1, &mut Rng::new(3))[0];
    /// assert_eq!(task.vocab.encode(&s.text()), s.ids);
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn text(&self) -> String {
        self.words.join(" ")
    }

    /// The positions of the polar words.
    ///
    /// ```
    /// use lrp_demo::task::Sentence;
    ///
    /// let words = ["the", "plot", "was", "not", "good"].map(String::from).to_vec();
    /// let truth = vec![0.0, 0.0, 0.0, 0.0, -1.9];
    /// let s = Sentence { words, ids: vec![0; 5], truth, label: 0 };
    /// assert_eq!(s.polar_positions(), vec![4]); // `not` itself has no valence
    /// ```
    pub fn polar_positions(&self) -> Vec<usize> {
        (0..self.truth.len())
            .filter(|&t| self.truth[t] != 0.0)
            .collect()
    }
}

/// The task: its lexicon, vocabulary and sentence distribution.
///
/// ```
/// use lrp_demo::{rng::Rng, task::{Task, TaskConfig}};
///
/// let task = Task::new(TaskConfig::default())?;
/// assert_eq!(task.vocab.len(), 394);
/// let sentences = task.sample(100, &mut Rng::new(2019));
/// assert!(sentences.iter().all(|s| (5..=12).contains(&s.words.len())));
/// assert!(sentences.iter().all(|s| (1..=3).contains(&s.polar_positions().len())));
/// # Ok::<(), lrp_demo::SentimentError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Task {
    /// The words.
    pub lexicon: Lexicon,
    /// Their ids.
    pub vocab: Vocab,
    /// The sentence distribution.
    pub config: TaskConfig,
}

impl Task {
    /// The task on the builtin lexicon.
    ///
    /// ```
    /// use lrp_demo::task::{Task, TaskConfig};
    ///
    /// assert!(Task::new(TaskConfig::default()).is_ok());
    /// let err = Task::new(TaskConfig { negation: 1.5, ..TaskConfig::default() }).unwrap_err();
    /// assert!(err.to_string().starts_with("invalid setting: need negation in [0, 1]"));
    /// ```
    pub fn new(config: TaskConfig) -> Result<Self, SentimentError> {
        config.validate()?;
        let lexicon = Lexicon::builtin();
        let vocab = Vocab::from_lexicon(&lexicon);
        Ok(Self {
            lexicon,
            vocab,
            config,
        })
    }

    /// `n` sentences drawn from `rng`; the same generator state gives the same sentences.
    ///
    /// ```
    /// use lrp_demo::{rng::Rng, task::{Task, TaskConfig}};
    ///
    /// let task = Task::new(TaskConfig::default())?;
    /// let a = task.sample(10, &mut Rng::new(7));
    /// assert_eq!(a, task.sample(10, &mut Rng::new(7)));
    /// assert_eq!(a.len(), 10);
    /// # Ok::<(), lrp_demo::SentimentError>(())
    /// ```
    pub fn sample(&self, n: usize, rng: &mut Rng) -> Vec<Sentence> {
        (0..n).map(|_| self.sample_one(rng)).collect()
    }

    fn sample_one(&self, rng: &mut Rng) -> Sentence {
        let c = &self.config;
        loop {
            let len = rng.range(c.min_len, c.max_len);
            // A negated polar word takes two tokens; at most half the tokens are polar words.
            let n_polar = rng.range(1, c.max_polar.min(len / 2).max(1));
            let mut units: Vec<Vec<(String, f64)>> = Vec::with_capacity(len);
            let mut used = 0;
            for _ in 0..n_polar {
                let (word, valence) =
                    &self.lexicon.polar[rng.range(0, self.lexicon.polar.len() - 1)];
                if rng.next_f64() < c.negation && used + 2 <= len {
                    units.push(vec![(NOT.to_string(), 0.0), (word.clone(), -valence)]);
                    used += 2;
                } else {
                    units.push(vec![(word.clone(), *valence)]);
                    used += 1;
                }
            }
            for _ in used..len {
                let word = &self.lexicon.fillers[rng.range(0, self.lexicon.fillers.len() - 1)];
                units.push(vec![(word.clone(), 0.0)]);
            }
            rng.shuffle(&mut units);
            let (words, truth): (Vec<String>, Vec<f64>) = units.into_iter().flatten().unzip();
            let sum: f64 = truth.iter().sum();
            if sum.abs() < c.min_margin {
                continue;
            }
            let ids = words.iter().map(|w| self.vocab.id(w)).collect();
            return Sentence {
                words,
                ids,
                truth,
                label: usize::from(sum > 0.0),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_lexicon_and_vocab() {
        let lex = Lexicon::builtin();
        assert_eq!(lex.polar.len(), 240);
        assert_eq!(lex.polar.iter().filter(|(_, v)| *v > 0.0).count(), 120);
        assert!(lex.polar.iter().all(|(_, v)| v.abs() >= 1.5));
        assert_eq!(lex.fillers.len(), 151);
        let vocab = Vocab::from_lexicon(&lex);
        assert_eq!(vocab.len(), 3 + lex.fillers.len() + 240);
        assert_eq!(vocab.token(0), Some(PAD));
        assert_eq!(vocab.id("no-such-word"), 1);
        let again = Vocab::from_text(&vocab.to_text()).unwrap();
        assert_eq!(again, vocab);
        assert!(Vocab::from_text("a\nb\n").is_err());
    }

    #[test]
    fn sentences_follow_the_rules_and_are_reproducible() {
        let task = Task::new(TaskConfig::default()).unwrap();
        let a = task.sample(500, &mut Rng::new(3));
        assert_eq!(a, task.sample(500, &mut Rng::new(3)));
        let mut negated = 0;
        for s in &a {
            assert!((5..=12).contains(&s.words.len()));
            let sum: f64 = s.truth.iter().sum();
            assert!(sum.abs() >= 1.0);
            assert_eq!(s.label, usize::from(sum > 0.0));
            for (t, w) in s.words.iter().enumerate() {
                match task.lexicon.valence(w) {
                    Some(v) => {
                        let negate = t > 0 && s.words[t - 1] == NOT;
                        negated += usize::from(negate);
                        assert_eq!(s.truth[t], if negate { -v } else { v });
                    }
                    None => assert_eq!(s.truth[t], 0.0),
                }
                assert_eq!(s.ids[t], task.vocab.id(w));
            }
        }
        assert!(negated > 50, "negation occurs ({negated})");
        let positive = a.iter().filter(|s| s.label == 1).count();
        assert!(
            (150..350).contains(&positive),
            "balanced labels ({positive})"
        );
    }
}
