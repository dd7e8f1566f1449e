//! The dropout mask, as a pure function of a seed and an element's index.
//!
//! Both dropout layers (fast and portable) draw from here, so they drop the
//! same elements, on any device and any thread count; and because the seed
//! is an input rather than a device RNG's state, a resumed run drops exactly
//! what an uninterrupted one would. The model derives one seed per layer
//! from its [`super::Model::dropout_key`].

/// Which elements survive, and by how much they are scaled.
#[derive(Debug, Clone, Copy)]
pub struct Mask {
    seed: u64,
    /// Keep an element when its 24-bit uniform draw is at least this.
    threshold: u64,
    scale: f32,
}

impl Mask {
    /// Drop probability `p` in [0, 1).
    pub fn new(p: f64, seed: u64) -> Mask {
        Mask {
            seed,
            threshold: (p * (1u64 << 24) as f64).round() as u64,
            scale: (1.0 / (1.0 - p)) as f32,
        }
    }

    /// 1/(1 − p) for a kept element, 0 for a dropped one.
    pub fn factor(&self, index: u64) -> f32 {
        if mix(self.seed, index) >> 40 >= self.threshold {
            self.scale
        } else {
            0.0
        }
    }
}

/// SplitMix64's finaliser over seed and counter: a well-mixed 64-bit value.
pub fn mix(seed: u64, counter: u64) -> u64 {
    let mut z = seed ^ counter.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
