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

mod open;
mod schema;

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::train::metrics::GenreCounts;
use crate::train::run::{EpochRecord, SplitResult, TestRecord, Tracker};

pub use open::is_sqlite_file;
pub use schema::VERSION as SCHEMA_VERSION;

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

/// A run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Finished,
    Failed,
    Interrupted,
    Diverged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Finished => "finished",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::Diverged => "diverged",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Running,
            Status::Finished,
            Status::Failed,
            Status::Interrupted,
            Status::Diverged,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is recorded about a run before its first epoch.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub name: String,
    pub experiment: String,
    pub tags: Vec<String>,
    pub spec_hash: String,
    pub spec_toml: String,
    pub spec_file: String,
    pub swept: Vec<(String, String)>,
    pub epochs_planned: usize,
    pub monitor: String,
    pub decision: String,
    pub threshold: f64,
    pub genres: Vec<String>,
    pub dataset: String,
    pub dataset_csv: String,
    pub dataset_hash: String,
    pub split_sizes: [usize; 3],
    pub params: usize,
    pub device: String,
    pub host: String,
    pub git_commit: Option<String>,
    pub version: String,
    pub checkpoint_dir: String,
}

/// One row of `runs`, as listings need it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub experiment: String,
    pub tags: Vec<String>,
    pub spec_hash: String,
    pub spec_toml: String,
    pub status: Status,
    pub status_epoch: Option<usize>,
    pub error: Option<String>,
    pub epochs_planned: usize,
    pub epochs_done: usize,
    pub best_epoch: Option<usize>,
    pub stopped_early: bool,
    pub genres: Vec<String>,
    pub dataset: String,
    pub dataset_hash: String,
    pub dataset_csv: String,
    /// Swept field → value.
    pub swept: Vec<(String, String)>,
    pub checkpoint_dir: PathBuf,
    pub train_seconds: f64,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// The lowest validation loss of any epoch.
    pub best_val_loss: Option<f64>,
    pub test_micro_f1: Option<f64>,
}

const RUN_COLUMNS: &str = "r.id, r.uid, r.name, r.experiment, r.tags, r.spec_hash, r.spec_toml, \
    r.status, r.status_epoch, r.error, r.epochs_planned, r.epochs_done, r.best_epoch, \
    r.stopped_early, r.genres, r.dataset, r.checkpoint_dir, r.train_seconds, r.created_at, \
    r.finished_at, r.dataset_hash, r.dataset_csv, r.swept, \
    (SELECT min(loss) FROM metrics m WHERE m.run_id = r.id AND m.split = 'val'), \
    (SELECT micro_f1 FROM metrics m WHERE m.run_id = r.id AND m.split = 'test')";

fn run_row(row: &rusqlite::Row) -> rusqlite::Result<RunRow> {
    let json_list = |i: usize| -> rusqlite::Result<Vec<String>> {
        let text: String = row.get(i)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    let status: String = row.get(7)?;
    Ok(RunRow {
        id: row.get(0)?,
        uid: row.get(1)?,
        name: row.get(2)?,
        experiment: row.get(3)?,
        tags: json_list(4)?,
        spec_hash: row.get(5)?,
        spec_toml: row.get(6)?,
        status: Status::parse(&status).unwrap_or(Status::Failed),
        status_epoch: row.get::<_, Option<i64>>(8)?.map(|e| e as usize),
        error: row.get(9)?,
        epochs_planned: row.get::<_, i64>(10)? as usize,
        epochs_done: row.get::<_, i64>(11)? as usize,
        best_epoch: row.get::<_, Option<i64>>(12)?.map(|e| e as usize),
        stopped_early: row.get(13)?,
        genres: json_list(14)?,
        dataset: row.get(15)?,
        checkpoint_dir: PathBuf::from(row.get::<_, String>(16)?),
        train_seconds: row.get(17)?,
        created_at: row.get(18)?,
        finished_at: row.get(19)?,
        dataset_hash: row.get(20)?,
        dataset_csv: row.get(21)?,
        swept: {
            let text: String = row.get(22)?;
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect()
        },
        best_val_loss: row.get(23)?,
        test_micro_f1: row.get(24)?,
    })
}

/// One epoch of one split, for tables and export.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EpochRow {
    pub run_id: i64,
    pub run: String,
    pub epoch: usize,
    pub split: String,
    pub lr: Option<f64>,
    pub seconds: Option<f64>,
    pub images_per_sec: Option<f64>,
    pub posters: usize,
    pub loss: Option<f64>,
    pub micro_precision: f64,
    pub micro_recall: f64,
    pub micro_f1: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub samples_f1: f64,
    pub subset_accuracy: f64,
    pub binary_accuracy: f64,
    pub hamming_loss: f64,
    pub micro_ap: f64,
    pub macro_ap: f64,
}

/// One test poster's truth, scores and predictions, per genre.
#[derive(Debug, Clone, PartialEq)]
pub struct PosterPrediction {
    pub poster: String,
    pub truth: Vec<bool>,
    /// The model's scores, as computed (f32, stored exactly as REAL).
    pub probability: Vec<f32>,
    pub predicted: Vec<bool>,
}

/// One genre's test counts.
#[derive(Debug, Clone, PartialEq)]
pub struct GenreRow {
    pub genre: String,
    pub counts: GenreCounts,
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// The time now, UTC, RFC 3339 (what SQLite's date functions read).
fn now(tx: &Connection) -> rusqlite::Result<String> {
    tx.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", [], |r| {
        r.get(0)
    })
}

impl Store {
    /// Opens the database at `path` for writing: creates it if missing,
    /// migrates it; refuses a file that is not posterlab's without changing
    /// it ([`open`]).
    pub fn open(path: &Path) -> Result<Store> {
        Store::opened(path, open::read_write(path))
    }

    /// Opens an existing posterlab database for reading only: the file is
    /// never changed, and it may be read-only or in a read-only folder.
    pub fn open_read_only(path: &Path) -> Result<Store> {
        Store::opened(path, open::read_only(path))
    }

    fn opened(path: &Path, conn: std::result::Result<Connection, String>) -> Result<Store> {
        let path = path.to_path_buf();
        match conn {
            Ok(conn) => Ok(Store { conn, path }),
            Err(message) => Err(StoreError { path, message }),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl fmt::Display) -> StoreError {
        StoreError {
            path: self.path.clone(),
            message: e.to_string(),
        }
    }

    /// Runs `f` in an immediate (write-locking) transaction and commits.
    fn write<T>(&mut self, f: impl FnOnce(&Transaction) -> rusqlite::Result<T>) -> Result<T> {
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

    /// The latest run of a spec hash.
    pub fn latest_run(&self, spec_hash: &str) -> Result<Option<RunRow>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs r WHERE r.spec_hash = ?1 ORDER BY r.id DESC LIMIT 1"
                ),
                [spec_hash],
                run_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Records a new run (status running); returns its id.
    pub fn create_run(&mut self, run: &NewRun, uid: &str) -> Result<i64> {
        self.write(|tx| {
            let at = now(tx)?;
            tx.execute(
                "INSERT INTO runs (uid, name, experiment, tags, spec_hash, spec_toml, spec_file, swept, \
                 status, epochs_planned, monitor, decision, threshold, genres, dataset, dataset_csv, \
                 dataset_hash, n_train, n_val, n_test, params, device, host, git_commit, version, \
                 checkpoint_dir, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'running', ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
                 ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?26)",
                params![
                    uid,
                    run.name,
                    run.experiment,
                    json_list(&run.tags),
                    run.spec_hash,
                    run.spec_toml,
                    run.spec_file,
                    json_map(&run.swept),
                    run.epochs_planned as i64,
                    run.monitor,
                    run.decision,
                    run.threshold,
                    json_list(&run.genres),
                    run.dataset,
                    run.dataset_csv,
                    run.dataset_hash,
                    run.split_sizes[0] as i64,
                    run.split_sizes[1] as i64,
                    run.split_sizes[2] as i64,
                    run.params as i64,
                    run.device,
                    run.host,
                    run.git_commit,
                    run.version,
                    run.checkpoint_dir,
                    at,
                ],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    /// Marks a run running again (resume), clearing any earlier error.
    pub fn resume_run(&mut self, id: i64, device: &str, host: &str) -> Result<()> {
        self.write(|tx| {
            let at = now(tx)?;
            tx.execute(
                "UPDATE runs SET status = 'running', status_epoch = NULL, error = NULL, device = ?2, \
                 host = ?3, updated_at = ?4 WHERE id = ?1",
                params![id, device, host, at],
            )?;
            Ok(())
        })
    }

    /// Starts a run that completed no epoch again, with what is known now
    /// (the data set may have been repaired since it failed).
    pub fn restart_run(&mut self, id: i64, run: &NewRun) -> Result<()> {
        self.write(|tx| {
            let at = now(tx)?;
            tx.execute(
                "UPDATE runs SET status = 'running', status_epoch = NULL, error = NULL, genres = ?2, \
                 dataset_csv = ?3, dataset_hash = ?4, n_train = ?5, n_val = ?6, n_test = ?7, params = ?8, \
                 device = ?9, host = ?10, git_commit = ?11, version = ?12, updated_at = ?13 \
                 WHERE id = ?1 AND epochs_done = 0",
                params![
                    id,
                    json_list(&run.genres),
                    run.dataset_csv,
                    run.dataset_hash,
                    run.split_sizes[0] as i64,
                    run.split_sizes[1] as i64,
                    run.split_sizes[2] as i64,
                    run.params as i64,
                    run.device,
                    run.host,
                    run.git_commit,
                    run.version,
                    at
                ],
            )?;
            Ok(())
        })
    }

    /// Ends a run as failed, interrupted or diverged (at `epoch`, 1-based).
    pub fn set_status(
        &mut self,
        id: i64,
        status: Status,
        epoch: Option<usize>,
        error: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            let at = now(tx)?;
            tx.execute(
                "UPDATE runs SET status = ?2, status_epoch = ?3, error = ?4, updated_at = ?5 WHERE id = ?1",
                params![id, status.as_str(), epoch.map(|e| e as i64), error, at],
            )?;
            Ok(())
        })
    }

    pub fn epochs_done(&self, id: i64) -> Result<usize> {
        self.conn
            .query_row("SELECT epochs_done FROM runs WHERE id = ?1", [id], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    /// Records one epoch and the checkpoint that holds its state, in one
    /// transaction.
    pub fn record_epoch(&mut self, id: i64, record: &EpochRecord, checkpoint: &Path) -> Result<()> {
        let genres = self.genres(id)?;
        self.write(|tx| {
            let at = now(tx)?;
            let e = record.epoch as i64;
            tx.execute(
                "INSERT INTO epochs (run_id, epoch, lr, seconds, images_per_sec, is_best, recorded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    id,
                    e,
                    record.lr,
                    record.seconds,
                    record.images_per_sec,
                    record.best_epoch == record.epoch,
                    at
                ],
            )?;
            if record.best_epoch == record.epoch {
                tx.execute(
                    "UPDATE epochs SET is_best = 0 WHERE run_id = ?1 AND epoch != ?2",
                    params![id, e],
                )?;
            }
            insert_split(tx, id, e, "train", &record.train, &genres)?;
            insert_split(tx, id, e, "val", &record.val, &genres)?;
            tx.execute(
                "UPDATE runs SET epochs_done = ?2, best_epoch = ?3, checkpoint = ?4, \
                 train_seconds = train_seconds + ?5, updated_at = ?6 WHERE id = ?1",
                params![
                    id,
                    e,
                    record.best_epoch as i64,
                    checkpoint.to_string_lossy(),
                    record.seconds,
                    at
                ],
            )?;
            Ok(())
        })
    }

    /// Records the test evaluation and predictions and marks the run finished.
    pub fn record_test(&mut self, id: i64, record: &TestRecord) -> Result<()> {
        let genres = self.genres(id)?;
        self.write(|tx| {
            let at = now(tx)?;
            insert_split(tx, id, record.epoch as i64, "test", &record.result, &genres)?;
            let mut insert = tx.prepare(
                "INSERT INTO predictions (run_id, poster, genre, truth, probability, predicted) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let g = genres.len();
            for (p, poster) in record.posters.iter().enumerate() {
                let row = &record.scores[p * g..(p + 1) * g];
                let cut = record.decision.cut(row);
                for (j, genre) in genres.iter().enumerate() {
                    insert.execute(params![
                        id,
                        poster,
                        genre,
                        record.targets[p * g + j],
                        row[j] as f64,
                        row[j] as f64 > cut
                    ])?;
                }
            }
            tx.execute(
                "UPDATE runs SET status = 'finished', status_epoch = NULL, error = NULL, \
                 stopped_early = ?2, finished_at = ?3, updated_at = ?3 WHERE id = ?1",
                params![id, record.stopped_early, at],
            )?;
            Ok(())
        })
    }

    fn genres(&self, id: i64) -> Result<Vec<String>> {
        let text: String = self
            .conn
            .query_row("SELECT genres FROM runs WHERE id = ?1", [id], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        serde_json::from_str(&text).map_err(|e| self.err(format!("run {id}: genres: {e}")))
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs r ORDER BY r.id"))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], run_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// Every epoch (train and val) and the test row of run `id`, by epoch.
    pub fn epochs(&self, id: i64) -> Result<Vec<EpochRow>> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT m.run_id, r.name, m.epoch, m.split, e.lr, e.seconds, e.images_per_sec, \
                 m.posters, m.loss, m.micro_precision, m.micro_recall, m.micro_f1, m.macro_precision, \
                 m.macro_recall, m.macro_f1, m.samples_f1, m.subset_accuracy, m.binary_accuracy, \
                 m.hamming_loss, m.micro_ap, m.macro_ap \
                 FROM metrics m JOIN runs r ON r.id = m.run_id \
                 LEFT JOIN epochs e ON e.run_id = m.run_id AND e.epoch = m.epoch AND m.split != 'test' \
                 WHERE m.run_id = ?1 \
                 ORDER BY m.split = 'test', m.epoch, m.split",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(EpochRow {
                    run_id: r.get(0)?,
                    run: r.get(1)?,
                    epoch: r.get::<_, i64>(2)? as usize,
                    split: r.get(3)?,
                    lr: r.get(4)?,
                    seconds: r.get(5)?,
                    images_per_sec: r.get(6)?,
                    posters: r.get::<_, i64>(7)? as usize,
                    loss: r.get(8)?,
                    micro_precision: r.get(9)?,
                    micro_recall: r.get(10)?,
                    micro_f1: r.get(11)?,
                    macro_precision: r.get(12)?,
                    macro_recall: r.get(13)?,
                    macro_f1: r.get(14)?,
                    samples_f1: r.get(15)?,
                    subset_accuracy: r.get(16)?,
                    binary_accuracy: r.get(17)?,
                    hamming_loss: r.get(18)?,
                    micro_ap: r.get(19)?,
                    macro_ap: r.get(20)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// Per-genre counts of run `id` on `split` at `epoch`, in genre order.
    pub fn genre_counts(&self, id: i64, split: &str, epoch: usize) -> Result<Vec<GenreRow>> {
        let genres = self.genres(id)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT genre, tp, fp, fn, tn FROM genre_metrics \
                 WHERE run_id = ?1 AND split = ?2 AND epoch = ?3",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query_map(params![id, split, epoch as i64], |r| {
                Ok(GenreRow {
                    genre: r.get(0)?,
                    counts: GenreCounts {
                        tp: r.get::<_, i64>(1)? as u64,
                        fp: r.get::<_, i64>(2)? as u64,
                        fn_: r.get::<_, i64>(3)? as u64,
                        tn: r.get::<_, i64>(4)? as u64,
                    },
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        rows.sort_by_key(|r| genres.iter().position(|g| *g == r.genre));
        Ok(rows)
    }

    /// The test predictions of run `id`, poster by poster (in poster id
    /// order), each with one entry per genre in the run's genre order.
    pub fn predictions(&self, id: i64) -> Result<Vec<PosterPrediction>> {
        let genres = self.genres(id)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT poster, genre, truth, probability, predicted FROM predictions \
                 WHERE run_id = ?1 ORDER BY poster",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        let mut out: Vec<PosterPrediction> = Vec::new();
        for (poster, genre, truth, probability, predicted) in rows {
            if out.last().is_none_or(|p| p.poster != poster) {
                out.push(PosterPrediction {
                    poster,
                    truth: vec![false; genres.len()],
                    probability: vec![0.0; genres.len()],
                    predicted: vec![false; genres.len()],
                });
            }
            let p = out.last_mut().expect("pushed above");
            if let Some(g) = genres.iter().position(|x| *x == genre) {
                p.truth[g] = truth;
                p.probability[g] = probability as f32;
                p.predicted[g] = predicted;
            }
        }
        Ok(out)
    }

    /// A tracker for run `id`.
    pub fn tracker(&mut self, id: i64) -> RunTracker<'_> {
        RunTracker { store: self, id }
    }
}

fn insert_split(
    tx: &Transaction,
    id: i64,
    epoch: i64,
    split: &str,
    r: &SplitResult,
    genres: &[String],
) -> rusqlite::Result<()> {
    let m = &r.metrics;
    tx.execute(
        "INSERT INTO metrics (run_id, epoch, split, posters, loss, micro_precision, micro_recall, \
         micro_f1, macro_precision, macro_recall, macro_f1, samples_f1, subset_accuracy, \
         binary_accuracy, hamming_loss, micro_ap, macro_ap) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
        params![
            id,
            epoch,
            split,
            r.posters as i64,
            r.loss.is_finite().then_some(r.loss),
            m.micro_precision,
            m.micro_recall,
            m.micro_f1,
            m.macro_precision,
            m.macro_recall,
            m.macro_f1,
            m.samples_f1,
            m.subset_accuracy,
            m.binary_accuracy,
            m.hamming_loss,
            m.micro_ap,
            m.macro_ap
        ],
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO genre_metrics (run_id, epoch, split, genre, tp, fp, fn, tn, support, \
         precision, recall, f1) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
    )?;
    for (genre, c) in genres.iter().zip(&m.per_genre) {
        insert.execute(params![
            id,
            epoch,
            split,
            genre,
            c.tp as i64,
            c.fp as i64,
            c.fn_ as i64,
            c.tn as i64,
            c.support() as i64,
            c.precision(),
            c.recall(),
            c.f1()
        ])?;
    }
    Ok(())
}

/// A JSON array of strings, for list columns.
fn json_list(items: &[String]) -> String {
    serde_json::to_string(items).expect("strings serialise")
}

/// A JSON object of string values, for the swept values.
fn json_map(pairs: &[(String, String)]) -> String {
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
        .collect();
    serde_json::Value::Object(map).to_string()
}

/// The store as one run's [`Tracker`].
pub struct RunTracker<'a> {
    store: &'a mut Store,
    id: i64,
}

impl Tracker for RunTracker<'_> {
    fn completed_epochs(&mut self) -> std::result::Result<usize, crate::train::run::Error> {
        Ok(self.store.epochs_done(self.id)?)
    }

    fn record_epoch(
        &mut self,
        record: &EpochRecord,
        checkpoint: &Path,
    ) -> std::result::Result<(), crate::train::run::Error> {
        Ok(self.store.record_epoch(self.id, record, checkpoint)?)
    }

    fn record_test(
        &mut self,
        record: &TestRecord,
    ) -> std::result::Result<(), crate::train::run::Error> {
        Ok(self.store.record_test(self.id, record)?)
    }
}

/// What a list of selectors picked.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The runs picked, in id order.
    pub runs: Vec<RunRow>,
    /// The selectors that matched no run (worth a note, not an error, while
    /// others matched).
    pub unmatched: Vec<String>,
}

/// The runs `selectors` pick, in id order; no selector picks every run. A
/// selector is a run id (`12`), a name, experiment or tag, a status
/// (`finished`), a spec-hash prefix of at least 4 digits, or a resolved spec
/// field (`model.arch=cnn_rnn`, `train.seed=2`). A run is picked when any
/// selector matches it; it is an error only when selectors were given and
/// none matched any run (the message names them).
pub fn select(runs: &[RunRow], selectors: &[String]) -> std::result::Result<Selection, String> {
    if selectors.is_empty() {
        return Ok(Selection {
            runs: runs.to_vec(),
            unmatched: Vec::new(),
        });
    }
    let mut picked = vec![false; runs.len()];
    let mut unmatched = Vec::new();
    for selector in selectors {
        let mut any = false;
        for (run, pick) in runs.iter().zip(picked.iter_mut()) {
            if matches(run, selector) {
                *pick = true;
                any = true;
            }
        }
        if !any {
            unmatched.push(selector.clone());
        }
    }
    if unmatched.len() == selectors.len() {
        let quoted: Vec<String> = unmatched
            .iter()
            .map(|s| format!("`{}`", crate::text::printable(s)))
            .collect();
        return Err(format!(
            "no run matches {}\n  help: a selector is a run id, name, experiment, tag, status, \
             spec-hash prefix, or field=value such as model.arch=cnn; `posterlab runs` lists runs",
            quoted.join(" or ")
        ));
    }
    Ok(Selection {
        runs: runs
            .iter()
            .zip(picked)
            .filter(|(_, p)| *p)
            .map(|(r, _)| r.clone())
            .collect(),
        unmatched,
    })
}

fn matches(run: &RunRow, selector: &str) -> bool {
    if let Ok(id) = selector.parse::<i64>() {
        if id == run.id {
            return true;
        }
    }
    if let Some((key, value)) = selector.split_once('=') {
        return spec_value(&run.spec_toml, key.trim()).is_some_and(|v| v == value.trim());
    }
    run.name == selector
        || run.experiment == selector
        || run.tags.iter().any(|t| t == selector)
        || run.status.as_str() == selector
        || (selector.len() >= 4
            && selector.chars().all(|c| c.is_ascii_hexdigit())
            && run.spec_hash.starts_with(&selector.to_ascii_lowercase()))
}

/// A dotted field of a resolved spec, as text (strings without quotes).
pub fn spec_value(spec_toml: &str, key: &str) -> Option<String> {
    let table: toml::Table = spec_toml.parse().ok()?;
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Table(t) => t.get("kind")?.as_str()?.to_string(),
        other => other.to_string(),
    })
}
