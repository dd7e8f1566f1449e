//! The portable layers: built only from dfdx tensor ops, so they run on any
//! dfdx device (CUDA included) and serve as the reference the fast CPU
//! kernels are tested against.
//!
//! dfdx 0.13 has no 2-D convolution or pooling on stable Rust, so:
//! - conv2d is im2col by `gather` (an index per kernel tap and output pixel,
//!   out-of-bounds taps reading an appended zero row) and one matmul;
//! - 2x2 max-pooling reshapes to `[n, c, h/2, 2, w/2, 2]` and takes the max
//!   over the two window axes.
//!
//! Parameters arrive flat (see `params`) and are viewed in their shape;
//! `retaped` joins them to the input's tape, so gradients reach them by id.
//! Layouts are PyTorch's: images `[n, c, h, w]`, conv weights `[o, c, k, k]`.

use dfdx::prelude::*;

use super::arch::ConvBlock;
use super::params::Flat;

pub type T1<D, T = NoneTape> = Tensor<(usize,), f32, D, T>;
pub type T2<D, T = NoneTape> = Tensor<(usize, usize), f32, D, T>;
pub type T3<D, T = NoneTape> = Tensor<(usize, usize, usize), f32, D, T>;
pub type T4<D, T = NoneTape> = Tensor<(usize, usize, usize, usize), f32, D, T>;

/// `x · wᵀ + b`: x `[n, i]`, w `[o, i]`, b `[o]` → `[n, o]`.
pub fn linear<D: Device<f32>, T: Tape<f32, D>>(
    x: T2<D, T>,
    w: &Flat<D>,
    b: &Flat<D>,
) -> Result<T2<D, T>, D::Err> {
    let (n, i) = *x.shape();
    let o = b.shape().0;
    let w = w
        .retaped::<T>()
        .try_reshape_like(&(o, i))?
        .try_permute::<_, Axes2<1, 0>>()?;
    let b = b.retaped::<T>().try_broadcast_like::<_, Axis<0>>(&(n, o))?;
    x.try_matmul(w)?.try_add(b)
}

/// For each kernel tap (ky, kx) and output pixel (oy, ox), the input pixel it
/// reads (`y * w + x`), or `h * w` — the appended zero row — when the tap
/// falls in the padding. Laid out `[k*k, out_h*out_w]`.
pub fn im2col_index(b: &ConvBlock, h: usize, w: usize, out_h: usize, out_w: usize) -> Vec<usize> {
    let (k, s, pad) = (b.kernel, b.stride, b.pad_before() as isize);
    let mut idx = Vec::with_capacity(k * k * out_h * out_w);
    for ky in 0..k {
        for kx in 0..k {
            for oy in 0..out_h {
                for ox in 0..out_w {
                    let y = (oy * s + ky) as isize - pad;
                    let x = (ox * s + kx) as isize - pad;
                    let inside = y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w;
                    idx.push(if inside {
                        y as usize * w + x as usize
                    } else {
                        h * w
                    });
                }
            }
        }
    }
    idx
}

/// 2-D convolution: x `[n, c, h, w]`, weight `[o, c, k, k]`, bias `[o]` →
/// `[n, o, out_h, out_w]`.
pub fn conv2d<D: Device<f32>, T: Tape<f32, D>>(
    x: T4<D, T>,
    weight: &Flat<D>,
    bias: &Flat<D>,
    b: &ConvBlock,
) -> Result<T4<D, T>, D::Err> {
    let (n, c, h, w) = *x.shape();
    let (k, o) = (b.kernel, b.out_channels);
    let (oh, ow) = (b.output_side(h), b.output_side(w));
    let dev = x.device().clone();
    // [h*w, n*c] plus a zero row for taps in the padding.
    let pixels = x
        .try_reshape_like(&(n * c, h * w))?
        .try_permute::<_, Axes2<1, 0>>()?;
    let zero_row: T2<D> = dev.try_zeros_like(&(1, n * c))?;
    let pixels = (pixels, zero_row).try_concat_along(Axis::<0>)?;
    let index = dev.try_tensor_from_vec(im2col_index(b, h, w, oh, ow), (k * k * oh * ow,))?;
    let taps: T2<D, T> = pixels.try_gather(index)?; // [k*k*oh*ow, n*c]
    let patches = taps
        .try_reshape_like(&(k * k, oh * ow, n, c))?
        .try_permute::<_, Axes4<2, 1, 3, 0>>()? // [n, oh*ow, c, k*k]
        .try_reshape_like(&(n * oh * ow, c * k * k))?;
    let weight = weight
        .retaped::<T>()
        .try_reshape_like(&(o, c * k * k))?
        .try_permute::<_, Axes2<1, 0>>()?;
    let bias = bias
        .retaped::<T>()
        .try_broadcast_like::<_, Axis<0>>(&(n * oh * ow, o))?;
    let y = patches.try_matmul(weight)?.try_add(bias)?; // [n*oh*ow, o]
    y.try_reshape_like(&(n, oh, ow, o))?
        .try_permute::<_, Axes4<0, 3, 1, 2>>()?
        .try_contiguous()
}

/// 2x2 max-pool, stride 2, rounding down like PyTorch and Keras (an odd last
/// row or column is dropped).
pub fn max_pool2<D: Device<f32>, T: Tape<f32, D>>(x: T4<D, T>) -> Result<T4<D, T>, D::Err> {
    let (n, c, h, w) = *x.shape();
    let (oh, ow) = (h / 2, w / 2);
    let x = if h % 2 == 1 || w % 2 == 1 {
        // The slice's backward writes rather than adds; safe here because the
        // pool is the input's only consumer.
        x.try_slice((.., .., 0..2 * oh, 0..2 * ow))?
            .try_contiguous()?
    } else {
        x
    };
    x.try_reshape_like(&(n, c, oh, 2, ow, 2))?
        .try_max::<(usize, usize, usize, usize), Axes2<3, 5>>()
}

/// Inverted dropout with the mask of [`super::dropout::Mask`] for `seed`:
/// the same elements the fast layer drops. The mask is made on the host and
/// multiplied in, so its gradient is the same mask.
pub fn dropout<S: Shape, D: Device<f32>, T: Tape<f32, D>>(
    x: Tensor<S, f32, D, T>,
    p: f64,
    seed: u64,
) -> Result<Tensor<S, f32, D, T>, D::Err> {
    let shape = *x.shape();
    let mask = super::dropout::Mask::new(p, seed);
    let factors: Vec<f32> = (0..shape.num_elements() as u64)
        .map(|i| mask.factor(i))
        .collect();
    let factors = x.device().try_tensor_from_vec(factors, shape)?;
    x.try_mul(factors)
}

/// PyTorch's BatchNorm2d defaults.
pub const BN_MOMENTUM: f64 = 0.1;
pub const BN_EPS: f64 = 1e-5;

/// Batch norm in training: normalise by the batch's per-channel mean and
/// (biased) variance; update the running statistics off the tape with the
/// unbiased variance, `running = (1 - momentum) · running + momentum · batch`.
pub fn batch_norm_train<D: Device<f32>, T: Tape<f32, D>>(
    x: T4<D, T>,
    gamma: &Flat<D>,
    beta: &Flat<D>,
    running_mean: &mut Flat<D>,
    running_var: &mut Flat<D>,
) -> Result<T4<D, T>, D::Err> {
    let shape = *x.shape();
    let count = (shape.0 * shape.2 * shape.3) as f64;
    let mean: T1<D, T> = x.retaped::<T>().try_mean::<_, Axes3<0, 2, 3>>()?;
    running_mean.try_axpy(1.0 - BN_MOMENTUM, &mean, BN_MOMENTUM)?;
    let centered = x.try_sub(mean.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?)?;
    let var: T1<D, T> = centered
        .retaped::<T>()
        .try_square()?
        .try_mean::<_, Axes3<0, 2, 3>>()?;
    let unbiased = if count > 1.0 {
        count / (count - 1.0)
    } else {
        1.0
    };
    running_var.try_axpy(1.0 - BN_MOMENTUM, &var, BN_MOMENTUM * unbiased)?;
    let std = var.try_add(BN_EPS as f32)?.try_sqrt()?;
    let scale = gamma
        .retaped::<T>()
        .try_div(std)?
        .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
    let shift = beta
        .retaped::<T>()
        .try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
    centered.try_mul(scale)?.try_add(shift)
}

/// Batch norm in evaluation: the running statistics.
pub fn batch_norm_eval<D: Device<f32>, T: Tape<f32, D>>(
    x: T4<D, T>,
    gamma: &Flat<D>,
    beta: &Flat<D>,
    running_mean: &Flat<D>,
    running_var: &Flat<D>,
) -> Result<T4<D, T>, D::Err> {
    let shape = *x.shape();
    let std = running_var.clone().try_add(BN_EPS as f32)?.try_sqrt()?;
    let scale = gamma.retaped::<T>().try_div(std.clone())?;
    let shift = beta
        .retaped::<T>()
        .try_sub(scale.retaped::<T>().try_mul(running_mean.clone())?)?;
    let scale = scale.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
    let shift = shift.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
    x.try_mul(scale)?.try_add(shift)
}

/// Recurrent weights, PyTorch layout: `weight_ih [g*h, i]`, `weight_hh
/// [g*h, h]`, biases `[g*h]`, with g = 3 gates (GRU: r, z, n) or 4 (LSTM: i,
/// f, g, o).
pub struct RnnWeights<'a, D: Device<f32>> {
    pub weight_ih: &'a Flat<D>,
    pub weight_hh: &'a Flat<D>,
    pub bias_ih: &'a Flat<D>,
    pub bias_hh: &'a Flat<D>,
    pub hidden: usize,
}

/// `x · W_ihᵀ + b_ih` for every step at once: `[n, t, i]` → one `[n, t, g*h]`
/// matmul, then one `[n, g*h]` slice per step. The slices are disjoint, which
/// matters on the CPU, where a slice's backward writes rather than adds.
fn input_gates<D: Device<f32>, T: Tape<f32, D>>(
    x: T3<D, T>,
    w: &RnnWeights<'_, D>,
    gates: usize,
) -> Result<Vec<T2<D, T>>, D::Err> {
    let (n, steps, i) = *x.shape();
    let g = gates * w.hidden;
    let all = linear(x.try_reshape_like(&(n * steps, i))?, w.weight_ih, w.bias_ih)?
        .try_reshape_like(&(n, steps, g))?;
    let step = |source: T3<D, T>, t: usize| {
        source
            .try_slice((.., t..t + 1, ..))?
            .try_reshape_like(&(n, g))
    };
    let mut out = Vec::with_capacity(steps);
    for t in 0..steps - 1 {
        out.push(step(all.with_empty_tape(), t)?);
    }
    // The last slice takes the original, whose tape holds the ops that
    // computed `all`, so they reach the loss exactly once.
    out.push(step(all, steps - 1)?);
    Ok(out)
}

/// `[n, k*h]` → k tensors `[n, h]` (gate chunks), the first carrying the tape.
fn chunks<D: Device<f32>, T: Tape<f32, D>>(
    x: T2<D, T>,
    k: usize,
    h: usize,
) -> Result<Vec<T2<D, T>>, D::Err> {
    let mut out = Vec::with_capacity(k);
    for j in 1..k {
        out.push(x.with_empty_tape().try_slice((.., j * h..(j + 1) * h))?);
    }
    out.insert(0, x.try_slice((.., 0..h))?);
    Ok(out)
}

/// A GRU over `[n, t, i]`; the last hidden state `[n, h]`.
/// r = σ(x W_ir + b_ir + h W_hr + b_hr), z likewise,
/// n = tanh(x W_in + b_in + r ⊙ (h W_hn + b_hn)), h' = (1 − z) ⊙ n + z ⊙ h.
pub fn gru<D: Device<f32>, T: Tape<f32, D>>(
    x: T3<D, T>,
    w: &RnnWeights<'_, D>,
) -> Result<T2<D, T>, D::Err> {
    let (n, _, _) = *x.shape();
    let hs = w.hidden;
    let dev = x.device().clone();
    let mut h: T2<D, T> = dev.try_zeros_like(&(n, hs))?.retaped::<T>();
    for xg in input_gates(x, w, 3)? {
        let hg = linear(h.with_empty_tape(), w.weight_hh, w.bias_hh)?;
        let mut xg = chunks(xg, 3, hs)?.into_iter();
        let mut hg = chunks(hg, 3, hs)?.into_iter();
        let (xr, xz, xn) = (
            xg.next().expect("3"),
            xg.next().expect("3"),
            xg.next().expect("3"),
        );
        let (hr, hz, hn) = (
            hg.next().expect("3"),
            hg.next().expect("3"),
            hg.next().expect("3"),
        );
        let r = xr.try_add(hr)?.try_sigmoid()?;
        let z = xz.try_add(hz)?.try_sigmoid()?;
        let cand = xn.try_add(hn.try_mul(r)?)?.try_tanh()?;
        let keep = z.with_empty_tape().try_negate()?.try_add(1.0)?;
        h = cand.try_mul(keep)?.try_add(z.try_mul(h)?)?;
    }
    Ok(h)
}

/// An LSTM over `[n, t, i]`; the last hidden state `[n, h]`.
/// i, f, o = σ(…), g = tanh(…), c' = f ⊙ c + i ⊙ g, h' = o ⊙ tanh(c').
pub fn lstm<D: Device<f32>, T: Tape<f32, D>>(
    x: T3<D, T>,
    w: &RnnWeights<'_, D>,
) -> Result<T2<D, T>, D::Err> {
    let (n, _, _) = *x.shape();
    let hs = w.hidden;
    let dev = x.device().clone();
    let mut h: T2<D, T> = dev.try_zeros_like(&(n, hs))?.retaped::<T>();
    let mut c: T2<D, T> = dev.try_zeros_like(&(n, hs))?.retaped::<T>();
    for xg in input_gates(x, w, 4)? {
        let gates = xg.try_add(linear(h, w.weight_hh, w.bias_hh)?)?;
        let mut g = chunks(gates, 4, hs)?.into_iter();
        let (gi, gf, gg, go) = (
            g.next().expect("4"),
            g.next().expect("4"),
            g.next().expect("4"),
            g.next().expect("4"),
        );
        c = gf
            .try_sigmoid()?
            .try_mul(c)?
            .try_add(gi.try_sigmoid()?.try_mul(gg.try_tanh()?)?)?;
        // c goes on to the next step without its tape; tanh(c) takes the tape
        // into h, so every step's ops reach the loss.
        let carried = c.with_empty_tape();
        h = go.try_sigmoid()?.try_mul(c.try_tanh()?)?;
        c = carried;
    }
    Ok(h)
}

#[cfg(test)]
pub(crate) mod tests {
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::spec::Padding;

    pub fn random(n: usize, seed: u64) -> Vec<f32> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect()
    }

    pub fn block(c: usize, o: usize, k: usize, stride: usize, padding: Padding) -> ConvBlock {
        ConvBlock {
            in_channels: c,
            out_channels: o,
            kernel: k,
            stride,
            padding,
            in_side: 0,
            conv_side: 0,
            out_side: 0,
        }
    }

    /// Direct convolution on the host, the textbook loops.
    pub fn naive_conv(
        x: &[f32],
        (n, c, h, w): (usize, usize, usize, usize),
        wt: &[f32],
        bias: &[f32],
        b: &ConvBlock,
    ) -> Vec<f32> {
        let (k, o, s, pad) = (b.kernel, b.out_channels, b.stride, b.pad_before() as isize);
        let (oh, ow) = (b.output_side(h), b.output_side(w));
        let mut y = vec![0f32; n * o * oh * ow];
        for ni in 0..n {
            for oi in 0..o {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let mut acc = bias[oi] as f64;
                        for ci in 0..c {
                            for ky in 0..k {
                                for kx in 0..k {
                                    let iy = (oy * s + ky) as isize - pad;
                                    let ix = (ox * s + kx) as isize - pad;
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w
                                    {
                                        let xv =
                                            x[((ni * c + ci) * h + iy as usize) * w + ix as usize];
                                        acc += xv as f64
                                            * wt[((oi * c + ci) * k + ky) * k + kx] as f64;
                                    }
                                }
                            }
                        }
                        y[((ni * o + oi) * oh + oy) * ow + ox] = acc as f32;
                    }
                }
            }
        }
        y
    }

    pub fn assert_close(got: &[f32], want: &[f32], rel: f32, what: &str) {
        assert_eq!(got.len(), want.len(), "{what}: lengths");
        let scale = want.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!(
                (g - w).abs() <= rel * scale,
                "{what}[{i}]: {g} vs {w} (scale {scale})"
            );
        }
    }

    #[test]
    fn conv2d_matches_direct_convolution() {
        let dev = Cpu::default();
        for (k, stride, padding, h, w) in [
            (5, 1, Padding::Same, 9, 7),
            (3, 1, Padding::Valid, 8, 8),
            (3, 2, Padding::Same, 9, 10),
            (4, 1, Padding::Same, 6, 5),
        ] {
            let (n, c, o) = (2, 3, 4);
            let b = block(c, o, k, stride, padding);
            let x = random(n * c * h * w, 1);
            let wt = random(o * c * k * k, 2);
            let bias = random(o, 3);
            let y = conv2d(
                dev.tensor_from_vec(x.clone(), (n, c, h, w)),
                &dev.tensor_from_vec(wt.clone(), (wt.len(),)),
                &dev.tensor_from_vec(bias.clone(), (o,)),
                &b,
            )
            .unwrap();
            assert_eq!(*y.shape(), (n, o, b.output_side(h), b.output_side(w)));
            assert_close(
                &y.as_vec(),
                &naive_conv(&x, (n, c, h, w), &wt, &bias, &b),
                1e-5,
                &format!("k{k} s{stride} {padding}"),
            );
        }
    }

    #[test]
    fn max_pool_takes_the_window_max_and_floors_odd_sides() {
        let dev = Cpu::default();
        for (h, w) in [(4, 6), (5, 7)] {
            let x = random(2 * 3 * h * w, 4);
            let y = max_pool2(dev.tensor_from_vec(x.clone(), (2, 3, h, w))).unwrap();
            let (oh, ow) = (h / 2, w / 2);
            assert_eq!(*y.shape(), (2, 3, oh, ow));
            let mut want = Vec::new();
            for p in 0..6 {
                for oy in 0..oh {
                    for ox in 0..ow {
                        let at = |dy: usize, dx: usize| x[(p * h + 2 * oy + dy) * w + 2 * ox + dx];
                        want.push(at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1)));
                    }
                }
            }
            assert_eq!(y.as_vec(), want);
        }
    }

    #[test]
    fn batch_norm_normalises_and_tracks_running_statistics_like_pytorch() {
        let dev = Cpu::default();
        let (n, c, h, w) = (4, 2, 3, 3);
        let x: Vec<f32> = random(n * c * h * w, 5)
            .iter()
            .map(|v| 3.0 * v + 1.5)
            .collect();
        let (gamma, beta) = (
            dev.tensor_from_vec(vec![1.0, 2.0], (2,)),
            dev.tensor_from_vec(vec![0.0, -1.0], (2,)),
        );
        let mut rm = dev.tensor_from_vec(vec![0.0; 2], (2,));
        let mut rv = dev.tensor_from_vec(vec![1.0; 2], (2,));
        let y = batch_norm_train(
            dev.tensor_from_vec(x.clone(), (n, c, h, w)),
            &gamma,
            &beta,
            &mut rm,
            &mut rv,
        )
        .unwrap()
        .as_vec();
        for ch in 0..c {
            let values: Vec<f64> = (0..n)
                .flat_map(|ni| (0..h * w).map(move |p| (ni, p)))
                .map(|(ni, p)| x[(ni * c + ch) * h * w + p] as f64)
                .collect();
            let m = values.len() as f64;
            let mean = values.iter().sum::<f64>() / m;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m;
            let out: Vec<f64> = (0..n)
                .flat_map(|ni| (0..h * w).map(move |p| (ni, p)))
                .map(|(ni, p)| y[(ni * c + ch) * h * w + p] as f64)
                .collect();
            let out_mean = out.iter().sum::<f64>() / m;
            let out_std = (out.iter().map(|v| (v - out_mean).powi(2)).sum::<f64>() / m).sqrt();
            assert!(
                (out_mean - [0.0, -1.0][ch]).abs() < 1e-5
                    && (out_std - [1.0, 2.0][ch]).abs() < 1e-3,
                "ch {ch}: {out_mean} {out_std}"
            );
            // PyTorch: running = 0.9 running + 0.1 batch, the variance unbiased.
            assert!((rm.as_vec()[ch] as f64 - 0.1 * mean).abs() < 1e-5);
            assert!((rv.as_vec()[ch] as f64 - (0.9 + 0.1 * var * m / (m - 1.0))).abs() < 1e-5);
        }
        // Evaluation uses the running statistics, not the batch's.
        let e = batch_norm_eval(
            dev.tensor_from_vec(x.clone(), (n, c, h, w)),
            &gamma,
            &beta,
            &rm,
            &rv,
        )
        .unwrap()
        .as_vec();
        let (m0, v0) = (rm.as_vec()[1], rv.as_vec()[1]);
        let want = (x[h * w] - m0) / (v0 + 1e-5).sqrt() * 2.0 - 1.0;
        assert!((e[h * w] - want).abs() < 1e-5);
    }

    /// Central differences of `loss(x)` against the tape's gradient, on a
    /// spread of coordinates. f32 arithmetic, so a loose tolerance.
    pub fn check_gradient(what: &str, x: &[f32], analytic: &[f32], loss: &dyn Fn(&[f32]) -> f64) {
        let eps = 1e-2f32;
        let step = (x.len() / 23).max(1);
        for i in (0..x.len()).step_by(step) {
            let mut up = x.to_vec();
            up[i] += eps;
            let mut down = x.to_vec();
            down[i] -= eps;
            let numeric = (loss(&up) - loss(&down)) / (2.0 * eps as f64);
            let a = analytic[i] as f64;
            assert!(
                (numeric - a).abs() <= 2e-2 * a.abs().max(1.0),
                "{what}[{i}]: numeric {numeric} vs tape {a}"
            );
        }
    }

    #[test]
    fn gradients_pass_finite_difference_checks() {
        let dev = Cpu::default();
        let (n, c, h, w, o, k) = (2, 2, 6, 5, 3, 3);
        let b = block(c, o, k, 1, Padding::Same);
        let x0 = random(n * c * h * w, 6);
        let w0 = random(o * c * k * k, 7);
        let b0 = random(o, 8);
        let (oh, ow) = (h, w);
        let r = random(n * o * (oh / 2) * (ow / 2), 9);
        let (gamma, beta) = (
            dev.tensor_from_vec(vec![1.5, 0.5, -1.0], (3,)),
            dev.tensor_from_vec(vec![0.1, 0.2, 0.3], (3,)),
        );

        // loss = sum(r * pool(relu(bn(conv(x)))))
        // The loss, and its gradients for x, the conv weight and bias, and gamma.
        let forward = |x: &[f32], wt: &[f32], bias: &[f32]| -> (f64, [Vec<f32>; 4]) {
            let xt = dev.tensor_from_vec(x.to_vec(), (n, c, h, w));
            let wt = dev.tensor_from_vec(wt.to_vec(), (wt.len(),));
            let bt = dev.tensor_from_vec(bias.to_vec(), (o,));
            let mut rm = dev.tensor_from_vec(vec![0.0; 3], (3,));
            let mut rv = dev.tensor_from_vec(vec![1.0; 3], (3,));
            let rt = dev.tensor_from_vec(r.clone(), (n, o, oh / 2, ow / 2));
            let y = conv2d(xt.clone().leaky_traced(), &wt, &bt, &b).unwrap();
            let y = batch_norm_train(y, &gamma, &beta, &mut rm, &mut rv).unwrap();
            let y = max_pool2(y.relu()).unwrap();
            let loss = (y * rt).sum();
            let value = loss.array() as f64;
            let grads = loss.backward();
            let g = |t: &Flat<Cpu>| grads.get(t).as_vec();
            (value, [grads.get(&xt).as_vec(), g(&wt), g(&bt), g(&gamma)])
        };
        let (_, [gx, gw, gb, _]) = forward(&x0, &w0, &b0);
        check_gradient("x", &x0, &gx, &|x| forward(x, &w0, &b0).0);
        check_gradient("conv.weight", &w0, &gw, &|wt| forward(&x0, wt, &b0).0);
        // With batch norm after it, the conv bias cancels out: its gradient is zero.
        assert!(gb.iter().all(|g| g.abs() < 1e-4), "{gb:?}");
        check_gradient("conv.bias", &b0, &gb, &|bias| forward(&x0, &w0, bias).0);

        // linear
        let (li, lo) = (5, 4);
        let xl = random(3 * li, 10);
        let wl = random(lo * li, 11);
        let rl = random(3 * lo, 12);
        let lin = |x: &[f32], wt: &[f32]| -> (f64, Vec<f32>, Vec<f32>) {
            let xt = dev.tensor_from_vec(x.to_vec(), (3, li));
            let wt = dev.tensor_from_vec(wt.to_vec(), (wt.len(),));
            let bt = dev.tensor_from_vec(vec![0.5; lo], (lo,));
            let loss = (linear(xt.clone().leaky_traced(), &wt, &bt).unwrap()
                * dev.tensor_from_vec(rl.clone(), (3, lo)))
            .sum();
            let value = loss.array() as f64;
            let grads = loss.backward();
            (value, grads.get(&xt).as_vec(), grads.get(&wt).as_vec())
        };
        let (_, gx, gw) = lin(&xl, &wl);
        check_gradient("linear x", &xl, &gx, &|x| lin(x, &wl).0);
        check_gradient("linear weight", &wl, &gw, &|wt| lin(&xl, wt).0);
    }

    fn sigmoid(v: f64) -> f64 {
        1.0 / (1.0 + (-v).exp())
    }

    /// PyTorch's GRU/LSTM equations, one sample and one step at a time.
    fn naive_rnn(
        lstm: bool,
        x: &[f32],
        (n, t, i): (usize, usize, usize),
        p: &[Vec<f32>; 4],
        hs: usize,
    ) -> Vec<f32> {
        let g = if lstm { 4 } else { 3 } * hs;
        let mut out = Vec::new();
        for s in 0..n {
            let (mut h, mut c) = (vec![0f64; hs], vec![0f64; hs]);
            for step in 0..t {
                let xt = &x[(s * t + step) * i..(s * t + step + 1) * i];
                let gi: Vec<f64> = (0..g)
                    .map(|r| {
                        p[2][r] as f64
                            + (0..i)
                                .map(|k| p[0][r * i + k] as f64 * xt[k] as f64)
                                .sum::<f64>()
                    })
                    .collect();
                let gh: Vec<f64> = (0..g)
                    .map(|r| {
                        p[3][r] as f64
                            + (0..hs).map(|k| p[1][r * hs + k] as f64 * h[k]).sum::<f64>()
                    })
                    .collect();
                for u in 0..hs {
                    if lstm {
                        let a = |q: usize| gi[q * hs + u] + gh[q * hs + u];
                        c[u] = sigmoid(a(1)) * c[u] + sigmoid(a(0)) * a(2).tanh();
                    } else {
                        let r = sigmoid(gi[u] + gh[u]);
                        let z = sigmoid(gi[hs + u] + gh[hs + u]);
                        let cand = (gi[2 * hs + u] + r * gh[2 * hs + u]).tanh();
                        c[u] = (1.0 - z) * cand + z * h[u]; // the new h, kept in c for now
                    }
                }
                for u in 0..hs {
                    h[u] = if lstm {
                        sigmoid(gi[3 * hs + u] + gh[3 * hs + u]) * c[u].tanh()
                    } else {
                        c[u]
                    };
                }
            }
            out.extend(h.iter().map(|&v| v as f32));
        }
        out
    }

    #[test]
    fn gru_and_lstm_follow_pytorchs_equations_and_gradients() {
        let dev = Cpu::default();
        let (n, t, i, hs) = (2, 4, 3, 5);
        for lstm_kind in [false, true] {
            let g = if lstm_kind { 4 } else { 3 } * hs;
            let p = [
                random(g * i, 20),
                random(g * hs, 21),
                random(g, 22),
                random(g, 23),
            ];
            let x0 = random(n * t * i, 24);
            let r = random(n * hs, 25);
            let run = |x: &[f32], p: &[Vec<f32>; 4]| -> (f64, Vec<f32>, Vec<Vec<f32>>) {
                let ts: Vec<Flat<Cpu>> = p
                    .iter()
                    .map(|v| dev.tensor_from_vec(v.clone(), (v.len(),)))
                    .collect();
                let w = RnnWeights {
                    weight_ih: &ts[0],
                    weight_hh: &ts[1],
                    bias_ih: &ts[2],
                    bias_hh: &ts[3],
                    hidden: hs,
                };
                let xt = dev.tensor_from_vec(x.to_vec(), (n, t, i));
                let h = if lstm_kind {
                    lstm(xt.clone().leaky_traced(), &w)
                } else {
                    gru(xt.clone().leaky_traced(), &w)
                }
                .unwrap();
                let values = h.as_vec();
                let loss = (h * dev.tensor_from_vec(r.clone(), (n, hs))).sum();
                let grads = loss.backward();
                let value = values.iter().zip(&r).map(|(a, b)| (a * b) as f64).sum();
                (
                    value,
                    grads.get(&xt).as_vec(),
                    ts.iter().map(|t| grads.get(t).as_vec()).collect(),
                )
            };
            let want = naive_rnn(lstm_kind, &x0, (n, t, i), &p, hs);
            let ts: Vec<Flat<Cpu>> = p
                .iter()
                .map(|v| dev.tensor_from_vec(v.clone(), (v.len(),)))
                .collect();
            let w = RnnWeights {
                weight_ih: &ts[0],
                weight_hh: &ts[1],
                bias_ih: &ts[2],
                bias_hh: &ts[3],
                hidden: hs,
            };
            let xt: T3<Cpu> = dev.tensor_from_vec(x0.clone(), (n, t, i));
            let got = if lstm_kind { lstm(xt, &w) } else { gru(xt, &w) }
                .unwrap()
                .as_vec();
            let name = if lstm_kind { "lstm" } else { "gru" };
            assert_close(&got, &want, 1e-5, name);

            let (_, gx, gp) = run(&x0, &p);
            check_gradient(&format!("{name} x"), &x0, &gx, &|x| run(x, &p).0);
            for (k, label) in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
                .iter()
                .enumerate()
            {
                check_gradient(&format!("{name} {label}"), &p[k], &gp[k], &|v| {
                    let mut q = p.clone();
                    q[k] = v.to_vec();
                    run(&x0, &q).0
                });
            }
        }
    }
}
