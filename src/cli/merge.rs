//! `posterlab merge`: other posterlab databases' runs copied into one, and
//! what became of each source's runs, one line per source.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use posterlab::store::{self, Change, MergeReport, Progress, RunMerge};
use posterlab::text::{plural, printable};

#[derive(Args)]
pub struct MergeArgs {
    /// posterlab databases, or folders of them (their *.sqlite files, in name order).
    #[arg(required = true, value_name = "DB_OR_DIR")]
    sources: Vec<PathBuf>,
    /// The database to merge into, created if missing (default: --db, i.e. <results>/posterlab.sqlite).
    #[arg(long, value_name = "DB")]
    into: Option<PathBuf>,
    /// Say what would be merged, writing nothing.
    #[arg(long)]
    dry_run: bool,
}

pub fn merge(db: &Path, args: &MergeArgs) -> Result<ExitCode> {
    let into = args.into.as_deref().unwrap_or(db);
    let report = store::merge(into, &args.sources, args.dry_run).context("nothing merged")?;
    for (folder, n) in &report.folders {
        println!("{}: {}", shown(folder), plural(*n, "database"));
    }
    for (again, first) in &report.repeats {
        if again == first {
            eprintln!("note: {} is listed twice: merged once", shown(again));
        } else {
            eprintln!(
                "note: {} is the same file as {}: merged once",
                shown(again),
                shown(first)
            );
        }
    }
    for source in &report.sources {
        println!("{}: {}", shown(&source.path), outcome(&source.runs));
        for run in source.runs.iter().filter(|r| !r.same_spec.is_empty()) {
            eprintln!(
                "note: {}: run `{}` has the same spec as run {} here, under another uid: both \
                 kept, as two runs of one spec",
                shown(&source.path),
                printable(&run.name),
                run.same_spec
                    .iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
    }
    println!("{}", total(&report));
    Ok(ExitCode::SUCCESS)
}

fn shown(path: &Path) -> String {
    printable(&path.display().to_string()).into_owned()
}

/// `1 new run, 1 updated (epochs 4 → 9), 2 unchanged`.
fn outcome(runs: &[RunMerge]) -> String {
    if runs.is_empty() {
        return "no runs".to_string();
    }
    let of = |kind: fn(&Change) -> bool| runs.iter().filter(move |r| kind(&r.change));
    let mut parts = Vec::new();
    let new = of(|c| *c == Change::New).count();
    if new > 0 {
        parts.push(plural(new, "new run"));
    }
    let updated: Vec<String> = of(|c| matches!(c, Change::Updated { .. }))
        .map(|r| match &r.change {
            Change::Updated { was } => compared(was, &r.progress, "→"),
            _ => unreachable!("filtered"),
        })
        .collect();
    if !updated.is_empty() {
        parts.push(format!("{} updated ({})", updated.len(), some(&updated)));
    }
    let unchanged = of(|c| *c == Change::Unchanged).count();
    if unchanged > 0 {
        parts.push(format!("{unchanged} unchanged"));
    }
    let older: Vec<String> = of(|c| matches!(c, Change::Older { .. }))
        .map(|r| match &r.change {
            Change::Older { target } => compared(&r.progress, target, "vs"),
            _ => unreachable!("filtered"),
        })
        .collect();
    if !older.is_empty() {
        parts.push(format!(
            "{} older than here, not taken ({})",
            older.len(),
            some(&older)
        ));
    }
    parts.join(", ")
}

/// How two copies of a run differ: `epochs 4 → 9`, `running → finished`
/// (with `between` = `→`).
fn compared(a: &Progress, b: &Progress, between: &str) -> String {
    let mut what = Vec::new();
    if a.epochs_done != b.epochs_done {
        what.push(format!(
            "epochs {} {between} {}",
            a.epochs_done, b.epochs_done
        ));
    }
    if a.status != b.status {
        what.push(format!("{} {between} {}", a.status, b.status));
    }
    if what.is_empty() {
        what.push(format!(
            "written {} {between} {}",
            a.updated_at, b.updated_at
        ));
    }
    what.join(", ")
}

/// The first three of `items`, then how many more.
fn some(items: &[String]) -> String {
    let mut s = items[..items.len().min(3)].join("; ");
    if items.len() > 3 {
        s.push_str(&format!("; and {} more", items.len() - 3));
    }
    s
}

/// `merged 3 databases into results/posterlab.sqlite: 2 new runs, 1 updated, 4 unchanged`.
fn total(report: &MergeReport) -> String {
    let mut counts = vec![plural(report.count(|c| *c == Change::New), "new run")];
    counts.push(format!(
        "{} updated",
        report.count(|c| matches!(c, Change::Updated { .. }))
    ));
    counts.push(format!(
        "{} unchanged",
        report.count(|c| *c == Change::Unchanged)
    ));
    let older = report.count(|c| matches!(c, Change::Older { .. }));
    if older > 0 {
        counts.push(format!("{older} older not taken"));
    }
    format!(
        "{} {} into {}{}: {}{}",
        if report.dry_run {
            "would merge"
        } else {
            "merged"
        },
        plural(report.sources.len(), "database"),
        shown(&report.into),
        if report.new_target { " (new)" } else { "" },
        counts.join(", "),
        if report.dry_run {
            " (dry run: nothing written)"
        } else {
            ""
        }
    )
}
