//! The one input source: every input format, from a file or stdin, batch by batch.
//!
//! | format | read |
//! |---|---|
//! | JSON lines (ids, word arrays, sentences) | `batch_size` lines at a time, from a file or stdin |
//! | C-ordered `.npy` | `batch_size` rows at a time (header checked against the file's length) |
//! | Fortran-ordered `.npy`, safetensors, `.npz` | whole, then cut into batches |
//! | `.npy` or safetensors on stdin | whole into memory, then as above |
//!
//! Each batch of JSON lines is padded to its own longest sequence ([`pad_tokens`]). The format is
//! found by [`lrp_import::sniff`] from the first bytes, which are read once and then replayed, so
//! stdin works like a file and no file is read twice.

use std::fs::File;
use std::io::{BufRead, BufReader, Cursor, Read, Seek};
use std::path::PathBuf;
use std::sync::Arc;

use lrp_import::ImportError;
use lrp_import::formats::npy::{NpyError, RowReader, fortran_order};
use lrp_import::formats::safetensors::parse;
use lrp_import::formats::zip::Archive;
use lrp_import::sniff::{FileKind, read_prefix, sniff};

use crate::io::arrays::{InputArrays, InputValues, NpyValues};
use crate::io::error::IoError;
use crate::io::pad::pad_tokens;
use crate::io::vocab::{Line, Vocab, parse_line, tokenize};

/// Where an input comes from: a file, or standard input (written `-`).
///
/// ```
/// use lstm_lrp::io::InputPath;
///
/// assert_eq!(InputPath::from("-"), InputPath::Stdin);
/// assert_eq!(InputPath::from("x.npy").to_string(), "x.npy");
/// assert_eq!(InputPath::Stdin.to_string(), "stdin");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputPath {
    /// A file.
    File(PathBuf),
    /// Standard input.
    Stdin,
}

impl From<&str> for InputPath {
    fn from(s: &str) -> Self {
        if s == "-" {
            InputPath::Stdin
        } else {
            InputPath::File(PathBuf::from(s))
        }
    }
}

impl From<PathBuf> for InputPath {
    fn from(p: PathBuf) -> Self {
        if p.as_os_str() == "-" {
            InputPath::Stdin
        } else {
            InputPath::File(p)
        }
    }
}

impl std::fmt::Display for InputPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InputPath::File(p) => write!(f, "{}", p.display()),
            InputPath::Stdin => f.write_str("stdin"),
        }
    }
}

/// Consecutive sequences of an input.
#[derive(Debug, Clone, PartialEq)]
pub struct InputBatch {
    /// The sequences, padded to this batch's longest.
    pub inputs: InputArrays,
    /// Index of the first sequence in the whole input.
    pub start: usize,
    /// The words of each sequence as read (unknown words included), for word input.
    pub words: Option<Vec<Vec<String>>>,
}

/// How far a source has been read, for progress reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// Sequences handed out or skipped.
    pub sequences: usize,
    /// Sequences in the input, when known without reading it (arrays).
    pub total_sequences: Option<usize>,
    /// `(read, total)` bytes of a file read as a stream (JSON lines from a file).
    pub bytes: Option<(u64, u64)>,
}

trait ReadSeek: Read + Seek + Send {}
impl<T: Read + Seek + Send> ReadSeek for T {}

enum Kind {
    /// Every sequence in memory.
    Arrays {
        inputs: InputArrays,
        words: Option<Vec<Vec<String>>>,
    },
    /// A C-ordered `.npy` array, read by rows.
    Npy(RowReader<Box<dyn ReadSeek>>),
    /// JSON lines, read as needed.
    Lines {
        reader: Box<dyn BufRead + Send>,
        /// Lines read so far (1-based once read).
        line: usize,
        bytes_read: u64,
        total_bytes: Option<u64>,
        buf: String,
    },
}

/// JSON lines read from `reader` (`total_bytes` for progress, when known).
fn lines(reader: impl Read + Send + 'static, total_bytes: Option<u64>) -> Kind {
    Kind::Lines {
        reader: Box::new(BufReader::with_capacity(1 << 16, reader)),
        line: 0,
        bytes_read: 0,
        total_bytes,
        buf: String::new(),
    }
}

/// An input, read batch by batch.
///
/// ```
/// use lstm_lrp::io::{InputPath, InputSource};
///
/// let path = std::env::temp_dir().join(format!("lstm-lrp-doc-source-{}.jsonl", std::process::id()));
/// std::fs::write(&path, "[1, 2, 3]\n\n[4]\n[5, 6]\n")?;
/// let mut source = InputSource::open(InputPath::File(path), None)?;
/// let first = source.next_batch(2)?.expect("two sequences");
/// assert_eq!(first.inputs.tokens().unwrap().data, [1, 2, 3, 4, 0, 0]); // padded to 3
/// assert_eq!(first.inputs.lengths, Some(vec![3, 1]));
/// let second = source.next_batch(2)?.expect("one more");
/// assert_eq!((second.start, second.inputs.batch_and_steps()), (2, [1, 2]));
/// assert!(source.next_batch(2)?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct InputSource {
    name: String,
    kind: Kind,
    vocab: Option<Arc<Vocab>>,
    /// Index of the next sequence.
    next: usize,
    /// Words read as `<unk>` so far.
    unknown: usize,
}

const FORMATS_HINT: &str = "expected a .npy array, a safetensors or .npz file with `x`, or JSON \
                            lines of sentences, word or token-id arrays, or objects holding one";

impl InputSource {
    /// Opens an input; `vocab` maps words to token ids (and names the tokens in outputs).
    ///
    /// # Errors
    /// An unreadable file, an unknown format, a malformed header.
    pub fn open(path: InputPath, vocab: Option<Arc<Vocab>>) -> Result<Self, IoError> {
        let name = path.to_string();
        let io = |e| IoError::io(&name, e);
        let kind = match path {
            InputPath::File(p) => {
                let mut file = File::open(&p).map_err(io)?;
                let meta = file.metadata().map_err(io)?;
                if meta.is_file() {
                    let len = meta.len();
                    let prefix = read_prefix(&mut file).map_err(io)?;
                    match sniff(&prefix, Some(len)) {
                        FileKind::JsonLines => lines(Cursor::new(prefix).chain(file), Some(len)),
                        kind => Self::array_kind(kind, &name, Box::new(file), prefix, Some(len))?,
                    }
                } else {
                    // A named pipe or device: read once, as a stream.
                    Self::stream_kind(file, &name)?
                }
            }
            InputPath::Stdin => Self::stream_kind(std::io::stdin(), &name)?,
        };
        Ok(Self {
            name,
            kind,
            vocab,
            next: 0,
            unknown: 0,
        })
    }

    /// An input that can be read only once, front to back (stdin, a named pipe): JSON lines
    /// are streamed, arrays (which need random access) taken into memory.
    fn stream_kind(mut stream: impl Read + Send + 'static, name: &str) -> Result<Kind, IoError> {
        let prefix = read_prefix(&mut stream).map_err(|e| IoError::io(name, e))?;
        match sniff(&prefix, None) {
            FileKind::JsonLines => Ok(lines(Cursor::new(prefix).chain(stream), None)),
            kind => {
                let mut bytes = prefix;
                stream
                    .read_to_end(&mut bytes)
                    .map_err(|e| IoError::io(name, e))?;
                let len = bytes.len() as u64;
                let prefix = bytes[..bytes.len().min(lrp_import::sniff::SNIFF_BYTES)].to_vec();
                Self::array_kind(kind, name, Box::new(Cursor::new(bytes)), prefix, Some(len))
            }
        }
    }

    /// A `.npy` or safetensors input behind `reader` (positioned anywhere; `prefix` holds its
    /// first bytes).
    fn array_kind(
        kind: FileKind,
        name: &str,
        mut reader: Box<dyn ReadSeek>,
        prefix: Vec<u8>,
        len: Option<u64>,
    ) -> Result<Kind, IoError> {
        let content = |source: ImportError| IoError::Content {
            path: name.to_string(),
            source,
        };
        let whole = |reader: &mut Box<dyn ReadSeek>| -> Result<Vec<u8>, IoError> {
            reader
                .seek(std::io::SeekFrom::Start(0))
                .map_err(|e| IoError::io(name, e))?;
            let mut bytes =
                Vec::with_capacity(len.and_then(|l| usize::try_from(l).ok()).unwrap_or(0));
            reader
                .read_to_end(&mut bytes)
                .map_err(|e| IoError::io(name, e))?;
            Ok(bytes)
        };
        let model_file = || {
            IoError::input(
                name,
                format!("this is a model file, not an input ({FORMATS_HINT})"),
            )
        };
        match kind {
            // Fortran order: the rows are not contiguous; read it whole, reordered.
            FileKind::Npy if fortran_order(&prefix) == Some(true) => {
                let bytes = whole(&mut reader)?;
                let values = NpyValues::from_npy(&bytes).map_err(|e| content(e.into()))?;
                let inputs = InputArrays::from_npy_values(values).map_err(content)?;
                Ok(Kind::Arrays {
                    inputs,
                    words: None,
                })
            }
            FileKind::Npy => {
                let rows = RowReader::new(reader).map_err(|e| content(e.into()))?;
                let rank = rows.shape().len();
                let want = if rows.holds_floats() { 3 } else { 2 };
                if rank != want {
                    // Token ids kept in a float array (built with np.zeros, say).
                    let hint = if rows.holds_floats() && rank == 2 {
                        "; this one holds floats: token ids must be integers \
                         (x.astype(np.int64))"
                    } else {
                        ""
                    };
                    return Err(IoError::input(
                        name,
                        format!(
                            "an array of shape {:?}; expected floats (batch, time, features) \
                             or token ids (batch, time){hint}",
                            rows.shape()
                        ),
                    ));
                }
                Ok(Kind::Npy(rows))
            }
            FileKind::Safetensors => {
                let bytes = whole(&mut reader)?;
                let file = parse(&bytes).map_err(content)?;
                let inputs = InputArrays::from_safetensors(&file).map_err(content)?;
                Ok(Kind::Arrays {
                    inputs,
                    words: None,
                })
            }
            // An `.npz` archive holds only `.npy` entries; any other zip is a model file.
            FileKind::Zip => {
                reader
                    .seek(std::io::SeekFrom::Start(0))
                    .map_err(|e| IoError::io(name, e))?;
                let mut archive = Archive::new(reader).map_err(|e| content(e.into()))?;
                let names = archive.names();
                if names.is_empty() || !names.iter().all(|n| n.ends_with(".npy")) {
                    return Err(model_file());
                }
                let inputs = InputArrays::from_npz(&mut archive).map_err(content)?;
                Ok(Kind::Arrays {
                    inputs,
                    words: None,
                })
            }
            FileKind::Hdf5 | FileKind::TorchLegacy => Err(model_file()),
            FileKind::JsonLines | FileKind::Unknown => {
                let what = if prefix.iter().all(u8::is_ascii_whitespace) {
                    "the input is empty (no sequence)".to_string()
                } else if std::str::from_utf8(&prefix)
                    .map_or_else(|e| e.error_len().is_none(), |_| true)
                {
                    // Plain text: sentences must be JSON strings, so that a malformed line is
                    // an error and not a sentence of its characters.
                    format!(
                        "unrecognised input format: text whose first line is not JSON; write \
                         one sentence per line as a JSON string (\"good week\"), an array of \
                         words or token ids, or an object with a `text` field ({FORMATS_HINT})"
                    )
                } else {
                    format!("unrecognised input format ({FORMATS_HINT})")
                };
                Err(IoError::input(name, what))
            }
        }
    }

    /// Sequences already in memory.
    ///
    /// ```
    /// use lstm_lrp::io::{InputSource, pad_tokens};
    ///
    /// let mut source = InputSource::from_arrays(pad_tokens(&[vec![5, 6], vec![7]]), "ids");
    /// assert_eq!(source.position().total_sequences, Some(2));
    /// assert_eq!(source.next_batch(10).unwrap().unwrap().inputs.batch_and_steps(), [2, 2]);
    /// ```
    pub fn from_arrays(inputs: InputArrays, name: &str) -> Self {
        Self {
            name: name.to_string(),
            kind: Kind::Arrays {
                inputs,
                words: None,
            },
            vocab: None,
            next: 0,
            unknown: 0,
        }
    }

    /// Sentences (split with [`tokenize`]) encoded with `vocab`, e.g. the CLI's `--text`.
    ///
    /// # Errors
    /// A sentence without words, or an unknown word when the vocabulary has no `<unk>`.
    pub fn from_sentences(
        sentences: &[String],
        vocab: Arc<Vocab>,
        name: &str,
    ) -> Result<Self, IoError> {
        let mut rows = Vec::with_capacity(sentences.len());
        let mut all_words = Vec::with_capacity(sentences.len());
        let mut unknown = 0;
        for (s, sentence) in sentences.iter().enumerate() {
            let words = tokenize(sentence);
            if words.is_empty() {
                return Err(IoError::input(
                    name,
                    format!("sentence {s} has no words (every sequence needs at least one token)"),
                ));
            }
            let (ids, unknown_here) = vocab.encode_words(&words).map_err(|word| {
                IoError::input(
                    name,
                    format!(
                        "`{word}` is not in the vocabulary, which has no `<unk>` token to map it to"
                    ),
                )
            })?;
            unknown += unknown_here;
            rows.push(ids);
            all_words.push(words);
        }
        if rows.is_empty() {
            return Err(IoError::input(name, "no sentences"));
        }
        Ok(Self {
            name: name.to_string(),
            kind: Kind::Arrays {
                inputs: pad_tokens(&rows),
                words: Some(all_words),
            },
            vocab: Some(vocab),
            next: 0,
            unknown,
        })
    }

    /// The input's name in messages (its path, `stdin`, …).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The vocabulary, if any.
    pub fn vocab(&self) -> Option<&Vocab> {
        self.vocab.as_deref()
    }

    /// Words read as `<unk>` so far.
    pub fn unknown_words(&self) -> usize {
        self.unknown
    }

    /// How far the input has been read.
    pub fn position(&self) -> Position {
        let (total_sequences, bytes) = match &self.kind {
            Kind::Arrays { inputs, .. } => (Some(inputs.batch_and_steps()[0]), None),
            Kind::Npy(rows) => (Some(rows.shape()[0]), None),
            Kind::Lines {
                bytes_read,
                total_bytes,
                ..
            } => (None, total_bytes.map(|t| (*bytes_read, t))),
        };
        Position {
            sequences: self.next,
            total_sequences,
            bytes,
        }
    }

    fn empty(&self) -> IoError {
        IoError::input(
            &self.name,
            "the input holds no sequence (one JSON array, sentence or object per line, or arrays \
             with batch size > 0)",
        )
    }

    /// The next at most `n` sequences (`n >= 1`); `None` after the last one.
    ///
    /// # Errors
    /// A malformed line or row; an input with no sequence at all.
    pub fn next_batch(&mut self, n: usize) -> Result<Option<InputBatch>, IoError> {
        let n = n.max(1);
        let start = self.next;
        let batch = match &mut self.kind {
            Kind::Arrays { inputs, words } => {
                let [total, _] = inputs.batch_and_steps();
                if start >= total {
                    None
                } else {
                    let range = start..start.saturating_add(n).min(total);
                    Some(InputBatch {
                        inputs: if range.len() == total {
                            inputs.clone()
                        } else {
                            inputs.slice(range.clone())
                        },
                        start,
                        words: words.as_ref().map(|w| w[range].to_vec()),
                    })
                }
            }
            Kind::Npy(rows) => {
                let total = rows.shape()[0];
                if start >= total {
                    None
                } else {
                    let range = start..start.saturating_add(n).min(total);
                    let content = |e: NpyError| IoError::Content {
                        path: self.name.clone(),
                        source: e.into(),
                    };
                    let values = if rows.holds_floats() {
                        InputValues::Features(rows.read_f64(range).map_err(content)?)
                    } else {
                        InputValues::Tokens(rows.read_i64(range).map_err(content)?)
                    };
                    Some(InputBatch {
                        inputs: InputArrays {
                            values,
                            lengths: None,
                            mask: None,
                        },
                        start,
                        words: None,
                    })
                }
            }
            Kind::Lines { .. } => self.next_lines(n)?,
        };
        match batch {
            Some(b) => {
                self.next += b.inputs.batch_and_steps()[0];
                Ok(Some(b))
            }
            None if start == 0 => Err(self.empty()),
            None => Ok(None),
        }
    }

    /// The next non-blank line into the reader's buffer; `false` at the end.
    fn next_line(&mut self) -> Result<bool, IoError> {
        let Kind::Lines {
            reader,
            line,
            bytes_read,
            buf,
            ..
        } = &mut self.kind
        else {
            return Ok(false);
        };
        loop {
            buf.clear();
            let read = reader.read_line(buf).map_err(|e| IoError::Line {
                path: self.name.clone(),
                line: *line + 1,
                what: format!("{e} (JSON lines must be UTF-8 text)"),
            })?;
            if read == 0 {
                return Ok(false);
            }
            *line += 1;
            *bytes_read += read as u64;
            if !buf.trim().is_empty() {
                return Ok(true);
            }
        }
    }

    /// The token ids of the line in the buffer, and its words when there is a vocabulary.
    fn sequence(&mut self) -> Result<(Vec<i64>, Option<Vec<String>>), IoError> {
        let Kind::Lines { line, buf, .. } = &self.kind else {
            unreachable!("only called on JSON lines");
        };
        let error = |what: String| IoError::Line {
            path: self.name.clone(),
            line: *line,
            what,
        };
        let (ids, words) = match parse_line(buf.trim()).map_err(error)? {
            Line::Ids(ids) => {
                let words = self
                    .vocab
                    .as_ref()
                    .map(|vocab| ids.iter().map(|&id| vocab.word(id)).collect());
                (ids, words)
            }
            Line::Words(words) => {
                let Some(vocab) = &self.vocab else {
                    return Err(error(
                        "words need a vocabulary: give --vocab FILE, or token-id arrays".into(),
                    ));
                };
                let (ids, unknown) = vocab.encode_words(&words).map_err(|word| {
                    error(format!(
                        "`{word}` is not in the vocabulary, which has no `<unk>` token to map it to"
                    ))
                })?;
                self.unknown += unknown;
                (ids, Some(words))
            }
        };
        if ids.is_empty() {
            return Err(error(
                "an empty sequence (every sequence needs at least one token)".into(),
            ));
        }
        Ok((ids, words))
    }

    fn next_lines(&mut self, n: usize) -> Result<Option<InputBatch>, IoError> {
        let (mut rows, mut words) = (Vec::new(), Vec::new());
        while rows.len() < n && self.next_line()? {
            let (ids, sequence_words) = self.sequence()?;
            rows.push(ids);
            words.extend(sequence_words);
        }
        if rows.is_empty() {
            return Ok(None);
        }
        Ok(Some(InputBatch {
            inputs: pad_tokens(&rows),
            start: self.next,
            words: self.vocab.as_ref().map(|_| words),
        }))
    }

    /// Skips the next `n` sequences (to resume an interrupted run); returns how many there
    /// were. Skipped JSON lines are not parsed.
    ///
    /// # Errors
    /// A read failure.
    pub fn skip(&mut self, n: usize) -> Result<usize, IoError> {
        let skipped = match &self.kind {
            Kind::Arrays { inputs, .. } => n.min(inputs.batch_and_steps()[0] - self.next),
            Kind::Npy(rows) => n.min(rows.shape()[0] - self.next),
            Kind::Lines { .. } => {
                let mut skipped = 0;
                while skipped < n && self.next_line()? {
                    skipped += 1;
                }
                skipped
            }
        };
        self.next += skipped;
        Ok(skipped)
    }
}

/// The number of sequences (non-blank lines) of a JSON-lines file, counted in one pass over
/// its bytes without parsing them.
///
/// This is the one second read of an input the CLI makes, and only to check a per-sample
/// `--target` file against the input before any work (a streamed input's length is otherwise
/// known only at its end).
///
/// ```
/// let path = std::env::temp_dir().join(format!("lstm-lrp-doc-count-{}.jsonl", std::process::id()));
/// std::fs::write(&path, "[1]\n\n  \n[2, 3]\n[4]")?;
/// assert_eq!(lstm_lrp::io::count_json_lines(&path)?, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// An unreadable file.
pub fn count_json_lines(path: &std::path::Path) -> Result<usize, IoError> {
    let name = path.display().to_string();
    let file = File::open(path).map_err(|e| IoError::io(&name, e))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let (mut count, mut blank) = (0, true);
    loop {
        let block = reader.fill_buf().map_err(|e| IoError::io(&name, e))?;
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
    Ok(count + usize::from(!blank))
}

/// Reads a whole input file (any format [`InputSource`] reads) into one padded array.
///
/// ```
/// let input = lstm_lrp::io::read_input("examples/data/random_embeddings.safetensors")?;
/// assert_eq!(input.batch_and_steps(), [4, 9]); // 4 sequences of 9 steps
/// # Ok::<(), lstm_lrp::io::IoError>(())
/// ```
///
/// # Errors
/// As [`InputSource::open`] and [`InputSource::next_batch`].
pub fn read_input(path: impl Into<PathBuf>) -> Result<InputArrays, IoError> {
    let mut source = InputSource::open(InputPath::from(path.into()), None)?;
    let batch = source
        .next_batch(usize::MAX)?
        .ok_or_else(|| source.empty())?;
    Ok(batch.inputs)
}
