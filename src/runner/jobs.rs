//! A sweep's runs trained by `jobs` jobs at once: each job is a thread with
//! its own connection to the database and its own pool of `threads` CPU
//! threads, taking the next run not yet started until none is left. One
//! job's run failing or diverging does not stop the others; a stop request
//! ends every job after its current batch (its run marked interrupted), and
//! runs not started stay unstarted. With one job this is the plain loop
//! over the runs, in spec order.

use std::collections::HashSet;
use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::Duration;

use super::run::{Ended, Runner, Shared};
use super::{facts, Summary, Sweep, SweepState};
use crate::spec::Spec;
use crate::store::{Status, Store};
use crate::train::record::Error;

impl Sweep<'_> {
    /// Trains every run of `specs` (duplicates by hash run once); fails
    /// only when the database cannot be opened or the threads not started,
    /// before any run.
    pub fn run(&self, specs: &[Spec]) -> Result<Summary, Error> {
        let mut seen = HashSet::new();
        let runs: Vec<(&Spec, String)> = specs
            .iter()
            .map(|s| (s, s.hash()))
            .filter(|(_, hash)| seen.insert(hash.clone()))
            .collect();
        let jobs = self.jobs.clamp(1, runs.len().max(1));
        let stores = (0..jobs)
            .map(|_| self.db.open())
            .collect::<Result<Vec<Store>, _>>()?;
        let planned = remaining_epochs(&stores[0], &runs, self.options.force)?;
        let pools = (0..jobs)
            .map(|job| {
                rayon::ThreadPoolBuilder::new()
                    .num_threads(self.threads)
                    .thread_name(move |i| format!("job{job}-{i}"))
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("cannot start the worker threads: {e}"))?;
        let shared = Shared {
            ws: self.ws,
            stop: self.stop,
            options: self.options,
            datasets: Mutex::new(Default::default()),
            host: facts::hostname(),
            git: facts::git_commit(),
        };
        let tally = Mutex::new(Tally::new(jobs, planned));
        self.show(&tally);
        std::thread::scope(|scope| {
            for (slot, (store, pool)) in stores.into_iter().zip(pools).enumerate() {
                let (shared, tally, runs) = (&shared, &tally, &runs);
                scope.spawn(move || {
                    let on_epoch = |seconds: f64| {
                        lock(tally).epoch(slot, seconds);
                        self.show(tally);
                    };
                    let mut runner = Runner {
                        store,
                        shared,
                        progress: self.display.job(slot),
                        on_epoch: &on_epoch,
                    };
                    pool.install(|| self.job(slot, &mut runner, runs, tally));
                });
            }
        });
        let tally = tally.into_inner().expect("every job has ended");
        Ok(tally.summary())
    }

    /// One job: the next run not started, until none is left or a stop is
    /// asked for.
    fn job(
        &self,
        slot: usize,
        runner: &mut Runner,
        runs: &[(&Spec, String)],
        tally: &Mutex<Tally>,
    ) {
        loop {
            if self.stop.load(Ordering::Relaxed) {
                lock(tally).stopped();
                return;
            }
            let Some(i) = lock(tally).take(slot) else {
                return;
            };
            self.show(tally);
            let (spec, hash) = &runs[i];
            let ended = runner.run_one(spec);
            if let Err(e) = &ended {
                runner.progress.line(&format!("{}: FAILED: {e}", spec.name));
            }
            let id = runner.store.latest_run(hash).ok().flatten().map(|r| r.id);
            lock(tally).end(slot, i, ended.ok(), id);
            self.show(tally);
        }
    }

    fn show(&self, tally: &Mutex<Tally>) {
        let state = lock(tally).state();
        self.display.sweep(&state);
    }
}

fn lock(tally: &Mutex<Tally>) -> std::sync::MutexGuard<'_, Tally> {
    tally.lock().expect("no job panics while counting")
}

/// The epochs each run has still to train, as the store says before the
/// call: none for a run that will be skipped.
fn remaining_epochs(
    store: &Store,
    runs: &[(&Spec, String)],
    force: bool,
) -> Result<Vec<usize>, Error> {
    runs.iter()
        .map(|(spec, hash)| {
            let planned = spec.train.epochs;
            Ok(match store.latest_run(hash)? {
                Some(_) if force => planned,
                Some(r) if matches!(r.status, Status::Finished | Status::Diverged) => 0,
                Some(r) => planned.saturating_sub(r.epochs_done),
                None => planned,
            })
        })
        .collect()
}

/// A sweep's counts while its jobs run.
struct Tally {
    jobs: usize,
    /// Epochs each run has still to train.
    planned: Vec<usize>,
    /// The first run not started.
    next: usize,
    /// The run each job is training.
    running: Vec<Option<usize>>,
    summary: Summary,
    /// The run id each spec ended as.
    ids: Vec<Option<i64>>,
    epochs: usize,
    epoch_seconds: f64,
}

impl Tally {
    fn new(jobs: usize, planned: Vec<usize>) -> Tally {
        Tally {
            jobs,
            ids: vec![None; planned.len()],
            planned,
            next: 0,
            running: vec![None; jobs],
            summary: Summary::default(),
            epochs: 0,
            epoch_seconds: 0.0,
        }
    }

    /// The next run for job `slot`, if one is left.
    fn take(&mut self, slot: usize) -> Option<usize> {
        let i = self.next;
        if i >= self.planned.len() {
            return None;
        }
        self.next += 1;
        self.running[slot] = Some(i);
        Some(i)
    }

    fn epoch(&mut self, slot: usize, seconds: f64) {
        if let Some(i) = self.running[slot] {
            self.planned[i] = self.planned[i].saturating_sub(1);
        }
        self.epochs += 1;
        self.epoch_seconds += seconds;
    }

    /// Run `i` of job `slot` ended (`None`: failed), recorded as `id`.
    fn end(&mut self, slot: usize, i: usize, ended: Option<Ended>, id: Option<i64>) {
        self.running[slot] = None;
        self.planned[i] = 0;
        self.ids[i] = id;
        let s = &mut self.summary;
        match ended {
            Some(Ended::Finished) => s.finished += 1,
            Some(Ended::Skipped) => s.skipped += 1,
            Some(Ended::Diverged) => s.diverged += 1,
            Some(Ended::Interrupted) => s.interrupted = true,
            None => s.failed += 1,
        }
    }

    /// A job saw the stop request before its next run.
    fn stopped(&mut self) {
        if self.next < self.planned.len() {
            self.summary.interrupted = true;
        }
    }

    fn state(&self) -> SweepState {
        let s = &self.summary;
        let running: Vec<usize> = self.running.iter().flatten().copied().collect();
        let left = self.planned.len() - self.next;
        let remaining: usize = self.planned[self.next..].iter().sum::<usize>()
            + running.iter().map(|&i| self.planned[i]).sum::<usize>();
        let at_once = self.jobs.min(running.len() + left).max(1);
        let eta = (self.epochs > 0).then(|| {
            let per_epoch = self.epoch_seconds / self.epochs as f64;
            Duration::from_secs_f64(remaining as f64 * per_epoch / at_once as f64)
        });
        SweepState {
            total: self.planned.len(),
            done: s.finished + s.skipped,
            running: running.len(),
            failed: s.failed + s.diverged,
            left,
            eta,
        }
    }

    fn summary(self) -> Summary {
        let mut summary = self.summary;
        summary.runs = self.ids.into_iter().flatten().collect();
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eta_spreads_the_epochs_left_over_the_jobs_at_the_pace_so_far() {
        // 3 runs of 4 epochs, 2 jobs.
        let mut t = Tally::new(2, vec![4, 4, 4]);
        assert_eq!(t.state().eta, None, "no epoch yet");
        assert_eq!(t.take(0), Some(0));
        assert_eq!(t.take(1), Some(1));
        t.epoch(0, 10.0);
        t.epoch(1, 30.0);
        let s = t.state();
        assert_eq!((s.total, s.running, s.left, s.done), (3, 2, 1, 0));
        // 3 + 3 + 4 epochs left at 20 s each, 2 at a time.
        assert_eq!(
            s.eta,
            Some(Duration::from_secs_f64((3 + 3 + 4) as f64 * 20.0 / 2.0))
        );
        t.end(0, 0, None, None);
        assert_eq!(t.take(0), Some(2));
        t.end(1, 1, Some(Ended::Finished), Some(7));
        let s = t.state();
        assert_eq!((s.done, s.failed, s.running, s.left), (1, 1, 1, 0));
        // 4 epochs of the last run, one job left to run them.
        assert_eq!(s.eta, Some(Duration::from_secs_f64(4.0 * 20.0)));
        assert_eq!(t.take(1), None);
    }

    #[test]
    fn a_stop_before_the_last_run_started_is_an_interrupted_sweep() {
        let mut t = Tally::new(1, vec![2, 2]);
        t.take(0);
        t.end(0, 0, Some(Ended::Finished), Some(1));
        t.stopped();
        assert!(t.summary.interrupted, "one run was never started");
        let mut t = Tally::new(1, vec![2]);
        t.take(0);
        t.end(0, 0, Some(Ended::Finished), Some(1));
        t.stopped();
        assert!(!t.summary.interrupted, "every run had ended");
        assert_eq!(t.summary().runs, vec![1]);
    }
}
