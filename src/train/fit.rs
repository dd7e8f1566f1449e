//! Fitting one run: the epoch loop. Each epoch: learning rate → train →
//! evaluate on validation → checkpoint, then record → print → stop early?;
//! at the end, the best checkpoint is tested.
//!
//! It reports to a [`Tracker`] (the store implements it) and never writes
//! SQL. Every epoch's checkpoint is on disk before the tracker records the
//! epoch, and the tracker's count of completed epochs is what a resumed run
//! continues from, so a crash at any instant loses at most the epoch in
//! progress — and redoing it gives the same numbers, because every random
//! draw is a function of (seed, epoch, batch) — or poster, for augmentation.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use dfdx::prelude::*;

use super::checkpoint::{self, State};
use super::decision::{decide, Decided, Decision, Validation};
use super::history::{best_epoch, learning_rate, should_stop};
use super::loss::{loss, pos_weights};
use super::metrics::evaluate;
use super::optim::{leaf_ids, Optimizer};
use super::record::{EpochRecord, Error, Scored, SplitResult, TestRecord, Tracker};
use super::step::train_step;
use crate::data::{epoch_order, Augmenter, Batch, Dataset, Split};
use crate::model::dropout::mix;
use crate::model::portable::{T1, T2, T4};
use crate::model::{Architecture, Kernels, Layers, Mode, Model};
use crate::progress::Progress;
use crate::spec::{Loss, Spec};

/// How a run ended, when it did not fail.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Finished {
        epochs: usize,
        best_epoch: usize,
        test: SplitResult,
        stopped_early: bool,
    },
    /// The loss became NaN or infinite in epoch `epoch` (1-based).
    Diverged { epoch: usize, reason: String },
    /// Stopped on request; `epochs` completed and recorded.
    Interrupted { epochs: usize },
}

/// What a run reads.
pub struct Context<'a> {
    pub spec: &'a Spec,
    pub data: &'a Dataset,
    pub split: &'a Split,
    /// The run's checkpoint folder (created if missing).
    pub dir: &'a Path,
    pub progress: &'a dyn Progress,
    /// Set (by a signal handler) to stop after the current batch.
    pub stop: &'a AtomicBool,
    pub kernels: Kernels,
}

/// Trains (or resumes) the run described by `cx` on `dev`.
pub fn train<D: Layers>(
    dev: &D,
    cx: &Context,
    tracker: &mut dyn Tracker,
) -> Result<Outcome, Error> {
    let t = &cx.spec.train;
    let mut fit = Fit::new(dev, cx)?;
    let mut history = fit.resume(tracker.completed_epochs()?)?;
    let mut stopped_early = false;
    for epoch in history.len()..t.epochs {
        if should_stop(t.early_stopping.as_ref(), &history) {
            stopped_early = true;
            break;
        }
        let started = Instant::now();
        let lr = learning_rate(&t.schedule, t.lr, t.epochs, epoch, &history);
        fit.optimizer.set_lr(lr);
        let train = match fit.train_epoch(epoch)? {
            Ok(train) => train,
            Err(ended) => return Ok(ended),
        };
        let train_seconds = started.elapsed().as_secs_f64();
        let val = fit.evaluate(&cx.split.val)?;
        // Both splits under the epoch's rule: a tuned one tuned on this
        // epoch's validation predictions (so its validation metrics are
        // optimistic; the test never tunes).
        let decided = fit.decide(&val)?;
        let (train, val) = (
            train.finish(&decided.decision).result,
            val.finish(&decided.decision).result,
        );
        if !val.loss.is_finite() {
            let reason = format!(
                "the validation loss became {} in epoch {}",
                val.loss,
                epoch + 1
            );
            return Ok(Outcome::Diverged {
                epoch: epoch + 1,
                reason,
            });
        }
        history.push(val.clone());
        let best =
            best_epoch(&history, t.monitor).expect("a finite validation loss gives a best epoch");
        let saved = fit.checkpoint(&history, best)?;
        crash_point("saved", epoch + 1);
        let record = EpochRecord {
            epoch: epoch + 1,
            lr,
            seconds: started.elapsed().as_secs_f64(),
            images_per_sec: cx.split.train.len() as f64 / train_seconds,
            train,
            val,
            best_epoch: best,
        };
        tracker.record_epoch(&record, &saved[0])?;
        crash_point("recorded", epoch + 1);
        fit.tidy(&saved)?;
        cx.progress.line(&epoch_line(cx.spec, &record));
    }
    crash_point("test", history.len());
    let best = best_epoch(&history, t.monitor).ok_or("no epoch completed")?;
    let test = fit.test(best, stopped_early)?;
    tracker.record_test(&test)?;
    Ok(Outcome::Finished {
        epochs: history.len(),
        best_epoch: best,
        test: test.result,
        stopped_early,
    })
}

/// A run's model and optimizer with what their steps need.
struct Fit<'a, 'c, D: Layers> {
    dev: &'a D,
    cx: &'a Context<'c>,
    model: Model<D>,
    optimizer: Optimizer<D>,
    leaves: Vec<UniqueId>,
    pos_weight: Option<T1<D>>,
    hash: String,
}

impl<'a, 'c, D: Layers> Fit<'a, 'c, D> {
    fn new(dev: &'a D, cx: &'a Context<'c>) -> Result<Self, Error> {
        let t = &cx.spec.train;
        let genres = cx.data.genres.len();
        let arch = Architecture::new(&cx.spec.model, cx.data.resolution as usize, genres)?;
        let mut model = Model::new(arch, t.seed, dev);
        model.kernels = cx.kernels;
        let pos_weight = matches!(t.loss, Loss::WeightedBce).then(|| {
            let w = pos_weights(&cx.data.labels, genres, &cx.split.train);
            dev.tensor_from_vec(w, (genres,))
        });
        std::fs::create_dir_all(cx.dir)
            .map_err(|e| format!("cannot create {}: {e}", cx.dir.display()))?;
        Ok(Fit {
            dev,
            cx,
            leaves: leaf_ids(&model.params),
            model,
            optimizer: Optimizer::new(t),
            pos_weight,
            hash: cx.spec.hash(),
        })
    }

    /// Restores the state after the `done` epochs the tracker recorded (none
    /// for a new run), removes checkpoint files a crash left behind, and
    /// returns the validation history.
    fn resume(&mut self, done: usize) -> Result<Vec<SplitResult>, Error> {
        let (cx, dir) = (self.cx, self.cx.dir);
        let mut history = Vec::new();
        if done > 0 {
            let path = checkpoint::epoch_path(dir, done);
            let state = checkpoint::load(&path, &self.hash, &mut self.model, &mut self.optimizer)
                .map_err(|e| {
                    format!(
                        "cannot resume after epoch {done}: {e}\n  help: `posterlab run --force` retrains the run from the start"
                    )
                })?;
            if state.epoch != done || state.history.len() != done {
                return Err(format!(
                    "{}: holds epoch {} with {} epochs of history, the store recorded {done}",
                    path.display(),
                    state.epoch,
                    state.history.len()
                )
                .into());
            }
            history = state.history;
            cx.progress
                .note(&format!("{}: resuming after epoch {done}", cx.spec.name));
        }
        let keep: Vec<PathBuf> = [
            (done > 0).then(|| checkpoint::epoch_path(dir, done)),
            best_epoch(&history, cx.spec.train.monitor).map(|b| checkpoint::best_path(dir, b)),
        ]
        .into_iter()
        .flatten()
        .collect();
        self.tidy(&keep)?;
        Ok(history)
    }

    /// One epoch of training (0-based `epoch`): its training-split result,
    /// or how the run ended instead (interrupted, diverged).
    fn train_epoch(&mut self, epoch: usize) -> Result<Result<Pass, Outcome>, Error> {
        let (cx, t) = (self.cx, &self.cx.spec.train);
        let order = epoch_order(&cx.split.train, t.seed, epoch);
        let started = Instant::now();
        let label = format!("{} {}/{}", cx.spec.name, epoch + 1, t.epochs);
        cx.progress
            .begin(&label, order.len().div_ceil(t.batch_size) as u64);
        let mut pass = Pass::new(t.loss, order.len(), cx.data.genres.len());
        let augment = cx
            .spec
            .data
            .augment
            .map(|a| Augmenter::new(a, t.seed, epoch));
        for (b, (indices, images, y)) in
            batches(self.dev, cx.data, &order, t.batch_size, augment.as_ref()).enumerate()
        {
            if cx.stop.load(Ordering::Relaxed) {
                cx.progress.end();
                return Ok(Err(Outcome::Interrupted { epochs: epoch }));
            }
            self.model.dropout_key = mix(t.seed, ((epoch as u64) << 32) | b as u64);
            let step = train_step(
                &mut self.model,
                &mut self.optimizer,
                &self.leaves,
                images,
                &y,
                t.loss,
                self.pos_weight.as_ref(),
            )
            .map_err(|e| format!("{e:?}"))?;
            if !step.loss.is_finite() {
                cx.progress.end();
                let reason = format!(
                    "the training loss became {} at batch {} of epoch {}",
                    step.loss,
                    b + 1,
                    epoch + 1
                );
                return Ok(Err(Outcome::Diverged {
                    epoch: epoch + 1,
                    reason,
                }));
            }
            pass.add(cx.data, indices, step.loss, &step.logits);
            if b == 1 {
                crash_point("batch", epoch + 1);
            }
            cx.progress.advance(1);
            let per_sec = pass.seen as f64 / started.elapsed().as_secs_f64();
            cx.progress
                .status(&format!("loss {:.4}  {per_sec:.0} img/s", pass.mean_loss()));
        }
        cx.progress.end();
        Ok(Ok(pass))
    }

    /// The model, in evaluation mode, on the posters `indices`: their
    /// loss, targets and scores, to be judged by a decision.
    fn evaluate(&mut self, indices: &[usize]) -> Result<Pass, Error> {
        let t = &self.cx.spec.train;
        let mut pass = Pass::new(t.loss, indices.len(), self.cx.data.genres.len());
        let posters = batches(self.dev, self.cx.data, indices, t.batch_size.max(32), None);
        for (chunk, images, y) in posters {
            let logits = self
                .model
                .forward(images, Mode::Eval)
                .map_err(|e| format!("{e:?}"))?;
            let values = logits.as_vec();
            let l =
                loss(t.loss, logits, &y, self.pos_weight.as_ref()).map_err(|e| format!("{e:?}"))?;
            pass.add(self.cx.data, chunk, l.as_vec()[0], &values);
        }
        Ok(pass)
    }

    /// The spec's rule made concrete, a tuned one on `val`'s predictions.
    fn decide(&self, val: &Pass) -> Result<Decided, Error> {
        let t = &self.cx.spec.train;
        let val = Validation {
            targets: &val.targets,
            scores: &val.scores,
        };
        Ok(decide(
            t.decision,
            t.threshold,
            self.cx.data.genres.len(),
            Some(val),
        )?)
    }

    /// Writes the state after the epochs of `history`, and the weights as
    /// the best ones when this epoch is `best`; returns the files now
    /// current: the epoch's checkpoint, then the best one.
    fn checkpoint(&self, history: &[SplitResult], best: usize) -> Result<[PathBuf; 2], Error> {
        let (dir, epoch) = (self.cx.dir, history.len());
        let state = State {
            spec_hash: self.hash.clone(),
            epoch,
            optimizer_step: self.optimizer.step,
            history: history.to_vec(),
        };
        let path = checkpoint::save(dir, &self.model, &self.optimizer, &state)?;
        if best == epoch {
            checkpoint::save_best(dir, &self.model, best, &self.hash)?;
        }
        Ok([path, checkpoint::best_path(dir, best)])
    }

    /// Removes the run's checkpoint files other than `keep`.
    fn tidy(&self, keep: &[PathBuf]) -> Result<(), Error> {
        let keep: Vec<&Path> = keep.iter().map(PathBuf::as_path).collect();
        checkpoint::tidy(self.cx.dir, &keep)
            .map_err(|e| format!("cannot tidy {}: {e}", self.cx.dir.display()).into())
    }

    /// The test split under the weights of epoch `best`.
    fn test(&mut self, best: usize, stopped_early: bool) -> Result<TestRecord, Error> {
        let path = checkpoint::best_path(self.cx.dir, best);
        checkpoint::load_best(&path, &self.hash, &mut self.model).map_err(|e| {
            format!(
                "cannot test the best epoch ({best}): {e}\n  help: `posterlab run --force` retrains the run from the start"
            )
        })?;
        // The validation predictions of the tested weights: what a tuned
        // rule is tuned on, stored so that `rescore` can tune others.
        let val = self.evaluate(&self.cx.split.val)?;
        let decided = self.decide(&val)?;
        let test = self
            .evaluate(&self.cx.split.test)?
            .finish(&decided.decision);
        let (data, test_split) = (self.cx.data, &self.cx.split.test);
        let ids = |split: &[usize]| split.iter().map(|&i| data.ids[i].clone()).collect();
        Ok(TestRecord {
            epoch: best,
            result: test.result,
            test: Scored {
                posters: ids(test_split),
                targets: test.targets,
                scores: test.scores,
            },
            // Absolute, so that the report finds them from any folder.
            images: test_split
                .iter()
                .map(|&i| {
                    std::path::absolute(&data.images[i]).unwrap_or_else(|_| data.images[i].clone())
                })
                .collect(),
            val: Scored {
                posters: ids(&self.cx.split.val),
                targets: val.targets,
                scores: val.scores,
            },
            decided,
            stopped_early,
        })
    }
}

/// The posters `indices` in batches of `size`, each with its indices and
/// as device tensors: images `[n, 3, r, r]` and targets `[n, genres]`. The
/// one path from posters to the model, for training and evaluation alike;
/// `augment` is for training only (evaluation passes `None`).
fn batches<'a, D: Layers>(
    dev: &'a D,
    data: &'a Dataset,
    indices: &'a [usize],
    size: usize,
    augment: Option<&'a Augmenter>,
) -> impl Iterator<Item = (&'a [usize], T4<D>, T2<D>)> + 'a {
    let (r, genres) = (data.resolution as usize, data.genres.len());
    let mut batch = Batch::default();
    indices.chunks(size).map(move |chunk| {
        match augment {
            Some(augment) => batch.fill_augmented(data, chunk, augment),
            None => batch.fill(data, chunk),
        }
        let n = batch.len;
        let images = dev.tensor_from_vec(std::mem::take(&mut batch.images), (n, 3, r, r));
        let y = dev.tensor_from_vec(std::mem::take(&mut batch.targets), (n, genres));
        (chunk, images, y)
    })
}

/// A split evaluated: its loss and metrics, and the targets and scores
/// (`posters × genres`, in split order) they were computed from.
struct Evaluation {
    result: SplitResult,
    targets: Vec<u8>,
    scores: Vec<f32>,
}

/// What the batches of one pass over posters add up to: the loss weighted
/// by batch size, every poster's targets and scores.
struct Pass {
    loss: Loss,
    genres: usize,
    posters: usize,
    seen: usize,
    loss_sum: f64,
    targets: Vec<u8>,
    scores: Vec<f32>,
}

impl Pass {
    fn new(loss: Loss, posters: usize, genres: usize) -> Pass {
        Pass {
            loss,
            genres,
            posters,
            seen: 0,
            loss_sum: 0.0,
            targets: Vec::with_capacity(posters * genres),
            scores: Vec::with_capacity(posters * genres),
        }
    }

    /// A batch of the posters `indices`: its mean loss and its logits.
    fn add(&mut self, data: &Dataset, indices: &[usize], loss: f32, logits: &[f32]) {
        self.loss_sum += loss as f64 * indices.len() as f64;
        self.seen += indices.len();
        self.scores
            .extend(to_scores(self.loss, logits, self.genres));
        for &i in indices {
            self.targets.extend_from_slice(data.label_row(i));
        }
    }

    fn mean_loss(&self) -> f64 {
        self.loss_sum / self.seen.max(1) as f64
    }

    fn finish(self, decision: &Decision) -> Evaluation {
        let result = SplitResult {
            posters: self.posters,
            loss: self.loss_sum / self.posters.max(1) as f64,
            metrics: evaluate(&self.targets, &self.scores, self.genres, decision),
        };
        Evaluation {
            result,
            targets: self.targets,
            scores: self.scores,
        }
    }
}

/// Testing hook: with `POSTERLAB_CRASH=<point>@<epoch>` in the environment
/// the process aborts — as `kill -9` or a power cut would end it — at a named
/// point of that (1-based) epoch: `batch` (after its second training batch),
/// `saved` (its checkpoint written, the epoch not yet recorded), `recorded`
/// (recorded, superseded checkpoints not yet removed) or `test` (after the
/// last epoch, before the test). The resume tests use it.
fn crash_point(point: &str, epoch: usize) {
    if let Ok(want) = std::env::var("POSTERLAB_CRASH") {
        if want == format!("{point}@{epoch}") {
            eprintln!("POSTERLAB_CRASH: aborting at {want}");
            std::process::abort();
        }
    }
}

/// Scores from logits: sigmoid probabilities, or softmax ones for a model
/// trained with `categorical_ce`.
pub fn to_scores(loss: Loss, logits: &[f32], genres: usize) -> Vec<f32> {
    match loss {
        Loss::CategoricalCe => logits
            .chunks(genres)
            .flat_map(|row| {
                let top = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let exp: Vec<f32> = row.iter().map(|&x| (x - top).exp()).collect();
                let sum: f32 = exp.iter().sum();
                exp.into_iter().map(move |e| e / sum)
            })
            .collect(),
        _ => logits.iter().map(|&x| 1.0 / (1.0 + (-x).exp())).collect(),
    }
}

/// The one-line summary of an epoch.
fn epoch_line(spec: &Spec, r: &EpochRecord) -> String {
    format!(
        "{} epoch {:>3}/{}  loss {:.4} / val {:.4}  val micro-F1 {:.3}  macro-F1 {:.3}  mAP {:.3}  lr {:.2e}  {:.1} s ({:.0} img/s){}",
        spec.name,
        r.epoch,
        spec.train.epochs,
        r.train.loss,
        r.val.loss,
        r.val.metrics.micro_f1,
        r.val.metrics.macro_f1,
        r.val.metrics.micro_ap,
        r.lr,
        r.seconds,
        r.images_per_sec,
        if r.best_epoch == r.epoch { "  *best" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_sigmoids_or_row_softmaxes() {
        let logits = [0.0, 2.0f32.ln(), -1.0, 1.0];
        let s = to_scores(Loss::Bce, &logits, 2);
        assert!((s[0] - 0.5).abs() < 1e-7 && (s[1] - 2.0 / 3.0).abs() < 1e-6);
        let s = to_scores(Loss::CategoricalCe, &logits, 2);
        assert!((s[0] - 1.0 / 3.0).abs() < 1e-6 && (s[1] - 2.0 / 3.0).abs() < 1e-6);
        assert!((s[2] + s[3] - 1.0).abs() < 1e-6 && s[3] > s[2]);
    }
}
