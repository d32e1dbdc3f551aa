//! Progress bars on stderr, hidden when stderr is not a terminal so that
//! logs and CI output stay clean; stdout carries results only.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner-with-counter for work whose total is unknown (rows of a CSV).
pub fn rows(label: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(None, draw_target());
    bar.set_style(
        ProgressStyle::with_template("{spinner} {prefix:>18} {human_pos} rows ({per_sec})")
            .expect("valid template"),
    );
    bar.set_prefix(label.to_string());
    bar
}

/// A bar for work with a known number of steps.
pub fn steps(label: &str, total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), draw_target());
    bar.set_style(
        ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {msg}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(label.to_string());
    bar
}

fn draw_target() -> ProgressDrawTarget {
    if std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    }
}

/// A line of progress for the log when bars are hidden.
pub fn note(message: impl std::fmt::Display) {
    eprintln!("{message}");
}
