//! `[sweep.grid]`: axes of values over spec fields, expanded as a cartesian
//! product.
//!
//! Order (documented in the README): axes in the order the file writes them,
//! values in array order, the last axis varying fastest — the order of nested
//! `for` loops written top to bottom.

use super::fields;
use super::resolve::Ctx;
use super::tree::{did_you_mean, Node, Span, Table, Value};

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

/// Sections whose fields may be swept.
const SWEEPABLE: &[&str] = &["data", "model", "train"];

/// Reads and checks the axes of a `[sweep]` table.
pub(super) fn axes(ctx: &mut Ctx<'_>, sweep: &Table) -> Vec<Axis> {
    let mut grid = None;
    for entry in &sweep.entries {
        match (entry.key.as_str(), &entry.value.node) {
            ("grid", Node::Table(t)) => grid = Some(t),
            ("grid", _) => ctx.error(
                entry.value.span.clone(),
                format!(
                    "[sweep.grid] must be a table, found {}",
                    entry.value.describe()
                ),
                Some("write it as a section: [sweep.grid] then \"train.seed\" = [1, 2, 3]".into()),
            ),
            (other, _) => ctx.error(
                entry.key_span.clone(),
                format!("unknown key `{other}` in [sweep]"),
                Some("[sweep] takes one table, [sweep.grid]".into()),
            ),
        }
    }
    let Some(grid) = grid else { return Vec::new() };

    let mut axes = Vec::new();
    for (dotted, key_span, value) in flatten(grid) {
        if let Some(axis) = axis(ctx, dotted, key_span, value) {
            if axes.iter().any(|a: &Axis| a.dotted == axis.dotted) {
                ctx.error(
                    axis.key_span.clone(),
                    format!("sweep axis `{}` is given twice", axis.dotted),
                    None,
                );
            } else {
                axes.push(axis);
            }
        }
    }
    axes
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

fn axis(ctx: &mut Ctx<'_>, dotted: String, key_span: Span, value: &Value) -> Option<Axis> {
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
        ctx.error(
            key_span,
            format!("sweep key `{dotted}` names no spec field"),
            Some(help),
        );
        return None;
    };
    let Node::Array(values) = &value.node else {
        ctx.error(
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
        ctx.error(
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

/// Every sweep point as one value index per axis; one empty point without axes.
pub fn points(axes: &[Axis]) -> Vec<Vec<usize>> {
    let mut points = vec![Vec::new()];
    for axis in axes {
        points = points
            .into_iter()
            .flat_map(|p| {
                (0..axis.values.len()).map(move |i| {
                    let mut q = p.clone();
                    q.push(i);
                    q
                })
            })
            .collect();
    }
    points
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
        let p = points(&[axis_of(2), axis_of(3)]);
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
        assert_eq!(points(&[]), vec![Vec::<usize>::new()]);
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
