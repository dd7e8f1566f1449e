//! Opening a run database: for writing (`run`: create, migrate, choose the
//! journal mode) or for reading only (`runs`, `show`, `export`, `report`: not
//! a byte changed).
//!
//! Before SQLite touches a file, its first bytes say whether it is a SQLite
//! database at all; then its tables say whether it is posterlab's
//! ([`schema::recognise`]). posterlab writes into a file only when it is
//! posterlab's, new, or empty (a 0-byte file or one without tables), so
//! `--db` pointed at another program's database, a CSV or a checkpoint
//! leaves it exactly as it was.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::schema::{self, Found};
use super::Journal;
use crate::files::Protected;

/// How long a write waits for another process's transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

/// What a path holds, looked at without SQLite.
#[derive(Debug, PartialEq, Eq)]
enum FileKind {
    Missing,
    /// 0 bytes: SQLite would take it as a new database.
    Empty,
    Sqlite,
    Folder,
    /// Not a SQLite database (a CSV, a checkpoint…).
    Other,
}

fn sniff(path: &Path) -> Result<FileKind, String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(FileKind::Missing),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    if meta.is_dir() {
        return Ok(FileKind::Folder);
    }
    if meta.len() == 0 {
        return Ok(FileKind::Empty);
    }
    match crate::files::recognise(path) {
        Ok(Some(Protected::Sqlite)) => Ok(FileKind::Sqlite),
        Ok(_) => Ok(FileKind::Other),
        Err(e) => Err(format!("cannot read it: {e}")),
    }
}

const NOT_SQLITE: &str =
    "not a SQLite database, so not a posterlab one; posterlab leaves it as it is\n  \
     help: `--db FILE` names the run database (default: results/posterlab.sqlite)";

const FOLDER: &str = "is a folder, not a database file\n  \
     help: `--db FILE` names the run database (default: results/posterlab.sqlite)";

/// Opens `path` for writing: creates it (and its folder) if missing, sets
/// up or migrates posterlab's schema, puts it in `journal` mode; refuses
/// anything that is not posterlab's (or new, or empty) before changing it.
pub fn read_write(path: &Path, journal: Journal) -> Result<Connection, String> {
    match sniff(path)? {
        FileKind::Other => return Err(NOT_SQLITE.to_string()),
        FileKind::Folder => return Err(FOLDER.to_string()),
        FileKind::Missing => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            }
        }
        FileKind::Empty | FileKind::Sqlite => {}
    }
    let mut conn = Connection::open(path).map_err(|e| e.to_string())?;
    let pre = |conn: &Connection| -> rusqlite::Result<()> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "foreign_keys", "ON")
    };
    pre(&conn).map_err(|e| e.to_string())?;
    // The schema is checked (and made) before anything else is set, so that
    // a file that is not posterlab's keeps its journal mode too.
    schema::migrate(&mut conn).map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ReadOnly | rusqlite::ErrorCode::CannotOpen) => format!(
            "cannot write it ({e})\n  help: `posterlab run` records into the database, so it needs \
             write access to the file and its folder; `--db FILE` names another (`posterlab runs`, \
             `show`, `export` and `report` only read, and work here)"
        ),
        _ => format!("cannot set up the schema: {e}"),
    })??;
    let post = |conn: &Connection| -> rusqlite::Result<String> {
        let mode: String =
            conn.pragma_update_and_check(None, "journal_mode", journal.pragma(), |r| r.get(0))?;
        // FULL: a commit is on disk before posterlab removes the checkpoint
        // it supersedes, even across a power cut.
        conn.pragma_update(None, "synchronous", "FULL")?;
        Ok(mode)
    };
    let mode = post(&conn).map_err(|e| format!("cannot set its journal mode: {e}"))?;
    if !mode.eq_ignore_ascii_case(journal.pragma()) {
        // SQLite leaves WAL only when no other connection has the file open.
        return Err(format!(
            "it is in {mode} mode and could not be switched to {}\n  help: another process has \
             it open; let it end, then run again",
            journal.pragma(),
        ));
    }
    Ok(conn)
}

/// Opens an existing posterlab database for reading only. Works on a
/// read-only file and in a folder the user cannot write to (a colleague's
/// results, an archive, a read-only mount); never creates tables, migrates,
/// or changes the journal mode or `user_version`. Gives its schema version
/// too (an older one is read as it is).
pub fn read_only(path: &Path) -> Result<(Connection, i64), String> {
    match sniff(path)? {
        FileKind::Missing => return Err(
            "does not exist\n  help: `posterlab run SPEC` creates it; `--db FILE` reads another"
                .to_string(),
        ),
        FileKind::Empty => {
            return Err(
                "the file is empty, not a posterlab database; posterlab leaves it as it is\n  \
                 help: `--db FILE` names the run database (default: results/posterlab.sqlite)"
                    .to_string(),
            )
        }
        FileKind::Other => return Err(NOT_SQLITE.to_string()),
        FileKind::Folder => return Err(FOLDER.to_string()),
        FileKind::Sqlite => {}
    }
    // What it is, judged without leaving a trace: SQLite makes -wal and -shm
    // files beside a WAL-mode database for any reader, so the tables are
    // looked at with the file taken as immutable when nothing is writing it
    // (no log, no rollback journal beside it), and another program's
    // database is refused with not a file added.
    let quiet = !sidecar(path, "-wal").exists() && !sidecar(path, "-journal").exists();
    let look = if quiet {
        open_at(path, true).map_err(|e| format!("cannot read it: {e}"))?
    } else {
        open_for_reading(path)?
    };
    let found = schema::recognise(&look).map_err(|e| e.to_string())?;
    if let Some(why) = schema::refusal(&found) {
        return Err(why);
    }
    let Found::Posterlab { version, .. } = found else {
        return Err(
            "the database holds no tables: no run has been recorded in it\n  \
             help: `posterlab run SPEC --db FILE` records runs there"
                .to_string(),
        );
    };
    drop(look);
    // Posterlab's: read with SQLite's locks, so that a sweep writing it
    // meanwhile is seen consistently.
    Ok((open_for_reading(path)?, version))
}

/// A read-only connection, its first read done (SQLite opens lazily: that
/// is what finds a file it cannot read).
fn open_at(path: &Path, immutable: bool) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_URI
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(file_uri(path, immutable), flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", "ON")?;
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })?;
    Ok(conn)
}

fn open_for_reading(path: &Path) -> Result<Connection, String> {
    match open_at(path, false) {
        Ok(conn) => Ok(conn),
        Err(first) if is_hot_journal(&first) => recovered_copy(path)
            .map_err(|e| format!("cannot read it: {first}, nor a copy of it rolled back: {e}")),
        Err(first) => {
            // A WAL-mode file in a folder this user cannot write to: SQLite
            // cannot make the shared-memory index beside it. With no write-
            // ahead log holding anything, nobody is writing it (a writer
            // keeps its log while its connection is open; an empty one is
            // what a reader leaves), so the main file is the whole database
            // and can be read as immutable.
            let wal = sidecar(path, "-wal");
            if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                return Err(format!(
                    "cannot read it: {first}\n  help: its write-ahead log ({}) holds changes, so a \
                     posterlab process may be writing it, or one was killed; reading them needs write \
                     access to the folder. Copy the database with its -wal file to a folder you can \
                     write to, or ask its owner to let a `posterlab run` on it end (its last connection \
                     folds the log into the database)",
                    wal.display()
                ));
            }
            open_at(path, true)
                .map_err(|e| format!("cannot read it: {e} (and before that: {first})"))
        }
    }
}

/// SQLite's refusal to read a file whose rollback journal is hot (a writer
/// died mid-transaction) without the write access it needs to roll it back.
fn is_hot_journal(e: &rusqlite::Error) -> bool {
    matches!(
        e,
        rusqlite::Error::SqliteFailure(f, _)
            if f.extended_code == rusqlite::ffi::SQLITE_READONLY_ROLLBACK
    )
}

/// A database whose writer was killed in the middle of a transaction (a
/// Slurm task past its grace period, a lost node) keeps a hot journal,
/// which SQLite rolls back at the next write access; a reader may not
/// write, so it reads a private copy of the file and its journal, rolled
/// back there: what the database held at its last commit, which the next
/// writer will find too. The copy is unlinked at once; the open connection
/// keeps reading it.
fn recovered_copy(path: &Path) -> Result<Connection, String> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir =
        std::env::temp_dir().join(format!("posterlab-rollback-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let copy = dir.join("copy.sqlite");
    let opened = (|| -> Result<Connection, String> {
        std::fs::copy(path, &copy).map_err(|e| e.to_string())?;
        std::fs::copy(sidecar(path, "-journal"), sidecar(&copy, "-journal"))
            .map_err(|e| e.to_string())?;
        let conn = Connection::open(&copy).map_err(|e| e.to_string())?;
        // The first read rolls the journal back.
        conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
            r.get::<_, i64>(0)
        })
        .map_err(|e| e.to_string())?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(|e| e.to_string())?;
        conn.pragma_update(None, "query_only", "ON")
            .map_err(|e| e.to_string())?;
        Ok(conn)
    })();
    let _ = std::fs::remove_dir_all(&dir);
    opened
}

/// The file SQLite keeps beside `path` with `suffix` (`-wal`, `-shm`,
/// `-journal`).
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// A `file:` URI for SQLite, every byte outside the unreserved set
/// percent-encoded (a path may hold `?`, `#` or `%`).
fn file_uri(path: &Path, immutable: bool) -> String {
    use std::os::unix::ffi::OsStrExt;
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut uri = String::from("file:");
    for &b in absolute.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str(if immutable {
        "?mode=ro&immutable=1"
    } else {
        "?mode=ro"
    });
    uri
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_encode_what_sqlite_would_read_as_syntax() {
        let uri = file_uri(Path::new("/data/a b/x?y#z%.sqlite"), false);
        assert_eq!(uri, "file:/data/a%20b/x%3Fy%23z%25.sqlite?mode=ro");
        assert!(file_uri(Path::new("/d/p.sqlite"), true).ends_with("?mode=ro&immutable=1"));
    }

    #[test]
    fn files_are_told_apart_by_their_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.sqlite");
        assert_eq!(sniff(&p).unwrap(), FileKind::Missing);
        std::fs::write(&p, b"").unwrap();
        assert_eq!(sniff(&p).unwrap(), FileKind::Empty);
        std::fs::write(&p, b"run_id,epoch\n1,2\n").unwrap();
        assert_eq!(sniff(&p).unwrap(), FileKind::Other);
        assert_eq!(sniff(dir.path()).unwrap(), FileKind::Folder);
        Connection::open(dir.path().join("y.sqlite"))
            .unwrap()
            .execute_batch("CREATE TABLE t (x)")
            .unwrap();
        assert_eq!(
            sniff(&dir.path().join("y.sqlite")).unwrap(),
            FileKind::Sqlite
        );
    }

    #[test]
    fn a_file_left_with_a_hot_journal_is_read_as_of_its_last_commit_and_not_changed() {
        // A task store whose writer was killed mid-transaction: the files as
        // a crash leaves them are a copy taken while a transaction that
        // spilled pages into the file is open.
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("live.sqlite");
        let mut store = crate::store::Store::open_single_writer(&live).unwrap();
        store
            .create_run(&crate::store::tests::new_run("kept"), "uid-kept")
            .unwrap();
        let writer = Connection::open(&live).unwrap();
        writer
            .execute_batch(
                "CREATE TABLE scratch (x); PRAGMA cache_size = 1; BEGIN IMMEDIATE; DELETE FROM runs;",
            )
            .unwrap();
        // Enough writing that the deletion reaches the file before a commit.
        for i in 0..500 {
            writer
                .execute(
                    "INSERT INTO scratch VALUES (?1)",
                    [format!("{i}{}", "x".repeat(4000))],
                )
                .unwrap();
        }
        let crashed = dir.path().join("crashed.sqlite");
        std::fs::copy(&live, &crashed).unwrap();
        std::fs::copy(sidecar(&live, "-journal"), sidecar(&crashed, "-journal")).unwrap();
        drop(writer);
        let before = (
            std::fs::read(&crashed).unwrap(),
            std::fs::read(sidecar(&crashed, "-journal")).unwrap(),
        );
        assert!(!before.1.is_empty(), "the journal holds the old pages");

        let read = crate::store::Store::open_read_only(&crashed).unwrap();
        let runs = read.runs().unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].name, "kept");
        let after = (
            std::fs::read(&crashed).unwrap(),
            std::fs::read(sidecar(&crashed, "-journal")).unwrap(),
        );
        assert!(after == before, "reading changed the file or its journal");
    }
}
