//! The losses a spec can name, on logits `[n, genres]` and multi-hot
//! targets, built from dfdx ops (any device, gradients by dfdx's tape).
//!
//! - `bce`: sigmoid binary cross-entropy with logits, mean over all
//!   (poster, genre) pairs — PyTorch's `BCEWithLogitsLoss`;
//! - `weighted_bce`: the same with each genre's positive term weighted by
//!   `pos_weight[g]` — PyTorch's `pos_weight`, from [`pos_weights`];
//! - `focal`: Lin et al.'s focal loss, mean of
//!   `α_t · (1 − p_t)^γ · BCE`, with `p_t` the probability of the true label
//!   and `α_t = α` for positives, `1 − α` for negatives;
//! - `categorical_ce`: softmax cross-entropy against the multi-hot target
//!   scaled to sum 1 (the second report's loss); mean over posters. Its
//!   model's softmax scores share one unit of probability between genres.

use dfdx::prelude::*;

use crate::model::portable::{T1, T2};
use crate::spec::Loss;

/// The loss of `logits` against `targets`; `pos_weight` (one per genre) is
/// needed by `weighted_bce` only.
pub fn loss<D: Device<f32>, T: Tape<f32, D>>(
    kind: Loss,
    logits: T2<D, T>,
    targets: &T2<D>,
    pos_weight: Option<&T1<D>>,
) -> Result<Tensor<(), f32, D, T>, D::Err> {
    let shape = *logits.shape();
    match kind {
        Loss::Bce => logits.try_bce_with_logits(targets.clone())?.try_mean(),
        Loss::WeightedBce => {
            // BCE = t·softplus(−x) + (1 − t)·softplus(x); weighting the
            // positive term by w adds (w − 1)·t·softplus(−x), and
            // softplus(−x) is the BCE against a target of 1.
            let w = pos_weight.expect("weighted_bce needs per-genre positive weights");
            let extra = w
                .clone()
                .try_add(-1.0)?
                .try_broadcast_like::<_, Axis<0>>(&shape)?
                .try_mul(targets.clone())?;
            let ones = targets.device().try_ones_like(&shape)?;
            let positive = logits
                .retaped::<T>()
                .try_bce_with_logits(ones)?
                .try_mul(extra)?;
            logits
                .try_bce_with_logits(targets.clone())?
                .try_add(positive)?
                .try_mean()
        }
        Loss::Focal { gamma, alpha } => {
            // 1 − p_t = p·(1 − 2t) + t; α_t = (2α − 1)·t + 1 − α.
            let flip = targets.clone().try_mul(-2.0)?.try_add(1.0)?;
            let miss = logits
                .retaped::<T>()
                .try_sigmoid()?
                .try_mul(flip)?
                .try_add(targets.clone())?;
            let alpha_t = targets
                .clone()
                .try_mul((2.0 * alpha - 1.0) as f32)?
                .try_add((1.0 - alpha) as f32)?;
            let modulation = miss.try_powf(gamma)?.try_mul(alpha_t)?;
            logits
                .try_bce_with_logits(targets.clone())?
                .try_mul(modulation)?
                .try_mean()
        }
        Loss::CategoricalCe => {
            let n = shape.0 as f32;
            // Each row of targets scaled to sum 1 (a row without genres stays 0).
            let sums: T1<D> = targets
                .clone()
                .try_sum::<_, Axis<1>>()?
                .try_clamp(1.0, f32::MAX)?;
            let q = targets
                .clone()
                .try_div(sums.try_broadcast_like::<_, Axis<1>>(&shape)?)?;
            logits
                .try_log_softmax::<Axis<1>>()?
                .try_mul(q)?
                .try_sum()?
                .try_mul(-1.0 / n)
        }
    }
}

/// Per-genre positive weights from the training split's prevalence:
/// negatives / positives (PyTorch's convention for `pos_weight`), 1 for a
/// genre without positives.
pub fn pos_weights(labels: &[u8], genres: usize, rows: &[usize]) -> Vec<f32> {
    let mut positives = vec![0usize; genres];
    for &r in rows {
        for (p, &l) in positives
            .iter_mut()
            .zip(&labels[r * genres..(r + 1) * genres])
        {
            *p += l as usize;
        }
    }
    positives
        .iter()
        .map(|&p| {
            if p == 0 {
                1.0
            } else {
                (rows.len() - p) as f32 / p as f32
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::portable::tests::{check_gradient, random};

    fn softplus(x: f64) -> f64 {
        (1.0 + x.exp()).ln()
    }

    fn sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }

    /// One poster, logits (0, 2), true genre 0 only.
    fn value(kind: Loss, weights: Option<Vec<f32>>) -> f64 {
        let dev = Cpu::default();
        let logits = dev.tensor_from_vec(vec![0.0f32, 2.0], (1, 2));
        let targets = dev.tensor_from_vec(vec![1.0f32, 0.0], (1, 2));
        let w = weights.map(|w| dev.tensor_from_vec(w, (2,)));
        loss(kind, logits, &targets, w.as_ref()).unwrap().array() as f64
    }

    #[test]
    fn values_by_hand() {
        let close = |got: f64, want: f64, what: &str| {
            assert!((got - want).abs() < 1e-6, "{what}: {got} vs {want}")
        };
        // BCE: positive at x = 0 costs ln 2; negative at x = 2 costs softplus(2).
        close(
            value(Loss::Bce, None),
            (2f64.ln() + softplus(2.0)) / 2.0,
            "bce",
        );
        close(
            value(Loss::WeightedBce, Some(vec![3.0, 1.0])),
            (3.0 * 2f64.ln() + softplus(2.0)) / 2.0,
            "weighted bce",
        );
        // Focal, γ = 2, α = 0.25: the positive has p_t = 0.5, the negative p_t = 1 − σ(2).
        let focal =
            (0.25 * 0.5f64.powi(2) * 2f64.ln() + 0.75 * sigmoid(2.0).powi(2) * softplus(2.0)) / 2.0;
        close(
            value(
                Loss::Focal {
                    gamma: 2.0,
                    alpha: 0.25,
                },
                None,
            ),
            focal,
            "focal",
        );
        // Categorical: −log softmax(0, 2)[0] = ln(1 + e²).
        close(
            value(Loss::CategoricalCe, None),
            softplus(2.0),
            "categorical ce",
        );
    }

    #[test]
    fn categorical_targets_are_scaled_to_sum_one() {
        let dev = Cpu::default();
        let logits = dev.tensor_from_vec(vec![1.0f32, 2.0, 3.0, 0.5, 0.5, 0.5], (2, 3));
        let targets = dev.tensor_from_vec(vec![1.0f32, 1.0, 0.0, 0.0, 0.0, 0.0], (2, 3));
        let got = loss(Loss::CategoricalCe, logits, &targets, None)
            .unwrap()
            .array() as f64;
        let lse = (1f64.exp() + 2f64.exp() + 3f64.exp()).ln();
        // Row 0: −(½·(1 − lse) + ½·(2 − lse)); row 1 has no genre: 0. Mean over 2 rows.
        let want = (lse - 1.5) / 2.0;
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }

    #[test]
    fn gradients_pass_finite_difference_checks() {
        let dev = Cpu::default();
        let (n, g) = (3, 4);
        let x0: Vec<f32> = random(n * g, 110).iter().map(|v| 2.0 * v).collect();
        let t: Vec<f32> = (0..n * g)
            .map(|i| if i % 3 == 0 { 1.0 } else { 0.0 })
            .collect();
        let w = dev.tensor_from_vec(vec![2.0f32, 0.5, 1.0, 4.0], (g,));
        for kind in [
            Loss::Bce,
            Loss::WeightedBce,
            Loss::Focal {
                gamma: 2.0,
                alpha: 0.25,
            },
            Loss::CategoricalCe,
        ] {
            let run = |x: &[f32]| {
                let xt = dev.tensor_from_vec(x.to_vec(), (n, g));
                let targets = dev.tensor_from_vec(t.clone(), (n, g));
                // ×100: the helper's tolerance is absolute below 1, and a mean
                // loss has small gradients.
                let l = loss(kind, xt.clone().leaky_traced(), &targets, Some(&w))
                    .unwrap()
                    .try_mul(100.0)
                    .unwrap();
                let value = l.array() as f64;
                (value, l.backward().get(&xt).as_vec())
            };
            let (_, analytic) = run(&x0);
            check_gradient(&format!("{kind:?}"), &x0, &analytic, &|x| run(x).0);
        }
    }

    #[test]
    fn positive_weights_are_negatives_over_positives() {
        // 4 training rows, 3 genres: genre 0 in 1 row, genre 1 in 2, genre 2 in none.
        let labels = [1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1];
        assert_eq!(
            pos_weights(&labels, 3, &[0, 1, 2, 3]),
            vec![3.0 / 1.0, 2.0 / 2.0, 1.0]
        );
    }
}
