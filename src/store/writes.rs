//! Writing the store: a run's record, its status, each epoch with its
//! per-genre counts (one transaction, with the checkpoint it belongs to),
//! and the test results with every prediction. Every write is one
//! immediate transaction (`Store::write`).

use std::path::Path;

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, Transaction};

use super::{NewRun, Result, Status, Store};
use crate::metric::Split;
use crate::train::metrics::{Decision, GenreCounts, Metrics};
use crate::train::record::{EpochRecord, Scored, SplitResult, TestRecord};

/// The time now, UTC, RFC 3339 (what SQLite's date functions read).
fn now(tx: &Connection) -> rusqlite::Result<String> {
    tx.query_row("SELECT strftime('%Y-%m-%dT%H:%M:%fZ', 'now')", [], |r| {
        r.get(0)
    })
}

impl Store {
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
            insert_split(tx, id, e, Split::Train, &record.train, &genres)?;
            insert_split(tx, id, e, Split::Val, &record.val, &genres)?;
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
        let rule = self.rule(id)?.0.name();
        self.write(|tx| {
            let at = now(tx)?;
            insert_split(
                tx,
                id,
                record.epoch as i64,
                Split::Test,
                &record.result,
                &genres,
            )?;
            let decision = &record.decided.decision;
            insert_predictions(tx, id, Split::Test, &record.test, &genres, decision)?;
            insert_predictions(tx, id, Split::Val, &record.val, &genres, decision)?;
            insert_thresholds(tx, id, &rule, &record.decided.thresholds(&genres))?;
            let mut insert =
                tx.prepare("INSERT INTO test_posters (run_id, poster, image) VALUES (?1, ?2, ?3)")?;
            for (poster, image) in record.test.posters.iter().zip(&record.images) {
                insert.execute(params![id, poster, image.to_string_lossy()])?;
            }
            tx.execute(
                "UPDATE runs SET status = 'finished', status_epoch = NULL, error = NULL, \
                 stopped_early = ?2, finished_at = ?3, updated_at = ?3 WHERE id = ?1",
                params![id, record.stopped_early, at],
            )?;
            Ok(())
        })
    }
}

impl Store {
    /// Records run `id`'s test metrics under the rule labelled `rule`
    /// (re-scored from its stored predictions of the tested `epoch`), with
    /// the thresholds it tuned; replaces an earlier rescore by that rule and
    /// leaves the run's own metrics alone.
    pub fn record_rescore(
        &mut self,
        id: i64,
        rule: &str,
        epoch: usize,
        posters: usize,
        metrics: &Metrics,
        thresholds: &[(String, f64)],
    ) -> Result<()> {
        let genres = self.genres(id)?;
        self.write(|tx| {
            let at = now(tx)?;
            let mut row: Vec<Value> = vec![id.into(), Value::Text(rule.to_string()), (epoch as i64).into()];
            row.push((posters as i64).into());
            row.extend(metric_values(metrics));
            row.push(at.into());
            tx.execute(
                &format!(
                    "INSERT OR REPLACE INTO rescores (run_id, rule, epoch, posters, {METRIC_COLUMNS}, \
                     recorded_at) VALUES ({})",
                    placeholders(row.len())
                ),
                params_from_iter(row),
            )?;
            let keys: [Value; 2] = [id.into(), Value::Text(rule.to_string())];
            insert_genres(tx, "rescore_genres (run_id, rule", &keys, genres.iter().zip(&metrics.per_genre), true)?;
            insert_thresholds(tx, id, rule, thresholds)?;
            Ok(())
        })
    }
}

/// A split's predictions, each genre marked predicted or not by `decision`.
fn insert_predictions(
    tx: &Transaction,
    id: i64,
    split: Split,
    scored: &Scored,
    genres: &[String],
    decision: &Decision,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO predictions (run_id, split, poster, genre, truth, probability, predicted) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    let g = genres.len();
    let mut predicted = vec![false; g];
    for (p, poster) in scored.posters.iter().enumerate() {
        let row = &scored.scores[p * g..(p + 1) * g];
        decision.apply(row, &mut predicted);
        for (j, genre) in genres.iter().enumerate() {
            insert.execute(params![
                id,
                split.as_str(),
                poster,
                genre,
                scored.targets[p * g + j],
                row[j] as f64,
                predicted[j]
            ])?;
        }
    }
    Ok(())
}

/// The thresholds a tuned rule (named `rule`) chose, replacing any it chose
/// before.
fn insert_thresholds(
    tx: &Transaction,
    id: i64,
    rule: &str,
    thresholds: &[(String, f64)],
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT OR REPLACE INTO thresholds (run_id, rule, genre, threshold) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for (genre, threshold) in thresholds {
        insert.execute(params![id, rule, genre, threshold])?;
    }
    Ok(())
}

fn insert_split(
    tx: &Transaction,
    id: i64,
    epoch: i64,
    split: Split,
    r: &SplitResult,
    genres: &[String],
) -> rusqlite::Result<()> {
    let mut row: Vec<Value> = vec![
        id.into(),
        epoch.into(),
        Value::Text(split.as_str().to_string()),
    ];
    row.push((r.posters as i64).into());
    row.push(r.loss.is_finite().then_some(r.loss).into());
    row.extend(metric_values(&r.metrics));
    tx.execute(
        &format!(
            "INSERT INTO metrics (run_id, epoch, split, posters, loss, {METRIC_COLUMNS}) VALUES ({})",
            placeholders(row.len())
        ),
        params_from_iter(row),
    )?;
    let keys: [Value; 3] = [
        id.into(),
        epoch.into(),
        Value::Text(split.as_str().to_string()),
    ];
    insert_genres(
        tx,
        "genre_metrics (run_id, epoch, split",
        &keys,
        genres.iter().zip(&r.metrics.per_genre),
        false,
    )?;
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

/// The metric columns of `metrics` and `rescores`, in [`metric_values`]' order.
const METRIC_COLUMNS: &str = "micro_precision, micro_recall, micro_f1, macro_precision, \
     macro_recall, macro_f1, samples_f1, subset_accuracy, binary_accuracy, hamming_loss, \
     micro_ap, macro_ap";

fn metric_values(m: &Metrics) -> impl Iterator<Item = Value> {
    [
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
        m.macro_ap,
    ]
    .into_iter()
    .map(Value::from)
}

/// One row per genre of a split's (or a rescore's) counts into `table`,
/// written as `name (key columns` (the genre and count columns follow),
/// each row starting with `keys`.
fn insert_genres<'a>(
    tx: &Transaction,
    table: &str,
    keys: &[Value],
    counts: impl Iterator<Item = (&'a String, &'a GenreCounts)>,
    replace: bool,
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare_cached(&format!(
        "INSERT{} INTO {table}, genre, tp, fp, fn, tn, support, precision, recall, f1) VALUES ({})",
        if replace { " OR REPLACE" } else { "" },
        placeholders(keys.len() + 9)
    ))?;
    for (genre, c) in counts {
        let mut row = keys.to_vec();
        row.push(Value::Text(genre.clone()));
        row.extend([c.tp, c.fp, c.fn_, c.tn, c.support()].map(|n| Value::from(n as i64)));
        row.extend([c.precision(), c.recall(), c.f1()].map(Value::from));
        insert.execute(params_from_iter(row))?;
    }
    Ok(())
}

/// `?1, ?2, …, ?n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("?{i}"))
        .collect::<Vec<_>>()
        .join(", ")
}
