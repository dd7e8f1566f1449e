//! Training-time augmentation of a decoded poster: a random square crop
//! resized back (bilinear), a left-right flip, brightness and contrast
//! jitter, written straight into a batch's `f32` image in [0, 1].
//!
//! Every draw is a function of (training seed, epoch, poster index), not of
//! an RNG's running state: a poster looks the same wherever it falls in the
//! epoch's order, on any thread count, and after a resume. Validation and
//! test batches never come here (`Batch::fill` takes no augmenter).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::spec::Augment;

/// One epoch's augmentation: the run's settings and the (seed, epoch) its
/// draws are made from.
#[derive(Debug, Clone, Copy)]
pub struct Augmenter {
    settings: Augment,
    seed: u64,
    epoch: u64,
}

/// What is drawn for one poster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Draw {
    pub flip: bool,
    /// The crop's side as a share of the poster's: √ of the area share.
    pub side: f32,
    /// Where the crop's left and top edges lie, as a share of the room the
    /// crop leaves (0: at the poster's edge, 1: as far in as it fits).
    pub left: f32,
    pub top: f32,
    /// Factors applied to the pixel values, and to their distance from
    /// the poster's mean grey.
    pub brightness: f32,
    pub contrast: f32,
}

impl Draw {
    /// Changes nothing.
    pub const IDENTITY: Draw = Draw {
        flip: false,
        side: 1.0,
        left: 0.0,
        top: 0.0,
        brightness: 1.0,
        contrast: 1.0,
    };
}

/// Bilinear taps along each axis, one per output pixel, and the poster's
/// rows resampled along x: kept between posters so that augmenting
/// allocates nothing.
#[derive(Debug, Clone, Default)]
pub struct Taps {
    x: Vec<Tap>,
    y: Vec<Tap>,
    rows: Vec<f32>,
}

/// Output pixel = `src[lo] + (src[hi] - src[lo]) * t`.
#[derive(Debug, Clone, Copy)]
struct Tap {
    lo: usize,
    hi: usize,
    t: f32,
}

impl Augmenter {
    pub fn new(settings: Augment, seed: u64, epoch: usize) -> Augmenter {
        Augmenter {
            settings,
            seed,
            epoch: epoch as u64,
        }
    }

    /// The draw for poster `poster` (its index in the data set).
    pub fn draw(&self, poster: usize) -> Draw {
        // A ChaCha stream keyed by blake3 of the three: well mixed, and
        // apart from the streams that order batches (`epoch_order`) and
        // draw dropout masks.
        let mut key = blake3::Hasher::new_derive_key("posterlab data augmentation v1");
        key.update(&self.seed.to_le_bytes());
        key.update(&self.epoch.to_le_bytes());
        key.update(&(poster as u64).to_le_bytes());
        let mut rng = ChaCha8Rng::from_seed(*key.finalize().as_bytes());
        // The same six draws in the same order whichever settings are on, so
        // that turning one off leaves what the others draw where it was.
        let u: [f64; 6] = std::array::from_fn(|_| rng.gen::<f64>());
        let s = &self.settings;
        let between = |lo: f64, hi: f64, u: f64| (lo + (hi - lo) * u) as f32;
        Draw {
            flip: s.flip && u[0] < 0.5,
            side: between(s.crop.0, s.crop.1, u[1]).sqrt(),
            left: u[2] as f32,
            top: u[3] as f32,
            brightness: between(1.0 - s.brightness, 1.0 + s.brightness, u[4]),
            contrast: between(1.0 - s.contrast, 1.0 + s.contrast, u[5]),
        }
    }

    /// Poster `poster`'s bytes `[3, r, r]` augmented into `out` (`[3, r, r]`,
    /// values in [0, 1]).
    pub fn apply(&self, poster: usize, pixels: &[u8], r: usize, out: &mut [f32], taps: &mut Taps) {
        render(&self.draw(poster), pixels, r, out, taps);
    }
}

/// 1/255 as the plain batch path (`Batch::fill`) scales bytes: an identity
/// draw gives exactly its values.
const BYTE_SCALE: f32 = 1.0 / 255.0;

/// ITU-R BT.601 luma weights, as torchvision's `rgb_to_grayscale` (which
/// its contrast jitter blends toward) uses.
const LUMA: [f32; 3] = [0.299, 0.587, 0.114];

/// Applies `draw` to the bytes `[3, r, r]` of one poster, into `out`.
///
/// Separable: each source row the crop touches is resampled along x, then
/// each output row is a blend of two of those, a loop the compiler
/// vectorises: 30 µs a 64 px poster where four taps per output pixel took
/// 70 (2 cores of a Xeon with AVX-512, release build, under the same load).
pub fn render(draw: &Draw, pixels: &[u8], r: usize, out: &mut [f32], taps: &mut Taps) {
    let plane = r * r;
    assert_eq!(pixels.len(), 3 * plane, "a poster is [3, r, r] bytes");
    assert_eq!(out.len(), 3 * plane, "an image is [3, r, r] values");
    let side = draw.side * r as f32;
    let room = r as f32 - side;
    axis_taps(&mut taps.x, r, draw.left * room, side);
    axis_taps(&mut taps.y, r, draw.top * room, side);
    if draw.flip {
        taps.x.reverse();
    }
    // The y taps rise with the output row: these are the rows they read.
    let rows_read = taps.y[0].lo..taps.y[r - 1].hi + 1;
    taps.rows.resize(plane, 0.0);
    let scale = BYTE_SCALE * draw.brightness;
    for (src, dst) in pixels.chunks_exact(plane).zip(out.chunks_exact_mut(plane)) {
        for y in rows_read.clone() {
            let (src_row, row) = (&src[y * r..][..r], &mut taps.rows[y * r..][..r]);
            for (v, tx) in row.iter_mut().zip(&taps.x) {
                *v = lerp(src_row[tx.lo], src_row[tx.hi], tx.t);
            }
        }
        for (dst_row, ty) in dst.chunks_exact_mut(r).zip(&taps.y) {
            let upper = &taps.rows[ty.lo * r..][..r];
            let lower = &taps.rows[ty.hi * r..][..r];
            for ((o, &a), &b) in dst_row.iter_mut().zip(upper).zip(lower) {
                // Brightness scales values that are >= 0: only the top clips.
                *o = ((a + (b - a) * ty.t) * scale).min(1.0);
            }
        }
    }
    if draw.contrast != 1.0 {
        let mean: f32 = LUMA
            .iter()
            .zip(out.chunks_exact(plane))
            .map(|(w, channel)| w * mean(channel))
            .sum();
        let c = draw.contrast;
        for v in out.iter_mut() {
            *v = (mean + (*v - mean) * c).clamp(0.0, 1.0);
        }
    }
}

/// The mean, summed in eight fixed lanes (a sum the compiler may vectorise,
/// in an order that does not depend on it).
fn mean(values: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = values.chunks_exact(8);
    let rest: f32 = chunks.remainder().iter().sum();
    for chunk in chunks {
        for (lane, v) in lanes.iter_mut().zip(chunk) {
            *lane += v;
        }
    }
    (lanes.iter().sum::<f32>() + rest) / values.len() as f32
}

fn lerp(a: u8, b: u8, t: f32) -> f32 {
    let a = a as f32;
    a + (b as f32 - a) * t
}

/// The taps that resample the window `[start, start + side)` of an axis of
/// `r` pixels to `r` pixels, sampling at pixel centres (as `align_corners =
/// false` does): a window of the whole axis maps pixel i to pixel i exactly.
fn axis_taps(taps: &mut Vec<Tap>, r: usize, start: f32, side: f32) {
    let step = side / r as f32;
    let last = (r - 1) as f32;
    taps.clear();
    taps.extend((0..r).map(|i| {
        let at = (start + (i as f32 + 0.5) * step - 0.5).clamp(0.0, last);
        let lo = at.floor();
        Tap {
            lo: lo as usize,
            hi: (lo as usize + 1).min(r - 1),
            t: at - lo,
        }
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_ON: Augment = Augment {
        flip: true,
        crop: (0.5, 1.0),
        brightness: 0.3,
        contrast: 0.3,
    };

    /// A poster of `r`² pixels whose every byte differs from its neighbours'.
    fn poster(r: usize) -> Vec<u8> {
        (0..3 * r * r).map(|i| (i * 37 % 256) as u8).collect()
    }

    fn rendered(draw: &Draw, pixels: &[u8], r: usize) -> Vec<f32> {
        let mut out = vec![f32::NAN; 3 * r * r];
        render(draw, pixels, r, &mut out, &mut Taps::default());
        out
    }

    fn plain(pixels: &[u8]) -> Vec<f32> {
        pixels.iter().map(|&p| p as f32 * BYTE_SCALE).collect()
    }

    #[test]
    fn a_draw_is_a_function_of_seed_epoch_and_poster() {
        let a = Augmenter::new(ALL_ON, 1, 3);
        assert_eq!(a.draw(17), Augmenter::new(ALL_ON, 1, 3).draw(17));
        for other in [
            Augmenter::new(ALL_ON, 1, 3).draw(18),
            Augmenter::new(ALL_ON, 1, 4).draw(17),
            Augmenter::new(ALL_ON, 2, 3).draw(17),
        ] {
            assert_ne!(a.draw(17), other);
        }
        // Rendering it needs no other state: the same bytes, into a used buffer.
        let (r, pixels) = (12, poster(12));
        let mut taps = Taps::default();
        let mut first = vec![0.0; 3 * r * r];
        a.apply(5, &pixels, r, &mut first, &mut taps);
        let mut again = vec![0.5; 3 * r * r];
        a.apply(9, &pixels, r, &mut again, &mut taps);
        a.apply(5, &pixels, r, &mut again, &mut taps);
        assert_eq!(first, again);
    }

    #[test]
    fn each_epoch_draws_anew() {
        let (r, pixels) = (16, poster(16));
        let images: Vec<Vec<f32>> = (0..4)
            .map(|epoch| {
                let mut out = vec![0.0; 3 * r * r];
                Augmenter::new(ALL_ON, 1, epoch).apply(
                    0,
                    &pixels,
                    r,
                    &mut out,
                    &mut Taps::default(),
                );
                out
            })
            .collect();
        for i in 0..images.len() {
            for j in i + 1..images.len() {
                assert_ne!(images[i], images[j], "epochs {i} and {j}");
            }
        }
    }

    #[test]
    fn draws_stay_within_the_settings() {
        let flips = (0..2000)
            .map(|p| Augmenter::new(ALL_ON, 7, 0).draw(p))
            .inspect(|d| {
                assert!((0.5f32.sqrt()..=1.0).contains(&d.side), "{d:?}");
                assert!((0.0..=1.0).contains(&d.left) && (0.0..=1.0).contains(&d.top));
                assert!((0.7..=1.3).contains(&d.brightness), "{d:?}");
                assert!((0.7..=1.3).contains(&d.contrast), "{d:?}");
            })
            .filter(|d| d.flip)
            .count();
        // Half the posters, within four binomial standard errors (√(2000/4) ≈ 22).
        assert!(
            (1000 - 90..=1000 + 90).contains(&flips),
            "{flips} of 2000 flipped"
        );
    }

    #[test]
    fn settings_that_are_off_change_nothing_and_leave_the_others_alone() {
        let off = Augment {
            flip: false,
            crop: (1.0, 1.0),
            brightness: 0.0,
            contrast: 0.0,
        };
        let (r, pixels) = (8, poster(8));
        for p in 0..50 {
            // The crop's place is drawn, but a whole-poster crop has no room to move.
            let draw = Augmenter::new(off, 1, 2).draw(p);
            assert_eq!(
                (draw.flip, draw.side, draw.brightness, draw.contrast),
                (false, 1.0, 1.0, 1.0)
            );
            assert_eq!(rendered(&draw, &pixels, r), plain(&pixels));
            let all = Augmenter::new(ALL_ON, 1, 2).draw(p);
            let no_flip = Augmenter::new(
                Augment {
                    flip: false,
                    ..ALL_ON
                },
                1,
                2,
            )
            .draw(p);
            assert_eq!(no_flip, Draw { flip: false, ..all });
        }
    }

    #[test]
    fn the_identity_draw_gives_the_plain_batchs_values_exactly() {
        for r in [1, 2, 7, 64] {
            let pixels = poster(r);
            assert_eq!(
                rendered(&Draw::IDENTITY, &pixels, r),
                plain(&pixels),
                "r = {r}"
            );
        }
    }

    #[test]
    fn a_flip_is_an_exact_mirror() {
        let (r, pixels) = (9, poster(9));
        let flipped = rendered(
            &Draw {
                flip: true,
                ..Draw::IDENTITY
            },
            &pixels,
            r,
        );
        let want: Vec<f32> = plain(&pixels)
            .chunks(r)
            .flat_map(|row| row.iter().rev().copied().collect::<Vec<_>>())
            .collect();
        assert_eq!(flipped, want);
        // Of a crop too: the flip mirrors what the crop kept.
        let crop = Draw {
            side: 0.6,
            left: 0.3,
            top: 0.8,
            ..Draw::IDENTITY
        };
        let mirrored: Vec<f32> = rendered(&crop, &pixels, r)
            .chunks(r)
            .flat_map(|row| row.iter().rev().copied().collect::<Vec<_>>())
            .collect();
        assert_eq!(rendered(&Draw { flip: true, ..crop }, &pixels, r), mirrored);
    }

    #[test]
    fn a_crop_resamples_its_window() {
        // A horizontal ramp, 0, 10, 20, ... across 8 columns. The left half
        // (side 1/2, at the left, at the top) sampled at pixel centres: output
        // pixel i sits at (i + 0.5) / 2 - 0.5 of the source.
        let r = 8;
        let pixels: Vec<u8> = (0..3 * r * r).map(|i| (i % r * 10) as u8).collect();
        let half = Draw {
            side: 0.5,
            ..Draw::IDENTITY
        };
        let row = &rendered(&half, &pixels, r)[..r];
        let want: Vec<f32> = (0..r)
            .map(|i| ((i as f32 + 0.5) / 2.0 - 0.5).max(0.0) * 10.0 / 255.0)
            .collect();
        for (got, want) in row.iter().zip(&want) {
            assert!((got - want).abs() < 1e-6, "{row:?} vs {want:?}");
        }
        // The same window at the right edge holds the right half's values.
        let right = &rendered(&Draw { left: 1.0, ..half }, &pixels, r)[..r];
        assert!((right[r - 1] - 70.0 / 255.0).abs() < 1e-6, "{right:?}");
    }

    #[test]
    fn brightness_and_contrast_scale_and_stay_in_range() {
        let r = 4;
        let grey: Vec<u8> = vec![100; 3 * r * r];
        let brighter = rendered(
            &Draw {
                brightness: 1.2,
                ..Draw::IDENTITY
            },
            &grey,
            r,
        );
        assert!(brighter
            .iter()
            .all(|&v| (v - 1.2 * 100.0 / 255.0).abs() < 1e-6));
        // One grey everywhere is its own mean: contrast leaves it.
        let flat = rendered(
            &Draw {
                contrast: 0.7,
                ..Draw::IDENTITY
            },
            &grey,
            r,
        );
        assert!(flat.iter().all(|&v| (v - 100.0 / 255.0).abs() < 1e-6));
        // Half black, half white: mean grey 1/2; contrast 0.5 halves the distance.
        let halves: Vec<u8> = (0..3 * r * r)
            .map(|i| if i % 2 == 0 { 0 } else { 255 })
            .collect();
        let softer = rendered(
            &Draw {
                contrast: 0.5,
                ..Draw::IDENTITY
            },
            &halves,
            r,
        );
        for (got, byte) in softer.iter().zip(&halves) {
            let want = if *byte == 0 { 0.25 } else { 0.75 };
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        // Every draw keeps every value in [0, 1].
        let pixels = poster(16);
        let strong = Augment {
            flip: true,
            crop: (0.1, 1.0),
            brightness: 0.99,
            contrast: 0.99,
        };
        for p in 0..200 {
            let mut out = vec![0.0; 3 * 16 * 16];
            Augmenter::new(strong, 3, 1).apply(p, &pixels, 16, &mut out, &mut Taps::default());
            assert!(out.iter().all(|v| (0.0..=1.0).contains(v)), "poster {p}");
        }
    }
}
