//! The input, batch by batch: C-ordered `.npy` files are read `--batch-size` rows at a time and
//! JSON-lines files `--batch-size` lines at a time (each batch padded only to its own longest
//! sequence), so inputs larger than memory stream through; safetensors files (and inputs an
//! output needs whole) are read whole and cut into batches.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use lrp_import::HostArray;
use lrp_import::npy;
use lstm_lrp::files::{self, InputArrays, InputValues};

use super::CliError;
use super::words::{self, Line, Vocab};

/// Consecutive samples of the input.
pub struct Batch {
    /// The samples, padded to this batch's longest.
    pub inputs: InputArrays,
    /// Index of the first sample in the whole input.
    pub start: usize,
    /// The words of each sample as read (unknown words included) when the input was words.
    pub words: Option<Vec<Vec<String>>>,
}

/// Where the samples come from.
pub enum Source<'v> {
    /// Every sample in memory.
    Arrays {
        /// All samples.
        inputs: InputArrays,
        /// The next sample to hand out.
        next: usize,
        /// Words read as `<unk>` while reading them.
        unknown: usize,
        /// The words of each sample as read, for word input.
        words: Option<Vec<Vec<String>>>,
    },
    /// A JSON-lines file, read as needed.
    Lines(LineReader<'v>),
    /// A C-ordered `.npy` file, read a range of rows at a time.
    Npy(NpyRows),
}

/// A `.npy` input of token ids `(batch, time)` or features `(batch, time, features)`.
pub struct NpyRows {
    reader: npy::RowReader<File>,
    path: PathBuf,
    /// The next row to hand out.
    next: usize,
}

impl NpyRows {
    /// Opens `path` for reading by rows; `None` when it cannot be read by rows (a
    /// Fortran-ordered array, which the whole-file reader reorders, or a broken file, whose
    /// error the whole-file reader reports).
    fn open(path: &Path) -> Result<Option<Self>, CliError> {
        let file = File::open(path).map_err(|e| {
            CliError::usage(format!(
                "{}: {e} (give an existing .npy file)",
                path.display()
            ))
        })?;
        let Ok(reader) = npy::RowReader::new(file) else {
            return Ok(None);
        };
        let rank = reader.shape().len();
        let want = if reader.holds_floats() { 3 } else { 2 };
        if rank != want {
            return Err(CliError::usage(format!(
                "{}: an array of shape {:?}; {NPY_HINT}",
                path.display(),
                reader.shape()
            )));
        }
        Ok(Some(NpyRows {
            reader,
            path: path.to_path_buf(),
            next: 0,
        }))
    }

    fn rows(&self) -> usize {
        self.reader.shape()[0]
    }

    fn next_batch(&mut self, n: usize) -> Result<Option<Batch>, CliError> {
        let total = self.rows();
        if self.next >= total {
            return if total == 0 {
                Err(CliError::usage(format!(
                    "{}: the array holds no sequence (0 rows)",
                    self.path.display()
                )))
            } else {
                Ok(None)
            };
        }
        let range = self.next..self.next.saturating_add(n).min(total);
        let values = if self.reader.holds_floats() {
            self.reader
                .read_f64(range.clone())
                .map(InputValues::Features)
        } else {
            self.reader.read_i64(range.clone()).map(InputValues::Tokens)
        }
        .map_err(|e| CliError::file(&self.path, e, NPY_HINT))?;
        self.next = range.end;
        Ok(Some(Batch {
            inputs: InputArrays {
                values,
                lengths: None,
                mask: None,
            },
            start: range.start,
            words: None,
        }))
    }
}

const NPY_HINT: &str =
    "expected floats (batch, time, features) or token ids (batch, time) in a .npy file";

impl<'v> Source<'v> {
    /// Samples already in memory (`--text`, tests).
    pub fn arrays(inputs: InputArrays) -> Self {
        Source::Arrays {
            inputs,
            next: 0,
            unknown: 0,
            words: None,
        }
    }

    /// Samples already in memory, with the words they were read from.
    pub fn words(inputs: InputArrays, words: Vec<Vec<String>>) -> Self {
        Source::Arrays {
            inputs,
            next: 0,
            unknown: 0,
            words: Some(words),
        }
    }

    /// Opens an input file. JSON lines are streamed unless `whole` (an output that needs one
    /// padded array of every sample, such as `--output`).
    pub fn open(path: &Path, vocab: Option<&'v Vocab>, whole: bool) -> Result<Self, CliError> {
        let io_error = |e: std::io::Error| {
            CliError::usage(format!(
                "{}: {e} (give an existing .npy, .safetensors or JSON-lines file)",
                path.display()
            ))
        };
        let mut file = File::open(path).map_err(io_error)?;
        let len = file.metadata().map_err(io_error)?.len();
        let mut prefix = Vec::with_capacity(16);
        (&mut file)
            .take(16)
            .read_to_end(&mut prefix)
            .map_err(io_error)?;
        if npy::is_npy(&prefix)
            && !whole
            && let Some(rows) = NpyRows::open(path)?
        {
            return Ok(Source::Npy(rows));
        }
        if !files::is_json_lines(&prefix, len) {
            let inputs = files::read_input(path).map_err(|e| {
                CliError::file(
                    path,
                    e,
                    "expected `x` as floats (batch, time, features) or token ids (batch, time)",
                )
            })?;
            return Ok(Source::arrays(inputs));
        }
        let mut lines = LineReader {
            reader: BufReader::new(File::open(path).map_err(io_error)?),
            path: path.to_path_buf(),
            line: 0,
            next: 0,
            vocab,
            unknown: 0,
            buf: String::new(),
        };
        if whole {
            let batch = lines.next_batch(usize::MAX)?.ok_or_else(|| lines.empty())?;
            return Ok(Source::Arrays {
                inputs: batch.inputs,
                next: 0,
                unknown: lines.unknown,
                words: batch.words,
            });
        }
        Ok(Source::Lines(lines))
    }

    /// The next at most `n` samples; `None` at the end.
    pub fn next_batch(&mut self, n: usize) -> Result<Option<Batch>, CliError> {
        match self {
            Source::Arrays {
                inputs,
                next,
                words,
                ..
            } => {
                let [total, _] = inputs.batch_and_steps();
                if *next >= total {
                    return Ok(None);
                }
                let range = *next..(*next).saturating_add(n).min(total);
                *next = range.end;
                let start = range.start;
                Ok(Some(Batch {
                    inputs: if range.len() == total {
                        inputs.clone()
                    } else {
                        inputs.slice(range)
                    },
                    start,
                    words: words.as_ref().map(|w| w[start..*next].to_vec()),
                }))
            }
            Source::Lines(lines) => lines.next_batch(n),
            Source::Npy(rows) => rows.next_batch(n),
        }
    }

    /// Skips the first `n` samples (`--resume`); returns how many there were.
    pub fn skip(&mut self, n: usize) -> Result<usize, CliError> {
        match self {
            Source::Arrays { inputs, next, .. } => {
                let [total, _] = inputs.batch_and_steps();
                let skipped = n.min(total - *next);
                *next += skipped;
                Ok(skipped)
            }
            Source::Lines(lines) => lines.skip(n),
            Source::Npy(rows) => {
                let skipped = n.min(rows.rows() - rows.next);
                rows.next += skipped;
                Ok(skipped)
            }
        }
    }

    /// The number of samples, when known without reading the input (array files).
    pub fn total(&self) -> Option<usize> {
        match self {
            Source::Arrays { inputs, .. } => Some(inputs.batch_and_steps()[0]),
            Source::Lines(_) => None,
            Source::Npy(rows) => Some(rows.rows()),
        }
    }

    /// Words read as `<unk>` so far.
    pub fn unknown(&self) -> usize {
        match self {
            Source::Arrays { unknown, .. } => *unknown,
            Source::Lines(lines) => lines.unknown,
            Source::Npy(_) => 0,
        }
    }
}

/// A JSON-lines input: one sequence per non-blank line, as token ids, a word array or a
/// sentence (the last two need a vocabulary).
pub struct LineReader<'v> {
    reader: BufReader<File>,
    path: PathBuf,
    /// Lines read so far (for error messages, 1-based once read).
    line: usize,
    /// Index of the next sequence.
    next: usize,
    vocab: Option<&'v Vocab>,
    unknown: usize,
    buf: String,
}

impl LineReader<'_> {
    fn empty(&self) -> CliError {
        CliError::usage(format!(
            "{}: the JSON-lines input holds no sequence (one JSON array or sentence per line)",
            self.path.display()
        ))
    }

    fn error(&self, what: impl std::fmt::Display) -> CliError {
        CliError::usage(format!(
            "{}: line {}: {what}",
            self.path.display(),
            self.line
        ))
    }

    /// The next non-blank line, in `self.buf`; `false` at the end of the file.
    fn next_line(&mut self) -> Result<bool, CliError> {
        loop {
            self.buf.clear();
            let read = self.reader.read_line(&mut self.buf).map_err(|e| {
                CliError::usage(format!(
                    "{}: {e} (after line {}; JSON lines must be UTF-8 text)",
                    self.path.display(),
                    self.line
                ))
            })?;
            if read == 0 {
                return Ok(false);
            }
            self.line += 1;
            if !self.buf.trim().is_empty() {
                return Ok(true);
            }
        }
    }

    /// The token ids of the line in `self.buf`, and its words when there is a vocabulary.
    fn sequence(&mut self) -> Result<(Vec<i64>, Option<Vec<String>>), CliError> {
        let (ids, words) = match words::parse_line(self.buf.trim()).map_err(|e| self.error(e))? {
            Line::Ids(ids) => {
                let words = self
                    .vocab
                    .map(|vocab| ids.iter().map(|&id| vocab.word(id)).collect());
                (ids, words)
            }
            Line::Words(words) => {
                let Some(vocab) = self.vocab else {
                    return Err(self
                        .error("words need a vocabulary: give --vocab FILE, or token-id arrays"));
                };
                let (ids, unknown) = vocab.encode_words(&words).map_err(|word| {
                    self.error(format!(
                        "`{word}` is not in the vocabulary, which has no `<unk>` token to map it to"
                    ))
                })?;
                self.unknown += unknown;
                (ids, Some(words))
            }
        };
        if ids.is_empty() {
            return Err(self.error("an empty sequence (every sequence needs at least one token)"));
        }
        Ok((ids, words))
    }

    fn next_batch(&mut self, n: usize) -> Result<Option<Batch>, CliError> {
        let (mut rows, mut words) = (Vec::new(), Vec::new());
        while rows.len() < n && self.next_line()? {
            let (ids, sequence_words) = self.sequence()?;
            rows.push(ids);
            words.extend(sequence_words);
        }
        if rows.is_empty() {
            return if self.next == 0 {
                Err(self.empty())
            } else {
                Ok(None)
            };
        }
        let start = self.next;
        self.next += rows.len();
        Ok(Some(Batch {
            inputs: pad(&rows),
            start,
            words: self.vocab.map(|_| words),
        }))
    }

    fn skip(&mut self, n: usize) -> Result<usize, CliError> {
        let mut skipped = 0;
        while skipped < n && self.next_line()? {
            skipped += 1;
        }
        self.next += skipped;
        Ok(skipped)
    }
}

/// Post-pads sequences of token ids with id 0 to the longest, recording their lengths.
fn pad(rows: &[Vec<i64>]) -> InputArrays {
    let steps = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut data = Vec::with_capacity(rows.len() * steps);
    for row in rows {
        data.extend_from_slice(row);
        data.extend(std::iter::repeat_n(0, steps - row.len()));
    }
    InputArrays {
        values: InputValues::Tokens(HostArray {
            shape: vec![rows.len(), steps],
            data,
        }),
        lengths: Some(rows.iter().map(Vec::len).collect()),
        mask: None,
    }
}

/// The number of non-blank lines of a JSON-lines file (for the progress bar), reading it once
/// in blocks; `None` when it cannot be read.
pub fn count_lines(path: &Path) -> Option<usize> {
    let mut reader = BufReader::with_capacity(1 << 20, File::open(path).ok()?);
    let (mut count, mut blank) = (0, true);
    loop {
        let block = reader.fill_buf().ok()?;
        if block.is_empty() {
            break;
        }
        for &b in block {
            if b == b'\n' {
                count += usize::from(!blank);
                blank = true;
            } else if !b.is_ascii_whitespace() {
                blank = false;
            }
        }
        let used = block.len();
        reader.consume(used);
    }
    Some(count + usize::from(!blank))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lstm-lrp-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn json_lines_come_in_batches_padded_to_their_own_longest() {
        let path = temp("ids.jsonl", "[1, 2, 3]\n\n[4]\n[5, 6]\n");
        let mut source = Source::open(&path, None, false).unwrap();
        assert_eq!(source.total(), None);
        let first = source.next_batch(2).unwrap().unwrap();
        assert_eq!(first.start, 0);
        assert_eq!(first.inputs.tokens().unwrap().data, [1, 2, 3, 4, 0, 0]);
        assert_eq!(first.inputs.lengths, Some(vec![3, 1]));
        let second = source.next_batch(2).unwrap().unwrap();
        assert_eq!(second.start, 2);
        assert_eq!(second.inputs.tokens().unwrap().data, [5, 6]);
        assert!(source.next_batch(2).unwrap().is_none());
        assert_eq!(count_lines(&path), Some(3));
    }

    #[test]
    fn skipping_resumes_after_the_done_sequences() {
        let path = temp("skip.jsonl", "[1]\n[2]\n[3]\n");
        let mut source = Source::open(&path, None, false).unwrap();
        assert_eq!(source.skip(2).unwrap(), 2);
        let rest = source.next_batch(10).unwrap().unwrap();
        assert_eq!(
            (rest.start, rest.inputs.tokens().unwrap().data.clone()),
            (2, vec![3])
        );
        let mut whole = Source::open(&path, None, true).unwrap();
        assert_eq!(whole.total(), Some(3));
        assert_eq!(whole.skip(5).unwrap(), 3);
        assert!(whole.next_batch(1).unwrap().is_none());
    }

    #[test]
    fn npy_files_are_read_by_rows_unless_needed_whole() {
        let dir = std::env::temp_dir().join(format!("lstm-lrp-stream-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("rows.npy");
        std::fs::write(&path, npy::write_i64(&[3, 2], &[1, 2, 3, 4, 5, 6])).unwrap();
        let mut source = Source::open(&path, None, false).unwrap();
        assert!(matches!(source, Source::Npy(_)));
        assert_eq!((source.total(), source.skip(1).unwrap()), (Some(3), 1));
        let rest = source.next_batch(5).unwrap().unwrap();
        assert_eq!(rest.start, 1);
        assert_eq!(rest.inputs.tokens().unwrap().data, [3, 4, 5, 6]);
        assert!(source.next_batch(5).unwrap().is_none());
        assert!(matches!(
            Source::open(&path, None, true).unwrap(),
            Source::Arrays { .. }
        ));
        // A (3,) vector is neither (batch, time) ids nor (batch, time, features) floats.
        std::fs::write(&path, npy::write_i64(&[3], &[1, 2, 3])).unwrap();
        let err = Source::open(&path, None, false).err().unwrap().to_string();
        assert!(err.contains("[3]"), "{err}");
    }

    #[test]
    fn bad_lines_name_the_file_and_line() {
        let path = temp("bad.jsonl", "[1]\n[1, \"x\"]\n");
        let mut source = Source::open(&path, None, false).unwrap();
        let err = source.next_batch(10).err().unwrap().to_string();
        assert!(err.contains("bad.jsonl: line 2"), "{err}");
        let path = temp("words.jsonl", "\"a sentence\"\n");
        let err = Source::open(&path, None, false)
            .and_then(|mut s| s.next_batch(1))
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("--vocab"), "{err}");
        let path = temp("empty.jsonl", "\n\n");
        assert!(Source::open(&path, None, true).is_err());
    }
}
