//! The real binary on small fixtures in a temporary folder.

mod common;

use common::*;

const SWEEP: &str = r#"
[experiment]
name = "abl"
[data]
dataset = "syn"
[sweep.grid]
"model.arch" = ["cnn", "cnn_rnn"]
"train.seed" = [1, 2]
"#;

#[test]
fn dry_run_lists_every_run_with_hash_and_swept_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("exp")).unwrap();
    std::fs::write(dir.path().join("exp/abl.toml"), SWEEP).unwrap();
    std::fs::write(dir.path().join("exp/one.toml"), "[train]\nepochs = 2\n").unwrap();
    std::fs::write(dir.path().join("exp/notes.txt"), "not a spec").unwrap();

    let out = posterlab(dir.path(), &["run", "--dry-run", "exp"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("RUN") && lines[0].contains("HASH") && lines[0].contains("SWEPT"),
        "{text}"
    );
    assert!(lines[1].starts_with("abl[arch=cnn,seed=1]"), "{text}");
    assert!(
        lines[1].ends_with("model.arch=\"cnn\" train.seed=1"),
        "{text}"
    );
    assert!(lines[4].starts_with("abl[arch=cnn_rnn,seed=2]"), "{text}");
    assert!(lines[5].starts_with("one "), "{text}");
    assert!(text.contains("5 runs from 2 spec files"), "{text}");
    assert!(
        text.contains("data set syn: NOT FOUND"),
        "a missing data set is flagged before a night is lost: {text}"
    );
    assert!(
        text.contains("data set synthetic: made on first run"),
        "{text}"
    );

    // Hashes are 12 hex digits and differ between runs.
    let hashes: Vec<&str> = lines[1..6]
        .iter()
        .map(|l| l.split_whitespace().nth(1).unwrap())
        .collect();
    assert!(
        hashes
            .iter()
            .all(|h| h.len() == 12 && h.chars().all(|c| c.is_ascii_hexdigit())),
        "{hashes:?}"
    );
    let unique: std::collections::HashSet<_> = hashes.iter().collect();
    assert_eq!(unique.len(), 5);

    // The same spec named twice runs once.
    let twice = posterlab(
        dir.path(),
        &["run", "--dry-run", "exp/one.toml", "exp/one.toml"],
    );
    assert!(
        stdout(&twice).contains("same run as one"),
        "{}",
        stdout(&twice)
    );
    assert!(
        stdout(&twice).contains("1 run from 1 spec file (1 listed twice)"),
        "{}",
        stdout(&twice)
    );
}

const RANDOM: &str = r#"
[experiment]
name = "r"
[sweep.grid]
"train.seed" = [1, 2]
[sweep.random]
n = 2
seed = 7
"train.lr" = { log_uniform = [1e-4, 1e-2] }
"train.loss" = { choice = ["bce", "focal"] }
"#;

#[test]
fn dry_run_and_spec_show_list_the_sampled_values() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("r.toml"), RANDOM).unwrap();
    let out = posterlab(dir.path(), &["run", "--dry-run", "r.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    // Seed 7's first two samples (tests/specs.rs pins them), for each
    // training seed: the grid turns slowest.
    let expected = [
        (
            "r[seed=1,lr=0.0018,loss=focal]",
            "train.seed=1 train.lr=0.0018 train.loss=\"focal\"",
        ),
        (
            "r[seed=1,lr=0.002635,loss=focal]",
            "train.seed=1 train.lr=0.002635 train.loss=\"focal\"",
        ),
        (
            "r[seed=2,lr=0.0018,loss=focal]",
            "train.seed=2 train.lr=0.0018 train.loss=\"focal\"",
        ),
        (
            "r[seed=2,lr=0.002635,loss=focal]",
            "train.seed=2 train.lr=0.002635 train.loss=\"focal\"",
        ),
    ];
    for (line, (name, swept)) in lines[1..5].iter().zip(expected) {
        assert!(line.starts_with(name) && line.ends_with(swept), "{text}");
    }
    assert!(text.contains("4 runs from 1 spec file"), "{text}");

    let show = stdout(&posterlab(dir.path(), &["spec", "show", "r.toml"]));
    let runs: Vec<&str> = show.split("# run ").skip(1).collect();
    assert_eq!(runs.len(), 4, "{show}");
    assert!(
        runs[1].starts_with("r[seed=1,lr=0.002635,loss=focal]  (hash "),
        "{show}"
    );
    assert!(
        runs[1].contains("\nlr = 0.002635\n")
            && runs[1].contains("\nloss = { kind = \"focal\", gamma = 2.0, alpha = 0.25 }\n")
            && runs[1].contains("\nseed = 1\n"),
        "{show}"
    );
    // show and dry-run agree on each run's hash.
    for (run, line) in runs.iter().zip(&lines[1..5]) {
        let short = line.split_whitespace().nth(1).unwrap();
        assert!(run.contains(&format!("(hash {short}")), "{run}\n{line}");
    }
}

#[test]
fn the_shipped_random_search_lists_its_samples() {
    let dir = tempfile::tempdir().unwrap();
    let spec = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments/random-lr.toml");
    let out = posterlab(dir.path(), &["run", "--dry-run", spec.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let runs: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("random-lr["))
        .collect();
    assert_eq!(runs.len(), 16, "{text}");
    for line in &runs {
        let swept = line.split("  ").last().unwrap();
        assert!(
            swept.contains("train.lr=") && swept.contains("train.batch_size="),
            "{line}"
        );
    }
    assert!(text.contains("16 runs from 1 spec file"), "{text}");
}

#[test]
fn bad_specs_fail_with_every_location() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "[train]\nlr_rate = 0.1\n").unwrap();
    std::fs::write(dir.path().join("b.toml"), "[model]\narch = \"rnn\"\n").unwrap();
    let out = posterlab(dir.path(), &["run", "--dry-run", "a.toml", "b.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("a.toml:2:1: unknown key `lr_rate` in [train]"),
        "{err}"
    );
    assert!(err.contains("did you mean `lr`?"), "{err}");
    assert!(
        err.contains("b.toml:2:8: `model.arch` must be one of"),
        "{err}"
    );
    assert!(err.contains("2 problems in the specs"), "{err}");
    assert!(stdout(&out).is_empty());

    let missing = posterlab(dir.path(), &["run", "--dry-run", "nope.toml"]);
    assert!(
        stderr(&missing).contains("nope.toml: no such spec file or directory"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn data_stats_with_a_spec_shows_the_split() {
    let dir = tempfile::tempdir().unwrap();
    assert!(posterlab(
        dir.path(),
        &["synth", "--out", "syn", "--count", "60", "--seed", "2"]
    )
    .status
    .success());
    std::fs::write(
        dir.path().join("s.toml"),
        "[data]\nresolution = 32\ntest_fraction = 0.25\nval_fraction = 0.25\n",
    )
    .unwrap();

    let out = posterlab(dir.path(), &["data", "stats", "syn", "--spec", "s.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("data set      syn/train.csv (multilabel)"),
        "{text}"
    );
    assert!(
        text.contains("posters       60 listed, 60 usable"),
        "{text}"
    );
    assert!(
        text.contains("split         train 30, val 15, test 15"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("genre") && l.contains("train") && l.contains("test")),
        "{text}"
    );
    assert!(stderr(&out).contains("loaded at 32px"), "{}", stderr(&out));
    assert!(
        dir.path().join("results/cache").is_dir(),
        "the cache lives under results/"
    );

    let again = posterlab(dir.path(), &["data", "stats", "syn", "--spec", "s.toml"]);
    assert!(
        stderr(&again).contains("from the cache"),
        "{}",
        stderr(&again)
    );
    assert_eq!(stdout(&again), text, "the same numbers from the cache");

    let missing = posterlab(dir.path(), &["data", "stats", "nowhere"]);
    assert!(!missing.status.success());
    assert!(
        stderr(&missing).contains("nowhere: data set not found"),
        "{}",
        stderr(&missing)
    );
}

#[test]
fn spec_show_prints_the_resolved_spec_and_its_hash() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.toml"), "[train]\nlr = 1e-2\n").unwrap();
    let out = posterlab(dir.path(), &["spec", "show", "a.toml"]);
    assert!(out.status.success());
    let text = stdout(&out);
    assert!(text.starts_with("# run a  (hash "), "{text}");
    assert!(
        text.contains("lr = 0.01\n") && text.contains("[model]\narch = \"cnn\""),
        "{text}"
    );
    let dry = stdout(&posterlab(dir.path(), &["run", "--dry-run", "a.toml"]));
    let short = dry
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert!(
        text.contains(&format!("(hash {short}")),
        "show and dry-run agree on the hash"
    );

    let defaults = posterlab(dir.path(), &["spec", "defaults"]);
    assert!(stdout(&defaults).contains("[train]\n") && stdout(&defaults).contains("lr = 0.001"));
}

#[test]
fn bench_reports_throughput_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = posterlab(
        dir.path(),
        &[
            "bench",
            "--res",
            "16",
            "--batch",
            "4",
            "--steps",
            "2",
            "--warmup",
            "1",
            "--threads",
            "1",
            "--json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    // The seed CNN at 16 px: its convs and batch norms (168,128) + dense 64→128→64→25.
    assert_eq!(
        report["params"],
        168_128 + (64 * 128 + 128) + (128 * 64 + 64) + (64 * 25 + 25)
    );
    for key in [
        "train_images_per_sec",
        "eval_images_per_sec",
        "train_gflops",
        "forward_mflop_per_image",
    ] {
        assert!(report[key].as_f64().unwrap() > 0.0, "{key}: {report}");
    }
    assert_eq!(
        (
            report["arch"].as_str(),
            report["kernels"].as_str(),
            report["threads"].as_u64()
        ),
        (Some("cnn"), Some("fast"), Some(1))
    );

    let small = posterlab(dir.path(), &["bench", "--res", "12"]);
    assert!(!small.status.success());
    assert!(
        stderr(&small).contains("--res 12 is too small")
            && stderr(&small).contains("--res 16 or more"),
        "{}",
        stderr(&small)
    );
}
