//! Training throughput: steady-state training and evaluation speed of a model
//! on random inputs (Adam, BCE with logits), with the analytic FLOP rate and
//! peak memory.
//!
//! Speed is the batch size over the median step time after warm-up steps;
//! training FLOPs count 3× the forward FLOPs (forward, plus input and weight
//! gradients), the usual convention.

use std::time::Instant;

use dfdx::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::optim::{leaf_ids, Optimizer};
use super::step::train_step;
use crate::model::{Architecture, Kernels, Layers, Mode, Model};
use crate::spec::{Device, Loss, ModelSpec};

#[derive(Debug, Clone)]
pub struct BenchConfig {
    pub resolution: usize,
    pub batch: usize,
    pub steps: usize,
    pub warmup: usize,
    pub threads: usize,
    pub kernels: Kernels,
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub arch: String,
    pub resolution: usize,
    pub batch: usize,
    pub steps: usize,
    pub threads: usize,
    pub device: String,
    pub kernels: String,
    pub params: usize,
    pub forward_mflop_per_image: f64,
    pub train_images_per_sec: f64,
    pub train_ms_per_step: f64,
    pub train_gflops: f64,
    pub eval_images_per_sec: f64,
    pub eval_gflops: f64,
    /// Peak resident memory of the process (VmHWM), where the OS reports it.
    pub peak_rss_mb: Option<f64>,
}

/// The median of `xs` (the mean of the middle two for an even count).
pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// Peak resident set size in MB, from /proc/self/status on Linux.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs the benchmark on `device`: the CPU with `config.threads` threads,
/// or a GPU (a build with the `cuda` feature).
pub fn run(
    spec: &ModelSpec,
    genres: usize,
    config: &BenchConfig,
    device: Device,
) -> Result<BenchReport, String> {
    match device {
        Device::Cpu => {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(config.threads)
                .build()
                .map_err(|e| e.to_string())?;
            pool.install(|| run_on(&Cpu::seed_from_u64(0), spec, genres, config, device))
        }
        #[cfg(feature = "cuda")]
        Device::Cuda(ordinal) => {
            let dev = Cuda::try_build(ordinal, 0)
                .map_err(|e| format!("cannot open cuda:{ordinal}: {e:?}"))?;
            run_on(&dev, spec, genres, config, device)
        }
        #[cfg(not(feature = "cuda"))]
        Device::Cuda(_) => Err(crate::model::NO_CUDA.to_string()),
    }
}

fn run_on<D: Layers>(
    dev: &D,
    spec: &ModelSpec,
    genres: usize,
    config: &BenchConfig,
    device: Device,
) -> Result<BenchReport, String> {
    let err = |e: D::Err| format!("{e:?}");
    let arch = Architecture::new(spec, config.resolution, genres)?;
    let mut model = Model::new(arch.clone(), 0, dev);
    model.kernels = config.kernels;
    let mut adam = Optimizer::adam(1e-3);
    let leaves = leaf_ids(&model.params);

    let (b, r) = (config.batch, config.resolution);
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let images: Vec<f32> = (0..b * 3 * r * r).map(|_| rng.gen()).collect();
    let targets: Vec<f32> = (0..b * genres)
        .map(|_| if rng.gen_bool(2.33 / 25.0) { 1.0 } else { 0.0 })
        .collect();
    let images = dev.tensor_from_vec(images, (b, 3, r, r));
    let targets = dev.tensor_from_vec(targets, (b, genres));

    let mut train_times = Vec::with_capacity(config.steps);
    for step in 0..config.warmup + config.steps {
        let started = Instant::now();
        train_step(
            &mut model,
            &mut adam,
            &leaves,
            images.clone(),
            &targets,
            Loss::Bce,
            None,
        )
        .map_err(err)?;
        if step >= config.warmup {
            train_times.push(started.elapsed().as_secs_f64());
        }
    }
    let mut eval_times = Vec::with_capacity(config.steps);
    for step in 0..config.warmup + config.steps {
        let started = Instant::now();
        let logits = model.forward(images.clone(), Mode::Eval).map_err(err)?;
        std::hint::black_box(logits.as_vec());
        if step >= config.warmup {
            eval_times.push(started.elapsed().as_secs_f64());
        }
    }

    let flops = arch.forward_flops() as f64;
    let train_step = median(train_times);
    let eval_step = median(eval_times);
    let train_ips = b as f64 / train_step;
    let eval_ips = b as f64 / eval_step;
    Ok(BenchReport {
        arch: spec.arch.to_string(),
        resolution: r,
        batch: b,
        steps: config.steps,
        threads: config.threads,
        device: device.to_string(),
        kernels: format!("{:?}", config.kernels).to_lowercase(),
        params: arch.num_params(),
        forward_mflop_per_image: flops / 1e6,
        train_images_per_sec: train_ips,
        train_ms_per_step: train_step * 1e3,
        train_gflops: 3.0 * flops * train_ips / 1e9,
        eval_images_per_sec: eval_ips,
        eval_gflops: flops * eval_ips / 1e9,
        peak_rss_mb: peak_rss_mb(),
    })
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} at {} px, batch {}, {} ({} thread{}), {} kernels: {} parameters, {:.1} MFLOP/image forward",
            self.arch,
            self.resolution,
            self.batch,
            self.device,
            self.threads,
            if self.threads == 1 { "" } else { "s" },
            self.kernels,
            crate::text::thousands(self.params),
            self.forward_mflop_per_image
        )?;
        writeln!(
            f,
            "train  {:>8.1} images/s  {:>7.1} ms/step (median of {})  {:>6.1} GFLOP/s",
            self.train_images_per_sec, self.train_ms_per_step, self.steps, self.train_gflops
        )?;
        writeln!(
            f,
            "eval   {:>8.1} images/s  {:>31.1} GFLOP/s",
            self.eval_images_per_sec, self.eval_gflops
        )?;
        if let Some(mb) = self.peak_rss_mb {
            writeln!(f, "peak memory {mb:.0} MB")?;
        }
        Ok(())
    }
}
