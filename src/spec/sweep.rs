//! `[sweep.grid]`: axes of values over spec fields, expanded as a cartesian
//! product.
//!
//! Order (documented in the README): axes in the order the file writes them,
//! values in array order, the last axis varying fastest — the order of nested
//! `for` loops written top to bottom.
//!
//! A grid's size is counted before anything is expanded, and one above
//! [`MAX_SWEEP_RUNS`] is refused unless the caller lifts the limit; points are
//! made one at a time, so expansion holds only the runs it keeps.

use super::diagnostics::Collector;
use super::fields;
use super::tree::{did_you_mean, Node, Span, Table, Value};
use crate::text::thousands;

/// One swept field and its values.
#[derive(Debug)]
pub struct Axis {
    pub section: String,
    pub key: String,
    /// `section.key`
    pub dotted: String,
    pub key_span: Span,
    pub values: Vec<Value>,
}

/// The most runs one file's `[sweep.grid]` may make unless the caller lifts
/// the limit (`LoadOptions::max_runs`, the CLI's `--allow-large-sweep`).
/// Grids this large are nearly always a slip (an axis too many, a range
/// written out by a script): at minutes per run, 10,000 runs is weeks of
/// compute. Every kept run is held resolved in memory, about 1.1 kB each
/// (measured: 10^5 runs peak at 110 MB), so the limit also keeps loading to
/// about 14 MB; the unbounded grid of 10^9 points used to abort on allocation.
pub const MAX_SWEEP_RUNS: usize = 10_000;

/// The checked axes of `[sweep.grid]`, and where the grid is written.
#[derive(Debug)]
pub struct Grid {
    /// The `grid` key (in `[sweep.grid]`, the header's second part).
    pub key_span: Span,
    pub axes: Vec<Axis>,
}

/// Sections whose fields may be swept.
const SWEEPABLE: &[&str] = &["data", "model", "train"];

/// Reads and checks the axes of a `[sweep]` table; `None` without a grid.
pub(super) fn grid(diags: &mut Collector<'_>, sweep: &Table) -> Option<Grid> {
    let mut grid = None;
    for entry in &sweep.entries {
        match (entry.key.as_str(), &entry.value.node) {
            ("grid", Node::Table(t)) => grid = Some((t, entry.key_span.clone())),
            ("grid", _) => diags.error(
                entry.value.span.clone(),
                format!(
                    "[sweep.grid] must be a table, found {}",
                    entry.value.describe()
                ),
                Some("write it as a section: [sweep.grid] then \"train.seed\" = [1, 2, 3]".into()),
            ),
            (other, _) => diags.error(
                entry.key_span.clone(),
                format!("unknown key `{other}` in [sweep]"),
                Some("[sweep] takes one table, [sweep.grid]".into()),
            ),
        }
    }
    let (grid, key_span) = grid?;

    let mut axes = Vec::new();
    for (dotted, key_span, value) in flatten(grid) {
        if let Some(axis) = axis(diags, dotted, key_span, value) {
            if axes.iter().any(|a: &Axis| a.dotted == axis.dotted) {
                diags.error(
                    axis.key_span.clone(),
                    format!("sweep axis `{}` is given twice", axis.dotted),
                    None,
                );
            } else {
                axes.push(axis);
            }
        }
    }
    Some(Grid { key_span, axes })
}

/// Whether the grid's point count (the product of its axis lengths, counted
/// without expanding anything) is within `max_runs`; if not, records why. A
/// count that overflows `usize` is refused even without a limit: such a grid
/// could never be run.
pub(super) fn check_size(diags: &mut Collector<'_>, grid: &Grid, max_runs: Option<usize>) -> bool {
    let count = grid
        .axes
        .iter()
        .try_fold(1usize, |n, axis| n.checked_mul(axis.values.len()));
    let within = match (count, max_runs) {
        (Some(n), Some(max)) => n <= max,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if within {
        return true;
    }
    let sizes: Vec<String> = grid
        .axes
        .iter()
        .map(|a| {
            let n = a.values.len();
            format!("{}: {n} value{}", a.dotted, if n == 1 { "" } else { "s" })
        })
        .collect();
    let total = match count {
        Some(n) => format!("{} runs", thousands(n)),
        None => format!("more than {} runs", thousands(usize::MAX)),
    };
    let (limit, help) = match max_runs {
        Some(max) => (
            format!("above the limit of {}", thousands(max)),
            "shrink or remove an axis, or confirm that you mean it with --allow-large-sweep",
        ),
        None => (
            "more than can be counted".to_string(),
            "shrink or remove an axis",
        ),
    };
    diags.error(
        grid.key_span.clone(),
        format!(
            "[sweep.grid] is too large: {} = {total}, {limit}",
            sizes.join(" × ")
        ),
        Some(help.to_string()),
    );
    false
}

/// `"model.arch" = [...]` and `model.arch = [...]` (which TOML reads as a
/// nested table) both name the field `model.arch`.
fn flatten(grid: &Table) -> Vec<(String, Span, &Value)> {
    let mut out = Vec::new();
    for entry in &grid.entries {
        match &entry.value.node {
            Node::Table(inner) if !entry.key.contains('.') => {
                for (rest, span, value) in flatten(inner) {
                    out.push((format!("{}.{rest}", entry.key), span, value));
                }
            }
            _ => out.push((entry.key.clone(), entry.key_span.clone(), &entry.value)),
        }
    }
    out
}

fn axis(diags: &mut Collector<'_>, dotted: String, key_span: Span, value: &Value) -> Option<Axis> {
    let known = || {
        fields::FIELDS
            .iter()
            .filter(|f| SWEEPABLE.contains(&f.section))
            .map(|f| format!("{}.{}", f.section, f.key))
            .collect::<Vec<_>>()
    };
    let Some((section, key)) = dotted
        .split_once('.')
        .filter(|(s, k)| SWEEPABLE.contains(s) && fields::find(s, k).is_some())
    else {
        let help = if dotted.starts_with("experiment.") {
            "the experiment's name and tags are not part of a run and cannot be swept".to_string()
        } else {
            let known = known();
            match did_you_mean(&dotted, known.iter().map(String::as_str)) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "name a field as `section.key`, e.g. \"train.seed\" or \"model.arch\""
                    .to_string(),
            }
        };
        diags.error(
            key_span,
            format!("sweep key `{dotted}` names no spec field"),
            Some(help),
        );
        return None;
    };
    let Node::Array(values) = &value.node else {
        diags.error(
            value.span.clone(),
            format!(
                "sweep axis `{dotted}` must be an array of values, found {}",
                value.describe()
            ),
            Some(format!("e.g. \"{dotted}\" = [a, b, c]")),
        );
        return None;
    };
    if values.is_empty() {
        diags.error(
            value.span.clone(),
            format!("sweep axis `{dotted}` is empty"),
            Some("give it at least one value, or remove the axis".into()),
        );
        return None;
    }
    Some(Axis {
        section: section.to_string(),
        key: key.to_string(),
        dotted: dotted.clone(),
        key_span,
        values: values.clone(),
    })
}

/// Every sweep point as one value index per axis, in sweep order; one empty
/// point without axes. Made one at a time, like an odometer whose last digit
/// turns fastest, so that a large grid is never held in memory as a whole.
pub fn points(axes: &[Axis]) -> impl Iterator<Item = Vec<usize>> {
    let sizes: Vec<usize> = axes.iter().map(|a| a.values.len()).collect();
    let mut next = (!sizes.contains(&0)).then(|| vec![0; sizes.len()]);
    std::iter::from_fn(move || {
        let point = next.take()?;
        next = successor(&point, &sizes);
        Some(point)
    })
}

/// The point after `point`, or `None` after the last one.
fn successor(point: &[usize], sizes: &[usize]) -> Option<Vec<usize>> {
    let mut next = point.to_vec();
    for axis in (0..next.len()).rev() {
        next[axis] += 1;
        if next[axis] < sizes[axis] {
            return Some(next);
        }
        next[axis] = 0;
    }
    None
}

/// `ablation[arch=cnn,seed=2]`: the experiment name and the swept values, each
/// axis by its last name part unless two axes share it.
pub fn run_name(experiment: &str, swept: &[(String, String)]) -> String {
    if swept.is_empty() {
        return experiment.to_string();
    }
    let short = |dotted: &str| dotted.rsplit('.').next().unwrap_or(dotted).to_string();
    let parts: Vec<String> = swept
        .iter()
        .map(|(dotted, value)| {
            let clash = swept
                .iter()
                .filter(|(d, _)| short(d) == short(dotted))
                .count()
                > 1;
            let name = if clash { dotted.clone() } else { short(dotted) };
            let value = value.trim_matches('"');
            format!("{name}={value}")
        })
        .collect();
    format!("{experiment}[{}]", parts.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn axis_of(n: usize) -> Axis {
        let v = Value {
            node: Node::Int(0),
            span: 0..0,
        };
        Axis {
            section: "train".into(),
            key: "seed".into(),
            dotted: "train.seed".into(),
            key_span: 0..0,
            values: vec![v; n],
        }
    }

    #[test]
    fn last_axis_varies_fastest() {
        let p: Vec<Vec<usize>> = points(&[axis_of(2), axis_of(3)]).collect();
        assert_eq!(
            p,
            vec![
                vec![0, 0],
                vec![0, 1],
                vec![0, 2],
                vec![1, 0],
                vec![1, 1],
                vec![1, 2]
            ]
        );
        assert_eq!(points(&[]).collect::<Vec<_>>(), vec![Vec::<usize>::new()]);
    }

    #[test]
    fn points_are_made_one_at_a_time() {
        // Regression: all points were built up front, 10^9 of them here.
        let axes = [axis_of(1000), axis_of(1000), axis_of(1000)];
        // 1_000_001 = 1·1000² + 0·1000 + 1
        assert_eq!(points(&axes).nth(1_000_001), Some(vec![1, 0, 1]));
        assert_eq!(points(&[axis_of(2), axis_of(0)]).count(), 0);
    }

    #[test]
    fn counts_are_written_with_thousands_separators() {
        let cases = [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (10_100, "10,100"),
            (1_000_000, "1,000,000"),
        ];
        for (n, text) in cases {
            assert_eq!(thousands(n), text);
        }
    }

    #[test]
    fn run_names_use_short_keys_unless_ambiguous() {
        let swept = vec![
            ("model.arch".to_string(), "\"cnn\"".to_string()),
            ("train.seed".to_string(), "2".to_string()),
        ];
        assert_eq!(run_name("abl", &swept), "abl[arch=cnn,seed=2]");
        let clash = vec![
            ("train.monitor".to_string(), "\"val_loss\"".to_string()),
            ("data.monitor".to_string(), "1".to_string()),
        ];
        assert_eq!(
            run_name("x", &clash),
            "x[train.monitor=val_loss,data.monitor=1]"
        );
    }
}
