//! What augmentation adds to an epoch's data path, on the real posters: the
//! training split of `experiments/seed1-cnn.toml` (64 px, 5,070 posters) cut
//! into batches of 32 as the trainer cuts them, filled plain
//! (`Batch::fill`) and augmented (`Batch::fill_augmented`, `augment =
//! true`), the two alternated, a whole epoch's batches each time; prints
//! the median epoch of each and the difference per poster.
//!
//! One thread and no model: the difference is the work augmentation adds
//! to each epoch, which `bench/augment.sh` (whole epochs, on a machine that
//! may be shared) can only resolve to a few per cent. Reads the posters
//! through the cache under `results/`, as `posterlab run` does (decoding
//! them there first if needed).
//!
//! `cargo bench --bench augment` (release); `cargo bench --bench augment -- 15`
//! for 15 rounds.

use std::path::Path;
use std::time::Instant;

use posterlab::data::{self, epoch_order, Augmenter, Batch, Split, Workspace};
use posterlab::progress::Quiet;
use posterlab::train::bench::median;

fn main() {
    let rounds: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(9);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("experiments/seed1-cnn.toml"))
        .expect("experiments/seed1-cnn.toml");
    let mut spec = posterlab::spec::load_str(Path::new("seed1-cnn.toml"), &text)
        .expect("the shipped spec")
        .remove(0);
    spec.data.dataset =
        posterlab::spec::DatasetRef::Path(root.join("../shared/data/movie-posters"));
    let augment = posterlab::spec::load_str(Path::new("a.toml"), "[data]\naugment = true\n")
        .expect("augment = true")[0]
        .data
        .augment
        .expect("on");
    let data = data::load(&spec.data, &Workspace::new(root.join("results")), &Quiet)
        .expect("the real posters (../shared/data/movie-posters)");
    let split = Split::new(
        &data.ids,
        spec.data.test_fraction,
        spec.data.val_fraction,
        spec.data.split_seed,
    );
    let batch_size = spec.train.batch_size;
    println!(
        "augment: {} training posters at {} px in batches of {batch_size}, {rounds} rounds",
        split.train.len(),
        data.resolution
    );

    let (mut plain, mut augmented) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let order = epoch_order(&split.train, spec.train.seed, round);
        let augmenter = Augmenter::new(augment, spec.train.seed, round);
        // Alternate which goes first, so that neither always follows the other.
        let passes = if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        };
        for augmenting in passes {
            let mut batch = Batch::default();
            let started = Instant::now();
            for chunk in order.chunks(batch_size) {
                if augmenting {
                    batch.fill_augmented(&data, chunk, &augmenter);
                } else {
                    batch.fill(&data, chunk);
                }
                // The trainer moves the buffers into tensors: a new one each batch.
                std::hint::black_box(std::mem::take(&mut batch.images));
            }
            let seconds = started.elapsed().as_secs_f64();
            if augmenting {
                &mut augmented
            } else {
                &mut plain
            }
            .push(seconds);
        }
    }
    let (plain, augmented) = (median(plain), median(augmented));
    let posters = split.train.len() as f64;
    println!(
        "plain     {:.3} s an epoch ({:.1} µs a poster)\naugmented {:.3} s an epoch ({:.1} µs a poster)\n\
         augmentation adds {:.3} s an epoch ({:.1} µs a poster)",
        plain,
        plain / posters * 1e6,
        augmented,
        augmented / posters * 1e6,
        augmented - plain,
        (augmented - plain) / posters * 1e6
    );
}
