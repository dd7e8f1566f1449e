//! `posterlab run` end to end through the real binary, on a tiny synthetic
//! data set: what it records, skipping and forcing, exact resume after a
//! crash at each point of an epoch (an augmented run's too) and after
//! signals, that augmentation never reaches evaluation, several processes (and
//! jobs) on one database, divergence and failures inside a sweep, with one
//! job and with two.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{posterlab, posterlab_crashing, project, spec, stderr, stdout, tiny_set};
use dfdx::prelude::*;
use posterlab::data::{Batch, Split, Workspace};
use posterlab::model::{Architecture, Mode, Model};
use posterlab::progress::Quiet;
use posterlab::train::checkpoint;
use posterlab::train::fit::to_scores;
use rusqlite::Connection;

fn db(dir: &Path) -> Connection {
    Connection::open(dir.join("results/posterlab.sqlite")).unwrap()
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// Everything a run recorded that must not depend on timing or on
/// interruptions: every metric of every epoch and split, per-genre counts,
/// learning rates, and the test predictions.
fn results_of(dir: &Path) -> Vec<String> {
    common::rows_as_text(
        &dir.join("results/posterlab.sqlite"),
        &[
            "SELECT epoch, split, posters, loss, micro_precision, micro_recall, micro_f1, macro_f1, \
             samples_f1, subset_accuracy, binary_accuracy, micro_ap, macro_ap FROM metrics ORDER BY split, epoch",
            "SELECT epoch, lr, is_best FROM epochs ORDER BY epoch",
            "SELECT epoch, split, genre, tp, fp, fn, tn FROM genre_metrics ORDER BY split, epoch, genre",
            "SELECT poster, genre, truth, probability, predicted FROM predictions ORDER BY poster, genre",
            "SELECT status, epochs_done, best_epoch, stopped_early FROM runs",
        ],
    )
}

fn checkpoints(dir: &Path) -> Vec<String> {
    let mut names = Vec::new();
    for run in std::fs::read_dir(dir.join("results/runs")).unwrap() {
        let run = run.unwrap().path();
        if run.is_dir() {
            for f in std::fs::read_dir(&run).unwrap() {
                names.push(f.unwrap().file_name().to_string_lossy().into_owned());
            }
        }
    }
    names.sort();
    names
}

/// A project with one three-epoch run trained once, shared by the tests
/// that read what it recorded; its `run` output.
fn recorded() -> &'static (PathBuf, String) {
    static ONCE: std::sync::OnceLock<(PathBuf, String)> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = common::shared_dir("recorded");
        std::fs::write(dir.join("tiny.toml"), spec("epochs = 3")).unwrap();
        let o = posterlab(&dir, &["-q", "run", "tiny.toml"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        (dir, stdout(&o))
    })
}

#[test]
fn a_run_says_each_epoch_and_how_it_ended() {
    let out = &recorded().1;
    assert!(out.contains("tiny epoch   3/3"), "{out}");
    assert!(out.contains("tiny: finished after 3 epochs"), "{out}");
}

#[test]
fn a_run_records_its_spec_data_and_status() {
    let conn = db(&recorded().0);
    let (status, n_train, n_val, n_test, genres, hash, toml): (
        String,
        i64,
        i64,
        i64,
        String,
        String,
        String,
    ) = conn
        .query_row(
            "SELECT status, n_train, n_val, n_test, genres, spec_hash, spec_toml FROM runs",
            [],
            |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                    r.get(6)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(status, "finished");
    assert_eq!((n_train, n_val, n_test), (105, 15, 30));
    assert_eq!(
        serde_json::from_str::<Vec<String>>(&genres).unwrap().len(),
        25
    );
    assert_eq!(hash.len(), 64);
    assert!(toml.contains("resolution = 16"), "{toml}");
}

#[test]
fn every_epoch_split_genre_and_test_poster_is_a_row() {
    let conn = db(&recorded().0);
    assert_eq!(count(&conn, "SELECT count(*) FROM epochs"), 3);
    assert_eq!(count(&conn, "SELECT count(*) FROM metrics"), 3 * 2 + 1);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM genre_metrics"),
        (3 * 2 + 1) * 25
    );
    // 30 test and 15 validation posters (the validation ones: what a
    // tuned rule is tuned on).
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM predictions WHERE split = 'test'"
        ),
        30 * 25
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM predictions WHERE split = 'val'"
        ),
        15 * 25
    );
}

#[test]
fn genre_counts_add_up_and_the_stored_f1_is_the_predictions_one() {
    let conn = db(&recorded().0);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM genre_metrics WHERE tp + fp + fn + tn != posters_of(split)"
            .replace("posters_of(split)", "(SELECT posters FROM metrics m WHERE m.run_id = genre_metrics.run_id AND m.split = genre_metrics.split AND m.epoch = genre_metrics.epoch)")
            .as_str()),
        0,
        "every genre's counts add up to the split's posters"
    );
    let cells = |truth: u8, predicted: u8| {
        count(
            &conn,
            &format!("SELECT count(*) FROM predictions WHERE split = 'test' AND truth = {truth} AND predicted = {predicted}"),
        )
    };
    let (tp, fp, fn_) = (cells(1, 1), cells(0, 1), cells(1, 0));
    let f1: f64 = conn
        .query_row(
            "SELECT micro_f1 FROM metrics WHERE split = 'test'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!((f1 - 2.0 * tp as f64 / (2 * tp + fp + fn_) as f64).abs() < 1e-12);
}

#[test]
fn only_the_current_and_the_best_checkpoint_are_kept() {
    let dir = &recorded().0;
    assert_eq!(checkpoints(dir).len(), 2, "{:?}", checkpoints(dir));
}

#[test]
fn runs_show_and_export_read_a_run_back() {
    let dir = &recorded().0;
    let o = posterlab(dir, &["runs"]);
    assert!(
        stdout(&o).contains("finished") && stdout(&o).contains("3/3"),
        "{}",
        stdout(&o)
    );
    let o = posterlab(dir, &["show", "tiny"]);
    let shown = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    for want in ["[model]", "TRAIN LOSS", "GENRE", "Drama", "test (epoch"] {
        assert!(shown.contains(want), "show lacks {want}:\n{shown}");
    }
    let o = posterlab(dir, &["export", "--format", "csv"]);
    let csv = stdout(&o);
    assert_eq!(csv.lines().count(), 1 + 7, "{csv}");
    assert!(
        csv.starts_with("run_id,run,epoch,split,decision,lr"),
        "{csv}"
    );
    let o = posterlab(dir, &["export", "--format", "json", "tiny"]);
    let rows: Vec<serde_json::Value> = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(rows.len(), 7);
    let o = posterlab(dir, &["export", "nosuchrun"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no run matches `nosuchrun`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_finished_run_is_not_repeated_and_force_adds_another() {
    let p = project(&[("tiny.toml", &spec("epochs = 2"))]);
    let o = posterlab(p.path(), &["-q", "run", "tiny.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let conn = db(p.path());
    let o = posterlab(p.path(), &["-q", "run", "tiny.toml"]);
    assert!(o.status.success());
    assert!(
        stdout(&o).contains("skipped, finished as run 1"),
        "{}",
        stdout(&o)
    );
    assert_eq!(count(&conn, "SELECT count(*) FROM epochs"), 2);
    let o = posterlab(p.path(), &["-q", "run", "--force", "tiny.toml"]);
    assert!(o.status.success());
    assert_eq!(
        count(&conn, "SELECT count(*) FROM runs WHERE status = 'finished'"),
        2
    );
}

#[test]
fn raising_a_random_sweeps_n_trains_only_the_new_samples() {
    let search = |n: usize| {
        format!(
            "{}\n[sweep.random]\nn = {n}\nseed = 3\n\"train.lr\" = {{ log_uniform = [1e-4, 1e-2] }}\n",
            spec("epochs = 1")
        )
    };
    let p = project(&[("search.toml", &search(2))]);
    let o = posterlab(p.path(), &["-q", "run", "search.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::write(p.path().join("search.toml"), search(3)).unwrap();
    let o = posterlab(p.path(), &["-q", "run", "search.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert_eq!(out.matches("skipped, finished as run").count(), 2, "{out}");
    let conn = db(p.path());
    assert_eq!(
        count(&conn, "SELECT count(*) FROM runs WHERE status = 'finished'"),
        3
    );
    // Each run's swept column holds the rate it was drawn, which its
    // resolved spec holds exactly.
    let mut stmt = conn.prepare("SELECT swept, spec_toml FROM runs").unwrap();
    let rows: Vec<(String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (swept, spec_toml) in rows {
        let swept: serde_json::Value = serde_json::from_str(&swept).unwrap();
        let lr = swept["train.lr"]
            .as_str()
            .unwrap_or_else(|| panic!("{swept}"));
        assert!(
            spec_toml.contains(&format!("\nlr = {lr}\n")),
            "{lr}: {spec_toml}"
        );
    }
}

#[test]
fn resuming_after_a_crash_at_any_point_gives_the_uninterrupted_numbers() {
    let text = spec("epochs = 3\nmonitor = \"val_micro_f1\"");
    let points = [
        "batch@1",
        "batch@2",
        "saved@2",
        "recorded@2",
        "saved@3",
        "test@3",
    ];
    crashes_resume_to_the_uninterrupted_results(&text, &points);
}

#[test]
fn an_augmented_run_resumes_after_a_crash_with_the_uninterrupted_numbers() {
    // Killed in the middle of an epoch (after its second batch) and between
    // a checkpoint and its record: the redone batches draw the same crops,
    // flips and jitter.
    let text = augmented(&spec("epochs = 3"));
    let want = crashes_resume_to_the_uninterrupted_results(&text, &["batch@2", "saved@2"]);
    assert_ne!(
        want,
        results_of(&recorded().0),
        "the same run without augmentation trains alike: augment did nothing"
    );
}

/// `text` with `[data] augment = true`.
fn augmented(text: &str) -> String {
    text.replacen("[data]\n", "[data]\naugment = true\n", 1)
}

/// Trains the spec `text` once uninterrupted, then once per crash `points`
/// (killed there, then resumed by the same command), and checks that each
/// resumed run recorded exactly the uninterrupted run's results, which it
/// returns.
fn crashes_resume_to_the_uninterrupted_results(text: &str, points: &[&str]) -> Vec<String> {
    let reference = project(&[("r.toml", text)]);
    let o = posterlab(reference.path(), &["-q", "run", "r.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = results_of(reference.path());
    assert!(want.len() > 100);

    for &point in points {
        let p = project(&[("r.toml", text)]);
        let crashed = posterlab_crashing(p.path(), &["-q", "run", "r.toml"], point);
        assert!(
            !crashed.status.success(),
            "{point}: the crash hook did not fire"
        );
        let conn = db(p.path());
        let status: String = conn
            .query_row("SELECT status FROM runs", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            status, "running",
            "{point}: a killed run cannot mark itself"
        );
        let o = posterlab(p.path(), &["-q", "run", "r.toml"]);
        assert!(o.status.success(), "{point}: {}{}", stdout(&o), stderr(&o));
        if point != "batch@1" {
            assert!(
                stderr(&o).contains("resuming after epoch"),
                "{point}: {}",
                stderr(&o)
            );
        }
        assert_eq!(results_of(p.path()), want, "{point}: resumed run differs");
        assert_eq!(
            checkpoints(p.path()).len(),
            2,
            "{point}: {:?}",
            checkpoints(p.path())
        );
    }
    want
}

#[test]
fn an_augmented_runs_validation_and_test_posters_are_not_augmented() {
    // The best checkpoint's scores on the posters as they are must be the
    // ones the run recorded for the test split, and its loss on the
    // validation split the one recorded for that epoch.
    let text = augmented(&spec("epochs = 2"));
    let p = project(&[("a.toml", &text)]);
    let o = posterlab(p.path(), &["-q", "run", "a.toml"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let spec = posterlab::spec::load_str(Path::new("a.toml"), &text)
        .unwrap()
        .remove(0);
    assert!(spec.data.augment.is_some());
    let data = posterlab::data::load(
        &spec.data,
        &Workspace::new(p.path().join("results")),
        &Quiet,
    )
    .unwrap();
    let split = Split::new(
        &data.ids,
        spec.data.test_fraction,
        spec.data.val_fraction,
        spec.data.split_seed,
    );
    let conn = db(p.path());
    let (best, dir): (i64, String) = conn
        .query_row("SELECT best_epoch, checkpoint_dir FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let (r, genres) = (data.resolution as usize, data.genres.len());
    let dev = Cpu::default();
    let arch = Architecture::new(&spec.model, r, genres).unwrap();
    let mut model = Model::new(arch, spec.train.seed, &dev);
    let best_file = checkpoint::best_path(Path::new(&dir), best as usize);
    checkpoint::load_best(&best_file, &spec.hash(), &mut model).unwrap();
    let mut logits_of = |posters: &[usize]| {
        let mut batch = Batch::default();
        batch.fill(&data, posters);
        let images = dev.tensor_from_vec(batch.images, (posters.len(), 3, r, r));
        model.forward(images, Mode::Eval).unwrap().as_vec()
    };

    let scores = to_scores(spec.train.loss, &logits_of(&split.test), genres);
    let mut recorded = conn
        .prepare("SELECT poster, genre, probability FROM predictions WHERE split = 'test'")
        .unwrap();
    let recorded: Vec<(String, String, f64)> = recorded
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(recorded.len(), split.test.len() * genres);
    for (poster, genre, probability) in recorded {
        let row = split
            .test
            .iter()
            .position(|&i| data.ids[i] == poster)
            .unwrap();
        let g = data.genres.iter().position(|name| *name == genre).unwrap();
        let computed = scores[row * genres + g] as f64;
        assert!(
            (computed - probability).abs() < 1e-6,
            "{poster} {genre}: recorded {probability}, the plain poster scores {computed}"
        );
    }

    // BCE with logits, averaged over every (poster, genre), as `train.loss = "bce"` is.
    let logits = logits_of(&split.val);
    let targets = split.val.iter().flat_map(|&i| data.label_row(i));
    let bce: f64 = logits
        .iter()
        .zip(targets)
        .map(|(&x, &y)| {
            let x = x as f64;
            x.max(0.0) - x * y as f64 + (-x.abs()).exp().ln_1p()
        })
        .sum::<f64>()
        / logits.len() as f64;
    let val_loss: f64 = conn
        .query_row(
            "SELECT loss FROM metrics WHERE split = 'val' AND epoch = ?1",
            [best],
            |r| r.get(0),
        )
        .unwrap();
    assert!(
        (bce - val_loss).abs() < 1e-5,
        "recorded validation loss {val_loss}, the plain posters' {bce}"
    );
}

/// Waits until the run in `dir` has recorded `epochs` epochs.
fn wait_for_epochs(dir: &Path, epochs: i64, child: &mut std::process::Child) {
    let started = Instant::now();
    loop {
        if let Ok(conn) = Connection::open(dir.join("results/posterlab.sqlite")) {
            let done: Option<i64> = conn
                .query_row("SELECT max(epochs_done) FROM runs", [], |r| r.get(0))
                .ok()
                .flatten();
            if done.unwrap_or(0) >= epochs {
                return;
            }
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it could be interrupted"
        );
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no epoch recorded"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn signals_stop_a_run_and_the_same_command_resumes_it_exactly() {
    // Enough epochs that the run is still going when the signal arrives.
    let text = spec("epochs = 100");
    let reference = project(&[("s.toml", &text)]);
    assert!(posterlab(reference.path(), &["-q", "run", "s.toml"])
        .status
        .success());
    let want = results_of(reference.path());

    for (signal, code) in [
        (libc::SIGINT, Some(130)),
        (libc::SIGTERM, Some(130)),
        (libc::SIGKILL, None),
    ] {
        let p = project(&[("s.toml", &text)]);
        let mut child = Command::new(env!("CARGO_BIN_EXE_posterlab"))
            .current_dir(p.path())
            .args(["-q", "run", "s.toml"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for_epochs(p.path(), 2, &mut child);
        // SAFETY: signalling our own child process.
        unsafe { libc::kill(child.id() as i32, signal) };
        let status = child.wait().unwrap();
        assert_eq!(status.code(), code, "signal {signal}");
        let (state, done): (String, i64) = db(p.path())
            .query_row("SELECT status, epochs_done FROM runs", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        assert_eq!(
            state,
            if code.is_some() {
                "interrupted"
            } else {
                "running"
            }
        );
        assert!((2..100).contains(&done), "{done} epochs");
        let o = posterlab(p.path(), &["-q", "run", "s.toml"]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(
            results_of(p.path()),
            want,
            "signal {signal}: resumed run differs"
        );
    }
}

#[test]
fn several_processes_share_one_database() {
    let sweep = format!(
        "{}\n[sweep.grid]\n\"train.seed\" = [1, 2, 3, 4, 5, 6]\n",
        spec("epochs = 2")
    );
    // Three plain processes, then two with two jobs each.
    for (processes, args) in [
        (3, &["-q", "run", "sweep.toml"][..]),
        (
            2,
            &["-q", "run", "--no-report", "--jobs", "2", "sweep.toml"][..],
        ),
    ] {
        let p = project(&[("sweep.toml", &sweep)]);
        let children: Vec<_> = (0..processes)
            .map(|_| {
                Command::new(env!("CARGO_BIN_EXE_posterlab"))
                    .current_dir(p.path())
                    .args(args)
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
        assert_eq!(
            count(&conn, "SELECT count(*) FROM runs"),
            6,
            "{args:?}: {outputs}"
        );
        assert_eq!(
            count(&conn, "SELECT count(*) FROM runs WHERE status = 'finished'"),
            6
        );
        assert_eq!(
            count(&conn, "SELECT count(DISTINCT spec_hash) FROM runs"),
            6
        );
        assert_eq!(count(&conn, "SELECT count(*) FROM epochs"), 12);
    }
}

#[test]
fn divergence_and_failure_end_their_runs_not_the_sweep() {
    divergence_and_failure_with(&[]);
    // With jobs, the one running beside a failing run goes on.
    divergence_and_failure_with(&["--jobs", "2"]);
}

fn divergence_and_failure_with(jobs: &[&str]) {
    let broken = spec("epochs = 2").replace(&tiny_set().display().to_string(), "broken") + "\n"; // same spec, the copy with a cut-short poster, bad_images = "error"
    let broken = broken.replace("resolution = 16", "resolution = 16\nbad_images = \"error\"");
    let p = project(&[
        (
            "sweep/a-diverges.toml",
            &spec("epochs = 2\nlr = 1e30\noptimizer = { kind = \"sgd\", momentum = 0.0 }"),
        ),
        ("sweep/b-fails.toml", &broken),
        ("sweep/c-trains.toml", &spec("epochs = 2")),
    ]);
    let poster = common::copy_of_tiny_set(p.path(), "broken");
    let whole = std::fs::read(&poster).unwrap();
    std::fs::write(&poster, &whole[..whole.len() / 2]).unwrap();

    let args = [&["-q", "run", "--no-report"][..], jobs, &["sweep"]].concat();
    let o = posterlab(p.path(), &args);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(
        out.contains("a-diverges: DIVERGED: the training loss became"),
        "{out}"
    );
    let name = poster.file_stem().unwrap().to_string_lossy().into_owned();
    assert!(out.contains("b-fails: FAILED: "), "{out}");
    assert!(
        out.contains(&name),
        "the message names the bad poster: {out}"
    );
    assert!(out.contains("c-trains: finished after 2 epochs"), "{out}");
    assert!(out.contains("1 finished, 1 diverged, 1 failed"), "{out}");
    let conn = db(p.path());
    let rows: Vec<(String, String, Option<i64>, Option<String>)> = conn
        .prepare("SELECT name, status, status_epoch, error FROM runs ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows[0].1, "diverged");
    assert_eq!(rows[0].2, Some(1));
    assert!(
        rows[0].3.as_deref().unwrap().contains("NaN")
            || rows[0].3.as_deref().unwrap().contains("inf")
    );
    assert_eq!(rows[1].1, "failed");
    assert!(rows[1].3.as_deref().unwrap().contains(&name), "{rows:?}");
    assert_eq!(rows[2].1, "finished");

    // Again: the diverged and finished runs are final, the failed one is
    // retried — and, its poster repaired, trains in the same run.
    std::fs::write(&poster, &whole).unwrap();
    let o = posterlab(p.path(), &args);
    let out = stdout(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("a-diverges: skipped, diverged in epoch 1"),
        "{out}"
    );
    assert!(out.contains("c-trains: skipped, finished"), "{out}");
    assert!(out.contains("b-fails: finished after 2 epochs"), "{out}");
    assert_eq!(count(&conn, "SELECT count(*) FROM runs"), 3);
    assert_eq!(
        count(&conn, "SELECT count(*) FROM runs WHERE status = 'finished' AND n_train > 0 AND dataset_hash != ''"),
        2
    );
}

#[cfg(not(feature = "cuda"))]
#[test]
fn a_cuda_spec_is_refused_at_once_by_a_cpu_build() {
    let p = project(&[
        ("a.toml", &spec("epochs = 1")),
        ("b.toml", &spec("epochs = 1\ndevice = \"cuda:1\"")),
    ]);
    let o = posterlab(p.path(), &["run", "a.toml", "b.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("1 run asks for CUDA (first: b on cuda:1)"),
        "{err}"
    );
    assert!(err.contains("--features cuda"), "{err}");
    assert!(
        !p.path().join("results/posterlab.sqlite").exists(),
        "nothing trained"
    );
    let o = posterlab(p.path(), &["run", "--device", "cuda", "a.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let o = posterlab(p.path(), &["bench", "--device", "cuda", "--steps", "1"]);
    assert!(stderr(&o).contains("built without CUDA"), "{}", stderr(&o));
}

#[test]
fn a_missing_data_set_stops_before_any_training() {
    let p = project(&[(
        "lost.toml",
        "[data]\ndataset = \"no/such/folder\"\n[train]\nepochs = 1\n",
    )]);
    let o = posterlab(p.path(), &["run", "lost.toml"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("no/such/folder"), "{err}");
    assert!(!p.path().join("results/posterlab.sqlite").exists());
}

#[test]
fn a_file_that_is_not_a_database_is_refused_with_a_hint() {
    let p = project(&[("tiny.toml", &spec("epochs = 1")), ("notes.txt", "not sqlite at all, but long enough to have a header...................................................................................")]);
    let o = posterlab(p.path(), &["run", "--db", "notes.txt", "tiny.toml"]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("notes.txt") && err.contains("--db"), "{err}");
    let o = posterlab(p.path(), &["runs"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("posterlab.sqlite: does not exist"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_lost_checkpoint_fails_the_run_with_a_way_out() {
    let p = project(&[("tiny.toml", &spec("epochs = 3"))]);
    let crashed = posterlab_crashing(p.path(), &["-q", "run", "tiny.toml"], "recorded@2");
    assert!(!crashed.status.success());
    for run in std::fs::read_dir(p.path().join("results/runs")).unwrap() {
        let run = run.unwrap().path();
        if run.is_dir() {
            std::fs::remove_dir_all(run).unwrap();
        }
    }
    let o = posterlab(p.path(), &["-q", "run", "tiny.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("cannot resume after epoch 2"), "{out}");
    assert!(out.contains("--force"), "{out}");
    let o = posterlab(p.path(), &["-q", "run", "--force", "tiny.toml"]);
    assert!(o.status.success(), "{}", stdout(&o));
}

#[test]
fn a_run_does_not_resume_on_changed_data() {
    let p = project(&[]);
    let first = common::copy_of_tiny_set(p.path(), "posters");
    let text = spec("epochs = 3").replace(&tiny_set().display().to_string(), "posters");
    std::fs::write(p.path().join("c.toml"), text).unwrap();
    let crashed = posterlab_crashing(p.path(), &["-q", "run", "c.toml"], "recorded@1");
    assert!(!crashed.status.success());
    // One poster repainted.
    std::fs::write(&first, common::jpeg(180, 268, [10, 200, 10])).unwrap();
    let o = posterlab(p.path(), &["-q", "run", "c.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.contains("was trained on other data"), "{out}");
    assert!(out.contains("--force"), "{out}");
}
