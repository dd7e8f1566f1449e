//! Decision rules end to end: `train.decision` leaves every earlier hash
//! alone, a rule set in the spec and the same rule applied by `rescore` to
//! a run trained without it give the same test metrics, tuning never reads
//! test labels, runs recorded before validation predictions were stored say
//! what a tuned rule needs, and `show`, `export` and `report --decision`
//! show the rescores.

mod common;

use std::path::{Path, PathBuf};

use common::{posterlab, project, spec, stderr, stdout};
use rusqlite::Connection;

fn fixture_db() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/db-v1/posterlab.sqlite")
}

#[test]
fn every_spec_recorded_before_train_decision_keeps_its_hash() {
    let conn =
        Connection::open_with_flags(fixture_db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let mut stmt = conn
        .prepare("SELECT name, spec_hash, spec_toml FROM runs")
        .unwrap();
    let runs: Vec<(String, String, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(runs.len(), 9);
    for (name, hash, toml) in runs {
        let spec = &posterlab::spec::load_str(Path::new("recorded.toml"), &toml).unwrap()[0];
        assert_eq!(
            spec.hash(),
            hash,
            "{name}: its finished run would be retrained"
        );
    }
    // Writing the loss's own rule out is the same run.
    let text = |extra: &str| format!("[train]\nloss = \"categorical_ce\"\n{extra}");
    let load = |t: &str| posterlab::spec::load_str(Path::new("a.toml"), t).unwrap()[0].hash();
    assert_eq!(load(&text("")), load(&text("decision = \"relative\"\n")));
    assert_ne!(load(&text("")), load(&text("decision = \"tuned\"\n")));
}

/// The tiny run trained under its loss's own rule, `tuned` and
/// `tuned_per_genre` (the same training, three hashes), in one project.
fn trained() -> &'static PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = common::shared_dir("decision");
        let body = spec("epochs = 3\nseed = 4");
        for (file, extra) in [
            ("plain.toml", ""),
            ("tuned.toml", "decision = \"tuned\"\n"),
            ("per-genre.toml", "decision = \"tuned_per_genre\"\n"),
            ("top2.toml", "decision = { kind = \"top_k\", k = 2 }\n"),
        ] {
            let name = file.trim_end_matches(".toml");
            let text = format!("[experiment]\nname = \"{name}\"\n{body}{extra}");
            std::fs::write(dir.join(file), text).unwrap();
        }
        let o = posterlab(
            &dir,
            &[
                "run",
                "--quiet",
                "plain.toml",
                "tuned.toml",
                "per-genre.toml",
                "top2.toml",
            ],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        dir
    })
}

/// A copy of the trained project's database, to change.
fn copy_of_db(dir: &Path) -> PathBuf {
    let db = dir.join("copy.sqlite");
    std::fs::copy(trained().join("results/posterlab.sqlite"), &db).unwrap();
    db
}

/// The `export` CSV rows (header first) of the runs `selectors`.
fn export(db: &Path, selectors: &[&str]) -> Vec<Vec<String>> {
    let mut args = vec!["--db", db.to_str().unwrap(), "export"];
    args.extend(selectors);
    let o = posterlab(db.parent().unwrap(), &args);
    assert!(o.status.success(), "{}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

/// The test rows of an export, each without its run id and name.
fn test_rows(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    let split = rows[0].iter().position(|c| c == "split").unwrap();
    rows[1..]
        .iter()
        .filter(|r| r[split] == "test")
        .map(|r| r[2..].to_vec())
        .collect()
}

#[test]
fn rescoring_gives_what_the_rule_gives_when_set_in_the_spec_and_trained() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_db(dir.path());
    let db_arg = db.to_str().unwrap();
    for (rule, trained_with) in [
        ("tuned", "tuned"),
        ("tuned_per_genre", "per-genre"),
        ("top_k:2", "top2"),
    ] {
        let o = posterlab(
            dir.path(),
            &["--db", db_arg, "rescore", "plain", "--decision", rule],
        );
        assert!(o.status.success(), "{rule}: {}", stderr(&o));
        assert!(stdout(&o).contains(rule), "{}", stdout(&o));
        // The rescored row of `plain` is the trained run's own test row.
        let plain = test_rows(&export(&db, &["plain"]));
        let rescored = plain
            .iter()
            .find(|r| r[2] == rule)
            .unwrap_or_else(|| panic!("no {rule} row in {plain:?}"));
        let own = test_rows(&export(&db, &[trained_with]));
        assert_eq!(own.len(), 1);
        assert_eq!(rescored, &own[0], "{rule}");
    }
    // The run's own row is still there, under its own rule.
    let plain = test_rows(&export(&db, &["plain"]));
    assert_eq!(plain.len(), 4);
    assert!(plain.iter().any(|r| r[2] == "threshold:0.5"));
    // Tuned thresholds were recorded once per rule, the same for both runs.
    let thresholds = |run: &str, rule: &str| {
        common::rows_as_text(
            &db,
            &[&format!(
                "SELECT t.genre, t.threshold FROM thresholds t JOIN runs r ON r.id = t.run_id \
                 WHERE r.name = '{run}' AND t.rule = '{rule}' ORDER BY t.genre"
            )],
        )
    };
    assert_eq!(thresholds("plain", "tuned").len(), 1);
    assert_eq!(thresholds("plain", "tuned"), thresholds("tuned", "tuned"));
    assert_eq!(
        thresholds("plain", "tuned_per_genre"),
        thresholds("per-genre", "tuned_per_genre")
    );
    assert!(thresholds("plain", "tuned_per_genre").len() > 1);

    // show lists them; report --decision tables them.
    let o = posterlab(dir.path(), &["--db", db_arg, "show", "plain"]);
    let text = stdout(&o);
    assert!(text.contains("re-scored"), "{text}");
    for rule in ["tuned ", "tuned_per_genre", "top_k:2"] {
        assert!(text.contains(rule), "{rule}: {text}");
    }
    let o = posterlab(
        dir.path(),
        &[
            "--db",
            db_arg,
            "report",
            "--out",
            "r",
            "plain",
            "--decision",
            "tuned",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = std::fs::read_to_string(dir.path().join("r/results.md")).unwrap();
    assert!(table.contains("Decision rule: `tuned`"), "{table}");
    let tuned = export(&db, &["tuned"]);
    let f1 = tuned[0].iter().position(|c| c == "micro_f1").unwrap() - 2;
    let want: f64 = test_rows(&tuned)[0][f1].parse().unwrap();
    assert!(
        table.contains(&format!("{want:.3}")),
        "{want:.3} in {table}"
    );
    // A rule no run was re-scored under says how to get it.
    let o = posterlab(
        dir.path(),
        &[
            "--db",
            db_arg,
            "report",
            "--out",
            "r2",
            "plain",
            "--decision",
            "top_k:3",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("posterlab rescore") && stderr(&o).contains("--decision top_k:3"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn tuning_never_reads_the_test_labels() {
    let dir = tempfile::tempdir().unwrap();
    let db = copy_of_db(dir.path());
    let db_arg = db.to_str().unwrap();
    let thresholds = || {
        common::rows_as_text(
            &db,
            &[
                "SELECT t.rule, t.genre, t.threshold FROM thresholds t JOIN runs r \
               ON r.id = t.run_id WHERE r.name = 'plain' ORDER BY t.rule, t.genre",
            ],
        )
    };
    let micro_f1 = || {
        common::rows_as_text(
            &db,
            &[
                "SELECT s.micro_f1 FROM rescores s JOIN runs r ON r.id = s.run_id \
               WHERE r.name = 'plain' ORDER BY s.rule",
            ],
        )
    };
    let rescore = || {
        for rule in ["tuned", "tuned_per_genre"] {
            let o = posterlab(
                dir.path(),
                &["--db", db_arg, "rescore", "plain", "--decision", rule],
            );
            assert!(o.status.success(), "{}", stderr(&o));
        }
    };
    rescore();
    let (before, f1_before) = (thresholds(), micro_f1());
    assert!(!before.is_empty());
    // Every test label flipped: the test metrics move, the thresholds don't.
    Connection::open(&db)
        .unwrap()
        .execute(
            "UPDATE predictions SET truth = 1 - truth WHERE split = 'test'",
            [],
        )
        .unwrap();
    rescore();
    assert_eq!(thresholds(), before);
    assert_ne!(micro_f1(), f1_before, "the test labels did change");
}

#[test]
fn runs_recorded_before_validation_predictions_need_a_retrain_for_a_tuned_rule_only() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.sqlite");
    std::fs::copy(fixture_db(), &db).unwrap();
    let db_arg = db.to_str().unwrap();
    let o = posterlab(
        dir.path(),
        &["--db", db_arg, "rescore", "--decision", "tuned"],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("validation predictions") && err.contains("posterlab run --force"),
        "{err}"
    );
    // A rule that tunes nothing works on them.
    let o = posterlab(
        dir.path(),
        &["--db", db_arg, "rescore", "--decision", "top_k:3"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let n: i64 = Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM rescores WHERE rule = 'top_k:3'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(n >= 5, "{n} finished runs re-scored");
}

#[test]
fn a_malformed_rule_is_refused_before_anything_is_opened() {
    let dir = project(&[]);
    for bad in ["top_k", "threshold:1.5", "best"] {
        let o = posterlab(dir.path(), &["rescore", "--decision", bad]);
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains("tuned_per_genre"),
            "{bad}: {}",
            stderr(&o)
        );
    }
    assert!(!dir.path().join("results").exists(), "no database made");
}
