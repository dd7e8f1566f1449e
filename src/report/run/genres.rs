//! A tested run's per-genre figures, genres by test support: precision,
//! recall and F1 (`genres.svg`), predicted against true frequency
//! (`frequency.svg`), the confusion counts (`confusion.svg`) and what each
//! genre is predicted as (`genre-by-genre.svg`).

use std::collections::HashMap;

use super::tested::Tested;
use crate::report::figures::{self, BarSeries, Bars, Heatmap};
use crate::report::style;

/// Per-genre test precision, recall and F1.
pub(super) fn scores(t: &Tested) -> Result<String, String> {
    let counts = &t.counts;
    figures::bars(&Bars {
        title: t.title("per-genre test metrics"),
        x_desc: "score (genre label: test posters of the genre)".into(),
        categories: t.labelled.clone(),
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
    })
}

/// How many test posters are of each genre, and how many were given it: a
/// model that collapses onto the frequent genres shows at once.
pub(super) fn frequency(t: &Tested) -> Result<String, String> {
    let counts = &t.counts;
    figures::bars(&Bars {
        title: t.title("predicted vs true genre frequency"),
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
    })
}

fn bar(label: &str, colour: usize, values: Vec<f64>) -> BarSeries {
    BarSeries {
        label: label.to_string(),
        colour: style::colour(colour),
        values,
        errors: None,
    }
}

/// TP, FP, FN and TN per genre, each shaded against its column's largest.
pub(super) fn confusion(t: &Tested) -> Result<String, String> {
    let columns = ["TP", "FP", "FN", "TN"];
    let values: Vec<[u64; 4]> = t
        .counts
        .iter()
        .map(|g| [g.counts.tp, g.counts.fp, g.counts.fn_, g.counts.tn])
        .collect();
    let col_max: Vec<f64> = (0..4)
        .map(|j| values.iter().map(|v| v[j]).max().unwrap_or(0).max(1) as f64)
        .collect();
    figures::heatmap(&Heatmap {
        title: t.title("confusion counts per genre"),
        rows: t.labelled.clone(),
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
    })
}

/// Genre × genre: of the posters truly of genre i, the share given genre j.
pub(super) fn mistaken_for(t: &Tested) -> Result<String, String> {
    let genres = &t.run.genres;
    let index_of: HashMap<&str, usize> = genres
        .iter()
        .enumerate()
        .map(|(i, g)| (g.as_str(), i))
        .collect();
    let ordered: Vec<usize> = t
        .counts
        .iter()
        .map(|g| index_of.get(g.genre.as_str()).copied().unwrap_or(0))
        .collect();
    let mut share = vec![vec![0.0f64; genres.len()]; genres.len()];
    let mut of_genre = vec![0usize; genres.len()];
    for p in t.predictions {
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
    figures::heatmap(&Heatmap {
        title: t.title("what each genre is predicted as"),
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
    })
}
