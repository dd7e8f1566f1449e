//! Progress bars (indicatif) for the library's [`Progress`] reports. Bars draw
//! on stderr only when it is a terminal; notes always print. Every line goes
//! through [`terminal_safe`]: a poster id or genre from a CSV never sends
//! an escape sequence to the terminal.

use std::sync::Mutex;

use indicatif::{ProgressBar, ProgressStyle};
use posterlab::progress::Progress;
use posterlab::text::terminal_safe;

pub struct Bars {
    quiet: bool,
    bar: Mutex<Option<ProgressBar>>,
}

impl Bars {
    pub fn new(quiet: bool) -> Bars {
        Bars {
            quiet,
            bar: Mutex::new(None),
        }
    }
}

impl Progress for Bars {
    fn begin(&self, what: &str, total: u64) {
        if self.quiet {
            return;
        }
        let bar = ProgressBar::new(total).with_prefix(what.to_string());
        bar.set_style(
            ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        *self.bar.lock().expect("progress lock") = Some(bar);
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &*self.bar.lock().expect("progress lock") {
            bar.inc(n);
        }
    }

    fn end(&self) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
        }
    }

    /// Replaces the rate with the status (a training bar: batches, then
    /// the running loss and images/s).
    fn status(&self, message: &str) {
        if let Some(bar) = &*self.bar.lock().expect("progress lock") {
            if bar.message().is_empty() {
                bar.set_style(
                    ProgressStyle::with_template(
                        "{prefix:>18} [{bar:30}] {pos}/{len} {msg} eta {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                );
            }
            bar.set_message(message.to_string());
        }
    }

    /// Result lines go to standard output, above any bar.
    fn line(&self, message: &str) {
        let message = terminal_safe(message);
        match &*self.bar.lock().expect("progress lock") {
            Some(bar) => bar.suspend(|| println!("{message}")),
            None => println!("{message}"),
        }
    }

    /// Notes print even when quiet: they belong in logs.
    fn note(&self, message: &str) {
        let message = terminal_safe(message);
        match &*self.bar.lock().expect("progress lock") {
            Some(bar) => bar.println(format!("note: {message}")),
            None => eprintln!("note: {message}"),
        }
    }
}
