//! The typed readers: a TOML value to an integer, number, bool, name, list or
//! kind-table, checked against the range `fields` gives it, or `None` with the
//! problem recorded (what was expected, what was found, and a hint where one
//! helps).

use crate::spec::diagnostics::Collector;
use crate::spec::fields::{KindField, Range};
use crate::spec::tree::{self, did_you_mean, Entry, Node, SourceFile, Span, Value};
use crate::spec::types::Monitor;

/// One value to read: as written (or the default), the name messages call it
/// by (`data.resolution`, `train.loss.gamma`), and the range it must lie in.
pub(super) struct FieldValue {
    pub(super) value: Value,
    pub(super) what: String,
    pub(super) range: Range,
}

/// Where the default of a field is "written": nowhere. Messages about it point
/// at the start of the file.
pub(super) const DEFAULT_SPAN: Span = 0..0;

pub(super) fn as_str(v: &Value) -> Option<&str> {
    match &v.node {
        Node::Str(s) => Some(s),
        _ => None,
    }
}

/// A default, written as a TOML literal in `fields`, as a value.
pub(super) fn default_value(literal: &str) -> Value {
    let src = SourceFile::new("<default>", format!("v = {literal}"));
    let mut table = tree::parse(&src).expect("field defaults are valid TOML");
    let mut value = table.entries.remove(0).value;
    value.span = DEFAULT_SPAN;
    value
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Collector<'_> {
    pub(super) fn string_list(&mut self, v: &Value, what: &str) -> Option<Vec<String>> {
        let Node::Array(items) = &v.node else {
            self.error(
                v.span.clone(),
                format!(
                    "`{what}` must be an array of strings, found {}",
                    v.describe()
                ),
                None,
            );
            return None;
        };
        let items: Vec<Option<String>> = items
            .iter()
            .map(|item| match as_str(item) {
                Some(s) => Some(s.to_string()),
                None => {
                    self.error(
                        item.span.clone(),
                        format!("`{what}` must hold strings, found {}", item.describe()),
                        None,
                    );
                    None
                }
            })
            .collect();
        items.into_iter().collect()
    }

    pub(super) fn int(&mut self, field: &FieldValue) -> Option<i64> {
        let FieldValue { value, what, range } = field;
        let Range::Int(min, max) = *range else {
            panic!("`{what}` is read as an integer but has no integer range in fields.rs");
        };
        let Node::Int(i) = value.node else {
            let help = match &value.node {
                Node::Float(f) if f.fract() == 0.0 => {
                    Some(format!("write it without the decimal point: {}", *f as i64))
                }
                Node::Str(s) if s.trim().parse::<i64>().is_ok() => {
                    Some(format!("write it without quotes: {}", s.trim()))
                }
                _ => None,
            };
            self.error(
                value.span.clone(),
                format!("`{what}` must be an integer, found {}", value.describe()),
                help,
            );
            return None;
        };
        if i < min || i > max {
            let allowed = if max >= i64::MAX / 2 {
                format!(">= {min}")
            } else {
                format!("between {min} and {max}")
            };
            self.error(
                value.span.clone(),
                format!("`{what}` must be {allowed}, found {i}"),
                None,
            );
            return None;
        }
        Some(i)
    }

    pub(super) fn float(&mut self, field: &FieldValue) -> Option<f64> {
        let FieldValue { value, what, range } = field;
        let x = match value.node {
            Node::Float(f) => f,
            Node::Int(i) => i as f64,
            _ => {
                let help = match &value.node {
                    Node::Str(s) if s.trim().parse::<f64>().is_ok() => {
                        Some(format!("write it without quotes: {}", s.trim()))
                    }
                    _ => None,
                };
                self.error(
                    value.span.clone(),
                    format!("`{what}` must be a number, found {}", value.describe()),
                    help,
                );
                return None;
            }
        };
        let (ok, allowed) = match range {
            Range::Positive => (x > 0.0, "> 0"),
            Range::NonNegative => (x >= 0.0, ">= 0"),
            Range::Open01 => (x > 0.0 && x < 1.0, "strictly between 0 and 1"),
            Range::Unit => ((0.0..1.0).contains(&x), "in [0, 1)"),
            Range::Fraction => (x > 0.0 && x <= 1.0, "in (0, 1]"),
            Range::Any | Range::Int(..) => {
                panic!("`{what}` is read as a number but has no number range in fields.rs")
            }
        };
        if !ok || !x.is_finite() {
            self.error(
                value.span.clone(),
                format!("`{what}` must be {allowed}, found {x}"),
                None,
            );
            return None;
        }
        Some(x)
    }

    pub(super) fn boolean(&mut self, field: &FieldValue) -> Option<bool> {
        let FieldValue { value, what, .. } = field;
        match value.node {
            Node::Bool(b) => Some(b),
            _ => {
                self.error(
                    value.span.clone(),
                    format!("`{what}` must be true or false, found {}", value.describe()),
                    None,
                );
                None
            }
        }
    }

    pub(super) fn choice<T>(
        &mut self,
        field: &FieldValue,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        let FieldValue { value, what, .. } = field;
        if let Some(s) = as_str(value) {
            if let Some(t) = parse(s) {
                return Some(t);
            }
        }
        let help = as_str(value)
            .and_then(|s| did_you_mean(s, names.iter().copied()))
            .map(|s| format!("did you mean \"{s}\"?"));
        self.error(
            value.span.clone(),
            format!(
                "`{what}` must be one of {}, found {}",
                quoted_list(names),
                value.describe()
            ),
            help,
        );
        None
    }

    pub(super) fn int_list(&mut self, field: &FieldValue) -> Option<Vec<usize>> {
        let list = self.int_list_allow_empty(field)?;
        if list.is_empty() {
            self.error(
                field.value.span.clone(),
                format!("`{}` must not be empty", field.what),
                None,
            );
            return None;
        }
        Some(list)
    }

    /// The list's range is each item's.
    pub(super) fn int_list_allow_empty(&mut self, field: &FieldValue) -> Option<Vec<usize>> {
        let FieldValue { value, what, range } = field;
        let Node::Array(items) = &value.node else {
            self.error(
                value.span.clone(),
                format!(
                    "`{what}` must be an array of integers, found {}",
                    value.describe()
                ),
                None,
            );
            return None;
        };
        let items: Vec<Option<usize>> = items
            .iter()
            .map(|item| {
                let item = FieldValue {
                    value: item.clone(),
                    what: format!("{what} item"),
                    range: *range,
                };
                self.int(&item).map(|i| i as usize)
            })
            .collect();
        items.into_iter().collect()
    }

    /// Reads `[min, max]`: two numbers, each in the field's range, the
    /// smaller first.
    pub(super) fn number_range(&mut self, field: &FieldValue) -> Option<(f64, f64)> {
        let FieldValue { value, what, range } = field;
        let pair = match &value.node {
            Node::Array(items) if items.len() == 2 => [&items[0], &items[1]],
            _ => {
                self.error(
                    value.span.clone(),
                    format!(
                        "`{what}` must be [min, max], two numbers, found {}",
                        value.describe()
                    ),
                    None,
                );
                return None;
            }
        };
        let [min, max] = pair.map(|item| {
            self.float(&FieldValue {
                value: item.clone(),
                what: format!("{what} item"),
                range: *range,
            })
        });
        let (min, max) = (min?, max?);
        if min > max {
            self.error(
                value.span.clone(),
                format!("`{what}` = [{min}, {max}] has its larger end first"),
                Some(format!("write [{max}, {min}]")),
            );
            return None;
        }
        Some((min, max))
    }

    /// Reads `"kind"` or `{ kind = "kind", setting = ... }`.
    pub(super) fn kind_table<'v>(
        &mut self,
        field: &'v FieldValue,
        kinds: &'static [(&'static str, &'static [KindField])],
        monitor: Option<Monitor>,
    ) -> Option<KindArgs<'v>> {
        let FieldValue { value, what, .. } = field;
        let names: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
        let (kind_value, written): (&Value, &[Entry]) = match &value.node {
            Node::Str(_) => (value, &[]),
            Node::Table(t) => match t.get("kind") {
                Some(e) => (&e.value, &t.entries),
                None => {
                    self.error(
                        value.span.clone(),
                        format!("`{what}` table needs a `kind`"),
                        Some(format!("kind is one of {}", quoted_list(&names))),
                    );
                    return None;
                }
            },
            _ => {
                self.error(
                    value.span.clone(),
                    format!(
                        "`{what}` must be one of {} or a table with a `kind`, found {}",
                        quoted_list(&names),
                        value.describe()
                    ),
                    None,
                );
                return None;
            }
        };
        // `loss = "hinge"` is about `train.loss`; `loss = { kind = "hinge" }` about its kind.
        let kind_what = if matches!(value.node, Node::Table(_)) {
            format!("{what}.kind")
        } else {
            what.to_string()
        };
        let kind_field = FieldValue {
            value: kind_value.clone(),
            what: kind_what,
            range: Range::Any,
        };
        let kind_name = self.choice(&kind_field, &names, |n| names.iter().position(|k| *k == n))?;
        let (kind, defaults) = kinds[kind_name];
        // An unknown setting is recorded (which refuses the run) but does not
        // stop the known ones beside it from being checked.
        for e in written.iter().filter(|e| e.key != "kind") {
            self.check_setting(e, &format!("{what} (kind \"{kind}\")"), defaults);
        }
        Some(KindArgs {
            what: what.clone(),
            kind,
            written,
            defaults,
            monitor,
        })
    }

    pub(super) fn check_setting(&mut self, entry: &Entry, what: &str, allowed: &[KindField]) {
        if allowed.iter().any(|f| f.key == entry.key) {
            return;
        }
        let keys: Vec<&str> = allowed.iter().map(|f| f.key).collect();
        let help = match (
            did_you_mean(&entry.key, keys.iter().copied()),
            keys.is_empty(),
        ) {
            (Some(s), _) => format!("did you mean `{s}`?"),
            (None, true) => "this kind takes no settings".to_string(),
            (None, false) => format!("settings: {}", keys.join(", ")),
        };
        self.error(
            entry.key_span.clone(),
            format!("unknown setting `{}` in `{what}`", entry.key),
            Some(help),
        );
    }
}

/// A kind-table's settings: the written ones over the defaults.
pub(super) struct KindArgs<'v> {
    /// The kind-table field, `train.loss`: its settings are `train.loss.gamma`.
    pub(super) what: String,
    pub(super) kind: &'static str,
    pub(super) written: &'v [Entry],
    pub(super) defaults: &'static [KindField],
    pub(super) monitor: Option<Monitor>,
}

impl KindArgs<'_> {
    /// A setting to read: written, or else its default; with its range.
    pub(super) fn field(&self, key: &str) -> FieldValue {
        let setting = self
            .defaults
            .iter()
            .find(|f| f.key == key)
            .expect("asked for a declared setting");
        let value = match self.written.iter().find(|e| e.key == key) {
            Some(e) => e.value.clone(),
            None => match setting.default {
                Some(literal) => default_value(literal),
                None => default_value(&tree::toml_string(
                    self.monitor
                        .expect("monitor-defaulted kinds get the monitor")
                        .as_str(),
                )),
            },
        };
        FieldValue {
            value,
            what: format!("{}.{key}", self.what),
            range: setting.range,
        }
    }
}
