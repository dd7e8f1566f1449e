//! Progress reporting, kept abstract so that library code does not draw bars:
//! the command line implements [`Progress`] with indicatif, tests use [`Quiet`].

/// Receives progress of long steps (decoding posters, generating a data set)
/// and notes worth a line in the log.
pub trait Progress: Sync {
    /// A new step of `total` units begins.
    fn begin(&self, what: &str, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
    /// The step is over (successfully or not).
    fn end(&self);
    /// Something the user should know (a rebuilt cache, skipped posters).
    fn note(&self, message: &str);
    /// A short live status of the current step (a running loss), shown
    /// beside the bar; gone when the step ends.
    fn status(&self, _message: &str) {}
    /// A result line for the log (an epoch's summary): printed even when
    /// quiet.
    fn line(&self, _message: &str) {}
}

/// Reports nothing.
pub struct Quiet;

impl Progress for Quiet {
    fn begin(&self, _what: &str, _total: u64) {}
    fn advance(&self, _n: u64) {}
    fn end(&self) {}
    fn note(&self, _message: &str) {}
}
