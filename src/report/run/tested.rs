//! A run as its figures see it: where it stands, in words, and, for a
//! tested run, its genres ordered by test support and the titles' wording.

use crate::report::load::RunData;
use crate::store::{EpochRow, GenreRow, PosterPrediction, RunRow, Status};
use crate::text::plural;
use crate::train::decision::Decision;

/// A tested run, as its test figures see it.
pub(super) struct Tested<'a> {
    pub run: &'a RunRow,
    pub predictions: &'a [PosterPrediction],
    pub val_predictions: &'a [PosterPrediction],
    /// The run's rule as applied (see `RunData::decision`).
    pub decision: Option<&'a Decision>,
    /// The genres' test counts by support, most frequent first (ties by name).
    pub counts: Vec<&'a GenreRow>,
    /// Each genre of `counts` with its test posters: "Drama (40)".
    pub labelled: Vec<String>,
    /// The weights tested and on how many posters, for the titles.
    weights: String,
}

impl<'a> Tested<'a> {
    pub fn new(d: &'a RunData, test: &'a EpochRow) -> Self {
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
            val_predictions: &d.val_predictions,
            decision: d.decision.as_ref(),
            labelled: counts
                .iter()
                .map(|g| format!("{} ({})", g.genre, g.counts.support()))
                .collect(),
            counts,
            weights: format!(
                "epoch {} weights, {}",
                test.epoch,
                plural(test.posters, "test poster")
            ),
        }
    }

    /// A test figure's title: the run, `what` it shows, and of what.
    pub fn title(&self, what: &str) -> String {
        format!(
            "run {} {}: {what} ({})",
            self.run.id, self.run.name, self.weights
        )
    }
}

/// Where a run stands, in words.
pub(in crate::report) fn status_line(run: &RunRow) -> String {
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
