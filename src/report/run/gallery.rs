//! Which test posters a run's gallery (`gallery.svg`) shows, with their
//! true and predicted genres; [`crate::report::gallery`] draws it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::tested::Tested;
use crate::report::gallery::{self, Item};
use crate::train::decision;

/// Thumbnails made so far, by poster file: runs on one data set share
/// their posters' thumbnails.
#[derive(Default)]
pub(in crate::report) struct Thumbnails {
    made: Mutex<HashMap<PathBuf, Result<String, String>>>,
}

impl Thumbnails {
    /// The poster at `path` as a gallery thumbnail.
    fn get(&self, path: &Path) -> Result<String, String> {
        if let Some(t) = self.made.lock().expect("thumbnail cache").get(path) {
            return t.clone();
        }
        let t = gallery::thumbnail(path);
        self.made
            .lock()
            .expect("thumbnail cache")
            .insert(path.to_path_buf(), t.clone());
        t
    }
}

/// Posters in a run's gallery.
const GALLERY: usize = 12;

/// The gallery: GALLERY test posters spread over the id order.
pub(super) fn figure(
    t: &Tested,
    images: &Result<HashMap<String, PathBuf>, String>,
    thumbnails: &Thumbnails,
) -> String {
    let (run, genres) = (t.run, &t.run.genres);
    let n = t.predictions.len();
    let picks: Vec<usize> = if n <= GALLERY {
        (0..n).collect()
    } else {
        (0..GALLERY).map(|k| k * n / GALLERY).collect()
    };
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
                thumbnail: match images {
                    Ok(map) => match map.get(&p.poster) {
                        Some(path) => thumbnails.get(path),
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
        &format!(
            "Rule: {}.",
            t.decision.map_or_else(
                || format!("{} (its thresholds were not recorded)", run.rule),
                |d| decision::describe(run.rule, d)
            )
        ),
    )
}
