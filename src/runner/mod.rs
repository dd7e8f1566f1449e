//! Running specs: for each resolved spec, claim it, decide between skipping,
//! resuming, restarting and starting (`plan`, a pure function of the claim,
//! the store and `--force`); load its data (once per distinct data
//! settings); record the run in the store (`facts`); train; record how it
//! ended (`unrecorded` when the database cannot take it). One run failing or
//! diverging never stops the others; an interrupt stops them all.
//!
//! Two processes may run the same specs against one database: each run is
//! claimed with an exclusive lock (`claim`), so a run is trained by one
//! process at a time, and a run left `running` by a dead process is resumed
//! by the next one that claims it.

mod claim;
mod facts;
mod plan;
mod preflight;
mod unrecorded;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use dfdx::prelude::*;

use self::claim::Claim;
use self::plan::{plan, Plan};
use crate::data::{Dataset, Split, Workspace};
use crate::model::{Architecture, Kernels};
use crate::progress::Progress;
use crate::spec::{Device as SpecDevice, Spec};
use crate::store::{RunRow, Status, Store};
use crate::text::plural;
use crate::train::fit::{self, Context, Outcome};
use crate::train::record::Error;

pub use self::preflight::preflight;

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

/// Trains every run of `specs` (duplicates by hash run once).
pub fn run_specs(
    specs: &[Spec],
    store: &mut Store,
    ws: &Workspace,
    progress: &dyn Progress,
    stop: &AtomicBool,
    options: Options,
) -> Summary {
    let mut runner = Runner {
        store,
        ws,
        progress,
        stop,
        options,
        datasets: HashMap::new(),
        host: facts::hostname(),
        git: facts::git_commit(),
    };
    let mut summary = Summary::default();
    let mut seen = std::collections::HashSet::new();
    for spec in specs {
        let hash = spec.hash();
        if !seen.insert(hash.clone()) {
            continue;
        }
        if stop.load(Ordering::Relaxed) {
            summary.interrupted = true;
            break;
        }
        let ended = runner.run_one(spec);
        if let Ok(Some(run)) = runner.store.latest_run(&hash) {
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

/// What every run of a call shares.
struct Runner<'a> {
    store: &'a mut Store,
    ws: &'a Workspace,
    progress: &'a dyn Progress,
    stop: &'a AtomicBool,
    options: Options,
    /// Data sets loaded in this call, by their data settings.
    datasets: HashMap<String, Arc<Dataset>>,
    host: String,
    git: Option<String>,
}

/// A run's data, ready to train on.
type Loaded = (Arc<Dataset>, Split, Architecture);

/// A run recorded as running: its id, its checkpoint folder, and its data
/// (or why it could not be loaded, which fails the run).
type Begun = (i64, PathBuf, Result<Loaded, String>);

impl Runner<'_> {
    /// Claims a spec, then skips, resumes, restarts or starts its run.
    fn run_one(&mut self, spec: &Spec) -> Result<Ended, Error> {
        let hash = spec.hash();
        let runs_dir = self.ws.results.join("runs");
        let claim = Claim::try_take(&runs_dir.join(format!("{}.lock", &hash[..12])))
            .map_err(|e| format!("cannot lock {}: {e}", runs_dir.display()))?;
        let latest = match &claim {
            Some(_) => self.latest(spec, &hash)?,
            None => None,
        };
        let say = |line: String| self.progress.line(&format!("{}: {line}", spec.name));
        let (id, dir, loaded) = match plan(claim.is_some(), latest.as_ref(), self.options.force) {
            Plan::Busy => {
                say("skipped, another posterlab process is training it".into());
                return Ok(Ended::Skipped);
            }
            Plan::SkipFinished { run, epochs } => {
                let done = plural(epochs, "epoch");
                say(format!(
                    "skipped, finished as run {run} ({done}; --force retrains)"
                ));
                return Ok(Ended::Skipped);
            }
            Plan::SkipDiverged { run, epoch } => {
                say(format!(
                    "skipped, diverged in epoch {epoch} as run {run} (--force retrains)"
                ));
                return Ok(Ended::Skipped);
            }
            Plan::Resume { .. } => self.resume(spec, latest.expect("a resumed run exists"))?,
            Plan::Restart { .. } => self.restart(spec, latest.expect("a restarted run exists"))?,
            Plan::New => self.start(spec, &hash, &runs_dir)?,
        };
        let (dataset, split, arch) = match loaded {
            Ok(loaded) => loaded,
            Err(message) => {
                unrecorded::set_status(self.store, id, &dir, Status::Failed, None, Some(&message))?;
                return Err(message.into());
            }
        };
        say(format!(
            "run {id} ({}), {} train / {} val / {} test posters at {} px, {} parameters, {}",
            &hash[..12],
            split.train.len(),
            split.val.len(),
            split.test.len(),
            dataset.resolution,
            arch.num_params(),
            spec.train.device
        ));
        let cx = Context {
            spec,
            data: &dataset,
            split: &split,
            dir: &dir,
            progress: self.progress,
            stop: self.stop,
            kernels: self.options.kernels,
        };
        let outcome = train_catching_panics(&cx, self.store, id);
        self.ended(spec, id, &dir, outcome)
    }

    /// The spec's latest run, after recording how an earlier attempt ended
    /// if the database could not take it then; says what it finds.
    fn latest(&mut self, spec: &Spec, hash: &str) -> Result<Option<RunRow>, Error> {
        let latest = self.store.latest_run(hash)?;
        let Some(r) = &latest else {
            return Ok(None);
        };
        if let Some(line) = unrecorded::apply(self.store, r)? {
            self.progress.line(&format!("{}: {line}", spec.name));
            return Ok(self.store.latest_run(hash)?);
        }
        if r.status == Status::Running {
            self.progress.line(&format!(
                "{}: run {} was left `running` by a process that ended without recording how \
                 (killed, out of memory, or a lost machine); resuming it",
                spec.name, r.id
            ));
        }
        Ok(latest)
    }

    /// The data of a spec: loaded once per distinct data settings in this
    /// call. A data set that cannot be loaded fails this run (recorded),
    /// not the others.
    fn load(&mut self, spec: &Spec) -> Result<Loaded, String> {
        preflight::load_data(spec, self.ws, self.progress, &mut self.datasets)
    }

    /// Continues run `r` after its recorded epochs, on the data it was
    /// trained on.
    fn resume(&mut self, spec: &Spec, r: RunRow) -> Result<Begun, Error> {
        let loaded = self.load(spec);
        if let Ok((dataset, ..)) = &loaded {
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
        if let Err(e) = self
            .store
            .resume_run(r.id, &spec.train.device.to_string(), &self.host)
        {
            let why = format!("could not be resumed: {e}");
            unrecorded::set_status(
                self.store,
                r.id,
                &r.checkpoint_dir,
                Status::Failed,
                None,
                Some(&why),
            )?;
            return Err(why.into());
        }
        Ok((r.id, r.checkpoint_dir, loaded))
    }

    /// Starts run `r`, which recorded no epoch, again with what is known now
    /// (the data set may have been repaired since it failed).
    fn restart(&mut self, spec: &Spec, r: RunRow) -> Result<Begun, Error> {
        let loaded = self.load(spec);
        let new = self.new_run(spec, &loaded, &r.checkpoint_dir);
        self.store.restart_run(r.id, &new)?;
        Ok((r.id, r.checkpoint_dir, loaded))
    }

    /// Records a new run of the spec.
    fn start(
        &mut self,
        spec: &Spec,
        hash: &str,
        runs_dir: &std::path::Path,
    ) -> Result<Begun, Error> {
        let loaded = self.load(spec);
        let uid = facts::uid(hash);
        // Absolute, so that the run resumes from any working directory.
        let dir = std::path::absolute(runs_dir.join(format!("{}-{}", &hash[..12], &uid[..8])))
            .map_err(|e| format!("cannot resolve {}: {e}", runs_dir.display()))?;
        let new = self.new_run(spec, &loaded, &dir);
        Ok((self.store.create_run(&new, &uid)?, dir, loaded))
    }

    fn new_run(
        &self,
        spec: &Spec,
        loaded: &Result<Loaded, String>,
        dir: &std::path::Path,
    ) -> crate::store::NewRun {
        let facts = loaded
            .as_ref()
            .ok()
            .map(|(d, split, arch)| (d.as_ref(), split, arch));
        let device = spec.train.device.to_string();
        facts::new_run(spec, facts, &device, &self.host, &self.git, dir)
    }

    /// Records and says how a run ended.
    fn ended(
        &mut self,
        spec: &Spec,
        id: i64,
        dir: &std::path::Path,
        outcome: Result<Outcome, Error>,
    ) -> Result<Ended, Error> {
        let say = |line: String| self.progress.line(&format!("{}: {line}", spec.name));
        match outcome {
            Ok(Outcome::Finished {
                epochs,
                best_epoch,
                test,
                stopped_early,
            }) => {
                say(format!(
                    "finished after {}{}; best epoch {best_epoch}: test loss {:.4}, micro-F1 {:.3}, macro-F1 {:.3}, micro mAP {:.3}",
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
                    self.store,
                    id,
                    dir,
                    Status::Diverged,
                    Some(epoch),
                    Some(&reason),
                )?;
                say(format!("DIVERGED: {reason}"));
                Ok(Ended::Diverged)
            }
            Ok(Outcome::Interrupted { epochs }) => {
                unrecorded::set_status(
                    self.store,
                    id,
                    dir,
                    Status::Interrupted,
                    Some(epochs),
                    None,
                )?;
                say(format!(
                    "interrupted after {} completed; run the same command again to resume",
                    plural(epochs, "epoch")
                ));
                Ok(Ended::Interrupted)
            }
            Err(e) => {
                let message = e.to_string();
                unrecorded::set_status(self.store, id, dir, Status::Failed, None, Some(&message))?;
                Err(message.into())
            }
        }
    }
}

/// Trains on the spec's device; a panic becomes the run's error.
fn train_catching_panics(cx: &Context, store: &mut Store, id: i64) -> Result<Outcome, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_on_device(cx.spec.train.device, cx, store, id)
    }))
    .unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown panic".to_string());
        Err(format!("internal error (panic): {what}").into())
    })
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
