//! One optimisation step on a batch: the piece the benchmark, the tests and
//! the runner share.

use dfdx::prelude::*;

use super::loss::loss;
use super::optim::Adam;
use crate::model::portable::{T1, T2, T4};
use crate::model::{Layers, Mode, Model};
use crate::spec::Loss;

/// Forward in training mode on a tape that keeps only the parameters'
/// gradients (`leaves`, from [`super::optim::leaf_ids`]), the loss, backward,
/// and one Adam update. Returns the batch's loss.
pub fn train_step<D: Layers>(
    model: &mut Model<D>,
    adam: &mut Adam<D>,
    leaves: &[UniqueId],
    images: T4<D>,
    targets: &T2<D>,
    kind: Loss,
    pos_weight: Option<&T1<D>>,
) -> Result<f32, D::Err> {
    let mut grads = Gradients::leaky();
    grads.retain_leafs(leaves);
    let logits = model.forward(images.traced(grads), Mode::Train)?;
    let loss = loss(kind, logits, targets, pos_weight)?;
    let value = loss.as_vec()[0];
    let mut grads = loss.backward();
    adam.update(&mut model.params, &mut grads)?;
    Ok(value)
}
