//! Merging other posterlab databases into one (`posterlab merge`): the task
//! stores of a Slurm job array into the main database, or sweeps run on two
//! machines into one.
//!
//! A run is identified by its `uid` (globally unique); ids are per file, so
//! a run new to the target gets the target's next id and its rows' `run_id`
//! follow it. A run the target already holds is replaced — its `runs` row
//! and every row of it in `schema::RUN_TABLES` — only when the source's copy is
//! newer ([`Progress`]): merging twice adds nothing, and an old backup never
//! rolls a run back. The whole merge is one immediate transaction on the
//! target; every source is checked before anything is written, and one that
//! fails later still leaves the target as it was. Sources are opened
//! read-only (`open::read_only`: its recognition, its refusals) and never
//! changed.
//!
//! Columns are copied by name, those the source and the target share; the
//! target's defaults fill the rest. So an older schema's file merges, and a
//! migration needs nothing here beyond its table in `schema::RUN_TABLES`
//! (`copy.rs`; the tests are in `tests.rs`).

mod copy;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, Transaction, TransactionBehavior};

use self::copy::Copier;
use super::open;
use super::rows::unknown;
use super::{Result, Status, Store, StoreError};

/// How far one copy of a run had got. Of two copies of one run (one uid),
/// the newer has more epochs recorded; at equal epochs, a status further
/// along (`running`, then `interrupted` or `failed`, then `finished` or
/// `diverged`); at equal status, the later `updated_at` (ISO 8601 UTC, so
/// text order is time order). Epochs and status come first because they
/// only move forward and do not depend on two machines' clocks agreeing.
///
/// One consequence, harmless: a run resumed after an interruption and not
/// yet through an epoch counts as older than its interrupted copy. The two
/// hold the same rows, and its next recorded epoch makes it the newer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub epochs_done: usize,
    pub status: Status,
    pub updated_at: String,
}

impl Progress {
    fn order(&self) -> (usize, u8, &str) {
        let stage = match self.status {
            Status::Running => 0,
            Status::Interrupted | Status::Failed => 1,
            Status::Finished | Status::Diverged => 2,
        };
        (self.epochs_done, stage, &self.updated_at)
    }

    /// Whether this copy is newer than `other` (see [`Progress`]).
    pub fn is_newer_than(&self, other: &Progress) -> bool {
        self.order() > other.order()
    }
}

impl super::RunRow {
    /// How far this copy of the run had got, to compare with another copy
    /// of it as a merge does.
    pub fn progress(&self) -> Progress {
        Progress {
            epochs_done: self.epochs_done,
            status: self.status,
            updated_at: self.updated_at.clone(),
        }
    }
}

/// What a merge did (or, in a dry run, would do) with one run of a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The target did not hold it: added.
    New,
    /// The source's copy is newer: it replaced the target's, which had got
    /// this far.
    Updated { was: Progress },
    /// The target holds the same copy: nothing to do.
    Unchanged,
    /// The target's copy is newer (this far): it stays.
    Older { target: Progress },
}

/// One run of a source, merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMerge {
    pub uid: String,
    pub name: String,
    /// Its id in the target (in a dry run, a new run's would-be id).
    pub id: i64,
    /// How far the source's copy had got.
    pub progress: Progress,
    pub change: Change,
    /// For a new run: the target's runs of the same spec (`spec_hash`)
    /// under other uids — the same spec trained twice, e.g. on two
    /// machines. Both are kept; they show as two runs of one spec.
    pub same_spec: Vec<i64>,
}

/// One source database and what became of each of its runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceReport {
    pub path: PathBuf,
    pub runs: Vec<RunMerge>,
}

/// A folder among the sources, with how many `*.sqlite` files in it were
/// merged.
pub type Folder = (PathBuf, usize);

/// A source named again (this path), and the path that first named the
/// same file.
pub type Repeat = (PathBuf, PathBuf);

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergeReport {
    /// The database merged into.
    pub into: PathBuf,
    /// It was missing or empty (0 bytes) before: this merge made it.
    pub new_target: bool,
    /// Nothing was written: the report says what a merge would do.
    pub dry_run: bool,
    pub folders: Vec<Folder>,
    /// Sources named more than once: merged once.
    pub repeats: Vec<Repeat>,
    pub sources: Vec<SourceReport>,
}

impl MergeReport {
    /// The runs of every source whose change `counts`.
    pub fn count(&self, counts: impl Fn(&Change) -> bool) -> usize {
        self.sources
            .iter()
            .flat_map(|s| &s.runs)
            .filter(|r| counts(&r.change))
            .count()
    }
}

/// Merges the runs of `sources` — posterlab databases, or folders whose
/// `*.sqlite` files are merged in name order — into the database at `into`,
/// created if missing (as `posterlab run` creates it). With `dry_run`, says
/// what would happen and writes nothing, not even a new target. On any
/// error the target is left as it was; the error names the file at fault.
pub fn merge(into: &Path, sources: &[PathBuf], dry_run: bool) -> Result<MergeReport> {
    let (listed, folders) = expand(sources)?;
    let (paths, repeats) = distinct(listed, into)?;
    // Every source checked before the target is created or written: what
    // is cheap to find (not a database, another program's, a newer schema,
    // a runs table that cannot be read) is found here.
    for path in &paths {
        let source = Source::open(path)?;
        summaries(&source.conn).reading(path)?;
    }
    let new_target = std::fs::metadata(into).map_or(true, |m| m.len() == 0);
    let merged = if dry_run {
        let mut known = if new_target {
            Known::none()
        } else {
            let target = Store::open_read_only(into)?;
            Known::read(&target.conn).reading(into)?
        };
        paths
            .iter()
            .enumerate()
            .map(|(i, path)| merge_source(&mut known, i, path, None, None))
            .collect::<Result<Vec<_>>>()?
    } else {
        Store::open(into)?.merge_sources(&paths, None)?
    };
    Ok(MergeReport {
        into: into.to_path_buf(),
        new_target,
        dry_run,
        folders,
        repeats,
        sources: merged,
    })
}

impl Store {
    /// Copies the runs `uids` of the posterlab database at `source` into
    /// this one, by the rules of [`merge`] (a copy here that is as new or
    /// newer stays), in one transaction: how a Slurm task's store takes
    /// over the run that the main database began, so that the task resumes
    /// it rather than starting another.
    pub fn merge_runs_from(&mut self, source: &Path, uids: &[String]) -> Result<SourceReport> {
        if identity(source).is_some() && identity(source) == identity(&self.path) {
            return Err(self.err("cannot merge a database into itself"));
        }
        let only: HashSet<&str> = uids.iter().map(String::as_str).collect();
        let mut reports = self.merge_sources(&[source.to_path_buf()], Some(&only))?;
        Ok(reports.remove(0))
    }

    /// Merges each of `paths` in turn (only the runs `only` names, when
    /// given), in one immediate transaction.
    fn merge_sources(
        &mut self,
        paths: &[PathBuf],
        only: Option<&HashSet<&str>>,
    ) -> Result<Vec<SourceReport>> {
        let into = self.path.clone();
        // Room for every statement of a merge (the run's insert and update,
        // each table's insert and delete), so none is prepared per run.
        self.conn.set_prepared_statement_cache_capacity(32);
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .writing(&into)?;
        let mut known = Known::read(&tx).reading(&into)?;
        let target = Target {
            tx: &tx,
            path: &into,
        };
        let reports = paths
            .iter()
            .enumerate()
            .map(|(i, path)| merge_source(&mut known, i, path, Some(&target), only))
            .collect::<Result<Vec<_>>>()?;
        // Dropped uncommitted on any error above: rolled back.
        tx.commit().writing(&into)?;
        Ok(reports)
    }
}

/// The target being written: its open transaction and its path.
struct Target<'a> {
    tx: &'a Transaction<'a>,
    path: &'a Path,
}

/// The sources `args` name: files as given, folders as their `*.sqlite`
/// files in name order (with how many each held).
fn expand(args: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<Folder>)> {
    let (mut paths, mut folders) = (Vec::new(), Vec::new());
    for arg in args {
        if !arg.is_dir() {
            paths.push(arg.clone());
            continue;
        }
        let listing_error = |e: std::io::Error| StoreError {
            path: arg.clone(),
            message: format!("cannot list the folder: {e}"),
        };
        let mut found = Vec::new();
        for entry in std::fs::read_dir(arg).map_err(listing_error)? {
            let path = entry.map_err(listing_error)?.path();
            if path.extension().is_some_and(|e| e == "sqlite") && path.is_file() {
                found.push(path);
            }
        }
        if found.is_empty() {
            return Err(StoreError {
                path: arg.clone(),
                message: format!("is a folder without any *.sqlite file\n  help: {SOURCE_HELP}"),
            });
        }
        found.sort();
        folders.push((arg.clone(), found.len()));
        paths.extend(found);
    }
    Ok((paths, folders))
}

/// What a source that cannot be merged should do instead.
const SOURCE_HELP: &str = "`posterlab merge` takes posterlab databases, or folders of them \
    (their *.sqlite files); leave this one out";

/// A file's identity (device, inode): two paths name one file when these
/// agree, whatever their spelling (`./a`, a symbolic or hard link).
fn identity(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// `paths` with repeats of one file dropped (and listed, with the path
/// first naming it); refuses the target itself.
fn distinct(paths: Vec<PathBuf>, into: &Path) -> Result<(Vec<PathBuf>, Vec<Repeat>)> {
    let target = identity(into);
    let mut first: HashMap<(u64, u64), PathBuf> = HashMap::new();
    let (mut kept, mut repeats) = (Vec::new(), Vec::new());
    for path in paths {
        let Some(id) = identity(&path) else {
            // Missing or unreadable: `Source::open` says which.
            kept.push(path);
            continue;
        };
        if Some(id) == target {
            return Err(StoreError {
                message: format!(
                    "is the database merged into ({})\n  help: leave it out of the sources, or \
                     choose another target with --into",
                    into.display()
                ),
                path,
            });
        }
        match first.get(&id) {
            Some(earlier) => repeats.push((path, earlier.clone())),
            None => {
                first.insert(id, path.clone());
                kept.push(path);
            }
        }
    }
    Ok((kept, repeats))
}

/// A source database, opened read-only and held at one snapshot, so that a
/// sweep still writing it is read consistently.
struct Source {
    conn: Connection,
}

impl Source {
    fn open(path: &Path) -> Result<Source> {
        let (conn, _version) = open::read_only(path).map_err(|message| StoreError {
            path: path.to_path_buf(),
            message: for_a_source(message),
        })?;
        // Deferred: the snapshot is taken by the first read. The connection
        // only reads; closing it ends the transaction.
        conn.execute_batch("BEGIN").reading(path)?;
        Ok(Source { conn })
    }
}

/// `open::read_only`'s refusal, its hint about `--db` (the database the
/// other commands read) made one about merging.
fn for_a_source(message: String) -> String {
    match message.split_once("\n  help: ") {
        Some((what, help)) if help.contains("--db") => format!("{what}\n  help: {SOURCE_HELP}"),
        _ => message,
    }
}

/// A run as a merge decides about it.
struct Summary {
    id: i64,
    uid: String,
    name: String,
    spec_hash: String,
    progress: Progress,
}

/// Every run of `conn`, by id (columns every schema version has).
fn summaries(conn: &Connection) -> rusqlite::Result<Vec<Summary>> {
    let mut stmt = conn.prepare(
        "SELECT id, uid, name, spec_hash, epochs_done, status, updated_at FROM runs ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| {
        let status: String = r.get("status")?;
        Ok(Summary {
            id: r.get("id")?,
            uid: r.get("uid")?,
            name: r.get("name")?,
            spec_hash: r.get("spec_hash")?,
            progress: Progress {
                epochs_done: r.get::<_, i64>("epochs_done")? as usize,
                status: Status::parse(&status).ok_or_else(|| unknown("status", &status))?,
                updated_at: r.get("updated_at")?,
            },
        })
    })?;
    rows.collect()
}

/// The target's runs by uid, kept up to date as sources are merged.
struct Known {
    runs: HashMap<String, KnownRun>,
    /// spec hash → the uids of its runs.
    by_spec: HashMap<String, Vec<String>>,
    /// The id SQLite gives the next run (the largest + 1).
    next_id: i64,
}

struct KnownRun {
    id: i64,
    progress: Progress,
    /// The source (its index) this merge added it from.
    added_from: Option<usize>,
}

impl Known {
    /// A target without runs (a dry run's new one).
    fn none() -> Known {
        Known {
            runs: HashMap::new(),
            by_spec: HashMap::new(),
            next_id: 1,
        }
    }

    fn read(conn: &Connection) -> rusqlite::Result<Known> {
        let mut known = Known::none();
        for run in summaries(conn)? {
            known.hold(&run, run.id, None);
        }
        Ok(known)
    }

    /// Records that the target holds `run` as `id`.
    fn hold(&mut self, run: &Summary, id: i64, added_from: Option<usize>) {
        let held = KnownRun {
            id,
            progress: run.progress.clone(),
            added_from,
        };
        if self.runs.insert(run.uid.clone(), held).is_none() {
            let uids = self.by_spec.entry(run.spec_hash.clone()).or_default();
            uids.push(run.uid.clone());
        }
        self.next_id = self.next_id.max(id + 1);
    }

    /// The target's runs of `spec_hash`, but those added from source
    /// `index` itself (which were two runs of one spec there already).
    fn same_spec(&self, spec_hash: &str, index: usize) -> Vec<i64> {
        let uids = self
            .by_spec
            .get(spec_hash)
            .map_or(&[][..], |u| u.as_slice());
        uids.iter()
            .map(|uid| &self.runs[uid])
            .filter(|run| run.added_from != Some(index))
            .map(|run| run.id)
            .collect()
    }
}

/// Merges the source at `path` (the `index`th) into `target`, or, without
/// one, says what a merge would do; only the runs whose uid `only` holds,
/// when given.
fn merge_source(
    known: &mut Known,
    index: usize,
    path: &Path,
    target: Option<&Target>,
    only: Option<&HashSet<&str>>,
) -> Result<SourceReport> {
    let source = Source::open(path)?;
    let mut runs = summaries(&source.conn).reading(path)?;
    if let Some(only) = only {
        runs.retain(|r| only.contains(r.uid.as_str()));
    }
    let copier = match target {
        Some(target) => Some(Copier::new(&source, path, target)?),
        None => None,
    };
    let mut merged = Vec::with_capacity(runs.len());
    for run in runs {
        let held = known.runs.get(&run.uid).map(|k| (k.id, k.progress.clone()));
        let (id, change) = match held {
            None => {
                let id = match &copier {
                    Some(copier) => copier.insert(run.id)?,
                    None => known.next_id,
                };
                (id, Change::New)
            }
            Some((id, was)) if run.progress.is_newer_than(&was) => {
                if let Some(copier) = &copier {
                    copier.replace(run.id, id)?;
                }
                (id, Change::Updated { was })
            }
            Some((id, held)) if held.is_newer_than(&run.progress) => {
                (id, Change::Older { target: held })
            }
            Some((id, _)) => (id, Change::Unchanged),
        };
        let same_spec = if change == Change::New {
            known.same_spec(&run.spec_hash, index)
        } else {
            Vec::new()
        };
        match change {
            Change::New => known.hold(&run, id, Some(index)),
            Change::Updated { .. } => known.hold(&run, id, None),
            Change::Unchanged | Change::Older { .. } => {}
        }
        merged.push(RunMerge {
            uid: run.uid,
            name: run.name,
            id,
            progress: run.progress,
            change,
            same_spec,
        });
    }
    Ok(SourceReport {
        path: path.to_path_buf(),
        runs: merged,
    })
}

/// A SQLite error as the store's, on the file it happened to: reading a
/// source, or writing the target.
trait OnFile<T> {
    fn reading(self, path: &Path) -> Result<T>;
    fn writing(self, path: &Path) -> Result<T>;
}

impl<T> OnFile<T> for rusqlite::Result<T> {
    fn reading(self, path: &Path) -> Result<T> {
        self.map_err(|e| StoreError {
            path: path.to_path_buf(),
            message: format!("cannot read it: {e}"),
        })
    }

    fn writing(self, path: &Path) -> Result<T> {
        self.map_err(|e| StoreError {
            path: path.to_path_buf(),
            message: format!("cannot write it: {e}"),
        })
    }
}
