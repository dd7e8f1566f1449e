//! The results table: test metrics per configuration, mean ± standard
//! deviation over its runs (the seeds), n, the best mean of each column
//! marked; as Markdown, CSV, LaTeX (booktabs) and HTML.

use std::fmt::Write;

use super::gallery::escape;
use crate::metric::Metric;
use crate::text::{markdown_cell, printable};

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

/// One configuration: its label and, per metric, one value per run.
#[derive(Debug, Clone)]
pub struct Row {
    pub config: String,
    pub values: Vec<Vec<f64>>,
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

pub fn markdown(rows: &[Row]) -> String {
    let marks = best(rows);
    let mut s = String::from("| configuration | n |");
    for m in METRICS {
        let _ = write!(s, " {} |", m.label());
    }
    s.push_str("\n|---|---:|");
    s.push_str(&"---:|".repeat(METRICS.len()));
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
        s.push('\n');
    }
    let _ = writeln!(s, "\n{}.", note(rows, "**bold**"));
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

fn csv_field(text: &str) -> String {
    let text = printable(text);
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Machine-readable: means and standard deviations in their own columns,
/// `best_<metric>` 1 where that row holds the column's best mean.
pub fn csv(rows: &[Row]) -> String {
    let marks = best(rows);
    let mut s = String::from("configuration,n");
    for m in METRICS {
        let key = m.name();
        let _ = write!(s, ",{key}_mean,{key}_std");
    }
    for m in METRICS {
        let _ = write!(s, ",best_{}", m.name());
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
        s.push('\n');
    }
    s
}

fn latex_escape(text: &str) -> String {
    let mut out = String::new();
    for c in printable(text).chars() {
        match c {
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
pub fn latex(rows: &[Row]) -> String {
    let marks = best(rows);
    let mut s = String::from("% posterlab results table; needs \\usepackage{booktabs}\n");
    let _ = writeln!(s, "\\begin{{tabular}}{{lr{}}}", "c".repeat(METRICS.len()));
    s.push_str("\\toprule\nconfiguration & $n$");
    for m in METRICS {
        let _ = write!(s, " & {}", latex_escape(m.label()));
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
        s.push_str(" \\\\\n");
    }
    s.push_str("\\bottomrule\n\\end{tabular}\n");
    s
}

pub fn html(rows: &[Row]) -> String {
    let marks = best(rows);
    let mut s = String::from("<table>\n<thead><tr><th>configuration</th><th>n</th>");
    for m in METRICS {
        let _ = write!(s, "<th>{}</th>", escape(m.label()));
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
        s.push_str("</tr>\n");
    }
    s.push_str("</tbody>\n</table>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows() -> Vec<Row> {
        vec![
            Row {
                config: "cnn_rnn loss=bce".into(),
                values: vec![vec![0.4, 0.5]; METRICS.len()],
            },
            Row {
                config: "cnn & 100%".into(),
                values: vec![vec![0.3]; METRICS.len()],
            },
        ]
    }

    fn of_runs(n: usize) -> Row {
        Row {
            config: "c".into(),
            values: vec![vec![0.5; n]; METRICS.len()],
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
    fn mean_and_sample_std() {
        let (m, s) = mean_std(&[0.4, 0.5]);
        assert!((m - 0.45).abs() < 1e-12 && (s - 0.070_710_678).abs() < 1e-8);
        assert_eq!(mean_std(&[0.3]), (0.3, 0.0));
    }

    #[test]
    fn the_best_mean_is_marked_in_every_format() {
        let md = markdown(&rows());
        assert!(
            md.contains("| cnn_rnn loss=bce | 2 | **0.450 ± 0.071** |"),
            "{md}"
        );
        // `&` as an entity: Markdown renders HTML, so `&lt;` in a name
        // would otherwise show as `<`.
        assert!(md.contains("| cnn &amp; 100% | 1 | 0.300 |"), "{md}");
        let tex = latex(&rows());
        assert!(tex.contains("\\textbf{0.450 $\\pm$ 0.071}"), "{tex}");
        assert!(tex.contains("cnn \\& 100\\% & 1 & 0.300"), "{tex}");
        assert!(tex.contains("\\toprule") && tex.contains("\\bottomrule"));
        let csv = csv(&rows());
        let lines: Vec<&str> = csv.lines().collect();
        assert!(lines[0].starts_with("configuration,n,micro_f1_mean,micro_f1_std"));
        assert!(
            lines[1].starts_with("cnn_rnn loss=bce,2,0.450000,0.070711"),
            "{csv}"
        );
        assert!(lines[1].ends_with(",1"), "{csv}");
        assert!(lines[2].ends_with(",0"), "{csv}");
        assert!(html(&rows()).contains("<td><b>0.450 ± 0.071</b></td>"));
    }
}
