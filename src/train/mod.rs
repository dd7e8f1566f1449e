//! Training: the optimizer and the throughput benchmark so far; the epoch
//! loop, losses, schedules, metrics and checkpoints come with the runner.

pub mod bench;
pub mod optim;
