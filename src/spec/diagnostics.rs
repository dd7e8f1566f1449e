//! The diagnostics collector: every problem found while reading one spec
//! file, each located in it, handed back together at the end.
//!
//! Readers record a problem and carry on (returning `None` for the value), so
//! that one mistake does not hide the next: the user sees them all at once.

use std::collections::BTreeSet;

use super::tree::{Diagnostic, SourceFile, Span};

/// Collects the diagnostics of one spec file.
pub(super) struct Collector<'s> {
    src: &'s SourceFile,
    found: Vec<Diagnostic>,
}

impl<'s> Collector<'s> {
    pub(super) fn new(src: &'s SourceFile) -> Self {
        Collector {
            src,
            found: Vec::new(),
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
