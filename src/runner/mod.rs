//! Running specs: a sweep's distinct runs, trained by one job or several
//! at once (`jobs`), each run from its claim to how it ended (`run`): claim
//! it, decide between skipping, resuming, restarting and starting (`plan`,
//! a pure function of the claim, the store and `--force`); load its data
//! (once per distinct data settings in the call, whichever job asks);
//! record the run in the store (`facts`); train; record how it ended
//! (`unrecorded` when the database cannot take it). One run failing or
//! diverging never stops the others; an interrupt stops them all after
//! their current batch.
//!
//! Finished runs, afterwards: re-scored under another decision rule from
//! their stored predictions (`rescore`), and their tested weights applied
//! to new posters (`predict`).
//!
//! Several jobs, or processes, may run the same specs against one
//! database: each run is claimed with an exclusive lock (`claim`), so a run
//! is trained by one job at a time, and a run left `running` by a dead
//! process is resumed by the next one that claims it. Each job has its own
//! connection to the database and its own share of the cores.

mod claim;
mod facts;
mod jobs;
mod plan;
pub mod predict;
mod preflight;
pub mod rescore;
mod run;
mod unrecorded;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::data::Workspace;
use crate::model::Kernels;
use crate::progress::Progress;
use crate::store::{self, Store};

pub use self::claim::{lock_path, Claim};
pub use self::preflight::{preflight, preflight_elsewhere, prepare_data};

/// What the command line chose about each run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Retrain runs that finished or diverged.
    pub force: bool,
    pub kernels: Kernels,
    /// This process is the only one that trains these runs (a Slurm array
    /// task: one task per run), so where the filesystem takes no locks at
    /// all the run goes on without its claim, with a note, instead of
    /// failing.
    pub sole_trainer: bool,
}

/// The database a call records into, and how it is opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// The main database, which the processes of one machine share
    /// ([`Store::open`]: WAL mode, except on a network filesystem).
    Shared(PathBuf),
    /// A store only this process writes, on any filesystem (a Slurm
    /// task's own: [`Store::open_single_writer`]).
    SingleWriter(PathBuf),
}

impl Database {
    pub fn path(&self) -> &Path {
        match self {
            Database::Shared(p) | Database::SingleWriter(p) => p,
        }
    }

    pub fn open(&self) -> store::Result<Store> {
        match self {
            Database::Shared(p) => Store::open(p),
            Database::SingleWriter(p) => Store::open_single_writer(p),
        }
    }
}

/// How each run of a call ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub finished: usize,
    pub skipped: usize,
    pub diverged: usize,
    pub failed: usize,
    /// A run was interrupted (and the runs not yet started were not).
    pub interrupted: bool,
    /// Every run this call trained or skipped, in spec order.
    pub runs: Vec<i64>,
}

/// Where a sweep stands, for the line above its jobs.
#[derive(Debug, Clone, PartialEq)]
pub struct SweepState {
    /// Distinct runs in the call.
    pub total: usize,
    /// Finished in this call, or skipped (finished before, or trained by
    /// another process).
    pub done: usize,
    pub running: usize,
    /// Failed or diverged.
    pub failed: usize,
    /// Not started yet.
    pub left: usize,
    /// The time left at the pace of the epochs recorded so far in this
    /// call, spread over the jobs; `None` before the first epoch. An upper
    /// bound when early stopping ends runs sooner.
    pub eta: Option<Duration>,
}

/// What a sweep shows while it runs: a [`Progress`] for each job slot
/// (its bars, epoch lines and notes), and the sweep's counts whenever they
/// change.
pub trait Display: Sync {
    fn job(&self, slot: usize) -> &dyn Progress;
    fn sweep(&self, state: &SweepState);
}

/// A call's runs: where they are recorded, how many train at once, what
/// shows them.
pub struct Sweep<'a> {
    pub db: Database,
    pub ws: &'a Workspace,
    /// Runs trained at once, each by its own job.
    pub jobs: usize,
    /// CPU threads of each job.
    pub threads: usize,
    pub display: &'a dyn Display,
    /// Set (by a signal handler) to stop every job after its current batch.
    pub stop: &'a AtomicBool,
    pub options: Options,
}
