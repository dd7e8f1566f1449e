//! `paper/paper.tex`: a short LaTeX document that `\input`s the report's
//! results table (and main-effects table) and includes its figures, so a
//! user pastes from a document known to build with pdflatex rather than
//! from tables that have never met a compiler. It reads the report's own
//! files from the folder above (`\input@path`, `\graphicspath`), so it
//! builds from `paper/` or from the report folder, and needs nothing but
//! `texlive-latex-base` and booktabs and pdflscape
//! (`texlive-latex-recommended`).
//!
//! Figures go in as PDF when the report writes PDF, else as PNG; a report
//! in SVG only (which pdflatex cannot include) gets the tables and a line
//! that says how to add the figures. Nothing in it depends on the day it was
//! written (`\date{}`), so the same database gives the same bytes.

use std::fmt::Write;
use std::path::Path;

use super::effects::{Effects, ALPHA};
use super::formats::{Figures, Format};
use super::load::Group;
use super::tables::{group_digits, latex_escape};
use crate::text::plural;

/// The document's path under the report folder.
pub const FILE: &str = "paper/paper.tex";

/// The document for a report that wrote `files` (names under the output
/// folder); `None` without a results table (no tested run).
pub(super) fn document(
    db: &Path,
    groups: &[Group],
    effects: Option<&Effects>,
    files: &[(String, String)],
    figures: &Figures,
) -> Option<String> {
    let has = |name: &str| files.iter().any(|(f, _)| f == name);
    if !has("results.tex") {
        return None;
    }
    let db = db.file_name().map_or_else(
        || db.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let runs: usize = groups.iter().map(|g| g.runs.len()).sum();

    let mut s = String::new();
    s.push_str(PREAMBLE);
    let _ = writeln!(
        s,
        "\\title{{Movie genres from posters: results}}\n\\author{{posterlab report of \
         \\texttt{{{}}}: {} in {}}}\n\\date{{}}\n\n\\begin{{document}}\n\\maketitle\n",
        latex_escape(&db),
        plural(runs, "run"),
        plural(groups.len(), "configuration")
    );

    s.push_str("\\section{Results}\n\n");
    // The main effects' table, with the effects it came from.
    let main = effects.filter(|_| has("compare/main-effects.tex"));
    // PDF keeps text as text; pdflatex cannot include SVG.
    let format = [Format::Pdf, Format::Png]
        .into_iter()
        .find(|f| figures.has(*f));
    let _ = writeln!(
        s,
        "Table~\\ref{{tab:results}}, on a page of its own turned sideways, gives each \
         configuration's test metrics{}.{}\n",
        if main.is_some() {
            "; Table~\\ref{tab:main-effects}, the main effects of the grid"
        } else {
            ""
        },
        if format.is_some() {
            " The figures follow."
        } else {
            ""
        }
    );
    if let Some(e) = main {
        let caption = format!(
            "Main effects of the grid: each level's metric averaged over the other factors' \
             levels, with its 95\\,\\% bootstrap interval, and the difference from the reference \
             level ({} resamples).",
            group_digits(e.settings.resamples)
        );
        s.push_str(&table(
            "compare/main-effects.tex",
            "tab:main-effects",
            &caption,
        ));
    }
    // Seven metrics and their Δ columns: a page turned sideways (the PDF
    // viewer turns it back) holds the table at a readable size.
    let _ = writeln!(
        s,
        "\\begin{{landscape}}\n{}\\end{{landscape}}\n",
        table(
            "results.tex",
            "tab:results",
            &results_caption(groups, effects)
        )
    );

    s.push_str("\\section{Figures}\n\n");
    let Some(format) = format else {
        s.push_str(
            "This report wrote its figures as SVG only, which pdflatex cannot include: run \
             \\texttt{posterlab report -{}-format svg,pdf} to have them here.\n\n\\end{document}\n",
        );
        return Some(s);
    };
    for (name, caption) in captions(groups, effects, &has) {
        let _ = writeln!(
            s,
            "\\begin{{figure}}[htbp]\n\\centering\n\\includegraphics[width=\\linewidth,\
             height=0.85\\textheight,keepaspectratio]{{{name}.{}}}\n\\caption{{{caption}}}\n\
             \\end{{figure}}\n",
            format.extension()
        );
    }
    s.push_str("\\end{document}\n");
    Some(s)
}

const PREAMBLE: &str = r"% A LaTeX document with this report's tables and figures, written by
% `posterlab report`; the next report into this folder replaces it, so copy
% it (or what you need from it) before editing.
%
% Build it here:               cd paper && pdflatex paper.tex
% or from the report folder:   pdflatex paper/paper.tex
% It needs booktabs and pdflscape (Debian: texlive-latex-recommended) and
% graphicx (texlive-latex-base); it uses lmodern (Debian: lmodern) if there.
\documentclass[11pt]{article}
% The figures are PDF 1.7; pdflatex writes 1.5 unless told, and warns.
\ifdefined\pdfminorversion \pdfminorversion=7 \fi
\ifdefined\pdfsuppresswarningpagegroup \pdfsuppresswarningpagegroup=1 \fi
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
% Latin Modern: outline fonts in T1 (without it, pdflatex draws bitmaps).
\IfFileExists{lmodern.sty}{\usepackage{lmodern}}{}
\usepackage[margin=2cm]{geometry}
\usepackage{booktabs}
\usepackage{graphicx}
\usepackage{pdflscape}

% The tables and figures are the report's own files, one folder up from
% this one: \input and \includegraphics look there when a file is not here.
\makeatletter
\def\input@path{{../}}
\makeatother
\graphicspath{{../}}

";

/// A table floated with its caption, scaled down to the text width when it
/// is wider (never up).
fn table(file: &str, label: &str, caption: &str) -> String {
    format!(
        "\\begin{{table}}[htbp]\n\\centering\n\\setlength{{\\tabcolsep}}{{4pt}}\n\\caption{{{caption}}}\n\\label{{{label}}}\n\
         \\resizebox{{\\ifdim\\width>\\linewidth\\linewidth\\else\\width\\fi}}{{!}}{{\\input{{{file}}}}}\n\
         \\end{{table}}\n\n"
    )
}

fn results_caption(groups: &[Group], effects: Option<&Effects>) -> String {
    let mut c = String::from(
        "Test metrics of each configuration: mean $\\pm$ standard deviation over its runs \
         (seeds); the best mean of each metric in bold.",
    );
    let baseline = effects.and_then(|e| Some((e, e.baseline?)));
    if let Some((e, b)) = baseline {
        let _ = write!(
            c,
            " $\\Delta$: difference from the baseline \\texttt{{{}}} with its 95\\,\\% interval, \
             from a paired bootstrap over seeds and test posters ({} resamples, seed {}); $^*$: \
             significant at {}\\,\\% after Holm's correction over the comparisons of each metric.",
            latex_escape(&groups[b].label),
            group_digits(e.settings.resamples),
            e.settings.seed,
            ALPHA * 100.0
        );
    }
    c
}

/// The figures the document shows, as (name without extension, caption):
/// the comparisons, then the per-genre figures of one run (the baseline's
/// first, else the first tested run).
fn captions(
    groups: &[Group],
    effects: Option<&Effects>,
    has: &dyn Fn(&str) -> bool,
) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut add = |name: &str, caption: String| {
        if has(&format!("{name}.svg")) {
            out.push((name.to_string(), caption));
        }
    };
    add(
        "compare/curves",
        "Learning curves of each configuration: the mean over its runs per epoch, with a band of \
         $\\pm 1$ standard deviation."
            .to_string(),
    );
    add(
        "compare/test-metrics",
        "Test metrics of each configuration: mean over its runs, with $\\pm 1$ standard deviation."
            .to_string(),
    );
    let baseline = effects.and_then(|e| e.baseline);
    if let Some(b) = baseline {
        add(
            "compare/effects",
            format!(
                "Differences from the baseline \\texttt{{{}}} with their 95\\,\\% bootstrap \
                 intervals (Table~\\ref{{tab:results}}).",
                latex_escape(&groups[b].label)
            ),
        );
    }
    add(
        "compare/main-effects",
        "Main effects of the grid: each factor level's mean with its 95\\,\\% interval \
         (Table~\\ref{tab:main-effects})."
            .to_string(),
    );
    let run = baseline
        .map(|b| &groups[b])
        .into_iter()
        .chain(groups)
        .find_map(|g| g.runs.iter().find(|d| d.test.is_some()));
    if let Some(d) = run {
        let who = format!(
            "run {} (\\texttt{{{}}})",
            d.run.id,
            latex_escape(&d.run.name)
        );
        add(
            &format!("{}/genres", d.folder()),
            format!("Per-genre test scores of {who}."),
        );
        add(
            &format!("{}/frequency", d.folder()),
            format!(
                "Predicted against true genre frequency on the test split, {who}: a model that \
                 collapses onto the frequent genres shows here."
            ),
        );
        add(
            &format!("{}/confusion", d.folder()),
            format!("Per-genre confusion counts on the test split, {who}."),
        );
    }
    out
}
