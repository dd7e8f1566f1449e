//! Where one run's field values come from: the sweep point's value, else the
//! file's, else the field's default. And the file split into its sections,
//! with unknown sections and keys flagged.

use std::collections::HashSet;

use super::read::{default_value, FieldValue};
use crate::spec::diagnostics::Collector;
use crate::spec::fields;
use crate::spec::sweep::SweptField;
use crate::spec::tree::{did_you_mean, Entry, Node, Span, Table, Value};

/// The four field sections and the sweep table of one file.
pub(super) struct Doc<'a> {
    pub(super) experiment: Option<&'a Table>,
    data: Option<&'a Table>,
    model: Option<&'a Table>,
    train: Option<&'a Table>,
    pub(super) sweep: Option<&'a Table>,
}

impl<'a> Doc<'a> {
    fn section(&self, name: &str) -> Option<&'a Table> {
        match name {
            "experiment" => self.experiment,
            "data" => self.data,
            "model" => self.model,
            "train" => self.train,
            _ => None,
        }
    }
}

/// Splits the root table into sections; flags unknown sections and keys.
pub(super) fn sections<'a>(diags: &mut Collector<'_>, root: &'a Table) -> Doc<'a> {
    let mut doc = Doc {
        experiment: None,
        data: None,
        model: None,
        train: None,
        sweep: None,
    };
    for entry in &root.entries {
        let Node::Table(table) = &entry.value.node else {
            let help = match fields::FIELDS.iter().find(|f| f.key == entry.key) {
                Some(f) => format!("`{}` belongs in [{}]", f.key, f.section),
                None => "every setting lives in [experiment], [data], [model], [train] or a table \
                     of [sweep] ([sweep.grid], [sweep.zip], [sweep.random])"
                    .into(),
            };
            diags.error(
                entry.key_span.clone(),
                format!("key `{}` is outside any section", entry.key),
                Some(help),
            );
            continue;
        };
        match entry.key.as_str() {
            "experiment" => doc.experiment = Some(table),
            "data" => doc.data = Some(table),
            "model" => doc.model = Some(table),
            "train" => doc.train = Some(table),
            "sweep" => doc.sweep = Some(table),
            other => {
                let help = match did_you_mean(other, fields::SECTIONS.iter().copied()) {
                    Some(s) => format!("did you mean [{s}]?"),
                    None => format!(
                        "sections are {}",
                        fields::SECTIONS
                            .iter()
                            .map(|s| format!("[{s}]"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                diags.error(
                    entry.key_span.clone(),
                    format!("unknown section [{other}]"),
                    Some(help),
                );
            }
        }
    }
    for name in ["experiment", "data", "model", "train"] {
        if let Some(table) = doc.section(name) {
            for entry in &table.entries {
                check_known_key(diags, name, entry);
            }
        }
    }
    doc
}

fn check_known_key(diags: &mut Collector<'_>, section: &str, entry: &Entry) {
    if fields::find(section, &entry.key).is_some() {
        return;
    }
    let known: Vec<&str> = fields::section_fields(section).map(|f| f.key).collect();
    let help = if let Some(f) = fields::FIELDS.iter().find(|f| f.key == entry.key) {
        format!("`{}` belongs in [{}]", f.key, f.section)
    } else if let Some(s) = did_you_mean(&entry.key, known.iter().copied()) {
        format!("did you mean `{s}`?")
    } else {
        format!("[{section}] takes: {}", known.join(", "))
    };
    diags.error(
        entry.key_span.clone(),
        format!("unknown key `{}` in [{section}]", entry.key),
        Some(help),
    );
}

/// One sweep point: the file's values with the sweep's values on top.
pub(super) struct RunView<'a> {
    pub(super) doc: &'a Doc<'a>,
    pub(super) overrides: &'a [(&'a SweptField, Value)],
    pub(super) swept_archs: &'a HashSet<&'a str>,
}

impl<'a> RunView<'a> {
    /// The written value of a field (sweep first, then file), if any.
    pub(super) fn written(&self, section: &str, key: &str) -> Option<&'a Value> {
        if let Some((_, v)) = self
            .overrides
            .iter()
            .find(|(a, _)| a.section == section && a.key == key)
        {
            return Some(v);
        }
        self.doc.section(section)?.get(key).map(|e| &e.value)
    }

    /// Where a written field's key is, for messages about the field as a whole.
    pub(super) fn key_span(&self, section: &str, key: &str) -> Option<Span> {
        if let Some((a, _)) = self
            .overrides
            .iter()
            .find(|(a, _)| a.section == section && a.key == key)
        {
            return Some(a.key_span.clone());
        }
        self.doc
            .section(section)?
            .get(key)
            .map(|e| e.key_span.clone())
    }

    /// A field to read: its value (written, or else its default), with its
    /// name and range from `fields`.
    pub(super) fn field(&self, section: &str, key: &str) -> FieldValue {
        let field = fields::find(section, key).expect("resolver asks only for registered fields");
        let value = match self.written(section, key) {
            Some(v) => v.clone(),
            None => default_value(
                field
                    .default
                    .expect("fields without a literal default are resolved by hand"),
            ),
        };
        FieldValue {
            value,
            what: format!("{section}.{key}"),
            range: field.range,
        }
    }
}
