//! The layer sets a forward pass runs on: the portable layers on any device,
//! the fast ones on the CPU, and which set each device runs for
//! [`Kernels::Fast`]. `Model::forward` chooses a set once per pass.

use dfdx::prelude::*;

use super::arch::ConvBlock;
use super::fast;
use super::params::Flat;
use super::portable::{self, T4};

/// Which implementation of the heavy layers a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// dfdx custom ops with their own backward ([`FastCpu`]); devices
    /// without their own fall back to the portable layers.
    Fast,
    /// Built only from dfdx tensor ops ([`Portable`]): any device; the
    /// reference.
    Portable,
}

/// The layers whose implementation differs between kernel sets: a conv
/// block's, and dropout. Linear and recurrent layers are dfdx ops in every
/// set.
pub trait LayerSet<D: Device<f32>> {
    /// `input_grad = false` lets a set skip the gradient of x (the first
    /// block's input is the images).
    fn conv2d<T: Tape<f32, D>>(
        x: T4<D, T>,
        w: &Flat<D>,
        b: &Flat<D>,
        block: &ConvBlock,
        input_grad: bool,
    ) -> Result<T4<D, T>, D::Err>;

    /// Batch norm with batch statistics, ReLU, then the 2x2 max-pool.
    fn batch_norm_relu_pool_train<T: Tape<f32, D>>(
        x: T4<D, T>,
        gamma: &Flat<D>,
        beta: &Flat<D>,
        mean: &mut Flat<D>,
        var: &mut Flat<D>,
    ) -> Result<T4<D, T>, D::Err>;

    /// Batch norm with the running statistics, then ReLU.
    fn batch_norm_relu_eval<T: Tape<f32, D>>(
        x: T4<D, T>,
        gamma: &Flat<D>,
        beta: &Flat<D>,
        mean: &Flat<D>,
        var: &Flat<D>,
    ) -> Result<T4<D, T>, D::Err>;

    fn max_pool2<T: Tape<f32, D>>(x: T4<D, T>) -> Result<T4<D, T>, D::Err>;

    /// Dropout in training, its mask drawn from `seed`.
    fn dropout<S: Shape, T: Tape<f32, D>>(
        x: Tensor<S, f32, D, T>,
        p: f64,
        seed: u64,
    ) -> Result<Tensor<S, f32, D, T>, D::Err>;
}

/// The portable layers (`portable.rs`), on any device.
pub struct Portable;

impl<D: Device<f32>> LayerSet<D> for Portable {
    fn conv2d<T: Tape<f32, D>>(
        x: T4<D, T>,
        w: &Flat<D>,
        b: &Flat<D>,
        block: &ConvBlock,
        _input_grad: bool,
    ) -> Result<T4<D, T>, D::Err> {
        portable::conv2d(x, w, b, block)
    }

    fn batch_norm_relu_pool_train<T: Tape<f32, D>>(
        x: T4<D, T>,
        gamma: &Flat<D>,
        beta: &Flat<D>,
        mean: &mut Flat<D>,
        var: &mut Flat<D>,
    ) -> Result<T4<D, T>, D::Err> {
        portable::max_pool2(portable::batch_norm_train(x, gamma, beta, mean, var)?.try_relu()?)
    }

    fn batch_norm_relu_eval<T: Tape<f32, D>>(
        x: T4<D, T>,
        gamma: &Flat<D>,
        beta: &Flat<D>,
        mean: &Flat<D>,
        var: &Flat<D>,
    ) -> Result<T4<D, T>, D::Err> {
        portable::batch_norm_eval(x, gamma, beta, mean, var)?.try_relu()
    }

    fn max_pool2<T: Tape<f32, D>>(x: T4<D, T>) -> Result<T4<D, T>, D::Err> {
        portable::max_pool2(x)
    }

    fn dropout<S: Shape, T: Tape<f32, D>>(
        x: Tensor<S, f32, D, T>,
        p: f64,
        seed: u64,
    ) -> Result<Tensor<S, f32, D, T>, D::Err> {
        portable::dropout(x, p, seed)
    }
}

/// The fast CPU layers (`fast.rs`).
pub struct FastCpu;

impl LayerSet<Cpu> for FastCpu {
    fn conv2d<T: Tape<f32, Cpu>>(
        x: T4<Cpu, T>,
        w: &Flat<Cpu>,
        b: &Flat<Cpu>,
        block: &ConvBlock,
        input_grad: bool,
    ) -> Result<T4<Cpu, T>, CpuError> {
        fast::conv2d(x, w, b, block, input_grad)
    }

    fn batch_norm_relu_pool_train<T: Tape<f32, Cpu>>(
        x: T4<Cpu, T>,
        gamma: &Flat<Cpu>,
        beta: &Flat<Cpu>,
        mean: &mut Flat<Cpu>,
        var: &mut Flat<Cpu>,
    ) -> Result<T4<Cpu, T>, CpuError> {
        fast::batch_norm_relu_pool_train(x, gamma, beta, mean, var)
    }

    /// The fused kernel has no backward: with a tape to record on, the
    /// portable layers run instead.
    fn batch_norm_relu_eval<T: Tape<f32, Cpu>>(
        x: T4<Cpu, T>,
        gamma: &Flat<Cpu>,
        beta: &Flat<Cpu>,
        mean: &Flat<Cpu>,
        var: &Flat<Cpu>,
    ) -> Result<T4<Cpu, T>, CpuError> {
        if T::OWNS_TAPE {
            return Portable::batch_norm_relu_eval(x, gamma, beta, mean, var);
        }
        let (x, tape) = x.split_tape();
        Ok(fast::batch_norm_relu_eval(x, gamma, beta, mean, var)?.put_tape(tape))
    }

    fn max_pool2<T: Tape<f32, Cpu>>(x: T4<Cpu, T>) -> Result<T4<Cpu, T>, CpuError> {
        fast::max_pool2(x)
    }

    fn dropout<S: Shape, T: Tape<f32, Cpu>>(
        x: Tensor<S, f32, Cpu, T>,
        p: f64,
        seed: u64,
    ) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
        fast::dropout(x, p, seed)
    }
}

/// Devices a model runs on, each with the layer set it runs for
/// [`Kernels::Fast`]: its own kernels, or the portable layers where it has
/// none (CUDA), so every device runs either choice.
pub trait Layers: Device<f32> {
    type Fast: LayerSet<Self>;
}

impl Layers for Cpu {
    type Fast = FastCpu;
}

#[cfg(feature = "cuda")]
impl Layers for Cuda {
    type Fast = Portable;
}
