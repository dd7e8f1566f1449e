//! Batches for training and evaluation: a seeded order per epoch, and posters
//! turned into `f32` tensors in [0, 1] with their multi-hot targets.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

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
}

impl Batch {
    /// Fills the batch with the posters `indices` (reusing its buffers).
    pub fn fill(&mut self, data: &Dataset, indices: &[usize]) {
        self.len = indices.len();
        self.images.clear();
        self.targets.clear();
        for &i in indices {
            push_input(data.image(i), &mut self.images);
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
