//! The SQLite store: every run, every epoch, per-genre counts and the test
//! predictions, in tables documented in docs/store.md.
//!
//! WAL mode, so readers never block the writer — except on a network
//! filesystem, where WAL does not work and the rollback journal is used
//! ([`Journal`]); a busy timeout and `BEGIN IMMEDIATE` for every write, so
//! several `posterlab run` processes on one file wait their turn instead of
//! failing with "database is locked";
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

use crate::filesystem::{self, Network};

pub use merge::{merge, Change, MergeReport, Progress, RunMerge, SourceReport};
pub use rows::{EpochRow, GenreRow, NewRun, PosterPrediction, RescoreRow, RunRow, Status};
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

/// How a database's changes reach its file (SQLite's `journal_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Journal {
    /// The write-ahead log: readers never wait for the writer, and a commit
    /// writes less. Its index is shared memory, so every process that opens
    /// the file must be on one host (sqlite.org/wal.html).
    Wal,
    /// The rollback journal (`DELETE`): works wherever the filesystem's
    /// locks do, a network filesystem included; a reader waits while a
    /// transaction commits.
    Rollback,
}

impl Journal {
    fn pragma(self) -> &'static str {
        match self {
            Journal::Wal => "wal",
            Journal::Rollback => "delete",
        }
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The schema version of the file: [`SCHEMA_VERSION`] once opened for
    /// writing, possibly older when only read.
    version: i64,
    /// The network filesystem the file is on, when it was opened for
    /// writing there (and so kept out of WAL mode).
    network: Option<Network>,
}

impl Store {
    /// Opens the database at `path` for writing: creates it if missing,
    /// migrates it; refuses a file that is not posterlab's without changing
    /// it ([`open`]). WAL mode, unless the file is on a network filesystem
    /// ([`Store::network`] says which), where it gets the rollback journal.
    pub fn open(path: &Path) -> Result<Store> {
        let network = filesystem::network(path);
        let journal = match network {
            Some(_) => Journal::Rollback,
            None => Journal::Wal,
        };
        let mut store = Store::opened(
            path,
            open::read_write(path, journal).map(|c| (c, SCHEMA_VERSION)),
        )?;
        store.network = network;
        Ok(store)
    }

    /// Opens the database at `path` for one process to write, on any
    /// filesystem: as [`Store::open`], always with the rollback journal
    /// (a Slurm task's own store, on the cluster's shared folder).
    pub fn open_single_writer(path: &Path) -> Result<Store> {
        Store::opened(
            path,
            open::read_write(path, Journal::Rollback).map(|c| (c, SCHEMA_VERSION)),
        )
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
                network: None,
            }),
            Err(message) => Err(StoreError { path, message }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The network filesystem this database was found on when opened for
    /// writing ([`Store::open`]), which keeps it out of WAL mode.
    pub fn network(&self) -> Option<&Network> {
        self.network.as_ref()
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
