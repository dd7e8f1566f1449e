//! `posterlab runs`, `show` and `export`: the store, read back.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use posterlab::store::{self, EpochRow, RunRow, Status, Store};

/// Seconds as `42 s`, `3 min 05 s` or `2 h 07 min`.
pub fn duration(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s {
        0..=59 => format!("{seconds:.1} s"),
        60..=3599 => format!("{} min {:02} s", s / 60, s % 60),
        _ => format!("{} h {:02} min", s / 3600, s / 60 % 60),
    }
}

fn open_existing(db: &Path) -> Result<Store> {
    if !db.is_file() {
        bail!(
            "no run database at {}\n  help: `posterlab run SPEC` creates it; `--db FILE` reads another",
            db.display()
        );
    }
    Ok(Store::open(db)?)
}

fn selected(store: &Store, selectors: &[String]) -> Result<Vec<RunRow>> {
    store::select(&store.runs()?, selectors).map_err(anyhow::Error::msg)
}

fn opt(value: Option<f64>, digits: usize) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.digits$}"))
}

pub fn list(db: &Path, selectors: &[String]) -> Result<ExitCode> {
    let store = open_existing(db)?;
    let runs = selected(&store, selectors)?;
    if runs.is_empty() {
        println!("no runs in {}", db.display());
        return Ok(ExitCode::SUCCESS);
    }
    let width = runs
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(4)
        .clamp(4, 50);
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
            r.name,
            status,
            format!("{}/{}", r.epochs_done, r.epochs_planned),
            opt(r.best_val_loss, 4),
            opt(r.test_micro_f1, 3),
            duration(r.train_seconds)
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub fn show(db: &Path, selector: &str) -> Result<ExitCode> {
    let store = open_existing(db)?;
    let runs = selected(&store, &[selector.to_string()])?;
    let run = match runs.as_slice() {
        [one] => one,
        many => bail!(
            "`{selector}` matches {} runs ({})\n  help: name one by its id",
            many.len(),
            many.iter()
                .map(|r| format!("{} {}", r.id, r.name))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    println!("run {} {}  ({})", run.id, run.name, run.status);
    println!("  spec hash   {}", run.spec_hash);
    println!("  data set    {}", run.dataset);
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
        println!("  error       {e}");
    }
    println!("  checkpoints {}", run.checkpoint_dir.display());
    println!("\n{}", run.spec_toml.trim_end());

    let rows = store.epochs(run.id)?;
    let val: Vec<&EpochRow> = rows.iter().filter(|r| r.split == "val").collect();
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
                .find(|r| r.split == "train" && r.epoch == v.epoch);
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
    if let Some(test) = rows.iter().find(|r| r.split == "test") {
        println!(
            "\ntest (epoch {} weights, {} posters): loss {}, micro P/R/F1 {:.3}/{:.3}/{:.3}, macro F1 {:.3}, \
             samples F1 {:.3}, micro mAP {:.3}, macro mAP {:.3}, subset acc {:.3}, binary acc {:.3}",
            test.epoch,
            test.posters,
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
        let genres = store.genre_counts(run.id, "test", test.epoch)?;
        let width = genres
            .iter()
            .map(|g| g.genre.len())
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
                g.genre,
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
    }
    Ok(ExitCode::SUCCESS)
}

pub fn report(
    db: &Path,
    selectors: &[String],
    out: &Path,
    group_by: &[String],
) -> Result<ExitCode> {
    let store = open_existing(db)?;
    let runs = posterlab::report::select(&store, selectors).map_err(anyhow::Error::msg)?;
    let started = std::time::Instant::now();
    let options = posterlab::report::Options {
        out: out.to_path_buf(),
        group_by: group_by.to_vec(),
    };
    let written = posterlab::report::render(&store, &runs, &options).map_err(anyhow::Error::msg)?;
    println!(
        "{} files for {} runs in {:.1} s: open {}",
        written.files,
        written.runs,
        started.elapsed().as_secs_f64(),
        written.index.display()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn export(db: &Path, selectors: &[String], json: bool, out: Option<&Path>) -> Result<ExitCode> {
    let store = open_existing(db)?;
    let mut rows = Vec::new();
    for run in selected(&store, selectors)? {
        rows.extend(store.epochs(run.id)?);
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
            w.write_record(EPOCH_COLUMNS)?;
        }
        w.flush()?;
        drop(w);
    }
    match out {
        Some(path) => {
            std::fs::write(path, &bytes)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote {} rows to {}", rows.len(), path.display());
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

const EPOCH_COLUMNS: &[&str] = &[
    "run_id",
    "run",
    "epoch",
    "split",
    "lr",
    "seconds",
    "images_per_sec",
    "posters",
    "loss",
    "micro_precision",
    "micro_recall",
    "micro_f1",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "samples_f1",
    "subset_accuracy",
    "binary_accuracy",
    "hamming_loss",
    "micro_ap",
    "macro_ap",
];
