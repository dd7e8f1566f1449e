//! Never destroy what is not posterlab's, and reading is read-only: the
//! regression tests of an adversarial pass (issue 10), each named after what
//! it guards, through the real binary.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{posterlab, posterlab_crashing, project, spec, stderr, stdout};
use rusqlite::Connection;

/// A project with one finished two-epoch run in `results/`.
fn trained() -> tempfile::TempDir {
    let p = project(&[("tiny.toml", &spec("epochs = 2"))]);
    let o = posterlab(p.path(), &["-q", "run", "--no-report", "tiny.toml"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    p
}

fn db_of(p: &Path) -> PathBuf {
    p.join("results/posterlab.sqlite")
}

/// The read commands, each given `--db db` (and a report folder of its own).
fn read_commands(db: &Path, reports: &Path) -> Vec<Vec<String>> {
    let db = db.display().to_string();
    let reports = reports.display().to_string();
    [
        vec!["runs"],
        vec!["show", "1"],
        vec!["export"],
        vec!["export", "--format", "json"],
        vec!["report", "--out", &reports],
    ]
    .into_iter()
    .map(|args| {
        let mut v = vec!["--db".to_string(), db.clone()];
        v.extend(args.into_iter().map(str::to_string));
        v
    })
    .collect()
}

fn run_args(cwd: &Path, args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    posterlab(cwd, &args)
}

#[test]
fn synth_force_never_removes_a_folder_posterlab_did_not_make() {
    let p = trained();
    std::fs::write(p.path().join("README.md"), "my thesis").unwrap();
    let before = common::files_under(p.path());
    for out in [".", "results", "results/runs"] {
        let o = posterlab(
            p.path(),
            &["synth", "--out", out, "--force", "--count", "4"],
        );
        assert_eq!(o.status.code(), Some(1), "--out {out}");
        assert!(
            stderr(&o).contains("is not a synthetic set written by posterlab"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(common::files_under(p.path()), before, "nothing was touched");

    // A set posterlab wrote is replaced; one a user added a file to is not.
    let o = posterlab(p.path(), &["synth", "--out", "set", "--count", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = posterlab(
        p.path(),
        &["synth", "--out", "set", "--count", "6", "--force"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_dir(p.path().join("set/Images"))
            .unwrap()
            .count(),
        6
    );
    std::fs::write(p.path().join("set/Images/mine.jpg"), "a user's poster").unwrap();
    let o = posterlab(
        p.path(),
        &["synth", "--out", "set", "--count", "4", "--force"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("holds `Images/mine.jpg`, which posterlab did not write"),
        "{}",
        stderr(&o)
    );
    assert_eq!(
        std::fs::read_dir(p.path().join("set/Images"))
            .unwrap()
            .count(),
        7
    );
    // Without --force an existing folder is refused, and an empty one is used.
    let o = posterlab(p.path(), &["synth", "--out", "set", "--count", "4"]);
    assert_eq!(o.status.code(), Some(1));
    std::fs::create_dir(p.path().join("empty")).unwrap();
    let o = posterlab(p.path(), &["synth", "--out", "empty", "--count", "4"]);
    assert!(o.status.success(), "{}", stderr(&o));
}

#[test]
fn export_never_writes_over_the_run_database_or_a_users_file() {
    let p = trained();
    let db = db_of(p.path());
    let db_bytes = std::fs::read(&db).unwrap();
    std::fs::write(p.path().join("notes.txt"), "my notes").unwrap();
    let checkpoint = std::fs::read_dir(p.path().join("results/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|d| d.is_dir())
        .unwrap()
        .join("epoch-0002.safetensors");
    let checkpoint_bytes = std::fs::read(&checkpoint).unwrap();
    for (target, why) in [
        (db.clone(), "is a SQLite database"),
        (checkpoint.clone(), "is a checkpoint"),
        (
            p.path().join("notes.txt"),
            "is not an export written by posterlab",
        ),
        (p.path().join("results"), "is a folder"),
    ] {
        for format in ["csv", "json"] {
            let o = posterlab(
                p.path(),
                &[
                    "export",
                    "--format",
                    format,
                    "--out",
                    target.to_str().unwrap(),
                ],
            );
            assert_eq!(o.status.code(), Some(1), "{}", target.display());
            assert!(stderr(&o).contains(why), "{}", stderr(&o));
        }
    }
    assert_eq!(std::fs::read(&db).unwrap(), db_bytes);
    assert_eq!(std::fs::read(&checkpoint).unwrap(), checkpoint_bytes);
    assert_eq!(
        std::fs::read_to_string(p.path().join("notes.txt")).unwrap(),
        "my notes"
    );
    assert!(posterlab(p.path(), &["runs"]).status.success());
    // An earlier export of the same format is posterlab's to replace.
    for (name, format) in [("e.csv", "csv"), ("e.json", "json")] {
        for _ in 0..2 {
            let o = posterlab(p.path(), &["export", "--format", format, "--out", name]);
            assert!(o.status.success(), "{}", stderr(&o));
        }
    }
    let o = posterlab(p.path(), &["export", "--format", "json", "--out", "e.csv"]);
    assert_eq!(o.status.code(), Some(1), "a CSV is not a JSON export");
}

#[test]
fn report_never_writes_into_a_folder_posterlab_did_not_make() {
    let p = trained();
    std::fs::create_dir(p.path().join("thesis")).unwrap();
    std::fs::write(p.path().join("thesis/index.html"), "<p>my page</p>").unwrap();
    let before = common::files_under(p.path());
    for out in [".", "results", "thesis", "tiny.toml"] {
        let o = posterlab(p.path(), &["report", "--out", out]);
        assert_eq!(o.status.code(), Some(1), "--out {out}: {}", stdout(&o));
    }
    let o = posterlab(p.path(), &["-q", "run", "tiny.toml", "--reports", "thesis"]);
    assert!(
        stderr(&o).contains("no figures") && stderr(&o).contains("did not write"),
        "{}",
        stderr(&o)
    );
    assert_eq!(common::files_under(p.path()), before);
    // A new folder, and the shipped placeholder folder, are fine.
    std::fs::create_dir(p.path().join("reports")).unwrap();
    std::fs::write(p.path().join("reports/.gitkeep"), "").unwrap();
    for out in ["reports", "new/folder"] {
        let o = posterlab(p.path(), &["report", "--out", out]);
        assert!(o.status.success(), "{}", stderr(&o));
        let o = posterlab(p.path(), &["report", "--out", out]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
}

#[test]
fn reading_another_programs_database_leaves_it_byte_for_byte() {
    let p = trained();
    let other = p.path().join("other-app.sqlite");
    {
        let conn = Connection::open(&other).unwrap();
        conn.execute_batch(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, km REAL); INSERT INTO runs VALUES (1, 5.2);",
        )
        .unwrap();
    }
    // Another program's WAL-mode database: SQLite would make -wal and -shm
    // files beside it for any reader that locks it.
    let wal = p.path().join("wal-app.sqlite");
    {
        let conn = Connection::open(&wal).unwrap();
        let mode: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .unwrap();
        assert_eq!(mode, "wal");
        conn.execute_batch("CREATE TABLE notes (body TEXT)")
            .unwrap();
    }
    assert_eq!(
        std::fs::read(&wal).unwrap()[18..20],
        [2, 2],
        "a WAL-mode file"
    );
    let empty = p.path().join("empty.sqlite");
    std::fs::write(&empty, "").unwrap();
    let csv = p.path().join("table.csv");
    std::fs::write(&csv, "a,b\n1,2\n").unwrap();
    for (file, why) in [
        (&other, "not a posterlab database (its tables: runs)"),
        (&wal, "not a posterlab database (its tables: notes)"),
        (&empty, "the file is empty, not a posterlab database"),
        (&csv, "not a SQLite database"),
    ] {
        let bytes = std::fs::read(file).unwrap();
        let mut commands = read_commands(file, &p.path().join("r"));
        if file != &empty {
            // An empty file is a new database to `run`; the others are not.
            commands.push(vec![
                "--db".into(),
                file.display().to_string(),
                "-q".into(),
                "run".into(),
                "tiny.toml".into(),
            ]);
        }
        for args in &commands {
            let o = run_args(p.path(), args);
            assert_eq!(o.status.code(), Some(1), "{args:?}");
            assert!(stderr(&o).contains(why), "{args:?}: {}", stderr(&o));
            assert_eq!(
                std::fs::read(file).unwrap(),
                bytes,
                "{args:?} changed {}",
                file.display()
            );
            let sidecars: Vec<_> = std::fs::read_dir(p.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with("-wal") || n.ends_with("-shm") || n.ends_with("-journal"))
                .collect();
            assert!(sidecars.is_empty(), "{args:?} left {sidecars:?}");
        }
    }
    // Reading a posterlab database changes nothing either.
    let db = db_of(p.path());
    let bytes = std::fs::read(&db).unwrap();
    for args in read_commands(&db, &p.path().join("r")) {
        let o = run_args(p.path(), &args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
}

/// Runs posterlab as a user who cannot write `results/`: as root (CI), as
/// `nobody`, with the folder owned by root; otherwise as oneself, with the
/// folder made read-only.
fn as_reader(cwd: &Path, args: &[String]) -> Output {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(reader_binary());
    cmd.current_dir(cwd).args(args).stdin(Stdio::null());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        cmd.uid(65534).gid(65534);
    }
    cmd.output().unwrap()
}

/// The binary, where `nobody` can run it (the checkout may be in a folder
/// only root can enter).
fn reader_binary() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        use std::os::unix::fs::PermissionsExt;
        let dir = common::shared_dir("reader");
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.join("posterlab");
        if std::fs::hard_link(env!("CARGO_BIN_EXE_posterlab"), &bin).is_err() {
            std::fs::copy(env!("CARGO_BIN_EXE_posterlab"), &bin).unwrap();
        }
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        bin
    })
    .clone()
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_results_folder_the_user_cannot_write_to_can_still_be_read() {
    let p = trained();
    chmod(p.path(), 0o755);
    let results = p.path().join("results");
    let db = db_of(p.path());
    let reports = p.path().join("reports");
    std::fs::create_dir(&reports).unwrap();
    chmod(&reports, 0o777);
    // A read-only folder (and, below, a read-only file in a writable one).
    chmod(&db, 0o444);
    chmod(&results, 0o555);
    let bytes = std::fs::read(&db).unwrap();
    for args in read_commands(&db, &reports) {
        let o = as_reader(p.path(), &args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    let o = as_reader(
        p.path(),
        &["--db".into(), db.display().to_string(), "runs".into()],
    );
    assert!(stdout(&o).contains("finished"), "{}", stdout(&o));
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
    assert!(!results.join("posterlab.sqlite-wal").exists());
    chmod(&results, 0o777);
    for args in read_commands(&db, &reports) {
        let o = as_reader(p.path(), &args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(std::fs::read(&db).unwrap(), bytes);
    chmod(&results, 0o755);
    chmod(&db, 0o644);
}

#[test]
fn one_selector_that_matches_nothing_does_not_hide_the_others() {
    let p = trained();
    let o = posterlab(p.path(), &["runs", "finished", "running"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("tiny"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("note: `running` matches no run"),
        "{}",
        stderr(&o)
    );
    for command in ["runs", "export", "report"] {
        let o = posterlab(p.path(), &[command, "running", "diverged"]);
        assert_eq!(o.status.code(), Some(1), "{command}");
        assert!(
            stderr(&o).contains("no run matches `running` or `diverged`"),
            "{command}: {}",
            stderr(&o)
        );
    }
}

/// `sqlite3` on the PATH, or `None` (with a note) outside CI.
fn sqlite3() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("sqlite3"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI installs sqlite3 (.ci/run)"
        );
        eprintln!("skipping: no sqlite3 on the PATH");
    }
    found
}

#[test]
#[cfg_attr(
    no_sqlite3,
    ignore = "needs the sqlite3 program (Debian: sqlite3) on the PATH"
)]
fn a_database_restored_from_a_dump_is_recognised_by_its_tables() {
    let Some(sqlite3) = sqlite3() else { return };
    let p = trained();
    let restored = p.path().join("restored.sqlite");
    let o = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "{0} results/posterlab.sqlite .dump | {0} restored.sqlite",
            sqlite3.display()
        ))
        .current_dir(p.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let version = |conn: &Connection| -> i64 {
        conn.query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(
        version(&Connection::open(&restored).unwrap()),
        0,
        "what .dump loses"
    );
    let bytes = std::fs::read(&restored).unwrap();
    let o = posterlab(p.path(), &["--db", "restored.sqlite", "runs"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("finished"));
    assert_eq!(
        std::fs::read(&restored).unwrap(),
        bytes,
        "reading restores nothing"
    );
    // Writing does: the finished run is still finished, the version is back.
    let o = posterlab(
        p.path(),
        &["--db", "restored.sqlite", "run", "--no-report", "tiny.toml"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("skipped, finished as run 1"),
        "{}",
        stdout(&o)
    );
    assert!(version(&Connection::open(&restored).unwrap()) > 0);
}

/// A `paths`-layout data set whose poster ids and genres hold ESC, a
/// newline, NUL and markup.
fn hostile_set(dir: &Path) -> PathBuf {
    let set = dir.join("hostile");
    std::fs::create_dir_all(set.join("Images")).unwrap();
    let genres = ["Dr\u{1b}[31mama", "Com\u{0}edy", "<b>Action</b>"];
    let mut csv = String::from("path,genres\n");
    for i in 0..40 {
        let name = match i % 3 {
            0 => format!("Images/p{i}\u{1b}]0;pwned\u{7}.jpg"),
            1 => format!("Images/p{i}\nline.jpg"),
            _ => format!("Images/p{i}.jpg"),
        };
        std::fs::write(
            set.join(&name),
            common::jpeg(18, 27, [(i * 6) as u8, 40, 200]),
        )
        .unwrap();
        let g: Vec<&str> = (0..3)
            .filter(|g| (i >> g) & 1 == 1 || *g == i % 3)
            .map(|g| genres[g])
            .collect();
        csv.push_str(&format!("\"{name}\",\"{}\"\n", g.join("|")));
    }
    std::fs::write(set.join("list.csv"), csv).unwrap();
    set.join("list.csv")
}

fn no_control_characters(what: &str, text: &str) {
    let bad: Vec<char> = text
        .chars()
        .filter(|c| c.is_control() && !matches!(c, '\n' | '\t'))
        .collect();
    assert!(bad.is_empty(), "{what} holds {bad:?}");
}

#[test]
fn control_characters_never_reach_svg_markdown_or_the_terminal() {
    let p = project(&[]);
    let csv = hostile_set(p.path());
    let text = format!(
        "[data]\ndataset = {:?}\nresolution = 16\n[model]\nchannels = [4]\ndense = [8]\n[train]\nepochs = 2\nbatch_size = 8\n",
        csv.display().to_string()
    );
    std::fs::write(p.path().join("h.toml"), text).unwrap();
    let o = posterlab(p.path(), &["-q", "run", "--no-report", "h.toml"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    no_control_characters("run's output", &(stdout(&o) + &stderr(&o)));
    // A name and tags as an older posterlab (or another tool) may have
    // stored them.
    let conn = Connection::open(db_of(p.path())).unwrap();
    conn.execute(
        "UPDATE runs SET name = ?1, experiment = ?1, tags = ?2",
        ["evil\u{1b}[2J<img src=x>|\nname\u{0}", "[\"t\\u001bag\"]"],
    )
    .unwrap();
    drop(conn);
    for args in [
        vec!["runs"],
        vec!["show", "1"],
        vec!["export"],
        vec!["data", "stats", csv.to_str().unwrap()],
    ] {
        let o = posterlab(p.path(), &args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        no_control_characters(&format!("{args:?}"), &(stdout(&o) + &stderr(&o)));
    }
    let o = posterlab(p.path(), &["report", "--out", "r"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut svgs = 0;
    for (name, bytes) in common::files_under(&p.path().join("r")) {
        let text = String::from_utf8(bytes).unwrap();
        if name.ends_with(".svg") || name.ends_with(".html") {
            no_control_characters(&name, &text);
        }
        if name.ends_with(".svg") {
            roxmltree::Document::parse(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            svgs += 1;
        }
    }
    assert!(svgs >= 8, "{svgs} figures");
    let md = std::fs::read_to_string(p.path().join("r/results.md")).unwrap();
    no_control_characters("results.md", &md);
    assert!(!md.contains("<img"), "inline HTML from a name: {md}");
    let table: Vec<&str> = md.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(table.len(), 3, "header, rule, one row: {md}");
    assert!(
        table[2].contains("evil\\u{1b}[2J&lt;img src=x&gt;\\|\\nname\\0"),
        "{md}"
    );
}

#[test]
fn a_corrupt_checkpoint_fails_the_run_instead_of_diverging() {
    let p = project(&[("tiny.toml", &spec("epochs = 3"))]);
    let crashed = posterlab_crashing(p.path(), &["-q", "run", "tiny.toml"], "recorded@2");
    assert!(!crashed.status.success());
    let dir = std::fs::read_dir(p.path().join("results/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|d| d.is_dir())
        .unwrap();
    let checkpoint = dir.join("epoch-0002.safetensors");
    let mut bytes = std::fs::read(&checkpoint).unwrap();
    let n = bytes.len();
    // Flip bytes among the weights, well past the header: the size stays.
    for i in [n - 100, n - 300, n - 1000] {
        bytes[i] ^= 0x5a;
    }
    std::fs::write(&checkpoint, &bytes).unwrap();
    let o = posterlab(p.path(), &["-q", "run", "--no-report", "tiny.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("epoch-0002.safetensors") && out.contains("corrupt (checksum mismatch)"),
        "{out}"
    );
    assert!(out.contains("--force"), "{out}");
    let conn = Connection::open(db_of(p.path())).unwrap();
    let status: String = conn
        .query_row("SELECT status FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "failed", "a storage fault is not a research result");
    let o = posterlab(
        p.path(),
        &["-q", "run", "--no-report", "--force", "tiny.toml"],
    );
    assert!(o.status.success(), "{}", stdout(&o));
}

#[test]
fn threads_zero_is_a_usage_error_and_more_than_the_cores_are_capped() {
    let p = project(&[("tiny.toml", &spec("epochs = 1"))]);
    let o = posterlab(p.path(), &["run", "--threads", "0", "tiny.toml"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("must be at least 1"), "{}", stderr(&o));
    let o = posterlab(p.path(), &["bench", "--threads", "0"]);
    assert_eq!(o.status.code(), Some(2));
    let o = posterlab(
        p.path(),
        &["-q", "run", "--no-report", "--threads", "1024", "tiny.toml"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--threads 1024 is more than the"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_missing_poster_and_a_folder_in_its_place_are_told_apart() {
    let p = project(&[]);
    let set = common::multilabel_set(
        &p.path().join("set"),
        &[
            ("a", &["Drama"]),
            ("b", &["Comedy"]),
            ("c", &["Action"]),
            ("d", &["Drama"]),
        ],
    );
    std::fs::remove_file(set.join("Images/b.jpg")).unwrap();
    let stats = |p: &Path| {
        let o = posterlab(p, &["data", "stats", "set"]);
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    let missing = stats(p.path());
    assert!(missing.contains("b (missing"), "{missing}");
    std::fs::create_dir(set.join("Images/b.jpg")).unwrap();
    let folder = stats(p.path());
    assert!(
        !folder.contains("b (missing"),
        "a cached reason reused: {folder}"
    );
    assert!(folder.contains("b ("), "{folder}");
}

#[test]
fn sighup_stops_a_run_and_marks_it_interrupted() {
    let p = project(&[("tiny.toml", &spec("epochs = 200"))]);
    let child = Command::new(env!("CARGO_BIN_EXE_posterlab"))
        .current_dir(p.path())
        .args(["-q", "run", "--no-report", "tiny.toml"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let db = db_of(p.path());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let done: i64 = Connection::open(&db)
            .ok()
            .and_then(|c| {
                c.query_row("SELECT max(epochs_done) FROM runs", [], |r| r.get(0))
                    .ok()
            })
            .unwrap_or(0);
        if done >= 1 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no epoch in 60 s");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // SAFETY: signalling a child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGHUP) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stderr(&o));
    let status: String = Connection::open(&db)
        .unwrap()
        .query_row("SELECT status FROM runs", [], |r| r.get(0))
        .unwrap();
    assert_eq!(status, "interrupted");
}

/// A small tmpfs for the database, mounted for the test's lifetime (root
/// only; CI runs as root).
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> Option<SmallDisk> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs as root and can mount a tmpfs"
            );
            eprintln!("skipping: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(SmallDisk(at.to_path_buf()))
    }

    fn fill(&self) {
        let mut file = std::fs::File::create(self.0.join("filler")).unwrap();
        let block = vec![0u8; 4096];
        while std::io::Write::write_all(&mut file, &block).is_ok() {}
    }

    fn free(&self) {
        std::fs::remove_file(self.0.join("filler")).unwrap();
        let ok = Command::new("mount")
            .args(["-o", "remount,size=64m"])
            .arg(&self.0)
            .status()
            .unwrap();
        assert!(ok.success());
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
#[cfg_attr(
    not_root,
    ignore = "needs root, to mount a small tmpfs for the database"
)]
fn a_run_whose_database_disk_is_full_is_recorded_once_it_can_be() {
    let p = project(&[("tiny.toml", &spec("epochs = 3"))]);
    let Some(disk) = SmallDisk::mount(&p.path().join("db"), "400k") else {
        return;
    };
    let args = [
        "--db",
        "db/p.sqlite",
        "-q",
        "run",
        "--no-report",
        "tiny.toml",
    ];
    let crashed = posterlab_crashing(p.path(), &args, "recorded@1");
    assert!(!crashed.status.success());
    disk.fill();
    let o = posterlab(p.path(), &args);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("database or disk is full"), "{out}");
    assert!(
        out.contains("the next `posterlab run` of this spec records it"),
        "{out}"
    );
    disk.free();
    let o = posterlab(p.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("ended `failed`") && out.contains("recorded now"),
        "what happened is said on resume: {out}"
    );
    let o = posterlab(p.path(), &["--db", "db/p.sqlite", "runs"]);
    assert!(stdout(&o).contains("finished"), "{}", stdout(&o));
}

#[test]
fn counts_of_one_are_singular() {
    let p = project(&[("tiny.toml", &spec("epochs = 1"))]);
    let o = posterlab(p.path(), &["-q", "run", "tiny.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let mut all = stdout(&o) + &stderr(&o);
    for args in [
        vec!["runs"],
        vec!["report", "--out", "r"],
        vec!["export", "--out", "e.csv"],
    ] {
        let o = posterlab(p.path(), &args);
        all += &(stdout(&o) + &stderr(&o));
    }
    all += &std::fs::read_to_string(p.path().join("r/index.html")).unwrap();
    assert!(all.contains("finished after 1 epoch;"), "{all}");
    for wrong in [
        "1 runs",
        "1 epochs",
        " 1 files",
        "1 rows",
        "1 configurations",
    ] {
        assert!(!all.contains(wrong), "`{wrong}` in: {all}");
    }
}

#[test]
fn a_sweep_above_the_limit_is_refused_unless_confirmed_and_then_listed() {
    let seeds: Vec<String> = (0..120).map(|s| s.to_string()).collect();
    let lrs: Vec<String> = (1..=101).map(|i| format!("{}e-4", i)).collect();
    let text = format!(
        "[sweep.grid]\n\"train.seed\" = [{}]\n\"train.lr\" = [{}]\n",
        seeds.join(", "),
        lrs.join(", ")
    );
    let p = project(&[("big.toml", &text)]);
    let o = posterlab(p.path(), &["run", "--dry-run", "big.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("train.seed: 120 values × train.lr: 101 values = 12,120 runs"),
        "{err}"
    );
    assert!(err.contains("--allow-large-sweep"), "{err}");
    assert!(stdout(&o).is_empty(), "nothing listed before the refusal");
    let o = posterlab(
        p.path(),
        &["--allow-large-sweep", "run", "--dry-run", "big.toml"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(
        out.lines().filter(|l| l.starts_with("big[")).count(),
        12_120
    );
    assert!(
        out.contains("\n12120 runs from 1 spec file\n"),
        "{}",
        &out[out.len() - 200..]
    );
}
