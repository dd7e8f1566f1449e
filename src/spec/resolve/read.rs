//! The typed readers: a TOML value to an integer, number, bool, name, list or
//! kind-table, range-checked, or `None` with the problem recorded (what was
//! expected, what was found, and a hint where one helps).

use crate::spec::diagnostics::Collector;
use crate::spec::fields::KindField;
use crate::spec::tree::{self, did_you_mean, Entry, Node, SourceFile, Span, Value};
use crate::spec::types::Monitor;

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

    pub(super) fn int(&mut self, value: &Value, what: &str, min: i64, max: i64) -> Option<i64> {
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

    pub(super) fn float(&mut self, value: &Value, what: &str, range: Range) -> Option<f64> {
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

    pub(super) fn boolean(&mut self, value: &Value, what: &str) -> Option<bool> {
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
        value: &Value,
        what: &str,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
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

    pub(super) fn int_list(
        &mut self,
        value: &Value,
        what: &str,
        min: i64,
        max: i64,
    ) -> Option<Vec<usize>> {
        let list = self.int_list_allow_empty(value, what, min, max)?;
        if list.is_empty() {
            self.error(
                value.span.clone(),
                format!("`{what}` must not be empty"),
                None,
            );
            return None;
        }
        Some(list)
    }

    pub(super) fn int_list_allow_empty(
        &mut self,
        value: &Value,
        what: &str,
        min: i64,
        max: i64,
    ) -> Option<Vec<usize>> {
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
        let what = format!("{what} item");
        let items: Vec<Option<usize>> = items
            .iter()
            .map(|item| self.int(item, &what, min, max).map(|i| i as usize))
            .collect();
        items.into_iter().collect()
    }

    /// Reads `"kind"` or `{ kind = "kind", setting = ... }`.
    pub(super) fn kind_table<'v>(
        &mut self,
        value: &'v Value,
        what: &str,
        kinds: &'static [(&'static str, &'static [KindField])],
        monitor: Option<Monitor>,
    ) -> Option<KindArgs<'v>> {
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
        let kind_name = self.choice(kind_value, &kind_what, &names, |n| {
            names.iter().position(|k| *k == n)
        })?;
        let (kind, defaults) = kinds[kind_name];
        // An unknown setting is recorded (which refuses the run) but does not
        // stop the known ones beside it from being checked.
        for e in written.iter().filter(|e| e.key != "kind") {
            self.check_setting(e, &format!("{what} (kind \"{kind}\")"), defaults);
        }
        Some(KindArgs {
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

#[derive(Clone, Copy)]
pub(super) enum Range {
    Positive,
    NonNegative,
    /// (0, 1)
    Open01,
    /// [0, 1)
    Unit,
}

/// A kind-table's settings: the written ones over the defaults.
pub(super) struct KindArgs<'v> {
    pub(super) kind: &'static str,
    pub(super) written: &'v [Entry],
    pub(super) defaults: &'static [KindField],
    pub(super) monitor: Option<Monitor>,
}

impl KindArgs<'_> {
    pub(super) fn get(&self, key: &str) -> Value {
        if let Some(e) = self.written.iter().find(|e| e.key == key) {
            return e.value.clone();
        }
        let field = self
            .defaults
            .iter()
            .find(|f| f.key == key)
            .expect("asked for a declared setting");
        match field.default {
            Some(literal) => default_value(literal),
            None => default_value(&tree::toml_string(
                self.monitor
                    .expect("monitor-defaulted kinds get the monitor")
                    .as_str(),
            )),
        }
    }
}
