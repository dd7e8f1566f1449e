//! Training: the optimizer, the metrics, the history-driven decisions (LR
//! schedule, early stopping, best epoch), and the throughput benchmark so far;
//! the epoch loop, losses, schedules and checkpoints come with the runner.

pub mod bench;
pub mod history;
pub mod metrics;
pub mod optim;
