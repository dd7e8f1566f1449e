//! What the report reads from the store, all of it, before anything is
//! drawn: the runs to show, each run's epochs, its test genre counts and
//! predictions; and the configurations the runs fall into. A change to the
//! store's row types meets the report here.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::metric::{Metric, Split};
use crate::spec::Rule;
use crate::store::{self, EpochRow, GenreRow, PosterPrediction, RunRow, Status, Store};
use crate::train::decision::{self, Decision};

/// Where the poster files of a run recorded before the store kept them
/// (schema 1) are: poster id → image file, or why they cannot be found.
/// Finding them means reading the run's data set, which is not the report's
/// to do, so its caller says (`data::RecordedElsewhere`).
pub type EarlierPosters<'a> =
    &'a (dyn Fn(&RunRow) -> Result<HashMap<String, PathBuf>, String> + Sync);

/// Everything one run's figures need, read from the store.
pub(super) struct RunData {
    pub run: RunRow,
    /// The training and validation rows, epoch by epoch.
    pub epochs: Vec<EpochRow>,
    /// The test split's row (the best checkpoint), if the run was tested.
    pub test: Option<EpochRow>,
    pub genre_counts: Vec<GenreRow>,
    pub predictions: Vec<PosterPrediction>,
    /// The validation predictions of the tested weights (none for runs
    /// recorded before the store kept them).
    pub val_predictions: Vec<PosterPrediction>,
    /// The run's rule as it was applied; `None` before a test, or for a
    /// tuned rule whose thresholds are missing.
    pub decision: Option<Decision>,
    /// Each test poster's image file, by poster id, or why they cannot be
    /// found.
    pub images: Result<HashMap<String, PathBuf>, String>,
    /// The configuration this run belongs to.
    pub group: String,
}

impl RunData {
    /// Where the run's figures go under the output folder.
    pub fn folder(&self) -> String {
        format!("runs/{}-{}", self.run.id, slug(&self.run.name))
    }
}

fn slug(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    while s.contains("--") {
        s = s.replace("--", "-");
    }
    s.trim_matches('-').chars().take(60).collect()
}

/// The runs a report shows: those `selectors` pick, or every finished run.
pub fn select(store: &Store, selectors: &[String]) -> Result<store::Selection, String> {
    let all = store.runs().map_err(|e| e.to_string())?;
    if selectors.is_empty() {
        let finished: Vec<RunRow> = all
            .into_iter()
            .filter(|r| r.status == Status::Finished)
            .collect();
        if finished.is_empty() {
            return Err(format!(
                "no finished runs in {}\n  help: `posterlab runs` lists what is there; name runs (or a status such as `running`) to report on them",
                store.path().display()
            ));
        }
        return Ok(store::Selection {
            runs: finished,
            unmatched: Vec::new(),
        });
    }
    store::select(&all, selectors)
}

/// Reads everything the figures of `runs` need; configurations by the spec
/// fields `group_by` (empty: see [`group_of`]).
pub(super) fn read(
    store: &Store,
    runs: &[RunRow],
    group_by: &[String],
    earlier: EarlierPosters,
) -> Result<Vec<RunData>, String> {
    for key in group_by {
        if runs
            .iter()
            .all(|r| store::spec_value(&r.spec_toml, key).is_none())
        {
            return Err(format!(
                "--group-by {key}: no selected run's spec has that field\n  help: use a dotted spec field such as model.arch or train.loss (see `posterlab spec defaults`)"
            ));
        }
    }
    let err = |e: store::StoreError| e.to_string();
    let mut data = Vec::with_capacity(runs.len());
    for run in runs {
        let rows = store.epochs(run.id).map_err(err)?;
        let test = rows.iter().find(|r| r.split == Split::Test).cloned();
        let (genre_counts, predictions, val_predictions) = match &test {
            Some(t) => (
                store
                    .genre_counts(run.id, Split::Test, t.epoch)
                    .map_err(err)?,
                store.predictions(run.id, Split::Test).map_err(err)?,
                store.predictions(run.id, Split::Val).map_err(err)?,
            ),
            None => (Vec::new(), Vec::new(), Vec::new()),
        };
        let thresholds = store.thresholds(run.id, &run.rule.name()).map_err(err)?;
        let decision = decision::recorded(run.rule, run.threshold, &run.genres, &thresholds);
        let recorded = store.test_images(run.id).map_err(err)?;
        let images = if recorded.is_empty() && !predictions.is_empty() {
            earlier(run)
        } else {
            Ok(recorded)
        };
        data.push(RunData {
            group: group_of(run, group_by),
            run: run.clone(),
            epochs: rows
                .into_iter()
                .filter(|r| r.split != Split::Test)
                .collect(),
            test,
            genre_counts,
            predictions,
            val_predictions,
            decision,
            images,
        });
    }
    Ok(data)
}

/// Each tested run of `data` as re-scored under `rule` (at `threshold`,
/// else the run's own): its test row, per-genre counts and predicted flags
/// replaced by the rescore's. A run whose own rule it is keeps its own; a
/// run never re-scored under it is an error that says how to re-score it.
pub(super) fn under_rule(
    store: &Store,
    data: &mut [RunData],
    rule: Rule,
    threshold: Option<f64>,
) -> Result<(), String> {
    let err = |e: store::StoreError| e.to_string();
    let mut missing = Vec::new();
    for d in data.iter_mut() {
        let Some(own) = &d.test else { continue };
        let label = decision::label(rule, threshold.unwrap_or(d.run.threshold));
        if label == decision::label(d.run.rule, d.run.threshold) {
            continue;
        }
        let Some(rescore) = store
            .rescores(d.run.id)
            .map_err(err)?
            .into_iter()
            .find(|r| r.rule == label)
        else {
            missing.push(d.run.id.to_string());
            continue;
        };
        let thresholds = store.thresholds(d.run.id, &label).map_err(err)?;
        let applied = decision::recorded(
            rule,
            threshold.unwrap_or(d.run.threshold),
            &d.run.genres,
            &thresholds,
        )
        .ok_or_else(|| {
            format!(
                "run {}: the thresholds of its {label} rescore are missing",
                d.run.id
            )
        })?;
        d.test = Some(rescore.as_epoch_row(own));
        for (g, counts) in d.genre_counts.iter_mut().zip(&rescore.metrics.per_genre) {
            g.counts = *counts;
        }
        for p in &mut d.predictions {
            applied.apply(&p.probability, &mut p.predicted);
        }
        d.decision = Some(applied);
        d.run.rule = rule;
        d.run.threshold = threshold.unwrap_or(d.run.threshold);
    }
    if missing.is_empty() {
        Ok(())
    } else {
        let rule = threshold.map_or(rule.name(), |t| decision::label(rule, t));
        Err(format!(
            "--decision {rule}: {} not re-scored under it\n  help: posterlab rescore {} --decision {rule}",
            crate::text::plural(missing.len(), "run"),
            missing.join(" ")
        ))
    }
}

/// A run's configuration label: the experiment and its factors' values
/// (default grouping), or the `--group-by` fields' values.
fn group_of(run: &RunRow, group_by: &[String]) -> String {
    let factors: Vec<String> = factors_of(run, group_by)
        .iter()
        .map(|(k, v)| format!("{}={v}", k.rsplit('.').next().unwrap_or(k)))
        .collect();
    if !group_by.is_empty() {
        factors.join(" ")
    } else if factors.is_empty() {
        run.experiment.clone()
    } else {
        format!("{} {}", run.experiment, factors.join(" "))
    }
}

/// The factors that tell a run's configuration from the others: with
/// `--group-by`, its fields' values; otherwise every swept field but
/// `train.seed`, as (dotted field, value).
fn factors_of(run: &RunRow, group_by: &[String]) -> Vec<(String, String)> {
    if group_by.is_empty() {
        run.swept
            .iter()
            .filter(|(k, _)| k != "train.seed")
            .map(|(k, v)| (k.clone(), v.trim_matches('"').to_string()))
            .collect()
    } else {
        group_by
            .iter()
            .map(|k| {
                let v = store::spec_value(&run.spec_toml, k).unwrap_or_else(|| "?".to_string());
                (k.clone(), v)
            })
            .collect()
    }
}

/// A configuration: its label, the values of its factors and its runs
/// (seeds, unless `--group-by` says otherwise).
pub(super) struct Group<'a> {
    pub label: String,
    /// (dotted field, value).
    pub factors: Vec<(String, String)>,
    /// The grid the configuration is a point of: its experiment (a sweep's
    /// points share it), or one grid for all under `--group-by`.
    pub grid: String,
    pub runs: Vec<&'a RunData>,
}

/// The configurations, in the order of their first run.
pub(super) fn groups<'a>(data: &'a [RunData], group_by: &[String]) -> Vec<Group<'a>> {
    let mut groups: Vec<Group> = Vec::new();
    for d in data {
        match groups.iter_mut().find(|g| g.label == d.group) {
            Some(g) => g.runs.push(d),
            None => groups.push(Group {
                label: d.group.clone(),
                factors: factors_of(&d.run, group_by),
                grid: if group_by.is_empty() {
                    d.run.experiment.clone()
                } else {
                    String::new()
                },
                runs: vec![d],
            }),
        }
    }
    groups
}

/// A metric of one split over the epochs: (epoch, value).
pub(super) fn curve(epochs: &[EpochRow], split: Split, metric: Metric) -> Vec<(f64, f64)> {
    epochs
        .iter()
        .filter(|r| r.split == split)
        .map(|r| (r.epoch as f64, r.value(metric)))
        .collect()
}

/// The learning rate of each epoch: (epoch, rate).
pub(super) fn lr_curve(epochs: &[EpochRow]) -> Vec<(f64, f64)> {
    epochs
        .iter()
        .filter(|r| r.split == Split::Val)
        .map(|r| (r.epoch as f64, r.lr.unwrap_or(f64::NAN)))
        .collect()
}
