//! `posterlab merge` through the real binary, on tiny runs trained into
//! separate databases: merged runs read back as they were recorded, merging
//! again adds nothing, a run resumed in its source is updated and an old
//! copy never rolls it back, a bad source leaves the target's bytes as they
//! were, an earlier posterlab's database merges, and no source is changed.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{posterlab, posterlab_crashing, project, spec, stderr, stdout};

/// Three databases of one tiny run each, trained once: `a.sqlite` and
/// `b.sqlite` (other seeds), `a-again.sqlite` (a's spec, trained again).
fn trained() -> &'static Path {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = common::shared_dir("merge");
        std::fs::write(dir.join("a.toml"), spec("epochs = 2")).unwrap();
        std::fs::write(dir.join("b.toml"), spec("epochs = 2\nseed = 2")).unwrap();
        for (db, toml) in [
            ("a.sqlite", "a.toml"),
            ("b.sqlite", "b.toml"),
            ("a-again.sqlite", "a.toml"),
        ] {
            let o = posterlab(&dir, &["-q", "--db", db, "run", "--no-report", toml]);
            assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        }
        dir
    })
}

/// A fresh folder holding copies of the trained databases named.
fn with_copies(names: &[&str]) -> tempfile::TempDir {
    let p = project(&[]);
    for name in names {
        std::fs::copy(trained().join(name), p.path().join(name)).unwrap();
    }
    p
}

fn run(dir: &Path, args: &[&str]) -> Output {
    let o = posterlab(dir, args);
    assert!(o.status.success(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    o
}

/// `show RUN` on `db`, its first line (`run ID NAME (status)`) without the id.
fn shown(dir: &Path, db: &str, run_name: &str) -> String {
    let text = stdout(&run(dir, &["--db", db, "show", run_name]));
    let (first, rest) = text.split_once('\n').unwrap();
    let first = first.splitn(3, ' ').nth(2).unwrap();
    format!("run {first}\n{rest}")
}

/// `export RUN` on `db` as CSV, without the run_id column.
fn exported(dir: &Path, db: &str, run_name: &str) -> Vec<String> {
    let csv = stdout(&run(dir, &["--db", db, "export", run_name]));
    assert!(csv.lines().count() > 2, "{csv}");
    csv.lines()
        .map(|l| l.split_once(',').unwrap().1.to_string())
        .collect()
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn runs_merged_from_two_databases_read_back_as_they_were_recorded() {
    let p = with_copies(&["a.sqlite", "b.sqlite"]);
    let dir = p.path();
    let sources = [bytes(&dir.join("a.sqlite")), bytes(&dir.join("b.sqlite"))];
    let o = run(
        dir,
        &["merge", "a.sqlite", "b.sqlite", "--into", "merged.sqlite"],
    );
    let out = stdout(&o);
    assert!(out.contains("a.sqlite: 1 new run\n"), "{out}");
    assert!(out.contains("b.sqlite: 1 new run\n"), "{out}");
    assert!(
        out.contains("merged 2 databases into merged.sqlite (new): 2 new runs, 0 updated"),
        "{out}"
    );
    let listed = stdout(&run(dir, &["--db", "merged.sqlite", "runs"]));
    let names: Vec<&str> = listed
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert_eq!(names, ["a", "b"], "{listed}");
    for (source, name) in [("a.sqlite", "a"), ("b.sqlite", "b")] {
        assert_eq!(
            shown(dir, "merged.sqlite", name),
            shown(dir, source, name),
            "{name}"
        );
        assert_eq!(
            exported(dir, "merged.sqlite", name),
            exported(dir, source, name),
            "{name}"
        );
    }
    // b was run 1 of its file and is run 2 of the merged one.
    assert!(stdout(&run(dir, &["--db", "merged.sqlite", "show", "2"])).starts_with("run 2 b "));
    assert_eq!(
        [bytes(&dir.join("a.sqlite")), bytes(&dir.join("b.sqlite"))],
        sources,
        "a merge never changes a source"
    );
}

#[test]
fn merging_again_adds_nothing() {
    let p = with_copies(&["a.sqlite", "b.sqlite"]);
    let dir = p.path();
    run(
        dir,
        &["merge", "a.sqlite", "b.sqlite", "--into", "m.sqlite"],
    );
    let listed = stdout(&run(dir, &["--db", "m.sqlite", "runs"]));
    let export = stdout(&run(dir, &["--db", "m.sqlite", "export"]));
    let o = run(
        dir,
        &["merge", "a.sqlite", "b.sqlite", "--into", "m.sqlite"],
    );
    let out = stdout(&o);
    assert!(
        out.contains("a.sqlite: 1 unchanged\nb.sqlite: 1 unchanged\n"),
        "{out}"
    );
    assert!(
        out.contains("into m.sqlite: 0 new runs, 0 updated, 2 unchanged"),
        "{out}"
    );
    assert_eq!(stdout(&run(dir, &["--db", "m.sqlite", "runs"])), listed);
    assert_eq!(stdout(&run(dir, &["--db", "m.sqlite", "export"])), export);
}

#[test]
fn one_spec_trained_in_two_databases_is_kept_twice_with_a_note() {
    let p = with_copies(&["a.sqlite", "a-again.sqlite"]);
    let dir = p.path();
    let o = run(dir, &["merge", "a.sqlite", "a-again.sqlite"]);
    let note = stderr(&o);
    assert!(
        note.contains("a-again.sqlite: run `a` has the same spec as run 1 here"),
        "{note}"
    );
    assert!(note.contains("two runs of one spec"), "{note}");
    // No --into: the global --db, <results>/posterlab.sqlite.
    let listed = stdout(&run(dir, &["runs"]));
    assert_eq!(listed.lines().count(), 1 + 2, "{listed}");
}

#[test]
fn a_run_resumed_in_its_source_is_updated_and_an_older_copy_does_not_roll_it_back() {
    let p = project(&[("task.toml", &spec("epochs = 3"))]);
    let dir = p.path();
    let args = [
        "-q",
        "--db",
        "task.sqlite",
        "run",
        "--no-report",
        "task.toml",
    ];
    let crashed = posterlab_crashing(dir, &args, "recorded@1");
    assert!(!crashed.status.success(), "the crash hook did not fire");
    // A copy as it stands after epoch 1 (the killed process left its
    // commits in the write-ahead log).
    for suffix in ["", "-wal"] {
        std::fs::copy(
            dir.join(format!("task.sqlite{suffix}")),
            dir.join(format!("backup.sqlite{suffix}")),
        )
        .unwrap();
    }
    let o = run(dir, &["merge", "task.sqlite", "--into", "main.sqlite"]);
    assert!(
        stdout(&o).contains("task.sqlite: 1 new run\n"),
        "{}",
        stdout(&o)
    );
    assert!(
        stdout(&run(dir, &["--db", "main.sqlite", "runs"])).contains(" 1/3 "),
        "one epoch merged"
    );

    run(dir, &args);
    let o = run(dir, &["merge", "task.sqlite", "--into", "main.sqlite"]);
    let out = stdout(&o);
    assert!(
        out.contains("task.sqlite: 1 updated (epochs 1 → 3, running → finished)\n"),
        "{out}"
    );
    assert_eq!(
        shown(dir, "main.sqlite", "task"),
        shown(dir, "task.sqlite", "task")
    );
    assert_eq!(
        exported(dir, "main.sqlite", "task"),
        exported(dir, "task.sqlite", "task")
    );

    let o = run(dir, &["merge", "backup.sqlite", "--into", "main.sqlite"]);
    let out = stdout(&o);
    assert!(
        out.contains(
            "backup.sqlite: 1 older than here, not taken (epochs 1 vs 3, running vs finished)"
        ),
        "{out}"
    );
    assert_eq!(
        shown(dir, "main.sqlite", "task"),
        shown(dir, "task.sqlite", "task"),
        "still the finished run"
    );
}

#[test]
fn a_file_that_is_not_a_posterlab_database_is_refused_and_the_target_left_as_it_was() {
    let p = with_copies(&["a.sqlite", "b.sqlite"]);
    let dir = p.path();
    run(dir, &["merge", "a.sqlite", "--into", "m.sqlite"]);
    std::fs::write(dir.join("runs.csv"), "run_id,epoch\n1,1\n".repeat(20)).unwrap();
    rusqlite::Connection::open(dir.join("notes.sqlite"))
        .unwrap()
        .execute_batch("CREATE TABLE notes (run_id INTEGER, note TEXT)")
        .unwrap();
    let target = bytes(&dir.join("m.sqlite"));
    let foreign = bytes(&dir.join("notes.sqlite"));
    for (bad, says) in [
        ("runs.csv", "not a SQLite database"),
        (
            "notes.sqlite",
            "not a posterlab database (its tables: notes)",
        ),
        ("./m.sqlite", "is the database merged into"),
    ] {
        // The good source first: a merge is all or nothing.
        let o = posterlab(dir, &["merge", "b.sqlite", bad, "--into", "m.sqlite"]);
        assert_eq!(o.status.code(), Some(1), "{bad}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("error: nothing merged: database {bad}: {says}")),
            "{err}"
        );
        assert!(err.contains("help: "), "{err}");
        assert_eq!(stdout(&o), "", "{bad}");
        assert_eq!(bytes(&dir.join("m.sqlite")), target, "{bad}");
    }
    assert_eq!(bytes(&dir.join("notes.sqlite")), foreign);
    let listed = stdout(&run(dir, &["--db", "m.sqlite", "runs"]));
    assert_eq!(listed.lines().count(), 1 + 1, "b was not merged: {listed}");
}

#[test]
fn a_database_made_by_an_earlier_posterlab_merges() {
    let p = with_copies(&["a.sqlite"]);
    let dir = p.path();
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db-v1/posterlab.sqlite");
    std::fs::copy(fixture, dir.join("v1.sqlite")).unwrap();
    let v1 = bytes(&dir.join("v1.sqlite"));
    let o = run(dir, &["merge", "v1.sqlite", "--into", "new.sqlite"]);
    assert!(
        stdout(&o).contains("v1.sqlite: 9 new runs\n"),
        "{}",
        stdout(&o)
    );
    // Into an empty target the ids are the same: every listing is too.
    for args in [vec!["runs"], vec!["export"], vec!["show", "6"]] {
        let of = |db: &str| {
            let mut full = vec!["--db", db];
            full.extend(&args);
            stdout(&run(dir, &full))
        };
        assert_eq!(of("new.sqlite"), of("v1.sqlite"), "{args:?}");
    }
    // Into a newer one holding a run already, after it.
    run(dir, &["merge", "v1.sqlite", "--into", "a.sqlite"]);
    assert_eq!(
        shown(dir, "a.sqlite", "10"),
        shown(dir, "v1.sqlite", "9"),
        "the fixture's run 9 is the target's run 10"
    );
    assert_eq!(bytes(&dir.join("v1.sqlite")), v1, "the source is unchanged");
}

#[test]
fn a_folder_of_task_stores_merges_in_name_order_and_an_empty_one_is_refused() {
    let p = project(&[]);
    let dir = p.path();
    let tasks = dir.join("slurm/ab12/tasks");
    std::fs::create_dir_all(&tasks).unwrap();
    std::fs::copy(trained().join("b.sqlite"), tasks.join("1.sqlite")).unwrap();
    std::fs::copy(trained().join("a.sqlite"), tasks.join("0.sqlite")).unwrap();
    std::fs::create_dir_all(dir.join("empty")).unwrap();
    let o = run(
        dir,
        &["merge", "slurm/ab12/tasks", "slurm/ab12/tasks/1.sqlite"],
    );
    let out = stdout(&o);
    assert!(
        out.starts_with(
            "slurm/ab12/tasks: 2 databases\n\
             slurm/ab12/tasks/0.sqlite: 1 new run\n\
             slurm/ab12/tasks/1.sqlite: 1 new run\n\
             merged 2 databases into results/posterlab.sqlite (new): 2 new runs"
        ),
        "{out}"
    );
    assert!(
        stderr(&o).contains("note: slurm/ab12/tasks/1.sqlite is listed twice: merged once"),
        "{}",
        stderr(&o)
    );
    let o = posterlab(dir, &["merge", "empty"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("database empty: is a folder without any *.sqlite file"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_dry_run_says_what_would_be_merged_and_writes_nothing() {
    let p = with_copies(&["a.sqlite", "b.sqlite"]);
    let dir = p.path();
    let o = run(
        dir,
        &[
            "merge",
            "--dry-run",
            "a.sqlite",
            "b.sqlite",
            "--into",
            "m.sqlite",
        ],
    );
    let out = stdout(&o);
    assert!(out.contains("a.sqlite: 1 new run\n"), "{out}");
    assert!(
        out.contains("would merge 2 databases into m.sqlite (new): 2 new runs, 0 updated, 0 unchanged (dry run: nothing written)"),
        "{out}"
    );
    assert!(!dir.join("m.sqlite").exists());
}

#[test]
fn a_read_only_source_in_a_folder_nobody_may_write_merges() {
    use std::os::unix::fs::PermissionsExt;
    let chmod = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let p = project(&[]);
    let dir = p.path();
    chmod(dir, 0o777);
    let archive = dir.join("archive");
    std::fs::create_dir(&archive).unwrap();
    std::fs::copy(trained().join("a.sqlite"), archive.join("a.sqlite")).unwrap();
    let source = bytes(&archive.join("a.sqlite"));
    chmod(&archive.join("a.sqlite"), 0o444);
    chmod(&archive, 0o555);
    let o = as_another_user(dir, &["merge", "archive/a.sqlite", "--into", "m.sqlite"]);
    chmod(&archive, 0o755);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains("archive/a.sqlite: 1 new run"),
        "{}",
        stdout(&o)
    );
    assert_eq!(bytes(&archive.join("a.sqlite")), source);
    let names: Vec<String> = std::fs::read_dir(&archive)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["a.sqlite"], "nothing added beside the source");
}

/// Runs posterlab as a user who cannot write where the test made files
/// read-only: `nobody` when the tests run as root (who may write anywhere),
/// oneself otherwise.
fn as_another_user(cwd: &Path, args: &[&str]) -> Output {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // The binary, where `nobody` can run it (the checkout may be in a
    // folder only root can enter).
    let bin = cwd.join("posterlab");
    std::fs::copy(env!("CARGO_BIN_EXE_posterlab"), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = std::process::Command::new(&bin);
    cmd.current_dir(cwd)
        .args(args)
        .stdin(std::process::Stdio::null());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    cmd.output().unwrap()
}
