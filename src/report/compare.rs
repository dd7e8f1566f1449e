//! Comparisons across runs, by configuration (a configuration's runs differ
//! only in their seed, unless `--group-by` says otherwise): overlaid curves
//! with the mean per epoch and a ±1 standard deviation band, test metrics
//! with error bars, and the results table.

use std::collections::BTreeMap;

use super::effects::Effects;
use super::figures::{self, BarSeries, Bars, Key, Panel, Series, XAxis};
use super::load::{curve, Group, RunData};
use super::{style, tables};
use crate::metric::{Metric, Split};
use crate::store::EpochRow;
use crate::text::plural;

/// The panels of `compare/curves.svg`, three to a row:
/// (title, y axis, split, metric).
const CURVES: [(&str, &str, Split, Metric); 6] = [
    ("validation loss", "mean loss", Split::Val, Metric::Loss),
    ("validation micro F1", "F1", Split::Val, Metric::MicroF1),
    ("validation micro AP", "AP", Split::Val, Metric::MicroAp),
    ("training loss", "mean loss", Split::Train, Metric::Loss),
    ("validation macro F1", "F1", Split::Val, Metric::MacroF1),
    ("validation macro AP", "AP", Split::Val, Metric::MacroAp),
];

/// The bars of `compare/test-metrics.svg`; each is one of
/// [`tables::METRICS`].
const TEST_BARS: [Metric; 4] = [
    Metric::MicroF1,
    Metric::MacroF1,
    Metric::MicroAp,
    Metric::MacroAp,
];

/// (epoch, mean − std, mean + std).
type Band = Vec<(f64, f64, f64)>;

/// The comparison figures and the results table: (file name under the
/// output folder, text). Without a tested run, the curves only.
pub(super) fn figures(
    groups: &[Group],
    decision: Option<(crate::spec::Rule, Option<f64>)>,
    effects: Option<&Effects>,
) -> Result<Vec<(String, String)>, String> {
    let mut out = vec![("compare/curves.svg".to_string(), curves(groups)?)];
    let rows = table_rows(groups, effects);
    if rows.is_empty() {
        return Ok(out);
    }
    out.push(("compare/test-metrics.svg".to_string(), test_metrics(&rows)?));
    let against = against(groups, effects);
    let against = against.as_ref();
    let mut markdown = tables::markdown(&rows, against);
    if let Some((rule, threshold)) = decision {
        let rule = threshold.map_or(rule.name(), |t| crate::train::decision::label(rule, t));
        markdown.push_str(&format!(
            "Decision rule: `{rule}` for every run (re-scored from its stored predictions).\n"
        ));
    }
    out.push(("results.md".to_string(), markdown));
    out.push(("results.csv".to_string(), tables::csv(&rows, against)));
    out.push(("results.tex".to_string(), tables::latex(&rows, against)));
    if let Some(effects) = effects {
        out.extend(super::effects::files(effects, groups)?);
    }
    Ok(out)
}

/// What the results table's Δ columns are against, when there is a
/// baseline.
pub(super) fn against(groups: &[Group], effects: Option<&Effects>) -> Option<tables::Against> {
    let effects = effects?;
    Some(tables::Against {
        baseline: groups[effects.baseline?].label.clone(),
        resamples: effects.settings.resamples,
        seed: effects.settings.seed,
    })
}

/// Past the palette's colours, a configuration's line is dashed.
fn dashed(i: usize) -> bool {
    (i / style::PALETTE.len()) % 2 == 1
}

/// Curves: one line per configuration, a ±1 std band where it has 2+ runs.
fn curves(groups: &[Group]) -> Result<String, String> {
    let panels: Vec<Panel> = CURVES
        .iter()
        .map(|&(title, y_desc, split, metric)| Panel {
            x: XAxis::Epoch,
            title: title.into(),
            y_desc: y_desc.into(),
            series: groups
                .iter()
                .enumerate()
                .map(|(i, group)| {
                    let (points, band) = aggregate(&group.runs, split, metric);
                    Series {
                        label: group.label.clone(),
                        colour: style::colour(i),
                        dashed: dashed(i),
                        points,
                        band,
                    }
                })
                .collect(),
            marks: Vec::new(),
        })
        .collect();
    let mut keys: Vec<(String, Key)> = groups
        .iter()
        .enumerate()
        .map(|(i, group)| {
            (
                format!("{} (n={})", group.label, group.runs.len()),
                Key::Line {
                    colour: style::colour(i),
                    dashed: dashed(i),
                },
            )
        })
        .collect();
    if groups.iter().any(|g| g.runs.len() > 1) {
        keys.push((
            "band: mean ± 1 std over the runs".into(),
            Key::Band {
                colour: style::GREY,
            },
        ));
    }
    let runs: usize = groups.iter().map(|g| g.runs.len()).sum();
    let title = format!(
        "{} in {}: mean per epoch",
        plural(runs, "run"),
        plural(groups.len(), "configuration")
    );
    figures::panels(&title, &panels, 3, &keys)
}

/// Per configuration: the mean of a curve over its runs, epoch by epoch,
/// and a (epoch, mean − std, mean + std) band where 2+ runs reached it.
fn aggregate(runs: &[&RunData], split: Split, metric: Metric) -> (Vec<(f64, f64)>, Band) {
    let mut by_epoch: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
    for d in runs {
        for (x, y) in curve(&d.epochs, split, metric) {
            if y.is_finite() {
                by_epoch.entry(x as usize).or_default().push(y);
            }
        }
    }
    let mut mean = Vec::new();
    let mut band = Vec::new();
    for (epoch, ys) in by_epoch {
        let (m, s) = tables::mean_std(&ys);
        mean.push((epoch as f64, m));
        if ys.len() > 1 {
            band.push((epoch as f64, m - s, m + s));
        }
    }
    (mean, band)
}

/// Test metrics per configuration: mean bars, ±1 std error bars.
fn test_metrics(rows: &[tables::Row]) -> Result<String, String> {
    let series = TEST_BARS
        .iter()
        .enumerate()
        .map(|(i, metric)| {
            let m = tables::METRICS
                .iter()
                .position(|k| k == metric)
                .expect("a table metric");
            let stats: Vec<(f64, f64)> = rows
                .iter()
                .map(|r| tables::mean_std(&r.values[m]))
                .collect();
            BarSeries {
                label: format!("test {}", metric.label()),
                colour: style::colour(i),
                values: stats.iter().map(|s| s.0).collect(),
                errors: Some(stats.iter().map(|s| s.1).collect()),
            }
        })
        .collect();
    let title = if rows.iter().any(|r| r.n() > 1) {
        "test metrics per configuration (mean ± std over runs)"
    } else {
        "test metrics per configuration"
    };
    figures::bars(&Bars {
        title: title.into(),
        x_desc: "score".into(),
        categories: rows
            .iter()
            .map(|r| format!("{} (n={})", r.config, r.n()))
            .collect(),
        series,
        max: Some(1.0),
    })
}

/// Table rows: one per configuration with at least one tested run.
pub(super) fn table_rows(groups: &[Group], effects: Option<&Effects>) -> Vec<tables::Row> {
    groups
        .iter()
        .enumerate()
        .filter_map(|(k, group)| {
            let tested: Vec<&EpochRow> =
                group.runs.iter().filter_map(|d| d.test.as_ref()).collect();
            if tested.is_empty() {
                return None;
            }
            Some(tables::Row {
                config: group.label.clone(),
                values: tables::METRICS
                    .iter()
                    .map(|&m| tested.iter().map(|t| t.value(m)).collect())
                    .collect(),
                versus: effects.and_then(|e| e.versus[k].clone()),
            })
        })
        .collect()
}
