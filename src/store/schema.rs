//! The schema and its migrations. `PRAGMA user_version` holds the version a
//! database is at; [`migrate`] brings it to [`VERSION`] inside one immediate
//! transaction, so two processes opening a new file at once cannot both
//! create it.
//!
//! The tables are documented for users in docs/store.md; keep the two equal.

use rusqlite::{Connection, TransactionBehavior};

/// The schema version this build writes.
pub const VERSION: i64 = 1;

/// Each migration takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE runs (
    id              INTEGER PRIMARY KEY,
    uid             TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL,
    experiment      TEXT NOT NULL,
    tags            TEXT NOT NULL,
    spec_hash       TEXT NOT NULL,
    spec_toml       TEXT NOT NULL,
    spec_file       TEXT NOT NULL,
    swept           TEXT NOT NULL,
    status          TEXT NOT NULL
        CHECK (status IN ('running', 'finished', 'failed', 'interrupted', 'diverged')),
    status_epoch    INTEGER,
    error           TEXT,
    epochs_planned  INTEGER NOT NULL,
    epochs_done     INTEGER NOT NULL DEFAULT 0,
    best_epoch      INTEGER,
    stopped_early   INTEGER NOT NULL DEFAULT 0,
    monitor         TEXT NOT NULL,
    decision        TEXT NOT NULL,
    threshold       REAL NOT NULL,
    genres          TEXT NOT NULL,
    dataset         TEXT NOT NULL,
    dataset_csv     TEXT NOT NULL,
    dataset_hash    TEXT NOT NULL,
    n_train         INTEGER NOT NULL,
    n_val           INTEGER NOT NULL,
    n_test          INTEGER NOT NULL,
    params          INTEGER NOT NULL,
    device          TEXT NOT NULL,
    host            TEXT NOT NULL,
    git_commit      TEXT,
    version         TEXT NOT NULL,
    checkpoint_dir  TEXT NOT NULL,
    checkpoint      TEXT,
    train_seconds   REAL NOT NULL DEFAULT 0,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    finished_at     TEXT
);
CREATE INDEX runs_by_hash ON runs (spec_hash);

CREATE TABLE epochs (
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch           INTEGER NOT NULL,
    lr              REAL NOT NULL,
    seconds         REAL NOT NULL,
    images_per_sec  REAL NOT NULL,
    is_best         INTEGER NOT NULL,
    recorded_at     TEXT NOT NULL,
    PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;

CREATE TABLE metrics (
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch           INTEGER NOT NULL,
    split           TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
    posters         INTEGER NOT NULL,
    loss            REAL,
    micro_precision REAL NOT NULL,
    micro_recall    REAL NOT NULL,
    micro_f1        REAL NOT NULL,
    macro_precision REAL NOT NULL,
    macro_recall    REAL NOT NULL,
    macro_f1        REAL NOT NULL,
    samples_f1      REAL NOT NULL,
    subset_accuracy REAL NOT NULL,
    binary_accuracy REAL NOT NULL,
    hamming_loss    REAL NOT NULL,
    micro_ap        REAL NOT NULL,
    macro_ap        REAL NOT NULL,
    PRIMARY KEY (run_id, split, epoch)
) WITHOUT ROWID;

CREATE TABLE genre_metrics (
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    epoch           INTEGER NOT NULL,
    split           TEXT NOT NULL CHECK (split IN ('train', 'val', 'test')),
    genre           TEXT NOT NULL,
    tp              INTEGER NOT NULL,
    fp              INTEGER NOT NULL,
    fn              INTEGER NOT NULL,
    tn              INTEGER NOT NULL,
    support         INTEGER NOT NULL,
    precision       REAL NOT NULL,
    recall          REAL NOT NULL,
    f1              REAL NOT NULL,
    PRIMARY KEY (run_id, split, epoch, genre)
) WITHOUT ROWID;

CREATE TABLE predictions (
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    poster          TEXT NOT NULL,
    genre           TEXT NOT NULL,
    truth           INTEGER NOT NULL,
    probability     REAL NOT NULL,
    predicted       INTEGER NOT NULL,
    PRIMARY KEY (run_id, poster, genre)
) WITHOUT ROWID;
"#];

/// Brings the database to [`VERSION`]; refuses one written by a newer build.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<Result<(), String>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > VERSION {
        return Ok(Err(format!(
            "the database is at schema version {version}, this posterlab writes version {VERSION}: \
             it was made by a newer posterlab"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    tx.commit()?;
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_migration_is_listed_once() {
        assert_eq!(MIGRATIONS.len() as i64, VERSION);
    }

    #[test]
    fn migrating_twice_is_a_no_op_and_a_newer_file_is_refused() {
        let mut conn = Connection::open_in_memory().unwrap();
        migrate(&mut conn).unwrap().unwrap();
        migrate(&mut conn).unwrap().unwrap();
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, VERSION);
        conn.pragma_update(None, "user_version", VERSION + 1)
            .unwrap();
        let e = migrate(&mut conn).unwrap().unwrap_err();
        assert!(e.contains("made by a newer posterlab"), "{e}");
    }
}
