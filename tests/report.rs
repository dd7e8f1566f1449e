//! `posterlab report` end to end: a tiny sweep (two configurations × two
//! seeds), a one-epoch run, a diverged run and a run still in progress are
//! trained through the real binary; the report must be valid SVG, the same
//! bytes twice, complete, and clear about what it cannot show.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{posterlab, posterlab_crashing, stderr, stdout};

/// A project with a 120-poster synthetic set and its runs trained once.
fn trained() -> &'static Path {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = common::shared_dir("report");
        let o = posterlab(&dir, &["synth", "--out", "posters", "--count", "120", "--seed", "5"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let base = "[data]\ndataset = \"posters\"\nresolution = 16\n[model]\nchannels = [4, 8]\ndense = [16]\n";
        let files = [
            (
                "sweep.toml",
                format!(
                    "{base}[train]\nepochs = 3\nbatch_size = 16\n[sweep.grid]\n\"train.loss\" = [\"bce\", \"categorical_ce\"]\n\"train.seed\" = [1, 2]\n"
                ),
            ),
            ("one.toml", format!("{base}[train]\nepochs = 1\nseed = 9\n")),
            (
                "odd.toml",
                format!("[experiment]\nname = \"R&D <odd> \\\"quoted\\\" 50%\"\n{base}[train]\nepochs = 2\nseed = 3\n"),
            ),
            (
                "diverges.toml",
                format!("{base}[train]\nepochs = 2\nlr = 1e30\noptimizer = {{ kind = \"sgd\", momentum = 0.0 }}\n"),
            ),
        ];
        for (name, text) in &files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let o = posterlab(&dir, &["-q", "run", "--no-report", "sweep.toml", "one.toml", "odd.toml", "diverges.toml"]);
        assert_eq!(o.status.code(), Some(1), "{}{}", stdout(&o), stderr(&o));
        // A run left in progress (killed after its first epoch).
        std::fs::write(dir.join("busy.toml"), format!("{base}[train]\nepochs = 4\nseed = 11\n")).unwrap();
        let o = posterlab_crashing(&dir, &["-q", "run", "--no-report", "busy.toml"], "recorded@1");
        assert!(!o.status.success());
        assert!(!dir.join("reports").exists(), "--no-report draws nothing");
        dir
    })
}

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    common::files_under(dir)
}

#[test]
fn every_run_gets_valid_deterministic_figures_and_an_index_that_links_them() {
    let dir = trained();
    let selectors = ["finished", "diverged", "running"];
    let mut args = vec!["report", "--out", "r1"];
    args.extend(selectors);
    let o = posterlab(dir, &args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    let first = files(&dir.join("r1"));
    args[2] = "r2";
    assert!(posterlab(dir, &args).status.success());
    assert_eq!(
        first,
        files(&dir.join("r2")),
        "the same database must give the same bytes"
    );

    let svgs: Vec<&String> = first.keys().filter(|k| k.ends_with(".svg")).collect();
    assert!(svgs.len() > 20, "{svgs:?}");
    for name in &svgs {
        let text = std::str::from_utf8(&first[*name]).unwrap();
        let doc = roxmltree::Document::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(doc.root_element().tag_name().name(), "svg", "{name}");
    }
    // Eight runs: four of the sweep, the one-epoch run, the oddly named one,
    // the diverged one, the busy one.
    let curves = svgs
        .iter()
        .filter(|k| k.ends_with("curves.svg") && k.starts_with("runs"))
        .count();
    assert_eq!(curves, 8, "{svgs:?}");
    // Finished runs have test figures; the diverged and the busy run do not.
    let galleries = svgs.iter().filter(|k| k.ends_with("gallery.svg")).count();
    assert_eq!(galleries, 6);
    let thresholds = svgs.iter().filter(|k| k.ends_with("threshold.svg")).count();
    assert_eq!(thresholds, 6, "F1 by threshold for every tested run");
    // 24 test posters leave some genres without any: they are shown, at 0.
    let genres = first
        .iter()
        .find(|(k, _)| k.ends_with("genres.svg"))
        .unwrap();
    assert!(
        String::from_utf8_lossy(genres.1).contains(" (0)"),
        "a genre with no test posters"
    );
    for name in [
        "index.html",
        "results.md",
        "results.csv",
        "results.tex",
        "compare/curves.svg",
        "compare/test-metrics.svg",
    ] {
        assert!(first.contains_key(name), "no {name}: {:?}", first.keys());
    }

    let index = String::from_utf8(first["index.html"].clone()).unwrap();
    for link in index
        .split("src=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
    {
        assert!(
            first.contains_key(link),
            "index.html links the missing {link}"
        );
    }
    for name in first.keys().filter(|k| k.ends_with(".svg")) {
        assert!(
            index.contains(name.as_str()),
            "index.html does not show {name}"
        );
    }
    assert!(index.contains("diverged in epoch 1"), "{index}");
    assert!(index.contains("running: 1 of 4 epochs"), "{index}");

    // The results table: one row per configuration, seeds aggregated.
    let md = String::from_utf8(first["results.md"].clone()).unwrap();
    assert!(md.contains("| sweep loss=bce | 2 |"), "{md}");
    assert!(md.contains("| sweep loss=categorical_ce | 2 |"), "{md}");
    assert!(md.contains("| one | 1 |"), "{md}");
    // Markdown renders inline HTML: a name's markup is shown, not obeyed.
    assert!(
        md.contains("| R&amp;D &lt;odd&gt; \"quoted\" 50% | 1 |"),
        "{md}"
    );
    let tex = String::from_utf8(first["results.tex"].clone()).unwrap();
    assert!(tex.contains("R\\&D <odd> \"quoted\" 50\\%"), "{tex}");
    assert!(
        index.contains("R&amp;D &lt;odd&gt;"),
        "names are escaped in HTML"
    );
    assert!(
        md.contains("**"),
        "the best value of each column is marked: {md}"
    );
    let csv = String::from_utf8(first["results.csv"].clone()).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");

    // A one-epoch run's curves still show its single point per series.
    let one = first
        .iter()
        .find(|(k, _)| k.contains("-one/") && k.ends_with("curves.svg"))
        .unwrap();
    assert!(
        String::from_utf8_lossy(one.1).contains("<circle"),
        "single epochs are drawn as points"
    );
    // The gallery embeds posters.
    let gallery = first
        .iter()
        .find(|(k, _)| k.ends_with("gallery.svg"))
        .unwrap();
    assert!(String::from_utf8_lossy(gallery.1).contains("data:image/jpeg;base64,"));
}

#[test]
fn configurations_follow_group_by() {
    let dir = trained();
    let o = posterlab(
        dir,
        &["report", "--out", "g", "--group-by", "train.loss", "sweep"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let md = std::fs::read_to_string(dir.join("g/results.md")).unwrap();
    assert!(
        md.contains("| loss=bce | 2 |") && md.contains("| loss=categorical_ce | 2 |"),
        "{md}"
    );
    let o = posterlab(
        dir,
        &[
            "report",
            "--out",
            "g",
            "--group-by",
            "train.nosuch",
            "sweep",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("--group-by train.nosuch"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn an_empty_selection_says_so() {
    let dir = trained();
    let o = posterlab(dir, &["report", "--out", "e", "nosuchrun"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no run matches `nosuchrun`"),
        "{}",
        stderr(&o)
    );
    let empty = tempfile::tempdir().unwrap();
    let o = posterlab(empty.path(), &["report"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("posterlab.sqlite: does not exist"),
        "{}",
        stderr(&o)
    );
    let db = dir.join("results/posterlab.sqlite");
    let o = posterlab(
        empty.path(),
        &[
            "--db",
            db.to_str().unwrap(),
            "report",
            "--out",
            "x",
            "interrupted",
        ],
    );
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("no run matches `interrupted`"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn run_renders_its_runs_figures_when_it_ends() {
    let dir = trained();
    let o = posterlab(dir, &["-q", "run", "--reports", "auto", "one.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("figures for 1 run:"), "{}", stdout(&o));
    assert!(dir.join("auto/index.html").is_file());
}

#[test]
fn the_gallery_of_a_new_run_needs_no_data_set_csv() {
    // Each test poster's file is recorded when the run is tested: moving the
    // data set's CSV away afterwards loses no thumbnail.
    let p = common::project(&[]);
    common::copy_of_tiny_set(p.path(), "posters");
    let text =
        common::spec("epochs = 1").replace(&common::tiny_set().display().to_string(), "posters");
    std::fs::write(p.path().join("t.toml"), text).unwrap();
    let o = posterlab(p.path(), &["-q", "run", "--no-report", "t.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    std::fs::rename(
        p.path().join("posters/train.csv"),
        p.path().join("moved.csv"),
    )
    .unwrap();
    let o = posterlab(p.path(), &["report", "--out", "r"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = std::fs::read_dir(p.path().join("r/runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let gallery = std::fs::read_to_string(dir.join("gallery.svg")).unwrap();
    assert_eq!(
        gallery.matches("data:image/jpeg;base64,").count(),
        12,
        "every thumbnail is there"
    );
}
