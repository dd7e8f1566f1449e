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
pub fn linear<D: Device<f32>, T: Tape<f32, D>>(x: T2<D, T>, w: &Flat<D>, b: &Flat<D>) -> Result<T2<D, T>, D::Err> {
    let (n, i) = *x.shape();
    let o = b.shape().0;
    let w = w.retaped::<T>().try_reshape_like(&(o, i))?.try_permute::<_, Axes2<1, 0>>()?;
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
                    idx.push(if inside { y as usize * w + x as usize } else { h * w });
                }
            }
        }
    }
    idx
}

/// Output side of a conv along one axis.
pub fn conv_out(b: &ConvBlock, side: usize) -> usize {
    let total_pad = match b.padding {
        crate::spec::Padding::Same => b.kernel - 1,
        crate::spec::Padding::Valid => 0,
    };
    (side + total_pad - b.kernel) / b.stride + 1
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
    let (oh, ow) = (conv_out(b, h), conv_out(b, w));
    let dev = x.device().clone();
    // [h*w, n*c] plus a zero row for taps in the padding.
    let pixels = x.try_reshape_like(&(n * c, h * w))?.try_permute::<_, Axes2<1, 0>>()?;
    let zero_row: T2<D> = dev.try_zeros_like(&(1, n * c))?;
    let pixels = (pixels, zero_row).try_concat_along(Axis::<0>)?;
    let index = dev.try_tensor_from_vec(im2col_index(b, h, w, oh, ow), (k * k * oh * ow,))?;
    let taps: T2<D, T> = pixels.try_gather(index)?; // [k*k*oh*ow, n*c]
    let patches = taps
        .try_reshape_like(&(k * k, oh * ow, n, c))?
        .try_permute::<_, Axes4<2, 1, 3, 0>>()? // [n, oh*ow, c, k*k]
        .try_reshape_like(&(n * oh * ow, c * k * k))?;
    let weight = weight.retaped::<T>().try_reshape_like(&(o, c * k * k))?.try_permute::<_, Axes2<1, 0>>()?;
    let bias = bias.retaped::<T>().try_broadcast_like::<_, Axis<0>>(&(n * oh * ow, o))?;
    let y = patches.try_matmul(weight)?.try_add(bias)?; // [n*oh*ow, o]
    y.try_reshape_like(&(n, oh, ow, o))?.try_permute::<_, Axes4<0, 3, 1, 2>>()?.try_contiguous()
}

/// 2x2 max-pool, stride 2, rounding down like PyTorch and Keras (an odd last
/// row or column is dropped).
pub fn max_pool2<D: Device<f32>, T: Tape<f32, D>>(x: T4<D, T>) -> Result<T4<D, T>, D::Err> {
    let (n, c, h, w) = *x.shape();
    let (oh, ow) = (h / 2, w / 2);
    let x = if h % 2 == 1 || w % 2 == 1 {
        // The slice's backward writes rather than adds; safe here because the
        // pool is the input's only consumer.
        x.try_slice((.., .., 0..2 * oh, 0..2 * ow))?.try_contiguous()?
    } else {
        x
    };
    x.try_reshape_like(&(n, c, oh, 2, ow, 2))?.try_max::<(usize, usize, usize, usize), Axes2<3, 5>>()
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
    let var: T1<D, T> = centered.retaped::<T>().try_square()?.try_mean::<_, Axes3<0, 2, 3>>()?;
    let unbiased = if count > 1.0 { count / (count - 1.0) } else { 1.0 };
    running_var.try_axpy(1.0 - BN_MOMENTUM, &var, BN_MOMENTUM * unbiased)?;
    let std = var.try_add(BN_EPS as f32)?.try_sqrt()?;
    let scale = gamma.retaped::<T>().try_div(std)?.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
    let shift = beta.retaped::<T>().try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
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
    let shift = beta.retaped::<T>().try_sub(scale.retaped::<T>().try_mul(running_mean.clone())?)?;
    let scale = scale.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
    let shift = shift.try_broadcast_like::<_, Axes3<0, 2, 3>>(&shape)?;
    x.try_mul(scale)?.try_add(shift)
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
        ConvBlock { in_channels: c, out_channels: o, kernel: k, stride, padding, in_side: 0, conv_side: 0, out_side: 0 }
    }

    /// Direct convolution on the host, the textbook loops.
    pub fn naive_conv(x: &[f32], (n, c, h, w): (usize, usize, usize, usize), wt: &[f32], bias: &[f32], b: &ConvBlock) -> Vec<f32> {
        let (k, o, s, pad) = (b.kernel, b.out_channels, b.stride, b.pad_before() as isize);
        let (oh, ow) = (conv_out(b, h), conv_out(b, w));
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
                                    if iy >= 0 && ix >= 0 && (iy as usize) < h && (ix as usize) < w {
                                        let xv = x[((ni * c + ci) * h + iy as usize) * w + ix as usize];
                                        acc += xv as f64 * wt[((oi * c + ci) * k + ky) * k + kx] as f64;
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
            assert!((g - w).abs() <= rel * scale, "{what}[{i}]: {g} vs {w} (scale {scale})");
        }
    }

    #[test]
    fn conv2d_matches_direct_convolution() {
        let dev = Cpu::default();
        for (k, stride, padding, h, w) in [(5, 1, Padding::Same, 9, 7), (3, 1, Padding::Valid, 8, 8), (3, 2, Padding::Same, 9, 10), (4, 1, Padding::Same, 6, 5)] {
            let (n, c, o) = (2, 3, 4);
            let b = block(c, o, k, stride, padding);
            let x = random(n * c * h * w, 1);
            let wt = random(o * c * k * k, 2);
            let bias = random(o, 3);
            let y = conv2d(dev.tensor_from_vec(x.clone(), (n, c, h, w)), &dev.tensor_from_vec(wt.clone(), (wt.len(),)), &dev.tensor_from_vec(bias.clone(), (o,)), &b).unwrap();
            assert_eq!(*y.shape(), (n, o, conv_out(&b, h), conv_out(&b, w)));
            assert_close(&y.as_vec(), &naive_conv(&x, (n, c, h, w), &wt, &bias, &b), 1e-5, &format!("k{k} s{stride} {padding}"));
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
        let x: Vec<f32> = random(n * c * h * w, 5).iter().map(|v| 3.0 * v + 1.5).collect();
        let (gamma, beta) = (dev.tensor_from_vec(vec![1.0, 2.0], (2,)), dev.tensor_from_vec(vec![0.0, -1.0], (2,)));
        let mut rm = dev.tensor_from_vec(vec![0.0; 2], (2,));
        let mut rv = dev.tensor_from_vec(vec![1.0; 2], (2,));
        let y = batch_norm_train(dev.tensor_from_vec(x.clone(), (n, c, h, w)), &gamma, &beta, &mut rm, &mut rv).unwrap().as_vec();
        for ch in 0..c {
            let values: Vec<f64> = (0..n).flat_map(|ni| (0..h * w).map(move |p| (ni, p))).map(|(ni, p)| x[(ni * c + ch) * h * w + p] as f64).collect();
            let m = values.len() as f64;
            let mean = values.iter().sum::<f64>() / m;
            let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / m;
            let out: Vec<f64> = (0..n).flat_map(|ni| (0..h * w).map(move |p| (ni, p))).map(|(ni, p)| y[(ni * c + ch) * h * w + p] as f64).collect();
            let out_mean = out.iter().sum::<f64>() / m;
            let out_std = (out.iter().map(|v| (v - out_mean).powi(2)).sum::<f64>() / m).sqrt();
            assert!((out_mean - [0.0, -1.0][ch]).abs() < 1e-5 && (out_std - [1.0, 2.0][ch]).abs() < 1e-3, "ch {ch}: {out_mean} {out_std}");
            // PyTorch: running = 0.9 running + 0.1 batch, the variance unbiased.
            assert!((rm.as_vec()[ch] as f64 - 0.1 * mean).abs() < 1e-5);
            assert!((rv.as_vec()[ch] as f64 - (0.9 + 0.1 * var * m / (m - 1.0))).abs() < 1e-5);
        }
        // Evaluation uses the running statistics, not the batch's.
        let e = batch_norm_eval(dev.tensor_from_vec(x.clone(), (n, c, h, w)), &gamma, &beta, &rm, &rv).unwrap().as_vec();
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
            assert!((numeric - a).abs() <= 2e-2 * a.abs().max(1.0), "{what}[{i}]: numeric {numeric} vs tape {a}");
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
        let (gamma, beta) = (dev.tensor_from_vec(vec![1.5, 0.5, -1.0], (3,)), dev.tensor_from_vec(vec![0.1, 0.2, 0.3], (3,)));

        // loss = sum(r * pool(relu(bn(conv(x)))))
        let forward = |x: &[f32], wt: &[f32], bias: &[f32]| -> (f64, Option<(Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>)>) {
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
            (value, Some((grads.get(&xt).as_vec(), g(&wt), g(&bt), g(&gamma))))
        };
        let (_, grads) = forward(&x0, &w0, &b0);
        let (gx, gw, gb, _) = grads.unwrap();
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
            let loss = (linear(xt.clone().leaky_traced(), &wt, &bt).unwrap() * dev.tensor_from_vec(rl.clone(), (3, lo))).sum();
            let value = loss.array() as f64;
            let grads = loss.backward();
            (value, grads.get(&xt).as_vec(), grads.get(&wt).as_vec())
        };
        let (_, gx, gw) = lin(&xl, &wl);
        check_gradient("linear x", &xl, &gx, &|x| lin(x, &wl).0);
        check_gradient("linear weight", &wl, &gw, &|wt| lin(&xl, wt).0);
    }
}
