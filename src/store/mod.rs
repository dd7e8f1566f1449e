//! The SQLite store: every run, every epoch, per-genre counts and the test
//! predictions, in tables documented in docs/store.md.
//!
//! WAL mode, so readers never block the writer; a busy timeout and
//! `BEGIN IMMEDIATE` for every write, so several `posterlab run` processes on
//! one file wait their turn instead of failing with "database is locked";
//! the schema version in `user_version`, migrated in place (`schema`).
//! Commands that only read open it read-only (`open`): they never change the
//! file, and refuse, untouched, a file that is not posterlab's.
//! An epoch's rows are written in one transaction together with the path of
//! the checkpoint they belong to.
//!
//! Files: `rows` (row types, read by column name), `writes`, `reads`,
//! `select` (the run-selector language), `tracker` (the training loop's
//! [`Tracker`](crate::train::record::Tracker)), `open` (which files may be
//! opened, and how), `schema` (tables and migrations), `merge` (other
//! databases' runs copied in, identified by their uid).

mod merge;
mod open;
mod reads;
mod rows;
mod schema;
mod select;
pub mod tracker;
mod writes;

#[cfg(test)]
mod tests;

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction, TransactionBehavior};

pub use merge::{merge, Change, MergeReport, Progress, RunMerge, SourceReport};
pub use rows::{EpochRow, GenreRow, NewRun, PosterPrediction, RunRow, Status};
pub use schema::VERSION as SCHEMA_VERSION;
pub use select::{select, spec_value, Selection};

/// A store error: what failed, on which database.
#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub message: String,
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "database {}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for StoreError {}

pub type Result<T> = std::result::Result<T, StoreError>;

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The schema version of the file: [`SCHEMA_VERSION`] once opened for
    /// writing, possibly older when only read.
    version: i64,
}

impl Store {
    /// Opens the database at `path` for writing: creates it if missing,
    /// migrates it; refuses a file that is not posterlab's without changing
    /// it ([`open`]).
    pub fn open(path: &Path) -> Result<Store> {
        Store::opened(path, open::read_write(path).map(|c| (c, SCHEMA_VERSION)))
    }

    /// Opens an existing posterlab database for reading only: the file is
    /// never changed, and it may be read-only or in a read-only folder.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        Store::opened(path, open::read_only(path))
    }

    fn opened(path: &Path, conn: std::result::Result<(Connection, i64), String>) -> Result<Store> {
        let path = path.to_path_buf();
        match conn {
            Ok((conn, version)) => Ok(Store {
                conn,
                path,
                version,
            }),
            Err(message) => Err(StoreError { path, message }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub(super) fn err(&self, e: impl fmt::Display) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Runs `f` in an immediate (write-locking) transaction and commits.
    pub(super) fn write<T>(
        &mut self,
        f: impl FnOnce(&Transaction) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let result = (|| {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let value = f(&tx)?;
            tx.commit()?;
            Ok(value)
        })();
        result.map_err(|e: rusqlite::Error| self.err(e))
    }
}
