//! `posterlab status`: where a sweep stands. For a Slurm sweep, each task's
//! state from Slurm joined with what its store (or the main database, once
//! merged) says of its run; for a sweep run with `posterlab run`, each run
//! from the database and the claims on this machine. Both end with the runs
//! done, running, failed and left, and an ETA. Only reads.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use posterlab::data::Workspace;
use posterlab::metric::Split;
use posterlab::runner::{self, Claim};
use posterlab::slurm::queue::{self, TaskState};
use posterlab::slurm::{Manifest, SweepDir};
use posterlab::spec;
use posterlab::store::{RunRow, Status, Store};
use posterlab::text::{plural, printable, terminal_safe};

use super::runs::duration;

#[derive(Args)]
pub struct StatusArgs {
    /// A Slurm sweep (its id, a prefix of it, or its folder), or the spec files or folders of a
    /// sweep run with `posterlab run`; none lists the Slurm sweeps.
    #[arg(value_name = "SWEEP_OR_SPEC")]
    targets: Vec<PathBuf>,
}

/// Where one run of a sweep stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Done,
    Running,
    /// Waiting in Slurm's queue.
    Queued,
    /// Failed or diverged.
    Failed,
    /// Nothing is going to train it: not started, interrupted, or stopped.
    Left,
}

/// One run of a sweep, as the stores and Slurm see it.
struct Row {
    /// The array index, for a Slurm sweep.
    task: Option<usize>,
    name: String,
    epochs_planned: usize,
    /// The most advanced copy of its latest run.
    run: Option<RunRow>,
    last_val_loss: Option<f64>,
    /// What Slurm says of its task, for a Slurm sweep.
    slurm: Option<TaskState>,
    /// Whether the main database has the copy shown.
    merged: bool,
    phase: Phase,
}

pub fn status(
    args: &StatusArgs,
    load: spec::LoadOptions,
    ws: &Workspace,
    db: &Path,
) -> Result<ExitCode> {
    let root = SweepDir::root(&ws.results);
    match args.targets.as_slice() {
        [] => list_sweeps(&root, db),
        [one] if !one.exists() || one.join("sweep.json").is_file() => {
            let sweep = find_sweep(&root, one)?;
            slurm_sweep(&sweep, db)
        }
        targets => local_sweep(targets, load, ws, db),
    }
}

/// The sweep a name or folder means: a folder holding sweep.json, or the
/// one sweep under `root` whose id starts with `name`.
fn find_sweep(root: &Path, name: &Path) -> Result<SweepDir> {
    if name.join("sweep.json").is_file() {
        return Ok(SweepDir {
            dir: name.to_path_buf(),
        });
    }
    let prefix = name.display().to_string();
    let ids = sweep_ids(root);
    let matching: Vec<&String> = ids.iter().filter(|id| id.starts_with(&prefix)).collect();
    match matching.as_slice() {
        [one] => Ok(SweepDir {
            dir: root.join(one),
        }),
        [] => bail!(
            "no Slurm sweep `{}` in {} and no such spec file or folder\n  help: `posterlab status` \
             lists the sweeps{}",
            printable(&prefix),
            root.display(),
            if ids.is_empty() {
                " (there are none yet: `posterlab slurm SPEC` submits one)"
            } else {
                ""
            }
        ),
        many => bail!(
            "`{}` could be {}: give more of the id",
            printable(&prefix),
            many.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The ids of the Slurm sweeps under `root`, sorted.
fn sweep_ids(root: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("sweep.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

fn open_main(db: &Path) -> Result<Option<Store>> {
    Ok(match db.exists() {
        true => Some(Store::open_read_only(db)?),
        false => None,
    })
}

/// The last validation loss recorded for a run, from the store that has it.
fn last_val_loss(store: &Store, run: &RunRow) -> Result<Option<f64>> {
    Ok(store
        .epochs(run.id)?
        .iter()
        .rfind(|e| e.split == Split::Val)
        .and_then(|e| e.loss))
}

fn slurm_rows(manifest: &Manifest, sweep: &SweepDir, main: Option<&Store>) -> Result<Vec<Row>> {
    let mut queue = queue::Tasks::default();
    let mut rows = Vec::new();
    for r in &manifest.runs {
        let in_main = match main {
            Some(store) => store.latest_run(&r.hash)?,
            None => None,
        };
        let task_path = sweep.task_store(r.index);
        let task_store = task_path
            .exists()
            .then(|| Store::open_read_only(&task_path))
            .transpose()?;
        let in_task = match &task_store {
            Some(store) => store.latest_run(&r.hash)?,
            None => None,
        };
        // The task store's copy while it is newer than the merged one (as
        // the next merge will judge).
        let (run, merged) = match (in_main, in_task) {
            (Some(m), Some(t)) if t.progress().is_newer_than(&m.progress()) => (Some(t), false),
            (Some(m), _) => (Some(m), true),
            (None, t) => (t, false),
        };
        let from = if merged { main } else { task_store.as_ref() };
        let last_val_loss = match (&run, from) {
            (Some(run), Some(store)) => last_val_loss(store, run)?,
            _ => None,
        };
        let slurm = without_slurm(queue.of(manifest, r.index)).map(|(_, state)| state);
        let phase = phase(run.as_ref(), slurm.as_ref(), false);
        rows.push(Row {
            task: Some(r.index),
            name: r.name.clone(),
            epochs_planned: r.epochs,
            run,
            last_val_loss,
            slurm,
            merged,
            phase,
        });
    }
    Ok(rows)
}

/// What Slurm answered, or `None` (said once) when it cannot be asked: the
/// stores still tell most of the story, on a machine without Slurm's
/// clients or while the controller is down.
fn without_slurm<T>(answer: Result<Option<T>, queue::SlurmError>) -> Option<T> {
    static SAID: std::sync::Once = std::sync::Once::new();
    answer.unwrap_or_else(|e| {
        SAID.call_once(|| {
            eprintln!(
                "note: Slurm cannot be asked ({}); showing what the stores say",
                e.0.lines().next().unwrap_or_default()
            )
        });
        None
    })
}

/// A run's phase: what its store says, corrected by Slurm (a task queued or
/// running) or by the claim on this machine (`claimed`).
fn phase(run: Option<&RunRow>, slurm: Option<&TaskState>, claimed: bool) -> Phase {
    match run.map(|r| r.status) {
        Some(Status::Finished) => return Phase::Done,
        Some(Status::Failed | Status::Diverged)
            if !slurm.is_some_and(TaskState::active) && !claimed =>
        {
            return Phase::Failed
        }
        _ => {}
    }
    match slurm {
        Some(t) if t.state == "RUNNING" || t.state == "COMPLETING" => Phase::Running,
        Some(t) if t.active() => Phase::Queued,
        _ if claimed => Phase::Running,
        _ => Phase::Left,
    }
}

fn slurm_sweep(sweep: &SweepDir, db: &Path) -> Result<ExitCode> {
    let manifest = Manifest::load(&sweep.manifest()).map_err(anyhow::Error::msg)?;
    let main = open_main(&manifest.db).or_else(|_| open_main(db))?;
    let rows = slurm_rows(&manifest, sweep, main.as_ref())?;
    println!(
        "sweep {}: {} of {}",
        manifest.id,
        plural(manifest.runs.len(), "run"),
        manifest
            .specs
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    match manifest.submissions.last() {
        Some(s) => {
            let finish = match &s.finish_job {
                Some(f) => match without_slurm(queue::job_state(f)) {
                    Some(t) => format!(
                        "; finishing job {f}: {}",
                        t.state.to_lowercase()
                            + &t.reason.map_or(String::new(), |r| format!(" ({r})"))
                    ),
                    None => format!("; finishing job {f}: no longer known to Slurm"),
                },
                None => "; no finishing job".to_string(),
            };
            println!(
                "  last submitted as job {} ({}, {} ago){finish}",
                s.job,
                plural(s.tasks.len(), "task"),
                duration(posterlab::slurm::now().saturating_sub(s.submitted_at) as f64)
            );
        }
        None => println!("  never submitted"),
    }
    print_rows(&rows);
    let at_once = manifest
        .submissions
        .last()
        .and_then(|s| s.max_parallel)
        .unwrap_or(usize::MAX);
    print_summary(&rows, at_once);
    Ok(ExitCode::SUCCESS)
}

fn list_sweeps(root: &Path, db: &Path) -> Result<ExitCode> {
    let ids = sweep_ids(root);
    if ids.is_empty() {
        println!(
            "no Slurm sweeps in {}\n  help: `posterlab slurm SPEC` submits one; `posterlab status \
             SPEC` shows a sweep run with `posterlab run`",
            root.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<32}  {:>5}  {:>5}  {:>7}  {:>6}  {:>6}  {:>5}  LAST JOB",
        "SWEEP", "RUNS", "DONE", "RUNNING", "QUEUED", "FAILED", "LEFT"
    );
    for id in ids {
        let sweep = SweepDir {
            dir: root.join(&id),
        };
        let manifest = match Manifest::load(&sweep.manifest()) {
            Ok(m) => m,
            Err(e) => {
                println!("{id:<32}  {}", terminal_safe(&e));
                continue;
            }
        };
        let main = open_main(&manifest.db).or_else(|_| open_main(db))?;
        let rows = slurm_rows(&manifest, &sweep, main.as_ref())?;
        let n = |p: Phase| rows.iter().filter(|r| r.phase == p).count();
        println!(
            "{id:<32}  {:>5}  {:>5}  {:>7}  {:>6}  {:>6}  {:>5}  {}",
            rows.len(),
            n(Phase::Done),
            n(Phase::Running),
            n(Phase::Queued),
            n(Phase::Failed),
            n(Phase::Left),
            manifest
                .submissions
                .last()
                .map_or("-".to_string(), |s| s.job.clone())
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn local_sweep(
    targets: &[PathBuf],
    load: spec::LoadOptions,
    ws: &Workspace,
    db: &Path,
) -> Result<ExitCode> {
    let runs = posterlab::slurm::distinct_runs(super::load_specs(targets, load)?);
    let main = open_main(db)?;
    let mut rows = Vec::new();
    for spec in &runs {
        let run = match &main {
            Some(store) => store.latest_run(&spec.hash())?,
            None => None,
        };
        let claimed = Claim::is_held(&runner::lock_path(&ws.results, &spec.hash()));
        let last_val_loss = match (&run, &main) {
            (Some(run), Some(store)) => last_val_loss(store, run)?,
            _ => None,
        };
        let phase = phase(run.as_ref(), None, claimed);
        rows.push(Row {
            task: None,
            name: spec.name.clone(),
            epochs_planned: spec.train.epochs,
            merged: run.is_some(),
            run,
            last_val_loss,
            slurm: None,
            phase,
        });
    }
    print_rows(&rows);
    print_summary(&rows, usize::MAX);
    Ok(ExitCode::SUCCESS)
}

fn print_rows(rows: &[Row]) {
    let width = rows
        .iter()
        .map(|r| printable(&r.name).chars().count())
        .max()
        .unwrap_or(3)
        .clamp(3, 50);
    let slurm = rows.iter().any(|r| r.task.is_some());
    if slurm {
        print!("{:>4}  ", "TASK");
    }
    print!("{:<width$}  ", "RUN");
    if slurm {
        print!("{:<28}  ", "SLURM");
    }
    println!("{:>7}  {:>8}  STORE", "EPOCHS", "VAL LOSS");
    for r in rows {
        if let Some(task) = r.task {
            print!("{task:>4}  ");
        }
        print!("{:<width$}  ", printable(&r.name));
        if slurm {
            let state = r.slurm.as_ref().map_or("-".to_string(), |t| {
                let mut s = t.state.clone();
                if let Some(reason) = &t.reason {
                    s.push_str(&format!(" ({reason})"));
                }
                if let Some(n) = t.restarts.filter(|&n| n > 0) {
                    s.push_str(&format!(", requeued {n}×"));
                }
                s
            });
            print!("{state:<28}  ");
        }
        let epochs = format!(
            "{}/{}",
            r.run.as_ref().map_or(0, |r| r.epochs_done),
            r.epochs_planned
        );
        let loss = r
            .last_val_loss
            .map_or("-".to_string(), |l| format!("{l:.4}"));
        let store = match &r.run {
            None => "not started".to_string(),
            Some(run) => {
                let mut s = match (run.status, run.status_epoch) {
                    (Status::Diverged, Some(e)) => format!("diverged in epoch {e}"),
                    (Status::Running, _) if r.phase != Phase::Running => {
                        "stopped (left running by a process that ended)".to_string()
                    }
                    (status, _) => status.to_string(),
                };
                if let Some(e) = &run.error {
                    s.push_str(&format!(
                        ": {}",
                        terminal_safe(e.lines().next().unwrap_or(""))
                    ));
                }
                if r.task.is_some() && !r.merged {
                    s.push_str(" (not merged yet)");
                }
                s
            }
        };
        println!("{epochs:>7}  {loss:>8}  {store}");
    }
}

/// The counts, and the ETA: the epochs left of the runs that will train
/// without anyone acting (running, queued, and for a local sweep the runs
/// its process has still to take) at the pace of the epochs recorded so
/// far, spread over as many as train at once.
fn print_summary(rows: &[Row], max_parallel: usize) {
    let n = |p: Phase| rows.iter().filter(|r| r.phase == p).count();
    let slurm = rows.iter().any(|r| r.task.is_some());
    let mut parts = vec![
        format!("{} done", n(Phase::Done)),
        format!("{} running", n(Phase::Running)),
    ];
    if slurm {
        parts.push(format!("{} queued", n(Phase::Queued)));
    }
    parts.push(format!("{} failed", n(Phase::Failed)));
    parts.push(format!("{} left", n(Phase::Left)));
    let (epochs, seconds) = rows
        .iter()
        .filter_map(|r| r.run.as_ref())
        .fold((0usize, 0.0f64), |(e, s), r| {
            (e + r.epochs_done, s + r.train_seconds)
        });
    let coming = |r: &&Row| match r.phase {
        Phase::Running | Phase::Queued => true,
        Phase::Left => !slurm && n(Phase::Running) > 0,
        Phase::Done | Phase::Failed => false,
    };
    let remaining: usize = rows
        .iter()
        .filter(coming)
        .map(|r| {
            r.epochs_planned
                .saturating_sub(r.run.as_ref().map_or(0, |run| run.epochs_done))
        })
        .sum();
    let at_once = rows
        .iter()
        .filter(coming)
        .count()
        .min(max_parallel)
        .max(n(Phase::Running))
        .max(1);
    let eta = if remaining == 0 {
        String::new()
    } else if epochs == 0 {
        "; ETA after the first epoch".to_string()
    } else {
        let per_epoch = seconds / epochs as f64;
        format!(
            "; ETA {} ({} left at {per_epoch:.1} s each, {at_once} at once)",
            duration(remaining as f64 * per_epoch / at_once as f64),
            plural(remaining, "epoch")
        )
    };
    println!("\n{}: {}{eta}", plural(rows.len(), "run"), parts.join(", "));
}
