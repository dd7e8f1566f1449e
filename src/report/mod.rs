//! Stored runs turned into what goes into a write-up: per-run figures
//! (learning curves, per-genre test metrics, confusion counts, the genre ×
//! genre view, predicted versus true genre frequency, a prediction gallery),
//! comparisons across runs (overlaid curves, configurations aggregated over
//! seeds as mean ± standard deviation), the results table (Markdown, CSV,
//! LaTeX) and `index.html` linking them all.
//!
//! Everything is read from the store first, then drawn (in parallel); the
//! output depends only on the database (and the poster files the gallery
//! embeds), so the same database gives the same bytes.

pub mod figures;
pub mod folder;
pub mod gallery;
pub mod style;
pub mod tables;

mod compare;
mod index;
mod load;
mod spec_derived;

pub use self::load::select;

use std::collections::HashMap;
use std::path::PathBuf;

use rayon::prelude::*;

use self::figures::{BarSeries, Bars, Heatmap, Key, Mark, Panel, Series, XAxis};
use self::load::{curve, RunData};
use self::spec_derived::{decision_of, decision_text, monitor_of, PosterFiles};
use crate::files::write_atomic;
use crate::store::{GenreRow, PosterPrediction, RunRow, Status, Store};
use crate::text::plural;
use crate::train::metrics::{Decision, GenreCounts};

/// Where and how to report.
#[derive(Debug, Clone)]
pub struct Options {
    /// The output folder (`reports/`).
    pub out: PathBuf,
    /// Spec fields that define a configuration (e.g. `model.arch`); empty:
    /// the experiment plus every swept field except `train.seed`.
    pub group_by: Vec<String>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub runs: usize,
    pub files: usize,
    pub index: PathBuf,
}

/// Posters in a run's gallery.
const GALLERY: usize = 12;

/// Renders the report for `runs` into `options.out`.
pub fn render(store: &Store, runs: &[RunRow], options: &Options) -> Result<Written, String> {
    if runs.is_empty() {
        return Err("no runs selected: nothing to report".to_string());
    }
    let data = load::read(store, runs, &options.group_by)?;

    folder::claim(&options.out)?;
    let posters = PosterFiles::default();
    let mut files: Vec<(String, String)> = data
        .par_iter()
        .map(|d| run_figures(d, &posters))
        .collect::<Result<Vec<_>, String>>()?
        .into_iter()
        .flatten()
        .collect();
    let groups = load::groups(&data);
    files.extend(compare::figures(&groups)?);
    let index = index::page(store.path(), &data, &groups, &files);
    files.push(("index.html".to_string(), index));

    for (name, text) in &files {
        let path = options.out.join(name);
        // Whatever a name held, an SVG or HTML file stays well-formed XML.
        let text = crate::text::xml_safe(text);
        write_atomic(&path, false, |out| {
            std::io::Write::write_all(out, text.as_bytes())
        })
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(Written {
        runs: data.len(),
        files: files.len(),
        index: options.out.join("index.html"),
    })
}

/// The vertical marks of a run: best epoch, early stop, divergence.
fn marks(run: &RunRow) -> Vec<Mark> {
    let mut marks = Vec::new();
    if let Some(b) = run.best_epoch {
        marks.push(Mark {
            x: b as f64,
            label: format!("best epoch ({b}, by {})", monitor_of(run)),
            colour: style::GREY,
        });
    }
    if run.stopped_early {
        marks.push(Mark {
            x: run.epochs_done as f64,
            label: format!("early stop after epoch {}", run.epochs_done),
            colour: style::PALETTE[3],
        });
    }
    if run.status == Status::Diverged {
        let e = run.status_epoch.unwrap_or(run.epochs_done + 1);
        marks.push(Mark {
            x: e as f64,
            label: format!("diverged in epoch {e}"),
            colour: style::MISS,
        });
    }
    marks
}

fn status_line(run: &RunRow) -> String {
    match run.status {
        Status::Finished => format!(
            "finished: {} of {}{}",
            run.epochs_done,
            plural(run.epochs_planned, "epoch"),
            if run.stopped_early {
                ", stopped early"
            } else {
                ""
            }
        ),
        Status::Diverged => format!(
            "diverged in epoch {}",
            run.status_epoch.unwrap_or(run.epochs_done + 1)
        ),
        other => format!(
            "{other}: {} of {}",
            run.epochs_done,
            plural(run.epochs_planned, "epoch")
        ),
    }
}

/// One run's figures: (file name under the output folder, SVG text).
fn run_figures(d: &RunData, posters: &PosterFiles) -> Result<Vec<(String, String)>, String> {
    let dir = d.folder();
    let run = &d.run;
    let title = format!("run {} {} ({})", run.id, run.name, status_line(run));
    let mut out = Vec::new();

    // Learning curves (or, before the first epoch ends, why there are none).
    if d.epochs.is_empty() {
        let why = match &run.error {
            Some(e) => format!("no epoch completed: {e}"),
            None => "no epoch completed yet".to_string(),
        };
        out.push((
            format!("{dir}/curves.svg"),
            figures::placeholder(&title, &why)?,
        ));
        return Ok(out);
    }
    let marks = marks(run);
    let lines = |name: &str| {
        vec![
            Series {
                label: "training".into(),
                colour: style::TRAIN,
                dashed: false,
                points: curve(&d.epochs, "train", name),
                band: Vec::new(),
            },
            Series {
                label: "validation".into(),
                colour: style::VAL,
                dashed: true,
                points: curve(&d.epochs, "val", name),
                band: Vec::new(),
            },
        ]
    };
    let panel = |title: &str, y: &str, name: &str| Panel {
        x: XAxis::Epoch,
        title: title.into(),
        y_desc: y.into(),
        series: lines(name),
        marks: marks.clone(),
    };
    let mut panels = vec![
        panel("loss", "mean loss", "loss"),
        panel("micro precision", "precision", "micro_precision"),
        panel("micro recall", "recall", "micro_recall"),
        panel("micro F1", "F1", "micro_f1"),
        panel("micro average precision", "AP", "micro_ap"),
    ];
    panels.push(Panel {
        x: XAxis::Epoch,
        title: "learning rate".into(),
        y_desc: "learning rate".into(),
        series: vec![Series {
            label: "learning rate".into(),
            colour: style::PALETTE[2],
            dashed: false,
            points: curve(&d.epochs, "val", "lr"),
            band: Vec::new(),
        }],
        marks: marks.clone(),
    });
    let mut keys = vec![
        (
            "training (dropout on, as Keras reports)".to_string(),
            Key::Line {
                colour: style::TRAIN,
                dashed: false,
            },
        ),
        (
            "validation".to_string(),
            Key::Line {
                colour: style::VAL,
                dashed: true,
            },
        ),
        (
            "learning rate".to_string(),
            Key::Line {
                colour: style::PALETTE[2],
                dashed: false,
            },
        ),
    ];
    for m in &marks {
        keys.push((m.label.clone(), Key::Mark { colour: m.colour }));
    }
    out.push((
        format!("{dir}/curves.svg"),
        figures::panels(&title, &panels, 3, &keys)?,
    ));

    let Some(test) = &d.test else {
        return Ok(out);
    };
    let genres = &run.genres;
    // Genres by test support, most frequent first (ties by name).
    let mut order: Vec<usize> = (0..d.genre_counts.len()).collect();
    order.sort_by(|&a, &b| {
        d.genre_counts[b]
            .counts
            .support()
            .cmp(&d.genre_counts[a].counts.support())
            .then_with(|| d.genre_counts[a].genre.cmp(&d.genre_counts[b].genre))
    });
    let counts: Vec<&GenreRow> = order.iter().map(|&i| &d.genre_counts[i]).collect();
    let labelled: Vec<String> = counts
        .iter()
        .map(|g| format!("{} ({})", g.genre, g.counts.support()))
        .collect();
    let n_test = test.posters;
    let weights = format!("epoch {} weights, {} test posters", test.epoch, n_test);

    out.push((
        format!("{dir}/genres.svg"),
        figures::bars(&Bars {
            title: format!(
                "run {} {}: per-genre test metrics ({weights})",
                run.id, run.name
            ),
            x_desc: "score (genre label: test posters of the genre)".into(),
            categories: labelled.clone(),
            series: vec![
                bar(
                    "precision",
                    0,
                    counts.iter().map(|g| g.counts.precision()).collect(),
                ),
                bar(
                    "recall",
                    1,
                    counts.iter().map(|g| g.counts.recall()).collect(),
                ),
                bar("F1", 2, counts.iter().map(|g| g.counts.f1()).collect()),
            ],
            max: Some(1.0),
        })?,
    ));

    out.push((
        format!("{dir}/frequency.svg"),
        figures::bars(&Bars {
            title: format!(
                "run {} {}: predicted vs true genre frequency ({weights})",
                run.id, run.name
            ),
            x_desc: "test posters".into(),
            categories: counts.iter().map(|g| g.genre.clone()).collect(),
            series: vec![
                bar(
                    "true: posters of the genre",
                    0,
                    counts.iter().map(|g| g.counts.support() as f64).collect(),
                ),
                bar(
                    "predicted: posters given the genre",
                    1,
                    counts
                        .iter()
                        .map(|g| (g.counts.tp + g.counts.fp) as f64)
                        .collect(),
                ),
            ],
            max: None,
        })?,
    ));

    // F1 against the threshold: what the spec's threshold costs or gains.
    let rule = decision_of(run);
    let (relative, spec_threshold) = match rule {
        Decision::RelativeToTop(t) => (true, t),
        Decision::Threshold(t) => (false, t),
    };
    let (micro, macro_): (Vec<_>, Vec<_>) = (1..20)
        .map(|k| {
            let t = k as f64 * 0.05;
            let decision = if relative {
                Decision::RelativeToTop(t)
            } else {
                Decision::Threshold(t)
            };
            let (f1_micro, f1_macro) = f1_at(&d.predictions, genres.len(), decision);
            ((t, f1_micro), (t, f1_macro))
        })
        .unzip();
    let panel = Panel {
        x: XAxis::Threshold,
        title: if relative {
            "F1 by threshold x top score".into()
        } else {
            "F1 by threshold".into()
        },
        y_desc: "F1".into(),
        series: vec![
            Series {
                label: "micro F1".into(),
                colour: style::PALETTE[0],
                dashed: false,
                points: micro,
                band: Vec::new(),
            },
            Series {
                label: "macro F1".into(),
                colour: style::PALETTE[1],
                dashed: true,
                points: macro_,
                band: Vec::new(),
            },
        ],
        marks: vec![Mark {
            x: spec_threshold,
            label: String::new(),
            colour: style::GREY,
        }],
    };
    out.push((
        format!("{dir}/threshold.svg"),
        figures::panels(
            &format!("run {} {}: test F1 by threshold ({weights})", run.id, run.name),
            &[panel],
            1,
            &[
                ("micro F1".into(), Key::Line { colour: style::PALETTE[0], dashed: false }),
                ("macro F1".into(), Key::Line { colour: style::PALETTE[1], dashed: true }),
                (
                    format!("the spec's threshold ({spec_threshold}); others are chosen on the test split here, so read them as optimistic"),
                    Key::Mark { colour: style::GREY },
                ),
            ],
        )?,
    ));

    let columns = ["TP", "FP", "FN", "TN"];
    let values: Vec<[u64; 4]> = counts
        .iter()
        .map(|g| [g.counts.tp, g.counts.fp, g.counts.fn_, g.counts.tn])
        .collect();
    let col_max: Vec<f64> = (0..4)
        .map(|j| values.iter().map(|v| v[j]).max().unwrap_or(0).max(1) as f64)
        .collect();
    out.push((
        format!("{dir}/confusion.svg"),
        figures::heatmap(&Heatmap {
            title: format!(
                "run {} {}: confusion counts per genre ({weights})",
                run.id, run.name
            ),
            rows: labelled.clone(),
            cols: columns.iter().map(|c| c.to_string()).collect(),
            text: values
                .iter()
                .map(|v| v.iter().map(|c| c.to_string()).collect())
                .collect(),
            shade: values
                .iter()
                .map(|v| (0..4).map(|j| v[j] as f64 / col_max[j]).collect())
                .collect(),
            row_desc: "genres (test posters of the genre)".into(),
            col_desc: "true/false positives, false/true negatives (posters)".into(),
            note: "shade: the count relative to the largest in its column".into(),
            vertical_cols: false,
        })?,
    ));

    // Genre × genre: of the posters truly of genre i, the share given genre j.
    let index_of: HashMap<&str, usize> = genres
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();
    let ordered: Vec<usize> = counts
        .iter()
        .map(|g| index_of.get(g.genre.as_str()).copied().unwrap_or(0))
        .collect();
    let mut share = vec![vec![0.0f64; genres.len()]; genres.len()];
    let mut of_genre = vec![0usize; genres.len()];
    for p in &d.predictions {
        for i in 0..genres.len() {
            if p.truth[i] {
                of_genre[i] += 1;
                for (cell, &predicted) in share[i].iter_mut().zip(&p.predicted) {
                    *cell += f64::from(u8::from(predicted));
                }
            }
        }
    }
    // In display order; `None` for a genre without test posters.
    let rates: Vec<Vec<Option<f64>>> = ordered
        .iter()
        .map(|&i| {
            ordered
                .iter()
                .map(|&j| (of_genre[i] > 0).then(|| share[i][j] / of_genre[i] as f64))
                .collect()
        })
        .collect();
    out.push((
        format!("{dir}/genre-by-genre.svg"),
        figures::heatmap(&Heatmap {
            title: format!(
                "run {} {}: what each genre is predicted as ({weights})",
                run.id, run.name
            ),
            rows: ordered
                .iter()
                .map(|&i| format!("{} ({})", genres[i], of_genre[i]))
                .collect(),
            cols: ordered.iter().map(|&j| genres[j].clone()).collect(),
            text: rates
                .iter()
                .map(|row| {
                    row.iter()
                        .map(|r| r.map_or(String::new(), |r| format!("{:.0}", 100.0 * r)))
                        .collect()
                })
                .collect(),
            shade: rates
                .iter()
                .map(|row| row.iter().map(|r| r.unwrap_or(f64::NAN)).collect())
                .collect(),
            row_desc: "true genre (test posters)".into(),
            col_desc:
                "predicted genre; cell: % of the row's posters given that genre (diagonal = recall)"
                    .into(),
            note: "grey rows: no test poster of the genre".into(),
            vertical_cols: true,
        })?,
    ));

    // Gallery: GALLERY test posters spread over the id order.
    let n = d.predictions.len();
    let picks: Vec<usize> = if n <= GALLERY {
        (0..n).collect()
    } else {
        (0..GALLERY).map(|k| k * n / GALLERY).collect()
    };
    let paths = posters.paths(run);
    let items: Vec<gallery::Item> = picks
        .iter()
        .map(|&k| {
            let p = &d.predictions[k];
            let mut predicted: Vec<(String, f64, bool)> = (0..genres.len())
                .filter(|&g| p.predicted[g])
                .map(|g| (genres[g].clone(), p.probability[g] as f64, p.truth[g]))
                .collect();
            predicted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            gallery::Item {
                poster: p.poster.clone(),
                thumbnail: match &paths {
                    Ok(map) => match map.get(&p.poster) {
                        Some(path) => posters.thumbnail(path),
                        None => Err(format!("poster {} is not in {}", p.poster, run.dataset_csv)),
                    },
                    Err(why) => Err(why.clone()),
                },
                truth: (0..genres.len())
                    .filter(|&g| p.truth[g])
                    .map(|g| (genres[g].clone(), p.predicted[g]))
                    .collect(),
                predicted,
            }
        })
        .collect();
    out.push((
        format!("{dir}/gallery.svg"),
        gallery::gallery(
            &format!("run {} {}: test predictions ({weights})", run.id, run.name),
            &items,
            &format!("Rule: {}.", decision_text(run)),
        ),
    ));
    Ok(out)
}

/// Micro and macro F1 of the test predictions under `decision` (the run's
/// rule at another threshold), counted as the metrics count them.
fn f1_at(predictions: &[PosterPrediction], genres: usize, decision: Decision) -> (f64, f64) {
    let mut counts = vec![GenreCounts::default(); genres];
    for p in predictions {
        let cut = decision.cut(&p.probability);
        for (g, c) in counts.iter_mut().enumerate() {
            c.record(p.truth[g], p.probability[g] as f64 > cut);
        }
    }
    let macro_ = counts.iter().map(GenreCounts::f1).sum::<f64>() / genres.max(1) as f64;
    (GenreCounts::total(&counts).f1(), macro_)
}

fn bar(label: &str, colour: usize, values: Vec<f64>) -> BarSeries {
    BarSeries {
        label: label.to_string(),
        colour: style::colour(colour),
        values,
        errors: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::metrics::evaluate;

    #[test]
    fn f1_by_threshold_agrees_with_the_metrics() {
        let scores = [0.9f32, 0.2, 0.6, 0.4, 0.55, 0.05, 0.3, 0.8, 0.1];
        let truth = [1u8, 0, 1, 1, 0, 0, 0, 1, 1];
        let predictions: Vec<PosterPrediction> = (0..3)
            .map(|p| PosterPrediction {
                poster: p.to_string(),
                truth: truth[p * 3..p * 3 + 3].iter().map(|&t| t == 1).collect(),
                probability: scores[p * 3..p * 3 + 3].to_vec(),
                predicted: vec![false; 3],
            })
            .collect();
        for t in [0.25, 0.5, 0.7] {
            let m = evaluate(&truth, &scores, 3, Decision::Threshold(t));
            let (micro, macro_) = f1_at(&predictions, 3, Decision::Threshold(t));
            assert!((micro - m.micro_f1).abs() < 1e-12 && (macro_ - m.macro_f1).abs() < 1e-12);
            let m = evaluate(&truth, &scores, 3, Decision::RelativeToTop(t));
            let (micro, macro_) = f1_at(&predictions, 3, Decision::RelativeToTop(t));
            assert!((micro - m.micro_f1).abs() < 1e-12 && (macro_ - m.macro_f1).abs() < 1e-12);
        }
    }
}
