//! `posterlab run --jobs N`: several runs at once in one process. Each run is
//! trained once (also with two such commands on one database), with the
//! numbers one job gives; a run that fails or diverges does not stop the
//! others; a signal stops every job and the same command resumes them all.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{posterlab, project, spec, stderr, stdout, tiny_set};
use rusqlite::Connection;

fn db(dir: &Path) -> Connection {
    Connection::open(dir.join("results/posterlab.sqlite")).unwrap()
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Every number each run recorded that must not depend on timing, on the
/// job that trained it or on interruptions, by run name.
fn results_by_run(dir: &Path) -> Vec<String> {
    let conn = db(dir);
    let mut out = Vec::new();
    for sql in [
        "SELECT r.name, m.epoch, m.split, m.loss, m.micro_f1, m.macro_f1, m.micro_ap, m.macro_ap \
         FROM metrics m JOIN runs r ON r.id = m.run_id ORDER BY r.name, m.split, m.epoch",
        "SELECT r.name, e.epoch, e.lr, e.is_best FROM epochs e JOIN runs r ON r.id = e.run_id \
         ORDER BY r.name, e.epoch",
        "SELECT r.name, p.poster, p.genre, p.probability FROM predictions p \
         JOIN runs r ON r.id = p.run_id ORDER BY r.name, p.poster, p.genre",
        "SELECT name, status, epochs_done, best_epoch FROM runs ORDER BY name",
    ] {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
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
    assert_eq!(results_by_run(two.path()), results_by_run(one.path()));
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

#[test]
fn two_commands_with_jobs_on_one_database_train_each_run_once() {
    let p = project(&[("s.toml", &sweep("epochs = 2", "1, 2, 3, 4, 5, 6"))]);
    let children: Vec<_> = (0..2)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_posterlab"))
                .current_dir(p.path())
                .args(["-q", "run", "--no-report", "--jobs", "2", "s.toml"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outputs = String::new();
    for child in children {
        let o = child.wait_with_output().unwrap();
        outputs += &stdout(&o);
        outputs += &stderr(&o);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    }
    assert!(!outputs.contains("locked"), "{outputs}");
    let conn = db(p.path());
    assert_eq!(count(&conn, "SELECT count(*) FROM runs"), 6, "{outputs}");
    assert_eq!(
        count(&conn, "SELECT count(*) FROM runs WHERE status = 'finished'"),
        6
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM epochs"), 12);
}

#[test]
fn a_run_that_diverges_or_fails_does_not_stop_the_other_jobs() {
    let broken = spec("epochs = 2")
        .replace(&tiny_set().display().to_string(), "broken")
        .replace("resolution = 16", "resolution = 16\nbad_images = \"error\"");
    let p = project(&[
        (
            "sweep/a-diverges.toml",
            &spec("epochs = 2\nlr = 1e30\noptimizer = { kind = \"sgd\", momentum = 0.0 }"),
        ),
        ("sweep/b-fails.toml", &broken),
        ("sweep/c-trains.toml", &spec("epochs = 2")),
        ("sweep/d-trains.toml", &spec("epochs = 3")),
    ]);
    let poster = common::copy_of_tiny_set(p.path(), "broken");
    let whole = std::fs::read(&poster).unwrap();
    std::fs::write(&poster, &whole[..whole.len() / 2]).unwrap();

    let o = posterlab(
        p.path(),
        &["-q", "run", "--no-report", "--jobs", "2", "sweep"],
    );
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("a-diverges: DIVERGED"), "{out}");
    assert!(out.contains("b-fails: FAILED: "), "{out}");
    assert!(out.contains("c-trains: finished after 2 epochs"), "{out}");
    assert!(out.contains("d-trains: finished after 3 epochs"), "{out}");
    assert!(out.contains("2 finished, 1 diverged, 1 failed"), "{out}");
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
    assert_eq!(results_by_run(p.path()), results_by_run(reference.path()));
}
