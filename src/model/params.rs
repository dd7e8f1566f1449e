//! A model's named tensors on a device: parameters (trained) and buffers
//! (batch norm's running statistics), each stored flat and viewed in its
//! shape by the layers.
//!
//! dfdx 0.13's `TensorCollection` cannot describe tensors whose shapes are
//! known only at run time, so the store is the project's own: it initialises
//! from a seed, hands the optimizer its tensors by index, and converts to and
//! from safetensors bytes under the names of [`super::Architecture::tensors`].

use std::collections::HashMap;

use ::safetensors::tensor::{Dtype as SafeDtype, SafeTensors, TensorView};
use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::arch::{Architecture, Init, TensorSpec};

/// A flat tensor on device `D`.
pub type Flat<D> = Tensor<(usize,), f32, D>;

pub struct Params<D: Device<f32>> {
    pub specs: Vec<TensorSpec>,
    pub tensors: Vec<Flat<D>>,
}

/// The RNG stream that initial weights are drawn from (the training seed is
/// the key; other streams serve other purposes).
const INIT_STREAM: u64 = 1;

impl<D: Device<f32>> Params<D> {
    /// Fresh tensors for `arch`, drawn on the host from `seed` so that every
    /// device starts from the same numbers.
    pub fn init(arch: &Architecture, seed: u64, dev: &D) -> Params<D> {
        let specs = arch.tensors();
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(INIT_STREAM);
        let tensors = specs
            .iter()
            .map(|spec| {
                let values: Vec<f32> = match spec.init {
                    Init::Uniform { bound } => (0..spec.numel())
                        .map(|_| rng.gen_range(-bound..bound))
                        .collect(),
                    Init::Constant(c) => vec![c; spec.numel()],
                };
                dev.tensor_from_vec(values, (spec.numel(),))
            })
            .collect();
        Params { specs, tensors }
    }

    pub fn index(&self, name: &str) -> Option<usize> {
        self.specs.iter().position(|s| s.name == name)
    }

    /// The tensor called `name`; panics on a name the architecture lacks
    /// (a bug, not an input error).
    pub fn get(&self, name: &str) -> &Flat<D> {
        let i = self
            .index(name)
            .unwrap_or_else(|| panic!("no tensor named {name}"));
        &self.tensors[i]
    }

    pub fn get_mut(&mut self, name: &str) -> &mut Flat<D> {
        let i = self
            .index(name)
            .unwrap_or_else(|| panic!("no tensor named {name}"));
        &mut self.tensors[i]
    }

    /// Indices of the trained parameters (what the optimizer updates).
    pub fn trained(&self) -> impl Iterator<Item = usize> + '_ {
        self.specs
            .iter()
            .enumerate()
            .filter(|(_, s)| s.trained)
            .map(|(i, _)| i)
    }

    /// Every tensor as safetensors bytes (f32, little-endian, shaped).
    pub fn to_safetensors(&self) -> Result<Vec<u8>, String> {
        self.to_safetensors_with(&[], HashMap::new())
    }

    /// Every tensor, plus `extra` flat tensors (say, optimizer state) and
    /// string `metadata`, as safetensors bytes.
    pub fn to_safetensors_with(
        &self,
        extra: &[(String, Vec<f32>)],
        metadata: HashMap<String, String>,
    ) -> Result<Vec<u8>, String> {
        let le =
            |values: &[f32]| -> Vec<u8> { values.iter().flat_map(|v| v.to_le_bytes()).collect() };
        let mut entries: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .specs
            .iter()
            .zip(&self.tensors)
            .map(|(spec, t)| (spec.name.clone(), spec.shape.clone(), le(&t.as_vec())))
            .collect();
        for (name, values) in extra {
            entries.push((name.clone(), vec![values.len()], le(values)));
        }
        let views = entries
            .iter()
            .map(|(name, shape, b)| {
                TensorView::new(SafeDtype::F32, shape.clone(), b)
                    .map(|view| (name.clone(), view))
                    .map_err(|e| format!("{name}: {e:?}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let metadata = (!metadata.is_empty()).then_some(metadata);
        ::safetensors::tensor::serialize(views, &metadata)
            .map_err(|e| format!("cannot serialise weights: {e:?}"))
    }

    /// Replaces every tensor with the one of the same name in `bytes`; the
    /// names, shapes and dtype must match the architecture exactly.
    pub fn load_safetensors(&mut self, bytes: &[u8]) -> Result<(), String> {
        let file = SafeTensors::deserialize(bytes)
            .map_err(|e| format!("not a safetensors file: {e:?}"))?;
        self.load_from(&file, |_| false)
    }

    /// Like [`Params::load_safetensors`] on a parsed file, ignoring the
    /// tensors whose names `other` accepts (say, optimizer state).
    pub fn load_from(
        &mut self,
        file: &SafeTensors,
        other: impl Fn(&str) -> bool,
    ) -> Result<(), String> {
        let mut extra: Vec<String> = file
            .names()
            .into_iter()
            .filter(|n| self.index(n).is_none() && !other(n))
            .cloned()
            .collect();
        if !extra.is_empty() {
            extra.sort();
            return Err(format!(
                "weights for tensors this model does not have: {}",
                extra.join(", ")
            ));
        }
        for (spec, tensor) in self.specs.iter().zip(self.tensors.iter_mut()) {
            let view = file
                .tensor(&spec.name)
                .map_err(|_| format!("no weights for `{}`", spec.name))?;
            if view.dtype() != SafeDtype::F32 || view.shape() != spec.shape.as_slice() {
                return Err(format!(
                    "`{}` is {:?} {:?}, the model needs F32 {:?}",
                    spec.name,
                    view.dtype(),
                    view.shape(),
                    spec.shape
                ));
            }
            tensor.copy_from(&f32s(view.data()));
        }
        Ok(())
    }
}

/// Little-endian f32 bytes as values.
pub fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Arch, ModelSpec};

    fn arch(m: ModelSpec) -> Architecture {
        Architecture::new(&m, 32, 25).unwrap()
    }

    fn cnn() -> ModelSpec {
        ModelSpec::for_arch(Arch::Cnn)
    }

    #[test]
    fn init_is_seeded_and_follows_pytorchs_bounds() {
        let dev = Cpu::default();
        let a = Params::init(&arch(cnn()), 3, &dev);
        let b = Params::init(&arch(cnn()), 3, &dev);
        let c = Params::init(&arch(cnn()), 4, &dev);
        let w = |p: &Params<Cpu>| p.get("features.1.conv.weight").as_vec();
        assert_eq!(w(&a), w(&b));
        assert_ne!(w(&a), w(&c));
        let bound = 1.0 / ((16 * 5 * 5) as f32).sqrt();
        assert!(w(&a).iter().all(|v| v.abs() < bound));
        assert!(
            w(&a).iter().any(|v| v.abs() > 0.9 * bound),
            "spread over the whole range"
        );
        assert!(a
            .get("features.0.bn.running_var")
            .as_vec()
            .iter()
            .all(|&v| v == 1.0));
        assert_eq!(
            a.trained().count(),
            a.specs
                .iter()
                .filter(|s| !s.name.contains("running"))
                .count()
        );
    }

    #[test]
    fn safetensors_round_trip_and_mismatches_are_named() {
        let dev = Cpu::default();
        let a = Params::init(&arch(cnn()), 1, &dev);
        let bytes = a.to_safetensors().unwrap();
        let mut b = Params::init(&arch(cnn()), 2, &dev);
        b.load_safetensors(&bytes).unwrap();
        for (x, y) in a.tensors.iter().zip(&b.tensors) {
            assert_eq!(x.as_vec(), y.as_vec());
        }
        let names = SafeTensors::deserialize(&bytes)
            .unwrap()
            .names()
            .into_iter()
            .cloned()
            .collect::<Vec<_>>();
        assert!(
            names.contains(&"features.0.conv.weight".to_string())
                && names.contains(&"out.bias".to_string())
        );

        let mut wider = Params::init(
            &arch(ModelSpec {
                dense: vec![256, 64],
                ..cnn()
            }),
            1,
            &dev,
        );
        let e = wider.load_safetensors(&bytes).unwrap_err();
        assert!(
            e.contains("`dense.0.weight` is F32 [128, 1024]") || e.contains("dense.0.weight"),
            "{e}"
        );
        let mut rnn = Params::init(&arch(ModelSpec::for_arch(Arch::CnnRnn)), 1, &dev);
        let e = rnn.load_safetensors(&bytes).unwrap_err();
        assert!(e.contains("this model does not have: dense.0.bias"), "{e}");
        assert!(Params::init(&arch(cnn()), 1, &dev)
            .load_safetensors(b"junk")
            .unwrap_err()
            .contains("not a safetensors file"));
    }
}
