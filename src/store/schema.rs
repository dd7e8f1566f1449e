//! The schema and its migrations. `PRAGMA user_version` holds the version a
//! database is at; [`migrate`] brings it to [`VERSION`] inside one immediate
//! transaction, so two processes opening a new file at once cannot both
//! create it.
//!
//! The tables are documented for users in docs/store.md; keep the two equal.

use rusqlite::{Connection, TransactionBehavior};

/// The schema version this build writes.
pub const VERSION: i64 = 3;

/// Every table whose rows belong to one run (a `run_id` column), in the
/// order `posterlab merge` copies them. A migration that adds such a table
/// lists it here; a test checks that no table with `run_id` is missing.
pub const RUN_TABLES: &[&str] = &[
    "epochs",
    "metrics",
    "genre_metrics",
    "predictions",
    "test_posters",
    "thresholds",
    "rescores",
    "rescore_genres",
];

/// Each migration takes the database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    r#"
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
"#,
    // 2: where each test poster's image file is, recorded at test time, so that
    // reading a run never needs its data set's CSV again.
    r#"
CREATE TABLE test_posters (
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    poster          TEXT NOT NULL,
    image           TEXT NOT NULL,
    PRIMARY KEY (run_id, poster)
) WITHOUT ROWID;
"#,
    // 3: validation predictions beside the test ones (a `split` column; the
    // rows before it are all test rows), the thresholds a tuned decision
    // rule chose, and the test metrics of finished runs re-scored under
    // other rules (`posterlab rescore`), kept apart from the run's own.
    r#"
CREATE TABLE predictions_v3 (
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    split           TEXT NOT NULL DEFAULT 'test' CHECK (split IN ('val', 'test')),
    poster          TEXT NOT NULL,
    genre           TEXT NOT NULL,
    truth           INTEGER NOT NULL,
    probability     REAL NOT NULL,
    predicted       INTEGER NOT NULL,
    PRIMARY KEY (run_id, split, poster, genre)
) WITHOUT ROWID;
INSERT INTO predictions_v3 (run_id, split, poster, genre, truth, probability, predicted)
    SELECT run_id, 'test', poster, genre, truth, probability, predicted FROM predictions;
DROP TABLE predictions;
ALTER TABLE predictions_v3 RENAME TO predictions;

CREATE TABLE thresholds (
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    rule            TEXT NOT NULL,
    genre           TEXT NOT NULL,
    threshold       REAL NOT NULL,
    PRIMARY KEY (run_id, rule, genre)
) WITHOUT ROWID;

CREATE TABLE rescores (
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    rule            TEXT NOT NULL,
    epoch           INTEGER NOT NULL,
    posters         INTEGER NOT NULL,
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
    recorded_at     TEXT NOT NULL,
    PRIMARY KEY (run_id, rule)
) WITHOUT ROWID;

CREATE TABLE rescore_genres (
    run_id          INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    rule            TEXT NOT NULL,
    genre           TEXT NOT NULL,
    tp              INTEGER NOT NULL,
    fp              INTEGER NOT NULL,
    fn              INTEGER NOT NULL,
    tn              INTEGER NOT NULL,
    support         INTEGER NOT NULL,
    precision       REAL NOT NULL,
    recall          REAL NOT NULL,
    f1              REAL NOT NULL,
    PRIMARY KEY (run_id, rule, genre)
) WITHOUT ROWID;
"#,
];

/// What a SQLite file holds, judged by its tables (never by its name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// No table at all: a new file, or an empty one.
    Blank,
    /// posterlab's tables at schema `version`; `labelled` is false when
    /// `user_version` was lost (a `sqlite3 old .dump | sqlite3 new` restore
    /// does not carry it) and the version was recognised from the columns.
    Posterlab { version: i64, labelled: bool },
    /// posterlab's `runs` table, at a version newer than this build's.
    Newer(i64),
    /// Another program's database: its table names.
    Foreign(Vec<String>),
}

/// Table name → column names, in table order.
type Shape = Vec<(String, Vec<String>)>;

fn shape(conn: &Connection, tables: &[String]) -> rusqlite::Result<Shape> {
    tables
        .iter()
        .map(|t| Ok((t.clone(), columns(conn, t)?)))
        .collect()
}

/// The column names of `table`, in table order;
/// none when there is no such table (an older schema's file).
pub fn columns(conn: &Connection, table: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid")?;
    let columns = stmt
        .query_map([table], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(columns)
}

fn table_names(conn: &Connection) -> rusqlite::Result<Vec<String>> {
    let mut stmt = conn.prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )?;
    let names = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(names)
}

/// The tables and columns that schema `version` has: the migrations up to
/// it, applied to an empty in-memory database.
fn shape_at(version: i64) -> rusqlite::Result<Shape> {
    let conn = Connection::open_in_memory()?;
    for sql in &MIGRATIONS[..version as usize] {
        conn.execute_batch(sql)?;
    }
    shape(&conn, &table_names(&conn)?)
}

/// Recognises what `conn` holds without changing it. A database is
/// posterlab's when every table of one of its schema versions is there with
/// exactly that version's columns (other tables a user added, such as
/// views of their own, do not matter).
pub fn recognise(conn: &Connection) -> rusqlite::Result<Found> {
    let tables = table_names(conn)?;
    let user_version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if tables.is_empty() {
        return Ok(if user_version == 0 {
            Found::Blank
        } else {
            Found::Foreign(tables)
        });
    }
    if user_version > VERSION && tables.iter().any(|t| t == "runs") {
        return Ok(Found::Newer(user_version));
    }
    let actual = shape(conn, &tables)?;
    let matches = |version: i64| -> rusqlite::Result<bool> {
        Ok(shape_at(version)?
            .iter()
            .all(|table| actual.contains(table)))
    };
    if (1..=VERSION).contains(&user_version) && matches(user_version)? {
        return Ok(Found::Posterlab {
            version: user_version,
            labelled: true,
        });
    }
    if user_version == 0 {
        for version in (1..=VERSION).rev() {
            if matches(version)? {
                return Ok(Found::Posterlab {
                    version,
                    labelled: false,
                });
            }
        }
    }
    Ok(Found::Foreign(tables))
}

/// Why a database cannot be used, in one line.
pub fn refusal(found: &Found) -> Option<String> {
    match found {
        Found::Blank | Found::Posterlab { .. } => None,
        Found::Newer(version) => Some(format!(
            "the database is at schema version {version}, this posterlab reads and writes version {VERSION}: \
             it was made by a newer posterlab\n  help: use that version (or newer) of posterlab"
        )),
        Found::Foreign(tables) if tables.is_empty() => Some(
            "not a posterlab database (no tables, but another program set its user_version); posterlab \
             leaves it as it is\n  help: `--db FILE` names the run database (default: results/posterlab.sqlite)"
                .to_string(),
        ),
        Found::Foreign(tables) => Some(format!(
            "not a posterlab database (its tables: {}); posterlab leaves it as it is\n  \
             help: `--db FILE` names the run database (default: results/posterlab.sqlite)",
            crate::text::some_of(tables, 6)
        )),
    }
}

/// Brings a database that is blank or posterlab's to [`VERSION`], in one
/// immediate transaction (two processes creating one file cannot both
/// create it); refuses anything else without changing a byte.
pub fn migrate(conn: &mut Connection) -> rusqlite::Result<Result<(), String>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found = recognise(&tx)?;
    if let Some(why) = refusal(&found) {
        return Ok(Err(why));
    }
    let (from, labelled) = match found {
        Found::Posterlab { version, labelled } => (version, labelled),
        _ => (0, true),
    };
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(from as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
    }
    if !labelled && from == VERSION {
        // A restored copy gets its lost version back.
        tx.pragma_update(None, "user_version", VERSION)?;
    }
    // Nothing written when there was nothing to do: opening a database on
    // a full disk must work, to record how a run ended.
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
    fn every_table_with_a_run_id_is_a_run_table() {
        let with_run_id: Vec<String> = shape_at(VERSION)
            .unwrap()
            .into_iter()
            .filter(|(_, columns)| columns.iter().any(|c| c == "run_id"))
            .map(|(table, _)| table)
            .collect();
        let mut listed: Vec<String> = RUN_TABLES.iter().map(|t| t.to_string()).collect();
        listed.sort();
        assert_eq!(
            with_run_id, listed,
            "RUN_TABLES must list every table with a run_id column (merge copies them)"
        );
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

    #[test]
    fn version_3_keeps_the_test_predictions_of_version_2_as_test_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..2] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", 2).unwrap();
        // Rows without their run: the migration is about the rows.
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        conn.execute_batch(
            "INSERT INTO predictions VALUES (1, 'p1', 'Drama', 1, 0.75, 1), (1, 'p1', 'Comedy', 0, 0.25, 0)",
        )
        .unwrap();
        migrate(&mut conn).unwrap().unwrap();
        let rows: Vec<(String, String, f64, bool)> = conn
            .prepare("SELECT split, genre, probability, predicted FROM predictions ORDER BY genre")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("test".into(), "Comedy".into(), 0.25, false),
                ("test".into(), "Drama".into(), 0.75, true)
            ]
        );
        assert_eq!(
            recognise(&conn).unwrap(),
            Found::Posterlab {
                version: 3,
                labelled: true
            }
        );
    }

    #[test]
    fn a_schema_is_recognised_by_its_tables_not_its_user_version() {
        let mut conn = Connection::open_in_memory().unwrap();
        assert_eq!(recognise(&conn).unwrap(), Found::Blank);
        migrate(&mut conn).unwrap().unwrap();
        assert_eq!(
            recognise(&conn).unwrap(),
            Found::Posterlab {
                version: VERSION,
                labelled: true
            }
        );
        // What a `.dump` restore gives: the tables without user_version.
        conn.pragma_update(None, "user_version", 0).unwrap();
        assert_eq!(
            recognise(&conn).unwrap(),
            Found::Posterlab {
                version: VERSION,
                labelled: false
            }
        );
        // A table of the user's own beside posterlab's is theirs to keep.
        conn.execute_batch("CREATE TABLE my_notes (run_id INTEGER, note TEXT)")
            .unwrap();
        migrate(&mut conn).unwrap().unwrap();
        assert_eq!(
            recognise(&conn).unwrap(),
            Found::Posterlab {
                version: VERSION,
                labelled: true
            }
        );
    }

    #[test]
    fn another_programs_database_is_refused_and_left_alone() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE runs (id INTEGER PRIMARY KEY, km REAL)")
            .unwrap();
        let found = recognise(&conn).unwrap();
        assert_eq!(found, Found::Foreign(vec!["runs".to_string()]));
        let e = migrate(&mut conn).unwrap().unwrap_err();
        assert!(
            e.contains("not a posterlab database (its tables: runs)"),
            "{e}"
        );
        assert_eq!(table_names(&conn).unwrap(), ["runs"]);
        let v: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, 0);
    }
}
