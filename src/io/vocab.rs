//! Word input: a vocabulary file, sentences or word lists → token ids, and the words shown in
//! the outputs.
//!
//! Vocabulary format: a text file with one token per line; the line number (from 0) is the token
//! id. By convention line 0 is the padding token `<pad>` and line 1 `<unk>`, which unknown words
//! map to (`examples/sentiment/vocab.txt`).

use std::collections::HashMap;
use std::path::Path;

use crate::io::error::IoError;

/// A token vocabulary: one token per line, the line number (from 0) is its id.
///
/// ```
/// let vocab = lstm_lrp::io::Vocab::read("examples/sentiment/vocab.txt")?;
/// assert_eq!((vocab.word(0).as_str(), vocab.word(1).as_str()), ("<pad>", "<unk>"));
/// let (ids, unknown) = vocab.encode_words(&["the".into(), "ungratefullest".into()]).unwrap();
/// assert_eq!((ids[1], unknown), (1, 1)); // an unknown word is <unk>
/// # Ok::<(), lstm_lrp::io::IoError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Vocab {
    tokens: Vec<String>,
    ids: HashMap<String, i64>,
    unknown: Option<i64>,
}

impl Vocab {
    /// Reads a vocabulary file (one token per line).
    ///
    /// # Errors
    /// An unreadable file, fewer than two tokens, an empty line or a token given twice.
    pub fn read(path: impl AsRef<Path>) -> Result<Self, IoError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| IoError::io(&name, e))?;
        Self::from_text(&text, &name)
    }

    /// A vocabulary from its text (one token per line); `name` is used in errors.
    ///
    /// # Errors
    /// Fewer than two tokens, an empty line or a token given twice.
    pub fn from_text(text: &str, name: &str) -> Result<Self, IoError> {
        let bad = |what: String| IoError::Vocab {
            path: name.to_string(),
            what,
        };
        let tokens: Vec<String> = text
            .lines()
            .map(|l| l.trim_end_matches('\r').to_string())
            .collect();
        if tokens.len() < 2 {
            return Err(bad(format!(
                "a vocabulary needs at least `<pad>` and one token, found {} line(s)",
                tokens.len()
            )));
        }
        let mut ids = HashMap::with_capacity(tokens.len());
        for (id, token) in tokens.iter().enumerate() {
            if token.is_empty() {
                return Err(bad(format!(
                    "line {} is empty (one token per line; the line number is the id)",
                    id + 1
                )));
            }
            if ids.insert(token.clone(), id as i64).is_some() {
                return Err(bad(format!(
                    "token `{token}` appears twice (line {})",
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

    /// Whether the vocabulary is empty (never: [`Vocab::read`] needs two tokens).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
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
    ///
    /// # Errors
    /// The first unknown word, when there is no `<unk>` token.
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
}

/// Splits a sentence into lowercase words: runs of letters, digits and apostrophes.
///
/// ```
/// assert_eq!(lstm_lrp::io::tokenize("Not GOOD, isn't it?"), ["not", "good", "isn't", "it"]);
/// ```
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

/// The fields of a JSON object line that hold its sequence (a dataset's row such as
/// `{"text": "…", "label": 1}`); exactly one must be present, the others are ignored.
pub const SEQUENCE_FIELDS: &[&str] = &["text", "sentence", "tokens", "words", "input_ids", "ids"];

const EXPECTED: &str = "expected a sentence, an array of words, an array of token ids, or an \
                        object holding one of them";

/// Parses one JSON line: a sentence, an array of words or of token ids, or an object with
/// one of [`SEQUENCE_FIELDS`] holding one of those (a leading byte-order mark is ignored).
///
/// # Errors
/// Text that is not one of those, or an object with none or several of the fields.
pub fn parse_line(line: &str) -> Result<Line, String> {
    let line = line.trim_start_matches('\u{feff}');
    let value: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    match value {
        serde_json::Value::Object(fields) => {
            let present: Vec<&str> = SEQUENCE_FIELDS
                .iter()
                .copied()
                .filter(|f| fields.contains_key(*f))
                .collect();
            match present[..] {
                [field] => match &fields[field] {
                    v @ (serde_json::Value::String(_) | serde_json::Value::Array(_)) => {
                        sequence(v.clone()).map_err(|e| format!("field `{field}`: {e}"))
                    }
                    _ => Err(format!(
                        "field `{field}`: expected a sentence, an array of words or an array \
                         of token ids"
                    )),
                },
                [] => Err(format!(
                    "an object with the keys {}; expected the sequence in one of {}",
                    quoted(fields.keys().map(String::as_str)),
                    quoted(SEQUENCE_FIELDS.iter().copied())
                )),
                _ => Err(format!(
                    "an object with several sequences ({}): keep the one the model reads",
                    quoted(present.iter().copied())
                )),
            }
        }
        other => sequence(other),
    }
}

fn quoted<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A sentence, a word array or a token-id array.
fn sequence(value: serde_json::Value) -> Result<Line, String> {
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
                Err(EXPECTED.into())
            }
        }
        _ => Err(EXPECTED.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_lines_hold_their_sequence_in_one_field() {
        let words = |line: &str| match parse_line(line) {
            Ok(Line::Words(w)) => w,
            Ok(Line::Ids(ids)) => panic!("{line}: ids {ids:?}"),
            Err(e) => panic!("{line}: {e}"),
        };
        assert_eq!(
            words(r#"{"text": "Good week", "label": 1}"#),
            ["good", "week"]
        );
        assert_eq!(words(r#"{"id": 7, "tokens": ["A", "b"]}"#), ["a", "b"]);
        assert!(matches!(
            parse_line(r#"{"input_ids": [4, 5]}"#),
            Ok(Line::Ids(ids)) if ids == [4, 5]
        ));
        // A byte-order mark before the first line (Windows editors, utf-8-sig).
        assert_eq!(words("\u{feff}\"good\""), ["good"]);
        let err = |line: &str| parse_line(line).err().unwrap_or_default();
        assert!(err(r#"{"label": 1}"#).contains("the keys `label`"));
        assert!(err(r#"{"text": "a", "input_ids": [1]}"#).contains("several sequences"));
        assert!(err(r#"{"text": 3}"#).contains("field `text`"));
        assert!(err(r#"{"ids": [1, "a"]}"#).contains("field `ids`"));
    }

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
        let vocab = Vocab::from_text("<pad>\n<unk>\ngood\nplot\n", "v").unwrap();
        assert_eq!(
            vocab.encode_words(&tokenize("good plot")),
            Ok((vec![2, 3], 0))
        );
        assert_eq!(vocab.encode_words(&tokenize("bad")), Ok((vec![1], 1)));
        assert_eq!(vocab.word(3), "plot");
        assert_eq!(vocab.word(99), "<id 99>");
    }

    #[test]
    fn a_bad_vocabulary_is_one_clear_error() {
        let err = Vocab::from_text("<pad>\ngood\ngood\n", "v.txt")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("v.txt: ") && err.contains("appears twice"),
            "{err}"
        );
        let vocab = Vocab::from_text("<pad>\ngood\n", "v.txt").unwrap();
        assert_eq!(vocab.encode_words(&tokenize("bad")), Err("bad".to_string()));
        assert!(Vocab::from_text("<pad>\n", "v.txt").is_err());
    }
}
