//! Writing outputs without losing anything: an existing file is never replaced silently, array
//! outputs appear whole or not at all, and JSON lines stream to a file or stdout.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::io::error::IoError;
use crate::io::rows::{JsonLine, write_jsonl};

/// What to do when an output file exists already.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Existing {
    /// Refuse with [`IoError::Exists`] (the default: nothing is lost).
    #[default]
    Refuse,
    /// Replace it (the CLI's `--overwrite`).
    Replace,
}

/// Fails with [`IoError::Exists`] when `path` exists and `existing` is [`Existing::Refuse`]:
/// checked before any work starts, so a run is not wasted on an output it may not write.
///
/// ```
/// use lstm_lrp::io::{Existing, IoError, check_writable};
///
/// let path = std::env::temp_dir().join(format!("lstm-lrp-doc-exists-{}", std::process::id()));
/// std::fs::write(&path, "earlier results")?;
/// let err = check_writable(&path, Existing::Refuse, "--overwrite").unwrap_err();
/// assert!(matches!(err, IoError::Exists { .. }));
/// assert!(check_writable(&path, Existing::Replace, "--overwrite").is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`IoError::Exists`].
pub fn check_writable(path: &Path, existing: Existing, flag: &'static str) -> Result<(), IoError> {
    if existing == Existing::Refuse && path.exists() {
        return Err(IoError::Exists {
            path: path.display().to_string(),
            flag,
        });
    }
    Ok(())
}

/// A temporary file next to `path` (same directory, so a rename cannot cross file systems).
fn temporary_next_to(path: &Path) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(
        ".{name}.lstm-lrp-{}-{unique}.tmp",
        std::process::id()
    ))
}

/// Writes `bytes` to `path` atomically: into a temporary file in the same directory, then moved
/// into place, so a reader (or a crash) never sees half a file. With [`Existing::Refuse`] the
/// move is a hard link, which fails if `path` appeared in the meantime (no race); where the
/// file system has no hard links, the existence check comes right before a rename.
///
/// ```
/// use lstm_lrp::io::{Existing, write_atomic};
///
/// let path = std::env::temp_dir().join(format!("lstm-lrp-doc-atomic-{}.bin", std::process::id()));
/// let _ = std::fs::remove_file(&path);
/// write_atomic(&path, b"first", Existing::Refuse)?;
/// assert!(write_atomic(&path, b"second", Existing::Refuse).is_err()); // kept
/// assert_eq!(std::fs::read(&path)?, b"first");
/// write_atomic(&path, b"second", Existing::Replace)?;
/// assert_eq!(std::fs::read(&path)?, b"second");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// [`IoError::Exists`], or the OS's error creating, writing or moving the file.
pub fn write_atomic(path: &Path, bytes: &[u8], existing: Existing) -> Result<(), IoError> {
    write_atomic_with(path, existing, |out| out.write_all(bytes))
}

/// As [`write_atomic`], the contents written by `write` as they are produced (through a 1 MiB
/// buffer), so that a large output is never held whole in memory.
///
/// ```
/// use std::io::Write;
/// use lstm_lrp::io::{Existing, write_atomic_with};
///
/// let path = std::env::temp_dir().join(format!("lstm-lrp-doc-with-{}.txt", std::process::id()));
/// write_atomic_with(&path, Existing::Replace, |out| {
///     (0..3).try_for_each(|k| write!(out, "{k} "))
/// })?;
/// assert_eq!(std::fs::read_to_string(&path)?, "0 1 2 ");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # Errors
/// As [`write_atomic`], and `write`'s own error; either way no file appears at `path`.
pub fn write_atomic_with(
    path: &Path,
    existing: Existing,
    write: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<(), IoError> {
    let name = path.display().to_string();
    check_writable(path, existing, "--overwrite")?;
    let temp = temporary_next_to(path);
    let result = (|| {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&temp)?);
        write(&mut out)?;
        let file = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        drop(file);
        match existing {
            Existing::Replace => std::fs::rename(&temp, path),
            Existing::Refuse => match std::fs::hard_link(&temp, path) {
                Ok(()) => std::fs::remove_file(&temp),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(e),
                // No hard links here (some network or FAT file systems): check, then rename.
                Err(_) if !path.exists() => std::fs::rename(&temp, path),
                Err(e) => Err(e),
            },
        }
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result.map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => IoError::Exists {
            path: name.clone(),
            flag: "--overwrite",
        },
        _ => IoError::write(&name, e),
    })
}

/// Where JSON lines go: a file or stdout (`-`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputPath {
    /// A file.
    File(PathBuf),
    /// Standard output.
    Stdout,
}

impl From<PathBuf> for OutputPath {
    fn from(p: PathBuf) -> Self {
        if p.as_os_str() == "-" {
            OutputPath::Stdout
        } else {
            OutputPath::File(p)
        }
    }
}

impl std::fmt::Display for OutputPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutputPath::File(p) => write!(f, "{}", p.display()),
            OutputPath::Stdout => f.write_str("stdout"),
        }
    }
}

/// How a JSON-lines output file is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonlMode {
    /// A new file; an existing one is refused unless [`Existing::Replace`].
    Create(Existing),
    /// Continue an interrupted run: keep the complete lines of an existing file and append.
    Resume,
}

/// A JSON-lines output, written batch by batch (each batch flushed, so an interrupted run
/// leaves every finished sequence).
pub struct JsonlSink {
    name: String,
    out: Box<dyn Write + Send>,
    /// Complete sequences already in the file when it was opened (resume).
    kept: usize,
}

impl JsonlSink {
    /// Opens `path` as `mode` says.
    ///
    /// ```
    /// use lstm_lrp::io::{Existing, JsonlMode, JsonlSink, OutputPath};
    ///
    /// let path = std::env::temp_dir().join(format!("lstm-lrp-doc-sink-{}.jsonl", std::process::id()));
    /// std::fs::write(&path, "{\"a\":1}\n{\"a\":")?; // an interrupted run
    /// let sink = JsonlSink::open(&OutputPath::File(path.clone()), JsonlMode::Resume)?;
    /// assert_eq!(sink.kept(), 1); // the partial line was cut off
    /// assert!(JsonlSink::open(&OutputPath::File(path), JsonlMode::Create(Existing::Refuse)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// # Errors
    /// [`IoError::Exists`], or the OS's error.
    pub fn open(path: &OutputPath, mode: JsonlMode) -> Result<Self, IoError> {
        let name = path.to_string();
        let file = match path {
            OutputPath::Stdout => {
                return Ok(Self {
                    name,
                    out: Box::new(BufWriter::new(std::io::stdout())),
                    kept: 0,
                });
            }
            OutputPath::File(file) => file,
        };
        let (handle, kept) = match mode {
            JsonlMode::Resume => {
                let kept = completed_lines(file)?;
                let handle = OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(file)
                    .map_err(|e| IoError::write(&name, e))?;
                (handle, kept)
            }
            JsonlMode::Create(existing) => {
                let mut options = OpenOptions::new();
                options.write(true);
                match existing {
                    // create_new: fails if the file exists, with no window for a race.
                    Existing::Refuse => options.create_new(true),
                    Existing::Replace => options.create(true).truncate(true),
                };
                let handle = options.open(file).map_err(|e| match e.kind() {
                    std::io::ErrorKind::AlreadyExists => IoError::Exists {
                        path: name.clone(),
                        flag: "--overwrite (or --resume to continue it)",
                    },
                    _ => IoError::write(&name, e),
                })?;
                (handle, 0)
            }
        };
        Ok(Self {
            name,
            out: Box::new(BufWriter::new(handle)),
            kept,
        })
    }

    /// Complete sequences kept from an earlier run ([`JsonlMode::Resume`]).
    pub fn kept(&self) -> usize {
        self.kept
    }

    /// Appends one line per row and flushes.
    ///
    /// # Errors
    /// The OS's error writing.
    pub fn write<R: JsonLine>(&mut self, rows: &[R]) -> Result<(), IoError> {
        write_jsonl(rows, &mut self.out).map_err(|e| IoError::write(&self.name, e))
    }
}

/// The number of complete sequences in the JSON-lines output `path` (0 when it does not exist),
/// after cutting the file back to its last complete, valid line: an interrupted run may have
/// stopped in the middle of a line.
fn completed_lines(path: &Path) -> Result<usize, IoError> {
    let name = path.display().to_string();
    let io = |e| IoError::write(&name, e);
    let file = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(io(e)),
    };
    let mut reader = BufReader::new(&file);
    let (mut done, mut valid_bytes, mut line) = (0usize, 0u64, Vec::new());
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(io)?;
        let complete = line.last() == Some(&b'\n')
            && serde_json::from_slice::<serde_json::Value>(&line).is_ok_and(|v| v.is_object());
        if read == 0 || !complete {
            break;
        }
        done += 1;
        valid_bytes += read as u64;
    }
    drop(reader);
    if file.metadata().map_err(io)?.len() != valid_bytes {
        file.set_len(valid_bytes).map_err(io)?;
    }
    Ok(done)
}
