//! The kernel sets a forward pass can run: which one a model asks for, and
//! the devices' layers, fast where a device has its own kernels (the CPU)
//! and portable otherwise.

use dfdx::prelude::*;

use super::arch::ConvBlock;
use super::params::Flat;
use super::portable::{self, T4};

/// Which implementation of the heavy layers a model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernels {
    /// dfdx custom ops with their own backward (CPU); other devices fall
    /// back to the portable layers.
    Fast,
    /// Built only from dfdx tensor ops: any device; the reference.
    Portable,
}

/// Devices with fast versions of some layers. The defaults are the portable
/// layers, so a device without its own kernels (CUDA) still runs.
pub trait Layers: Device<f32> {
    fn conv2d<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        w: &Flat<Self>,
        b: &Flat<Self>,
        block: &ConvBlock,
        _input_grad: bool,
    ) -> Result<T4<Self, T>, Self::Err> {
        portable::conv2d(x, w, b, block)
    }

    /// Batch norm with batch statistics, ReLU, then the 2x2 max-pool.
    fn batch_norm_relu_pool_train<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        gamma: &Flat<Self>,
        beta: &Flat<Self>,
        mean: &mut Flat<Self>,
        var: &mut Flat<Self>,
    ) -> Result<T4<Self, T>, Self::Err> {
        portable::max_pool2(portable::batch_norm_train(x, gamma, beta, mean, var)?.try_relu()?)
    }

    fn max_pool2<T: Tape<f32, Self>>(x: T4<Self, T>) -> Result<T4<Self, T>, Self::Err> {
        portable::max_pool2(x)
    }

    /// Batch norm with the running statistics, then ReLU.
    fn batch_norm_relu_eval<T: Tape<f32, Self>>(
        x: T4<Self, T>,
        gamma: &Flat<Self>,
        beta: &Flat<Self>,
        mean: &Flat<Self>,
        var: &Flat<Self>,
    ) -> Result<T4<Self, T>, Self::Err> {
        portable::batch_norm_eval(x, gamma, beta, mean, var)?.try_relu()
    }

    /// Dropout in training, its mask drawn from `seed`.
    fn dropout<S: Shape, T: Tape<f32, Self>>(
        x: Tensor<S, f32, Self, T>,
        p: f64,
        seed: u64,
    ) -> Result<Tensor<S, f32, Self, T>, Self::Err> {
        portable::dropout(x, p, seed)
    }
}

impl Layers for Cpu {
    fn conv2d<T: Tape<f32, Cpu>>(
        x: T4<Cpu, T>,
        w: &Flat<Cpu>,
        b: &Flat<Cpu>,
        block: &ConvBlock,
        input_grad: bool,
    ) -> Result<T4<Cpu, T>, CpuError> {
        super::fast::conv2d(x, w, b, block, input_grad)
    }

    fn batch_norm_relu_pool_train<T: Tape<f32, Cpu>>(
        x: T4<Cpu, T>,
        gamma: &Flat<Cpu>,
        beta: &Flat<Cpu>,
        mean: &mut Flat<Cpu>,
        var: &mut Flat<Cpu>,
    ) -> Result<T4<Cpu, T>, CpuError> {
        super::fast::batch_norm_relu_pool_train(x, gamma, beta, mean, var)
    }

    fn max_pool2<T: Tape<f32, Cpu>>(x: T4<Cpu, T>) -> Result<T4<Cpu, T>, CpuError> {
        super::fast::max_pool2(x)
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
            return portable::batch_norm_eval(x, gamma, beta, mean, var)?.try_relu();
        }
        let (x, tape) = x.split_tape();
        Ok(super::fast::batch_norm_relu_eval(x, gamma, beta, mean, var)?.put_tape(tape))
    }

    fn dropout<S: Shape, T: Tape<f32, Cpu>>(
        x: Tensor<S, f32, Cpu, T>,
        p: f64,
        seed: u64,
    ) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
        super::fast::dropout(x, p, seed)
    }
}

#[cfg(feature = "cuda")]
impl Layers for Cuda {}
