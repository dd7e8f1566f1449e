//! `posterlab predict` through the real binary: a tiny run trained on the
//! synthetic set predicts its own test posters with the probabilities it
//! stored for them; bad files are named and skipped with a failing exit
//! code; rules, refusals and `--out`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{posterlab, posterlab_crashing, shared_dir, spec, stderr, stdout};
use serde_json::Value;

/// A project with one finished two-epoch run of the tiny set (`tiny`, run
/// 1, its own rule `tuned_per_genre`: its predictions hang on thresholds
/// read back from the store), trained once for the tests that read it.
fn trained() -> &'static Path {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = shared_dir("predict");
        std::fs::write(
            dir.join("tiny.toml"),
            spec("epochs = 2\ndecision = \"tuned_per_genre\""),
        )
        .unwrap();
        let o = posterlab(&dir, &["-q", "run", "--no-report", "tiny.toml"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        dir
    })
}

/// What the run stored for each test poster: its image file, and per
/// genre its probability and whether it was predicted.
type Stored = BTreeMap<String, (PathBuf, BTreeMap<String, (f64, bool)>)>;

fn stored_test_predictions(dir: &Path) -> Stored {
    let conn = rusqlite::Connection::open(dir.join("results/posterlab.sqlite")).unwrap();
    let mut out = Stored::new();
    let mut stmt = conn
        .prepare(
            "SELECT p.poster, t.image, p.genre, p.probability, p.predicted FROM predictions p \
             JOIN test_posters t ON t.run_id = p.run_id AND t.poster = p.poster \
             WHERE p.run_id = 1 AND p.split = 'test'",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, f64>(3)?,
                r.get::<_, bool>(4)?,
            ))
        })
        .unwrap();
    for row in rows {
        let (poster, image, genre, probability, predicted) = row.unwrap();
        out.entry(poster)
            .or_insert_with(|| (PathBuf::from(image), BTreeMap::new()))
            .1
            .insert(genre, (probability, predicted));
    }
    out
}

/// `predict --format json` in `dir`: its exit status, the parsed output
/// and stderr.
fn predict_json(dir: &Path, args: &[&str]) -> (bool, Vec<Value>, String) {
    let mut all = vec!["predict", "--format", "json"];
    all.extend_from_slice(args);
    let o = posterlab(dir, &all);
    let parsed = serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&o), stderr(&o)));
    (o.status.success(), parsed, stderr(&o))
}

fn predicted_genres(poster: &Value) -> Vec<String> {
    poster["predicted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["genre"].as_str().unwrap().to_string())
        .collect()
}

/// A folder with `n` of the run's test posters copied in, by their names.
fn folder_of_test_posters(dir: &Path, n: usize) -> Vec<String> {
    std::fs::create_dir_all(dir).unwrap();
    stored_test_predictions(trained())
        .values()
        .take(n)
        .map(|(image, _)| {
            let name = image.file_name().unwrap().to_string_lossy().into_owned();
            std::fs::copy(image, dir.join(&name)).unwrap();
            name
        })
        .collect()
}

#[test]
fn predict_gives_the_probabilities_and_genres_the_run_stored_for_its_test_posters() {
    let dir = trained();
    let stored = stored_test_predictions(dir);
    assert_eq!(stored.len(), 30);
    let images: Vec<String> = stored
        .values()
        .map(|(image, _)| image.display().to_string())
        .collect();
    let mut args = vec!["tiny"];
    args.extend(images.iter().map(String::as_str));
    let db = dir.join("results/posterlab.sqlite");
    let before = std::fs::read(&db).unwrap();
    let (ok, posters, err) = predict_json(dir, &args);
    assert!(ok, "{err}");
    assert!(
        std::fs::read(&db).unwrap() == before,
        "predict only reads the database"
    );
    assert_eq!(posters.len(), stored.len(), "{err}");
    for ((poster, (image, genres)), out) in stored.iter().zip(&posters) {
        assert_eq!(out["path"].as_str().unwrap(), image.display().to_string());
        let probabilities = out["probabilities"].as_object().unwrap();
        assert_eq!(probabilities.len(), 25);
        let mut own: Vec<&str> = Vec::new();
        for (genre, (p, predicted)) in genres {
            let got = probabilities[genre].as_f64().unwrap();
            assert!(
                (got - p).abs() < 1e-6,
                "{poster} {genre}: predict says {got}, the run stored {p}"
            );
            if *predicted {
                own.push(genre);
            }
        }
        // The run's own rule, with the per-genre thresholds it recorded.
        let mut said = predicted_genres(out);
        said.sort();
        assert_eq!(said, own, "{poster}");
    }

    // The CSV carries the same numbers, one column per genre.
    let o = posterlab(dir, &["predict", "tiny", &images[0], "--format", "csv"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let text = stdout(&o);
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().clone();
    assert_eq!((&header[0], &header[1]), ("path", "predicted"));
    assert_eq!(header.len(), 2 + 25);
    let row = reader.records().next().unwrap().unwrap();
    let genres = &stored.values().next().unwrap().1;
    for (name, value) in header.iter().zip(row.iter()).skip(2) {
        let want = genres[name].0;
        assert!(
            (value.parse::<f64>().unwrap() - want).abs() < 1e-6,
            "{name}"
        );
    }
}

#[test]
fn a_folder_is_its_posters_and_bad_files_are_named_skipped_and_fail_the_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("new");
    let mut good = folder_of_test_posters(&folder, 3);
    let cut = std::fs::read(folder.join(&good[0])).unwrap();
    std::fs::write(folder.join("broken.jpg"), &cut[..cut.len() / 2]).unwrap();
    std::fs::write(folder.join("notes.txt"), "not a poster").unwrap();
    std::fs::write(folder.join(".hidden.jpg"), "ignored").unwrap();
    std::fs::create_dir(folder.join("more")).unwrap();

    let (ok, posters, err) = predict_json(trained(), &["1", folder.to_str().unwrap()]);
    assert!(!ok, "a poster that could not be read fails the exit code");
    good.sort();
    let paths: Vec<String> = posters
        .iter()
        .map(|p| p["path"].as_str().unwrap().to_string())
        .collect();
    let want: Vec<String> = good
        .iter()
        .map(|n| folder.join(n).display().to_string())
        .collect();
    assert_eq!(paths, want, "the good posters, by name: {err}");
    assert!(err.contains("broken.jpg: truncated"), "{err}");
    assert!(err.contains("notes.txt: undecodable"), "{err}");
    assert!(!err.contains(".hidden"), "{err}");
    assert!(err.contains("1 subfolder not searched"), "{err}");
    assert!(err.contains("3 posters predicted; 2 inputs not"), "{err}");

    // Every poster good: success.
    let (ok, posters, err) = predict_json(
        trained(),
        &[
            "1",
            folder.join(&good[0]).to_str().unwrap(),
            folder.join(&good[1]).to_str().unwrap(),
        ],
    );
    assert!(ok && posters.len() == 2, "{err}");
}

#[test]
fn an_empty_folder_and_a_missing_file_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    let o = posterlab(
        trained(),
        &["predict", "1", dir.path().join("empty").to_str().unwrap()],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no poster files in this folder"),
        "{}",
        stderr(&o)
    );
    assert!(
        stderr(&o).contains("no poster to predict"),
        "{}",
        stderr(&o)
    );

    let o = posterlab(trained(), &["predict", "1", "no-such.jpg"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no-such.jpg: missing"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn another_decision_rule_applies_to_every_poster() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("new");
    folder_of_test_posters(&folder, 4);
    let f = folder.to_str().unwrap();
    let (ok, posters, err) = predict_json(trained(), &["1", f, "--decision", "top_k:2"]);
    assert!(ok, "{err}");
    assert_eq!(posters.len(), 4);
    for p in &posters {
        let said = predicted_genres(p);
        assert_eq!(said.len(), 2, "{p}");
        // The two most probable of all.
        let mut all: Vec<f64> = p["probabilities"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_f64().unwrap())
            .collect();
        all.sort_by(|a, b| b.total_cmp(a));
        let top: Vec<f64> = p["predicted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["probability"].as_f64().unwrap())
            .collect();
        assert_eq!(top, all[..2]);
    }
    // A threshold every probability is below predicts nothing; the table
    // says so, and names the rule.
    let o = posterlab(
        trained(),
        &["predict", "1", f, "--decision", "threshold:0.999"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let table = stdout(&o);
    assert!(
        table.starts_with("posterlab predict: run 1 tiny (epoch "),
        "{table}"
    );
    assert!(table.contains("decision threshold:0.999"), "{table}");
    assert_eq!(
        table.lines().filter(|l| l.contains("  -  ")).count(),
        4,
        "{table}"
    );
    // A tuned rule is tuned on the run's stored validation predictions.
    let (ok, _, err) = predict_json(trained(), &["1", f, "--decision", "tuned"]);
    assert!(ok, "{err}");
    let o = posterlab(trained(), &["predict", "1", f, "--decision", "best"]);
    assert_eq!(o.status.code(), Some(2), "clap refuses an unknown rule");
    assert!(
        stderr(&o).contains("unknown decision rule"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_run_that_did_not_finish_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cut.toml"), spec("epochs = 3")).unwrap();
    let o = posterlab_crashing(
        dir.path(),
        &["-q", "run", "--no-report", "cut.toml"],
        "recorded@1",
    );
    assert!(!o.status.success(), "the crash hook aborts the run");
    let poster = folder_of_test_posters(&dir.path().join("new"), 1).remove(0);
    let o = posterlab(
        dir.path(),
        &[
            "predict",
            "cut",
            dir.path().join("new").join(poster).to_str().unwrap(),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("run 1 cut is running: only a finished run has tested weights"),
        "{err}"
    );
    assert!(err.contains("posterlab run SPEC"), "says what to do: {err}");
    assert!(stdout(&o).is_empty());
}

#[test]
fn out_writes_a_file_and_replaces_only_its_own_kind() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("new");
    folder_of_test_posters(&folder, 2);
    let f = folder.to_str().unwrap();
    let out = dir.path().join("genres.csv");
    let o_ = out.to_str().unwrap();
    for _ in 0..2 {
        let o = posterlab(
            trained(),
            &["predict", "1", f, "--format", "csv", "--out", o_],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stdout(&o).is_empty());
        assert!(
            stderr(&o).contains("wrote the predictions for 2 posters"),
            "{}",
            stderr(&o)
        );
    }
    assert_eq!(std::fs::read_to_string(&out).unwrap().lines().count(), 3);
    // Not over another format's output, nor over a file of the user's.
    let o = posterlab(
        trained(),
        &["predict", "1", f, "--format", "json", "--out", o_],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("not a predict JSON file"),
        "{}",
        stderr(&o)
    );
    let mine = dir.path().join("mine.json");
    std::fs::write(&mine, "[1, 2]").unwrap();
    let o = posterlab(
        trained(),
        &[
            "predict",
            "1",
            f,
            "--format",
            "json",
            "--out",
            mine.to_str().unwrap(),
        ],
    );
    assert!(!o.status.success());
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "[1, 2]");
}
