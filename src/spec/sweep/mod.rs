//! Sweeps: one spec file made into many runs. `[sweep.grid]` crosses lists
//! of values.
//!
//! A sweep is a list of dimensions, each a group of fields that advance
//! together: a grid axis is a dimension of one field. A run is one index per
//! dimension. Order (documented in the README): axes in the order the file
//! writes them, values in array order, the last dimension varying fastest —
//! the order of nested `for` loops written top to bottom.
//!
//! A sweep's size is counted before anything is expanded, and one above
//! [`MAX_SWEEP_RUNS`] is refused unless the caller lifts the limit; points are
//! made one at a time, so expansion holds only the runs it keeps.
//!
//! `keys` says which field a sweep key names, `lists` reads the grid's lists.

mod keys;
mod lists;

pub use keys::SweptField;
pub use lists::Axis;

use super::diagnostics::Collector;
use super::tree::{did_you_mean, Node, Span, Table, Value};
use crate::text::thousands;
use keys::Claims;

/// The most runs one file's sweep may make unless the caller lifts the limit
/// (`LoadOptions::max_runs`, the CLI's `--allow-large-sweep`). Sweeps this
/// large are nearly always a slip (an axis too many, a range written out by a
/// script): at minutes per run, 10,000 runs is weeks of compute. Every kept
/// run is held resolved in memory, about 1.1 kB each (measured: 10^5 runs
/// peak at 110 MB), so the limit also keeps loading to about 14 MB; the
/// unbounded grid of 10^9 points used to abort on allocation.
pub const MAX_SWEEP_RUNS: usize = 10_000;

/// The tables `[sweep]` takes.
const TABLES: &[&str] = &["grid"];

/// Fields that advance together: one digit of the sweep's odometer.
#[derive(Debug)]
pub enum Dimension {
    /// A `[sweep.grid]` axis: index i sets its i-th value.
    Grid(Axis),
}

impl Dimension {
    /// How many values each of its fields takes in turn.
    pub fn len(&self) -> usize {
        match self {
            Dimension::Grid(axis) => axis.values.len(),
        }
    }

    /// Each field it sets, with its value at index `i`.
    fn set<'s>(&'s self, i: usize, out: &mut Vec<(&'s SweptField, Value)>) {
        match self {
            Dimension::Grid(axis) => out.push((&axis.field, axis.values[i].clone())),
        }
    }

    /// Every value it may give the field `dotted`.
    fn values_of<'s>(&'s self, dotted: &str) -> &'s [Value] {
        match self {
            Dimension::Grid(axis) if axis.field.dotted == dotted => &axis.values,
            Dimension::Grid(_) => &[],
        }
    }

    /// Its factor in the sweep's size, for the message that refuses a sweep
    /// too large: `train.seed: 3 values`.
    fn factor(&self) -> String {
        match self {
            Dimension::Grid(axis) => {
                let n = axis.values.len();
                format!(
                    "{}: {n} value{}",
                    axis.field.dotted,
                    if n == 1 { "" } else { "s" }
                )
            }
        }
    }
}

/// A file's checked sweep; without one, no dimension (a single run).
#[derive(Debug, Default)]
pub struct Sweep {
    /// Where the sweep is written (its first table), for messages about the
    /// sweep as a whole.
    pub span: Span,
    /// In the order they turn, the last fastest.
    pub dimensions: Vec<Dimension>,
}

impl Sweep {
    /// Every point of the sweep, as one index per dimension, in sweep order.
    pub fn points(&self) -> impl Iterator<Item = Vec<usize>> {
        points(self.dimensions.iter().map(Dimension::len).collect())
    }

    /// The fields `point` sets and their values, in dimension order.
    pub fn overrides(&self, point: &[usize]) -> Vec<(&SweptField, Value)> {
        let mut out = Vec::new();
        for (dimension, &i) in self.dimensions.iter().zip(point) {
            dimension.set(i, &mut out);
        }
        out
    }

    /// Every value the sweep may give the field `dotted`.
    pub fn values_of<'s>(&'s self, dotted: &'s str) -> impl Iterator<Item = &'s Value> {
        self.dimensions
            .iter()
            .flat_map(move |d| d.values_of(dotted))
    }
}

/// Reads and checks the tables of `[sweep]`. A table, list or field with a
/// problem is recorded and left out, so that the rest is still checked.
pub(super) fn read(diags: &mut Collector<'_>, sweep: &Table) -> Sweep {
    let mut grid = None;
    for entry in &sweep.entries {
        match (entry.key.as_str(), &entry.value.node) {
            ("grid", Node::Table(t)) => grid = Some((t, entry.key_span.clone())),
            (name, _) if TABLES.contains(&name) => diags.error(
                entry.value.span.clone(),
                format!(
                    "[sweep.{name}] must be a table, found {}",
                    entry.value.describe()
                ),
                Some(format!(
                    "write it as a section: [sweep.{name}] then \"train.seed\" = [1, 2, 3]"
                )),
            ),
            (other, _) => diags.error(
                entry.key_span.clone(),
                format!("unknown key `{other}` in [sweep]"),
                Some(match did_you_mean(other, TABLES.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => "[sweep] takes one table, [sweep.grid]".into(),
                }),
            ),
        }
    }
    let mut claims = Claims::default();
    let mut out = Sweep::default();
    if let Some((table, key_span)) = grid {
        out.span = key_span;
        let axes = lists::read(diags, table, "[sweep.grid]", &mut claims);
        out.dimensions.extend(axes.into_iter().map(Dimension::Grid));
    }
    out
}

/// Whether the sweep's point count (the product of its dimensions' lengths,
/// counted without expanding anything) is within `max_runs`; if not, records
/// why. A count that overflows `usize` is refused even without a limit: such
/// a sweep could never be run.
pub(super) fn check_size(
    diags: &mut Collector<'_>,
    sweep: &Sweep,
    max_runs: Option<usize>,
) -> bool {
    let count = sweep
        .dimensions
        .iter()
        .try_fold(1usize, |n, d| n.checked_mul(d.len()));
    let within = match (count, max_runs) {
        (Some(n), Some(max)) => n <= max,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if within {
        return true;
    }
    let factors: Vec<String> = sweep.dimensions.iter().map(Dimension::factor).collect();
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
        sweep.span.clone(),
        format!(
            "[sweep.grid] is too large: {} = {total}, {limit}",
            factors.join(" × ")
        ),
        Some(help.to_string()),
    );
    false
}

/// Every point of dimensions of `sizes`, as one index per dimension, in
/// sweep order; one empty point without dimensions. Made one at a time, like
/// an odometer whose last digit turns fastest, so that a large sweep is never
/// held in memory as a whole.
fn points(sizes: Vec<usize>) -> impl Iterator<Item = Vec<usize>> {
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
    for digit in (0..next.len()).rev() {
        next[digit] += 1;
        if next[digit] < sizes[digit] {
            return Some(next);
        }
        next[digit] = 0;
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

    #[test]
    fn last_dimension_varies_fastest() {
        let p: Vec<Vec<usize>> = points(vec![2, 3]).collect();
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
        assert_eq!(
            points(vec![]).collect::<Vec<_>>(),
            vec![Vec::<usize>::new()]
        );
    }

    #[test]
    fn points_are_made_one_at_a_time() {
        // Regression: all points were built up front, 10^9 of them here.
        // 1_000_001 = 1·1000² + 0·1000 + 1
        assert_eq!(
            points(vec![1000, 1000, 1000]).nth(1_000_001),
            Some(vec![1, 0, 1])
        );
        assert_eq!(points(vec![2, 0]).count(), 0);
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
