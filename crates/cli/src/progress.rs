//! A progress bar on standard error for people (`indicatif`: drawn only on a terminal, at
//! most ten times a second; hidden when told to be quiet or when standard error is a file or a
//! pipe), and numbers grouped by thousands.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A one-line progress bar, redrawn in place.
#[derive(Debug)]
pub struct Bar {
    on: bool,
    started: Instant,
    bar: ProgressBar,
}

impl Bar {
    /// A bar headed `label` (may be empty); off when `quiet` or standard error is not a
    /// terminal.
    pub fn new(label: &'static str, quiet: bool) -> Self {
        let on = !quiet && io::stderr().is_terminal();
        let target = if on {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(Some(0), target);
        let template = if label.is_empty() {
            "[{bar:30}] {pos}/{len} {msg}"
        } else {
            "{prefix} [{bar:30}] {pos}/{len} {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("#>-"));
        }
        bar.set_prefix(label);
        Self {
            on,
            started: Instant::now(),
            bar,
        }
    }

    /// Whether it draws (standard error is a terminal and it was not told to be quiet).
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Time since the bar was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Draws `done` of `total`, followed by `what`; the last step ends the line.
    pub fn draw(&self, done: u64, total: u64, what: &str) {
        if !self.on {
            return;
        }
        self.bar.set_length(total);
        self.bar.set_position(done);
        self.bar.set_message(what.to_owned());
        if done >= total {
            self.bar.finish();
        }
    }

    /// `9,828,358 events, 780 k/s`: a count of events and their rate since the bar started.
    pub fn events(&self, n: u64) -> String {
        let secs = self.started.elapsed().as_secs_f64();
        if secs < 0.05 {
            return format!("{} events", group(n));
        }
        format!("{} events, {}/s", group(n), si(n as f64 / secs))
    }
}

/// `1234567` → `1,234,567`.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A duration for people: `850 ms`, `12.5 s`, `1 min 39 s`, `2 h 5 min`.
pub fn duration_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 60_000 {
        let tenths = ms.div_ceil(100);
        if tenths % 10 == 0 {
            format!("{} s", tenths / 10)
        } else {
            format!("{}.{} s", tenths / 10, tenths % 10)
        }
    } else if ms < 3_600_000 {
        let s = ms.div_ceil(1000);
        format!("{} min {} s", s / 60, s % 60)
    } else {
        let m = ms.div_ceil(60_000);
        format!("{} h {} min", m / 60, m % 60)
    }
}

/// A rate with a metric prefix: `780 k`, `1.2 M`.
fn si(x: f64) -> String {
    if x >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(9_828_358), "9,828,358");
        assert_eq!(si(780_400.0), "780 k");
        assert_eq!(si(1_190_000.0), "1.2 M");
        assert_eq!(si(12.0), "12");
        assert_eq!(duration_text(0), "0 ms");
        assert_eq!(duration_text(500), "500 ms");
        assert_eq!(duration_text(1000), "1 s");
        assert_eq!(duration_text(12_450), "12.5 s");
        assert_eq!(duration_text(98_500), "1 min 39 s");
        assert_eq!(duration_text(7_500_000), "2 h 5 min");
    }
}
