//! Running specs: for each resolved spec, decide between skipping, resuming
//! and starting; load its data (once per distinct data settings); record the
//! run in the store; train; record how it ended. One run failing or
//! diverging never stops the others; an interrupt stops them all.
//!
//! Two processes may run the same specs against one database: each run is
//! claimed with an exclusive lock on `<results>/runs/<hash>.lock` (released
//! by the OS when a process dies, even by kill -9), so a run is trained by
//! one process at a time, and a run left `running` by a dead process is
//! resumed by the next one that claims it.

mod unrecorded;

use std::collections::HashMap;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use dfdx::prelude::*;

use crate::data::{self, Dataset, Split, Workspace};
use crate::model::{Architecture, Kernels};
use crate::progress::Progress;
use crate::spec::{Device as SpecDevice, Spec};
use crate::store::{NewRun, Status, Store};
use crate::text::plural;
use crate::train::fit::{self, Context, Outcome};
use crate::train::metrics::Decision;
use crate::train::record::Error;

/// What the command line chose.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Retrain runs that finished or diverged.
    pub force: bool,
    pub kernels: Kernels,
}

/// How each run of a call ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub finished: usize,
    pub skipped: usize,
    pub diverged: usize,
    pub failed: usize,
    /// A run was interrupted (and the rest were not started).
    pub interrupted: bool,
    /// Every run this call trained or skipped, in spec order.
    pub runs: Vec<i64>,
}

/// An exclusive claim on a spec hash, held while its run trains.
struct Claim {
    _file: File,
}

impl Claim {
    /// `Ok(None)` when another process holds it.
    fn try_take(path: &Path) -> std::io::Result<Option<Claim>> {
        use std::os::fd::AsRawFd;
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        // SAFETY: flock on a file descriptor we own; no memory is involved.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(Some(Claim { _file: file }));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() == std::io::ErrorKind::WouldBlock {
            Ok(None)
        } else {
            Err(e)
        }
    }
}

/// Trains every run of `specs` (duplicates by hash run once).
pub fn run_specs(
    specs: &[Spec],
    store: &mut Store,
    ws: &Workspace,
    progress: &dyn Progress,
    stop: &AtomicBool,
    options: Options,
) -> Summary {
    let mut summary = Summary::default();
    let mut seen = std::collections::HashSet::new();
    let mut datasets: HashMap<String, Arc<Dataset>> = HashMap::new();
    let host = hostname();
    let git = git_commit();
    for spec in specs {
        let hash = spec.hash();
        if !seen.insert(hash.clone()) {
            continue;
        }
        if stop.load(std::sync::atomic::Ordering::Relaxed) {
            summary.interrupted = true;
            break;
        }
        let ended = run_one(
            spec,
            store,
            ws,
            progress,
            stop,
            options,
            &mut datasets,
            &host,
            &git,
        );
        if let Ok(Some(run)) = store.latest_run(&hash) {
            summary.runs.push(run.id);
        }
        match ended {
            Ok(Ended::Finished) => summary.finished += 1,
            Ok(Ended::Skipped) => summary.skipped += 1,
            Ok(Ended::Diverged) => summary.diverged += 1,
            Ok(Ended::Interrupted) => {
                summary.interrupted = true;
                break;
            }
            Err(e) => {
                progress.line(&format!("{}: FAILED: {e}", spec.name));
                summary.failed += 1;
            }
        }
    }
    summary
}

enum Ended {
    Finished,
    Skipped,
    Diverged,
    Interrupted,
}

#[allow(clippy::too_many_arguments)]
fn run_one(
    spec: &Spec,
    store: &mut Store,
    ws: &Workspace,
    progress: &dyn Progress,
    stop: &AtomicBool,
    options: Options,
    datasets: &mut HashMap<String, Arc<Dataset>>,
    host: &str,
    git: &Option<String>,
) -> Result<Ended, Error> {
    let hash = spec.hash();
    let short = &hash[..12];
    let runs_dir = ws.results.join("runs");
    let Some(_claim) = Claim::try_take(&runs_dir.join(format!("{short}.lock")))
        .map_err(|e| format!("cannot lock {}: {e}", runs_dir.display()))?
    else {
        progress.line(&format!(
            "{}: skipped, another posterlab process is training it",
            spec.name
        ));
        return Ok(Ended::Skipped);
    };
    let mut latest = store.latest_run(&hash)?;
    if let Some(r) = &latest {
        if let Some(line) = unrecorded::apply(store, r)? {
            progress.line(&format!("{}: {line}", spec.name));
            latest = store.latest_run(&hash)?;
        } else if r.status == Status::Running {
            progress.line(&format!(
                "{}: run {} was left `running` by a process that ended without recording how \
                 (killed, out of memory, or a lost machine); resuming it",
                spec.name, r.id
            ));
        }
    }
    let resume = match &latest {
        Some(r) if !options.force && r.status == Status::Finished => {
            progress.line(&format!(
                "{}: skipped, finished as run {} ({}; --force retrains)",
                spec.name,
                r.id,
                plural(r.epochs_done, "epoch")
            ));
            return Ok(Ended::Skipped);
        }
        Some(r) if !options.force && r.status == Status::Diverged => {
            progress.line(&format!(
                "{}: skipped, diverged in epoch {} as run {} (--force retrains)",
                spec.name,
                r.status_epoch.unwrap_or(0),
                r.id
            ));
            return Ok(Ended::Skipped);
        }
        Some(r) if !options.force => Some(r.clone()),
        _ => None,
    };

    // The data: loaded once per distinct data settings in this call. A data
    // set that cannot be loaded fails this run (recorded), not the others.
    let loaded = load_data(spec, ws, progress, datasets);
    let device = spec.train.device.to_string();
    let facts = loaded
        .as_ref()
        .ok()
        .map(|(d, split, arch)| (d.as_ref(), split, arch));
    let (id, dir) = match resume {
        Some(r) if r.epochs_done > 0 => {
            if let Some((dataset, ..)) = facts {
                if r.dataset_hash != dataset.content_hash {
                    return Err(format!(
                        "run {} was trained on other data: {} has changed since (content hash {} then, {} now)\n  \
                         help: `posterlab run --force` retrains it on the data as it is now",
                        r.id,
                        spec.data.dataset,
                        &r.dataset_hash[..12.min(r.dataset_hash.len())],
                        &dataset.content_hash[..12]
                    )
                    .into());
                }
            }
            if let Err(e) = store.resume_run(r.id, &device, host) {
                let why = format!("could not be resumed: {e}");
                unrecorded::set_status(
                    store,
                    r.id,
                    &r.checkpoint_dir,
                    Status::Failed,
                    None,
                    Some(&why),
                )?;
                return Err(why.into());
            }
            (r.id, r.checkpoint_dir.clone())
        }
        Some(r) => {
            // Nothing trained yet: start again, with the data as it is now.
            let new = new_run(spec, facts, &device, host, git, &r.checkpoint_dir);
            store.restart_run(r.id, &new)?;
            (r.id, r.checkpoint_dir.clone())
        }
        None => {
            let uid = uid(&hash);
            // Absolute, so that the run resumes from any working directory.
            let dir = std::path::absolute(runs_dir.join(format!("{short}-{}", &uid[..8])))
                .map_err(|e| format!("cannot resolve {}: {e}", runs_dir.display()))?;
            let new = new_run(spec, facts, &device, host, git, &dir);
            (store.create_run(&new, &uid)?, dir)
        }
    };
    let (dataset, split, arch) = match loaded {
        Ok(loaded) => loaded,
        Err(message) => {
            unrecorded::set_status(store, id, &dir, Status::Failed, None, Some(&message))?;
            return Err(message.into());
        }
    };
    let dataset = dataset.as_ref();
    progress.line(&format!(
        "{}: run {id} ({short}), {} train / {} val / {} test posters at {} px, {} parameters, {device}",
        spec.name,
        split.train.len(),
        split.val.len(),
        split.test.len(),
        dataset.resolution,
        arch.num_params()
    ));

    let cx = Context {
        spec,
        data: dataset,
        split: &split,
        dir: &dir,
        progress,
        stop,
        kernels: options.kernels,
    };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_on_device(spec.train.device, &cx, store, id)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(format!("internal error (panic): {what}").into())
    });
    match outcome {
        Ok(Outcome::Finished {
            epochs,
            best_epoch,
            test,
            stopped_early,
        }) => {
            progress.line(&format!(
                "{}: finished after {}{}; best epoch {best_epoch}: test loss {:.4}, micro-F1 {:.3}, macro-F1 {:.3}, micro mAP {:.3}",
                spec.name,
                plural(epochs, "epoch"),
                if stopped_early { " (early stop)" } else { "" },
                test.loss,
                test.metrics.micro_f1,
                test.metrics.macro_f1,
                test.metrics.micro_ap
            ));
            Ok(Ended::Finished)
        }
        Ok(Outcome::Diverged { epoch, reason }) => {
            unrecorded::set_status(
                store,
                id,
                &dir,
                Status::Diverged,
                Some(epoch),
                Some(&reason),
            )?;
            progress.line(&format!("{}: DIVERGED: {reason}", spec.name));
            Ok(Ended::Diverged)
        }
        Ok(Outcome::Interrupted { epochs }) => {
            unrecorded::set_status(store, id, &dir, Status::Interrupted, Some(epochs), None)?;
            progress.line(&format!(
                "{}: interrupted after {} completed; run the same command again to resume",
                spec.name,
                plural(epochs, "epoch")
            ));
            Ok(Ended::Interrupted)
        }
        Err(e) => {
            let message = e.to_string();
            unrecorded::set_status(store, id, &dir, Status::Failed, None, Some(&message))?;
            Err(message.into())
        }
    }
}

fn train_on_device(
    device: SpecDevice,
    cx: &Context,
    store: &mut Store,
    id: i64,
) -> Result<Outcome, Error> {
    match device {
        SpecDevice::Cpu => fit::train(&Cpu::default(), cx, &mut store.tracker(id)),
        #[cfg(feature = "cuda")]
        SpecDevice::Cuda(ordinal) => {
            let dev = Cuda::try_build(ordinal, cx.spec.train.seed)
                .map_err(|e| format!("cannot open cuda:{ordinal}: {e:?}"))?;
            fit::train(&dev, cx, &mut store.tracker(id))
        }
        #[cfg(not(feature = "cuda"))]
        SpecDevice::Cuda(_) => Err(crate::model::NO_CUDA.into()),
    }
}

/// Checks, before anything trains, that every device the specs name can be
/// used here: a build without CUDA refuses CUDA runs, a build with it opens
/// each GPU once.
pub fn check_devices(specs: &[Spec]) -> Result<(), String> {
    let mut cuda: Vec<(usize, &str)> = specs
        .iter()
        .filter_map(|s| match s.train.device {
            SpecDevice::Cuda(i) => Some((i, s.name.as_str())),
            SpecDevice::Cpu => None,
        })
        .collect();
    if cuda.is_empty() {
        return Ok(());
    }
    cuda.sort();
    #[cfg(not(feature = "cuda"))]
    {
        Err(format!(
            "{} run{} ask{} for CUDA (first: {} on cuda:{}), but {}",
            cuda.len(),
            if cuda.len() == 1 { "" } else { "s" },
            if cuda.len() == 1 { "s" } else { "" },
            cuda[0].1,
            cuda[0].0,
            crate::model::NO_CUDA
        ))
    }
    #[cfg(feature = "cuda")]
    {
        cuda.dedup_by_key(|c| c.0);
        for (ordinal, name) in cuda {
            Cuda::try_build(ordinal, 0).map_err(|e| {
                format!(
                    "{name} asks for cuda:{ordinal}, which cannot be opened: {e:?}\n  help: `nvidia-smi` \
                     lists this machine's GPUs; the driver and the CUDA libraries this build links \
                     (README, \"GPU\") must be installed; or set train.device = \"cpu\""
                )
            })?;
        }
        Ok(())
    }
}

/// The data set of a spec (cached per data settings), its split and the
/// model sized for it; or why they cannot be had.
fn load_data(
    spec: &Spec,
    ws: &Workspace,
    progress: &dyn Progress,
    datasets: &mut HashMap<String, Arc<Dataset>>,
) -> Result<(Arc<Dataset>, Split, Architecture), String> {
    let key = format!("{:?}", spec.data);
    let dataset = match datasets.get(&key) {
        Some(d) => d.clone(),
        None => {
            let d = Arc::new(data::load(&spec.data, ws, progress).map_err(|e| e.to_string())?);
            datasets.insert(key, d.clone());
            d
        }
    };
    let split = Split::new(
        &dataset.ids,
        spec.data.test_fraction,
        spec.data.val_fraction,
        spec.data.split_seed,
    );
    if split.train.is_empty() || split.val.is_empty() || split.test.is_empty() {
        return Err(format!(
            "{} split into {} train / {} val / {} test: every split needs at least one",
            plural(dataset.len(), "poster"),
            split.train.len(),
            split.val.len(),
            split.test.len()
        ));
    }
    let arch = Architecture::new(
        &spec.model,
        dataset.resolution as usize,
        dataset.genres.len(),
    )?;
    Ok((dataset, split, arch))
}

/// What the store records about a run before its first epoch; the data
/// facts are empty when the data could not be loaded.
fn new_run(
    spec: &Spec,
    facts: Option<(&Dataset, &Split, &Architecture)>,
    device: &str,
    host: &str,
    git: &Option<String>,
    dir: &Path,
) -> NewRun {
    NewRun {
        name: spec.name.clone(),
        experiment: spec.experiment.clone(),
        tags: spec.tags.clone(),
        spec_hash: spec.hash(),
        spec_toml: spec.resolved_toml(),
        spec_file: spec.file.display().to_string(),
        swept: spec.swept.clone(),
        epochs_planned: spec.train.epochs,
        monitor: spec.train.monitor.to_string(),
        decision: Decision::for_loss(spec.train.loss, spec.train.threshold)
            .as_str()
            .to_string(),
        threshold: spec.train.threshold,
        genres: facts.map_or_else(Vec::new, |f| f.0.genres.clone()),
        dataset: spec.data.dataset.to_string(),
        dataset_csv: facts.map_or_else(String::new, |f| f.0.csv.display().to_string()),
        dataset_hash: facts.map_or_else(String::new, |f| f.0.content_hash.clone()),
        split_sizes: facts.map_or([0; 3], |f| [f.1.train.len(), f.1.val.len(), f.1.test.len()]),
        params: facts.map_or(0, |f| f.2.num_params()),
        device: device.to_string(),
        host: host.to_string(),
        git_commit: git.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        checkpoint_dir: dir.display().to_string(),
    }
}

/// A fresh id for a run: the hash, the time, the process.
fn uid(hash: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(hash.as_bytes());
    h.update(&std::process::id().to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(&now.as_nanos().to_le_bytes());
    h.finalize().to_hex()[..32].to_string()
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer outlives the call and its length is passed.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown".to_string();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The working directory's git commit, `-dirty` when it has changes.
fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}
