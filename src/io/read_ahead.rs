//! Reading one batch ahead: an [`InputSource`] read on its own thread while the caller works on
//! the batch before.
//!
//! Between two batches the CLI's main thread read and decoded the next rows while the compute
//! threads waited: 2–4 ms of every ~40–90 ms batch at the benchmark shape (`benches/README.md`
//! §7, round 2h), and the whole read time when the input is not in the page cache. Here the
//! reader thread reads batch k + 1 during batch k's explanation and then waits, so at most two
//! batches are in memory at once.

use std::sync::mpsc::{Receiver, RecvError, sync_channel};
use std::thread::JoinHandle;

use crate::io::error::IoError;
use crate::io::source::{InputBatch, InputSource, Position};

/// A batch, with where the input stood once it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct AheadBatch {
    /// The sequences.
    pub batch: InputBatch,
    /// The source's position after this batch ([`InputSource::position`]).
    pub position: Position,
    /// Words read as `<unk>` up to and including this batch ([`InputSource::unknown_words`]).
    pub unknown_words: usize,
}

/// An [`InputSource`] read one batch ahead, as an iterator of batches.
///
/// The iterator ends after the last batch, or after the first error (a malformed line or row,
/// in input order: the batches before it arrive first). Dropping it early stops the reader at
/// its next batch; it does not wait for a read in progress (stdin may never end).
///
/// ```
/// use lstm_lrp::io::{InputSource, ReadAhead, pad_tokens};
///
/// let source = InputSource::from_arrays(pad_tokens(&[vec![1], vec![2, 3], vec![4]]), "ids");
/// let batches: Vec<_> = ReadAhead::start(source, 2)?.collect::<Result<_, _>>()?;
/// assert_eq!(batches.len(), 2);
/// assert_eq!(batches[1].batch.start, 2);
/// assert_eq!(batches[1].position.sequences, 3);
/// # Ok::<(), lstm_lrp::io::IoError>(())
/// ```
pub struct ReadAhead {
    batches: Receiver<Result<AheadBatch, IoError>>,
    /// The reader thread, until it has ended.
    reader: Option<JoinHandle<()>>,
    name: String,
}

impl ReadAhead {
    /// Starts reading `source` in batches of `batch_size` sequences (at least 1) on a new
    /// thread.
    ///
    /// # Errors
    /// The operating system refused a thread.
    pub fn start(mut source: InputSource, batch_size: usize) -> Result<Self, IoError> {
        let name = source.name().to_string();
        // Capacity 0: the reader hands a batch over only when the caller asks for it, so it is
        // never more than one batch ahead.
        let (send, batches) = sync_channel(0);
        let reader = std::thread::Builder::new()
            .name("lstm-lrp-reader".into())
            .spawn(move || {
                loop {
                    let item = match source.next_batch(batch_size) {
                        Ok(Some(batch)) => Ok(AheadBatch {
                            batch,
                            position: source.position(),
                            unknown_words: source.unknown_words(),
                        }),
                        Ok(None) => return,
                        Err(e) => Err(e),
                    };
                    let failed = item.is_err();
                    // A closed channel: the caller stopped early.
                    if send.send(item).is_err() || failed {
                        return;
                    }
                }
            })
            .map_err(|e| IoError::io(&name, e))?;
        Ok(Self {
            batches,
            reader: Some(reader),
            name,
        })
    }

    /// The input's name in messages.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Iterator for ReadAhead {
    type Item = Result<AheadBatch, IoError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.batches.recv() {
            Ok(item) => Some(item),
            Err(RecvError) => {
                // The reader has ended. A panic there is a bug: raise it here, as reading in
                // this thread would have, rather than end the input early and silently.
                if let Some(Err(panic)) = self.reader.take().map(JoinHandle::join) {
                    std::panic::resume_unwind(panic);
                }
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::InputPath;

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let path =
            std::env::temp_dir().join(format!("lstm-lrp-read-ahead-{}-{name}", std::process::id()));
        std::fs::write(&path, text).expect("write a temporary input");
        path
    }

    #[test]
    fn same_batches_and_positions_as_reading_in_place() {
        let text: String = (1..=23).map(|i| format!("[{i}, {}]\n", i + 1)).collect();
        let path = temp_file("same.jsonl", &text);
        let open = || InputSource::open(InputPath::File(path.clone()), None).expect("open");
        let mut direct = open();
        let mut expected = Vec::new();
        while let Some(batch) = direct.next_batch(5).expect("read") {
            expected.push(AheadBatch {
                batch,
                position: direct.position(),
                unknown_words: direct.unknown_words(),
            });
        }
        let ahead: Vec<AheadBatch> = ReadAhead::start(open(), 5)
            .expect("a thread")
            .collect::<Result<_, _>>()
            .expect("read ahead");
        assert_eq!(ahead.len(), 5);
        assert_eq!(ahead, expected);
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn an_error_arrives_after_the_batches_before_it_and_ends_the_input() {
        // Line 4 is malformed: the first batch (lines 1–2) is fine, the second fails.
        let path = temp_file("bad.jsonl", "[1]\n[2]\n[3]\n[4,\n[5]\n[6]\n");
        let source = InputSource::open(InputPath::File(path.clone()), None).expect("open");
        let mut ahead = ReadAhead::start(source, 2).expect("a thread");
        let first = ahead.next().expect("a first batch").expect("a good batch");
        assert_eq!(first.batch.inputs.batch_and_steps(), [2, 1]);
        let error = ahead.next().expect("a second item").expect_err("line 4");
        assert!(error.to_string().contains("line 4"), "{error}");
        assert!(ahead.next().is_none());
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn stopping_early_leaves_without_reading_the_rest() {
        let rows: Vec<Vec<i64>> = (0..1000).map(|i| vec![i + 1]).collect();
        let source = InputSource::from_arrays(crate::io::pad_tokens(&rows), "ids");
        let mut ahead = ReadAhead::start(source, 1).expect("a thread");
        let first = ahead.next().expect("a batch").expect("read");
        assert_eq!(first.batch.start, 0);
        assert_eq!(ahead.name(), "ids");
        drop(ahead); // the reader, blocked handing over batch 1, sees the closed channel
    }
}
