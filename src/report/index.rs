//! `index.html`: the results table, the comparisons and every run's
//! figures on one page that opens from the folder (no server needed).

use std::fmt::Write;
use std::path::Path;

use super::compare::{against, table_rows};
use super::effects::Effects;
use super::formats::{Figures, Format};
use super::gallery::escape;
use super::load::{Group, RunData};
use super::run::status_line;
use super::{folder, paper, tables};
use crate::text::plural;

/// A run's figures in the order shown, with what each shows (its alt text).
const RUN_FIGURES: [(&str, &str); 7] = [
    ("curves", "learning curves"),
    ("genres", "per-genre test metrics"),
    ("frequency", "predicted vs true genre frequency"),
    ("threshold", "test F1 by threshold"),
    ("confusion", "confusion counts per genre"),
    ("genre-by-genre", "what each genre is predicted as"),
    (
        "gallery",
        "test posters with their true and predicted genres",
    ),
];

/// The index page of a report that wrote `files` for `data` (in
/// configurations `groups`), read from `db`, its figures in the formats of
/// `figures`.
pub(super) fn page(
    db: &Path,
    data: &[RunData],
    groups: &[Group],
    effects: Option<&Effects>,
    files: &[(String, String)],
    figures: &Figures,
) -> String {
    let has = |name: &str| files.iter().any(|(f, _)| f == name);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
{}
<style>
body {{ font-family: sans-serif; margin: 2em auto; padding: 0 1.5em; max-width: 1500px; color: #141414; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }}
td {{ white-space: nowrap; }}
th:first-child, td:first-child {{ text-align: left; }}
img {{ max-width: 100%; display: block; margin: 1em 0; }}
.scroll {{ overflow-x: auto; }}
.facts {{ color: #555; }}
</style>
</head>
<body>
<h1>posterlab report</h1>
<p class="facts">{} from {}</p>
"#,
        folder::INDEX_TITLE,
        plural(data.len(), "run"),
        escape(&db.display().to_string())
    );
    if has("results.md") {
        let rows = table_rows(groups, effects);
        let against = against(groups, effects);
        let _ = write!(
            s,
            "<h2>Results</h2>\n<div class=\"scroll\">\n{}</div>\n<p class=\"facts\">{}.{} Also as \
             <a href=\"results.md\">Markdown</a>, <a href=\"results.csv\">CSV</a>, \
             <a href=\"results.tex\">LaTeX</a>{}.</p>\n",
            tables::html(&rows, against.as_ref()),
            tables::note(&rows, "bold"),
            against
                .as_ref()
                .map(|a| format!(" {}", tables::html_note(&rows, a)))
                .unwrap_or_default(),
            if has(paper::FILE) {
                format!(
                    ", and in <a href=\"{}\">a LaTeX document</a> that builds with pdflatex",
                    paper::FILE
                )
            } else {
                String::new()
            }
        );
    }
    s.push_str("<h2>Comparisons</h2>\n");
    for f in ["compare/curves.svg", "compare/test-metrics.svg"] {
        if has(f) {
            figure(&mut s, files, f, comparison_alt(f), figures);
        }
    }
    if has("compare/effects.svg") {
        s.push_str("<h2>Effects against the baseline</h2>\n");
        figure(
            &mut s,
            files,
            "compare/effects.svg",
            "each configuration's difference from the baseline in the four headline test metrics, with 95 % intervals",
            figures,
        );
        let _ = writeln!(
            s,
            "<p class=\"facts\">Every difference with its interval, p-value and Holm-adjusted p-value: \
             <a href=\"compare/effects.md\">Markdown</a>, <a href=\"compare/effects.csv\">CSV</a>.</p>"
        );
    }
    if has("compare/main-effects.svg") {
        s.push_str("<h2>Main effects</h2>\n");
        figure(
            &mut s,
            files,
            "compare/main-effects.svg",
            "each factor level's mean test metrics over the other factors, with 95 % intervals",
            figures,
        );
        let _ = writeln!(
            s,
            "<p class=\"facts\">Each factor level's mean over the other factors, and the differences \
             between levels: <a href=\"compare/main-effects.md\">Markdown</a>, \
             <a href=\"compare/main-effects.tex\">LaTeX</a>.</p>"
        );
    }
    s.push_str("<h2>Runs</h2>\n<ul>\n");
    for d in data {
        let _ = writeln!(
            s,
            "<li><a href=\"#run-{}\">run {} {}</a>: {}</li>",
            d.run.id,
            d.run.id,
            escape(&d.run.name),
            escape(&status_line(&d.run))
        );
    }
    s.push_str("</ul>\n");
    for d in data {
        let r = &d.run;
        let _ = write!(
            s,
            "<h3 id=\"run-{}\">run {} {}</h3>\n<p class=\"facts\">{}; configuration {}; spec hash {}; data {}",
            r.id,
            r.id,
            escape(&r.name),
            escape(&status_line(r)),
            escape(&d.group),
            &r.spec_hash[..12],
            escape(&r.dataset)
        );
        if let Some(t) = &d.test {
            let _ = write!(
                s,
                "; test (epoch {}): micro-F1 {:.3}, macro-F1 {:.3}, micro mAP {:.3}",
                t.epoch, t.micro_f1, t.macro_f1, t.micro_ap
            );
        } else {
            s.push_str("; no test results");
        }
        if let Some(e) = &r.error {
            let _ = write!(s, "; {}", escape(e));
        }
        s.push_str("</p>\n");
        for (f, what) in RUN_FIGURES {
            let name = format!("{}/{f}.svg", d.folder());
            if has(&name) {
                let alt = escape(&format!("run {} {}: {what}", r.id, r.name));
                figure(&mut s, files, &name, &alt, figures);
            }
        }
    }
    s.push_str("</body>\n</html>\n");
    s
}

/// What a comparison figure shows, for its alt text; its file name for one
/// not named here.
fn comparison_alt(file: &str) -> &str {
    match file {
        "compare/curves.svg" => "training and validation curves, mean per configuration",
        "compare/test-metrics.svg" => "test metrics per configuration",
        other => other,
    }
}

/// The figure `svg_name` (`runs/…/curves.svg`, one of `files`) as the page
/// shows it: in the format shown (SVG, else PNG), linked to its PDF when
/// there is one; when only PDFs were written, a link to the PDF, since
/// `<img>` cannot show one.
fn figure(
    s: &mut String,
    files: &[(String, String)],
    svg_name: &str,
    alt: &str,
    figures: &Figures,
) {
    let stem = svg_name.strip_suffix(".svg").unwrap_or(svg_name);
    let pdf = format!("{stem}.pdf");
    match figures.shown() {
        Some(format) => {
            // A PNG has more pixels than the SVG has user units (its DPI
            // over 96): shown at the SVG's width, the page looks the same.
            let width = match format {
                Format::Png => files
                    .iter()
                    .find(|(f, _)| f == svg_name)
                    .and_then(|(_, svg)| svg_width(svg))
                    .map(|w| format!(" width=\"{w}\""))
                    .unwrap_or_default(),
                _ => String::new(),
            };
            let img = format!(
                "<img src=\"{stem}.{}\" alt=\"{alt}\"{width}>",
                format.extension()
            );
            if figures.has(Format::Pdf) {
                let _ = writeln!(s, "<a href=\"{pdf}\">{img}</a>");
            } else {
                let _ = writeln!(s, "{img}");
            }
        }
        None => {
            let _ = writeln!(s, "<p><a href=\"{pdf}\">{alt} (PDF)</a></p>");
        }
    }
}

/// The `width` the root element of a figure's SVG text gives (a number of
/// user units, as plotters and the gallery write it).
fn svg_width(svg: &str) -> Option<&str> {
    let root = &svg[svg.find("<svg")?..];
    let root = &root[..root.find('>')?];
    let value = &root[root.find(" width=\"")? + 8..];
    let value = &value[..value.find('"')?];
    value
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'.')
        .then_some(value)
}
