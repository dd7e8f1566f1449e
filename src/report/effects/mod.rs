//! Is a configuration really better than the baseline? Differences of the
//! headline test metrics with 95 % intervals and p-values from the paired,
//! two-level bootstrap (`bootstrap`), Holm-corrected over the comparisons
//! of each metric; and the main effects of a grid: each factor level's mean
//! over the other factors, with its interval, and the difference between
//! levels — what an ablation section reports.
//!
//! Only configurations scored on the baseline's test posters are compared
//! (pairing needs the same posters): one with another data set, other
//! genres or another split is listed with the reason instead.

use std::collections::HashMap;

use rayon::prelude::*;

use super::bootstrap::{self, Estimate, Replicates, Scored, METRICS};
use super::load::{Group, RunData};
use crate::spec::BASELINE_TAG;
use crate::store;

mod render;

pub(super) use render::files;

/// The family-wise error rate the significance marks keep to.
pub const ALPHA: f64 = 0.05;

/// How the bootstrap is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    pub resamples: usize,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            resamples: bootstrap::RESAMPLES,
            seed: bootstrap::SEED,
        }
    }
}

/// A difference against a reference, with its Holm-adjusted p-value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Diff {
    pub estimate: Estimate,
    pub holm: f64,
}

impl Diff {
    pub fn significant(&self) -> bool {
        self.holm < ALPHA
    }
}

/// A configuration as the effects table sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum Versus {
    Baseline,
    /// One difference per [`METRICS`] entry.
    Compared(Vec<Diff>),
    /// Not compared, and why.
    Excluded(String),
}

/// One level of a factor.
#[derive(Debug, Clone)]
pub struct Level {
    pub value: String,
    /// How many configurations have it.
    pub configs: usize,
    /// Per [`METRICS`] entry, the mean over those configurations.
    pub mean: Vec<Estimate>,
    /// Per [`METRICS`] entry, the difference from the reference level;
    /// `None` for the reference itself.
    pub delta: Option<Vec<Diff>>,
}

/// A factor of the grid (a field the configurations differ in).
#[derive(Debug, Clone)]
pub struct Factor {
    /// The dotted field (`train.loss`), or `experiment`.
    pub field: String,
    pub levels: Vec<Level>,
}

impl Factor {
    /// The field's last part (`loss`), as configuration labels name it.
    pub fn name(&self) -> &str {
        self.field.rsplit('.').next().unwrap_or(&self.field)
    }

    /// The level the others are compared with.
    pub fn reference(&self) -> &Level {
        self.levels
            .iter()
            .find(|l| l.delta.is_none())
            .expect("a reference level")
    }
}

/// The main effects of the compared configurations' grid.
#[derive(Debug, Clone)]
pub struct MainEffects {
    pub factors: Vec<Factor>,
    /// Every combination of the factors' levels is a configuration, once:
    /// otherwise a level's mean is over other mixes of the other factors
    /// than another level's, and the tables say so.
    pub complete: bool,
}

/// Everything the effects tables and figures show.
#[derive(Debug, Clone)]
pub struct Effects {
    /// Per configuration (in the report's order): how it stands against the
    /// baseline; `None` for every one when there is no baseline, and for a
    /// configuration without a tested run.
    pub versus: Vec<Option<Versus>>,
    /// The baseline configuration's index.
    pub baseline: Option<usize>,
    pub main: Option<MainEffects>,
    /// Configurations left out of the main effects (another data set or
    /// split than the reference's), and why.
    pub main_excluded: Vec<(String, String)>,
    /// Compared configurations with one run: their seeds' noise is not in
    /// their intervals.
    pub single_runs: Vec<String>,
    pub settings: Settings,
    /// The test posters every comparison is scored on.
    pub posters: usize,
}

/// The effects of `groups` against `baseline` (a group index) and the main
/// effects of their factors; `None` when there is nothing to compare (no
/// baseline and no factor with two levels, or no tested run).
pub(super) fn compute(
    groups: &[Group],
    baseline: Option<usize>,
    settings: Settings,
) -> Result<Option<Effects>, String> {
    let tested: Vec<Vec<&RunData>> = groups
        .iter()
        .map(|g| {
            g.runs
                .iter()
                .copied()
                .filter(|d| d.test.is_some() && !d.predictions.is_empty())
                .collect()
        })
        .collect();
    if let Some(b) = baseline {
        if tested[b].is_empty() {
            return Err(format!(
                "--baseline: the baseline configuration `{}` has no tested run with stored \
                 predictions\n  help: choose a configuration whose runs finished",
                groups[b].label
            ));
        }
    }
    let Some(reference) = baseline.or_else(|| tested.iter().position(|t| !t.is_empty())) else {
        return Ok(None);
    };
    // Which configurations share the reference's posters.
    let first = tested[reference][0];
    let order: HashMap<&str, u32> = first
        .predictions
        .iter()
        .enumerate()
        .map(|(i, p)| (p.poster.as_str(), i as u32))
        .collect();
    let why_not: Vec<Option<String>> = tested
        .iter()
        .map(|runs| runs.iter().find_map(|d| unpaired(first, d, &order)))
        .collect();
    let included: Vec<usize> = (0..groups.len())
        .filter(|&k| !tested[k].is_empty() && why_not[k].is_none())
        .collect();
    let grid = grid_of(groups, &included, reference);
    let factors = grid_factors(groups, &grid);
    if baseline.is_none() && factors.is_empty() {
        return Ok(None);
    }

    // Score every run of the included configurations on the same posters.
    let scored: Vec<Vec<Scored>> = included
        .par_iter()
        .map(|&k| {
            tested[k]
                .iter()
                .map(|d| {
                    let mut ordered = vec![&d.predictions[0]; d.predictions.len()];
                    for p in &d.predictions {
                        ordered[order[p.poster.as_str()] as usize] = p;
                    }
                    Scored::new(&ordered, d.run.genres.len())
                })
                .collect()
        })
        .collect();
    let configs: Vec<Vec<&Scored>> = scored.iter().map(|runs| runs.iter().collect()).collect();
    let replicates = bootstrap::resample(&configs, settings.resamples, settings.seed);
    let at = |k: usize| {
        included
            .iter()
            .position(|&i| i == k)
            .expect("an included configuration")
    };

    let versus = match baseline {
        None => vec![None; groups.len()],
        Some(b) => {
            let others: Vec<usize> = included.iter().copied().filter(|&k| k != b).collect();
            let diffs: Vec<Vec<Diff>> = transpose(
                (0..METRICS.len())
                    .map(|m| {
                        let contrasts: Vec<Vec<(usize, f64)>> = others
                            .iter()
                            .map(|&k| vec![(at(k), 1.0), (at(b), -1.0)])
                            .collect();
                        corrected(&replicates, m, &contrasts)
                    })
                    .collect(),
                others.len(),
            );
            let mut versus: Vec<Option<Versus>> = (0..groups.len())
                .map(|k| {
                    why_not[k]
                        .clone()
                        .filter(|_| !tested[k].is_empty())
                        .map(Versus::Excluded)
                })
                .collect();
            versus[b] = Some(Versus::Baseline);
            for (k, d) in others.iter().zip(diffs) {
                versus[*k] = Some(Versus::Compared(d));
            }
            versus
        }
    };
    let main = (!factors.is_empty())
        .then(|| main_effects(groups, &grid, baseline, &factors, &replicates, at));
    Ok(Some(Effects {
        versus,
        baseline,
        main,
        main_excluded: (0..groups.len())
            .filter(|&k| groups[k].grid == groups[reference].grid && !tested[k].is_empty())
            .filter_map(|k| why_not[k].clone().map(|why| (groups[k].label.clone(), why)))
            .collect(),
        single_runs: included
            .iter()
            .filter(|&&k| tested[k].len() == 1)
            .map(|&k| groups[k].label.clone())
            .collect(),
        settings,
        posters: order.len(),
    }))
}

/// Why `run` cannot be paired with `reference` (whose posters are at
/// `order`), if it cannot.
fn unpaired(reference: &RunData, run: &RunData, order: &HashMap<&str, u32>) -> Option<String> {
    let (a, b) = (&reference.run, &run.run);
    if a.dataset_hash != b.dataset_hash {
        return Some(format!(
            "another data set ({}, content hash {} against {})",
            b.dataset,
            &b.dataset_hash[..b.dataset_hash.len().min(12)],
            &a.dataset_hash[..a.dataset_hash.len().min(12)]
        ));
    }
    if a.genres != b.genres {
        return Some("other genres".to_string());
    }
    let same_posters = run.predictions.len() == order.len()
        && run
            .predictions
            .iter()
            .all(|p| order.contains_key(p.poster.as_str()));
    if same_posters {
        return None;
    }
    let field = |r: &store::RunRow, k: &str| {
        store::spec_value(&r.spec_toml, k).unwrap_or_else(|| "?".into())
    };
    let differs: Vec<String> = ["data.split_seed", "data.test_fraction", "data.val_fraction"]
        .iter()
        .filter(|k| field(a, k) != field(b, k))
        .map(|k| format!("{k} {} against {}", field(b, k), field(a, k)))
        .collect();
    Some(if differs.is_empty() {
        format!(
            "another test split ({} test posters against {})",
            run.predictions.len(),
            order.len()
        )
    } else {
        format!("another test split ({})", differs.join(", "))
    })
}

/// The estimates of `contrasts` for metric `m`, Holm-corrected together.
fn corrected(replicates: &Replicates, m: usize, contrasts: &[Vec<(usize, f64)>]) -> Vec<Diff> {
    let estimates: Vec<Estimate> = contrasts
        .iter()
        .map(|c| {
            let (value, reps) = replicates.contrast(m, c);
            Estimate::new(value, reps)
        })
        .collect();
    let holm = bootstrap::holm(&estimates.iter().map(|e| e.p).collect::<Vec<_>>());
    estimates
        .into_iter()
        .zip(holm)
        .map(|(estimate, holm)| Diff { estimate, holm })
        .collect()
}

/// `[metric][item]` → `[item][metric]`.
fn transpose<T: Clone>(by_metric: Vec<Vec<T>>, items: usize) -> Vec<Vec<T>> {
    (0..items)
        .map(|i| by_metric.iter().map(|m| m[i].clone()).collect())
        .collect()
}

/// The configurations of the reference's grid: the included ones of its
/// grid (experiment) that have the same factors.
fn grid_of(groups: &[Group], included: &[usize], reference: usize) -> Vec<usize> {
    let fields =
        |k: usize| -> Vec<&str> { groups[k].factors.iter().map(|(f, _)| f.as_str()).collect() };
    included
        .iter()
        .copied()
        .filter(|&k| groups[k].grid == groups[reference].grid && fields(k) == fields(reference))
        .collect()
}

/// The fields whose values differ among the configurations `grid`, with
/// their levels in order of first appearance.
fn grid_factors(groups: &[Group], grid: &[usize]) -> Vec<(String, Vec<String>)> {
    let Some(&first) = grid.first() else {
        return Vec::new();
    };
    groups[first]
        .factors
        .iter()
        .filter_map(|(field, _)| {
            let mut levels: Vec<String> = Vec::new();
            for &k in grid {
                let value = groups[k]
                    .factors
                    .iter()
                    .find(|(f, _)| f == field)
                    .map(|(_, v)| v.clone())?;
                if !levels.contains(&value) {
                    levels.push(value);
                }
            }
            (levels.len() > 1).then(|| (field.clone(), levels))
        })
        .collect()
}

fn main_effects(
    groups: &[Group],
    grid: &[usize],
    baseline: Option<usize>,
    factors: &[(String, Vec<String>)],
    replicates: &Replicates,
    at: impl Fn(usize) -> usize,
) -> MainEffects {
    let value_of = |k: usize, field: &str| {
        groups[k]
            .factors
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // A level's mean: the mean of its configurations' scores.
    let level_contrast = |field: &str, level: &str| -> Vec<(usize, f64)> {
        let with: Vec<usize> = grid
            .iter()
            .copied()
            .filter(|&k| value_of(k, field) == level)
            .collect();
        with.iter()
            .map(|&k| (at(k), 1.0 / with.len() as f64))
            .collect()
    };
    // The reference level: the baseline's, else the first.
    let reference = |field: &str, levels: &[String]| -> usize {
        baseline
            .filter(|b| grid.contains(b))
            .and_then(|b| levels.iter().position(|l| *l == value_of(b, field)))
            .unwrap_or(0)
    };
    // Every level-against-reference difference, in (factor, level) order.
    let mut pairs = Vec::new();
    let mut contrasts = Vec::new();
    for (f, (field, levels)) in factors.iter().enumerate() {
        let r = reference(field, levels);
        for (l, level) in levels.iter().enumerate() {
            if l == r {
                continue;
            }
            let mut c = level_contrast(field, level);
            c.extend(
                level_contrast(field, &levels[r])
                    .into_iter()
                    .map(|(k, w)| (k, -w)),
            );
            pairs.push((f, l));
            contrasts.push(c);
        }
    }
    let diffs = transpose(
        (0..METRICS.len())
            .map(|m| corrected(replicates, m, &contrasts))
            .collect(),
        contrasts.len(),
    );
    let factors_out = factors
        .iter()
        .enumerate()
        .map(|(f, (field, levels))| Factor {
            field: field.clone(),
            levels: levels
                .iter()
                .enumerate()
                .map(|(l, level)| {
                    let c = level_contrast(field, level);
                    Level {
                        value: level.clone(),
                        configs: c.len(),
                        mean: (0..METRICS.len())
                            .map(|m| {
                                let (value, reps) = replicates.contrast(m, &c);
                                Estimate::new(value, reps)
                            })
                            .collect(),
                        delta: pairs
                            .iter()
                            .position(|&p| p == (f, l))
                            .map(|i| diffs[i].clone()),
                    }
                })
                .collect(),
        })
        .collect();
    let cells: usize = factors.iter().map(|(_, levels)| levels.len()).product();
    let mut combinations: Vec<Vec<String>> = grid
        .iter()
        .map(|&k| {
            factors
                .iter()
                .map(|(field, _)| value_of(k, field))
                .collect()
        })
        .collect();
    combinations.sort();
    combinations.dedup();
    MainEffects {
        factors: factors_out,
        complete: combinations.len() == grid.len() && cells == grid.len(),
    }
}

/// The baseline configuration among `groups`: the one whose label is the
/// single selector, or the one configuration holding every run that all of
/// `selectors` match; without selectors, the configuration of the runs
/// tagged `baseline`, if they form one (else a note says why there is
/// none). `Ok(None)` when there is no baseline.
pub(super) fn baseline(
    groups: &[Group],
    selectors: &[String],
    notes: &mut Vec<String>,
) -> Result<Option<usize>, String> {
    let runs: Vec<store::RunRow> = groups
        .iter()
        .flat_map(|g| g.runs.iter().map(|d| d.run.clone()))
        .collect();
    let group_of = |id: i64| {
        groups
            .iter()
            .position(|g| g.runs.iter().any(|d| d.run.id == id))
            .expect("every run is in a configuration")
    };
    let configurations = |ids: &[i64]| -> Vec<usize> {
        let mut found: Vec<usize> = ids.iter().map(|&id| group_of(id)).collect();
        found.sort_unstable();
        found.dedup();
        found
    };
    let labels = |found: &[usize]| -> String {
        found
            .iter()
            .map(|&k| format!("`{}`", groups[k].label))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if selectors.is_empty() {
        let tagged: Vec<i64> = runs
            .iter()
            .filter(|r| r.tags.iter().any(|t| t == BASELINE_TAG))
            .map(|r| r.id)
            .collect();
        let found = configurations(&tagged);
        return Ok(match found.as_slice() {
            [] => None,
            [one] => Some(*one),
            many => {
                notes.push(format!(
                    "no effects against a baseline: the runs tagged `{BASELINE_TAG}` fall in {} ({})\n  help: name one with --baseline",
                    crate::text::plural(many.len(), "configuration"),
                    labels(many)
                ));
                None
            }
        });
    }
    if let [label] = selectors {
        if let Some(k) = groups.iter().position(|g| g.label == *label) {
            return Ok(Some(k));
        }
    }
    // Every selector must match: their intersection.
    let mut ids: Vec<i64> = runs.iter().map(|r| r.id).collect();
    for selector in selectors {
        let matched = store::select(&runs, std::slice::from_ref(selector))
            .map(|s| s.runs.iter().map(|r| r.id).collect::<Vec<_>>())
            .unwrap_or_default();
        ids.retain(|id| matched.contains(id));
    }
    let asked = selectors
        .iter()
        .map(|s| crate::text::printable(s).into_owned())
        .collect::<Vec<_>>()
        .join(" ");
    match configurations(&ids).as_slice() {
        [] => Err(format!(
            "--baseline {asked}: no reported run matches{}\n  help: a baseline is a configuration's label as the results table shows it, or selectors (a run id, name, experiment, tag, or field=value such as train.loss=bce) that all its runs match; configurations: {}",
            if selectors.len() > 1 { " them all" } else { "" },
            labels(&(0..groups.len()).collect::<Vec<_>>())
        )),
        [one] => Ok(Some(*one)),
        many => Err(format!(
            "--baseline {asked}: the runs it matches fall in {} ({})\n  help: add selectors until one configuration is left (e.g. --baseline train.loss=bce --baseline data.resolution=64); every one must match",
            crate::text::plural(many.len(), "configuration"),
            labels(many)
        )),
    }
}
