//! Stored runs turned into what goes into a write-up: per-run figures
//! (learning curves, per-genre test metrics, confusion counts, the genre ×
//! genre view, predicted versus true genre frequency, a prediction gallery),
//! comparisons across runs (overlaid curves, configurations aggregated over
//! seeds as mean ± standard deviation), the results table (Markdown, CSV,
//! LaTeX), effects against a baseline and the main effects of a grid with
//! bootstrap intervals (`effects`, `bootstrap`), a LaTeX document that
//! builds with them (`paper`), and `index.html` linking them all.
//!
//! Everything is read from the store first (`load`), then drawn: each run's figures in parallel (`run/`), the comparisons and the
//! results table (`compare`), the index page (`index`), all through the
//! drawing in `figures/`, `gallery` and `tables`. The output depends only
//! on the database (and the poster files the gallery embeds), so the same
//! database gives the same bytes.

pub mod bootstrap;
pub mod effects;
pub mod figures;
pub mod folder;
pub mod formats;
pub mod gallery;
pub mod paper;
pub mod style;
pub mod tables;

mod compare;
mod index;
mod load;
mod run;

pub use self::load::{select, EarlierPosters};

use std::path::PathBuf;

use rayon::prelude::*;

use self::run::gallery::Thumbnails;
use crate::files::write_atomic;
use crate::store::{RunRow, Store};

/// Where and how to report.
#[derive(Debug, Clone)]
pub struct Options {
    /// The output folder (`reports/`).
    pub out: PathBuf,
    /// Spec fields that define a configuration (e.g. `model.arch`); empty:
    /// the experiment plus every swept field except `train.seed`.
    pub group_by: Vec<String>,
    /// Report the test split under this rule (and its threshold, else each
    /// run's own) rather than each run's own: the rescores `posterlab
    /// rescore` stored. `None`: each run's own rule.
    pub decision: Option<(crate::spec::Rule, Option<f64>)>,
    /// The baseline configuration: its label, or selectors all its runs
    /// match; empty: the configuration of the runs tagged `baseline`, if
    /// any.
    pub baseline: Vec<String>,
    /// How the effects' bootstrap runs.
    pub bootstrap: effects::Settings,
    /// The formats figures are written in (SVG, PDF, PNG) and the PNGs' DPI.
    pub figures: formats::Figures,
}

impl Options {
    /// A report into `out` with every other choice at its default.
    pub fn new(out: PathBuf) -> Options {
        Options {
            out,
            group_by: Vec::new(),
            decision: None,
            baseline: Vec::new(),
            bootstrap: effects::Settings::default(),
            figures: formats::Figures::svg(),
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub runs: usize,
    pub files: usize,
    pub index: PathBuf,
    /// What the reader should know (e.g. why there is no baseline).
    pub notes: Vec<String>,
}

/// Renders the report for `runs` into `options.out`.
pub fn render(
    store: &Store,
    runs: &[RunRow],
    options: &Options,
    earlier: EarlierPosters,
) -> Result<Written, String> {
    if runs.is_empty() {
        return Err("no runs selected: nothing to report".to_string());
    }
    let mut data = load::read(store, runs, &options.group_by, earlier)?;
    if let Some((rule, threshold)) = options.decision {
        load::under_rule(store, &mut data, rule, threshold)?;
    }

    let groups = load::groups(&data, &options.group_by);
    let mut notes = Vec::new();
    let baseline = effects::baseline(&groups, &options.baseline, &mut notes)?;
    let effects = effects::compute(&groups, baseline, options.bootstrap)?;

    folder::claim(&options.out)?;
    let thumbnails = Thumbnails::default();
    let mut files: Vec<(String, String)> = data
        .par_iter()
        .map(|d| run::figures(d, &thumbnails))
        .collect::<Result<Vec<_>, String>>()?
        .into_iter()
        .flatten()
        .collect();
    files.extend(compare::figures(
        &groups,
        options.decision,
        effects.as_ref(),
    )?);
    if let Some(tex) = paper::document(
        store.path(),
        &groups,
        effects.as_ref(),
        &files,
        &options.figures,
    ) {
        files.push((paper::FILE.to_string(), tex));
    }
    let index = index::page(
        store.path(),
        &data,
        &groups,
        effects.as_ref(),
        &files,
        &options.figures,
    );
    files.push(("index.html".to_string(), index));

    // Each file as it is written: a figure in every format asked for,
    // converted from its SVG (in parallel: PDF and PNG take most of a
    // report's time; one figure's files in memory at a time per thread).
    // The index page goes last, once every file it links is there.
    let write = |(name, text): &(String, String)| -> Result<usize, String> {
        // Whatever a name held, an SVG or HTML file stays well-formed XML.
        let text = crate::text::xml_safe(text);
        let converted = if name.ends_with(".svg") {
            options.figures.files(name, &text).map_err(|e| {
                let path = options.out.join(&e.file);
                format!("cannot write {}: {}", path.display(), e.error)
            })?
        } else {
            vec![(name.clone(), text.as_bytes().to_vec())]
        };
        for (name, bytes) in &converted {
            let path = options.out.join(name);
            write_atomic(&path, false, |out| std::io::Write::write_all(out, bytes))
                .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        }
        Ok(converted.len())
    };
    let (index, linked) = files.split_last().expect("the index page is there");
    let written = linked
        .par_iter()
        .map(write)
        .collect::<Result<Vec<usize>, String>>()?
        .into_iter()
        .sum::<usize>()
        + write(index)?;
    Ok(Written {
        runs: data.len(),
        files: written,
        index: options.out.join("index.html"),
        notes,
    })
}
