//! One run, from its claim to how it ended: claim the spec hash, decide
//! between skipping, resuming, restarting and starting (`plan`), load its
//! data (once per distinct data settings in the call), record the run
//! (`facts`), train, and record how it ended (`unrecorded` when the
//! database cannot take it).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use dfdx::prelude::*;

use super::claim::{self, Claim};
use super::plan::{plan, Plan};
use super::{facts, preflight, unrecorded, Options};
use crate::data::{Dataset, Split, Workspace};
use crate::model::Architecture;
use crate::progress::Progress;
use crate::spec::{Device as SpecDevice, Spec};
use crate::store::{RunRow, Status, Store};
use crate::text::plural;
use crate::train::fit::{self, Context, Outcome};
use crate::train::record::{Error, Tracker};

/// How one run of a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ended {
    Finished,
    Skipped,
    Diverged,
    Interrupted,
}

/// What the runs of a call share, whichever job trains them.
pub(super) struct Shared<'a> {
    pub(super) ws: &'a Workspace,
    pub(super) stop: &'a AtomicBool,
    pub(super) options: Options,
    /// Data sets loaded in this call, by their data settings.
    pub(super) datasets: Mutex<HashMap<String, Arc<Dataset>>>,
    pub(super) host: String,
    pub(super) git: Option<String>,
}

/// One job: its own connection to the database and its own display.
pub(super) struct Runner<'a> {
    pub(super) store: Store,
    pub(super) shared: &'a Shared<'a>,
    pub(super) progress: &'a dyn Progress,
    /// Told the seconds of every epoch recorded (the sweep's pace).
    pub(super) on_epoch: &'a (dyn Fn(f64) + Sync),
}

/// A run's data, ready to train on.
type Loaded = (Arc<Dataset>, Split, Architecture);

/// A run recorded as running: its id, its checkpoint folder, and its data
/// (or why it could not be loaded, which fails the run).
type Begun = (i64, PathBuf, Result<Loaded, String>);

impl Runner<'_> {
    /// Claims a spec, then skips, resumes, restarts or starts its run.
    pub(super) fn run_one(&mut self, spec: &Spec) -> Result<Ended, Error> {
        let hash = spec.hash();
        let runs_dir = self.shared.ws.results.join("runs");
        let lock = claim::lock_path(&self.shared.ws.results, &hash);
        // Held until the run ends.
        let (claimed, _claim) = match Claim::try_take(&lock) {
            Ok(claim) => (claim.is_some(), claim),
            Err(e) if claim::locks_unsupported(&e) && self.shared.options.sole_trainer => {
                self.progress.note(&format!(
                    "{}: the filesystem of {} takes no locks ({e}); this process is the only one \
                     that trains the run (a Slurm array task), so it goes on without its claim",
                    spec.name,
                    lock.display()
                ));
                (true, None)
            }
            Err(e) if claim::locks_unsupported(&e) => {
                return Err(format!(
                    "cannot lock {}: the filesystem takes no locks ({e}), so posterlab cannot keep \
                     two processes from training one run\n  help: put --results on a filesystem \
                     with locks (a local disk; Lustre mounted with `flock`), or run the sweep with \
                     `posterlab slurm`, whose tasks train one run each",
                    lock.display()
                )
                .into())
            }
            Err(e) => return Err(format!("cannot lock {}: {e}", lock.display()).into()),
        };
        let latest = match claimed {
            true => self.latest(spec, &hash)?,
            false => None,
        };
        let say = |line: String| self.progress.line(&format!("{}: {line}", spec.name));
        let (id, dir, loaded) = match plan(claimed, latest.as_ref(), self.shared.options.force) {
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
                unrecorded::set_status(
                    &mut self.store,
                    id,
                    &dir,
                    Status::Failed,
                    None,
                    Some(&message),
                )?;
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
            stop: self.shared.stop,
            kernels: self.shared.options.kernels,
        };
        let mut tracker = Counted {
            inner: self.store.tracker(id),
            on_epoch: self.on_epoch,
        };
        let outcome = train_catching_panics(&cx, &mut tracker);
        self.ended(spec, id, &dir, outcome)
    }

    /// The spec's latest run, after recording how an earlier attempt ended
    /// if the database could not take it then; says what it finds.
    fn latest(&mut self, spec: &Spec, hash: &str) -> Result<Option<RunRow>, Error> {
        let latest = self.store.latest_run(hash)?;
        let Some(r) = &latest else {
            return Ok(None);
        };
        if let Some(line) = unrecorded::apply(&mut self.store, r)? {
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
        let mut datasets = self
            .shared
            .datasets
            .lock()
            .expect("no job panics holding it");
        preflight::load_data(spec, self.shared.ws, self.progress, &mut datasets)
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
        if let Err(e) =
            self.store
                .resume_run(r.id, &spec.train.device.to_string(), &self.shared.host)
        {
            let why = format!("could not be resumed: {e}");
            unrecorded::set_status(
                &mut self.store,
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
        facts::new_run(
            spec,
            facts,
            &device,
            &self.shared.host,
            &self.shared.git,
            dir,
        )
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
                    &mut self.store,
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
                    &mut self.store,
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
                unrecorded::set_status(
                    &mut self.store,
                    id,
                    dir,
                    Status::Failed,
                    None,
                    Some(&message),
                )?;
                Err(message.into())
            }
        }
    }
}

/// The store's tracker of a run, telling the sweep the seconds of every
/// epoch it records.
struct Counted<'a, T: Tracker> {
    inner: T,
    on_epoch: &'a (dyn Fn(f64) + Sync),
}

impl<T: Tracker> Tracker for Counted<'_, T> {
    fn completed_epochs(&mut self) -> Result<usize, Error> {
        self.inner.completed_epochs()
    }

    fn record_epoch(
        &mut self,
        record: &crate::train::record::EpochRecord,
        checkpoint: &std::path::Path,
    ) -> Result<(), Error> {
        self.inner.record_epoch(record, checkpoint)?;
        (self.on_epoch)(record.seconds);
        Ok(())
    }

    fn record_test(&mut self, record: &crate::train::record::TestRecord) -> Result<(), Error> {
        self.inner.record_test(record)
    }
}

/// Trains on the spec's device; a panic becomes the run's error.
fn train_catching_panics(cx: &Context, tracker: &mut dyn Tracker) -> Result<Outcome, Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        train_on_device(cx.spec.train.device, cx, tracker)
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
    tracker: &mut dyn Tracker,
) -> Result<Outcome, Error> {
    match device {
        SpecDevice::Cpu => fit::train(&Cpu::default(), cx, tracker),
        #[cfg(feature = "cuda")]
        SpecDevice::Cuda(ordinal) => {
            let dev = Cuda::try_build(ordinal, cx.spec.train.seed)
                .map_err(|e| format!("cannot open cuda:{ordinal}: {e:?}"))?;
            fit::train(&dev, cx, tracker)
        }
        #[cfg(not(feature = "cuda"))]
        SpecDevice::Cuda(_) => Err(crate::model::NO_CUDA.into()),
    }
}
