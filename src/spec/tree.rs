//! An owned TOML tree that remembers where every key and value came from, and
//! the diagnostics that point back into the file.
//!
//! The `toml` crate parses (with spans); everything after that — unknown keys,
//! types, ranges, sweeps — works on this small tree so that every message can
//! name `file:line:col`. Diagnostics never carry a raw control character: the
//! text they quote comes from the user's file and is printed to a terminal.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

use crate::text::printable;

/// A byte range in the spec's source text.
pub type Span = Range<usize>;

/// A TOML value with the span it was read from.
#[derive(Debug, Clone, PartialEq)]
pub struct Value {
    pub node: Node,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Str(String),
    Int(i64),
    Float(f64),
    Bool(bool),
    Datetime(String),
    Array(Vec<Value>),
    Table(Table),
}

/// A table's entries in file order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_span: Span,
    pub value: Value,
}

impl Table {
    pub fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

impl Value {
    /// "string \"abc\"", "integer 3", …: how a value is named in messages.
    pub fn describe(&self) -> String {
        match &self.node {
            Node::Str(s) => format!("string {s:?}"),
            Node::Int(i) => format!("integer {i}"),
            Node::Float(f) => format!("float {f}"),
            Node::Bool(b) => format!("boolean {b}"),
            Node::Datetime(d) => format!("datetime {d}"),
            Node::Array(_) => "an array".to_string(),
            Node::Table(_) => "a table".to_string(),
        }
    }

    /// The value written back as a compact TOML literal (used in run names
    /// and in the resolved spec).
    pub fn to_toml(&self) -> String {
        match &self.node {
            Node::Str(s) => toml_string(s),
            Node::Int(i) => i.to_string(),
            Node::Float(f) => toml_float(*f),
            Node::Bool(b) => b.to_string(),
            Node::Datetime(d) => d.clone(),
            Node::Array(items) => {
                let items: Vec<String> = items.iter().map(Value::to_toml).collect();
                format!("[{}]", items.join(", "))
            }
            Node::Table(t) => {
                let items: Vec<String> = t
                    .entries
                    .iter()
                    .map(|e| format!("{} = {}", e.key, e.value.to_toml()))
                    .collect();
                format!("{{ {} }}", items.join(", "))
            }
        }
    }
}

/// A TOML basic string literal.
pub fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A float as a TOML literal that always reads back as the same float:
/// Rust's shortest round-trip form, with `.0` added to whole numbers.
pub fn toml_float(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{f:?}");
    if s.contains(['.', 'e', 'E']) {
        s
    } else {
        format!("{s}.0")
    }
}

/// One step from a table down to a value inside it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// A path as it would be written in TOML: `train.loss`, `sweep.grid."train.seed"[1]`.
pub fn dotted_path(steps: &[Step<'_>]) -> String {
    let mut out = String::new();
    for step in steps {
        match step {
            Step::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                let bare = !key.is_empty()
                    && key
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if bare {
                    out.push_str(key);
                } else {
                    out.push_str(&toml_string(key));
                }
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// Why a control character is refused, for every message that finds one.
pub const CONTROL_CHARACTER_WHY: &str =
    "control characters (U+0000-U+001F, U+007F-U+009F: escape codes, tabs, newlines) \
     would act on the terminals and logs that show run names, paths and labels";

/// A string value that holds a control character.
#[derive(Debug)]
pub struct ControlChar<'t> {
    /// Where the string is, as [`dotted_path`] writes it.
    pub path: String,
    pub value: &'t Value,
    /// The first control character in it.
    pub found: char,
}

/// Every string in the tree, at any depth (arrays, inline tables, sweep
/// values), that holds a control character; in file order.
pub fn control_characters(table: &Table) -> Vec<ControlChar<'_>> {
    fn walk<'t>(value: &'t Value, path: &mut Vec<Step<'t>>, out: &mut Vec<ControlChar<'t>>) {
        match &value.node {
            Node::Str(s) => {
                if let Some(found) = s.chars().find(|c| c.is_control()) {
                    out.push(ControlChar {
                        path: dotted_path(path),
                        value,
                        found,
                    });
                }
            }
            Node::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    walk(item, path, out);
                    path.pop();
                }
            }
            Node::Table(t) => {
                for e in &t.entries {
                    path.push(Step::Key(&e.key));
                    walk(&e.value, path, out);
                    path.pop();
                }
            }
            Node::Int(_) | Node::Float(_) | Node::Bool(_) | Node::Datetime(_) => {}
        }
    }
    let mut out = Vec::new();
    let mut path = Vec::new();
    for e in &table.entries {
        path.push(Step::Key(e.key.as_str()));
        walk(&e.value, &mut path, &mut out);
        path.pop();
    }
    out
}

/// Parses TOML source into the owned tree. Parse errors become one
/// diagnostic: the first, since the ones after a syntax error are often
/// consequences of it.
pub fn parse(src: &SourceFile) -> Result<Table, Diagnostic> {
    // The recovering parser gives the same first error as the plain one, and
    // also the tree it built, which is where a duplicated key's first
    // occurrence and its table are found.
    let (doc, errors) = DeTable::parse_recoverable(&src.text);
    match errors.first() {
        Some(e) => Err(parse_error(src, e, doc.get_ref())),
        None => convert_table(src, doc.get_ref()),
    }
}

fn parse_error(src: &SourceFile, e: &toml::de::Error, recovered: &DeTable<'_>) -> Diagnostic {
    let span = e.span().unwrap_or(0..0);
    // The crate's message is multi-line with its own excerpt; keep the
    // first sentence, we print our own location.
    let msg = e
        .message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .trim()
        .to_string();
    // toml's "duplicate key" names neither the key nor its table (it keeps
    // the first occurrence's span to itself): both are read back here.
    if msg == "duplicate key" {
        if let Some(d) = duplicate_key(src, span.clone(), recovered) {
            return d;
        }
    }
    src.diagnostic(span, format!("invalid TOML: {msg}"))
}

/// The duplicate key at `span`, named with its table and, where the tree still
/// holds it, the place of its first occurrence.
fn duplicate_key(src: &SourceFile, span: Span, recovered: &DeTable<'_>) -> Option<Diagnostic> {
    // The span covers the key as written (`lr`, `"train.seed"`, 'a b'): read
    // it as TOML to get the key itself.
    let written = src.text.get(span.clone())?;
    let probe = format!("{written} = 0");
    let key = DeTable::parse(&probe)
        .ok()?
        .get_ref()
        .keys()
        .next()?
        .get_ref()
        .to_string();
    let tree = convert_table(src, recovered).ok()?;
    let (table_path, first) = find_first(&tree, &key, span.start)?;
    let table = match table_path.as_slice() {
        [] => "at the top level".to_string(),
        steps if steps.iter().all(|s| matches!(s, Step::Key(_))) => {
            format!("in [{}]", dotted_path(steps))
        }
        steps => format!("in `{}`", dotted_path(steps)),
    };
    if first.key_span.start < span.start {
        let (line, col) = src.line_col(first.key_span.start);
        return Some(
            src.diagnostic(
                span,
                format!("duplicate key `{key}` {table}, first written at {line}:{col}"),
            )
            .with_help("a key may be written once per table: keep one of the two"),
        );
    }
    // A table whose header is written twice: the tree keeps it under the
    // second header, the first one's place is lost.
    let mut full = table_path.clone();
    full.push(Step::Key(&key));
    Some(
        src.diagnostic(span, format!("[{}] is defined twice", dotted_path(&full)))
            .with_help("a table may be defined once: put all of its keys under one header"),
    )
}

/// The entry named `key` written last before `offset` (or at it), with the
/// path of the table that holds it.
fn find_first<'t>(tree: &'t Table, key: &str, offset: usize) -> Option<(Vec<Step<'t>>, &'t Entry)> {
    fn walk<'t>(
        table: &'t Table,
        key: &str,
        offset: usize,
        path: &mut Vec<Step<'t>>,
        best: &mut Option<(Vec<Step<'t>>, &'t Entry)>,
    ) {
        for e in &table.entries {
            let later = best
                .as_ref()
                .is_none_or(|(_, b)| e.key_span.start > b.key_span.start);
            if e.key == key && e.key_span.start <= offset && later {
                *best = Some((path.clone(), e));
            }
            path.push(Step::Key(&e.key));
            walk_value(&e.value, key, offset, path, best);
            path.pop();
        }
    }
    fn walk_value<'t>(
        value: &'t Value,
        key: &str,
        offset: usize,
        path: &mut Vec<Step<'t>>,
        best: &mut Option<(Vec<Step<'t>>, &'t Entry)>,
    ) {
        match &value.node {
            Node::Table(t) => walk(t, key, offset, path, best),
            Node::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    path.push(Step::Index(i));
                    walk_value(item, key, offset, path, best);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut best = None;
    walk(tree, key, offset, &mut Vec::new(), &mut best);
    best
}

fn convert_table(src: &SourceFile, t: &DeTable<'_>) -> Result<Table, Diagnostic> {
    let mut entries = Vec::with_capacity(t.len());
    for (k, v) in t.iter() {
        entries.push(Entry {
            key: k.get_ref().to_string(),
            key_span: k.span(),
            value: convert_value(src, v.get_ref(), v.span())?,
        });
    }
    Ok(Table { entries })
}

fn convert_value(src: &SourceFile, v: &DeValue<'_>, span: Span) -> Result<Value, Diagnostic> {
    let node = match v {
        DeValue::String(s) => Node::Str(s.to_string()),
        DeValue::Integer(i) => {
            let parsed = i64::from_str_radix(&i.as_str().replace('_', ""), i.radix());
            Node::Int(parsed.map_err(|_| {
                src.diagnostic(span.clone(), format!("integer {i} does not fit in 64 bits"))
            })?)
        }
        DeValue::Float(f) => Node::Float(
            f.as_str()
                .replace('_', "")
                .parse()
                .map_err(|_| src.diagnostic(span.clone(), format!("`{f}` is not a valid float")))?,
        ),
        DeValue::Boolean(b) => Node::Bool(*b),
        DeValue::Datetime(d) => Node::Datetime(d.to_string()),
        DeValue::Array(items) => Node::Array(
            items
                .iter()
                .map(|item| convert_value(src, item.get_ref(), item.span()))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => Node::Table(convert_table(src, t)?),
    };
    Ok(Value { node, span })
}

/// A spec file's path and text, for turning spans into `file:line:col`.
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub text: String,
}

impl SourceFile {
    pub fn new(path: impl Into<PathBuf>, text: impl Into<String>) -> Self {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = before[line_start..].chars().count() + 1;
        (line, col)
    }

    pub fn diagnostic(&self, span: Span, message: impl Into<String>) -> Diagnostic {
        let (line, col) = self.line_col(span.start);
        Diagnostic {
            path: self.path.clone(),
            line,
            col,
            message: printable(&message.into()).into_owned(),
            help: None,
        }
    }
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One problem in a spec, located in its file. Its message and help are
/// made with control characters escaped (keys and values quoted in them come
/// from the file); the path is escaped when it is displayed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Diagnostic {
    pub path: PathBuf,
    pub line: usize,
    pub col: usize,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(printable(&help.into()).into_owned());
        self
    }

    /// A diagnostic about the file as a whole (it could not be read).
    pub fn whole_file(path: &Path, message: impl Into<String>) -> Self {
        Diagnostic {
            path: path.to_path_buf(),
            line: 0,
            col: 0,
            message: printable(&message.into()).into_owned(),
            help: None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = self.path.display().to_string();
        let path = printable(&path);
        if self.line == 0 {
            write!(f, "{path}: {}", self.message)?;
        } else {
            write!(f, "{path}:{}:{}: {}", self.line, self.col, self.message)?;
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_lines_and_characters() {
        let src = SourceFile::new("a.toml", "a = 1\n# é\nbé = 2\n");
        assert_eq!(src.line_col(0), (1, 1));
        assert_eq!(src.line_col(6), (2, 1));
        let offset = src.text.find("= 2").unwrap();
        assert_eq!(src.line_col(offset), (3, 4));
    }

    #[test]
    fn floats_round_trip_through_their_literal() {
        for f in [0.001, 1.0, 1e-8, 0.1 + 0.2, 123456789.0, 2.5e20] {
            let lit = toml_float(f);
            let back: f64 = lit.parse().unwrap();
            assert_eq!(back, f, "{lit}");
            assert!(lit.contains(['.', 'e']), "{lit} must read back as a float");
        }
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(toml_string("a\"b\\c"), r#""a\"b\\c""#);
    }

    #[test]
    fn parse_keeps_file_order_and_spans() {
        let src = SourceFile::new("x.toml", "[train]\nlr = 1e-3\nbatch_size = 32\n");
        let t = parse(&src).unwrap();
        let train = match &t.entries[0].value.node {
            Node::Table(t) => t,
            other => panic!("{other:?}"),
        };
        assert_eq!(train.entries[0].key, "lr");
        assert_eq!(train.entries[1].key, "batch_size");
        assert_eq!(src.line_col(train.entries[1].key_span.start), (3, 1));
        assert_eq!(train.entries[0].value.node, Node::Float(1e-3));
    }

    #[test]
    fn parse_errors_are_located() {
        let src = SourceFile::new("x.toml", "[train]\nlr = = 3\n");
        let d = parse(&src).unwrap_err();
        assert_eq!(d.line, 2);
        assert!(d.to_string().starts_with("x.toml:2:"), "{d}");
    }

    #[test]
    fn control_characters_are_escaped_and_nothing_else() {
        let d = SourceFile::new("a\u{7}.toml", "").diagnostic(0..0, "key `x\ny`");
        assert_eq!(d.to_string(), "a\\u{7}.toml:1:1: key `x\\ny`");
    }

    #[test]
    fn paths_are_written_as_toml_would() {
        let steps = [
            Step::Key("sweep"),
            Step::Key("grid"),
            Step::Key("train.loss"),
            Step::Index(1),
            Step::Key("kind"),
        ];
        assert_eq!(dotted_path(&steps), r#"sweep.grid."train.loss"[1].kind"#);
    }

    #[test]
    fn suggestions_catch_typos_only() {
        assert_eq!(did_you_mean("lr_rate", ["lr", "batch_size"]), Some("lr"));
        assert_eq!(
            did_you_mean("bach_size", ["lr", "batch_size"]),
            Some("batch_size")
        );
        assert_eq!(did_you_mean("zzz", ["lr", "batch_size"]), None);
    }
}
