//! The store as the training loop's [`Tracker`]: the loop reports to this
//! trait and never sees SQL.

use std::path::Path;

use super::Store;
use crate::train::record::{EpochRecord, Error, TestRecord, Tracker};

impl Store {
    /// A tracker for run `id`.
    pub fn tracker(&mut self, id: i64) -> RunTracker<'_> {
        RunTracker { store: self, id }
    }
}

/// The store as one run's [`Tracker`].
pub struct RunTracker<'a> {
    store: &'a mut Store,
    id: i64,
}

impl Tracker for RunTracker<'_> {
    fn completed_epochs(&mut self) -> Result<usize, Error> {
        Ok(self.store.epochs_done(self.id)?)
    }

    fn record_epoch(&mut self, record: &EpochRecord, checkpoint: &Path) -> Result<(), Error> {
        Ok(self.store.record_epoch(self.id, record, checkpoint)?)
    }

    fn record_test(&mut self, record: &TestRecord) -> Result<(), Error> {
        Ok(self.store.record_test(self.id, record)?)
    }
}
