//! A model: its architecture and its parameters, and the forward pass of
//! both architectures, on the layer set (`layers`) its kernels name.

use dfdx::prelude::*;

use super::arch::{Architecture, Head};
use super::dropout::mix;
use super::layers::{Kernels, LayerSet, Layers, Portable};
use super::params::Params;
use super::portable::{self, RnnWeights, T2, T4};
use crate::spec::RnnKind;

/// Training or evaluation: batch statistics and dropout, or running
/// statistics and no dropout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Train,
    Eval,
}

/// What a build without the `cuda` feature says when asked for a GPU.
#[cfg(not(feature = "cuda"))]
pub const NO_CUDA: &str = "this posterlab was built without CUDA support\n  help: build it with \
    `cargo build --release --features cuda` (scripts/build-cuda.sh does that on a machine without \
    a CUDA install), or train on the CPU (train.device = \"cpu\", --device cpu)";

pub struct Model<D: Device<f32>> {
    pub arch: Architecture,
    pub params: Params<D>,
    pub kernels: Kernels,
    /// Seeds the dropout masks of the next training forward pass (each
    /// layer mixes in its index). The trainer sets it per step from the run
    /// seed, the epoch and the batch, so masks never depend on hidden RNG
    /// state and a resumed run repeats them exactly.
    pub dropout_key: u64,
}

impl<D: Layers> Model<D> {
    /// A freshly initialised model (weights drawn from `seed`) on the fast kernels.
    pub fn new(arch: Architecture, seed: u64, dev: &D) -> Model<D> {
        let params = Params::init(&arch, seed, dev);
        Model {
            arch,
            params,
            kernels: Kernels::Fast,
            dropout_key: seed,
        }
    }

    /// Images `[n, 3, r, r]` in [0, 1] → logits `[n, genres]`. In training
    /// mode batch norm updates its running statistics, and dropout masks
    /// come from [`Model::dropout_key`].
    pub fn forward<T: Tape<f32, D>>(
        &mut self,
        images: T4<D, T>,
        mode: Mode,
    ) -> Result<T2<D, T>, D::Err> {
        // The one choice of kernels: below it, every layer comes from one set.
        match self.kernels {
            Kernels::Fast => self.forward_on::<D::Fast, T>(images, mode),
            Kernels::Portable => self.forward_on::<Portable, T>(images, mode),
        }
    }

    /// [`Model::forward`] with the conv blocks' layers, and dropout, from `L`.
    fn forward_on<L: LayerSet<D>, T: Tape<f32, D>>(
        &mut self,
        images: T4<D, T>,
        mode: Mode,
    ) -> Result<T2<D, T>, D::Err> {
        let train = mode == Mode::Train;
        let mut x = images;
        for (i, block) in self.arch.blocks.iter().enumerate() {
            let p = |name: &str| format!("features.{i}.{name}");
            let (w, b) = (
                self.params.get(&p("conv.weight")),
                self.params.get(&p("conv.bias")),
            );
            // The first block's input is the images: no gradient needed.
            x = L::conv2d(x, w, b, block, i > 0)?; // [n, out_channels, conv_side, conv_side]
            x = if !self.arch.batch_norm {
                L::max_pool2(x.try_relu()?)?
            } else if train {
                let (gamma, beta) = (
                    self.params.get(&p("bn.weight")),
                    self.params.get(&p("bn.bias")),
                );
                let mut mean = self.params.get(&p("bn.running_mean")).clone();
                let mut var = self.params.get(&p("bn.running_var")).clone();
                let y = L::batch_norm_relu_pool_train(x, gamma, beta, &mut mean, &mut var)?;
                *self.params.get_mut(&p("bn.running_mean")) = mean;
                *self.params.get_mut(&p("bn.running_var")) = var;
                y
            } else {
                let [gamma, beta, mean, var] =
                    ["bn.weight", "bn.bias", "bn.running_mean", "bn.running_var"]
                        .map(|n| self.params.get(&p(n)));
                L::max_pool2(L::batch_norm_relu_eval(x, gamma, beta, mean, var)?)?
            }; // [n, out_channels, out_side, out_side]
            if train && self.arch.conv_dropout > 0.0 {
                let seed = mix(self.dropout_key, i as u64);
                x = L::dropout(x, self.arch.conv_dropout, seed)?;
            }
        }
        let (n, c, h, w) = *x.shape();
        let last = match &self.arch.head {
            Head::Dense {
                hidden, dropout, ..
            } => {
                let mut z = x.try_reshape_like(&(n, c * h * w))?; // channels first, as PyTorch flattens
                for j in 0..hidden.len() {
                    let (wj, bj) = (
                        self.params.get(&format!("dense.{j}.weight")),
                        self.params.get(&format!("dense.{j}.bias")),
                    );
                    z = portable::linear(z, wj, bj)?.try_relu()?;
                    if train && *dropout > 0.0 {
                        let seed = mix(self.dropout_key, (self.arch.blocks.len() + j) as u64);
                        z = L::dropout(z, *dropout, seed)?;
                    }
                }
                z
            }
            Head::Rnn { kind, hidden, .. } => {
                // One step per row: [n, c, h, w] -> [n, h, c*w].
                let seq = x
                    .try_permute::<_, Axes4<0, 2, 1, 3>>()?
                    .try_reshape_like(&(n, h, c * w))?;
                let weights = RnnWeights {
                    weight_ih: self.params.get("rnn.weight_ih"),
                    weight_hh: self.params.get("rnn.weight_hh"),
                    bias_ih: self.params.get("rnn.bias_ih"),
                    bias_hh: self.params.get("rnn.bias_hh"),
                    hidden: *hidden,
                };
                match kind {
                    RnnKind::Gru => portable::gru(seq, &weights)?,
                    RnnKind::Lstm => portable::lstm(seq, &weights)?,
                }
            }
        };
        portable::linear(
            last,
            self.params.get("out.weight"),
            self.params.get("out.bias"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::portable::tests::random;
    use crate::spec::{Arch, ModelSpec, RnnKind};

    fn model(spec: ModelSpec, resolution: usize, seed: u64) -> Model<Cpu> {
        Model::new(
            Architecture::new(&spec, resolution, 25).unwrap(),
            seed,
            &Cpu::seed_from_u64(seed),
        )
    }

    /// The seed CNN and the CNN+RNN with a GRU and with an LSTM, by name.
    fn archs() -> [(&'static str, ModelSpec); 3] {
        let mut lstm = ModelSpec::for_arch(Arch::CnnRnn);
        lstm.rnn.as_mut().expect("a cnn_rnn has an rnn").kind = RnnKind::Lstm;
        [
            ("cnn", ModelSpec::for_arch(Arch::Cnn)),
            ("cnn_rnn gru", ModelSpec::for_arch(Arch::CnnRnn)),
            ("cnn_rnn lstm", lstm),
        ]
    }

    fn images(n: usize, r: usize) -> Vec<f32> {
        random(n * 3 * r * r, 30)
            .iter()
            .map(|v| 0.5 + 0.5 * v)
            .collect()
    }

    #[test]
    fn both_architectures_give_one_logit_per_genre() {
        let dev = Cpu::default();
        for (text, spec) in archs() {
            let mut m = model(spec, 32, 1);
            for mode in [Mode::Train, Mode::Eval] {
                let x = dev.tensor_from_vec(images(3, 32), (3, 3, 32, 32));
                let y = m.forward(x, mode).unwrap();
                assert_eq!(*y.shape(), (3, 25), "{text} {mode:?}");
                assert!(y.as_vec().iter().all(|v| v.is_finite()));
            }
        }
    }

    #[test]
    fn evaluation_is_deterministic_and_training_mode_differs() {
        let dev = Cpu::default();
        let mut m = model(ModelSpec::for_arch(Arch::Cnn), 32, 2);
        let x = || dev.tensor_from_vec(images(4, 32), (4, 3, 32, 32));
        let a = m.forward(x(), Mode::Eval).unwrap().as_vec();
        assert_eq!(
            a,
            m.forward(x(), Mode::Eval).unwrap().as_vec(),
            "eval has no randomness"
        );
        let before = m.params.get("features.0.bn.running_mean").as_vec();
        let t = m.forward(x(), Mode::Train).unwrap().as_vec();
        assert_ne!(
            a, t,
            "training mode normalises by the batch and drops units"
        );
        assert_ne!(
            before,
            m.params.get("features.0.bn.running_mean").as_vec(),
            "running statistics moved"
        );
    }

    #[test]
    fn a_traced_forward_reaches_every_parameter() {
        let dev = Cpu::default();
        for (text, spec) in archs() {
            let mut m = model(spec, 32, 3);
            let x = dev.tensor_from_vec(images(2, 32), (2, 3, 32, 32));
            let loss = m.forward(x.leaky_traced(), Mode::Train).unwrap().sum();
            let grads = loss.backward();
            for i in m.params.trained() {
                let g = grads.get(&m.params.tensors[i]).as_vec();
                let name = &m.params.specs[i].name;
                // A conv bias followed by batch norm has (exactly) no effect.
                if !name.ends_with("conv.bias") {
                    assert!(
                        g.iter().any(|v| *v != 0.0),
                        "{text}: no gradient reaches {name}"
                    );
                }
            }
        }
    }

    #[test]
    fn fast_and_portable_models_agree() {
        let dev = Cpu::default();
        for (text, spec) in archs().into_iter().take(2) {
            let mut fast = model(spec.clone(), 32, 4);
            let mut slow = model(spec, 32, 4);
            slow.kernels = Kernels::Portable;
            let x = || dev.tensor_from_vec(images(3, 32), (3, 3, 32, 32));
            let a = fast.forward(x(), Mode::Eval).unwrap().as_vec();
            let b = slow.forward(x(), Mode::Eval).unwrap().as_vec();
            crate::model::portable::tests::assert_close(&a, &b, 1e-4, text);
            let ga = fast
                .forward(x().leaky_traced(), Mode::Eval)
                .unwrap()
                .sum()
                .backward();
            let gb = slow
                .forward(x().leaky_traced(), Mode::Eval)
                .unwrap()
                .sum()
                .backward();
            for i in fast.params.trained() {
                let name = &fast.params.specs[i].name;
                let (p, q) = (
                    ga.get(&fast.params.tensors[i]).as_vec(),
                    gb.get(&slow.params.tensors[i]).as_vec(),
                );
                crate::model::portable::tests::assert_close(&p, &q, 1e-3, name);
            }
        }
    }

    #[test]
    fn fast_and_portable_models_agree_in_training_mode() {
        // Both dropout layers draw one mask from the model's dropout key, so
        // training mode compares exactly: the fused batch norm + ReLU + pool
        // path and the fast dropout against the portable layers.
        let dev = Cpu::default();
        let spec = ModelSpec {
            conv_dropout: 0.25,
            dense_dropout: 0.5,
            ..ModelSpec::for_arch(Arch::Cnn)
        };
        let mut fast = model(spec.clone(), 32, 5);
        let mut slow = model(spec, 32, 5);
        slow.kernels = Kernels::Portable;
        let x = || dev.tensor_from_vec(images(4, 32), (4, 3, 32, 32));
        let ga = fast
            .forward(x().leaky_traced(), Mode::Train)
            .unwrap()
            .sum()
            .backward();
        let gb = slow
            .forward(x().leaky_traced(), Mode::Train)
            .unwrap()
            .sum()
            .backward();
        for i in 0..fast.params.tensors.len() {
            let name = &fast.params.specs[i].name;
            let (p, q) = (
                fast.params.tensors[i].as_vec(),
                slow.params.tensors[i].as_vec(),
            );
            crate::model::portable::tests::assert_close(&p, &q, 1e-4, name); // running statistics
            if fast.params.specs[i].trained && !name.ends_with("conv.bias") {
                let (p, q) = (
                    ga.get(&fast.params.tensors[i]).as_vec(),
                    gb.get(&slow.params.tensors[i]).as_vec(),
                );
                crate::model::portable::tests::assert_close(&p, &q, 1e-3, name);
            }
        }
    }
}
