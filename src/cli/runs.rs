//! `posterlab runs`, `show` and `export`: the store, read back.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use posterlab::metric::{Metric, Split};
use posterlab::store::{self, EpochRow, RunRow, Status, Store};
use posterlab::text::{plural, printable, terminal_safe};

/// Seconds as `42 s`, `3 min 05 s` or `2 h 07 min`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{seconds:.1} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s / 60 % 60),
    }
}

pub fn open_existing(db: &Path) -> Result<Store> {
    Ok(Store::open_read_only(db)?)
}

fn selected(store: &Store, selectors: &[String]) -> Result<Vec<RunRow>> {
    let selection = store::select(&store.runs()?, selectors).map_err(anyhow::Error::msg)?;
    Ok(noted(selection))
}

/// The selected runs, after a note for each selector that matched none.
fn noted(selection: store::Selection) -> Vec<RunRow> {
    for s in &selection.unmatched {
        eprintln!("note: `{}` matches no run", printable(s));
    }
    selection.runs
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.digits$}"))
}

/// The width of a NAME column for `runs`: their longest name, 4 to 50.
pub fn name_width(runs: &[RunRow]) -> usize {
    runs.iter()
        .map(|r| printable(&r.name).chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 50)
}

pub fn list(db: &Path, selectors: &[String]) -> Result<ExitCode> {
    let store = open_existing(db)?;
    let runs = selected(&store, selectors)?;
    if runs.is_empty() {
        println!("no runs in {}", db.display());
        return Ok(ExitCode::SUCCESS);
    }
    let width = name_width(&runs);
    println!(
        "{:>4}  {:<width$}  {:<11}  {:>7}  {:>13}  {:>13}  {:>10}",
        "ID", "NAME", "STATUS", "EPOCHS", "BEST VAL LOSS", "TEST MICRO-F1", "DURATION"
    );
    for r in &runs {
        let status = match (r.status, r.status_epoch) {
            (Status::Diverged, Some(e)) => format!("diverged@{e}"),
            (s, _) => s.to_string(),
        };
        println!(
            "{:>4}  {:<width$}  {:<11}  {:>7}  {:>13}  {:>13}  {:>10}",
            r.id,
            printable(&r.name),
            status,
            format!("{}/{}", r.epochs_done, r.epochs_planned),
            opt(r.best_val_loss, 4),
            opt(r.test_micro_f1, 3),
            duration(r.train_seconds)
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The one run `selector` picks (`show`, `predict`); several are an
/// error that lists them.
pub fn one_run(store: &Store, selector: &str) -> Result<RunRow> {
    let mut runs = selected(store, &[selector.to_string()])?;
    if runs.len() != 1 {
        bail!(
            "`{}` matches {} ({})\n  help: name one by its id",
            printable(selector),
            plural(runs.len(), "run"),
            runs.iter()
                .map(|r| format!("{} {}", r.id, printable(&r.name)))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(runs.remove(0))
}

pub fn show(db: &Path, selector: &str) -> Result<ExitCode> {
    let store = open_existing(db)?;
    let run = &one_run(&store, selector)?;
    println!("run {} {}  ({})", run.id, printable(&run.name), run.status);
    println!("  spec hash   {}", run.spec_hash);
    println!("  data set    {}", printable(&run.dataset));
    println!(
        "  epochs      {} of {}{}",
        run.epochs_done,
        run.epochs_planned,
        if run.stopped_early {
            " (stopped early)"
        } else {
            ""
        }
    );
    if let Some(b) = run.best_epoch {
        println!("  best epoch  {b}");
    }
    println!("  trained for {}", duration(run.train_seconds));
    println!("  created     {}", run.created_at);
    if let Some(at) = &run.finished_at {
        println!("  finished    {at}");
    }
    if let Some(e) = &run.error {
        println!("  error       {}", terminal_safe(e));
    }
    println!(
        "  checkpoints {}",
        printable(&run.checkpoint_dir.display().to_string())
    );
    println!("\n{}", terminal_safe(run.spec_toml.trim_end()));

    let rows = store.epochs(run.id)?;
    let val: Vec<&EpochRow> = rows.iter().filter(|r| r.split == Split::Val).collect();
    if !val.is_empty() {
        println!(
            "\n{:>5}  {:>9}  {:>10}  {:>8}  {:>8}  {:>8}  {:>8}  {:>8}  {:>7}",
            "EPOCH",
            "LR",
            "TRAIN LOSS",
            "VAL LOSS",
            "MICRO-F1",
            "MACRO-F1",
            "MICRO-AP",
            "BIN-ACC",
            "SECONDS"
        );
        for v in val {
            let train = rows
                .iter()
                .find(|r| r.split == Split::Train && r.epoch == v.epoch);
            println!(
                "{:>5}  {:>9}  {:>10}  {:>8}  {:>8.3}  {:>8.3}  {:>8.3}  {:>8.3}  {:>7}{}",
                v.epoch,
                v.lr.map_or("-".into(), |lr| format!("{lr:.2e}")),
                opt(train.and_then(|t| t.loss), 4),
                opt(v.loss, 4),
                v.micro_f1,
                v.macro_f1,
                v.micro_ap,
                v.binary_accuracy,
                opt(v.seconds, 1),
                if Some(v.epoch) == run.best_epoch {
                    "  *"
                } else {
                    ""
                }
            );
        }
        println!("(validation metrics; * marks the best epoch)");
    }
    if let Some(test) = rows.iter().find(|r| r.split == Split::Test) {
        println!(
            "\ntest (epoch {} weights, {}): loss {}, micro P/R/F1 {:.3}/{:.3}/{:.3}, macro F1 {:.3}, \
             samples F1 {:.3}, micro mAP {:.3}, macro mAP {:.3}, subset acc {:.3}, binary acc {:.3}",
            test.epoch,
            plural(test.posters, "poster"),
            opt(test.loss, 4),
            test.micro_precision,
            test.micro_recall,
            test.micro_f1,
            test.macro_f1,
            test.samples_f1,
            test.micro_ap,
            test.macro_ap,
            test.subset_accuracy,
            test.binary_accuracy
        );
        let genres = store.genre_counts(run.id, Split::Test, test.epoch)?;
        let width = genres
            .iter()
            .map(|g| printable(&g.genre).chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        println!(
            "\n{:<width$}  {:>7}  {:>9}  {:>5}  {:>5}  {:>5}  {:>5}  {:>9}  {:>6}  {:>5}",
            "GENRE", "SUPPORT", "PREDICTED", "TP", "FP", "FN", "TN", "PRECISION", "RECALL", "F1"
        );
        for g in genres {
            let c = g.counts;
            println!(
                "{:<width$}  {:>7}  {:>9}  {:>5}  {:>5}  {:>5}  {:>5}  {:>9.3}  {:>6.3}  {:>5.3}",
                printable(&g.genre),
                c.support(),
                c.tp + c.fp,
                c.tp,
                c.fp,
                c.fn_,
                c.tn,
                c.precision(),
                c.recall(),
                c.f1()
            );
        }
        let own = store.thresholds(run.id, &run.rule.name())?;
        if !own.is_empty() {
            println!(
                "\n{} thresholds, tuned on the validation predictions: {}",
                run.rule,
                thresholds_text(&own)
            );
        }
        show_rescores(&store, run)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The run's test metrics under the rules it was re-scored with.
fn show_rescores(store: &Store, run: &RunRow) -> Result<()> {
    let rescores = store.rescores(run.id)?;
    if rescores.is_empty() {
        return Ok(());
    }
    let width = rescores
        .iter()
        .map(|r| r.rule.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!(
        "\nre-scored (the same test predictions under another rule; `posterlab rescore`):\n\
         {:<width$}  {:>8}  {:>8}  {:>8}  {:>8}  {:>10}  {:>10}  {:>9}",
        "RULE",
        "MICRO-P",
        "MICRO-R",
        "MICRO-F1",
        "MACRO-F1",
        "SAMPLES-F1",
        "SUBSET-ACC",
        "PREDICTED"
    );
    for r in &rescores {
        let m = &r.metrics;
        let predicted: u64 = m.per_genre.iter().map(|c| c.tp + c.fp).sum();
        println!(
            "{:<width$}  {:>8.3}  {:>8.3}  {:>8.3}  {:>8.3}  {:>10.3}  {:>10.3}  {:>9}",
            r.rule,
            m.micro_precision,
            m.micro_recall,
            m.micro_f1,
            m.macro_f1,
            m.samples_f1,
            m.subset_accuracy,
            predicted
        );
        let thresholds = store.thresholds(run.id, &r.rule)?;
        if !thresholds.is_empty() {
            println!("  thresholds: {}", thresholds_text(&thresholds));
        }
    }
    Ok(())
}

/// Tuned thresholds in a line: the global one first, then by genre.
fn thresholds_text(thresholds: &[(String, f64)]) -> String {
    let mut sorted: Vec<&(String, f64)> = thresholds.iter().collect();
    sorted.sort_by(|a, b| (a.0 != "*").cmp(&(b.0 != "*")).then(a.0.cmp(&b.0)));
    sorted
        .iter()
        .map(|(genre, t)| {
            if genre == "*" {
                format!("all genres {t:.3}")
            } else {
                format!("{} {t:.3}", printable(genre))
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn report(
    db: &Path,
    selectors: &[String],
    options: &posterlab::report::Options,
) -> Result<ExitCode> {
    let store = open_existing(db)?;
    let runs = noted(posterlab::report::select(&store, selectors).map_err(anyhow::Error::msg)?);
    let started = std::time::Instant::now();
    let written = render(&store, &runs, options).map_err(anyhow::Error::msg)?;
    for note in &written.notes {
        eprintln!("note: {}", terminal_safe(note));
    }
    println!(
        "{} for {} in {:.1} s: open {}",
        plural(written.files, "file"),
        plural(written.runs, "run"),
        started.elapsed().as_secs_f64(),
        written.index.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// The report of `runs`; the posters of runs recorded before the store
/// kept their files are found through their data sets' CSVs.
pub fn render(
    store: &Store,
    runs: &[RunRow],
    options: &posterlab::report::Options,
) -> std::result::Result<posterlab::report::Written, String> {
    let earlier = posterlab::data::RecordedElsewhere::default();
    posterlab::report::render(store, runs, options, &|run: &RunRow| {
        earlier.poster_files(&run.spec_toml, &run.dataset_csv)
    })
}

pub fn export(db: &Path, selectors: &[String], json: bool, out: Option<&Path>) -> Result<ExitCode> {
    let store = open_existing(db)?;
    let mut rows = Vec::new();
    for run in selected(&store, selectors)? {
        let epochs = store.epochs(run.id)?;
        // After the run's own test row, the same test under each rule it
        // was re-scored with (`decision` tells them apart).
        let rescored: Vec<EpochRow> = match epochs.iter().find(|r| r.split == Split::Test) {
            Some(own) => store
                .rescores(run.id)?
                .iter()
                .map(|r| r.as_epoch_row(own))
                .collect(),
            None => Vec::new(),
        };
        rows.extend(epochs);
        rows.extend(rescored);
    }
    if !json {
        // JSON escapes control characters itself; CSV would carry them raw
        // to a terminal or a spreadsheet.
        for row in &mut rows {
            row.run = printable(&row.run).into_owned();
        }
    }
    let mut bytes = Vec::new();
    if json {
        serde_json::to_writer_pretty(&mut bytes, &rows)?;
        bytes.push(b'\n');
    } else {
        let mut w = csv::Writer::from_writer(&mut bytes);
        for row in &rows {
            w.serialize(row)?;
        }
        if rows.is_empty() {
            // The header alone, so that an empty export still parses.
            w.write_record(epoch_columns())?;
        }
        w.flush()?;
        drop(w);
    }
    match out {
        Some(path) => {
            posterlab::files::may_replace(path, "an export", |p| is_export(p, json))
                .map_err(anyhow::Error::msg)?;
            posterlab::files::write_atomic(path, true, |w| w.write_all(&bytes))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} to {}", plural(rows.len(), "row"), path.display());
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Whether `path` holds an earlier export of this format (so that
/// exporting again may replace it); one from before the `decision` column
/// counts.
fn is_export(path: &Path, json: bool) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let columns: Vec<&str> = epoch_columns()
        .into_iter()
        .filter(|c| *c != "decision")
        .collect();
    if json {
        serde_json::from_str::<Vec<serde_json::Map<String, serde_json::Value>>>(&text).is_ok_and(
            |rows| {
                rows.iter()
                    .all(|r| columns.iter().all(|c| r.contains_key(*c)))
            },
        )
    } else {
        text.lines().next().is_some_and(|header| {
            let header: Vec<&str> = header.split(',').filter(|c| *c != "decision").collect();
            header == columns
        })
    }
}

/// The columns of an export: what identifies the row, then every metric.
fn epoch_columns() -> Vec<&'static str> {
    let mut columns = vec![
        "run_id",
        "run",
        "epoch",
        "split",
        "decision",
        "lr",
        "seconds",
        "images_per_sec",
        "posters",
    ];
    columns.extend(Metric::ALL.map(Metric::name));
    columns
}
