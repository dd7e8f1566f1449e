//! `posterlab run --jobs N`: several runs at once in one process, each with
//! the numbers one job gives; a signal stops every job and the same command
//! resumes them all. (Two commands with jobs on one database, and a failing
//! run beside others: tests/runs.rs.)

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{posterlab, project, results_by_run, spec, stderr, stdout};
use rusqlite::Connection;

fn db(dir: &Path) -> Connection {
    Connection::open(main_db(dir)).unwrap()
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn main_db(dir: &Path) -> std::path::PathBuf {
    dir.join("results/posterlab.sqlite")
}

fn sweep(extra_train: &str, seeds: &str) -> String {
    format!(
        "{}\n[sweep.grid]\n\"train.seed\" = [{seeds}]\n",
        spec(extra_train)
    )
}

#[test]
fn jobs_train_every_run_once_with_the_numbers_of_one_job() {
    let text = sweep("epochs = 2", "1, 2, 3, 4");
    let one = project(&[("s.toml", &text)]);
    let o = posterlab(one.path(), &["-q", "run", "--no-report", "s.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let two = project(&[("s.toml", &text)]);
    let o = posterlab(
        two.path(),
        &[
            "-q",
            "run",
            "--no-report",
            "--jobs",
            "2",
            "--threads",
            "1",
            "s.toml",
        ],
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(out.contains("4 finished in"), "{out}");
    for seed in 1..=4 {
        assert!(
            out.contains(&format!("s[seed={seed}]: finished after 2 epochs")),
            "{out}"
        );
    }
    assert_eq!(
        results_by_run(&main_db(two.path())),
        results_by_run(&main_db(one.path()))
    );
    assert_eq!(count(&db(two.path()), "SELECT count(*) FROM runs"), 4);

    // Again: every run is skipped, by whichever job takes it.
    let o = posterlab(two.path(), &["-q", "run", "--jobs", "3", "s.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("0 finished, 4 skipped"),
        "{}",
        stdout(&o)
    );
}

/// Waits until every run in `dir` has recorded at least `epochs` epochs.
fn wait_for_every_run(dir: &Path, runs: i64, epochs: i64, child: &mut std::process::Child) {
    let started = Instant::now();
    loop {
        if let Ok(conn) = Connection::open(dir.join("results/posterlab.sqlite")) {
            let ready: Option<i64> = conn
                .query_row(
                    "SELECT count(*) FROM runs WHERE epochs_done >= ?1",
                    [epochs],
                    |r| r.get(0),
                )
                .ok();
            if ready.unwrap_or(0) >= runs {
                return;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the sweep ended before it could be interrupted"
        );
        assert!(started.elapsed() < Duration::from_secs(300), "no epochs");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn one_signal_stops_every_job_and_the_same_command_resumes_them_exactly() {
    // Enough epochs that both runs are still going when the signal arrives.
    let text = sweep("epochs = 60", "1, 2, 3");
    let reference = project(&[("s.toml", &text)]);
    let o = posterlab(reference.path(), &["-q", "run", "--no-report", "s.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));

    let p = project(&[("s.toml", &text)]);
    let args = ["-q", "run", "--no-report", "--jobs", "2", "s.toml"];
    let mut child = Command::new(env!("CARGO_BIN_EXE_posterlab"))
        .current_dir(p.path())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_every_run(p.path(), 2, 2, &mut child);
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(130), "{}", stdout(&o));
    let conn = db(p.path());
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM runs WHERE status = 'interrupted'"
        ),
        2,
        "both running jobs stopped and said so: {}",
        stdout(&o)
    );
    assert_eq!(
        count(&conn, "SELECT count(*) FROM runs"),
        2,
        "the third run was never started"
    );
    let o = posterlab(p.path(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        results_by_run(&main_db(p.path())),
        results_by_run(&main_db(reference.path()))
    );
}
