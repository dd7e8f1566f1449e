//! The effects as files: against the baseline, `compare/effects.md` (every
//! difference with its interval, p and Holm-adjusted p), `.csv` and the
//! forest plot `compare/effects.svg`; the main effects as
//! `compare/main-effects.md`, `.tex` and `.svg`.

use std::fmt::Write;

use super::{Diff, Effects, MainEffects, Versus, ALPHA};
use crate::report::bootstrap::{Estimate, METRICS};
use crate::report::figures::{self, Forest, ForestPanel, ForestRow, Interval, Key};
use crate::report::load::Group;
use crate::report::style;
use crate::report::tables::{csv_field, delta_cell, latex_delta, latex_escape};
use crate::text::{markdown_cell, plural};

/// Every effects file: (name under the output folder, text).
pub(in crate::report) fn files(
    effects: &Effects,
    groups: &[Group],
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    if let Some(b) = effects.baseline {
        let baseline = &groups[b].label;
        out.push((
            "compare/effects.md".to_string(),
            effects_markdown(effects, groups, baseline),
        ));
        out.push((
            "compare/effects.csv".to_string(),
            effects_csv(effects, groups),
        ));
        out.push((
            "compare/effects.svg".to_string(),
            effects_figure(effects, groups, baseline)?,
        ));
    }
    if let Some(main) = &effects.main {
        out.push((
            "compare/main-effects.md".to_string(),
            main_markdown(effects, main),
        ));
        out.push((
            "compare/main-effects.tex".to_string(),
            main_latex(effects, main),
        ));
        out.push(("compare/main-effects.svg".to_string(), main_figure(main)?));
    }
    Ok(out)
}

/// The method in one paragraph (Markdown).
fn method(effects: &Effects) -> String {
    let s = effects.settings;
    let mut text = format!(
        "Paired two-level bootstrap: each of {} resamples (seed {}) draws the {} test posters with \
         replacement, once for every configuration (they share the split), and each \
         configuration's runs (seeds) with replacement; a configuration's score is the mean over \
         its drawn runs of each run's metric on the drawn posters. Intervals: the 2.5th and 97.5th \
         percentiles. p: two-sided, twice the smaller share of resamples on either side of 0. \
         Significant (*): Holm-adjusted p below {}, over the comparisons of each metric.",
        crate::report::tables::group_digits(s.resamples),
        s.seed,
        crate::report::tables::group_digits(effects.posters),
        ALPHA
    );
    if !effects.single_runs.is_empty() {
        let names: Vec<String> = effects
            .single_runs
            .iter()
            .map(|n| format!("`{}`", markdown_cell(n)))
            .collect();
        let _ = write!(
            text,
            " One run only, so their intervals leave out the seeds' noise: {}.",
            names.join(", ")
        );
    }
    text
}

/// The configurations compared with the baseline, with their differences.
fn compared<'e, 'g>(
    effects: &'e Effects,
    groups: &'g [Group<'g>],
) -> impl Iterator<Item = (&'g Group<'g>, &'e Vec<Diff>)> {
    groups
        .iter()
        .zip(&effects.versus)
        .filter_map(|(g, v)| match v {
            Some(Versus::Compared(d)) => Some((g, d)),
            _ => None,
        })
}

fn signed(x: f64) -> String {
    format!("{x:+.3}").replace('-', "−")
}

fn p_text(p: f64) -> String {
    if p < 0.001 {
        "< 0.001".to_string()
    } else {
        format!("{p:.3}")
    }
}

fn effects_markdown(effects: &Effects, groups: &[Group], baseline: &str) -> String {
    let mut s = format!(
        "# Effects against the baseline `{}`\n\n{}\n\n| configuration | n | metric | Δ | 95 % interval | p | Holm p | |\n|---|---:|---|---:|---|---:|---:|---|\n",
        markdown_cell(baseline),
        method(effects)
    );
    for (g, diffs) in compared(effects, groups) {
        for (m, d) in METRICS.iter().zip(diffs) {
            let e = &d.estimate;
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | [{}, {}] | {} | {} | {} |",
                markdown_cell(&g.label),
                g.runs.len(),
                m.label(),
                signed(e.value),
                signed(e.low),
                signed(e.high),
                p_text(e.p),
                p_text(d.holm),
                if d.significant() { "\\*" } else { "" }
            );
        }
    }
    let excluded: Vec<String> = groups
        .iter()
        .zip(&effects.versus)
        .filter_map(|(g, v)| match v {
            Some(Versus::Excluded(why)) => Some(format!("- `{}`: {why}", markdown_cell(&g.label))),
            _ => None,
        })
        .collect();
    if !excluded.is_empty() {
        let _ = write!(
            s,
            "\nNot compared (pairing needs the baseline's test posters):\n\n{}\n",
            excluded.join("\n")
        );
    }
    s
}

fn effects_csv(effects: &Effects, groups: &[Group]) -> String {
    let mut s =
        String::from("configuration,n,metric,delta,low,high,p,p_holm,significant,resamples,seed\n");
    for (g, diffs) in compared(effects, groups) {
        for (m, d) in METRICS.iter().zip(diffs) {
            let e = &d.estimate;
            let _ = writeln!(
                s,
                "{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{}",
                csv_field(&g.label),
                g.runs.len(),
                m.name(),
                e.value,
                e.low,
                e.high,
                e.p,
                d.holm,
                u8::from(d.significant()),
                effects.settings.resamples,
                effects.settings.seed
            );
        }
    }
    s
}

fn interval(d: &Diff) -> Interval {
    Interval {
        value: d.estimate.value,
        low: d.estimate.low,
        high: d.estimate.high,
        strong: d.significant(),
    }
}

fn point_keys() -> Vec<(String, Key)> {
    vec![
        (
            format!("significant (Holm, {} %)", ALPHA * 100.0),
            Key::Point {
                colour: style::PALETTE[1],
                filled: true,
            },
        ),
        (
            "not significant".to_string(),
            Key::Point {
                colour: style::GREY,
                filled: false,
            },
        ),
        (
            "line: 95 % interval".to_string(),
            Key::Line {
                colour: style::GREY,
                dashed: false,
            },
        ),
    ]
}

fn effects_figure(effects: &Effects, groups: &[Group], baseline: &str) -> Result<String, String> {
    let compared: Vec<(&Group, &Vec<Diff>)> = compared(effects, groups).collect();
    let title =
        format!("difference from {baseline}: mean over seeds, 95 % paired bootstrap interval");
    if compared.is_empty() {
        return figures::placeholder(
            &title,
            "no other configuration shares the baseline's test posters",
        );
    }
    figures::forest(&Forest {
        title,
        rows: compared
            .iter()
            .map(|(g, _)| ForestRow {
                label: format!("{} (n={})", g.label, g.runs.len()),
                heading: false,
            })
            .collect(),
        panels: METRICS
            .iter()
            .enumerate()
            .map(|(m, metric)| ForestPanel {
                title: format!("Δ {}", metric.label()),
                values: compared
                    .iter()
                    .map(|(_, d)| Some(interval(&d[m])))
                    .collect(),
            })
            .collect(),
        zero: true,
        keys: point_keys(),
    })
}

fn estimate_cell(e: &Estimate) -> String {
    format!("{:.3} [{:.3}, {:.3}]", e.value, e.low, e.high)
}

/// The sentence under the main-effects tables.
fn main_note(effects: &Effects, main: &MainEffects) -> String {
    let mut s = String::from(
        "Each level: the mean over the configurations at that level (and so over the other \
         factors' levels) of each configuration's mean over its seeds, with its 95 % interval. Δ: \
         a level against the factor's reference level (the baseline's, else the first).",
    );
    if !main.complete {
        s.push_str(
            " The configurations are not a complete grid (each combination of levels once), so \
             levels are averaged over different mixes of the other factors: read Δ with care.",
        );
    }
    // A level's interval above (or below) its own mean: average precision
    // on resampled posters runs high (a poster drawn twice ranks twice,
    // and a rare genre drawn not at all leaves the macro mean). Say so
    // where it shows rather than print an interval that reads as a typo.
    let off: Vec<&str> = METRICS
        .iter()
        .enumerate()
        .filter(|&(m, _)| {
            main.factors.iter().any(|f| {
                f.levels.iter().any(|l| {
                    let e = &l.mean[m];
                    e.value < e.low || e.value > e.high
                })
            })
        })
        .map(|(_, metric)| metric.label())
        .collect();
    if !off.is_empty() {
        let _ = write!(
            s,
            " Some levels' intervals of {} leave out the level's own mean: resampled posters \
             favour average precision and F1 (a poster drawn twice ranks twice; a rare genre \
             not drawn leaves the macro mean), so those intervals sit to one side; the Δ rows, \
             paired, are far less affected.",
            off.join(", ")
        );
    }
    if !effects.main_excluded.is_empty() {
        let names: Vec<String> = effects
            .main_excluded
            .iter()
            .map(|(name, why)| format!("{name} ({why})"))
            .collect();
        let _ = write!(s, " Left out: {}.", names.join("; "));
    }
    s
}

fn main_markdown(effects: &Effects, main: &MainEffects) -> String {
    let mut s = String::from("# Main effects\n\n| factor | level | configurations |");
    for m in METRICS {
        let _ = write!(s, " {} |", m.label());
    }
    s.push_str("\n|---|---|---:|");
    s.push_str(&"---:|".repeat(METRICS.len()));
    s.push('\n');
    for factor in &main.factors {
        for level in &factor.levels {
            let _ = write!(
                s,
                "| {} | {} | {} |",
                markdown_cell(factor.name()),
                markdown_cell(&level.value),
                level.configs
            );
            for e in &level.mean {
                let _ = write!(s, " {} |", estimate_cell(e));
            }
            s.push('\n');
        }
        for level in &factor.levels {
            let Some(deltas) = &level.delta else { continue };
            let _ = write!(
                s,
                "| {} | Δ {} − {} | |",
                markdown_cell(factor.name()),
                markdown_cell(&level.value),
                markdown_cell(&factor.reference().value)
            );
            for d in deltas {
                let _ = write!(s, " {} |", delta_cell(d, "−", "\\*"));
            }
            s.push('\n');
        }
    }
    let _ = write!(
        s,
        "\n{}\n\n{}\n",
        main_note(effects, main),
        method(effects).replace('*', "\\*")
    );
    s
}

fn main_latex(effects: &Effects, main: &MainEffects) -> String {
    let mut s = String::from("% posterlab main effects; needs \\usepackage{booktabs}\n");
    for line in main_note(effects, main).split(". ") {
        let _ = writeln!(
            s,
            "% {}",
            crate::text::printable(line.trim_end_matches('.'))
        );
    }
    let _ = writeln!(s, "\\begin{{tabular}}{{llr{}}}", "c".repeat(METRICS.len()));
    s.push_str("\\toprule\nfactor & level & configs");
    for m in METRICS {
        let _ = write!(s, " & {}", latex_escape(m.label()));
    }
    s.push_str(" \\\\\n");
    for (f, factor) in main.factors.iter().enumerate() {
        s.push_str(if f == 0 {
            "\\midrule\n"
        } else {
            "\\addlinespace\n"
        });
        for level in &factor.levels {
            let _ = write!(
                s,
                "{} & {} & {}",
                latex_escape(factor.name()),
                latex_escape(&level.value),
                level.configs
            );
            for e in &level.mean {
                let _ = write!(
                    s,
                    " & ${:.3}$ {{\\scriptsize $[{:.3}, {:.3}]$}}",
                    e.value, e.low, e.high
                );
            }
            s.push_str(" \\\\\n");
        }
        for level in &factor.levels {
            let Some(deltas) = &level.delta else { continue };
            let _ = write!(
                s,
                "{} & $\\Delta$ {} $-$ {} &",
                latex_escape(factor.name()),
                latex_escape(&level.value),
                latex_escape(&factor.reference().value)
            );
            for d in deltas {
                let _ = write!(s, " & {}", latex_delta(d));
            }
            s.push_str(" \\\\\n");
        }
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}

fn main_figure(main: &MainEffects) -> Result<String, String> {
    let mut rows = Vec::new();
    let mut values: Vec<Vec<Option<Interval>>> = vec![Vec::new(); METRICS.len()];
    for factor in &main.factors {
        rows.push(ForestRow {
            label: factor.name().to_string(),
            heading: true,
        });
        for v in &mut values {
            v.push(None);
        }
        for level in &factor.levels {
            let significant = level.delta.as_ref();
            rows.push(ForestRow {
                label: format!(
                    "{} ({})",
                    level.value,
                    plural(level.configs, "configuration")
                ),
                heading: false,
            });
            for (m, v) in values.iter_mut().enumerate() {
                let e = &level.mean[m];
                v.push(Some(Interval {
                    value: e.value,
                    low: e.low,
                    high: e.high,
                    strong: significant.is_some_and(|d| d[m].significant()),
                }));
            }
        }
    }
    let mut keys = vec![
        (
            format!(
                "differs from its factor's reference level (Holm, {} %)",
                ALPHA * 100.0
            ),
            Key::Point {
                colour: style::PALETTE[1],
                filled: true,
            },
        ),
        (
            "a reference level, or no clear difference".to_string(),
            Key::Point {
                colour: style::GREY,
                filled: false,
            },
        ),
    ];
    keys.push((
        "line: 95 % interval".to_string(),
        Key::Line {
            colour: style::GREY,
            dashed: false,
        },
    ));
    figures::forest(&Forest {
        title: "main effects: each level's mean over the other factors, 95 % bootstrap interval"
            .to_string(),
        rows,
        panels: METRICS
            .iter()
            .zip(values)
            .map(|(m, values)| ForestPanel {
                title: m.label().to_string(),
                values,
            })
            .collect(),
        zero: false,
        keys,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::effects::{Factor, Level, Settings};

    fn estimate(value: f64, low: f64, high: f64) -> Estimate {
        Estimate {
            value,
            low,
            high,
            p: 1.0,
        }
    }

    /// One factor of two levels; the second level's macro mAP (the last
    /// metric) has `macro_ap` as its estimate.
    fn effects(macro_ap: Estimate) -> (Effects, MainEffects) {
        let level = |value: &str, last: Estimate| Level {
            value: value.to_string(),
            configs: 1,
            mean: (0..METRICS.len())
                .map(|m| {
                    if m + 1 == METRICS.len() {
                        last
                    } else {
                        estimate(0.3, 0.2, 0.4)
                    }
                })
                .collect(),
            delta: None,
        };
        let main = MainEffects {
            factors: vec![Factor {
                field: "train.loss".to_string(),
                levels: vec![
                    level("bce", estimate(0.3, 0.2, 0.4)),
                    level("categorical_ce", macro_ap),
                ],
            }],
            complete: true,
        };
        let effects = Effects {
            versus: Vec::new(),
            baseline: None,
            main: Some(main.clone()),
            main_excluded: Vec::new(),
            single_runs: Vec::new(),
            settings: Settings::default(),
            posters: 40,
        };
        (effects, main)
    }

    #[test]
    fn an_interval_that_leaves_out_its_own_mean_is_explained() {
        let (e, main) = effects(estimate(0.199, 0.200, 0.259));
        let note = main_note(&e, &main);
        assert!(
            note.contains("Some levels' intervals of macro mAP leave out the level's own mean"),
            "{note}"
        );
        let (e, main) = effects(estimate(0.226, 0.204, 0.358));
        assert!(!main_note(&e, &main).contains("leave out"));
    }
}
