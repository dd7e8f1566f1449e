//! The distributions of `[sweep.random]`, as a spec writes them:
//! `{ choice = [a, b] }`, `{ uniform = [lo, hi] }`, `{ log_uniform = [lo,
//! hi] }`, `{ int = [lo, hi] }`, each read and checked (one kind, two bounds
//! in order, integers for `int`, lo > 0 for a log scale).

use super::keys::SweptField;
use crate::spec::diagnostics::Collector;
use crate::spec::fields::{self, Range};
use crate::spec::tree::{did_you_mean, Entry, Node, Value};
use crate::text::plural;

/// What a field of the random sweep is drawn from.
#[derive(Debug, Clone, PartialEq)]
pub enum Distribution {
    /// One of the values, each as likely.
    Choice(Vec<Value>),
    /// A number in `[lo, hi]`, each as likely.
    Uniform { lo: f64, hi: f64 },
    /// A number in `[lo, hi]` whose logarithm is uniform: each decade as
    /// likely, for learning rates and other scales.
    LogUniform { lo: f64, hi: f64 },
    /// An integer in `lo..=hi`, each as likely.
    Int { lo: i64, hi: i64 },
}

/// The distributions, as a spec names them.
const KINDS: &[&str] = &["choice", "uniform", "log_uniform", "int"];

/// Every shape a distribution may take, for the messages.
const SHAPES: &str = "{ choice = [a, b] }, { uniform = [lo, hi] }, { log_uniform = [lo, hi] } \
                      or { int = [lo, hi] }";

/// The distribution written for `field`, `{ kind = arguments }`; `None`
/// with the problems recorded.
pub(super) fn read(
    diags: &mut Collector<'_>,
    field: &SweptField,
    value: &Value,
) -> Option<Distribution> {
    let entry = one_kind(diags, &field.dotted, value)?;
    let kind = entry.key.as_str();
    let args = &entry.value;
    let what = format!("`{kind}` for `{}`", field.dotted);
    let takes_integers = matches!(
        fields::find(&field.section, &field.key)
            .expect("a swept field is a registered one")
            .range,
        Range::Int(..)
    );
    if takes_integers && matches!(kind, "uniform" | "log_uniform") {
        diags.error(
            entry.key_span.clone(),
            format!(
                "`{}` takes integers, which `{kind}` does not draw",
                field.dotted
            ),
            Some("draw it with int = [lo, hi] (both ends included)".into()),
        );
        return None;
    }
    match kind {
        "choice" => choice(diags, &what, args).map(Distribution::Choice),
        "uniform" => {
            let (lo, hi) = numbers(diags, &what, kind, args)?;
            Some(Distribution::Uniform { lo, hi })
        }
        "log_uniform" => {
            let (lo, hi) = numbers(diags, &what, kind, args)?;
            if lo <= 0.0 {
                diags.error(
                    args.span.clone(),
                    format!("{what} needs lo > 0, found {lo}"),
                    Some(
                        "a log scale never reaches 0: start it at the smallest value worth \
                         trying (e.g. 1e-5), or draw with uniform"
                            .into(),
                    ),
                );
                return None;
            }
            Some(Distribution::LogUniform { lo, hi })
        }
        "int" => {
            let (lo, hi) = integers(diags, &what, kind, args)?;
            Some(Distribution::Int { lo, hi })
        }
        other => {
            let help = match did_you_mean(other, KINDS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => format!("a distribution is one of {SHAPES}"),
            };
            diags.error(
                entry.key_span.clone(),
                format!("unknown distribution `{other}` for `{}`", field.dotted),
                Some(help),
            );
            None
        }
    }
}

/// The one entry of a distribution's table, `kind = arguments`.
fn one_kind<'v>(diags: &mut Collector<'_>, dotted: &str, value: &'v Value) -> Option<&'v Entry> {
    let entries = match &value.node {
        Node::Table(t) => &t.entries,
        other => {
            let help = match other {
                Node::Array(_) => format!(
                    "to run each of these values, put the list in [sweep.grid]; to draw one \
                     of them: \"{dotted}\" = {{ choice = [...] }}"
                ),
                _ => format!("a distribution is one of {SHAPES}"),
            };
            diags.error(
                value.span.clone(),
                format!(
                    "`{dotted}` in [sweep.random] must be a distribution, found {}",
                    value.describe()
                ),
                Some(help),
            );
            return None;
        }
    };
    if let [entry] = entries.as_slice() {
        return Some(entry);
    }
    let (span, found) = match entries.get(1) {
        Some(second) => (second.key_span.clone(), entries.len().to_string()),
        None => (value.span.clone(), "none".to_string()),
    };
    diags.error(
        span,
        format!("`{dotted}` needs one distribution, found {found}"),
        Some(format!("a distribution is one of {SHAPES}")),
    );
    None
}

/// A `choice`'s options: a non-empty array of any values.
fn choice(diags: &mut Collector<'_>, what: &str, args: &Value) -> Option<Vec<Value>> {
    match &args.node {
        Node::Array(options) if !options.is_empty() => Some(options.clone()),
        Node::Array(_) => {
            diags.error(
                args.span.clone(),
                format!("{what} is empty"),
                Some("give it at least one value".into()),
            );
            None
        }
        _ => {
            diags.error(
                args.span.clone(),
                format!(
                    "{what} must be an array of values, found {}",
                    args.describe()
                ),
                Some("e.g. choice = [\"bce\", \"focal\"]".into()),
            );
            None
        }
    }
}

/// The two bounds of `[lo, hi]`, each a finite number, in order.
fn numbers(diags: &mut Collector<'_>, what: &str, kind: &str, args: &Value) -> Option<(f64, f64)> {
    let (lo, hi) = pair(diags, what, kind, args)?;
    let mut number = |v: &Value| match v.node {
        Node::Int(i) => Some(i as f64),
        Node::Float(f) if f.is_finite() => Some(f),
        _ => {
            diags.error(
                v.span.clone(),
                format!(
                    "{what} takes finite numbers as bounds, found {}",
                    v.describe()
                ),
                None,
            );
            None
        }
    };
    let (lo, hi) = (number(lo), number(hi));
    ordered(diags, what, args, lo?, hi?)
}

/// The two bounds of `[lo, hi]`, each an integer, in order.
fn integers(diags: &mut Collector<'_>, what: &str, kind: &str, args: &Value) -> Option<(i64, i64)> {
    let (lo, hi) = pair(diags, what, kind, args)?;
    let mut integer = |v: &Value| match v.node {
        Node::Int(i) => Some(i),
        _ => {
            let help = match v.node {
                Node::Float(f) if f.fract() == 0.0 && f.abs() < 1e18 => {
                    Some(format!("write it without the decimal point: {}", f as i64))
                }
                _ => None,
            };
            diags.error(
                v.span.clone(),
                format!("{what} takes integer bounds, found {}", v.describe()),
                help,
            );
            None
        }
    };
    let (lo, hi) = (integer(lo), integer(hi));
    ordered(diags, what, args, lo?, hi?)
}

/// `[lo, hi]`: an array of two values.
fn pair<'v>(
    diags: &mut Collector<'_>,
    what: &str,
    kind: &str,
    args: &'v Value,
) -> Option<(&'v Value, &'v Value)> {
    if let Node::Array(items) = &args.node {
        if let [lo, hi] = items.as_slice() {
            return Some((lo, hi));
        }
    }
    let found = match &args.node {
        Node::Array(items) => plural(items.len(), "value"),
        _ => args.describe(),
    };
    diags.error(
        args.span.clone(),
        format!("{what} takes two bounds, [lo, hi], found {found}"),
        Some(format!("e.g. {kind} = [1, 10]")),
    );
    None
}

/// `(lo, hi)` if `lo <= hi`; if not, records it.
fn ordered<T: PartialOrd + std::fmt::Display>(
    diags: &mut Collector<'_>,
    what: &str,
    args: &Value,
    lo: T,
    hi: T,
) -> Option<(T, T)> {
    if lo <= hi {
        return Some((lo, hi));
    }
    diags.error(
        args.span.clone(),
        format!("{what} has lo > hi: [{lo}, {hi}]"),
        Some(format!("write the smaller bound first: [{hi}, {lo}]")),
    );
    None
}
