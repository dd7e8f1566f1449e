//! Training: the epoch loop (`fit`), what it reports (`record`: split, epoch
//! and test results, and the [`record::Tracker`] the store implements),
//! losses, optimizers and their state, checkpoints, metrics, the decisions
//! taken from recorded history (learning-rate schedule, early stopping, best
//! epoch) and the throughput benchmark.

pub mod bench;
pub mod checkpoint;
pub mod decision;
pub mod fit;
pub mod history;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod record;
pub mod step;
