//! What training reports, and to what: the results of a split, of an epoch
//! and of the final test, and the [`Tracker`] trait the store implements.
//! Kept apart from the loop (`fit`) so that the store, checkpoints and the
//! schedule read these types without reaching into the loop.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::decision::Decided;
use super::metrics::Metrics;
use crate::metric::Metric;
use crate::spec::Monitor;

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
    /// The value of `metric` in this result.
    pub fn value(&self, metric: Metric) -> f64 {
        let m = &self.metrics;
        match metric {
            Metric::Loss => self.loss,
            Metric::MicroPrecision => m.micro_precision,
            Metric::MicroRecall => m.micro_recall,
            Metric::MicroF1 => m.micro_f1,
            Metric::MacroPrecision => m.macro_precision,
            Metric::MacroRecall => m.macro_recall,
            Metric::MacroF1 => m.macro_f1,
            Metric::SamplesF1 => m.samples_f1,
            Metric::SubsetAccuracy => m.subset_accuracy,
            Metric::BinaryAccuracy => m.binary_accuracy,
            Metric::HammingLoss => m.hamming_loss,
            Metric::MicroAp => m.micro_ap,
            Metric::MacroAp => m.macro_ap,
        }
    }

    /// The value of a monitored metric (the `val_` prefix names the split
    /// this result is for).
    pub fn monitored(&self, monitor: Monitor) -> f64 {
        self.value(monitor.metric())
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
    /// The test posters with their targets and scores.
    pub test: Scored,
    /// The test posters' image files, in split order.
    pub images: Vec<std::path::PathBuf>,
    /// The validation split under the same weights: what a tuned rule was
    /// tuned on.
    pub val: Scored,
    /// The run's rule, made concrete (tuned on `val` for a tuned rule).
    pub decided: Decided,
    /// Whether early stopping ended training before `epochs`.
    pub stopped_early: bool,
}

/// One split's posters with their targets and scores (`posters × genres`),
/// in split order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Scored {
    pub posters: Vec<String>,
    pub targets: Vec<u8>,
    pub scores: Vec<f32>,
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
