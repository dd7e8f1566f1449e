//! Effects against a baseline and the main effects of a grid, end to end:
//! a 2 losses × 2 resolutions × 3 seeds grid on a synthetic set (its
//! baseline named in the spec), the baseline's configuration trained again
//! under another name in another database and merged in, a configuration
//! made clearly worse (a learning rate of 1e-6), and one on another split,
//! all trained through the real binary and reported; the report's LaTeX
//! document built with pdflatex and read back with poppler.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use common::{collapse, posterlab, stderr, stdout, svg_title, tool};

/// The baseline's configuration under another name, one with the characters
/// LaTeX, Markdown and HTML treat as markup.
const COPY: &str = "copy_a&b #1 50%";

/// A spec: `data` and `train` lines added to a small CNN's, then `rest`.
fn spec(data: &str, train: &str, rest: &str) -> String {
    format!(
        "[data]\ndataset = \"posters\"\n{data}\n[model]\nchannels = [4, 8]\ndense = [16]\n\
         [train]\nepochs = 4\nbatch_size = 16\n{train}\n{rest}"
    )
}

/// The project with every run trained, and its report (default options).
fn trained() -> &'static Path {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = common::shared_dir("effects");
        let o = posterlab(&dir, &["synth", "--out", "posters", "--count", "400", "--seed", "8"]);
        assert!(o.status.success(), "{}", stderr(&o));
        let seeds = "\"train.seed\" = [1, 2, 3]\n";
        let files = [
            (
                "grid.toml",
                format!(
                    "[experiment]\nbaseline = {{ \"train.loss\" = \"bce\", \"data.resolution\" = 16 }}\n{}",
                    spec(
                        "",
                        "",
                        &format!(
                            "[sweep.grid]\n\"train.loss\" = [\"bce\", \"categorical_ce\"]\n\"data.resolution\" = [16, 24]\n{seeds}"
                        )
                    )
                ),
            ),
            (
                "worse.toml",
                spec("resolution = 16", "lr = 1e-6", &format!("[sweep.grid]\n{seeds}")),
            ),
            ("othersplit.toml", spec("resolution = 16\nsplit_seed = 7", "", "")),
            // The baseline's configuration under another name: the same
            // runs, so trained into a database of its own and merged in.
            (
                "copy.toml",
                format!(
                    "[experiment]\nname = \"{COPY}\"\n{}",
                    spec("resolution = 16", "loss = \"bce\"", &format!("[sweep.grid]\n{seeds}"))
                ),
            ),
        ];
        for (name, text) in &files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        let o = posterlab(&dir, &["-q", "run", "--no-report", "grid.toml", "worse.toml", "othersplit.toml"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let o = posterlab(&dir, &["-q", "--db", "copy.sqlite", "run", "--no-report", "copy.toml"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let o = posterlab(&dir, &["merge", "copy.sqlite"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let o = posterlab(&dir, &["report"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        dir
    })
}

/// results.csv as one map per configuration: column → value.
fn results(dir: &Path) -> HashMap<String, HashMap<String, String>> {
    let mut reader = csv::Reader::from_path(dir.join("results.csv")).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|r| {
            let row: HashMap<String, String> = header
                .iter()
                .cloned()
                .zip(r.unwrap().iter().map(String::from))
                .collect();
            (row["configuration"].clone(), row)
        })
        .collect()
}

fn number(row: &HashMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|_| panic!("{column}: {:?}", row[column]))
}

const METRICS: [&str; 4] = ["micro_f1", "macro_f1", "micro_ap", "macro_ap"];

#[test]
fn the_spec_names_the_baseline_and_the_report_compares_with_it() {
    let dir = trained();
    let rows = results(&dir.join("reports"));
    let baseline = &rows["grid loss=bce resolution=16"];
    assert_eq!(baseline["versus"], "baseline");

    // The same configuration under another name: nothing to tell apart.
    let copy = &rows[COPY];
    assert_eq!(copy["versus"], "compared");
    for m in METRICS {
        assert_eq!(number(copy, &format!("delta_{m}")), 0.0, "{m}");
        assert!(number(copy, &format!("delta_{m}_low")) <= 0.0, "{m}");
        assert!(number(copy, &format!("delta_{m}_high")) >= 0.0, "{m}");
        assert!(
            number(copy, &format!("p_{m}")) > 0.9,
            "{m}: p {}",
            copy[&format!("p_{m}")]
        );
        assert_eq!(copy[&format!("significant_{m}")], "0", "{m}");
    }

    // An untrained model (lr 1e-6) against a trained one: its ranking of
    // the genres is no better than their frequencies. (At threshold 0.5 its
    // scores, all near 0.5, predict half the genres of every poster, which
    // F1 can reward over a model that learnt to predict few.)
    let worse = &rows["worse"];
    assert!(number(worse, "delta_micro_ap") < 0.0, "{worse:?}");
    assert!(number(worse, "delta_micro_ap_high") < 0.0, "{worse:?}");
    assert_eq!(worse["significant_micro_ap"], "1", "{worse:?}");

    // Another split cannot be paired: listed, with the reason.
    let other = &rows["othersplit"];
    assert!(
        other["versus"].contains("another test split (data.split_seed 7 against 42)"),
        "{other:?}"
    );
    assert_eq!(other["delta_micro_f1"], "");
    let md = std::fs::read_to_string(dir.join("reports/results.md")).unwrap();
    assert!(md.contains("| Δ micro-F1 |"), "{md}");
    assert!(
        md.contains("Not compared: `othersplit`, another test split"),
        "{md}"
    );
    assert!(
        md.contains("Holm's correction over the 5 comparisons of each metric"),
        "{md}"
    );
    let tex = std::fs::read_to_string(dir.join("reports/results.tex")).unwrap();
    assert!(
        tex.contains("$\\Delta$ micro-F1") && tex.contains("{\\scriptsize $["),
        "{tex}"
    );

    // Every compared configuration in the forest plot, with its n.
    let svg = std::fs::read_to_string(dir.join("reports/compare/effects.svg")).unwrap();
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
    for label in [
        "copy_a&amp;b #1 50% (n=3)",
        "worse (n=3)",
        "grid loss=categorical_ce resolution=24 (n=3)",
    ] {
        assert!(svg.contains(label), "{label}");
    }
    assert!(!svg.contains("othersplit"));
    let effects = std::fs::read_to_string(dir.join("reports/compare/effects.md")).unwrap();
    assert!(effects.contains("10,000 resamples"), "{effects}");
    let index = std::fs::read_to_string(dir.join("reports/index.html")).unwrap();
    for f in [
        "compare/effects.svg",
        "compare/main-effects.svg",
        "compare/main-effects.tex",
    ] {
        assert!(index.contains(f), "{f}");
    }
}

#[test]
fn the_grid_has_main_effects_per_factor() {
    let dir = trained();
    let md = std::fs::read_to_string(dir.join("reports/compare/main-effects.md")).unwrap();
    // Two factors, two levels each, two configurations per level; the
    // reference levels are the baseline's.
    for row in [
        "| loss | bce | 2 |",
        "| loss | categorical_ce | 2 |",
        "| resolution | 16 | 2 |",
        "| resolution | 24 | 2 |",
        "| loss | Δ categorical_ce − bce | |",
        "| resolution | Δ 24 − 16 | |",
    ] {
        assert!(md.contains(row), "{row}\n{md}");
    }
    assert!(!md.contains("not a complete grid"), "{md}");
    assert!(
        !md.contains("worse") && !md.contains("copy"),
        "other experiments are not in the grid"
    );
    let tex = std::fs::read_to_string(dir.join("reports/compare/main-effects.tex")).unwrap();
    assert!(
        tex.contains("categorical\\_ce") && tex.contains("\\bottomrule"),
        "{tex}"
    );
    let svg = std::fs::read_to_string(dir.join("reports/compare/main-effects.svg")).unwrap();
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
}

#[test]
fn the_same_database_gives_the_same_numbers_and_the_seed_changes_them() {
    let dir = trained();
    let read = |out: &str| std::fs::read(dir.join(out).join("compare/effects.csv")).unwrap();
    for (out, seed) in [("again", "2024"), ("other-seed", "5")] {
        let o = posterlab(dir, &["report", "--out", out, "--bootstrap-seed", seed]);
        assert!(o.status.success(), "{}", stderr(&o));
    }
    assert_eq!(read("reports"), read("again"));
    assert_ne!(read("reports"), read("other-seed"));
}

#[test]
fn baselines_are_named_by_label_or_by_selectors_that_all_match() {
    let dir = trained();
    let o = posterlab(
        dir,
        &[
            "report",
            "--out",
            "by-fields",
            "--baseline",
            "train.loss=bce",
            "--baseline",
            "data.resolution=24",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = results(&dir.join("by-fields"));
    assert_eq!(rows["grid loss=bce resolution=24"]["versus"], "baseline");
    assert_eq!(rows["grid loss=bce resolution=16"]["versus"], "compared");

    let o = posterlab(dir, &["report", "--out", "by-label", "--baseline", "worse"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        results(&dir.join("by-label"))["worse"]["versus"],
        "baseline"
    );

    // Too many configurations, and none.
    let o = posterlab(
        dir,
        &["report", "--out", "x", "--baseline", "train.loss=bce"],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("--baseline train.loss=bce: the runs it matches fall in"),
        "{err}"
    );
    assert!(err.contains("add selectors"), "{err}");
    let o = posterlab(
        dir,
        &["report", "--out", "x", "--baseline", "no-such-thing"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no reported run matches"),
        "{}",
        stderr(&o)
    );
    let o = posterlab(dir, &["report", "--out", "x", "--resamples", "10"]);
    assert_eq!(
        o.status.code(),
        Some(2),
        "too few resamples is a usage error"
    );
    assert!(!dir.join("x").exists(), "a refused report writes nothing");
}

/// Builds `tex` (a path from `dir`) with pdflatex, twice as a user would
/// for the cross-references, into `build`; the PDF's path.
fn pdflatex(dir: &Path, tex: &str, build: &Path) -> PathBuf {
    let args = [
        "-interaction=nonstopmode",
        "-halt-on-error",
        "-output-directory",
        build.to_str().unwrap(),
        tex,
    ];
    tool(dir, "pdflatex", &args);
    let out = tool(dir, "pdflatex", &args);
    // No reference left undefined, no figure pdfTeX complains of.
    assert!(!out.contains("LaTeX Warning"), "{out}");
    assert!(!out.contains("pdfTeX warning"), "{out}");
    build.join("paper.pdf")
}

#[cfg_attr(
    any(no_pdflatex, no_poppler),
    ignore = "needs pdflatex with booktabs, pdflscape and Latin Modern, and poppler \
              (apt-get install texlive-latex-base texlive-latex-recommended lmodern poppler-utils)"
)]
#[test]
fn the_latex_document_builds_and_shows_the_tables_and_figures() {
    let dir = trained();
    let o = posterlab(dir, &["report", "--out", "paper", "--format", "svg,pdf"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report = dir.join("paper");
    let tex = std::fs::read_to_string(report.join("paper/paper.tex")).unwrap();
    let index = std::fs::read_to_string(report.join("index.html")).unwrap();
    assert!(index.contains("href=\"paper/paper.tex\""), "{index}");

    // Built where it is, as its first lines say.
    let build = tempfile::tempdir().unwrap();
    let pdf = pdflatex(&report.join("paper"), "paper.tex", build.path());
    let pdf = pdf.to_str().unwrap();
    // Table rows read across with -layout; figures in reading order.
    let table = collapse(&tool(dir, "pdftotext", &["-layout", pdf, "-"]));
    let text = collapse(&tool(dir, "pdftotext", &[pdf, "-"]));

    // The tables' numbers: each configuration's name, as written, with its
    // micro-F1 mean, and the worse one's Δ micro mAP.
    let rows = results(&report);
    for (config, row) in &rows {
        let mean = number(row, "micro_f1_mean");
        let cell = format!("{config} {} {mean:.3}", row["n"]);
        assert!(table.contains(&cell), "{cell}\n{table}");
    }
    let delta = format!("{:+.3}", number(&rows["worse"], "delta_micro_ap")).replace('-', "−");
    assert!(table.contains(&delta), "{delta}\n{table}");
    // (pdftotext writes the Δ of LaTeX's math fonts as U+2206.)
    assert!(table.contains("∆ categorical_ce − bce"), "{table}");
    // The figures' titles, drawn inside the included PDFs.
    let figures = [
        "compare/curves",
        "compare/test-metrics",
        "compare/effects",
        "compare/main-effects",
    ];
    for figure in figures {
        assert!(
            tex.contains(&format!("{{{figure}.pdf}}")),
            "{figure}\n{tex}"
        );
        let title = svg_title(&std::fs::read(report.join(format!("{figure}.svg"))).unwrap());
        assert!(text.contains(&title), "{figure}: {title}\n{text}");
    }
    assert!(
        tex.contains("/genres.pdf}") && tex.contains("/frequency.pdf}"),
        "{tex}"
    );

    // Outline fonts only (no bitmaps), and no page left blank.
    let fonts = tool(dir, "pdffonts", &[pdf]);
    assert!(!fonts.contains("Type 3"), "{fonts}");
    let pages = build.path().join("page");
    tool(
        dir,
        "pdftoppm",
        &["-png", "-r", "50", pdf, pages.to_str().unwrap()],
    );
    let mut n = 0;
    for entry in std::fs::read_dir(build.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "png") {
            let img = image::open(&path).unwrap().to_luma8();
            // A page holding only its number has a few dozen; the title
            // page, the sparsest, about a thousand.
            let inked = img.pixels().filter(|p| p.0[0] < 200).count();
            assert!(inked > 400, "{}: {inked} inked pixels", path.display());
            n += 1;
        }
    }
    assert!(n >= 4, "{n} pages");

    // Built from the report folder too; and a report in SVG only says how
    // to have the figures, and builds.
    let again = tempfile::tempdir().unwrap();
    pdflatex(&report, "paper/paper.tex", again.path());
    let o = posterlab(dir, &["report", "--out", "svg-only"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg_only = dir.join("svg-only/paper");
    let tex = std::fs::read_to_string(svg_only.join("paper.tex")).unwrap();
    assert!(!tex.contains("\\includegraphics["), "{tex}");
    let third = tempfile::tempdir().unwrap();
    let pdf = pdflatex(&svg_only, "paper.tex", third.path());
    let text = collapse(&tool(dir, "pdftotext", &[pdf.to_str().unwrap(), "-"]));
    assert!(text.contains("posterlab report --format svg,pdf"), "{text}");
}
