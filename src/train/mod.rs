//! Training, so far in pieces: the losses, the optimizer, the metrics, the
//! decisions taken from recorded history (learning-rate schedule, early
//! stopping, best epoch) and the throughput benchmark. The epoch loop, the
//! store and checkpoints come with the runner (issue 4).

pub mod bench;
pub mod history;
pub mod loss;
pub mod metrics;
pub mod optim;
pub mod step;
