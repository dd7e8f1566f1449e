//! The command line: arguments (clap), one small function per command, exit
//! codes. Commands call into the library and print what it returns.

mod merge;
mod predict;
mod progress;
mod rescore;
mod runs;
mod signals;
mod slurm;
mod status;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::builder::TypedValueParser as _;
use clap::{Args, Parser, Subcommand, ValueEnum};
use posterlab::data::{self, Workspace};
use posterlab::model::Kernels;
use posterlab::progress::Progress;
use posterlab::report::{self, formats};
use posterlab::runner;
use posterlab::spec::{self, DataFormat, DatasetRef, Spec};
use posterlab::store::Store;
use posterlab::text::plural;

use self::progress::{Bars, SweepBars};

#[derive(Parser)]
#[command(
    name = "posterlab",
    version,
    about = "Experiment-tracking research harness for predicting movie genres from posters"
)]
pub struct Cli {
    /// Folder for run outputs, the decoded-poster cache and the default synthetic data set.
    #[arg(long, global = true, default_value = "results", value_name = "DIR")]
    results: PathBuf,
    /// No progress bars (for logs); notes and results still print.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// The run database (default: <results>/posterlab.sqlite).
    #[arg(long, global = true, value_name = "FILE")]
    db: Option<PathBuf>,
    /// Accept a spec whose sweep makes more than 10,000 runs.
    #[arg(long, global = true)]
    allow_large_sweep: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Train every run the specs expand to (a directory means its *.toml files).
    Run(RunArgs),
    /// Write a synthetic poster data set in the real data set's layout.
    Synth(SynthArgs),
    /// Inspect data sets.
    #[command(subcommand)]
    Data(DataCommand),
    /// Inspect experiment specs.
    #[command(subcommand)]
    Spec(SpecCommand),
    /// One line per run: id, name, status, epochs, best validation loss, test micro-F1, duration.
    Runs(SelectArgs),
    /// A run's spec, its per-epoch table and its per-genre test table.
    Show {
        /// Run id, name or spec-hash prefix.
        run: String,
    },
    /// Every epoch (train, val) and the test row of the selected runs, as CSV or JSON.
    Export(ExportArgs),
    /// Figures (SVG; PDF and PNG too with --format), results tables (Markdown, CSV, LaTeX), effects against a baseline, a LaTeX document (paper/paper.tex) and index.html for the selected runs (default: every finished run).
    Report(ReportArgs),
    /// Finished runs' test metrics under another decision rule, from their stored
    /// predictions (tuned rules tuned on the stored validation ones), without retraining;
    /// stored beside each run's own.
    Rescore(rescore::RescoreArgs),
    /// A finished run's genres for new posters (its best weights, each poster
    /// prepared as the run's data set was), as a table, CSV or JSON. Posters
    /// that cannot be read are named on stderr and skipped: exit code 1 then,
    /// the others still predicted.
    Predict(predict::PredictArgs),
    /// Training and evaluation throughput of a model on random inputs (Adam, BCE with logits).
    Bench(BenchArgs),
    /// Copy runs (every epoch, metric, prediction) from other posterlab databases into one; runs are matched by uid.
    Merge(merge::MergeArgs),
    /// Submit a sweep to Slurm as a job array: one task per run not done yet, each into its own
    /// store; then a job that merges them into the database and draws the report.
    Slurm(slurm::SlurmArgs),
    /// Where a sweep stands: a Slurm sweep's tasks as Slurm and their stores see them, or a
    /// local sweep's runs; runs done, running, failed and left, and an ETA.
    Status(status::StatusArgs),
    /// One array task of a Slurm sweep (what the batch script runs).
    #[command(name = "slurm-task", hide = true)]
    SlurmTask(slurm::TaskArgs),
}

#[derive(Args)]
struct SelectArgs {
    /// Run ids, names, experiments, tags, statuses, spec-hash prefixes or
    /// field=value (model.arch=cnn); none means every run.
    #[arg(value_name = "SELECTOR")]
    selectors: Vec<String>,
}

#[derive(Args)]
struct ReportArgs {
    /// Output folder.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    out: PathBuf,
    /// Spec fields that define a configuration (repeatable), e.g. model.arch;
    /// default: the experiment and every swept field but train.seed.
    #[arg(long, value_name = "KEY")]
    group_by: Vec<String>,
    /// Report the test split under this rule (threshold[:T], relative[:T], top_k:K, tuned,
    /// tuned_per_genre) instead of each run's own: the runs must have been re-scored under
    /// it (`posterlab rescore`).
    #[arg(long, value_name = "RULE", value_parser = posterlab::train::decision::parse_rule)]
    decision: Option<(posterlab::spec::Rule, Option<f64>)>,
    /// The configuration the others are compared with (differences with 95 % intervals and
    /// Holm-corrected significance): its label as the results table shows it, or selectors
    /// (repeat the flag) that all its runs match, e.g. --baseline train.loss=bce --baseline
    /// data.resolution=64. Default: the runs tagged `baseline` ([experiment] baseline).
    #[arg(long, value_name = "CONFIG|SELECTOR")]
    baseline: Vec<String>,
    /// Bootstrap resamples behind every interval and p-value.
    #[arg(long, default_value_t = posterlab::report::bootstrap::RESAMPLES, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1000..=10_000_000).map(|n| n as usize))]
    resamples: usize,
    /// Seed of the bootstrap's resamples (the same seed, the same numbers).
    #[arg(long, default_value_t = posterlab::report::bootstrap::SEED, value_name = "SEED")]
    bootstrap_seed: u64,
    /// Formats to write each figure in, comma-separated: svg, pdf (vectors, text
    /// selectable), png; side by side (curves.svg, curves.pdf, curves.png).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "svg",
        value_name = "LIST"
    )]
    format: Vec<FigureFormat>,
    /// Resolution of the PNGs, in dots per inch (an SVG unit is 1/96 inch)
    /// [default: 150]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32)
        .range(i64::from(formats::MIN_DPI)..=i64::from(formats::MAX_DPI)))]
    dpi: Option<u32>,
    #[command(flatten)]
    select: SelectArgs,
}

/// A format `report` writes figures in.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FigureFormat {
    /// As drawn; what the index page shows when it is written.
    Svg,
    /// Vector, with the text as text in the bundled font.
    Pdf,
    /// Pixels, at --dpi; what the index shows without svg.
    Png,
}

impl From<FigureFormat> for formats::Format {
    fn from(f: FigureFormat) -> formats::Format {
        match f {
            FigureFormat::Svg => formats::Format::Svg,
            FigureFormat::Pdf => formats::Format::Pdf,
            FigureFormat::Png => formats::Format::Png,
        }
    }
}

impl ReportArgs {
    /// The formats and DPI asked for; a note when --dpi has no PNG to apply to.
    fn figures(&self) -> formats::Figures {
        let figures = formats::Figures::new(
            self.format.iter().map(|&f| f.into()),
            self.dpi.unwrap_or(formats::DEFAULT_DPI),
        );
        if self.dpi.is_some() && !figures.has(formats::Format::Png) {
            eprintln!("note: --dpi sets the resolution of PNGs, and --format writes none");
        }
        figures
    }
}

/// What `export` writes.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ExportFormat {
    /// One row per run, epoch and split, with a header.
    Csv,
    /// An array of objects, one per run, epoch and split.
    Json,
}

/// Which layers a model trains with.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum KernelsArg {
    /// Custom CPU ops (the CPU's speed); other devices use the portable ones.
    Fast,
    /// dfdx ops only: slow, the reference.
    Portable,
}

impl From<KernelsArg> for Kernels {
    fn from(k: KernelsArg) -> Kernels {
        match k {
            KernelsArg::Fast => Kernels::Fast,
            KernelsArg::Portable => Kernels::Portable,
        }
    }
}

/// A value of one of the spec's named enums (`Arch`, `DataFormat`…), parsed
/// by clap with the spec's own names, so the command line and specs spell
/// them alike (`cnn_rnn`, not clap's `cnn-rnn`).
fn spec_names<T: Clone + Send + Sync + 'static>(
    names: &'static [&'static str],
    from_name: fn(&str) -> Option<T>,
) -> impl clap::builder::TypedValueParser<Value = T> {
    clap::builder::PossibleValuesParser::new(names)
        .map(move |name: String| from_name(&name).expect("clap checked the name"))
}

#[derive(Args)]
struct ExportArgs {
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    format: ExportFormat,
    /// Write here instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    select: SelectArgs,
}

#[derive(Args)]
struct BenchArgs {
    /// Architecture; its other settings are the spec defaults (the seed CNN).
    #[arg(long, default_value = "cnn", value_parser = spec_names(spec::Arch::NAMES, spec::Arch::from_name))]
    arch: spec::Arch,
    /// Input resolution in pixels.
    #[arg(long, default_value_t = 64)]
    res: usize,
    #[arg(long, default_value_t = 32)]
    batch: usize,
    /// Timed steps (after the warm-up ones).
    #[arg(long, default_value_t = 20)]
    steps: usize,
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Threads (default: all cores; at most the cores there are).
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
    #[arg(long, value_enum, default_value_t = KernelsArg::Fast)]
    kernels: KernelsArg,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// cpu, cuda or cuda:N (CUDA needs a build with `--features cuda`).
    #[arg(long, default_value = "cpu", value_parser = parse_device)]
    device: spec::Device,
}

#[derive(Args)]
struct RunArgs {
    /// Spec files or directories of specs.
    #[arg(required = true, value_name = "SPEC_OR_DIR")]
    specs: Vec<PathBuf>,
    /// List the runs (name, hash, swept values) without training.
    #[arg(long)]
    dry_run: bool,
    /// Retrain runs that already finished or diverged (as new runs; the old ones stay).
    #[arg(long)]
    force: bool,
    #[arg(long, value_enum, default_value_t = KernelsArg::Fast)]
    kernels: KernelsArg,
    /// Runs trained at once, each by its own job on its share of the cores.
    #[arg(long, short, default_value_t = 1, value_parser = parse_jobs)]
    jobs: usize,
    /// CPU threads of each job (default: the cores / --jobs; at most the
    /// cores there are); give each of several processes sharing a machine
    /// its share.
    #[arg(long, value_parser = parse_threads)]
    threads: Option<usize>,
    /// Train every run on this device (cpu, cuda, cuda:N) instead of the
    /// specs' `train.device` (part of each run's identity, like any field).
    #[arg(long, value_name = "DEVICE", value_parser = parse_device)]
    device: Option<spec::Device>,
    /// Do not render the runs' figures into --reports when training ends.
    #[arg(long)]
    no_report: bool,
    /// Where the figures go when training ends.
    #[arg(long, default_value = "reports", value_name = "DIR")]
    reports: PathBuf,
}

#[derive(Args)]
struct SynthArgs {
    /// Folder to create (new or empty; with --force, a synthetic set posterlab wrote).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Number of posters.
    #[arg(long, default_value_t = data::DEFAULT_SYNTHETIC_COUNT)]
    count: usize,
    /// Seed for labels and pictures.
    #[arg(long, default_value_t = data::DEFAULT_SYNTHETIC_SEED)]
    seed: u64,
    /// Replace DIR if it is a synthetic set posterlab wrote (never any other folder).
    #[arg(long)]
    force: bool,
}

#[derive(Subcommand)]
enum DataCommand {
    /// Posters, duplicates, unreadable images, genres per poster, per-genre counts (and, with --spec, per split).
    Stats(StatsArgs),
}

#[derive(Args)]
struct StatsArgs {
    /// A folder with train.csv + Images/, a CSV file, or "synthetic".
    dataset: String,
    /// Take resolution, fit, format and the split from this spec (its first run).
    #[arg(long, value_name = "SPEC")]
    spec: Option<PathBuf>,
    /// CSV layout, when not given by --spec.
    #[arg(long, value_parser = spec_names(DataFormat::NAMES, DataFormat::from_name))]
    format: Option<DataFormat>,
    /// Poster folder for the moviegenre layout.
    #[arg(long, value_name = "DIR")]
    images: Option<PathBuf>,
}

#[derive(Subcommand)]
enum SpecCommand {
    /// Print every spec field with its default and what it means.
    Defaults,
    /// Print the resolved spec of every run (what the run hash is taken over).
    Show {
        #[arg(required = true, value_name = "SPEC_OR_DIR")]
        specs: Vec<PathBuf>,
    },
}

pub fn dispatch(cli: Cli) -> Result<ExitCode> {
    // `--allow-large-sweep` lifts the limit on runs per sweep.
    let load = if cli.allow_large_sweep {
        spec::LoadOptions { max_runs: None }
    } else {
        spec::LoadOptions::default()
    };
    let ws = Workspace::new(&cli.results);
    let bars = Bars::new(cli.quiet);
    let db = cli
        .db
        .clone()
        .unwrap_or_else(|| cli.results.join("posterlab.sqlite"));
    match cli.command {
        Command::Run(args) => run(&args, load, &ws, &db, &bars),
        Command::Runs(args) => runs::list(&db, &args.selectors),
        Command::Show { run } => runs::show(&db, &run),
        Command::Report(args) => runs::report(
            &db,
            &args.select.selectors,
            &report::Options {
                out: args.out.clone(),
                group_by: args.group_by.clone(),
                decision: args.decision,
                baseline: args.baseline.clone(),
                bootstrap: report::effects::Settings {
                    resamples: args.resamples,
                    seed: args.bootstrap_seed,
                },
                figures: args.figures(),
            },
        ),
        Command::Export(args) => runs::export(
            &db,
            &args.select.selectors,
            args.format == ExportFormat::Json,
            args.out.as_deref(),
        ),
        Command::Synth(args) => synth(&args, &bars),
        Command::Data(DataCommand::Stats(args)) => data_stats(&args, load, &ws, &bars),
        Command::Spec(SpecCommand::Defaults) => {
            print!("{}", spec::fields::defaults_toml());
            Ok(ExitCode::SUCCESS)
        }
        Command::Spec(SpecCommand::Show { specs }) => spec_show(&specs, load),
        Command::Bench(args) => bench(&args, &bars),
        Command::Merge(args) => merge::merge(&db, &args),
        Command::Rescore(args) => rescore::rescore_runs(&db, &args),
        Command::Predict(args) => predict::predict(&db, &args, &bars),
        Command::Slurm(args) => slurm::submit(&args, load, &ws, &db, &bars),
        Command::SlurmTask(args) => slurm::task(&args, &bars),
        Command::Status(args) => status::status(&args, load, &ws, &db),
    }
}

fn load_specs(paths: &[PathBuf], options: spec::LoadOptions) -> Result<Vec<Spec>> {
    spec::load_paths_with(paths, options).map_err(|errors| anyhow::anyhow!("{errors}"))
}

fn parse_device(text: &str) -> std::result::Result<spec::Device, String> {
    spec::Device::parse(text).ok_or_else(|| format!("`{text}` is not cpu, cuda or cuda:N"))
}

fn parse_threads(text: &str) -> std::result::Result<usize, String> {
    parse_count(text, "threads")
}

fn parse_jobs(text: &str) -> std::result::Result<usize, String> {
    parse_count(text, "jobs")
}

fn parse_count(text: &str, what: &str) -> std::result::Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_string()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("`{text}` is not a number of {what}")),
    }
}

/// The cores this process may use (its affinity mask and cgroup quota, as
/// a Slurm allocation sets them).
fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// `--threads`, or every core; more threads than cores only slows training
/// down (1,024 threads on 2 cores did not finish a tiny run in 40 s), so a
/// larger value is lowered to the core count, with a note.
fn threads(asked: Option<usize>, bars: &Bars) -> usize {
    job_threads(1, asked, bars)
}

/// The threads of each of `jobs` jobs: `--threads`, or an even share of the
/// cores (at least one); jobs × threads above the cores is lowered to the
/// share, with a note (more jobs than cores share them, one thread each).
fn job_threads(jobs: usize, asked: Option<usize>, bars: &Bars) -> usize {
    let cores = cores();
    let share = (cores / jobs).max(1);
    match asked {
        Some(n) if n.saturating_mul(jobs) > cores && n > share => {
            let each = if jobs > 1 {
                format!(" × {} jobs", jobs)
            } else {
                String::new()
            };
            bars.note(&format!(
                "--threads {n}{each} is more than the {} this process may use; using {share}{}",
                plural(cores, "core"),
                if jobs > 1 { " per job" } else { "" }
            ));
            share
        }
        Some(n) => n,
        None => share,
    }
}

fn run(
    args: &RunArgs,
    load: spec::LoadOptions,
    ws: &Workspace,
    db: &Path,
    bars: &Bars,
) -> Result<ExitCode> {
    if args.dry_run {
        return dry_run(args, load, ws);
    }
    let mut specs = load_specs(&args.specs, load)?;
    if let Some(device) = args.device {
        for s in &mut specs {
            s.train.device = device;
        }
    }
    runner::preflight(&specs).map_err(anyhow::Error::msg)?;
    let store = Store::open(db)?;
    if let Some(fs) = store.network() {
        bars.note(&network_note(db, fs));
    }
    signals::install();
    let jobs = args.jobs;
    if jobs > cores() {
        bars.note(&format!(
            "--jobs {jobs} is more than the {} this process may use: the jobs share them",
            plural(cores(), "core")
        ));
    }
    let display = SweepBars::new(bars.quiet(), jobs);
    let sweep = runner::Sweep {
        db: runner::Database::Shared(db.to_path_buf()),
        ws,
        jobs,
        threads: job_threads(jobs, args.threads, bars),
        display: &display,
        stop: signals::stop_flag(),
        options: runner::Options {
            force: args.force,
            kernels: args.kernels.into(),
            sole_trainer: false,
        },
    };
    let started = Instant::now();
    let summary = sweep.run(&specs).map_err(|e| anyhow::anyhow!("{e}"))?;
    display.finish();
    if !args.no_report && !summary.runs.is_empty() {
        // The figures of this call's runs; a failure here loses no training.
        let runs: Vec<_> = store
            .runs()?
            .into_iter()
            .filter(|r| summary.runs.contains(&r.id))
            .collect();
        let options = report::Options::new(args.reports.clone());
        match runs::render(&store, &runs, &options) {
            Ok(w) => println!(
                "figures for {}: {}",
                plural(w.runs, "run"),
                w.index.display()
            ),
            Err(e) => eprintln!("warning: no figures: {e}"),
        }
    }
    let mut parts = vec![format!("{} finished", summary.finished)];
    for (n, what) in [
        (summary.skipped, "skipped"),
        (summary.diverged, "diverged"),
        (summary.failed, "failed"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {what}"));
        }
    }
    println!(
        "{}{} in {}; results in {}",
        parts.join(", "),
        if summary.interrupted {
            ", interrupted"
        } else {
            ""
        },
        runs::duration(started.elapsed().as_secs_f64()),
        db.display()
    );
    Ok(exit_code(&summary))
}

/// 130 when interrupted, 1 when a run failed or diverged, else 0.
fn exit_code(summary: &runner::Summary) -> ExitCode {
    if summary.interrupted {
        ExitCode::from(130)
    } else if summary.failed + summary.diverged > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Said once when the database is on a network filesystem.
fn network_note(db: &Path, fs: &posterlab::filesystem::Network) -> String {
    format!(
        "{} is on a network filesystem ({}), where SQLite's WAL mode does not work: it is kept \
         in rollback-journal mode, which processes of this machine may share. Never write it \
         from several machines at once: `posterlab slurm` runs a sweep on a cluster (one store \
         per task, merged at the end), and `posterlab merge` combines databases made elsewhere",
        db.display(),
        fs.0
    )
}

/// The dry-run table: one line per run, then where the data comes from.
/// Runs are listed as they are resolved, never all held (a confirmed sweep
/// of millions lists in constant memory): what the table needs up front —
/// the name column's width, the runs two files share — is gathered while
/// the specs are checked.
fn dry_run(args: &RunArgs, load: spec::LoadOptions, ws: &Workspace) -> Result<ExitCode> {
    use std::collections::{BTreeSet, HashSet};
    let mut name_width = 4;
    let (mut seen, mut repeated) = (HashSet::new(), HashSet::new());
    let mut repeats = 0usize;
    let (mut files, mut datasets) = (BTreeSet::new(), BTreeSet::new());
    let mut first_names: HashMap<u128, String> = HashMap::new();
    let mut header = false;
    spec::visit_paths_with(&args.specs, load, &mut |pass, mut s| {
        if let Some(device) = args.device {
            s.train.device = device;
        }
        let hash = s.hash();
        let key = spec::hash_key(&hash);
        if pass == spec::Pass::Check {
            name_width = name_width.max(s.name.chars().count()).min(60);
            if !seen.insert(key) {
                repeats += 1;
                repeated.insert(key);
            }
            files.insert(s.file.clone());
            datasets.insert(s.data.dataset.to_string());
            return;
        }
        if !header {
            println!("{:<name_width$}  {:<12}  SWEPT", "RUN", "HASH");
            header = true;
        }
        let swept: Vec<String> = s.swept.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut line = format!(
            "{:<name_width$}  {}  {}",
            s.name,
            &hash[..12],
            swept.join(" ")
        );
        if repeated.contains(&key) {
            match first_names.get(&key) {
                Some(first) => line.push_str(&format!("  (same run as {first}: runs once)")),
                None => {
                    first_names.insert(key, s.name.clone());
                }
            }
        }
        println!("{}", line.trim_end());
    })
    .map_err(|errors| anyhow::anyhow!("{errors}"))?;
    println!(
        "\n{} from {}{}",
        plural(seen.len(), "run"),
        plural(files.len(), "spec file"),
        if repeats > 0 {
            format!(" ({repeats} listed twice)")
        } else {
            String::new()
        }
    );
    for d in datasets {
        let status = match d.as_str() {
            "synthetic" if ws.synthetic_dir().join("train.csv").is_file() => "ready".to_string(),
            "synthetic" => format!("made on first run in {}", ws.synthetic_dir().display()),
            path => match data::find_csv(Path::new(path)) {
                Ok(csv) => format!("found ({})", csv.display()),
                Err(e) => format!("NOT FOUND: {}", e.message),
            },
        };
        println!("data set {d}: {status}");
    }
    Ok(ExitCode::SUCCESS)
}

fn synth(args: &SynthArgs, bars: &Bars) -> Result<ExitCode> {
    let started = Instant::now();
    let empty_dir = std::fs::read_dir(&args.out).is_ok_and(|mut d| d.next().is_none());
    if !args.out.exists() || empty_dir {
        data::synth::write_dataset(&args.out, args.count, args.seed, bars)?;
    } else if args.force {
        data::synth::replace_dataset(&args.out, args.count, args.seed, bars)?;
    } else {
        bail!(
            "{} already exists\n  help: choose another --out; --force replaces a synthetic set \
             posterlab wrote there (and nothing else)",
            args.out.display()
        );
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "wrote {} to {} in {secs:.1} s ({:.0} posters/s)",
        plural(args.count, "synthetic poster"),
        args.out.display(),
        args.count as f64 / secs
    );
    Ok(ExitCode::SUCCESS)
}

fn data_stats(
    args: &StatsArgs,
    load: spec::LoadOptions,
    ws: &Workspace,
    bars: &Bars,
) -> Result<ExitCode> {
    let (mut data_spec, with_split) = match &args.spec {
        Some(path) => {
            let runs = load_specs(std::slice::from_ref(path), load)?;
            if runs.iter().any(|r| r.data != runs[0].data) {
                bars.note(&format!(
                    "{} sweeps its data settings; showing its first run, {}",
                    path.display(),
                    runs[0].name
                ));
            }
            let first = runs
                .into_iter()
                .next()
                .context("the spec expands to no run")?;
            (first.data, true)
        }
        None => (Spec::default().data, false),
    };
    data_spec.dataset = match args.dataset.as_str() {
        "synthetic" => DatasetRef::Synthetic,
        path => DatasetRef::Path(PathBuf::from(path)),
    };
    if let Some(format) = args.format {
        data_spec.format = format;
    }
    if let Some(images) = &args.images {
        data_spec.images = Some(images.clone());
    }
    let started = Instant::now();
    let (stats, dataset) = data::stats::gather(&data_spec, with_split, ws, bars)?;
    print!("{stats}");
    eprintln!(
        "\nloaded at {}px ({}) in {:.2} s{}",
        dataset.resolution,
        dataset.fit,
        started.elapsed().as_secs_f64(),
        if dataset.report.from_cache {
            " from the cache"
        } else {
            ""
        }
    );
    Ok(ExitCode::SUCCESS)
}

fn spec_show(paths: &[PathBuf], load: spec::LoadOptions) -> Result<ExitCode> {
    for (i, s) in load_specs(paths, load)?.iter().enumerate() {
        if i > 0 {
            println!();
        }
        println!(
            "# run {}  (hash {})\n{}",
            s.name,
            s.hash(),
            s.resolved_toml()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn bench(args: &BenchArgs, bars: &Bars) -> Result<ExitCode> {
    use posterlab::train::bench::{self, BenchConfig};
    let model = spec::ModelSpec::for_arch(args.arch);
    let smallest = model.min_resolution();
    if args.res < smallest {
        bail!(
            "--res {} is too small for {} conv blocks of kernel {}: use --res {smallest} or more",
            args.res,
            model.channels.len(),
            model.kernel
        );
    }
    let threads = threads(args.threads, bars);
    if args.batch == 0 || args.steps == 0 {
        bail!("--batch and --steps must be at least 1");
    }
    let config = BenchConfig {
        resolution: args.res,
        batch: args.batch,
        steps: args.steps,
        warmup: args.warmup,
        threads,
        kernels: args.kernels.into(),
    };
    let report = bench::run(&model, data::synth::GENRES.len(), &config, args.device)
        .map_err(anyhow::Error::msg)?;
    if args.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        print!("{report}");
    }
    Ok(ExitCode::SUCCESS)
}
