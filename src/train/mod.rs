//! Training: the optimizer, the metrics, the history-driven decisions (LR
//! schedule, early stopping, best epoch), and the throughput benchmark so far;
//! the losses; the epoch loop, the store and checkpoints come with the runner.

pub mod bench;
pub mod history;
pub mod loss;
pub mod metrics;
pub mod optim;
