//! Progress output on stderr: an indicatif bar when stderr is a terminal, plain lines (at most
//! one per [`PLAIN_LINE_INTERVAL_MS`]) otherwise, so CI logs stay readable.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// Least time between two plain progress lines.
pub const PLAIN_LINE_INTERVAL_MS: u64 = 1_000;

pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    last_line: Option<Instant>,
}

impl Progress {
    /// A phase of `total_ms` (0 = unknown length).
    pub fn start(label: &str, total_ms: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total_ms.max(1)), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{prefix:>14} [{bar:30}] {elapsed:>4} {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            bar
        });
        if bar.is_none() {
            eprintln!("{label}: started");
        }
        Progress {
            bar,
            label: label.into(),
            last_line: None,
        }
    }

    /// Updates the position (ms into the phase) and the status message.
    pub fn update(&mut self, pos_ms: u64, msg: &str) {
        match &self.bar {
            Some(bar) => {
                bar.set_position(pos_ms);
                bar.set_message(msg.to_string());
            }
            None => {
                let due = self
                    .last_line
                    .is_none_or(|t| t.elapsed() >= Duration::from_millis(PLAIN_LINE_INTERVAL_MS));
                if due {
                    eprintln!("{}: {:.1} s {msg}", self.label, pos_ms as f64 / 1000.0);
                    self.last_line = Some(Instant::now());
                }
            }
        }
    }

    pub fn finish(self, msg: &str) {
        match &self.bar {
            Some(bar) => bar.finish_with_message(msg.to_string()),
            None => eprintln!("{}: {msg}", self.label),
        }
    }
}

/// A note or warning that does not disturb a running bar.
pub fn note(msg: &str) {
    eprintln!("{msg}");
}
