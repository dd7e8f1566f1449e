//! Optimizers over a model's named parameters.
//!
//! dfdx's `Adam` finds parameters through `TensorCollection`, which cannot
//! describe run-time shapes, and keeps its moments private; this one keeps the
//! moments itself (one buffer per parameter, keyed by the parameter's id) and
//! runs dfdx's Adam kernel on them, so it works on any device.

use dfdx::prelude::*;

use crate::model::Params;

pub struct Adam<D: Device<f32>> {
    config: AdamConfig,
    /// Steps taken (Adam's bias correction needs it).
    pub step: i32,
    moment1: Gradients<f32, D>,
    moment2: Gradients<f32, D>,
}

impl<D: Device<f32>> Adam<D> {
    pub fn new(lr: f64, betas: [f64; 2], eps: f64, weight_decay: Option<WeightDecay>) -> Adam<D> {
        Adam {
            config: AdamConfig {
                lr,
                betas,
                eps,
                weight_decay,
            },
            step: 0,
            moment1: Gradients::leaky(),
            moment2: Gradients::leaky(),
        }
    }

    pub fn set_lr(&mut self, lr: f64) {
        self.config.lr = lr;
    }

    /// One update of every trained parameter from `grads`.
    pub fn update(
        &mut self,
        params: &mut Params<D>,
        grads: &mut Gradients<f32, D>,
    ) -> Result<(), D::Err> {
        self.step += 1;
        let trained: Vec<usize> = params.trained().collect();
        for i in trained {
            let p = &mut params.tensors[i];
            let g = grads.get_or_alloc_mut(p)?;
            let m = self.moment1.get_or_alloc_mut(p)?;
            let v = self.moment2.get_or_alloc_mut(p)?;
            self.config.try_update(self.step, p, m, v, g)?;
        }
        Ok(())
    }
}

/// The ids of a model's trained parameters, for `Gradients::retain_leafs`
/// (so a backward pass keeps only the gradients the optimizer needs).
pub fn leaf_ids<D: Device<f32>>(params: &Params<D>) -> Vec<UniqueId> {
    let mut ids = UnusedTensors::default();
    for i in params.trained() {
        ids.add(&params.tensors[i]);
    }
    ids.ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adam_matches_the_textbook_update() {
        let dev = Cpu::default();
        let arch = {
            let m = crate::spec::load_str(
                std::path::Path::new("m.toml"),
                "[model]\nchannels = [2]\ndense = []\n[data]\nresolution = 8\n",
            )
            .unwrap()
            .remove(0)
            .model;
            crate::model::Architecture::new(&m, 8, 2).unwrap()
        };
        let mut params = Params::init(&arch, 1, &dev);
        let before = params.get("out.bias").as_vec();
        let mut adam = Adam::new(0.1, [0.9, 0.999], 1e-8, None);
        for step in 1..=2 {
            let mut grads = Gradients::leaky();
            for i in params.trained() {
                let g = grads.get_or_alloc_mut(&params.tensors[i]).unwrap();
                g.iter_mut().for_each(|v| *v = 0.5);
            }
            adam.update(&mut params, &mut grads).unwrap();
            // A constant gradient: m̂ = v̂^½ = 0.5 after bias correction, so each
            // step moves by lr · 0.5 / (0.5 + eps) ≈ lr.
            let after = params.get("out.bias").as_vec();
            for (a, b) in after.iter().zip(&before) {
                assert!(
                    (b - a - 0.1 * step as f32).abs() < 1e-5,
                    "step {step}: {b} -> {a}"
                );
            }
        }
    }
}
