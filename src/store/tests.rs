//! Every row type written and read back: what the store was given is what
//! it gives back.

use std::path::{Path, PathBuf};

use super::*;
use crate::metric::{Metric, Split};
use crate::spec::Rule;
use crate::train::decision::Decided;
use crate::train::metrics::{evaluate, Decision};
use crate::train::record::{EpochRecord, Scored, SplitResult, TestRecord};

pub(super) fn new_run(name: &str) -> NewRun {
    NewRun {
        name: name.to_string(),
        experiment: "exp".into(),
        tags: vec!["a".into(), "b c".into()],
        spec_hash: "ab".repeat(32),
        spec_toml: "[train]\nseed = 2\n".into(),
        spec_file: "experiments/exp.toml".into(),
        swept: vec![
            ("train.seed".into(), "2".into()),
            ("model.arch".into(), "\"cnn\"".into()),
        ],
        epochs_planned: 5,
        monitor: "val_loss".into(),
        decision: "threshold".into(),
        threshold: 0.5,
        genres: vec!["Action".into(), "Comedy".into()],
        dataset: "posters".into(),
        dataset_csv: "posters/train.csv".into(),
        dataset_hash: "cd".repeat(32),
        split_sizes: [7, 2, 3],
        params: 1234,
        device: "cpu".into(),
        host: "here".into(),
        git_commit: Some("f00".into()),
        version: "0.1.0".into(),
        checkpoint_dir: "/ck/run".into(),
    }
}

/// The test results of three posters (p2, p1, p3: [`TARGETS`], [`SCORES`])
/// under the weights of epoch `best`.
pub(super) fn test_record(best: usize) -> TestRecord {
    TestRecord {
        epoch: best,
        result: split(0.25),
        test: Scored {
            posters: vec!["p2".into(), "p1".into(), "p3".into()],
            targets: TARGETS.to_vec(),
            scores: SCORES.to_vec(),
        },
        images: ["/d/p2.jpg", "/d/p1.jpg", "/d/p3.jpg"]
            .map(PathBuf::from)
            .to_vec(),
        // Validation: the same scores on other posters, in reverse.
        val: Scored {
            posters: vec!["v3".into(), "v2".into(), "v1".into()],
            targets: TARGETS.to_vec(),
            scores: SCORES.to_vec(),
        },
        decided: Decided {
            decision: Decision::Threshold(0.5),
            tuned: None,
        },
        stopped_early: false,
    }
}

/// Three posters, two genres.
pub(super) const TARGETS: [u8; 6] = [1, 0, 0, 1, 1, 1];
pub(super) const SCORES: [f32; 6] = [0.9, 0.2, 0.4, 0.7, 0.6, 0.3];

pub(super) fn split(loss: f64) -> SplitResult {
    SplitResult {
        posters: 3,
        loss,
        metrics: evaluate(&TARGETS, &SCORES, 2, &Decision::Threshold(0.5)),
    }
}

fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("p.sqlite")).unwrap();
    (dir, store)
}

#[test]
fn a_new_run_reads_back_as_it_was_recorded() {
    let (_dir, mut store) = open();
    let new = new_run("exp[seed=2]");
    let id = store.create_run(&new, "u1").unwrap();
    let runs = store.runs().unwrap();
    let r = &runs[0];
    assert_eq!((r.id, r.uid.as_str()), (id, "u1"));
    assert_eq!(
        (&r.name, &r.experiment, &r.tags),
        (&new.name, &new.experiment, &new.tags)
    );
    assert_eq!(
        (&r.spec_hash, &r.spec_toml),
        (&new.spec_hash, &new.spec_toml)
    );
    assert_eq!(r.swept, new.swept, "swept values keep their order");
    assert_eq!((r.epochs_planned, r.epochs_done), (5, 0));
    assert_eq!(&r.genres, &new.genres);
    assert_eq!(
        (&r.dataset, &r.dataset_csv, &r.dataset_hash),
        (&new.dataset, &new.dataset_csv, &new.dataset_hash)
    );
    assert_eq!(r.checkpoint_dir, Path::new("/ck/run"));
    assert_eq!(
        (r.monitor, r.rule, r.threshold),
        (Metric::Loss, Rule::Threshold, 0.5)
    );
    assert_eq!(
        (r.status, r.best_epoch, r.best_val_loss, r.test_micro_f1),
        (Status::Running, None, None, None)
    );
    assert_eq!(store.latest_run(&new.spec_hash).unwrap().as_ref(), Some(r));
    assert_eq!(store.latest_run("00").unwrap(), None);
}

#[test]
fn an_epoch_reads_back_with_its_metrics_and_genre_counts() {
    let (_dir, mut store) = open();
    let id = store.create_run(&new_run("r"), "u1").unwrap();
    let record = EpochRecord {
        epoch: 1,
        lr: 1e-3,
        seconds: 2.5,
        images_per_sec: 1.2,
        train: split(0.75),
        val: split(0.5),
        best_epoch: 1,
    };
    store
        .record_epoch(id, &record, Path::new("/ck/run/epoch-0001.safetensors"))
        .unwrap();
    assert_eq!(store.epochs_done(id).unwrap(), 1);
    let rows = store.epochs(id).unwrap();
    assert_eq!(rows.len(), 2);
    for (row, (name, result)) in rows
        .iter()
        .zip([("train", &record.train), ("val", &record.val)])
    {
        assert_eq!(
            (row.run_id, row.run.as_str(), row.epoch, row.split.as_str()),
            (id, "r", 1, name)
        );
        assert_eq!(
            (row.lr, row.seconds, row.images_per_sec),
            (Some(1e-3), Some(2.5), Some(1.2))
        );
        assert_eq!((row.posters, row.loss), (3, Some(result.loss)));
        for metric in Metric::ALL {
            assert_eq!(row.value(metric), result.value(metric), "{metric}");
        }
    }
    let genres = store.genre_counts(id, Split::Val, 1).unwrap();
    let names: Vec<&str> = genres.iter().map(|g| g.genre.as_str()).collect();
    assert_eq!(names, ["Action", "Comedy"]);
    let counts: Vec<_> = genres.iter().map(|g| g.counts).collect();
    assert_eq!(counts, record.val.metrics.per_genre);
    let run = &store.runs().unwrap()[0];
    assert_eq!(
        (run.epochs_done, run.best_epoch, run.best_val_loss),
        (1, Some(1), Some(0.5))
    );
}

#[test]
fn the_test_results_read_back_poster_by_poster() {
    let (_dir, mut store) = open();
    let id = store.create_run(&new_run("r"), "u1").unwrap();
    let record = TestRecord {
        stopped_early: true,
        ..test_record(1)
    };
    store.record_test(id, &record).unwrap();
    let predictions = store.predictions(id, Split::Test).unwrap();
    // In poster id order, each genre in the run's order.
    let want = [
        ("p1", [false, true], [0.4, 0.7], [false, true]),
        ("p2", [true, false], [0.9, 0.2], [true, false]),
        ("p3", [true, true], [0.6, 0.3], [true, false]),
    ];
    assert_eq!(predictions.len(), 3);
    for (p, (poster, truth, probability, predicted)) in predictions.iter().zip(want) {
        assert_eq!(
            (p.poster.as_str(), p.truth.as_slice()),
            (poster, &truth[..])
        );
        assert_eq!(p.probability, probability, "f32 scores are stored exactly");
        assert_eq!(p.predicted, predicted);
    }
    let val = store.predictions(id, Split::Val).unwrap();
    let names: Vec<&str> = val.iter().map(|p| p.poster.as_str()).collect();
    assert_eq!(names, ["v1", "v2", "v3"]);
    assert_eq!(val[2].probability, [0.9, 0.2], "v3 has p2's scores");
    let images = store.test_images(id).unwrap();
    assert_eq!(images.len(), 3);
    assert_eq!(images["p1"], Path::new("/d/p1.jpg"));
    let test = store.epochs(id).unwrap().pop().unwrap();
    assert_eq!(
        (test.split.as_str(), test.lr, test.loss),
        ("test", None, Some(0.25))
    );
    let run = &store.runs().unwrap()[0];
    assert_eq!((run.status, run.stopped_early), (Status::Finished, true));
    assert_eq!(run.test_micro_f1, Some(record.result.metrics.micro_f1));
    assert!(run.finished_at.is_some());
}

#[test]
fn a_tuned_rules_thresholds_and_a_rescore_read_back_beside_the_runs_own() {
    let (_dir, mut store) = open();
    let id = store.create_run(&new_run("r"), "u1").unwrap();
    let tuned = Decided {
        decision: Decision::PerGenre(vec![0.3, 0.65]),
        tuned: Some(0.45),
    };
    let record = TestRecord {
        decided: tuned.clone(),
        ..test_record(1)
    };
    store.record_test(id, &record).unwrap();
    // The run's own rule is `threshold` (new_run), so its thresholds are
    // filed under that name; the predicted flags follow the decision.
    let genres = ["Action".to_string(), "Comedy".to_string()];
    let mut want = tuned.thresholds(&genres);
    let mut got = store.thresholds(id, "threshold").unwrap();
    want.sort_by(|a, b| a.0.cmp(&b.0));
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got, want);
    let p3 = &store.predictions(id, Split::Test).unwrap()[2];
    assert_eq!(p3.predicted, [true, false], "0.6 > 0.3, 0.3 < 0.65");

    let metrics = evaluate(&TARGETS, &SCORES, 2, &Decision::TopK(1));
    store
        .record_rescore(id, "top_k:1", 1, 3, &metrics, &[])
        .unwrap();
    // Again: replaced, not added.
    store
        .record_rescore(id, "top_k:1", 1, 3, &metrics, &[])
        .unwrap();
    let rescores = store.rescores(id).unwrap();
    assert_eq!(rescores.len(), 1);
    assert_eq!(
        (
            rescores[0].rule.as_str(),
            rescores[0].epoch,
            rescores[0].posters
        ),
        ("top_k:1", 1, 3)
    );
    assert_eq!(rescores[0].metrics, metrics, "per-genre counts included");
    let own = store.epochs(id).unwrap().pop().unwrap();
    assert_eq!(
        own.micro_f1, record.result.metrics.micro_f1,
        "the run's own are kept"
    );
}

#[test]
fn a_status_and_its_reason_read_back() {
    let (_dir, mut store) = open();
    let id = store.create_run(&new_run("r"), "u1").unwrap();
    store
        .set_status(id, Status::Diverged, Some(2), Some("loss became NaN"))
        .unwrap();
    let run = &store.runs().unwrap()[0];
    assert_eq!(
        (run.status, run.status_epoch, run.error.as_deref()),
        (Status::Diverged, Some(2), Some("loss became NaN"))
    );
    store.resume_run(id, "cpu", "there").unwrap();
    let run = &store.runs().unwrap()[0];
    assert_eq!(
        (run.status, run.status_epoch, run.error.as_deref()),
        (Status::Running, None, None)
    );
    for status in [
        Status::Running,
        Status::Finished,
        Status::Failed,
        Status::Interrupted,
        Status::Diverged,
    ] {
        assert_eq!(Status::parse(status.as_str()), Some(status));
    }
}
