//! One optimisation step on a batch: the piece the benchmark, the tests and
//! the runner share.

use dfdx::prelude::*;

use super::loss::loss;
use super::optim::Optimizer;
use crate::model::portable::{T1, T2, T4};
use crate::model::{Layers, Mode, Model};
use crate::spec::Loss;

/// What a training step returns.
#[derive(Debug, Clone)]
pub struct Step {
    /// The batch's loss (before the update).
    pub loss: f32,
    /// The batch's logits, `n × genres` row-major, from the training forward
    /// pass (dropout on): what training metrics are computed from.
    pub logits: Vec<f32>,
}

/// Forward in training mode on a tape that keeps only the parameters'
/// gradients (`leaves`, from [`super::optim::leaf_ids`]), the loss, backward,
/// and one optimizer update. A non-finite loss skips the update (the caller
/// decides what divergence means) and is returned as is.
pub fn train_step<D: Layers>(
    model: &mut Model<D>,
    optimizer: &mut Optimizer<D>,
    leaves: &[UniqueId],
    images: T4<D>,
    targets: &T2<D>,
    kind: Loss,
    pos_weight: Option<&T1<D>>,
) -> Result<Step, D::Err> {
    let mut grads = Gradients::leaky();
    grads.retain_leafs(leaves);
    let logits = model.forward(images.traced(grads), Mode::Train)?;
    let values = logits.as_vec();
    let loss = loss(kind, logits, targets, pos_weight)?;
    let value = loss.as_vec()[0];
    if value.is_finite() {
        let grads = loss.backward();
        optimizer.update(&mut model.params, grads)?;
    }
    Ok(Step {
        loss: value,
        logits: values,
    })
}
