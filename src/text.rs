//! Text shown to people: counts with the right plural, and strings that
//! came from files (run names in an old database, genres and poster ids from
//! a CSV) made safe to print: a control character (ESC, NUL, a newline…)
//! would drive the terminal, break a Markdown table, or make an SVG file
//! ill-formed XML (XML 1.0 forbids most of them even escaped).

use std::borrow::Cow;

/// `1 run`, `2 runs`, `0 runs`.
pub fn plural(n: usize, noun: &str) -> String {
    format!("{n} {}", plural_of(n, noun))
}

/// The noun alone, singular or plural for `n`: `run`, `runs`; a noun
/// ending in `s`, `x` or `sh` takes `es`, `y` after a consonant `ies`.
fn plural_of(n: usize, noun: &str) -> Cow<'_, str> {
    if n == 1 {
        return Cow::Borrowed(noun);
    }
    let consonant_y = noun.ends_with('y')
        && !noun
            .chars()
            .rev()
            .nth(1)
            .is_some_and(|c| "aeiou".contains(c));
    Cow::Owned(if consonant_y {
        format!("{}ies", &noun[..noun.len() - 1])
    } else if noun.ends_with('s') || noun.ends_with('x') || noun.ends_with("sh") {
        format!("{noun}es")
    } else {
        format!("{noun}s")
    })
}

/// `n` with a comma between groups of three digits: `7,242`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, d) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(d);
    }
    out
}

/// `text` with every control character (Unicode Cc: U+0000–U+001F,
/// U+007F–U+009F) written as Rust writes it in a string (`\n`, `\t`, `\0`,
/// `\u{1b}`); borrowed when there is none (the usual case).
pub fn printable(text: &str) -> Cow<'_, str> {
    escape_where(text, char::is_control)
}

/// Text for a cell of a Markdown table: [`printable`], with `|` escaped
/// (it would end the cell) and `&`, `<`, `>` as entities (Markdown renders
/// inline HTML, so a name such as `<img src=x>` would be markup).
pub fn markdown_cell(text: &str) -> String {
    html_escape::encode_text(&printable(text)).replace('|', "\\|")
}

/// [`printable`], but keeping line breaks and tabs: for messages of
/// several lines (an error and its help) on a terminal, where what must not
/// arrive raw is ESC and the rest.
pub fn terminal_safe(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c.is_control() && c != '\n' && c != '\t')
}

/// `text` with every character that XML 1.0 forbids (the C0 controls but
/// tab, line feed and carriage return) written as a visible escape: what
/// every SVG and HTML file goes through last, so that it stays well-formed
/// whatever a name held.
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    escape_where(text, |c| c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
}

fn escape_where(text: &str, bad: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(&bad) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if bad(c) {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The first `shown` of `names`, made [`printable`], then how many more:
/// `a, b, c and 4 more`.
pub fn some_of(names: &[String], shown: usize) -> String {
    let mut s = names
        .iter()
        .take(shown)
        .map(|n| printable(n))
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > shown {
        s.push_str(&format!(" and {} more", names.len() - shown));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(7242), "7,242");
        assert_eq!(thousands(1234567), "1,234,567");
    }

    #[test]
    fn a_few_names_then_a_count() {
        let names: Vec<String> = ["a", "b\u{1b}", "c", "d"].map(String::from).to_vec();
        assert_eq!(some_of(&names, 6), "a, b\\u{1b}, c, d");
        assert_eq!(some_of(&names, 2), "a, b\\u{1b} and 2 more");
        assert_eq!(some_of(&[], 3), "");
    }

    #[test]
    fn plurals() {
        for (n, noun, want) in [
            (0, "run", "0 runs"),
            (1, "run", "1 run"),
            (2, "run", "2 runs"),
            (1, "epoch", "1 epoch"),
            (3, "epoch", "3 epochs"),
            (2, "process", "2 processes"),
            (2, "entry", "2 entries"),
            (2, "day", "2 days"),
        ] {
            assert_eq!(plural(n, noun), want);
        }
    }

    #[test]
    fn control_characters_become_visible_escapes() {
        assert!(matches!(printable("Sci-Fi"), Cow::Borrowed("Sci-Fi")));
        assert_eq!(printable("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(
            printable("x\0y\nz\u{7f}\u{85}\t"),
            "x\\0y\\nz\\u{7f}\\u{85}\\t"
        );
        assert_eq!(printable("Ü ✓"), "Ü ✓");
        assert_eq!(
            terminal_safe("a\u{1b}]0;x\u{7}\n  help: y"),
            "a\\u{1b}]0;x\\u{7}\n  help: y"
        );
        assert_eq!(
            xml_safe("<t>a\u{0}\u{1b}\t\n\u{85}</t>"),
            "<t>a\\0\\u{1b}\t\n\u{85}</t>"
        );
        assert_eq!(markdown_cell("R&D <b>|x\n"), "R&amp;D &lt;b&gt;\\|x\\n");
    }
}
