//! The two architectures of the source reports, sized at run time: every
//! layer's shapes, every parameter's stable name and initialisation, and the
//! analytic cost — a description that knows nothing of devices or tensors.
//!
//! `cnn`: blocks of conv -> batch norm -> ReLU -> 2x2 max-pool -> dropout,
//! then flatten -> dense layers (ReLU + dropout) -> logits.
//! `cnn_rnn`: the same blocks, then the final map read as a sequence, one step
//! per row (each step the C×W values of that row), through a GRU or LSTM; the
//! last hidden state -> linear -> logits.
//!
//! Parameter names and layouts follow PyTorch (`Conv2d.weight` is
//! `[out, in, k, k]`, `Linear.weight` is `[out, in]`, GRU gates r|z|n, LSTM
//! gates i|f|g|o), so counts equal PyTorch's for the same configuration.

use crate::spec::{Arch, ModelSpec, Padding, RnnKind};

/// Input channels: posters are RGB.
pub const IN_CHANNELS: usize = 3;

/// One conv block's geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvBlock {
    pub in_channels: usize,
    pub out_channels: usize,
    pub kernel: usize,
    /// The architectures use 1; the layers take any.
    pub stride: usize,
    pub padding: Padding,
    /// Input side; the conv's output side; the side after the 2x2 pool.
    pub in_side: usize,
    pub conv_side: usize,
    pub out_side: usize,
}

impl ConvBlock {
    /// Zero padding on the top/left (PyTorch's `padding="same"` puts the odd
    /// pixel of an even kernel on the bottom/right).
    pub fn pad_before(&self) -> usize {
        match self.padding {
            Padding::Same => (self.kernel - 1) / 2,
            Padding::Valid => 0,
        }
    }

    /// The conv's output side for an input side (`same` pads k − 1 in all).
    pub fn output_side(&self, side: usize) -> usize {
        let total_pad = match self.padding {
            Padding::Same => self.kernel - 1,
            Padding::Valid => 0,
        };
        (side + total_pad - self.kernel) / self.stride + 1
    }
}

/// What follows the conv blocks.
#[derive(Debug, Clone, PartialEq)]
pub enum Head {
    /// Flatten (C×H×W, channels first) -> dense layers -> logits.
    Dense {
        inputs: usize,
        hidden: Vec<usize>,
        dropout: f64,
    },
    /// One step per row of the final map: `steps` steps of `inputs` = C×W values.
    Rnn {
        kind: RnnKind,
        steps: usize,
        inputs: usize,
        hidden: usize,
    },
}

/// A model's full description.
#[derive(Debug, Clone, PartialEq)]
pub struct Architecture {
    pub arch: Arch,
    pub resolution: usize,
    pub blocks: Vec<ConvBlock>,
    pub batch_norm: bool,
    pub conv_dropout: f64,
    pub head: Head,
    /// Logits: one per genre.
    pub outputs: usize,
}

/// How a parameter starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// U(-bound, bound): PyTorch's default for conv, linear (bound
    /// 1/sqrt(fan_in)) and recurrent (bound 1/sqrt(hidden)) layers.
    Uniform {
        bound: f32,
    },
    Constant(f32),
}

/// One named tensor of a model: a trained parameter or a buffer (batch norm's
/// running statistics).
#[derive(Debug, Clone, PartialEq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub init: Init,
    pub trained: bool,
}

impl TensorSpec {
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

impl Architecture {
    /// Sizes every layer for a square input of `resolution` and `outputs`
    /// genres. Fails (naming the block) if the map vanishes; the spec's
    /// validation already guarantees it does not.
    pub fn new(
        spec: &ModelSpec,
        resolution: usize,
        outputs: usize,
    ) -> Result<Architecture, String> {
        let sides = spec.feature_sides(resolution).map_err(|block| {
            format!(
                "resolution {resolution} is too small: the feature map vanishes at block {}",
                block + 1
            )
        })?;
        let mut blocks = Vec::with_capacity(spec.channels.len());
        let (mut in_channels, mut in_side) = (IN_CHANNELS, resolution);
        for (&out_channels, &out_side) in spec.channels.iter().zip(&sides) {
            let mut block = ConvBlock {
                in_channels,
                out_channels,
                kernel: spec.kernel,
                stride: 1,
                padding: spec.padding,
                in_side,
                conv_side: 0,
                out_side,
            };
            block.conv_side = block.output_side(in_side);
            blocks.push(block);
            (in_channels, in_side) = (out_channels, out_side);
        }
        let head = match (spec.arch, spec.rnn) {
            (Arch::Cnn, _) => Head::Dense {
                inputs: in_channels * in_side * in_side,
                hidden: spec.dense.clone(),
                dropout: spec.dense_dropout,
            },
            (Arch::CnnRnn, Some(rnn)) => Head::Rnn {
                kind: rnn.kind,
                steps: in_side,
                inputs: in_channels * in_side,
                hidden: rnn.hidden,
            },
            (Arch::CnnRnn, None) => return Err("cnn_rnn needs its rnn settings".into()),
        };
        Ok(Architecture {
            arch: spec.arch,
            resolution,
            blocks,
            batch_norm: spec.batch_norm,
            conv_dropout: spec.conv_dropout,
            head,
            outputs,
        })
    }

    /// Every parameter and buffer, in a fixed order, with PyTorch-style names.
    pub fn tensors(&self) -> Vec<TensorSpec> {
        let mut out = Vec::new();
        let mut push = |name: String, shape: Vec<usize>, init: Init, trained: bool| {
            out.push(TensorSpec {
                name,
                shape,
                init,
                trained,
            });
        };
        let uniform = |fan_in: usize| Init::Uniform {
            bound: 1.0 / (fan_in as f32).sqrt(),
        };
        for (i, b) in self.blocks.iter().enumerate() {
            let fan_in = b.in_channels * b.kernel * b.kernel;
            push(
                format!("features.{i}.conv.weight"),
                vec![b.out_channels, b.in_channels, b.kernel, b.kernel],
                uniform(fan_in),
                true,
            );
            push(
                format!("features.{i}.conv.bias"),
                vec![b.out_channels],
                uniform(fan_in),
                true,
            );
            if self.batch_norm {
                let c = vec![b.out_channels];
                push(
                    format!("features.{i}.bn.weight"),
                    c.clone(),
                    Init::Constant(1.0),
                    true,
                );
                push(
                    format!("features.{i}.bn.bias"),
                    c.clone(),
                    Init::Constant(0.0),
                    true,
                );
                push(
                    format!("features.{i}.bn.running_mean"),
                    c.clone(),
                    Init::Constant(0.0),
                    false,
                );
                push(
                    format!("features.{i}.bn.running_var"),
                    c,
                    Init::Constant(1.0),
                    false,
                );
            }
        }
        let last = match &self.head {
            Head::Dense { inputs, hidden, .. } => {
                let mut fan_in = *inputs;
                for (j, &h) in hidden.iter().enumerate() {
                    push(
                        format!("dense.{j}.weight"),
                        vec![h, fan_in],
                        uniform(fan_in),
                        true,
                    );
                    push(format!("dense.{j}.bias"), vec![h], uniform(fan_in), true);
                    fan_in = h;
                }
                fan_in
            }
            Head::Rnn {
                kind,
                inputs,
                hidden,
                ..
            } => {
                let gates = match kind {
                    RnnKind::Gru => 3,
                    RnnKind::Lstm => 4,
                } * hidden;
                let init = uniform(*hidden);
                push("rnn.weight_ih".into(), vec![gates, *inputs], init, true);
                push("rnn.weight_hh".into(), vec![gates, *hidden], init, true);
                push("rnn.bias_ih".into(), vec![gates], init, true);
                push("rnn.bias_hh".into(), vec![gates], init, true);
                *hidden
            }
        };
        push(
            "out.weight".into(),
            vec![self.outputs, last],
            uniform(last),
            true,
        );
        push("out.bias".into(), vec![self.outputs], uniform(last), true);
        out
    }

    /// Trained parameters, counted as PyTorch's `sum(p.numel() for p in model.parameters())`.
    pub fn num_params(&self) -> usize {
        self.tensors()
            .iter()
            .filter(|t| t.trained)
            .map(TensorSpec::numel)
            .sum()
    }

    /// Analytic forward FLOPs per image: 2 × the multiply-adds of the conv,
    /// linear and recurrent matmuls (batch norm, pooling, activations and
    /// biases are left out, as is usual). Training costs about 3× this.
    pub fn forward_flops(&self) -> u64 {
        let mut macs: u64 = 0;
        for b in &self.blocks {
            macs +=
                (b.conv_side * b.conv_side * b.out_channels * b.in_channels * b.kernel * b.kernel)
                    as u64;
        }
        let last = match &self.head {
            Head::Dense { inputs, hidden, .. } => {
                let mut fan_in = *inputs;
                for &h in hidden {
                    macs += (fan_in * h) as u64;
                    fan_in = h;
                }
                fan_in
            }
            Head::Rnn {
                kind,
                steps,
                inputs,
                hidden,
            } => {
                let gates = match kind {
                    RnnKind::Gru => 3,
                    RnnKind::Lstm => 4,
                } * hidden;
                macs += (steps * gates * (inputs + hidden)) as u64;
                *hidden
            }
        };
        macs += (last * self.outputs) as u64;
        2 * macs
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Arch, Padding, RnnKind};

    fn cnn() -> ModelSpec {
        ModelSpec::for_arch(Arch::Cnn)
    }

    fn cnn_rnn(kind: RnnKind) -> ModelSpec {
        let mut m = ModelSpec::for_arch(Arch::CnnRnn);
        m.rnn.as_mut().expect("a cnn_rnn has an rnn").kind = kind;
        m
    }

    /// The counts the models issue gives, which are PyTorch's for the same layers.
    #[test]
    fn parameter_counts_equal_pytorchs() {
        let seed = cnn();
        assert_eq!(
            Architecture::new(&seed, 64, 25).unwrap().num_params(),
            309_209
        );
        assert_eq!(
            Architecture::new(&seed, 128, 25).unwrap().num_params(),
            702_425
        );
        let gru = cnn_rnn(RnnKind::Gru);
        assert_eq!(
            Architecture::new(&gru, 64, 25).unwrap().num_params(),
            319_577
        );
        // LSTM: 4 gates of (256 inputs + 128 hidden + 2 biases) × 128, by hand.
        let lstm = cnn_rnn(RnnKind::Lstm);
        let trunk = 319_577 - (3 * (256 * 128 + 128 * 128 + 2 * 128) + 128 * 25 + 25);
        let expected = trunk + 4 * (256 * 128 + 128 * 128 + 2 * 128) + 128 * 25 + 25;
        assert_eq!(
            Architecture::new(&lstm, 64, 25).unwrap().num_params(),
            expected
        );
    }

    #[test]
    fn geometry_of_same_and_valid_padding() {
        let a = Architecture::new(&cnn(), 64, 25).unwrap();
        let sides: Vec<(usize, usize, usize)> = a
            .blocks
            .iter()
            .map(|b| (b.in_side, b.conv_side, b.out_side))
            .collect();
        assert_eq!(
            sides,
            vec![(64, 64, 32), (32, 32, 16), (16, 16, 8), (8, 8, 4)]
        );
        assert_eq!(
            a.head,
            Head::Dense {
                inputs: 64 * 4 * 4,
                hidden: vec![128, 64],
                dropout: 0.5
            }
        );
        assert_eq!(a.blocks[0].pad_before(), 2);

        let v = Architecture::new(
            &ModelSpec {
                padding: Padding::Valid,
                ..cnn()
            },
            76,
            25,
        )
        .unwrap();
        let sides: Vec<usize> = v.blocks.iter().map(|b| b.out_side).collect();
        assert_eq!(sides, vec![36, 16, 6, 1]);
        assert_eq!(v.blocks[0].pad_before(), 0);
    }

    #[test]
    fn the_rnn_reads_one_row_per_step() {
        let a = Architecture::new(&cnn_rnn(RnnKind::Gru), 64, 25).unwrap();
        assert_eq!(
            a.head,
            Head::Rnn {
                kind: RnnKind::Gru,
                steps: 4,
                inputs: 64 * 4,
                hidden: 128
            }
        );
    }

    #[test]
    fn names_are_stable_and_readable() {
        let names: Vec<String> = Architecture::new(&cnn(), 64, 25)
            .unwrap()
            .tensors()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert_eq!(
            &names[..6],
            [
                "features.0.conv.weight",
                "features.0.conv.bias",
                "features.0.bn.weight",
                "features.0.bn.bias",
                "features.0.bn.running_mean",
                "features.0.bn.running_var"
            ]
        );
        assert_eq!(
            &names[names.len() - 4..],
            ["dense.1.weight", "dense.1.bias", "out.weight", "out.bias"]
        );
        let rnn: Vec<String> = Architecture::new(&cnn_rnn(RnnKind::Gru), 64, 25)
            .unwrap()
            .tensors()
            .into_iter()
            .map(|t| t.name)
            .collect();
        assert!(
            rnn.contains(&"rnn.weight_ih".to_string()) && rnn.contains(&"rnn.bias_hh".to_string())
        );
    }

    #[test]
    fn flops_by_hand() {
        let a = Architecture::new(&cnn(), 64, 25).unwrap();
        let convs = 64 * 64 * 16 * 3 * 25
            + 32 * 32 * 32 * 16 * 25
            + 16 * 16 * 64 * 32 * 25
            + 8 * 8 * 64 * 64 * 25;
        let dense = 1024 * 128 + 128 * 64 + 64 * 25;
        assert_eq!(a.forward_flops(), 2 * (convs + dense) as u64);
    }
}
