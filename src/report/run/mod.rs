//! One run's figures, in the order the index page shows them: the learning
//! curves, then, for a tested run, what its best checkpoint made of the
//! test split: per-genre scores and frequencies, F1 by threshold, the
//! confusion counts, what each genre is mistaken for, and the gallery.

mod curves;
mod gallery;
mod genres;
mod threshold;

use super::load::RunData;

pub(super) use self::gallery::Thumbnails;
use crate::store::{EpochRow, GenreRow, PosterPrediction, RunRow, Status};
use crate::text::plural;

/// One run's figures: (file name under the output folder, SVG text).
pub(super) fn figures(
    d: &RunData,
    thumbnails: &Thumbnails,
) -> Result<Vec<(String, String)>, String> {
    let dir = d.folder();
    let file = |name: &str| format!("{dir}/{name}.svg");
    let mut out = vec![(file("curves"), curves::figure(d)?)];
    // Before the first epoch ends, the curves figure says why there is none.
    if d.epochs.is_empty() {
        return Ok(out);
    }
    let Some(test) = &d.test else {
        return Ok(out);
    };
    let t = Tested::new(d, test);
    out.push((file("genres"), genres::scores(&t)?));
    out.push((file("frequency"), genres::frequency(&t)?));
    out.push((file("threshold"), threshold::figure(&t)?));
    out.push((file("confusion"), genres::confusion(&t)?));
    out.push((file("genre-by-genre"), genres::mistaken_for(&t)?));
    out.push((file("gallery"), gallery::figure(&t, &d.images, thumbnails)));
    Ok(out)
}

/// A tested run, as its test figures see it.
struct Tested<'a> {
    run: &'a RunRow,
    predictions: &'a [PosterPrediction],
    /// The genres' test counts by support, most frequent first (ties by name).
    counts: Vec<&'a GenreRow>,
    /// Each genre of `counts` with its test posters: "Drama (40)".
    labelled: Vec<String>,
    /// The weights tested and on how many posters, for the titles.
    weights: String,
}

impl<'a> Tested<'a> {
    fn new(d: &'a RunData, test: &'a EpochRow) -> Self {
        let mut counts: Vec<&GenreRow> = d.genre_counts.iter().collect();
        counts.sort_by(|a, b| {
            b.counts
                .support()
                .cmp(&a.counts.support())
                .then_with(|| a.genre.cmp(&b.genre))
        });
        Tested {
            run: &d.run,
            predictions: &d.predictions,
            labelled: counts
                .iter()
                .map(|g| format!("{} ({})", g.genre, g.counts.support()))
                .collect(),
            counts,
            weights: format!(
                "epoch {} weights, {} test posters",
                test.epoch, test.posters
            ),
        }
    }

    /// A test figure's title: the run, `what` it shows, and of what.
    fn title(&self, what: &str) -> String {
        format!(
            "run {} {}: {what} ({})",
            self.run.id, self.run.name, self.weights
        )
    }
}

/// Where a run stands, in words.
pub(super) fn status_line(run: &RunRow) -> String {
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
