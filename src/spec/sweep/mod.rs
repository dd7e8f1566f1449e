//! Sweeps: one spec file made into many runs. `[sweep.grid]` crosses lists
//! of values; `[sweep.zip]` takes lists of one length together, item i of
//! each; `[sweep.random]` draws `n` samples from distributions. The three
//! are crossed: every sample with every zip tuple and every grid point.
//!
//! A sweep is a list of dimensions, each a group of fields that advance
//! together: a grid axis is a dimension of one field, the zip one dimension
//! of all its lists, the random sweep one dimension of all its distributions
//! (index k: sample k). A run is one index per dimension. Order (documented
//! in the README): the grid's axes in the order the file writes them, then
//! the zip, then the sample index; values in array order; the last dimension
//! varying fastest — the order of nested `for` loops written top to bottom.
//!
//! A sweep's size is counted before anything is expanded, and one above
//! [`MAX_SWEEP_RUNS`] is refused unless the caller lifts the limit; points are
//! made one at a time (samples drawn when their point is), so expansion holds
//! only the runs it keeps.
//!
//! `keys` says which field a sweep key names, `lists` reads the grid's and
//! the zip's lists, `random` reads `[sweep.random]` and draws its samples
//! from the distributions `distribution` reads.

mod distribution;
mod keys;
mod lists;
mod random;

pub use keys::SweptField;
pub use lists::Axis;
use random::Random;

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

/// Fields that advance together: one digit of the sweep's odometer.
#[derive(Debug)]
pub enum Dimension {
    /// A `[sweep.grid]` axis: index i sets its i-th value.
    Grid(Axis),
    /// `[sweep.zip]`: index i sets the i-th value of every list.
    Zip(Vec<Axis>),
    /// `[sweep.random]`: index k sets sample k of every distribution.
    Random(Random),
}

impl Dimension {
    /// How many values each of its fields takes in turn.
    pub fn len(&self) -> usize {
        match self {
            Dimension::Grid(axis) => axis.values.len(),
            // Lists of different lengths are refused when read; the shortest
            // still bounds the points, so that their values are checked too.
            Dimension::Zip(lists) => lists.iter().map(|a| a.values.len()).min().unwrap_or(0),
            Dimension::Random(random) => random.n,
        }
    }

    /// Each field it sets, with its value at index `i`.
    fn set<'s>(&'s self, i: usize, out: &mut Vec<(&'s SweptField, Value)>) {
        match self {
            Dimension::Grid(axis) => out.push((&axis.field, axis.values[i].clone())),
            Dimension::Zip(lists) => {
                out.extend(lists.iter().map(|a| (&a.field, a.values[i].clone())));
            }
            Dimension::Random(random) => out.extend(random.sample(i)),
        }
    }

    /// Every value it may give the field `dotted` as written: a list, or a
    /// choice's options (not the numbers drawn from a range).
    fn values_of<'s>(&'s self, dotted: &str) -> &'s [Value] {
        let axes: &[Axis] = match self {
            Dimension::Grid(axis) => std::slice::from_ref(axis),
            Dimension::Zip(lists) => lists,
            Dimension::Random(random) => return random.options_of(dotted),
        };
        axes.iter()
            .find(|a| a.field.dotted == dotted)
            .map_or(&[], |a| &a.values)
    }

    /// Its factor in the sweep's size, for the message that refuses a sweep
    /// too large: `train.seed: 3 values`, `[sweep.zip] of model.arch,
    /// train.loss: 2 values`, `[sweep.random]: 20 samples`.
    fn factor(&self) -> String {
        match self {
            Dimension::Grid(axis) => {
                let n = axis.values.len();
                format!("{}: {}", axis.field.dotted, counted(n, "value"))
            }
            Dimension::Zip(lists) => {
                let fields: Vec<&str> = lists.iter().map(|a| a.field.dotted.as_str()).collect();
                let n = self.len();
                format!(
                    "[sweep.zip] of {}: {}",
                    fields.join(", "),
                    counted(n, "value")
                )
            }
            Dimension::Random(random) => {
                format!("[sweep.random]: {}", counted(random.n, "sample"))
            }
        }
    }
}

/// `2,000 samples`: a factor's size as the total beside it is written.
fn counted(n: usize, noun: &str) -> String {
    format!("{} {noun}{}", thousands(n), if n == 1 { "" } else { "s" })
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

    /// The places whose values differ from run to run though written once:
    /// the random sweep's ranges, each the place of the numbers drawn from it.
    pub fn drawn_spans(&self) -> impl Iterator<Item = &Span> {
        self.dimensions
            .iter()
            .flat_map(|d| match d {
                Dimension::Random(random) => Some(random.drawn_spans()),
                _ => None,
            })
            .flatten()
    }

    /// Every value the sweep may give the field `dotted` as written (a
    /// list's, a choice's options).
    pub fn values_of<'s>(&'s self, dotted: &'s str) -> impl Iterator<Item = &'s Value> {
        self.dimensions
            .iter()
            .flat_map(move |d| d.values_of(dotted))
    }
}

/// The tables `[sweep]` takes, in the order their dimensions turn, each
/// with the first line of an example.
const TABLES: &[(&str, &str)] = &[
    ("grid", "\"train.seed\" = [1, 2, 3]"),
    ("zip", "\"model.arch\" = [\"cnn\", \"cnn_rnn\"]"),
    (
        "random",
        "n = 20, seed = 1, \"train.lr\" = { log_uniform = [1e-4, 1e-2] }",
    ),
];

/// Reads and checks the tables of `[sweep]`. A table, list or field with a
/// problem is recorded and left out, so that the rest is still checked.
pub(super) fn read(diags: &mut Collector<'_>, sweep: &Table) -> Sweep {
    let mut tables: Vec<(&str, &Table, Span)> = Vec::new();
    for entry in &sweep.entries {
        let known = TABLES.iter().find(|(name, _)| *name == entry.key);
        match (known, &entry.value.node) {
            (Some((name, _)), Node::Table(t)) => tables.push((name, t, entry.key_span.clone())),
            (Some((name, example)), _) => diags.error(
                entry.value.span.clone(),
                format!(
                    "[sweep.{name}] must be a table, found {}",
                    entry.value.describe()
                ),
                Some(format!(
                    "write it as a section: [sweep.{name}] then {example}"
                )),
            ),
            (None, _) => {
                let names = TABLES.iter().map(|(name, _)| *name);
                diags.error(
                    entry.key_span.clone(),
                    format!("unknown key `{}` in [sweep]", entry.key),
                    Some(match did_you_mean(&entry.key, names) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => "[sweep] takes the tables [sweep.grid], [sweep.zip] and \
                                 [sweep.random]"
                            .into(),
                    }),
                );
            }
        }
    }
    let table = |name: &str| {
        tables
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, t, span)| (*t, span.clone()))
    };
    let mut claims = Claims::default();
    let mut dimensions = Vec::new();
    if let Some((grid, _)) = table("grid") {
        let axes = lists::read(diags, grid, "[sweep.grid]", &mut claims);
        dimensions.extend(axes.into_iter().map(Dimension::Grid));
    }
    if let Some((zip, key_span)) = table("zip") {
        let lists = lists::read(diags, zip, "[sweep.zip]", &mut claims);
        check_zip_lengths(diags, &lists, &key_span);
        if !lists.is_empty() {
            dimensions.push(Dimension::Zip(lists));
        }
    }
    if let Some((random, key_span)) = table("random") {
        let random = random::read(diags, random, &key_span, &mut claims);
        dimensions.push(Dimension::Random(random));
    }
    let span = tables
        .iter()
        .map(|(.., span)| span.clone())
        .min_by_key(|span| span.start)
        .unwrap_or_default();
    Sweep { span, dimensions }
}

/// The zip's lists are taken together, item i of each: they must be of one
/// length. The message names each list's.
fn check_zip_lengths(diags: &mut Collector<'_>, lists: &[Axis], key_span: &Span) {
    let lengths: Vec<String> = lists
        .iter()
        .map(|a| {
            format!(
                "{} has {}",
                a.field.dotted,
                counted(a.values.len(), "value")
            )
        })
        .collect();
    if lists
        .iter()
        .all(|a| a.values.len() == lists[0].values.len())
    {
        return;
    }
    diags.error(
        key_span.clone(),
        format!(
            "the lists of [sweep.zip] differ in length: {}",
            lengths.join(", ")
        ),
        Some(
            "zipped lists are taken together, item i of each: give them one length, or move \
             a list to [sweep.grid] to cross it with the others"
                .into(),
        ),
    );
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
            "make a factor smaller or remove it, or confirm that you mean it with \
             --allow-large-sweep",
        ),
        None => (
            "more than can be counted".to_string(),
            "make a factor smaller or remove it",
        ),
    };
    diags.error(
        sweep.span.clone(),
        format!(
            "the sweep is too large: {} = {total}, {limit}",
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
