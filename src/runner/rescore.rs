//! Finished runs re-scored under another decision rule, from their stored
//! predictions alone: the test predictions of the tested weights are judged
//! by the rule, tuned (for a tuned rule) on the validation predictions of
//! the same weights. Nothing is retrained; the result is stored beside the
//! run's own metrics (`rescores`), which stay as they were.

use crate::metric::Split;
use crate::spec::Rule;
use crate::store::{EpochRow, PosterPrediction, RunRow, Status, Store};
use crate::train::decision::{self, decide, Validation};
use crate::train::metrics::{evaluate, Metrics};

/// A run re-scored.
#[derive(Debug, Clone, PartialEq)]
pub struct Rescored {
    /// The rule's label, as stored (`tuned`, `threshold:0.3`, …).
    pub label: String,
    pub metrics: Metrics,
    /// The run's own test row (its metrics under its own rule).
    pub own: EpochRow,
    /// The one threshold a tuned rule chose over all genres.
    pub tuned: Option<f64>,
}

/// Re-scores `run` under `rule` (at `threshold`, else the run's own, for
/// the plain rules) and stores the result; `Err` says why it cannot be,
/// in a sentence about this run.
pub fn rescore(
    store: &mut Store,
    run: &RunRow,
    rule: Rule,
    threshold: Option<f64>,
) -> Result<Rescored, String> {
    let err = |e: crate::store::StoreError| e.to_string();
    if run.status != Status::Finished {
        return Err(format!(
            "it is {}: only a tested run has predictions to re-score",
            run.status
        ));
    }
    let test_row = store
        .epochs(run.id)
        .map_err(err)?
        .into_iter()
        .find(|r| r.split == Split::Test)
        .ok_or("it has no test row")?;
    let test = store.predictions(run.id, Split::Test).map_err(err)?;
    if test.is_empty() {
        return Err("it has no stored test predictions".into());
    }
    let val = store.predictions(run.id, Split::Val).map_err(err)?;
    let genres = run.genres.len();
    let (val_targets, val_scores) = PosterPrediction::flatten(&val);
    let threshold = threshold.unwrap_or(run.threshold);
    let decided = decide(
        rule,
        threshold,
        genres,
        Some(Validation {
            targets: &val_targets,
            scores: &val_scores,
        }),
    )
    .map_err(|e| e.to_string())?;
    let (targets, scores) = PosterPrediction::flatten(&test);
    let metrics = evaluate(&targets, &scores, genres, &decided.decision);
    let label = decision::label(rule, threshold);
    store
        .record_rescore(
            run.id,
            &label,
            test_row.epoch,
            test.len(),
            &metrics,
            &decided.thresholds(&run.genres),
        )
        .map_err(err)?;
    Ok(Rescored {
        label,
        metrics,
        own: test_row,
        tuned: decided.tuned,
    })
}
