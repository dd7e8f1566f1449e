//! `posterlab slurm` and `posterlab status` against a real single-node Slurm
//! (slurmctld + slurmd + munged from Debian's packages, started by
//! scripts/slurm-local.sh in a temporary folder, on ports of their own, and
//! stopped when this test binary exits): a sweep as a job array that is
//! merged and reported; a task cancelled and resubmitted, and one requeued
//! while training, that resume exactly; a task whose spec was edited after
//! submission, refused; Slurm's own refusals. Without Slurm or root these
//! tests are reported as ignored (CI installs Slurm and runs them); the
//! batch script's content and a missing `sbatch` are tested everywhere.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::{project, spec, stderr, stdout};
use rusqlite::Connection;

/// The local cluster: its folder and configuration file.
struct Cluster {
    conf: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/slurm-local.sh")
}

/// A TCP port nothing listens on now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The cluster, started once per test binary and stopped at its exit.
fn cluster() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    extern "C" fn down() {
        if let Some(dir) = DIR.get() {
            let _ = Command::new("bash")
                .arg(script())
                .arg("down")
                .arg(dir)
                .status();
            let _ = std::fs::remove_dir_all(dir);
        }
    }
    CLUSTER.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("posterlab-slurm-{}", std::process::id()));
        let (ctld, node) = (free_port(), free_port());
        let o = Command::new("bash")
            .arg(script())
            .arg("up")
            .arg(&dir)
            .env("SLURM_CTLD_PORT", ctld.to_string())
            .env("SLURM_NODE_PORT", node.to_string())
            .output()
            .unwrap();
        DIR.set(dir.clone()).unwrap();
        // SAFETY: registers a plain function to run at exit.
        unsafe { libc::atexit(down) };
        assert!(
            o.status.success(),
            "the local Slurm did not start: {}{}",
            stdout(&o),
            stderr(&o)
        );
        Cluster {
            conf: dir.join("slurm.conf"),
        }
    })
}

/// A Slurm client or posterlab, with the local cluster's configuration.
fn with_slurm(program: &str, cwd: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .current_dir(cwd)
        .args(args)
        .env("SLURM_CONF", &cluster().conf)
        .output()
        .unwrap()
}

fn posterlab(cwd: &Path, args: &[&str]) -> Output {
    with_slurm(env!("CARGO_BIN_EXE_posterlab"), cwd, args)
}

/// Waits up to 5 minutes for `done`, saying what it waited for.
fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `(task index, state)` of job `job`'s tasks, as squeue says.
fn tasks(job: &str) -> Vec<(String, String)> {
    let o = with_slurm(
        "squeue",
        Path::new("/"),
        &[
            "-h",
            "-r",
            "-t",
            "all",
            "-j",
            job,
            "-O",
            "JobArrayID:|,State:|",
        ],
    );
    stdout(&o)
        .lines()
        .filter_map(|l| {
            let mut f = l.split('|');
            Some((f.next()?.trim().to_string(), f.next()?.trim().to_string()))
        })
        .collect()
}

fn ended(job: &str) -> bool {
    let t = tasks(job);
    !t.is_empty()
        && t.iter()
            .all(|(_, s)| !["PENDING", "RUNNING", "COMPLETING", "REQUEUED"].contains(&s.as_str()))
}

/// The array job and the finishing job that `posterlab slurm` says it
/// submitted.
fn submitted(o: &Output) -> (String, String) {
    let out = stdout(o);
    let jobs: Vec<String> = out
        .lines()
        .filter_map(|l| l.strip_prefix("submitted job "))
        .map(|rest| rest.split(':').next().unwrap().to_string())
        .collect();
    assert_eq!(jobs.len(), 2, "{out}{}", stderr(o));
    (jobs[0].clone(), jobs[1].clone())
}

/// The epochs task `index` of the one sweep under `dir` has recorded.
fn task_epochs(dir: &Path, index: usize) -> i64 {
    let Some(sweep) = sweep_dir(dir) else {
        return 0;
    };
    let path = sweep.join(format!("tasks/{index}.sqlite"));
    let Ok(conn) = Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
    else {
        return 0;
    };
    conn.query_row("SELECT max(epochs_done) FROM runs", [], |r| {
        r.get::<_, Option<i64>>(0)
    })
    .ok()
    .flatten()
    .unwrap_or(0)
}

/// The log of task `index` of the one sweep under `dir`.
fn task_log(dir: &Path, index: usize) -> String {
    let path = sweep_dir(dir)
        .unwrap()
        .join(format!("logs/task-{index}.log"));
    std::fs::read_to_string(path).unwrap()
}

fn sweep_dir(dir: &Path) -> Option<PathBuf> {
    std::fs::read_dir(dir.join("results/slurm"))
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.join("sweep.json").is_file())
}

/// What the runs in `dir`'s main database recorded, by run name.
fn results_by_run(dir: &Path) -> Vec<String> {
    common::results_by_run(&dir.join("results/posterlab.sqlite"))
}

fn sweep(epochs: usize, seeds: &str) -> String {
    format!(
        "{}\n[sweep.grid]\n\"train.seed\" = [{seeds}]\n",
        spec(&format!("epochs = {epochs}"))
    )
}

/// The same sweep trained with `posterlab run` in a folder of its own: what
/// the cluster's runs must equal.
fn trained_here(text: &str) -> tempfile::TempDir {
    let p = project(&[("s.toml", text)]);
    let o = common::posterlab(p.path(), &["-q", "run", "--no-report", "s.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    p
}

#[test]
fn the_batch_scripts_ask_for_what_the_options_say_and_a_dry_run_writes_nothing() {
    let p = project(&[("s.toml", &sweep(2, "1, 2, 3, 4"))]);
    let o = common::posterlab(
        p.path(),
        &[
            "slurm",
            "s.toml",
            "--dry-run",
            "--partition",
            "gpu",
            "--time",
            "2:00:00",
            "--cpus-per-task",
            "4",
            "--mem",
            "8G",
            "--gpus-per-task",
            "1",
            "--account",
            "lab",
            "--qos",
            "normal",
            "--max-parallel",
            "3",
            "--sbatch=--constraint=a100",
            "--signal-before",
            "300",
        ],
    );
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    for line in [
        "#SBATCH --array=0-3%3",
        "#SBATCH --partition=gpu",
        "#SBATCH --time=2:00:00",
        "#SBATCH --cpus-per-task=4",
        "#SBATCH --mem=8G",
        "#SBATCH --gpus-per-task=1",
        "#SBATCH --account=lab",
        "#SBATCH --qos=normal",
        "#SBATCH --constraint=a100",
        "#SBATCH --requeue",
        "#SBATCH --signal=B:USR1@300",
        "#SBATCH --open-mode=append",
        "slurm-task ",
        "--index \"$SLURM_ARRAY_TASK_ID\" --threads \"${SLURM_CPUS_PER_TASK:-1}\"",
        "scontrol requeue \"${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}\"",
        " merge ",
        " report --out ",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    let chdir = format!(
        "#SBATCH --chdir={}",
        p.path().canonicalize().unwrap().display()
    );
    assert!(
        out.contains(&chdir) || out.contains(&format!("#SBATCH --chdir={}", p.path().display())),
        "{out}"
    );
    assert!(
        !p.path().join("results").exists(),
        "a dry run writes nothing"
    );
    // The scripts are bash that parses.
    let script = out.split("#!/bin/bash").nth(1).unwrap();
    let check = Command::new("bash")
        .args(["-n", "-c", script])
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", stderr(&check));
}

#[test]
fn without_sbatch_the_message_says_how_to_get_it() {
    let p = project(&[("s.toml", &sweep(1, "1"))]);
    let o = Command::new(env!("CARGO_BIN_EXE_posterlab"))
        .current_dir(p.path())
        .args(["slurm", "s.toml"])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("`sbatch` is not on the PATH"), "{err}");
    assert!(
        err.contains("login node") && err.contains("--dry-run"),
        "{err}"
    );
}

#[test]
#[cfg_attr(
    any(no_slurm, not_root),
    ignore = "needs Slurm (scripts/slurm-local.sh install) and root, to run a local cluster"
)]
fn a_sweep_runs_as_an_array_then_is_merged_and_reported() {
    let text = sweep(2, "1, 2, 3, 4");
    let p = project(&[("s.toml", &text)]);
    let o = posterlab(p.path(), &["slurm", "s.toml", "--max-parallel", "2"]);
    let (job, finish) = submitted(&o);
    assert!(
        stdout(&o).contains("4 array tasks (0-3, at most 2 at once)"),
        "{}",
        stdout(&o)
    );
    wait_until("the finishing job", || ended(&finish));
    assert_eq!(
        tasks(&job).iter().filter(|(_, s)| s == "COMPLETED").count(),
        4,
        "{:?}",
        tasks(&job)
    );
    assert_eq!(tasks(&finish)[0].1, "COMPLETED", "{:?}", tasks(&finish));

    // Merged, with the numbers `posterlab run` gives here, and reported.
    let here = trained_here(&text);
    assert_eq!(results_by_run(p.path()), results_by_run(here.path()));
    let o = posterlab(p.path(), &["runs"]);
    assert_eq!(stdout(&o).matches("finished").count(), 4, "{}", stdout(&o));
    assert!(p.path().join("reports/index.html").is_file());

    let id = sweep_dir(p.path())
        .unwrap()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let o = posterlab(p.path(), &["status", &id]);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}{}", stderr(&o));
    assert!(
        out.contains("4 runs: 4 done, 0 running, 0 queued, 0 failed, 0 left"),
        "{out}"
    );
    assert_eq!(out.matches("COMPLETED").count(), 4, "{out}");
    let o = posterlab(p.path(), &["status"]);
    assert!(stdout(&o).contains(&id), "{}", stdout(&o));
    // Where Slurm cannot be asked, the stores still tell.
    let o = Command::new(env!("CARGO_BIN_EXE_posterlab"))
        .current_dir(p.path())
        .args(["status", &id])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("Slurm cannot be asked"),
        "{}",
        stderr(&o)
    );
    assert!(stdout(&o).contains("4 runs: 4 done"), "{}", stdout(&o));

    // Submitted again: nothing is left to train, so nothing is submitted.
    let o = posterlab(p.path(), &["slurm", "s.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("nothing to submit"), "{}", stdout(&o));
    assert!(!stdout(&o).contains("submitted job"), "{}", stdout(&o));
    // The finishing script run again by hand merges nothing new.
    let finish_script = sweep_dir(p.path()).unwrap().join("finish.sbatch");
    let o = with_slurm("bash", p.path(), &[finish_script.to_str().unwrap()]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert_eq!(results_by_run(p.path()), results_by_run(here.path()));
}

#[test]
#[cfg_attr(
    any(no_slurm, not_root),
    ignore = "needs Slurm (scripts/slurm-local.sh install) and root, to run a local cluster"
)]
fn a_cancelled_task_resubmitted_and_a_requeued_one_resume_exactly() {
    // Long enough that each task is still training when it is stopped.
    let text = sweep(250, "1, 2");
    let p = project(&[("s.toml", &text)]);
    let o = posterlab(p.path(), &["slurm", "s.toml"]);
    let (job, finish) = submitted(&o);

    wait_until("task 0's second epoch", || task_epochs(p.path(), 0) >= 2);
    let o = with_slurm("scancel", p.path(), &[&format!("{job}_0")]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_until("task 1's second epoch", || task_epochs(p.path(), 1) >= 2);
    let o = with_slurm("scontrol", p.path(), &["requeue", &format!("{job}_1")]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_until("the first finishing job", || ended(&finish));
    let states = tasks(&job);
    assert!(
        states.contains(&(format!("{job}_0"), "CANCELLED".into())),
        "{states:?}"
    );
    assert!(
        states.contains(&(format!("{job}_1"), "COMPLETED".into())),
        "{states:?}"
    );
    let log = task_log(p.path(), 1);
    assert!(log.contains("resuming after epoch"), "{log}");

    // The cancelled task is submitted again, alone, and resumes.
    let o = posterlab(p.path(), &["slurm", "s.toml"]);
    assert!(
        stdout(&o).contains("1 array task (0)"),
        "{}{}",
        stdout(&o),
        stderr(&o)
    );
    let (_, finish) = submitted(&o);
    wait_until("the second finishing job", || ended(&finish));
    let log = task_log(p.path(), 0);
    assert!(log.contains("resuming after epoch"), "{log}");

    let here = trained_here(&text);
    assert_eq!(results_by_run(p.path()), results_by_run(here.path()));
}

#[test]
#[cfg_attr(
    any(no_slurm, not_root),
    ignore = "needs Slurm (scripts/slurm-local.sh install) and root, to run a local cluster"
)]
fn a_task_whose_spec_was_edited_after_submission_refuses_to_train() {
    let p = project(&[("s.toml", &sweep(1, "1, 2"))]);
    // Held, so that the spec changes before any task starts.
    let o = posterlab(p.path(), &["slurm", "s.toml", "--sbatch=--hold"]);
    let (job, finish) = submitted(&o);
    std::fs::write(p.path().join("s.toml"), sweep(1, "1, 5")).unwrap();
    let o = with_slurm("scontrol", p.path(), &["release", &job]);
    assert!(o.status.success(), "{}", stderr(&o));
    wait_until("the finishing job", || ended(&finish));
    let states = tasks(&job);
    assert!(
        states.contains(&(format!("{job}_0"), "COMPLETED".into())),
        "the unchanged run trains: {states:?}"
    );
    assert!(
        states.contains(&(format!("{job}_1"), "FAILED".into())),
        "{states:?}"
    );
    let log = task_log(p.path(), 1);
    assert!(
        log.contains("task 1 of sweep") && log.contains("edited since submission"),
        "{log}"
    );
    assert!(
        log.contains("s[seed=2]") && log.contains("s[seed=5]"),
        "{log}"
    );
    let o = posterlab(p.path(), &["runs"]);
    assert_eq!(stdout(&o).matches("finished").count(), 1, "{}", stdout(&o));
}

#[test]
#[cfg_attr(
    any(no_slurm, not_root),
    ignore = "needs Slurm (scripts/slurm-local.sh install) and root, to run a local cluster"
)]
fn slurms_own_refusal_is_shown_and_nothing_is_recorded_as_submitted() {
    let p = project(&[("s.toml", &sweep(1, "1"))]);
    let o = posterlab(
        p.path(),
        &["slurm", "s.toml", "--partition", "no-such-partition"],
    );
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(err.contains("sbatch refused the job"), "{err}");
    assert!(err.to_lowercase().contains("invalid partition"), "{err}");
    let manifest =
        std::fs::read_to_string(sweep_dir(p.path()).unwrap().join("sweep.json")).unwrap();
    assert!(manifest.contains("\"submissions\": []"), "{manifest}");
}
