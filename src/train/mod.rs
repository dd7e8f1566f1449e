//! Training: the epoch loop (`run`), losses, optimizers and their state,
//! checkpoints, metrics, the decisions taken from recorded history
//! (learning-rate schedule, early stopping, best epoch) and the throughput
//! benchmark. Results go to a [`run::Tracker`], which the store implements.

pub mod bench;
pub mod checkpoint;
pub mod history;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod run;
pub mod step;
