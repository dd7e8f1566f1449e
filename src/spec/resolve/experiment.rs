//! `[experiment]`: the name and tags shared by every run of a file, and
//! which of its runs are the baseline; labels, not part of any run's hash.

use std::path::Path;

use super::view::Doc;
use crate::spec::diagnostics::Collector;
use crate::spec::tree::{Diagnostic, Node, Span, Value, CONTROL_CHARACTER_WHY};

/// `experiment.baseline`: which runs of the file are the baseline.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Baseline {
    None,
    /// Every run of the file.
    Every,
    /// The sweep points with these values of these swept fields (dotted);
    /// the span is the table's.
    Point(Vec<(String, Value)>, Span),
}

impl Baseline {
    /// Whether a run with these swept values, as (dotted field, TOML text),
    /// is the baseline.
    pub(super) fn matches(&self, swept: &[(String, String)]) -> bool {
        match self {
            Baseline::None => false,
            Baseline::Every => true,
            Baseline::Point(fields, _) => fields.iter().all(|(field, value)| {
                swept
                    .iter()
                    .any(|(f, v)| f == field && *v == value.to_toml())
            }),
        }
    }

    /// Once every run is made: a field the sweep does not vary, or a table
    /// that picked no run, is an error. `swept` is the swept fields.
    pub(super) fn check(&self, diags: &mut Collector<'_>, swept: &[String], matched: bool) {
        let Baseline::Point(fields, span) = self else {
            return;
        };
        let mut named_well = true;
        for (field, value) in fields {
            let problem = if field == "train.seed" {
                Some(
                    "a baseline is a configuration with all its seeds: leave train.seed out"
                        .to_string(),
                )
            } else if !swept.contains(field) {
                Some(if swept.is_empty() {
                    "this file has no [sweep]: write `baseline = true` to make its runs the baseline".to_string()
                } else {
                    format!("name swept fields only: {}", swept.join(", "))
                })
            } else {
                None
            };
            if let Some(help) = problem {
                named_well = false;
                diags.error(
                    value.span.clone(),
                    format!(
                        "`experiment.baseline` names `{field}`, which this file does not sweep"
                    ),
                    Some(help),
                );
            }
        }
        if named_well && !matched {
            diags.error(
                span.clone(),
                "`experiment.baseline` matches no run of the sweep".to_string(),
                Some("give each named field one of the values the sweep gives it".to_string()),
            );
        }
    }
}

/// The fields a baseline table names, dotted: `{ "train.loss" = "bce" }`
/// and `{ train.loss = "bce" }` (a nested table) alike.
fn flatten(prefix: &str, value: &Value, out: &mut Vec<(String, Value)>) {
    match &value.node {
        Node::Table(t) => {
            for e in &t.entries {
                let key = if prefix.is_empty() {
                    e.key.clone()
                } else {
                    format!("{prefix}.{}", e.key)
                };
                flatten(&key, &e.value, out);
            }
        }
        _ => out.push((prefix.to_string(), value.clone())),
    }
}

/// `[experiment]`: the name and tags shared by every run of the file, and
/// its baseline.
pub(super) fn resolve(
    diags: &mut Collector<'_>,
    doc: &Doc<'_>,
    path: &Path,
) -> Option<(String, Vec<String>, Baseline)> {
    let table = doc.experiment;
    let name = match table.and_then(|t| t.get("name")) {
        Some(e) => match &e.value.node {
            Node::Str(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
            _ => {
                let found = e.value.describe();
                diags.error(
                    e.value.span.clone(),
                    format!("`experiment.name` must be a non-empty string, found {found}"),
                    None,
                );
                None
            }
        },
        None => name_from_file(diags, path),
    };
    let tags = match table.and_then(|t| t.get("tags")) {
        Some(e) => diags.string_list(&e.value, "experiment.tags"),
        None => Some(Vec::new()),
    };
    let baseline = match table.and_then(|t| t.get("baseline")) {
        None => Some(Baseline::None),
        Some(e) => match &e.value.node {
            Node::Bool(false) => Some(Baseline::None),
            Node::Bool(true) => Some(Baseline::Every),
            Node::Table(t) if !t.entries.is_empty() => {
                let mut fields = Vec::new();
                flatten("", &e.value, &mut fields);
                Some(Baseline::Point(fields, e.value.span.clone()))
            }
            _ => {
                diags.error(
                    e.value.span.clone(),
                    format!(
                        "`experiment.baseline` must be true, false, or a table of swept fields' values, found {}",
                        e.value.describe()
                    ),
                    Some("e.g. baseline = { \"train.loss\" = \"bce\", \"data.resolution\" = 64 }".to_string()),
                );
                None
            }
        },
    };
    Some((name?, tags?, baseline?))
}

/// The default run name, the file's stem, held to the same rule as a
/// written one: no control characters.
fn name_from_file(diags: &mut Collector<'_>, path: &Path) -> Option<String> {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "spec".into());
    let Some(found) = stem.chars().find(|c| c.is_control()) else {
        return Some(stem);
    };
    // Whole-file: the name is not written in the text. The message
    // escapes the stem (Diagnostic does), never prints it raw.
    let message = format!(
        "the run name would be the file name's stem `{stem}`, which contains a control \
         character (U+{:04X})",
        found as u32
    );
    let help = format!(
        "rename the file, or name the run: [experiment] name = \"...\"; {CONTROL_CHARACTER_WHY}"
    );
    diags.push(Diagnostic::whole_file(path, message).with_help(help));
    None
}
