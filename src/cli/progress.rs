//! The progress bar on stderr (indicatif): sequences done, throughput, and the fraction of the
//! input read — by sequences for arrays, by bytes for JSON lines from a file. Drawn only when
//! stderr is a terminal, and only for runs that last (from half a second on), so one sentence
//! prints no bar.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lstm_lrp::io::Position;

/// When the bar first appears.
const DELAY: Duration = Duration::from_millis(500);

pub struct Progress {
    bar: ProgressBar,
    start: Instant,
    /// Sequences explained by this run (for the throughput), those skipped by `--resume` not.
    explained: usize,
    skipped: usize,
    /// Whether the bar may be drawn at all (stderr is a terminal).
    on: bool,
    shown: bool,
}

impl Progress {
    pub fn new(position: Position) -> Self {
        let (bar, template) = match (position.total_sequences, position.bytes) {
            (Some(total), _) => (
                ProgressBar::new(total as u64),
                "[{bar:30}] {pos}/{len} sequences, {msg}",
            ),
            (None, Some((_, total))) => (
                ProgressBar::new(total),
                "[{bar:30}] {percent}% of the input, {msg}",
            ),
            (None, None) => (ProgressBar::new_spinner(), "{spinner} {msg}"),
        };
        // The template is a literal: it parses.
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("#> "));
        }
        bar.set_draw_target(ProgressDrawTarget::hidden());
        Progress {
            bar,
            start: Instant::now(),
            explained: 0,
            skipped: position.sequences,
            on: std::io::stderr().is_terminal(),
            shown: false,
        }
    }

    /// Records `more` explained sequences and where the input stands now.
    pub fn update(&mut self, more: usize, position: Position) {
        self.explained += more;
        let elapsed = self.start.elapsed();
        if !self.on {
            return;
        }
        if !self.shown && elapsed >= DELAY {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
            self.shown = true;
        }
        let rate = self.explained as f64 / elapsed.as_secs_f64().max(1e-9);
        match (position.total_sequences, position.bytes) {
            (Some(_), _) => self.bar.set_position(position.sequences as u64),
            (None, Some((read, _))) => self.bar.set_position(read),
            (None, None) => self.bar.tick(),
        }
        self.bar.set_message(format!(
            "{} sequences, {rate:.1} sequences/s",
            self.skipped + self.explained
        ));
    }

    pub fn finish(&self) {
        if self.shown {
            self.bar.finish();
        }
    }
}
