//! Models in training: a few Adam steps are bit-identical for the same seed,
//! whether rayon runs 1 thread or 2, for both architectures (dropout on).

use std::path::Path;

use dfdx::prelude::*;
use posterlab::model::{Architecture, Model};
use posterlab::spec::Loss;
use posterlab::train::optim::{leaf_ids, Optimizer};
use posterlab::train::step::train_step;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Losses of three training steps and the final weights.
fn train(spec: &str, seed: u64, threads: usize) -> (Vec<f32>, Vec<Vec<f32>>) {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let model_spec = posterlab::spec::load_str(Path::new("m.toml"), spec)
            .unwrap()
            .remove(0)
            .model;
        // 48 px, 16 images: the first dense matmul (16×576×128) is big enough
        // for dfdx's gemm to split it over threads, which must not change a bit.
        let (r, n, genres) = (48, 16, 25);
        let dev = Cpu::seed_from_u64(seed);
        let mut model = Model::new(
            Architecture::new(&model_spec, r, genres).unwrap(),
            seed,
            &dev,
        );
        let mut adam = Optimizer::adam(1e-3);
        let leaves = leaf_ids(&model.params);
        let mut rng = ChaCha8Rng::seed_from_u64(99);
        let mut losses = Vec::new();
        for _ in 0..3 {
            let x: Vec<f32> = (0..n * 3 * r * r).map(|_| rng.gen()).collect();
            let y: Vec<f32> = (0..n * genres)
                .map(|_| if rng.gen_bool(0.1) { 1.0 } else { 0.0 })
                .collect();
            let images = dev.tensor_from_vec(x, (n, 3, r, r));
            let targets = dev.tensor_from_vec(y, (n, genres));
            losses.push(
                train_step(
                    &mut model,
                    &mut adam,
                    &leaves,
                    images,
                    &targets,
                    Loss::Bce,
                    None,
                )
                .unwrap()
                .loss,
            );
        }
        (
            losses,
            model.params.tensors.iter().map(|t| t.as_vec()).collect(),
        )
    })
}

#[test]
fn training_is_bit_identical_with_one_or_two_threads() {
    for spec in [
        "",
        "[model]\narch = \"cnn_rnn\"\n",
        "[model]\narch = \"cnn_rnn\"\nrnn = \"lstm\"\n",
    ] {
        let one = train(spec, 5, 1);
        let two = train(spec, 5, 2);
        assert_eq!(one.0, two.0, "{spec:?}: losses");
        assert!(
            one.1 == two.1,
            "{spec:?}: weights differ between 1 and 2 threads"
        );
        assert!(one.0.iter().all(|l| l.is_finite()));
        let other = train(spec, 6, 2);
        assert_ne!(one.0, other.0, "{spec:?}: another seed trains differently");
    }
}
