//! Merging, on databases written through the store's own API: every row
//! carried over (every column but the ids), the newer copy of a run kept,
//! nothing written when a source is bad.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use super::*;
use crate::store::schema::{self, RUN_TABLES};
use crate::store::tests::{new_run, split, test_record};
use crate::store::{NewRun, SCHEMA_VERSION};
use crate::train::record::EpochRecord;

/// A run named and identified `uid`, of spec `spec`.
fn run_of(uid: &str, spec: &str) -> NewRun {
    NewRun {
        spec_hash: blake3::hash(spec.as_bytes()).to_hex().to_string(),
        ..new_run(uid)
    }
}

fn epoch(n: usize) -> EpochRecord {
    EpochRecord {
        epoch: n,
        lr: 1e-3 / n as f64,
        seconds: 2.5 + n as f64,
        images_per_sec: 100.0 * n as f64,
        train: split(1.0 / n as f64),
        val: split(0.5 / n as f64),
        best_epoch: n,
    }
}

/// Records epochs `epochs` of run `uid` (created, of its own spec, if the
/// database lacks it) into the database at `path`, then its test results
/// when `finished`.
fn record(path: &Path, uid: &str, epochs: std::ops::RangeInclusive<usize>, finished: bool) {
    record_spec(path, uid, uid, epochs, finished);
}

fn record_spec(
    path: &Path,
    uid: &str,
    spec: &str,
    epochs: std::ops::RangeInclusive<usize>,
    finished: bool,
) {
    let mut store = Store::open(path).unwrap();
    let id = match store.runs().unwrap().iter().find(|r| r.uid == uid) {
        Some(run) => run.id,
        None => store.create_run(&run_of(uid, spec), uid).unwrap(),
    };
    let last = *epochs.end();
    for e in epochs {
        let checkpoint = PathBuf::from(format!("/ck/{uid}/epoch-{e}"));
        store.record_epoch(id, &epoch(e), &checkpoint).unwrap();
    }
    if finished {
        store.record_test(id, &test_record(last)).unwrap();
        // A rescore under a tuned rule: the rescore tables and thresholds.
        let metrics = test_record(last).result.metrics;
        store
            .record_rescore(id, "tuned", last, 3, &metrics, &[("*".into(), 0.4)])
            .unwrap();
    }
}

/// Every row of every table of the database at `path` (found in the file,
/// not taken from the list under test), as text, sorted, each row of a run
/// under its uid instead of its id: what a merge must carry over. Tables
/// without rows are left out (an older schema's file lacks some).
fn dump(path: &Path) -> BTreeMap<String, Vec<String>> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|t| t.unwrap())
        .collect();
    let mut out = BTreeMap::new();
    for table in tables {
        let columns = schema::columns(&conn, &table).unwrap();
        let sql = if table == "runs" {
            "SELECT uid AS of_run, * FROM runs".to_string()
        } else if columns.iter().any(|c| c == "run_id") {
            format!("SELECT r.uid AS of_run, t.* FROM {table} t JOIN runs r ON r.id = t.run_id")
        } else {
            format!("SELECT * FROM {table}")
        };
        let mut stmt = conn.prepare(&sql).unwrap();
        let names: Vec<String> = stmt.column_names().map(String::from).collect();
        let mut rows: Vec<String> = stmt
            .query_map([], |r| {
                Ok(names
                    .iter()
                    .enumerate()
                    .filter(|(_, name)| !matches!(name.as_str(), "id" | "run_id"))
                    .map(|(i, name)| format!("{name}={:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join(" "))
            })
            .unwrap()
            .map(|row| row.unwrap())
            .collect();
        rows.sort();
        if !rows.is_empty() {
            out.insert(table, rows);
        }
    }
    out
}

/// `(uid, target id, change)` of each run of each source.
fn changes(report: &MergeReport) -> Vec<(String, i64, Change)> {
    report
        .sources
        .iter()
        .flat_map(|s| &s.runs)
        .map(|r| (r.uid.clone(), r.id, r.change.clone()))
        .collect()
}

fn progress(epochs_done: usize, status: Status, updated_at: &str) -> Progress {
    Progress {
        epochs_done,
        status,
        updated_at: updated_at.to_string(),
    }
}

/// How far run `uid` had got in the database at `path`.
fn progress_of(path: &Path, uid: &str) -> Progress {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    summaries(&conn)
        .unwrap()
        .into_iter()
        .find(|r| r.uid == uid)
        .unwrap()
        .progress
}

#[test]
fn a_merge_into_an_empty_target_copies_every_row_of_every_table_but_the_ids() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("a.sqlite");
    record(&source, "u1", 1..=2, true);
    record(&source, "u2", 1..=1, false);
    let into = dir.path().join("into.sqlite");
    let report = merge(&into, std::slice::from_ref(&source), false).unwrap();
    assert!(report.new_target && !report.dry_run);
    assert_eq!(
        changes(&report),
        [
            ("u1".to_string(), 1, Change::New),
            ("u2".to_string(), 2, Change::New)
        ]
    );
    let want = dump(&source);
    assert_eq!(
        want.len(),
        1 + RUN_TABLES.len(),
        "the source fills every table: {:?}",
        want.keys()
    );
    assert_eq!(dump(&into), want);
}

#[test]
fn merged_runs_take_the_targets_next_ids_and_their_rows_follow() {
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("into.sqlite");
    record(&into, "own", 1..=1, true);
    let before = dump(&into);
    let source = dir.path().join("a.sqlite");
    record(&source, "u1", 1..=2, true);
    record(&source, "u2", 1..=1, false);
    let report = merge(&into, std::slice::from_ref(&source), false).unwrap();
    assert!(!report.new_target);
    let ids: Vec<i64> = report.sources[0].runs.iter().map(|r| r.id).collect();
    assert_eq!(ids, [2, 3], "source ids 1 and 2 become the target's next");
    let mut want = before;
    for (table, rows) in dump(&source) {
        let all = want.entry(table).or_default();
        all.extend(rows);
        all.sort();
    }
    assert_eq!(dump(&into), want);
    let store = Store::open_read_only(&into).unwrap();
    let epochs = store.epochs(2).unwrap();
    assert_eq!(epochs.len(), 2 * 2 + 1);
    assert!(epochs.iter().all(|e| e.run_id == 2 && e.run == "u1"));
    assert_eq!(
        store
            .predictions(2, crate::metric::Split::Test)
            .unwrap()
            .len(),
        3
    );
    assert_eq!(store.test_images(2).unwrap().len(), 3);
}

#[test]
fn merging_twice_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.sqlite"), dir.path().join("b.sqlite"));
    record(&a, "u1", 1..=2, true);
    record(&b, "u2", 1..=1, false);
    let into = dir.path().join("into.sqlite");
    merge(&into, &[a.clone(), b.clone()], false).unwrap();
    let once = dump(&into);
    let again = merge(&into, &[a, b], false).unwrap();
    assert_eq!(
        changes(&again),
        [
            ("u1".to_string(), 1, Change::Unchanged),
            ("u2".to_string(), 2, Change::Unchanged)
        ]
    );
    assert_eq!(dump(&into), once);
}

#[test]
fn a_run_that_progressed_is_updated_and_an_older_copy_never_rolls_it_back() {
    let dir = tempfile::tempdir().unwrap();
    let (task, backup) = (dir.path().join("3.sqlite"), dir.path().join("old.sqlite"));
    record(&task, "u1", 1..=1, false);
    std::fs::copy(&task, &backup).unwrap();
    let early = progress_of(&task, "u1");
    record(&task, "u1", 2..=3, true);
    let into = dir.path().join("into.sqlite");

    let first = merge(&into, std::slice::from_ref(&backup), false).unwrap();
    assert_eq!(changes(&first), [("u1".to_string(), 1, Change::New)]);
    let updated = merge(&into, std::slice::from_ref(&task), false).unwrap();
    assert_eq!(
        changes(&updated),
        [("u1".to_string(), 1, Change::Updated { was: early })]
    );
    assert_eq!(dump(&into), dump(&task), "the run's rows are the task's");
    let older = merge(&into, std::slice::from_ref(&backup), false).unwrap();
    assert_eq!(
        changes(&older),
        [(
            "u1".to_string(),
            1,
            Change::Older {
                target: progress_of(&task, "u1")
            }
        )]
    );
    assert_eq!(dump(&into), dump(&task), "the old backup changed nothing");

    // In one merge, in either order, the newer copy is what remains.
    for (name, order) in [("ab", [&task, &backup]), ("ba", [&backup, &task])] {
        let into = dir.path().join(format!("{name}.sqlite"));
        merge(&into, &order.map(|p| p.clone()), false).unwrap();
        assert_eq!(dump(&into), dump(&task), "{name}");
    }
}

#[test]
fn a_status_that_ends_a_run_updates_it_at_the_same_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let task = dir.path().join("task.sqlite");
    record(&task, "u1", 1..=2, false);
    let into = dir.path().join("into.sqlite");
    merge(&into, std::slice::from_ref(&task), false).unwrap();
    let running = progress_of(&task, "u1");
    let mut store = Store::open(&task).unwrap();
    store
        .set_status(1, Status::Interrupted, Some(2), None)
        .unwrap();
    drop(store);
    let report = merge(&into, std::slice::from_ref(&task), false).unwrap();
    assert_eq!(
        changes(&report),
        [("u1".to_string(), 1, Change::Updated { was: running })]
    );
    assert_eq!(dump(&into), dump(&task));
}

#[test]
fn the_newer_copy_has_more_epochs_then_a_later_status_then_a_later_write() {
    use Status::*;
    let (t1, t2) = ("2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z");
    // (older, newer)
    let cases = [
        // More epochs wins, whatever the clocks say.
        (progress(1, Finished, t2), progress(2, Running, t1)),
        // At equal epochs, a run ended is newer than one running…
        (progress(2, Running, t2), progress(2, Interrupted, t1)),
        (progress(2, Running, t2), progress(2, Failed, t1)),
        // …and one finished or diverged newer than one that may resume.
        (progress(2, Interrupted, t2), progress(2, Finished, t1)),
        (progress(2, Failed, t2), progress(2, Diverged, t1)),
        // At equal status, the later write.
        (progress(2, Interrupted, t1), progress(2, Failed, t2)),
        (progress(0, Running, t1), progress(0, Running, t2)),
    ];
    for (older, newer) in cases {
        assert!(newer.is_newer_than(&older), "{newer:?} over {older:?}");
        assert!(!older.is_newer_than(&newer), "{older:?} over {newer:?}");
    }
    let same = progress(3, Finished, t1);
    assert!(!same.is_newer_than(&same.clone()));
}

#[test]
fn one_spec_trained_under_two_uids_is_kept_twice() {
    let dir = tempfile::tempdir().unwrap();
    let (laptop, workstation) = (dir.path().join("l.sqlite"), dir.path().join("w.sqlite"));
    record_spec(&laptop, "u1", "spec", 1..=1, true);
    record_spec(&workstation, "u2", "spec", 1..=2, true);
    // Two runs of one spec in one source (`run --force`) were so there
    // already: not news.
    record_spec(&workstation, "u3", "spec", 1..=1, false);
    let into = dir.path().join("into.sqlite");
    let report = merge(&into, &[laptop, workstation], false).unwrap();
    let same: Vec<(&str, &[i64])> = report
        .sources
        .iter()
        .flat_map(|s| &s.runs)
        .map(|r| (r.uid.as_str(), r.same_spec.as_slice()))
        .collect();
    assert_eq!(same, [("u1", &[][..]), ("u2", &[1][..]), ("u3", &[1][..])]);
    assert_eq!(
        Store::open_read_only(&into).unwrap().runs().unwrap().len(),
        3
    );
}

#[test]
fn a_bad_source_leaves_the_target_as_it_was_and_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("into.sqlite");
    record(&into, "own", 1..=1, true);
    let good = dir.path().join("good.sqlite");
    record(&good, "u1", 1..=2, true);
    let csv = dir.path().join("runs.csv");
    std::fs::write(&csv, "run_id,epoch\n1,2\n".repeat(20)).unwrap();
    let foreign = dir.path().join("notes.sqlite");
    Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE notes (run_id INTEGER, text TEXT)")
        .unwrap();
    let newer = dir.path().join("newer.sqlite");
    record(&newer, "u2", 1..=1, false);
    Connection::open(&newer)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let missing = dir.path().join("gone.sqlite");
    let bytes = std::fs::read(&into).unwrap();
    let before = dump(&into);
    for (bad, says) in [
        (&csv, "not a SQLite database"),
        (&foreign, "not a posterlab database (its tables: notes)"),
        (
            &newer,
            &*format!(
                "schema version {}, this posterlab reads and writes version {SCHEMA_VERSION}",
                SCHEMA_VERSION + 1
            ),
        ),
        (&missing, "does not exist"),
    ] {
        for dry_run in [false, true] {
            let e = merge(&into, &[good.clone(), bad.clone()], dry_run).unwrap_err();
            assert_eq!(&e.path, bad);
            assert!(e.message.contains(says), "{e}");
            assert!(!e.message.contains("--db"), "a hint for merging: {e}");
        }
        assert_eq!(std::fs::read(&into).unwrap(), bytes, "{}", bad.display());
    }
    assert_eq!(dump(&into), before);
    let new_target = dir.path().join("new.sqlite");
    merge(&new_target, &[good, csv], false).unwrap_err();
    assert!(!new_target.exists(), "not even created");
}

#[test]
fn a_source_that_fails_mid_way_rolls_the_whole_merge_back() {
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("into.sqlite");
    record(&into, "own", 1..=1, true);
    let (good, broken) = (dir.path().join("a.sqlite"), dir.path().join("b.sqlite"));
    record(&good, "u1", 1..=2, true);
    record(&broken, "u2", 1..=2, true);
    // The predictions' page garbled: the checks up front (the schema, the
    // runs table) pass, the copy of that table fails.
    let conn = Connection::open(&broken).unwrap();
    let root: i64 = conn
        .query_row(
            "SELECT rootpage FROM sqlite_master WHERE name = 'predictions'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let page: i64 = conn
        .query_row("PRAGMA page_size", [], |r| r.get(0))
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&broken).unwrap();
    bytes[((root - 1) * page) as usize..(root * page) as usize].fill(0xff);
    std::fs::write(&broken, bytes).unwrap();

    let dry = merge(&into, &[good.clone(), broken.clone()], true);
    assert!(dry.is_ok(), "the checks up front pass: {dry:?}");
    let before = dump(&into);
    let e = merge(&into, &[good, broken.clone()], false).unwrap_err();
    assert_eq!(e.path, broken);
    assert!(e.message.starts_with("cannot read it: "), "{e}");
    assert!(e.message.contains("malformed"), "{e}");
    assert_eq!(dump(&into), before, "the good source's run was rolled back");
}

#[test]
fn the_target_is_refused_as_a_source_however_it_is_spelled_and_a_repeat_is_merged_once() {
    let dir = tempfile::tempdir().unwrap();
    let into = dir.path().join("into.sqlite");
    record(&into, "own", 1..=1, false);
    let linked = dir.path().join("hard-link.sqlite");
    std::fs::hard_link(&into, &linked).unwrap();
    for spelling in [dir.path().join(".").join("into.sqlite"), linked] {
        let e = merge(&into, std::slice::from_ref(&spelling), false).unwrap_err();
        assert_eq!(e.path, spelling);
        assert!(e.message.contains("is the database merged into"), "{e}");
    }
    let a = dir.path().join("a.sqlite");
    record(&a, "u1", 1..=1, false);
    let link = dir.path().join("link.sqlite");
    std::os::unix::fs::symlink(&a, &link).unwrap();
    let report = merge(&into, &[a.clone(), link.clone(), a.clone()], false).unwrap();
    assert_eq!(report.repeats, [(link, a.clone()), (a.clone(), a)]);
    assert_eq!(changes(&report), [("u1".to_string(), 2, Change::New)]);
}

#[test]
fn a_folder_means_its_sqlite_files_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = dir.path().join("tasks");
    for (i, uid) in [(2, "u2"), (10, "u10"), (1, "u1")] {
        record(&tasks.join(format!("{i}.sqlite")), uid, 1..=1, false);
    }
    std::fs::write(tasks.join("notes.txt"), "not a database").unwrap();
    std::fs::create_dir(tasks.join("old.sqlite")).unwrap();
    let into = dir.path().join("into.sqlite");
    let report = merge(&into, std::slice::from_ref(&tasks), false).unwrap();
    assert_eq!(report.folders, [(tasks.clone(), 3)]);
    let names: Vec<&str> = report
        .sources
        .iter()
        .map(|s| s.path.file_name().unwrap().to_str().unwrap())
        .collect();
    assert_eq!(names, ["1.sqlite", "10.sqlite", "2.sqlite"]);

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let e = merge(&into, &[tasks, empty.clone()], false).unwrap_err();
    assert_eq!(e.path, empty);
    assert!(e.message.contains("without any *.sqlite file"), "{e}");
}

#[test]
fn a_dry_run_says_what_a_merge_would_do_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.sqlite"), dir.path().join("b.sqlite"));
    record(&a, "u1", 1..=1, false);
    record(&b, "u2", 1..=2, true);
    let into = dir.path().join("into.sqlite");
    let dry = merge(&into, &[a.clone(), b.clone()], true).unwrap();
    assert!(dry.dry_run && dry.new_target);
    assert!(!into.exists(), "a dry run creates no target");
    let real = merge(&into, &[a.clone(), b.clone()], false).unwrap();
    assert_eq!(changes(&dry), changes(&real));

    record(&a, "u1", 2..=2, true);
    let bytes = std::fs::read(&into).unwrap();
    let dry = merge(&into, &[a.clone(), b.clone()], true).unwrap();
    assert!(!dry.new_target);
    assert_eq!(std::fs::read(&into).unwrap(), bytes);
    let real = merge(&into, &[a, b], false).unwrap();
    assert_eq!(changes(&dry), changes(&real));
    assert!(matches!(changes(&real)[0].2, Change::Updated { .. }));
}

#[test]
fn a_schema_1_database_merges_row_for_row_and_is_not_changed() {
    let dir = tempfile::tempdir().unwrap();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db-v1/posterlab.sqlite");
    let source = dir.path().join("v1.sqlite");
    std::fs::copy(fixture, &source).unwrap();
    let bytes = std::fs::read(&source).unwrap();
    let into = dir.path().join("into.sqlite");
    let report = merge(&into, std::slice::from_ref(&source), false).unwrap();
    assert_eq!(report.count(|c| *c == Change::New), 9);
    let want = dump(&source);
    assert!(!want.contains_key("test_posters"), "schema 1 has none");
    // Schema 1's predictions are all test predictions, and arrive as such.
    let mut got = dump(&into);
    let test = format!("split={:?} ", rusqlite::types::ValueRef::Text(b"test"));
    for row in got.get_mut("predictions").unwrap() {
        assert!(row.contains(&test), "{row}");
        *row = row.replacen(&test, "", 1);
    }
    assert_eq!(got, want);
    assert_eq!(std::fs::read(&source).unwrap(), bytes);
}

#[test]
fn a_store_takes_only_the_runs_it_names_from_another() {
    // What a Slurm task's store does with the run the main database began.
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("main.sqlite");
    record(&main, "begun", 1..=2, false);
    record(&main, "other", 1..=1, true);
    let task = dir.path().join("task.sqlite");
    let mut store = Store::open_single_writer(&task).unwrap();
    let report = store
        .merge_runs_from(&main, &["begun".to_string()])
        .unwrap();
    assert_eq!(report.runs.len(), 1);
    assert_eq!(
        (report.runs[0].uid.as_str(), report.runs[0].id),
        ("begun", 1)
    );
    assert_eq!(report.runs[0].change, Change::New);
    let runs = store.runs().unwrap();
    assert_eq!(runs.len(), 1, "only the run named");
    assert_eq!((runs[0].uid.as_str(), runs[0].epochs_done), ("begun", 2));
    assert_eq!(store.epochs(1).unwrap().len(), 2 * 2);
    // Taken again: the store's copy is as new, so nothing changes.
    let again = store
        .merge_runs_from(&main, &["begun".to_string()])
        .unwrap();
    assert_eq!(again.runs[0].change, Change::Unchanged);
    let e = store.merge_runs_from(&task, &[]).unwrap_err();
    assert!(e.message.contains("into itself"), "{e}");
}
