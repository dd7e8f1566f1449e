//! Batches for training and evaluation: a seeded order per epoch, and posters
//! turned into `f32` tensors in [0, 1] with their multi-hot targets, training
//! posters augmented where the run asks for it.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::augment::{Augmenter, Taps};
use super::dataset::Dataset;

/// The order in which an epoch visits `indices`: a shuffle seeded by the
/// training seed and the epoch, so that a resumed run repeats it exactly.
pub fn epoch_order(indices: &[usize], seed: u64, epoch: usize) -> Vec<usize> {
    let mut order = indices.to_vec();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    order.shuffle(&mut rng);
    order
}

/// One batch: images `[n, 3, r, r]` and targets `[n, genres]`, row-major.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    pub len: usize,
    pub images: Vec<f32>,
    pub targets: Vec<f32>,
    /// The augmenter's resampling taps, kept from poster to poster.
    taps: Taps,
}

impl Batch {
    /// Fills the batch with the posters `indices` as they are (reusing its
    /// buffers).
    pub fn fill(&mut self, data: &Dataset, indices: &[usize]) {
        self.len = indices.len();
        self.images.clear();
        self.targets.clear();
        for &i in indices {
            push_input(data.image(i), &mut self.images);
        }
        self.fill_targets(data, indices);
    }

    /// Fills the batch with the posters `indices`, each changed as `augment`
    /// draws for it: for training batches only.
    pub fn fill_augmented(&mut self, data: &Dataset, indices: &[usize], augment: &Augmenter) {
        let (r, image_len) = (data.resolution as usize, data.image_len());
        self.len = indices.len();
        self.images.clear();
        self.images.resize(indices.len() * image_len, 0.0);
        for (&i, out) in indices.iter().zip(self.images.chunks_exact_mut(image_len)) {
            augment.apply(i, data.image(i), r, out, &mut self.taps);
        }
        self.fill_targets(data, indices);
    }

    fn fill_targets(&mut self, data: &Dataset, indices: &[usize]) {
        self.targets.clear();
        for &i in indices {
            self.targets
                .extend(data.label_row(i).iter().map(|&l| l as f32));
        }
    }
}

/// Appends a decoded poster's pixels (channels first, as the cache holds
/// them) as the model reads them: each byte scaled to [0, 1]. The one
/// scaling, for training, evaluation and `predict` alike.
pub fn push_input(pixels: &[u8], images: &mut Vec<f32>) {
    images.extend(pixels.iter().map(|&p| p as f32 * (1.0 / 255.0)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Augment, Fit};

    fn dataset(posters: usize, r: usize) -> Dataset {
        Dataset {
            csv: "train.csv".into(),
            content_hash: String::new(),
            genres: vec!["Action".into(), "Drama".into()],
            ids: (0..posters).map(|i| format!("tt{i}")).collect(),
            images: Vec::new(),
            labels: (0..posters * 2).map(|i| (i % 3 == 0) as u8).collect(),
            resolution: r as u32,
            fit: Fit::Stretch,
            pixels: (0..posters * 3 * r * r)
                .map(|i| (i * 7 % 256) as u8)
                .collect(),
            report: Default::default(),
        }
    }

    #[test]
    fn an_augmented_batch_holds_each_posters_own_draw_wherever_it_falls() {
        let (data, r) = (dataset(6, 5), 5);
        let on = Augment {
            flip: true,
            crop: (0.5, 1.0),
            brightness: 0.2,
            contrast: 0.2,
        };
        let augment = Augmenter::new(on, 3, 1);
        let mut batch = Batch::default();
        batch.fill_augmented(&data, &[4, 1, 2], &augment);
        let (first, targets) = (batch.images.clone(), batch.targets.clone());
        // Poster 1 alone, then in another batch at another place: the same image.
        let len = 3 * r * r;
        batch.fill_augmented(&data, &[1], &augment);
        assert_eq!(batch.images, first[len..2 * len]);
        batch.fill_augmented(&data, &[0, 5, 3, 1], &augment);
        assert_eq!(batch.images[3 * len..], first[len..2 * len]);
        // Targets are the plain batch's.
        batch.fill(&data, &[4, 1, 2]);
        assert_eq!(batch.targets, targets);
        assert_ne!(batch.images, first, "the augmentation changed the images");
        // Settings that are all off give the plain batch exactly.
        let off = Augment {
            flip: false,
            crop: (1.0, 1.0),
            brightness: 0.0,
            contrast: 0.0,
        };
        let plain = batch.images.clone();
        batch.fill_augmented(&data, &[4, 1, 2], &Augmenter::new(off, 3, 1));
        assert_eq!(batch.images, plain);
    }

    #[test]
    fn epoch_orders_are_seeded_permutations() {
        let idx: Vec<usize> = (10..60).collect();
        let a = epoch_order(&idx, 1, 0);
        assert_eq!(a, epoch_order(&idx, 1, 0));
        assert_ne!(a, epoch_order(&idx, 1, 1), "each epoch has its own order");
        assert_ne!(a, epoch_order(&idx, 2, 0), "the seed moves the order");
        let mut sorted = a.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, idx);
    }
}
