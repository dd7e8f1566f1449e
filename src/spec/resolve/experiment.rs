//! `[experiment]`: the name and tags shared by every run of a file; labels,
//! not part of any run's hash.

use std::path::Path;

use super::view::Doc;
use crate::spec::diagnostics::Collector;
use crate::spec::tree::{Diagnostic, Node, CONTROL_CHARACTER_WHY};

/// `[experiment]`: the name and tags shared by every run of the file.
pub(super) fn resolve(
    diags: &mut Collector<'_>,
    doc: &Doc<'_>,
    path: &Path,
) -> Option<(String, Vec<String>)> {
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
    Some((name?, tags?))
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
