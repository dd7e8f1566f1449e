//! The results table: test metrics per configuration, mean ± standard
//! deviation over its runs (the seeds), n, the best mean of each column
//! marked; against a baseline, the difference of each headline metric with
//! its 95 % interval, significant ones marked; as Markdown, CSV, LaTeX
//! (booktabs) and HTML.

use std::fmt::Write;

use super::bootstrap;
use super::effects::{Diff, Versus, ALPHA};
use super::gallery::escape;
use crate::metric::Metric;
use crate::text::{markdown_cell, plural, printable};

/// The test metrics a table shows, headed by their labels.
pub const METRICS: [Metric; 7] = [
    Metric::MicroF1,
    Metric::MacroF1,
    Metric::SamplesF1,
    Metric::MicroPrecision,
    Metric::MicroRecall,
    Metric::MicroAp,
    Metric::MacroAp,
];

/// One configuration: its label and, per metric, one value per run; and
/// how it stands against the baseline, when there is one.
#[derive(Debug, Clone)]
pub struct Row {
    pub config: String,
    pub values: Vec<Vec<f64>>,
    pub versus: Option<Versus>,
}

/// What the Δ columns are against, for their headers and footnote.
#[derive(Debug, Clone)]
pub struct Against {
    pub baseline: String,
    pub resamples: usize,
    pub seed: u64,
}

impl Against {
    /// The footnote's sentence on Δ (Markdown and HTML; `code` wraps the
    /// baseline's name).
    fn note(&self, rows: &[Row], code: impl Fn(&str) -> String) -> String {
        let compared = rows
            .iter()
            .filter(|r| matches!(r.versus, Some(Versus::Compared(_))))
            .count();
        let mut s = format!(
            "Δ: difference from the baseline {} of the mean over seeds, with its 95 % interval \
             from a paired bootstrap over seeds and test posters ({} resamples, seed {}); *: \
             significant at {} % after Holm's correction over the {} of each metric.",
            code(&self.baseline),
            group_digits(self.resamples),
            self.seed,
            ALPHA * 100.0,
            plural(compared, "comparison")
        );
        for r in rows {
            if let Some(Versus::Excluded(why)) = &r.versus {
                let _ = write!(s, " Not compared: {}, {why}.", code(&r.config));
            }
        }
        s
    }
}

/// 10000 → "10,000".
pub(super) fn group_digits(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A difference as tables show it: `+0.012 [−0.003, +0.027]`, with `mark`
/// after it when significant; `minus` spells the minus sign.
pub(super) fn delta_cell(d: &Diff, minus: &str, mark: &str) -> String {
    let signed = |x: f64| format!("{x:+.3}").replace('-', minus);
    let e = &d.estimate;
    format!(
        "{} [{}, {}]{}",
        signed(e.value),
        signed(e.low),
        signed(e.high),
        if d.significant() { mark } else { "" }
    )
}

/// A difference in LaTeX: the interval in small type, `$^*$` when
/// significant.
pub(super) fn latex_delta(d: &Diff) -> String {
    let e = &d.estimate;
    format!(
        "${:+.3}$ {{\\scriptsize $[{:+.3}, {:+.3}]$}}{}",
        e.value,
        e.low,
        e.high,
        if d.significant() { "$^*$" } else { "" }
    )
}

/// The Δ cells of a row in LaTeX.
fn latex_delta_cells(row: &Row) -> Vec<String> {
    match &row.versus {
        Some(Versus::Compared(diffs)) => diffs.iter().map(latex_delta).collect(),
        Some(Versus::Baseline) => vec!["baseline".to_string(); bootstrap::METRICS.len()],
        _ => vec!["---".to_string(); bootstrap::METRICS.len()],
    }
}

/// The Δ cells of a row, one per headline metric.
fn delta_cells(row: &Row, minus: &str, mark: &str) -> Vec<String> {
    let n = bootstrap::METRICS.len();
    match &row.versus {
        Some(Versus::Compared(diffs)) => diffs.iter().map(|d| delta_cell(d, minus, mark)).collect(),
        Some(Versus::Baseline) => vec!["baseline".to_string(); n],
        _ => vec!["—".to_string(); n],
    }
}

impl Row {
    pub fn n(&self) -> usize {
        self.values.first().map_or(0, Vec::len)
    }
}

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    let var = if xs.len() > 1 {
        xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var.sqrt())
}

/// For each metric, the row with the highest mean (every metric here is
/// better higher); ties mark every tied row.
fn best(rows: &[Row]) -> Vec<Vec<bool>> {
    let means: Vec<Vec<f64>> = rows
        .iter()
        .map(|r| r.values.iter().map(|v| mean_std(v).0).collect())
        .collect();
    let mut marks = vec![vec![false; METRICS.len()]; rows.len()];
    for m in 0..METRICS.len() {
        let top = means
            .iter()
            .map(|r| r[m])
            .filter(|v| v.is_finite())
            .fold(f64::NEG_INFINITY, f64::max);
        for (r, row) in means.iter().enumerate() {
            marks[r][m] = rows.len() > 1 && format!("{:.3}", row[m]) == format!("{top:.3}");
        }
    }
    marks
}

fn cell(values: &[f64]) -> String {
    let (mean, std) = mean_std(values);
    if values.len() > 1 {
        format!("{mean:.3} ± {std:.3}")
    } else {
        format!("{mean:.3}")
    }
}

pub fn markdown(rows: &[Row], against: Option<&Against>) -> String {
    let marks = best(rows);
    let mut s = String::from("| configuration | n |");
    for m in METRICS {
        let _ = write!(s, " {} |", m.label());
    }
    let deltas = if against.is_some() {
        bootstrap::METRICS.len()
    } else {
        0
    };
    for m in bootstrap::METRICS.iter().take(deltas) {
        let _ = write!(s, " Δ {} |", m.label());
    }
    s.push_str("\n|---|---:|");
    s.push_str(&"---:|".repeat(METRICS.len() + deltas));
    s.push('\n');
    for (r, row) in rows.iter().enumerate() {
        let _ = write!(s, "| {} | {} |", markdown_cell(&row.config), row.n());
        for (m, values) in row.values.iter().enumerate() {
            let c = cell(values);
            if marks[r][m] {
                let _ = write!(s, " **{c}** |");
            } else {
                let _ = write!(s, " {c} |");
            }
        }
        if against.is_some() {
            for c in delta_cells(row, "−", "\\*") {
                let _ = write!(s, " {c} |");
            }
        }
        s.push('\n');
    }
    let _ = write!(s, "\n{}.", note(rows, "**bold**"));
    if let Some(a) = against {
        s.push(' ');
        s.push_str(
            &a.note(rows, |name| {
                format!("`{}`", markdown_cell(name).replace('`', "'"))
            })
            .replace('*', "\\*"),
        );
    }
    s.push('\n');
    s
}

/// What the table's numbers are, for the line under it (Markdown, the
/// index page): a spread only where some configuration has several runs,
/// a best only where there are configurations to compare (as [`best`]
/// marks them); `bold` is the word as the format writes it.
pub fn note(rows: &[Row], bold: &str) -> String {
    let mut note = String::from("Test split, each run's best checkpoint; ");
    if rows.iter().any(|r| r.n() > 1) {
        note.push_str("mean ± sample standard deviation over a configuration's n runs");
    } else {
        note.push_str("one run per configuration");
    }
    if rows.len() > 1 {
        let _ = write!(note, "; {bold}: the best mean of each column");
    }
    note
}

pub(super) fn csv_field(text: &str) -> String {
    let text = printable(text);
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Machine-readable: means and standard deviations in their own columns,
/// `best_<metric>` 1 where that row holds the column's best mean.
/// Against a baseline, also `versus` (baseline, compared, or why not) and,
/// per headline metric, `delta_<metric>` with its interval
/// (`_low`, `_high`), its p-value and Holm-adjusted p-value, and
/// `significant_<metric>` (1 or 0); empty where not compared.
pub fn csv(rows: &[Row], against: Option<&Against>) -> String {
    let marks = best(rows);
    let mut s = String::from("configuration,n");
    for m in METRICS {
        let key = m.name();
        let _ = write!(s, ",{key}_mean,{key}_std");
    }
    for m in METRICS {
        let _ = write!(s, ",best_{}", m.name());
    }
    if against.is_some() {
        s.push_str(",versus");
        for m in bootstrap::METRICS {
            let k = m.name();
            let _ = write!(
                s,
                ",delta_{k},delta_{k}_low,delta_{k}_high,p_{k},p_holm_{k},significant_{k}"
            );
        }
    }
    s.push('\n');
    for (r, row) in rows.iter().enumerate() {
        let _ = write!(s, "{},{}", csv_field(&row.config), row.n());
        for values in &row.values {
            let (mean, std) = mean_std(values);
            let _ = write!(s, ",{mean:.6},{std:.6}");
        }
        for &mark in &marks[r] {
            let _ = write!(s, ",{}", u8::from(mark));
        }
        if against.is_some() {
            let empty = ",".repeat(6 * bootstrap::METRICS.len());
            match &row.versus {
                Some(Versus::Compared(diffs)) => {
                    s.push_str(",compared");
                    for d in diffs {
                        let e = &d.estimate;
                        let _ = write!(
                            s,
                            ",{:.6},{:.6},{:.6},{:.6},{:.6},{}",
                            e.value,
                            e.low,
                            e.high,
                            e.p,
                            d.holm,
                            u8::from(d.significant())
                        );
                    }
                }
                Some(Versus::Baseline) => {
                    let _ = write!(s, ",baseline{empty}");
                }
                Some(Versus::Excluded(why)) => {
                    let _ = write!(s, ",{}{empty}", csv_field(&format!("not compared: {why}")));
                }
                None => {
                    let _ = write!(s, ",{empty}");
                }
            }
        }
        s.push('\n');
    }
    s
}

/// `text` as LaTeX text that pdflatex typesets as written: the characters
/// LaTeX reserves escaped, control characters written visibly
/// ([`printable`]), the accented Latin letters kept (T1 and UTF-8 input
/// have them), and any other character, which pdflatex would stop at
/// ("not set up for use with LaTeX"), written as `?`.
pub(super) fn latex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in printable(text).chars() {
        match c {
            '\u{a0}'..='\u{17f}' if c.is_alphabetic() => out.push(c),
            _ if !c.is_ascii() => out.push('?'),
            '\\' => out.push_str("\\textbackslash{}"),
            '&' | '%' | '$' | '#' | '_' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '~' => out.push_str("\\textasciitilde{}"),
            '^' => out.push_str("\\textasciicircum{}"),
            _ => out.push(c),
        }
    }
    out
}

/// A booktabs table (needs `\usepackage{booktabs}`).
pub fn latex(rows: &[Row], against: Option<&Against>) -> String {
    let marks = best(rows);
    let deltas = if against.is_some() {
        bootstrap::METRICS.len()
    } else {
        0
    };
    let mut s = String::from("% posterlab results table; needs \\usepackage{booktabs}\n");
    if let Some(a) = against {
        let _ = writeln!(
            s,
            "% Δ: difference from the baseline \"{}\" of the mean over seeds, 95 % interval from a \
             paired bootstrap over seeds and test posters ({} resamples, seed {}); $^*$: \
             significant at {} % after Holm's correction over the comparisons of each metric.",
            printable(&a.baseline),
            group_digits(a.resamples),
            a.seed,
            ALPHA * 100.0
        );
    }
    let _ = writeln!(
        s,
        "\\begin{{tabular}}{{lr{}}}",
        "c".repeat(METRICS.len() + deltas)
    );
    s.push_str("\\toprule\nconfiguration & $n$");
    for m in METRICS {
        let _ = write!(s, " & {}", latex_escape(m.label()));
    }
    for m in bootstrap::METRICS.iter().take(deltas) {
        let _ = write!(s, " & $\\Delta$ {}", latex_escape(m.label()));
    }
    s.push_str(" \\\\\n\\midrule\n");
    for (r, row) in rows.iter().enumerate() {
        let _ = write!(s, "{} & {}", latex_escape(&row.config), row.n());
        for (m, values) in row.values.iter().enumerate() {
            let (mean, std) = mean_std(values);
            let c = if values.len() > 1 {
                format!("{mean:.3} $\\pm$ {std:.3}")
            } else {
                format!("{mean:.3}")
            };
            if marks[r][m] {
                let _ = write!(s, " & \\textbf{{{c}}}");
            } else {
                let _ = write!(s, " & {c}");
            }
        }
        if against.is_some() {
            for c in latex_delta_cells(row) {
                let _ = write!(s, " & {c}");
            }
        }
        s.push_str(" \\\\\n");
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}

pub fn html(rows: &[Row], against: Option<&Against>) -> String {
    let marks = best(rows);
    let mut s = String::from("<table>\n<thead><tr><th>configuration</th><th>n</th>");
    for m in METRICS {
        let _ = write!(s, "<th>{}</th>", escape(m.label()));
    }
    if against.is_some() {
        for m in bootstrap::METRICS {
            let _ = write!(s, "<th>Δ {}</th>", escape(m.label()));
        }
    }
    s.push_str("</tr></thead>\n<tbody>\n");
    for (r, row) in rows.iter().enumerate() {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td>",
            escape(&row.config),
            row.n()
        );
        for (m, values) in row.values.iter().enumerate() {
            let c = escape(&cell(values));
            if marks[r][m] {
                let _ = write!(s, "<td><b>{c}</b></td>");
            } else {
                let _ = write!(s, "<td>{c}</td>");
            }
        }
        if against.is_some() {
            for c in delta_cells(row, "−", "*") {
                let _ = write!(s, "<td>{}</td>", escape(&c));
            }
        }
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

/// The Δ columns' footnote for the index page (HTML).
pub fn html_note(rows: &[Row], against: &Against) -> String {
    against.note(rows, |name| format!("<code>{}</code>", escape(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        vec![
            Row {
                config: "cnn_rnn loss=bce".into(),
                values: vec![vec![0.4, 0.5]; METRICS.len()],
                versus: None,
            },
            Row {
                config: "cnn & 100%".into(),
                values: vec![vec![0.3]; METRICS.len()],
                versus: None,
            },
        ]
    }

    fn of_runs(n: usize) -> Row {
        Row {
            config: "c".into(),
            values: vec![vec![0.5; n]; METRICS.len()],
            versus: None,
        }
    }

    #[test]
    fn the_note_says_only_what_the_table_shows() {
        let head = "Test split, each run's best checkpoint; ";
        let spread = "mean ± sample standard deviation over a configuration's n runs";
        let bold = "; **bold**: the best mean of each column";
        let cases = [
            (vec![of_runs(1)], format!("{head}one run per configuration")),
            (
                vec![of_runs(1), of_runs(1)],
                format!("{head}one run per configuration{bold}"),
            ),
            (vec![of_runs(2)], format!("{head}{spread}")),
            (
                vec![of_runs(2), of_runs(1)],
                format!("{head}{spread}{bold}"),
            ),
        ];
        for (rows, expected) in cases {
            let n: Vec<usize> = rows.iter().map(Row::n).collect();
            assert_eq!(note(&rows, "**bold**"), expected, "runs per row {n:?}");
        }
    }

    #[test]
    fn latex_text_is_typeset_as_written_or_marked() {
        assert_eq!(
            latex_escape("a_b&c 50% #1 {x} ~^\\"),
            "a\\_b\\&c 50\\% \\#1 \\{x\\} \\textasciitilde{}\\textasciicircum{}\\textbackslash{}"
        );
        // Accented Latin letters pdflatex has; a minus sign and a Greek
        // letter it would stop at; a line break written visibly.
        assert_eq!(latex_escape("Amélie−β"), "Amélie??");
        assert_eq!(latex_escape("a\nb"), "a\\textbackslash{}nb");
    }

    #[test]
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[0.4, 0.5]);
        assert!((m - 0.45).abs() < 1e-12 && (s - 0.070_710_678).abs() < 1e-8);
        assert_eq!(mean_std(&[0.3]), (0.3, 0.0));
    }

    #[test]
    fn the_best_mean_is_marked_in_every_format() {
        let md = markdown(&rows(), None);
        assert!(
            md.contains("| cnn_rnn loss=bce | 2 | **0.450 ± 0.071** |"),
            "{md}"
        );
        // `&` as an entity: Markdown renders HTML, so `&lt;` in a name
        // would otherwise show as `<`.
        assert!(md.contains("| cnn &amp; 100% | 1 | 0.300 |"), "{md}");
        let tex = latex(&rows(), None);
        assert!(tex.contains("\\textbf{0.450 $\\pm$ 0.071}"), "{tex}");
        assert!(tex.contains("cnn \\& 100\\% & 1 & 0.300"), "{tex}");
        assert!(tex.contains("\\toprule") && tex.contains("\\bottomrule"));
        let csv = csv(&rows(), None);
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("configuration,n,micro_f1_mean,micro_f1_std"));
        assert!(
            lines[1].starts_with("cnn_rnn loss=bce,2,0.450000,0.070711"),
            "{csv}"
        );
        assert!(lines[1].ends_with(",1"), "{csv}");
        assert!(lines[2].ends_with(",0"), "{csv}");
        assert!(html(&rows(), None).contains("<td><b>0.450 ± 0.071</b></td>"));
    }

    #[test]
    fn differences_from_the_baseline_get_their_own_columns() {
        use crate::report::bootstrap::Estimate;
        let diff = |value: f64, low: f64, high: f64, holm: f64| Diff {
            estimate: Estimate {
                value,
                low,
                high,
                p: holm,
            },
            holm,
        };
        let mut rows = rows();
        rows[0].versus = Some(Versus::Baseline);
        rows[1].versus = Some(Versus::Compared(vec![
            diff(-0.15, -0.2, -0.1, 0.001),
            diff(0.01, -0.02, 0.04, 0.6),
            diff(0.0, 0.0, 0.0, 1.0),
            diff(0.0, 0.0, 0.0, 1.0),
        ]));
        rows.push(Row {
            config: "other split".into(),
            values: vec![vec![0.2]; METRICS.len()],
            versus: Some(Versus::Excluded("another test split".into())),
        });
        let against = Against {
            baseline: "cnn_rnn loss=bce".into(),
            resamples: 10_000,
            seed: 3,
        };
        let md = markdown(&rows, Some(&against));
        assert!(
            md.contains("| Δ micro-F1 | Δ macro-F1 | Δ micro mAP | Δ macro mAP |"),
            "{md}"
        );
        assert!(
            md.contains("| −0.150 [−0.200, −0.100]\\* | +0.010 [−0.020, +0.040] |"),
            "{md}"
        );
        assert!(md.contains("| baseline | baseline |"), "{md}");
        assert!(md.contains("| — | — |"), "{md}");
        assert!(md.contains("(10,000 resamples, seed 3)"), "{md}");
        assert!(md.contains("over the 1 comparison of each metric"), "{md}");
        assert!(
            md.contains("Not compared: `other split`, another test split."),
            "{md}"
        );
        let tex = latex(&rows, Some(&against));
        assert!(
            tex.contains("& $-0.150$ {\\scriptsize $[-0.200, -0.100]$}$^*$ &"),
            "{tex}"
        );
        assert!(tex.contains("& baseline & baseline"), "{tex}");
        assert!(tex.contains("& --- & ---"), "{tex}");
        let csv = csv(&rows, Some(&against));
        let lines: Vec<&str> = csv.lines().collect();
        assert!(
            lines[0].ends_with(",p_holm_macro_ap,significant_macro_ap"),
            "{csv}"
        );
        assert!(lines[1].contains(",baseline,,,"), "{csv}");
        assert!(
            lines[2]
                .contains(",compared,-0.150000,-0.200000,-0.100000,0.001000,0.001000,1,0.010000"),
            "{csv}"
        );
        assert!(
            lines[3].contains(",not compared: another test split,"),
            "{csv}"
        );
        assert_eq!(lines[1].split(',').count(), lines[0].split(',').count());
    }
}
