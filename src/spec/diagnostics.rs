//! The diagnostics collector: every problem found while reading one spec
//! file, each located in it, handed back together at the end.
//!
//! Readers record a problem and carry on (returning `None` for the value), so
//! that one mistake does not hide the next: the user sees them all at once.
//! A problem repeated by every run of a sweep is reported once; where a
//! value is drawn at random (and so is different in every run), the first
//! run's problems there are the ones reported.

use std::collections::{BTreeSet, HashMap};

use super::tree::{Diagnostic, SourceFile, Span};

/// Collects the diagnostics of one spec file.
pub(super) struct Collector<'s> {
    src: &'s SourceFile,
    found: Vec<Diagnostic>,
    /// Places (line, col) of values drawn at random, each with whether a
    /// problem there has been kept: see [`Collector::first_run_only`].
    drawn: HashMap<(usize, usize), bool>,
}

impl<'s> Collector<'s> {
    pub(super) fn new(src: &'s SourceFile) -> Self {
        Collector {
            src,
            found: Vec::new(),
            drawn: HashMap::new(),
        }
    }

    /// Records a problem at `span` of the file.
    pub(super) fn error(&mut self, span: Span, message: impl Into<String>, help: Option<String>) {
        let mut d = self.src.diagnostic(span, message);
        if let Some(help) = help {
            d = d.with_help(help);
        }
        self.found.push(d);
    }

    /// Records a problem made elsewhere (one about the file as a whole).
    pub(super) fn push(&mut self, diagnostic: Diagnostic) {
        self.found.push(diagnostic);
    }

    /// Keeps the problems at `places` for the first run that has one only
    /// (see [`Collector::end_run`]). A number drawn at random is located at
    /// its distribution but differs from run to run, and so does the message
    /// about it ("found 0.7312", "found 0.9105"): without this, one bad
    /// distribution would be reported once per sample.
    pub(super) fn first_run_only<'p>(&mut self, places: impl IntoIterator<Item = &'p Span>) {
        for span in places {
            let at = self.src.line_col(span.start);
            self.drawn.insert(at, false);
        }
    }

    /// Ends a run whose problems were recorded from `from` on: drops those
    /// at a [`Collector::first_run_only`] place that an earlier run already
    /// has a problem at, and says where the value of those it keeps came
    /// from (unless they say more already).
    pub(super) fn end_run(&mut self, from: usize) {
        let run: Vec<Diagnostic> = self.found.drain(from..).collect();
        let mut reported = Vec::new();
        for mut d in run {
            match self.drawn.get(&(d.line, d.col)) {
                Some(true) => continue,
                Some(false) => {
                    reported.push((d.line, d.col));
                    if d.help.is_none() {
                        d = d.with_help(
                            "the value was drawn from this distribution: every value it can \
                             draw must suit the field",
                        );
                    }
                }
                None => {}
            }
            self.found.push(d);
        }
        for at in reported {
            self.drawn.insert(at, true);
        }
    }

    /// How many problems have been recorded so far, to tell whether a step
    /// added any.
    pub(super) fn count(&self) -> usize {
        self.found.len()
    }

    /// 1-based line and column of a place in the file, for a message that
    /// names a second place.
    pub(super) fn line_col(&self, span: &Span) -> (usize, usize) {
        self.src.line_col(span.start)
    }

    pub(super) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Sorted by position, each problem once (a sweep repeats the same one per point).
    pub(super) fn finish(self) -> Vec<Diagnostic> {
        let unique: BTreeSet<Diagnostic> = self.found.into_iter().collect();
        unique.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drawn_place_keeps_the_problems_of_the_first_run_that_has_one() {
        let src = SourceFile::new("a.toml", "x = 1\ny = { uniform = [0, 2] }\n");
        let drawn = 10..30;
        let mut diags = Collector::new(&src);
        diags.first_run_only([&drawn]);
        let runs = [
            vec![(0..1, "x is bad")],
            vec![(0..1, "x is bad"), (drawn.clone(), "found 1.5")],
            vec![(drawn.clone(), "found 1.7")],
        ];
        for run in runs {
            let from = diags.count();
            for (span, message) in run {
                diags.error(span, message, None);
            }
            diags.end_run(from);
        }
        let kept: Vec<(usize, String)> = diags
            .finish()
            .into_iter()
            .map(|d| (d.line, d.message))
            .collect();
        // Elsewhere, problems are kept (and repeats made one by `finish`).
        assert_eq!(kept, [(1, "x is bad".into()), (2, "found 1.5".into())]);
    }
}
