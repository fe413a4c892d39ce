//! Word input: a vocabulary file, sentences or word lists → token ids, and the words shown in
//! the outputs.
//!
//! Vocabulary format: a text file with one token per line; the line number (from 0) is the token
//! id. By convention line 0 is the padding token `<pad>` and line 1 `<unk>`, which unknown words
//! map to (`examples/sentiment/vocab.txt`).

use std::collections::HashMap;
use std::path::Path;

use lrp_import::HostArray;
use lstm_lrp::files::{InputArrays, InputValues};

use super::CliError;

/// A token vocabulary.
#[derive(Debug, Clone)]
pub struct Vocab {
    tokens: Vec<String>,
    ids: HashMap<String, i64>,
    unknown: Option<i64>,
}

impl Vocab {
    /// Reads a vocabulary file (one token per line).
    pub fn read(path: &Path) -> Result<Self, CliError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            CliError::usage(format!(
                "{}: {e} (--vocab expects a text file with one token per line)",
                path.display()
            ))
        })?;
        let tokens: Vec<String> = text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        if tokens.len() < 2 {
            return Err(CliError::usage(format!(
                "{}: a vocabulary needs at least `<pad>` and one token, found {} line(s)",
                path.display(),
                tokens.len()
            )));
        }
        let mut ids = HashMap::with_capacity(tokens.len());
        for (id, token) in tokens.iter().enumerate() {
            if token.is_empty() {
                return Err(CliError::usage(format!(
                    "{}: line {} is empty (one token per line; the line number is the id)",
                    path.display(),
                    id + 1
                )));
            }
            if ids.insert(token.clone(), id as i64).is_some() {
                return Err(CliError::usage(format!(
                    "{}: token `{token}` appears twice (line {})",
                    path.display(),
                    id + 1
                )));
            }
        }
        let unknown = ids.get("<unk>").copied();
        Ok(Vocab {
            tokens,
            ids,
            unknown,
        })
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The token of an id (`<id N>` outside the vocabulary).
    pub fn word(&self, id: i64) -> String {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.tokens.get(i))
            .cloned()
            .unwrap_or_else(|| format!("<id {id}>"))
    }

    /// The id of a word: itself, or `<unk>`; `None` when unknown and there is no `<unk>`.
    fn id(&self, word: &str) -> Option<(i64, bool)> {
        match self.ids.get(word) {
            Some(&id) => Some((id, true)),
            None => self.unknown.map(|id| (id, false)),
        }
    }

    /// The ids of one sentence's words and how many were unknown; `Err(word)` for the first
    /// unknown word when the vocabulary has no `<unk>`.
    pub fn encode_words(&self, words: &[String]) -> Result<(Vec<i64>, usize), String> {
        let mut unknown = 0;
        let ids = words
            .iter()
            .map(|word| {
                let (id, known) = self.id(word).ok_or_else(|| word.clone())?;
                unknown += usize::from(!known);
                Ok(id)
            })
            .collect::<Result<_, String>>()?;
        Ok((ids, unknown))
    }

    /// Encodes sentences (already split into words) as post-padded token ids with lengths.
    /// Returns the input and how many words were unknown.
    pub fn encode(
        &self,
        sentences: &[Vec<String>],
        what: &str,
    ) -> Result<(InputArrays, usize), CliError> {
        if sentences.is_empty() {
            return Err(CliError::usage(format!("{what}: no sentences")));
        }
        let steps = sentences.iter().map(Vec::len).max().unwrap_or(0);
        let mut data = vec![0i64; sentences.len() * steps];
        let mut unknown = 0;
        for (s, words) in sentences.iter().enumerate() {
            if words.is_empty() {
                return Err(CliError::usage(format!(
                    "{what}: sentence {s} has no words (every sequence needs at least one token)"
                )));
            }
            for (t, word) in words.iter().enumerate() {
                let (id, known) = self.id(word).ok_or_else(|| {
                    CliError::usage(format!(
                        "{what}: sentence {s}: `{word}` is not in the vocabulary, which has no \
                         `<unk>` token to map it to"
                    ))
                })?;
                unknown += usize::from(!known);
                data[s * steps + t] = id;
            }
        }
        Ok((
            InputArrays {
                values: InputValues::Tokens(HostArray {
                    shape: vec![sentences.len(), steps],
                    data,
                }),
                lengths: Some(sentences.iter().map(Vec::len).collect()),
                mask: None,
            },
            unknown,
        ))
    }
}

/// Splits a sentence into lowercase words: runs of letters, digits and apostrophes.
pub fn tokenize(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_alphanumeric() || c == '\''))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// One line of a JSON-lines input: a sentence (string), a word list, or a token-id list.
pub enum Line {
    /// Words (from a sentence or a word list).
    Words(Vec<String>),
    /// Token ids.
    Ids(Vec<i64>),
}

/// Parses one JSON line.
pub fn parse_line(line: &str) -> Result<Line, String> {
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    match value {
        serde_json::Value::String(s) => Ok(Line::Words(tokenize(&s))),
        // An empty array is an (empty) sequence of ids, whatever the vocabulary.
        serde_json::Value::Array(items) if items.is_empty() => Ok(Line::Ids(Vec::new())),
        serde_json::Value::Array(items) => {
            if items.iter().all(|v| v.is_string()) {
                Ok(Line::Words(
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_lowercase))
                        .collect(),
                ))
            } else if items.iter().all(|v| v.is_i64()) {
                Ok(Line::Ids(items.iter().filter_map(|v| v.as_i64()).collect()))
            } else {
                Err("expected a sentence, an array of words, or an array of token ids".into())
            }
        }
        _ => Err("expected a sentence, an array of words, or an array of token ids".into()),
    }
}

/// Reads a whole JSON-lines file of sentences, word lists or token ids (with a vocabulary)
/// into one post-padded array of token ids; returns it and how many words were unknown.
pub fn read_jsonl_words(path: &Path, vocab: &Vocab) -> Result<(InputArrays, usize), CliError> {
    match super::stream::Source::open(path, Some(vocab), true)? {
        super::stream::Source::Arrays {
            inputs, unknown, ..
        } => Ok((inputs, unknown)),
        super::stream::Source::Lines(_) | super::stream::Source::Npy(_) => {
            Err(CliError::usage(format!(
                "{}: expected JSON lines of sentences, word arrays or token ids",
                path.display()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_are_lowercased_and_split_on_punctuation() {
        assert_eq!(
            tokenize("The plot, it wasn't GOOD!"),
            ["the", "plot", "it", "wasn't", "good"]
        );
        assert!(tokenize(" ,. ").is_empty());
    }

    #[test]
    fn unknown_words_map_to_unk_and_are_counted() {
        let dir = std::env::temp_dir().join(format!("lstm-lrp-vocab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vocab.txt");
        std::fs::write(&path, "<pad>\n<unk>\ngood\nplot\n").unwrap();
        let vocab = Vocab::read(&path).unwrap();
        let (input, unknown) = vocab
            .encode(&[tokenize("good plot"), tokenize("bad")], "test")
            .unwrap();
        assert_eq!(unknown, 1);
        assert_eq!(input.lengths, Some(vec![2, 1]));
        match input.values {
            InputValues::Tokens(ids) => assert_eq!(ids.data, [2, 3, 1, 0]),
            InputValues::Features(_) => panic!("token input expected"),
        }
        assert_eq!(vocab.word(3), "plot");
        assert_eq!(vocab.word(99), "<id 99>");
    }

    #[test]
    fn a_bad_vocabulary_is_one_clear_error() {
        let dir = std::env::temp_dir().join(format!("lstm-lrp-vocab-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("vocab.txt");
        std::fs::write(&path, "<pad>\ngood\ngood\n").unwrap();
        let err = Vocab::read(&path).unwrap_err().to_string();
        assert!(err.contains("appears twice"), "{err}");
        std::fs::write(&path, "<pad>\ngood\n").unwrap();
        let vocab = Vocab::read(&path).unwrap();
        let err = vocab
            .encode(&[tokenize("bad")], "x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("no `<unk>`"), "{err}");
    }
}
