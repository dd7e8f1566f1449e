//! The keys of a sweep table: which spec field each names (`"train.lr"`, or
//! `train.lr` written bare, which TOML reads as a nested table), whether that
//! field may be swept, and that no field is swept by two tables.

use crate::spec::diagnostics::Collector;
use crate::spec::fields;
use crate::spec::tree::{did_you_mean, Node, Span, Table, Value};

/// A spec field a sweep sets, and the key that names it in the sweep.
#[derive(Debug)]
pub struct SweptField {
    pub section: String,
    pub key: String,
    /// `section.key`
    pub dotted: String,
    pub key_span: Span,
}

/// Sections whose fields may be swept.
const SWEEPABLE: &[&str] = &["data", "model", "train"];

/// Each key of a sweep table with its value, by dotted name: `"model.arch" =
/// v` and `model.arch = v` (which TOML reads as `model = { arch = v }`) both
/// name `model.arch`. A field's name has two parts, so a table is looked into
/// only under a name of one part: the value of `train.lr = { uniform = .. }`
/// is the inline table. The span is the whole key, `train.lr`.
pub(super) fn flatten(table: &Table) -> Vec<(String, Span, &Value)> {
    /// `outer`: the name and span of the key part(s) already read.
    fn walk<'t>(
        table: &'t Table,
        outer: Option<(&str, &Span)>,
        out: &mut Vec<(String, Span, &'t Value)>,
    ) {
        for entry in &table.entries {
            let (name, span) = match outer {
                Some((name, span)) => (
                    format!("{name}.{}", entry.key),
                    span.start..entry.key_span.end,
                ),
                None => (entry.key.clone(), entry.key_span.clone()),
            };
            match &entry.value.node {
                Node::Table(inner) if !name.contains('.') => walk(inner, Some((&name, &span)), out),
                _ => out.push((name, span, &entry.value)),
            }
        }
    }
    let mut out = Vec::new();
    walk(table, None, &mut out);
    out
}

/// The spec field `dotted` names, if it is one that may be swept; if not,
/// records why. `reserved` are the table's own keys (`n`, `seed`), offered
/// as suggestions for a near miss.
pub(super) fn field(
    diags: &mut Collector<'_>,
    dotted: &str,
    key_span: Span,
    reserved: &[&str],
) -> Option<SweptField> {
    let found = dotted
        .split_once('.')
        .filter(|(s, k)| SWEEPABLE.contains(s) && fields::find(s, k).is_some());
    if let Some((section, key)) = found {
        return Some(SweptField {
            section: section.to_string(),
            key: key.to_string(),
            dotted: dotted.to_string(),
            key_span,
        });
    }
    let help = if dotted.starts_with("experiment.") {
        "the experiment's name and tags are not part of a run and cannot be swept".to_string()
    } else {
        let known: Vec<String> = fields::FIELDS
            .iter()
            .filter(|f| SWEEPABLE.contains(&f.section))
            .map(|f| format!("{}.{}", f.section, f.key))
            .collect();
        let candidates = known
            .iter()
            .map(String::as_str)
            .chain(reserved.iter().copied());
        match did_you_mean(dotted, candidates) {
            Some(s) => format!("did you mean `{s}`?"),
            None => {
                "name a field as `section.key`, e.g. \"train.seed\" or \"model.arch\"".to_string()
            }
        }
    };
    diags.error(
        key_span,
        format!("sweep key `{dotted}` names no spec field"),
        Some(help),
    );
    None
}

/// The fields named so far, each with the table that sweeps it: a field
/// takes its values from one place only.
#[derive(Default)]
pub(super) struct Claims {
    taken: Vec<(String, &'static str, Span)>,
}

impl Claims {
    /// Records that `table` (`"[sweep.grid]"`) sweeps `field`; `false`, with
    /// the problem recorded, if a table already does.
    pub(super) fn claim(
        &mut self,
        diags: &mut Collector<'_>,
        table: &'static str,
        field: &SweptField,
    ) -> bool {
        let Some((_, first, span)) = self.taken.iter().find(|(d, ..)| *d == field.dotted) else {
            self.taken
                .push((field.dotted.clone(), table, field.key_span.clone()));
            return true;
        };
        if *first == table {
            diags.error(
                field.key_span.clone(),
                format!("`{}` is given twice in {table}", field.dotted),
                None,
            );
        } else {
            let (line, col) = diags.line_col(span);
            diags.error(
                field.key_span.clone(),
                format!(
                    "`{}` is swept by both {first} (at {line}:{col}) and {table}",
                    field.dotted
                ),
                Some(
                    "a field takes its values from one of [sweep.grid], [sweep.zip] and \
                     [sweep.random]: remove it from the other"
                        .into(),
                ),
            );
        }
        false
    }
}
