//! The epoch loop of one run: train, evaluate on validation, decide the
//! schedule, checkpoint, record, stop early; at the end, test the best
//! checkpoint.
//!
//! It reports to a [`Tracker`] (the store implements it) and never writes
//! SQL. Every epoch's checkpoint is on disk before the tracker records the
//! epoch, and the tracker's count of completed epochs is what a resumed run
//! continues from, so a crash at any instant loses at most the epoch in
//! progress — and redoing it gives the same numbers, because every random
//! draw is a function of (seed, epoch, batch).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::checkpoint::{self, State};
use super::history::{best_epoch, learning_rate, should_stop};
use super::loss::{loss, pos_weights};
use super::metrics::{evaluate, Decision, Metrics};
use super::optim::{leaf_ids, Optimizer};
use super::step::train_step;
use crate::data::{epoch_order, Batch, Dataset, Split};
use crate::model::dropout::mix;
use crate::model::portable::T1;
use crate::model::{Architecture, Kernels, Layers, Mode, Model};
use crate::progress::Progress;
use crate::spec::{Loss, Monitor, Schedule, Spec};

/// Errors of a run: I/O, the store, the device. Data and spec problems are
/// caught before a run starts.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The loss and metrics of one split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitResult {
    pub posters: usize,
    /// Mean loss per poster (per poster and genre for the BCE losses).
    pub loss: f64,
    pub metrics: Metrics,
}

impl SplitResult {
    /// The value of a monitored metric (the `val_` prefix names the split
    /// this result is for).
    pub fn monitored(&self, monitor: Monitor) -> f64 {
        let m = &self.metrics;
        match monitor {
            Monitor::ValLoss => self.loss,
            Monitor::ValMicroF1 => m.micro_f1,
            Monitor::ValMacroF1 => m.macro_f1,
            Monitor::ValSamplesF1 => m.samples_f1,
            Monitor::ValMicroPrecision => m.micro_precision,
            Monitor::ValMicroRecall => m.micro_recall,
            Monitor::ValMacroPrecision => m.macro_precision,
            Monitor::ValMacroRecall => m.macro_recall,
            Monitor::ValMicroAp => m.micro_ap,
            Monitor::ValMacroAp => m.macro_ap,
            Monitor::ValSubsetAccuracy => m.subset_accuracy,
            Monitor::ValBinaryAccuracy => m.binary_accuracy,
            Monitor::ValHammingLoss => m.hamming_loss,
        }
    }
}

/// One completed epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochRecord {
    /// 1-based.
    pub epoch: usize,
    pub lr: f64,
    /// Wall time of the epoch: training, both evaluations, the checkpoint.
    pub seconds: f64,
    /// Training throughput (training phase only).
    pub images_per_sec: f64,
    /// Metrics of the training forward passes (dropout on, weights moving
    /// during the epoch), as Keras reports training metrics.
    pub train: SplitResult,
    pub val: SplitResult,
    /// The best epoch so far (1-based) by the spec's monitor.
    pub best_epoch: usize,
}

/// The test evaluation of the best checkpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct TestRecord {
    /// The epoch whose weights were tested (1-based).
    pub epoch: usize,
    pub result: SplitResult,
    /// Poster ids, targets and scores (`posters × genres`), in split order.
    pub posters: Vec<String>,
    pub targets: Vec<u8>,
    pub scores: Vec<f32>,
    pub decision: Decision,
    /// Whether early stopping ended training before `epochs`.
    pub stopped_early: bool,
}

/// Where a run's results go.
pub trait Tracker {
    /// Epochs already recorded (0 for a new run).
    fn completed_epochs(&mut self) -> Result<usize, Error>;
    /// Records a completed epoch whose checkpoint is already durable at
    /// `checkpoint`.
    fn record_epoch(&mut self, record: &EpochRecord, checkpoint: &Path) -> Result<(), Error>;
    /// Records the test results and marks the run finished.
    fn record_test(&mut self, record: &TestRecord) -> Result<(), Error>;
}

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
    let spec = cx.spec;
    let t = &spec.train;
    let hash = spec.hash();
    let genres = cx.data.genres.len();
    let arch = Architecture::new(&spec.model, cx.data.resolution as usize, genres)?;
    let mut model = Model::new(arch, t.seed, dev);
    model.kernels = cx.kernels;
    let mut optimizer = Optimizer::new(t);
    let decision = Decision::for_loss(t.loss, t.threshold);
    let pos_weight: Option<T1<D>> = matches!(t.loss, Loss::WeightedBce).then(|| {
        let w = pos_weights(&cx.data.labels, genres, &cx.split.train);
        dev.tensor_from_vec(w, (genres,))
    });
    std::fs::create_dir_all(cx.dir)
        .map_err(|e| format!("cannot create {}: {e}", cx.dir.display()))?;

    // Resume from the checkpoint of the last recorded epoch.
    let done = tracker.completed_epochs()?;
    let mut history: Vec<SplitResult> = Vec::new();
    if done > 0 {
        let path = checkpoint::epoch_path(cx.dir, done);
        let state = checkpoint::load(&path, &hash, &mut model, &mut optimizer)
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
            .note(&format!("{}: resuming after epoch {done}", spec.name));
    }
    let best_of = |history: &[SplitResult]| {
        best_epoch(&monitored(history, t.monitor), t.monitor.minimise()).map(|b| b + 1)
    };
    let best_now = best_of(&history);
    let keep: Vec<_> = [
        (done > 0).then(|| checkpoint::epoch_path(cx.dir, done)),
        best_now.map(|b| checkpoint::best_path(cx.dir, b)),
    ]
    .into_iter()
    .flatten()
    .collect();
    checkpoint::tidy(
        cx.dir,
        &keep.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
    )
    .map_err(|e| format!("cannot tidy {}: {e}", cx.dir.display()))?;

    let leaves = leaf_ids(&model.params);
    let mut batch = Batch::default();
    let mut stopped_early = false;
    for epoch in done..t.epochs {
        if let Some(rule) = &t.early_stopping {
            if should_stop(
                rule,
                &monitored(&history, rule.monitor),
                rule.monitor.minimise(),
            ) {
                stopped_early = true;
                break;
            }
        }
        let started = Instant::now();
        let lr = match &t.schedule {
            Schedule::Plateau { monitor, .. } => learning_rate(
                &t.schedule,
                t.lr,
                t.epochs,
                epoch,
                &monitored(&history, *monitor),
                monitor.minimise(),
            ),
            other => learning_rate(other, t.lr, t.epochs, epoch, &[], true),
        };
        optimizer.set_lr(lr);

        // Train.
        let order = epoch_order(&cx.split.train, t.seed, epoch);
        let batches = order.len().div_ceil(t.batch_size);
        cx.progress.begin(
            &format!("{} {}/{}", spec.name, epoch + 1, t.epochs),
            batches as u64,
        );
        let mut scores = Vec::with_capacity(order.len() * genres);
        let mut targets = Vec::with_capacity(order.len() * genres);
        let mut loss_sum = 0.0f64;
        for (b, indices) in order.chunks(t.batch_size).enumerate() {
            if cx.stop.load(Ordering::Relaxed) {
                cx.progress.end();
                return Ok(Outcome::Interrupted { epochs: epoch });
            }
            batch.fill(cx.data, indices);
            let n = batch.len;
            let r = cx.data.resolution as usize;
            let images = dev.tensor_from_vec(std::mem::take(&mut batch.images), (n, 3, r, r));
            let y = dev.tensor_from_vec(std::mem::take(&mut batch.targets), (n, genres));
            model.dropout_key = mix(t.seed, ((epoch as u64) << 32) | b as u64);
            let step = train_step(
                &mut model,
                &mut optimizer,
                &leaves,
                images,
                &y,
                t.loss,
                pos_weight.as_ref(),
            )
            .map_err(|e| format!("{e:?}"))?;
            if !step.loss.is_finite() {
                cx.progress.end();
                return Ok(Outcome::Diverged {
                    epoch: epoch + 1,
                    reason: format!(
                        "the training loss became {} at batch {} of epoch {}",
                        step.loss,
                        b + 1,
                        epoch + 1
                    ),
                });
            }
            loss_sum += step.loss as f64 * n as f64;
            scores.extend(to_scores(t.loss, &step.logits, genres));
            for &i in indices {
                targets.extend_from_slice(cx.data.label_row(i));
            }
            if b == 1 {
                crash_point("batch", epoch + 1);
            }
            cx.progress.advance(1);
            let seen = (b * t.batch_size + n) as f64;
            cx.progress.status(&format!(
                "loss {:.4}  {:.0} img/s",
                loss_sum / seen,
                seen / started.elapsed().as_secs_f64()
            ));
        }
        let train_seconds = started.elapsed().as_secs_f64();
        cx.progress.end();
        let train = SplitResult {
            posters: order.len(),
            loss: loss_sum / order.len().max(1) as f64,
            metrics: evaluate(&targets, &scores, genres, decision),
        };

        // Validate.
        let val = evaluate_split(&mut model, dev, cx, &cx.split.val, pos_weight.as_ref())?.result;
        if !val.loss.is_finite() {
            return Ok(Outcome::Diverged {
                epoch: epoch + 1,
                reason: format!(
                    "the validation loss became {} in epoch {}",
                    val.loss,
                    epoch + 1
                ),
            });
        }
        history.push(val.clone());
        let best = best_of(&history).expect("a finite validation loss gives a best epoch");

        // Checkpoint, then record.
        let state = State {
            spec_hash: hash.clone(),
            epoch: epoch + 1,
            optimizer_step: optimizer.step,
            history: history.clone(),
        };
        let path = checkpoint::save(cx.dir, &model, &optimizer, &state)?;
        let best_path = checkpoint::best_path(cx.dir, best);
        if best == epoch + 1 {
            checkpoint::save_best(cx.dir, &model, best, &hash)?;
        }
        crash_point("saved", epoch + 1);
        let record = EpochRecord {
            epoch: epoch + 1,
            lr,
            seconds: started.elapsed().as_secs_f64(),
            images_per_sec: order.len() as f64 / train_seconds,
            train,
            val,
            best_epoch: best,
        };
        tracker.record_epoch(&record, &path)?;
        crash_point("recorded", epoch + 1);
        checkpoint::tidy(cx.dir, &[&path, &best_path])
            .map_err(|e| format!("cannot tidy {}: {e}", cx.dir.display()))?;
        cx.progress.line(&epoch_line(spec, &record));
    }

    // Test the best checkpoint.
    crash_point("test", history.len());
    let best = best_of(&history).ok_or("no epoch completed")?;
    checkpoint::load_best(&checkpoint::best_path(cx.dir, best), &hash, &mut model).map_err(|e| {
        format!(
            "cannot test the best epoch ({best}): {e}\n  help: `posterlab run --force` retrains the run from the start"
        )
    })?;
    let test = evaluate_split(&mut model, dev, cx, &cx.split.test, pos_weight.as_ref())?;
    let result = test.result;
    let record = TestRecord {
        epoch: best,
        result: result.clone(),
        posters: cx
            .split
            .test
            .iter()
            .map(|&i| cx.data.ids[i].clone())
            .collect(),
        targets: test.targets,
        scores: test.scores,
        decision,
        stopped_early,
    };
    tracker.record_test(&record)?;
    Ok(Outcome::Finished {
        epochs: history.len(),
        best_epoch: best,
        test: result,
        stopped_early,
    })
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

/// The monitored value of each epoch.
fn monitored(history: &[SplitResult], monitor: Monitor) -> Vec<f64> {
    history.iter().map(|r| r.monitored(monitor)).collect()
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

/// A split evaluated: its loss and metrics, and the targets and scores
/// (`posters × genres`, in split order) they were computed from.
struct Evaluation {
    result: SplitResult,
    targets: Vec<u8>,
    scores: Vec<f32>,
}

/// The model (evaluation mode) on the posters `indices`.
fn evaluate_split<D: Layers>(
    model: &mut Model<D>,
    dev: &D,
    cx: &Context,
    indices: &[usize],
    pos_weight: Option<&T1<D>>,
) -> Result<Evaluation, Error> {
    let t = &cx.spec.train;
    let genres = cx.data.genres.len();
    let r = cx.data.resolution as usize;
    let mut batch = Batch::default();
    let (mut scores, mut targets) = (Vec::new(), Vec::new());
    let mut loss_sum = 0.0f64;
    for chunk in indices.chunks(t.batch_size.max(32)) {
        batch.fill(cx.data, chunk);
        let n = batch.len;
        for &i in chunk {
            targets.extend_from_slice(cx.data.label_row(i));
        }
        let images = dev.tensor_from_vec(std::mem::take(&mut batch.images), (n, 3, r, r));
        let y = dev.tensor_from_vec(std::mem::take(&mut batch.targets), (n, genres));
        let logits = model
            .forward(images, Mode::Eval)
            .map_err(|e| format!("{e:?}"))?;
        let values = logits.as_vec();
        let l = loss(t.loss, logits, &y, pos_weight).map_err(|e| format!("{e:?}"))?;
        loss_sum += l.as_vec()[0] as f64 * n as f64;
        scores.extend(to_scores(t.loss, &values, genres));
    }
    let result = SplitResult {
        posters: indices.len(),
        loss: loss_sum / indices.len().max(1) as f64,
        metrics: evaluate(
            &targets,
            &scores,
            genres,
            Decision::for_loss(t.loss, t.threshold),
        ),
    };
    Ok(Evaluation {
        result,
        targets,
        scores,
    })
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
