//! Training: the optimizer, the metrics, and the throughput benchmark so far;
//! the epoch loop, losses, schedules and checkpoints come with the runner.

pub mod bench;
pub mod metrics;
pub mod optim;
