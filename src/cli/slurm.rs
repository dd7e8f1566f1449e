//! `posterlab slurm`: a sweep submitted as a Slurm job array (one task per
//! run not done yet, then a job that merges and reports), and the hidden
//! `posterlab slurm-task` each array task runs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;
use posterlab::data::Workspace;
use posterlab::runner::{self, Claim, Database};
use posterlab::slurm::plan::{decide, Decision};
use posterlab::slurm::queue;
use posterlab::slurm::script::{self, Resources, DEFAULT_SIGNAL_BEFORE};
use posterlab::slurm::{self, Manifest, ManifestRun, Submission, SweepDir, MANIFEST_FORMAT};
use posterlab::spec::{self, Spec};
use posterlab::store::{Change, RunRow, Store};
use posterlab::text::plural;

use super::progress::{Bars, SweepBars};
use super::{load_specs, parse_device, signals, KernelsArg};

#[derive(Args)]
pub struct SlurmArgs {
    /// Spec files or directories of specs.
    #[arg(required = true, value_name = "SPEC_OR_DIR")]
    specs: Vec<PathBuf>,
    /// Print the batch scripts and which runs would be submitted; write and submit nothing.
    #[arg(long)]
    dry_run: bool,
    /// sbatch --partition.
    #[arg(long)]
    partition: Option<String>,
    /// sbatch --time: each task's time limit (the task is requeued when it runs out).
    #[arg(long)]
    time: Option<String>,
    /// sbatch --cpus-per-task: each task trains on this many threads.
    #[arg(long)]
    cpus_per_task: Option<usize>,
    /// sbatch --mem.
    #[arg(long)]
    mem: Option<String>,
    /// sbatch --gpus-per-task (and set train.device, or --device cuda).
    #[arg(long)]
    gpus_per_task: Option<String>,
    /// sbatch --account.
    #[arg(long)]
    account: Option<String>,
    /// sbatch --qos.
    #[arg(long)]
    qos: Option<String>,
    /// At most K tasks at once (sbatch --array=…%K).
    #[arg(long, value_name = "K")]
    max_parallel: Option<usize>,
    /// Any other #SBATCH line, as sbatch takes it: --sbatch=--constraint=a100 (repeatable).
    #[arg(long = "sbatch", value_name = "OPTION", allow_hyphen_values = true)]
    sbatch: Vec<String>,
    /// Seconds before the time limit at which Slurm warns a task (--signal=B:USR1@N): it saves and is requeued.
    #[arg(long, default_value_t = DEFAULT_SIGNAL_BEFORE, value_name = "SECONDS")]
    signal_before: u32,
    /// Train every run on this device (cpu, cuda, cuda:N) instead of the specs' `train.device`.
    #[arg(long, value_name = "DEVICE", value_parser = parse_device)]
    device: Option<spec::Device>,
    #[arg(long, value_enum, default_value_t = KernelsArg::Fast)]
    kernels: KernelsArg,
    /// The finishing job merges but draws no report.
    #[arg(long)]
    no_report: bool,
    /// Where the finishing job draws the report.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    reports: PathBuf,
}

#[derive(Args)]
pub struct TaskArgs {
    /// The sweep's folder (results/slurm/<sweep-id>).
    sweep: PathBuf,
    /// The array index of the run to train ($SLURM_ARRAY_TASK_ID).
    #[arg(long)]
    index: usize,
    /// CPU threads ($SLURM_CPUS_PER_TASK).
    #[arg(long, default_value_t = 1, value_parser = super::parse_threads)]
    threads: usize,
}

/// The distinct runs of the specs, each with `device` when given: what
/// the array indices count.
fn sweep_runs(
    paths: &[PathBuf],
    device: Option<spec::Device>,
    load: spec::LoadOptions,
) -> Result<Vec<Spec>> {
    let mut specs = load_specs(paths, load)?;
    if let Some(device) = device {
        for s in &mut specs {
            s.train.device = device;
        }
    }
    Ok(slurm::distinct_runs(specs))
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("cannot resolve {}", path.display()))
}

pub fn submit(
    args: &SlurmArgs,
    load: spec::LoadOptions,
    ws: &Workspace,
    db: &Path,
    bars: &Bars,
) -> Result<ExitCode> {
    let resources = Resources {
        partition: args.partition.clone(),
        time: args.time.clone(),
        cpus_per_task: args.cpus_per_task,
        mem: args.mem.clone(),
        gpus_per_task: args.gpus_per_task.clone(),
        account: args.account.clone(),
        qos: args.qos.clone(),
        max_parallel: args.max_parallel,
        extra: args.sbatch.clone(),
        signal_before: args.signal_before,
    };
    resources.check().map_err(anyhow::Error::msg)?;
    let runs = sweep_runs(&args.specs, args.device, load)?;
    let Some(first) = runs.first() else {
        bail!("the specs make no run");
    };
    runner::preflight_elsewhere(&runs).map_err(anyhow::Error::msg)?;
    let hashes: Vec<String> = runs.iter().map(Spec::hash).collect();
    let id = slurm::sweep_id(
        &first.experiment,
        &hashes.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let results = absolute(&ws.results)?;
    let sweep = SweepDir::new(&results, &id);
    // What this submission says; the runs' indices and the earlier
    // submissions are the sweep's own, kept from its manifest.
    let mut manifest = Manifest {
        posterlab_sweep: MANIFEST_FORMAT,
        id: id.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        workdir: absolute(Path::new("."))?,
        specs: args
            .specs
            .iter()
            .map(|p| absolute(p))
            .collect::<Result<_>>()?,
        device: args.device.map(|d| d.to_string()),
        kernels: match args.kernels {
            KernelsArg::Fast => "fast",
            KernelsArg::Portable => "portable",
        }
        .to_string(),
        allow_large_sweep: load.max_runs.is_none(),
        results: results.clone(),
        db: absolute(db)?,
        reports: (!args.no_report)
            .then(|| absolute(&args.reports))
            .transpose()?,
        runs: runs
            .iter()
            .zip(&hashes)
            .enumerate()
            .map(|(index, (s, hash))| ManifestRun {
                index,
                name: s.name.clone(),
                hash: hash.clone(),
                epochs: s.train.epochs,
            })
            .collect(),
        submissions: Vec::new(),
    };
    if sweep.manifest().exists() {
        let earlier = Manifest::load(&sweep.manifest()).map_err(anyhow::Error::msg)?;
        let hashes = |m: &Manifest| m.runs.iter().map(|r| r.hash.clone()).collect::<Vec<_>>();
        if hashes(&earlier) != hashes(&manifest) {
            bail!(
                "{} describes other runs than these specs resolve to\n  help: it was edited or \
                 damaged; move the folder aside and submit again",
                sweep.manifest().display()
            );
        }
        manifest.submissions = earlier.submissions;
    }

    let decisions = decide_all(&manifest, &sweep, &runs, db, args.dry_run)?;
    let submit: Vec<usize> = decisions
        .iter()
        .enumerate()
        .filter(|(_, d)| **d == Decision::Submit)
        .map(|(i, _)| i)
        .collect();
    print_decisions(&sweep, &runs, &decisions, &manifest);
    if submit.is_empty() {
        println!(
            "nothing to submit: none of the {} of sweep {id} is left to train",
            plural(runs.len(), "run")
        );
        return Ok(ExitCode::SUCCESS);
    }
    let exe = std::env::current_exe().context("cannot find the posterlab binary's path")?;
    let tasks_script = script::tasks_script(&sweep, &manifest, &exe, &submit, &resources);
    let finish_script = script::finish_script(&sweep, &manifest, &exe, &resources);
    if args.dry_run {
        println!(
            "would submit {}: {}",
            plural(submit.len(), "array task"),
            slurm::index_ranges(&submit)
        );
        println!(
            "\n# {} (not written: --dry-run)\n{tasks_script}\n# {} (submitted after the array job ends)\n{finish_script}",
            sweep.script().display(),
            sweep.finish_script().display()
        );
        return Ok(ExitCode::SUCCESS);
    }

    // The data sets and their caches, made once here rather than by every
    // task at once on the shared folder.
    let needed: Vec<Spec> = submit.iter().map(|&i| runs[i].clone()).collect();
    runner::prepare_data(&needed, ws, bars).map_err(anyhow::Error::msg)?;
    for dir in [sweep.tasks(), sweep.logs()] {
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let taken = take_over_begun_runs(&sweep, &manifest, &submit, db)?;
    if taken > 0 {
        println!(
            "  {} begun in {} continue from {} recorded epochs in their tasks",
            plural(taken, "run"),
            db.display(),
            if taken == 1 { "its" } else { "their" }
        );
    }
    manifest
        .save(&sweep.manifest())
        .with_context(|| format!("cannot write {}", sweep.manifest().display()))?;
    for (path, text) in [
        (sweep.script(), &tasks_script),
        (sweep.finish_script(), &finish_script),
    ] {
        posterlab::files::write_atomic(&path, true, |w| {
            std::io::Write::write_all(w, text.as_bytes())
        })
        .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let job = queue::submit(&sweep.script(), None)?;
    let finish = queue::submit(&sweep.finish_script(), Some(&job));
    manifest.submissions.push(Submission {
        job: job.clone(),
        finish_job: finish.as_ref().ok().cloned(),
        tasks: submit.clone(),
        max_parallel: args.max_parallel,
        submitted_at: slurm::now(),
    });
    manifest
        .save(&sweep.manifest())
        .with_context(|| format!("cannot write {}", sweep.manifest().display()))?;
    let at_once = args
        .max_parallel
        .map_or(String::new(), |k| format!(", at most {k} at once"));
    println!(
        "submitted job {job}: {} ({}{at_once})",
        plural(submit.len(), "array task"),
        slurm::index_ranges(&submit)
    );
    match finish {
        Ok(finish) => println!(
            "submitted job {finish}: after them, merges the task stores into {}{}",
            manifest.db.display(),
            manifest
                .reports
                .as_ref()
                .map_or(String::new(), |r| format!(" and draws {}", r.display()))
        ),
        Err(e) => eprintln!(
            "warning: the finishing job was not submitted ({e})\n  help: when the tasks have ended, \
             run `posterlab merge {}`",
            sweep.tasks().display()
        ),
    }
    println!(
        "  watch: posterlab status {id}   (squeue -j {job})\n  logs:  {}",
        sweep.logs().display()
    );
    Ok(ExitCode::SUCCESS)
}

/// What becomes of each run: from the main database, its task store, the
/// queue (each earlier submission's tasks) and the claims on this machine.
fn decide_all(
    manifest: &Manifest,
    sweep: &SweepDir,
    runs: &[Spec],
    db: &Path,
    dry_run: bool,
) -> Result<Vec<Decision>> {
    let main = db.exists().then(|| Store::open_read_only(db)).transpose()?;
    let mut queue = queue::Tasks::default();
    let mut decisions = Vec::with_capacity(runs.len());
    for (index, spec) in runs.iter().enumerate() {
        let hash = &manifest.runs[index].hash;
        let in_main = match &main {
            Some(store) => store.latest_run(hash)?,
            None => None,
        };
        let in_task = latest_in_task_store(sweep, index, hash)?;
        let active = match queue.of(manifest, index) {
            Ok(active) => active,
            // A dry run needs no Slurm: it says what it could not ask.
            Err(e) if dry_run => {
                eprintln!("note: cannot ask Slurm about task {index}'s job: {e}");
                None
            }
            Err(e) => return Err(e.into()),
        };
        let active = active.as_ref().map(|(job, state)| (job.as_str(), state));
        let busy = Claim::is_held(&runner::lock_path(&manifest.results, &spec.hash()));
        decisions.push(decide(in_main.as_ref(), in_task.as_ref(), active, busy));
    }
    Ok(decisions)
}

/// Copies each run to submit that the main database holds unfinished
/// (interrupted, failed, left running) into its task's store, so that the
/// task resumes it from its checkpoints instead of starting another run of
/// the spec; how many were copied or brought up to date.
fn take_over_begun_runs(
    sweep: &SweepDir,
    manifest: &Manifest,
    submit: &[usize],
    db: &Path,
) -> Result<usize> {
    if !db.exists() {
        return Ok(0);
    }
    let main = Store::open_read_only(db)?;
    let mut taken = 0;
    for &index in submit {
        let Some(run) = main.latest_run(&manifest.runs[index].hash)? else {
            continue;
        };
        let mut task = Store::open_single_writer(&sweep.task_store(index))?;
        let report = task.merge_runs_from(db, std::slice::from_ref(&run.uid))?;
        if report
            .runs
            .iter()
            .any(|r| matches!(r.change, Change::New | Change::Updated { .. }))
        {
            taken += 1;
        }
    }
    Ok(taken)
}

/// The latest run of `hash` in task `index`'s store, if it has one.
fn latest_in_task_store(sweep: &SweepDir, index: usize, hash: &str) -> Result<Option<RunRow>> {
    let path = sweep.task_store(index);
    if !path.exists() {
        return Ok(None);
    }
    Ok(Store::open_read_only(&path)?.latest_run(hash)?)
}

fn print_decisions(sweep: &SweepDir, runs: &[Spec], decisions: &[Decision], manifest: &Manifest) {
    let files: Vec<String> = manifest
        .specs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    println!(
        "sweep {}: {} of {}",
        sweep.id(),
        plural(runs.len(), "run"),
        files.join(", ")
    );
    let count = |f: &dyn Fn(&Decision) -> bool| decisions.iter().filter(|d| f(d)).count();
    let done = count(&|d| matches!(d, Decision::Done(_)));
    if done > 0 {
        println!("  {done} finished or diverged before (never trained again)");
    }
    let unmerged: Vec<usize> = decisions
        .iter()
        .enumerate()
        .filter(|(_, d)| matches!(d, Decision::Unmerged(_)))
        .map(|(i, _)| i)
        .collect();
    if !unmerged.is_empty() {
        println!(
            "  {} ended in {} store but {} not merged yet (tasks {}): `posterlab merge {}`",
            plural(unmerged.len(), "run"),
            if unmerged.len() == 1 { "its" } else { "their" },
            if unmerged.len() == 1 { "is" } else { "are" },
            slurm::index_ranges(&unmerged),
            sweep.tasks().display()
        );
    }
    for (i, d) in decisions.iter().enumerate() {
        let name = &runs[i].name;
        match d {
            Decision::Active { job, state } => println!(
                "  task {i} ({name}) is {} as job {job}_{i}: not submitted again",
                state.to_lowercase()
            ),
            Decision::Busy => println!(
                "  task {i} ({name}) is being trained by a posterlab process on this machine: not submitted"
            ),
            Decision::Submit | Decision::Done(_) | Decision::Unmerged(_) => {}
        }
    }
}

/// One array task: the run at `--index`, after checking that the specs
/// still resolve it to the run submitted, into the task's own store.
pub fn task(args: &TaskArgs, bars: &Bars) -> Result<ExitCode> {
    let sweep = SweepDir {
        dir: args.sweep.clone(),
    };
    let manifest = Manifest::load(&sweep.manifest()).map_err(anyhow::Error::msg)?;
    let Some(submitted) = manifest.runs.get(args.index) else {
        bail!(
            "sweep {} has {}, so no task {}\n  help: the array indices come from `posterlab slurm`; \
             submit the sweep again",
            manifest.id,
            plural(manifest.runs.len(), "run"),
            args.index
        );
    };
    let device = manifest
        .device
        .as_deref()
        .map(|d| parse_device(d).map_err(anyhow::Error::msg))
        .transpose()?;
    let load = spec::LoadOptions {
        max_runs: if manifest.allow_large_sweep {
            None
        } else {
            Some(spec::MAX_SWEEP_RUNS)
        },
    };
    let runs = sweep_runs(&manifest.specs, device, load).with_context(|| {
        format!(
            "task {} of sweep {}: the specs cannot be read as they were at submission",
            args.index, manifest.id
        )
    })?;
    let now = runs.get(args.index);
    if now.map(Spec::hash).as_deref() != Some(submitted.hash.as_str()) {
        let what = match now {
            Some(s) => format!("{} (hash {})", s.name, &s.hash()[..12]),
            None => format!("no run (they make {})", plural(runs.len(), "run")),
        };
        bail!(
            "task {} of sweep {} was submitted to train {} (hash {}), but the specs now resolve \
             index {} to {what}: they were edited since submission, so this task refuses to train \
             something else\n  help: submit the sweep again with `posterlab slurm` (runs already \
             finished are not repeated)",
            args.index,
            manifest.id,
            submitted.name,
            &submitted.hash[..12],
            args.index
        );
    }
    let spec = runs.into_iter().nth(args.index).expect("checked above");
    let ws = Workspace::new(&manifest.results);
    signals::install();
    let display = SweepBars::new(bars.quiet(), 1);
    let sweep_run = runner::Sweep {
        db: Database::SingleWriter(sweep.task_store(args.index)),
        ws: &ws,
        jobs: 1,
        threads: args.threads.min(super::cores()),
        display: &display,
        stop: signals::stop_flag(),
        options: runner::Options {
            force: false,
            kernels: if manifest.kernels == "portable" {
                KernelsArg::Portable.into()
            } else {
                KernelsArg::Fast.into()
            },
            sole_trainer: true,
        },
    };
    let summary = sweep_run
        .run(std::slice::from_ref(&spec))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(super::exit_code(&summary))
}
