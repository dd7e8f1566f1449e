//! Progress bars (indicatif) for the library's [`Progress`] reports, and a
//! sweep's display: a line of its counts above one bar per running job
//! ([`SweepBars`]). Bars draw on stderr only when it is a terminal; notes
//! always print. Every line goes through [`terminal_safe`]: a poster id or
//! genre from a CSV never sends an escape sequence to the terminal.

use std::sync::Mutex;

use indicatif::{MultiProgress, ProgressBar, ProgressStyle};
use posterlab::progress::Progress;
use posterlab::runner::{Display, SweepState};
use posterlab::text::terminal_safe;

use super::runs::duration;

/// The style of a step's bar: position, rate and ETA.
fn bar_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {per_sec} eta {eta}")
        .expect("valid template")
        .progress_chars("=> ")
}

/// The style of a training bar, whose status replaces the rate.
fn status_style() -> ProgressStyle {
    ProgressStyle::with_template("{prefix:>18} [{bar:30}] {pos}/{len} {msg} eta {eta}")
        .expect("valid template")
        .progress_chars("=> ")
}

/// The bar of one step at a time (decoding posters, an epoch's batches),
/// drawn in a [`MultiProgress`]: its own, or a sweep's shared with the
/// other jobs' bars.
pub struct Bars {
    multi: MultiProgress,
    bar: Mutex<Option<ProgressBar>>,
    quiet: bool,
}

impl Bars {
    pub fn new(quiet: bool) -> Bars {
        Bars::within(MultiProgress::new(), quiet)
    }

    fn within(multi: MultiProgress, quiet: bool) -> Bars {
        Bars {
            multi,
            bar: Mutex::new(None),
            quiet,
        }
    }

    /// Whether bars are off (`--quiet`).
    pub fn quiet(&self) -> bool {
        self.quiet
    }
}

impl Progress for Bars {
    fn begin(&self, what: &str, total: u64) {
        if self.quiet {
            return;
        }
        let bar = self
            .multi
            .add(ProgressBar::new(total).with_prefix(what.to_string()));
        bar.set_style(bar_style());
        if let Some(old) = self.bar.lock().expect("progress lock").replace(bar) {
            old.finish_and_clear();
            self.multi.remove(&old);
        }
    }

    fn advance(&self, n: u64) {
        if let Some(bar) = &*self.bar.lock().expect("progress lock") {
            bar.inc(n);
        }
    }

    fn end(&self) {
        if let Some(bar) = self.bar.lock().expect("progress lock").take() {
            bar.finish_and_clear();
            self.multi.remove(&bar);
        }
    }

    /// Replaces the rate with the status (a training bar: batches, then
    /// the running loss and images/s).
    fn status(&self, message: &str) {
        if let Some(bar) = &*self.bar.lock().expect("progress lock") {
            if bar.message().is_empty() {
                bar.set_style(status_style());
            }
            bar.set_message(message.to_string());
        }
    }

    /// Result lines go to standard output, above any bar.
    fn line(&self, message: &str) {
        let message = terminal_safe(message);
        self.multi.suspend(|| println!("{message}"));
    }

    /// Notes print even when quiet: they belong in logs.
    fn note(&self, message: &str) {
        let message = terminal_safe(message);
        self.multi.suspend(|| eprintln!("note: {message}"));
    }
}

/// A sweep on the terminal: a line of its counts (when it has more than one
/// run) above one bar per running job; result lines and notes print above
/// them all.
pub struct SweepBars {
    multi: MultiProgress,
    /// The counts' line, made by the first update.
    line: Mutex<Option<ProgressBar>>,
    jobs: Vec<Bars>,
    quiet: bool,
}

impl SweepBars {
    pub fn new(quiet: bool, jobs: usize) -> SweepBars {
        let multi = MultiProgress::new();
        SweepBars {
            jobs: (0..jobs)
                .map(|_| Bars::within(multi.clone(), quiet))
                .collect(),
            multi,
            line: Mutex::new(None),
            quiet,
        }
    }

    /// Removes the counts' line (the sweep is over).
    pub fn finish(&self) {
        if let Some(line) = self.line.lock().expect("progress lock").take() {
            line.finish_and_clear();
        }
    }
}

/// `3/10 done · 2 running · 1 failed · 4 left · ETA 21 min 10 s`
pub fn sweep_line(s: &SweepState) -> String {
    let mut parts = vec![
        format!("{}/{} done", s.done, s.total),
        format!("{} running", s.running),
    ];
    if s.failed > 0 {
        parts.push(format!("{} failed", s.failed));
    }
    parts.push(format!("{} left", s.left));
    parts.push(match s.eta {
        Some(eta) => format!("ETA {}", duration(eta.as_secs_f64())),
        None => "ETA after the first epoch".to_string(),
    });
    parts.join(" · ")
}

impl Display for SweepBars {
    fn job(&self, slot: usize) -> &dyn Progress {
        &self.jobs[slot]
    }

    fn sweep(&self, state: &SweepState) {
        if self.quiet || state.total < 2 {
            return;
        }
        let mut line = self.line.lock().expect("progress lock");
        let bar = line.get_or_insert_with(|| {
            let bar = self
                .multi
                .insert(0, ProgressBar::new_spinner().with_prefix("sweep"));
            // Ticks, so that the time elapsed moves between the counts' changes.
            bar.set_style(
                ProgressStyle::with_template("{prefix:>18} {msg} · {elapsed_precise} elapsed")
                    .expect("valid template"),
            );
            bar.enable_steady_tick(std::time::Duration::from_secs(1));
            bar
        });
        bar.set_message(sweep_line(state));
    }
}
