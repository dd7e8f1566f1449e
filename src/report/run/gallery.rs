//! Which test posters a run's gallery (`gallery.svg`) shows, with their
//! true and predicted genres; [`crate::report::gallery`] draws it.

use super::Tested;
use crate::report::gallery::{self, Item};
use crate::report::spec_derived::{decision_text, PosterFiles};

/// Posters in a run's gallery.
const GALLERY: usize = 12;

/// The gallery: GALLERY test posters spread over the id order.
pub(super) fn figure(t: &Tested, posters: &PosterFiles) -> String {
    let (run, genres) = (t.run, &t.run.genres);
    let n = t.predictions.len();
    let picks: Vec<usize> = if n <= GALLERY {
        (0..n).collect()
    } else {
        (0..GALLERY).map(|k| k * n / GALLERY).collect()
    };
    let paths = posters.paths(run);
    let items: Vec<Item> = picks
        .iter()
        .map(|&k| {
            let p = &t.predictions[k];
            let mut predicted: Vec<(String, f64, bool)> = (0..genres.len())
                .filter(|&g| p.predicted[g])
                .map(|g| (genres[g].clone(), p.probability[g] as f64, p.truth[g]))
                .collect();
            predicted.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
            Item {
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
    gallery::gallery(
        &t.title("test predictions"),
        &items,
        &format!("Rule: {}.", decision_text(run)),
    )
}
