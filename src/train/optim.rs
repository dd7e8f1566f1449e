//! The optimizers (`adam`, `adamw`, `sgd`) over a model's named parameters,
//! with weight decay and optional clipping by global gradient norm.
//!
//! dfdx's optimizers find parameters through `TensorCollection`, which cannot
//! describe run-time shapes, and keep their state private; this one keeps the
//! state itself (per-parameter buffers keyed by the parameter's id) and runs
//! dfdx's own update kernels on it, so it works on any device, and its state
//! can be written to a checkpoint and read back exactly.
//!
//! Semantics follow PyTorch: `adam` adds `weight_decay · p` to the gradient
//! (L2), `adamw` decays the weights directly (`p ← p − lr · wd · p`), `sgd`
//! adds L2 to the gradient and uses PyTorch's momentum and Nesterov forms;
//! clipping scales all gradients by `clip / (norm + 1e-6)` when the global
//! norm exceeds `clip`, before the update (`clip_grad_norm_`).

use dfdx::prelude::*;

use crate::model::Params;
use crate::spec::{self, TrainSpec};

pub struct Optimizer<D: Device<f32>> {
    kind: Kind,
    grad_clip: Option<f64>,
    /// Updates taken (Adam's bias correction needs it).
    pub step: i32,
    /// Adam's first moment, or SGD's velocity.
    moment1: Gradients<f32, D>,
    /// Adam's second moment.
    moment2: Gradients<f32, D>,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Adam(AdamConfig),
    Sgd(SgdConfig),
}

/// What one update saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UpdateStats {
    /// Global L2 norm of the gradients before clipping (only computed when
    /// clipping is on).
    pub grad_norm: Option<f64>,
}

impl<D: Device<f32>> Optimizer<D> {
    pub fn new(train: &TrainSpec) -> Optimizer<D> {
        let wd = (train.weight_decay > 0.0).then_some(train.weight_decay);
        let kind = match train.optimizer {
            spec::Optimizer::Adam { beta1, beta2, eps } => Kind::Adam(AdamConfig {
                lr: train.lr,
                betas: [beta1, beta2],
                eps,
                weight_decay: wd.map(WeightDecay::L2),
            }),
            spec::Optimizer::AdamW { beta1, beta2, eps } => Kind::Adam(AdamConfig {
                lr: train.lr,
                betas: [beta1, beta2],
                eps,
                weight_decay: wd.map(WeightDecay::Decoupled),
            }),
            spec::Optimizer::Sgd { momentum, nesterov } => Kind::Sgd(SgdConfig {
                lr: train.lr,
                momentum: match (momentum > 0.0, nesterov) {
                    (false, _) => None,
                    (true, false) => Some(Momentum::Classic(momentum)),
                    (true, true) => Some(Momentum::Nesterov(momentum)),
                },
                weight_decay: wd.map(WeightDecay::L2),
            }),
        };
        Optimizer {
            kind,
            grad_clip: train.grad_clip,
            step: 0,
            moment1: Gradients::leaky(),
            moment2: Gradients::leaky(),
        }
    }

    /// Plain Adam, as the benchmark uses.
    pub fn adam(lr: f64) -> Optimizer<D> {
        Optimizer {
            kind: Kind::Adam(AdamConfig {
                lr,
                ..Default::default()
            }),
            grad_clip: None,
            step: 0,
            moment1: Gradients::leaky(),
            moment2: Gradients::leaky(),
        }
    }

    pub fn set_lr(&mut self, lr: f64) {
        match &mut self.kind {
            Kind::Adam(c) => c.lr = lr,
            Kind::Sgd(c) => c.lr = lr,
        }
    }

    /// One update of every trained parameter from `grads` (which must hold
    /// a gradient for each).
    pub fn update(
        &mut self,
        params: &mut Params<D>,
        grads: Gradients<f32, D>,
    ) -> Result<UpdateStats, D::Err> {
        let trained: Vec<usize> = params.trained().collect();
        let mut grads = grads;
        let mut stats = UpdateStats { grad_norm: None };
        if let Some(clip) = self.grad_clip {
            let mut sum = 0.0f64;
            for &i in &trained {
                sum += grads
                    .get(&params.tensors[i])
                    .try_square()?
                    .try_sum()?
                    .as_vec()[0] as f64;
            }
            let norm = sum.sqrt();
            stats.grad_norm = Some(norm);
            if norm > clip {
                let scale = (clip / (norm + 1e-6)) as f32;
                let scaled = trained
                    .iter()
                    .map(|&i| grads.get(&params.tensors[i]).try_mul(scale))
                    .collect::<Result<Vec<_>, _>>()?;
                let keys: Vec<&Flat<D>> = trained.iter().map(|&i| &params.tensors[i]).collect();
                grads = holding(&keys, scaled)?;
            }
        }
        self.step += 1;
        for &i in &trained {
            let g = grads.get_or_alloc_mut(&params.tensors[i])?;
            let m = self.moment1.get_or_alloc_mut(&params.tensors[i])?;
            match &self.kind {
                Kind::Adam(config) => {
                    let v = self.moment2.get_or_alloc_mut(&params.tensors[i])?;
                    config.try_update(self.step, &mut params.tensors[i], m, v, g)?;
                }
                Kind::Sgd(config) => config.try_update(&mut params.tensors[i], m, g)?,
            }
        }
        Ok(stats)
    }

    /// The state to checkpoint, as (name, values) pairs, parameter names
    /// prefixed by `optim.m.` (Adam's first moment or SGD's velocity) and
    /// `optim.v.` (Adam's second moment). Empty before the first update.
    pub fn state(&self, params: &Params<D>) -> Vec<(String, Vec<f32>)> {
        if self.step == 0 {
            return Vec::new();
        }
        let mut out = Vec::new();
        for i in params.trained() {
            let (name, p) = (&params.specs[i].name, &params.tensors[i]);
            out.push((format!("optim.m.{name}"), self.moment1.get(p).as_vec()));
            if matches!(self.kind, Kind::Adam(_)) {
                out.push((format!("optim.v.{name}"), self.moment2.get(p).as_vec()));
            }
        }
        out
    }

    /// Restores what [`Optimizer::state`] returned, after `step` updates;
    /// `find` looks a buffer up by name. The parameters must be the ones the
    /// model now holds (the state is keyed by their ids).
    pub fn load_state(
        &mut self,
        params: &Params<D>,
        step: i32,
        find: impl Fn(&str) -> Option<Vec<f32>>,
    ) -> Result<(), String> {
        self.step = step;
        self.moment1 = Gradients::leaky();
        self.moment2 = Gradients::leaky();
        if step == 0 {
            return Ok(());
        }
        let trained: Vec<usize> = params.trained().collect();
        let keys: Vec<&Flat<D>> = trained.iter().map(|&i| &params.tensors[i]).collect();
        let adam = matches!(self.kind, Kind::Adam(_));
        for (prefix, into) in [
            ("optim.m.", &mut self.moment1),
            ("optim.v.", &mut self.moment2),
        ] {
            if prefix == "optim.v." && !adam {
                continue;
            }
            let mut values = Vec::with_capacity(trained.len());
            for &i in &trained {
                let spec = &params.specs[i];
                let name = format!("{prefix}{}", spec.name);
                let v = find(&name).ok_or_else(|| format!("the checkpoint has no `{name}`"))?;
                if v.len() != spec.numel() {
                    return Err(format!(
                        "`{name}` holds {} values, the model needs {}",
                        v.len(),
                        spec.numel()
                    ));
                }
                let dev = params.tensors[i].device();
                values.push(dev.tensor_from_vec(v, (spec.numel(),)));
            }
            *into = holding(&keys, values).map_err(|e| format!("{e:?}"))?;
        }
        Ok(())
    }
}

type Flat<D> = crate::model::params::Flat<D>;

/// Gradients holding `values[i]` for `keys[i]` (and nothing else).
///
/// dfdx offers no way to put given numbers into a `Gradients`; a backward
/// pass does: the gradient of `Σ key ⊙ value` with respect to `key` is
/// `value`, computed exactly (a multiply by 1 added to 0).
fn holding<D: Device<f32>>(
    keys: &[&Flat<D>],
    values: Vec<Flat<D>>,
) -> Result<Gradients<f32, D>, D::Err> {
    let mut grads = Gradients::leaky();
    let mut ids = UnusedTensors::default();
    for (key, value) in keys.iter().zip(values) {
        ids.add(*key);
        let total = (*key).clone().traced(grads).try_mul(value)?.try_sum()?;
        grads = total.backward();
    }
    grads.retain_leafs(&ids.ids);
    Ok(grads)
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

    fn params(dev: &Cpu) -> Params<Cpu> {
        let m = crate::spec::ModelSpec {
            channels: vec![2],
            dense: Vec::new(),
            ..crate::spec::ModelSpec::for_arch(crate::spec::Arch::Cnn)
        };
        let arch = crate::model::Architecture::new(&m, 8, 2).unwrap();
        Params::init(&arch, 1, dev)
    }

    fn train_spec(text: &str) -> TrainSpec {
        crate::spec::load_str(std::path::Path::new("t.toml"), text)
            .unwrap()
            .remove(0)
            .train
    }

    /// Gradients of `value` for every trained parameter.
    fn constant_grads(params: &Params<Cpu>, value: f32) -> Gradients<f32, Cpu> {
        let mut grads = Gradients::leaky();
        for i in params.trained() {
            let g = grads.get_or_alloc_mut(&params.tensors[i]).unwrap();
            g.iter_mut().for_each(|v| *v = value);
        }
        grads
    }

    #[test]
    fn adam_matches_the_textbook_update() {
        let dev = Cpu::default();
        let mut params = params(&dev);
        let before = params.get("out.bias").as_vec();
        let mut adam = Optimizer::adam(0.1);
        for step in 1..=2 {
            let g = constant_grads(&params, 0.5);
            adam.update(&mut params, g).unwrap();
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

    #[test]
    fn sgd_momentum_nesterov_and_weight_decay_follow_pytorch() {
        let dev = Cpu::default();
        // p = 1, two steps of g = 1 at lr 0.1:
        // momentum 0.9: v = 1, 1.9, so p = 1 − 0.1 − 0.19 = 0.71;
        // Nesterov: steps of g + 0.9v = 1.9, 2.71, so p = 1 − 0.19 − 0.271 = 0.539;
        // L2 0.5, no momentum: g = 1.5, then 1 + 0.5·0.85, so p = 0.85 − 0.1425 = 0.7075.
        for (text, want) in [
            ("optimizer = { kind = \"sgd\", momentum = 0.9 }", 0.71f32),
            (
                "optimizer = { kind = \"sgd\", momentum = 0.9, nesterov = true }",
                0.539,
            ),
            (
                "optimizer = { kind = \"sgd\", momentum = 0.0 }\nweight_decay = 0.5",
                0.7075,
            ),
        ] {
            let spec = train_spec(&format!("[train]\nlr = 0.1\n{text}\n"));
            let mut params = params(&dev);
            params.get_mut("out.bias").copy_from(&[1.0, 1.0]);
            let mut sgd = Optimizer::new(&spec);
            for _ in 0..2 {
                let g = constant_grads(&params, 1.0);
                sgd.update(&mut params, g).unwrap();
            }
            let got = params.get("out.bias").as_vec()[0];
            assert!((got - want).abs() < 1e-6, "{text}: {got} vs {want}");
        }
    }

    #[test]
    fn adamw_decays_the_weights_directly() {
        let dev = Cpu::default();
        let spec = train_spec("[train]\nlr = 0.1\noptimizer = \"adamw\"\nweight_decay = 0.5\n");
        let mut params = params(&dev);
        params.get_mut("out.bias").copy_from(&[1.0, -2.0]);
        let mut opt = Optimizer::new(&spec);
        let g = constant_grads(&params, 0.0);
        opt.update(&mut params, g).unwrap();
        // Zero gradient: Adam's step is 0; decoupled decay p ← p(1 − lr·wd).
        assert_eq!(params.get("out.bias").as_vec(), vec![0.95, -1.9]);
    }

    #[test]
    fn clipping_scales_the_global_norm_down_to_the_limit() {
        let dev = Cpu::default();
        let spec = train_spec(
            "[train]\nlr = 1.0\ngrad_clip = 1.0\noptimizer = { kind = \"sgd\", momentum = 0.0 }\n",
        );
        let mut params = params(&dev);
        let before: Vec<Vec<f32>> = params.tensors.iter().map(|t| t.as_vec()).collect();
        let n: usize = params.trained().map(|i| params.specs[i].numel()).sum();
        let mut opt = Optimizer::new(&spec);
        let g = constant_grads(&params, 3.0);
        let stats = opt.update(&mut params, g).unwrap();
        let norm = 3.0 * (n as f64).sqrt();
        assert!((stats.grad_norm.unwrap() - norm).abs() < 1e-3 * norm);
        // With lr 1, the step is the clipped gradient: its norm is the limit.
        let mut moved = 0.0f64;
        for i in params.trained() {
            for (a, b) in params.tensors[i].as_vec().iter().zip(&before[i]) {
                moved += ((a - b) as f64).powi(2);
            }
        }
        assert!((moved.sqrt() - 1.0).abs() < 1e-4, "moved {}", moved.sqrt());
    }

    #[test]
    fn state_round_trips_exactly() {
        let dev = Cpu::default();
        for text in [
            "optimizer = \"adam\"",
            "optimizer = { kind = \"sgd\", momentum = 0.9 }",
        ] {
            let spec = train_spec(&format!("[train]\n{text}\n"));
            let mut a_params = params(&dev);
            let mut a = Optimizer::new(&spec);
            let g = constant_grads(&a_params, 0.3);
            a.update(&mut a_params, g).unwrap();
            let state = a.state(&a_params);
            // A fresh optimizer on a copy of the parameters, given the state.
            let mut b_params = params(&dev);
            b_params
                .load_safetensors(&a_params.to_safetensors().unwrap())
                .unwrap();
            let mut b = Optimizer::new(&spec);
            b.load_state(&b_params, a.step, |name| {
                state
                    .iter()
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.clone())
            })
            .unwrap();
            assert_eq!(b.state(&b_params), state);
            let g = constant_grads(&a_params, -0.7);
            a.update(&mut a_params, g).unwrap();
            let g = constant_grads(&b_params, -0.7);
            b.update(&mut b_params, g).unwrap();
            for (x, y) in a_params.tensors.iter().zip(&b_params.tensors) {
                assert_eq!(x.as_vec(), y.as_vec(), "{text}");
            }
            let e = Optimizer::<Cpu>::new(&spec)
                .load_state(&b_params, 1, |_| None)
                .unwrap_err();
            assert!(e.contains("the checkpoint has no `optim.m."), "{e}");
        }
    }
}
