//! The I/O layer the CLI and the Python package stand on: inputs in, explanations out.
//!
//! - Reading: [`InputSource`] (every input format, from a file or stdin, batch by batch, each
//!   file read once), [`ReadAhead`] (a source read one batch ahead on its own thread),
//!   [`pad_tokens`] (the one padding function), [`Vocab`] (words ↔ token ids), [`read_targets`],
//!   [`read_input`] (a whole file as one array), [`InputView`] (sequences already in memory,
//!   borrowed: copied once per batch, into the buffer burn takes).
//! - Writing: [`JsonlSink`] (JSON lines to a file or stdout, batch by batch, `--resume`),
//!   [`write_atomic`] (array outputs appear whole or not at all, existing files kept unless
//!   [`Existing::Replace`]), [`Collected`] with [`explanation_safetensors`] and
//!   [`relevance_npy`], [`rows`] with [`html`] (a page), [`html_fragment`] (a notebook cell) and
//!   [`terminal`]; for every output position of a per-step model [`step_rows`],
//!   [`CollectedSteps`], [`step_explanation_safetensors`].
//!
//! Errors are [`IoError`]: one line naming the file (`stdin`/`stdout` for `-`).

mod arrays;
mod collect;
mod error;
mod pad;
mod read_ahead;
mod render;
mod rows;
mod sink;
mod source;
mod steps;
mod targets;
mod view;
mod vocab;

pub use arrays::{InputArrays, InputValues, NpyValues};
pub use collect::{Collected, explanation_safetensors, relevance_npy};
pub use error::IoError;
pub use pad::{PAD_ID, pad_tokens};
pub use read_ahead::{AheadBatch, ReadAhead};
pub use render::{Colours, html, html_fragment, terminal};
pub use rows::{JsonLine, Row, rows, write_jsonl};
pub use sink::{
    Existing, JsonlMode, JsonlSink, OutputPath, check_writable, write_atomic, write_atomic_with,
};
pub use source::{InputBatch, InputPath, InputSource, Position, count_json_lines, read_input};
pub use steps::{
    CollectedSteps, PositionRow, StepRow, step_explanation_safetensors, step_relevance_npy,
    step_rows,
};
pub use targets::read_targets;
pub use view::{FeatureSlice, InputView, TokenSlice, ValuesView};
pub use vocab::{Line, Vocab, parse_line, tokenize};
