//! Fast CPU layers: dfdx custom operations with their own backward on the
//! tape, using both cores.
//!
//! Conv2d is im2col + gemm per image (gemm 0.19: AVX-512 kernels where the
//! CPU has them), images spread over the rayon pool. Gradient sums over the batch are taken
//! in fixed chunks of images and added up in chunk order, so the result does
//! not depend on how many threads ran: training is bit-identical with 1 or 2.
//!
//! The recipe (dfdx 0.13's public API): split the input's tape, copy inputs
//! out (`copy_into`), build the output with `tensor_from_vec`, and register a
//! backward op that reads the output's gradient and adds into the inputs'
//! (`Gradients::get_or_alloc_mut` on `ghost()`s). Gradients are keyed by
//! tensor id, so flat parameters passed by reference receive theirs.
//!
//! A backward op takes its output's gradient out of `grads` instead of
//! copying it: dfdx runs backward ops in reverse order, so by then every
//! consumer of the output has added its part, and nothing reads it after.
//! Input gradients are accumulated straight into dfdx's buffers.

use dfdx::prelude::*;
use rayon::prelude::*;

use super::arch::ConvBlock;
use super::params::Flat;
use super::portable::T4;

/// Images per partial gradient sum; fixed so that sums never depend on the
/// number of threads. 8 gives 4 tasks for a batch of 32.
const CHUNK: usize = 8;

/// One conv layer applied to one `[c, h, w]` image.
#[derive(Debug, Clone, Copy)]
struct Geom {
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    k: usize,
    stride: usize,
    pad: usize,
    oh: usize,
    ow: usize,
}

impl Geom {
    fn new(b: &ConvBlock, c: usize, h: usize, w: usize) -> Geom {
        Geom {
            c,
            h,
            w,
            o: b.out_channels,
            k: b.kernel,
            stride: b.stride,
            pad: b.pad_before(),
            oh: b.output_side(h),
            ow: b.output_side(w),
        }
    }

    /// Rows of the im2col matrix: c·k·k.
    fn taps(&self) -> usize {
        self.c * self.k * self.k
    }

    /// Output pixels: oh·ow.
    fn pixels(&self) -> usize {
        self.oh * self.ow
    }

    fn image(&self) -> usize {
        self.c * self.h * self.w
    }

    /// The output columns `ox` whose tap `kx` lands inside the row, as a
    /// range, and the input column of its first one.
    fn columns(&self, kx: usize) -> (std::ops::Range<usize>, usize) {
        // ix = ox·s + kx − pad must lie in [0, w).
        let first = self.pad.saturating_sub(kx).div_ceil(self.stride);
        let last = (self.w + self.pad)
            .checked_sub(kx + 1)
            .map_or(0, |m| m / self.stride + 1)
            .min(self.ow);
        let first = first.min(last);
        (
            first..last,
            (first * self.stride + kx).saturating_sub(self.pad),
        )
    }

    /// For output column `o` and kernel offset `kk` along one axis, the input
    /// coordinate, if inside.
    fn source(&self, out: usize, kk: usize, side: usize) -> Option<usize> {
        (out * self.stride + kk)
            .checked_sub(self.pad)
            .filter(|&i| i < side)
    }
}

/// `cols[(ci·k + ky)·k + kx][oy·ow + ox] = x[ci][oy·s + ky − pad][ox·s + kx − pad]`, 0 outside.
fn im2col(x: &[f32], g: &Geom, cols: &mut [f32]) {
    let p = g.pixels();
    for ci in 0..g.c {
        let plane = &x[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..g.k {
            for kx in 0..g.k {
                let row = &mut cols[((ci * g.k + ky) * g.k + kx) * p..][..p];
                let (inside, ix0) = g.columns(kx);
                for oy in 0..g.oh {
                    let out = &mut row[oy * g.ow..(oy + 1) * g.ow];
                    let Some(iy) = g.source(oy, ky, g.h) else {
                        out.fill(0.0);
                        continue;
                    };
                    let line = &plane[iy * g.w..(iy + 1) * g.w];
                    out[..inside.start].fill(0.0);
                    out[inside.end..].fill(0.0);
                    if g.stride == 1 {
                        out[inside.clone()].copy_from_slice(&line[ix0..ix0 + inside.len()]);
                    } else {
                        for (j, v) in out[inside.clone()].iter_mut().enumerate() {
                            *v = line[ix0 + j * g.stride];
                        }
                    }
                }
            }
        }
    }
}

/// The adjoint of [`im2col`]: adds each column entry back onto its pixel.
fn col2im(cols: &[f32], g: &Geom, dx: &mut [f32]) {
    let p = g.pixels();
    for ci in 0..g.c {
        let plane = &mut dx[ci * g.h * g.w..(ci + 1) * g.h * g.w];
        for ky in 0..g.k {
            for kx in 0..g.k {
                let row = &cols[((ci * g.k + ky) * g.k + kx) * p..][..p];
                let (inside, ix0) = g.columns(kx);
                for oy in 0..g.oh {
                    let Some(iy) = g.source(oy, ky, g.h) else {
                        continue;
                    };
                    let line = &mut plane[iy * g.w..(iy + 1) * g.w];
                    let src = &row[oy * g.ow + inside.start..oy * g.ow + inside.end];
                    if g.stride == 1 {
                        add_into(&mut line[ix0..ix0 + src.len()], src);
                    } else {
                        for (j, v) in src.iter().enumerate() {
                            line[ix0 + j * g.stride] += v;
                        }
                    }
                }
            }
        }
    }
}

/// A strided view of a matrix for gemm: element (i, j) at `i·rs + j·cs`.
#[derive(Clone, Copy)]
struct View<'a> {
    data: &'a [f32],
    rs: usize,
    cs: usize,
}

impl<'a> View<'a> {
    fn rows(data: &'a [f32], cols: usize) -> View<'a> {
        View {
            data,
            rs: cols,
            cs: 1,
        }
    }

    fn transposed(data: &'a [f32], cols: usize) -> View<'a> {
        View {
            data,
            rs: 1,
            cs: cols,
        }
    }

    fn fits(&self, rows: usize, cols: usize) -> bool {
        rows == 0 || cols == 0 || (rows - 1) * self.rs + (cols - 1) * self.cs < self.data.len()
    }
}

/// Row and column strides of a destination matrix.
#[derive(Clone, Copy)]
struct Layout {
    rs: usize,
    cs: usize,
}

/// `dst[m×n] (+)= a[m×k] · b[k×n]`, row-major `dst`, on the calling thread.
fn matmul(
    dst: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    a: View<'_>,
    b: View<'_>,
    accumulate: bool,
) {
    matmul_into(dst, Layout { rs: n, cs: 1 }, m, n, k, a, b, accumulate)
}

/// [`matmul`] into a `dst` laid out as `layout` says.
#[allow(clippy::too_many_arguments)]
fn matmul_into(
    dst: &mut [f32],
    layout: Layout,
    m: usize,
    n: usize,
    k: usize,
    a: View<'_>,
    b: View<'_>,
    accumulate: bool,
) {
    let dst_fits = m == 0 || n == 0 || (m - 1) * layout.rs + (n - 1) * layout.cs < dst.len();
    assert!(
        dst_fits && a.fits(m, k) && b.fits(k, n),
        "matmul operands out of bounds"
    );
    // SAFETY: the assert above keeps every index gemm forms inside the slices;
    // dst does not alias a or b (it is a unique borrow).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            layout.cs as isize,
            layout.rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// A tensor's values on the host. dfdx gives custom ops no view of a
/// tensor's buffer, so reading one means copying it.
fn host<S: Shape>(t: &Tensor<S, f32, Cpu>) -> Vec<f32> {
    let mut v = vec![0f32; t.shape().num_elements()];
    t.copy_into(&mut v);
    v
}

/// 2x2 max-pool of one `[h, w]` plane of `value(index)`, stride 2, floor:
/// writes each window's maximum and the plane index of its first maximum
/// (ties go to the earliest in row-major order, as in PyTorch).
fn pool_plane(
    value: impl Fn(usize) -> f32,
    w: usize,
    oh: usize,
    ow: usize,
    y: &mut [f32],
    arg: &mut [u32],
) {
    for oy in 0..oh {
        for ox in 0..ow {
            let mut best = (2 * oy) * w + 2 * ox;
            let mut max = value(best);
            for at in [best + 1, best + w, best + w + 1] {
                let v = value(at);
                if v > max {
                    (best, max) = (at, v);
                }
            }
            y[oy * ow + ox] = max;
            arg[oy * ow + ox] = best as u32;
        }
    }
}

fn add_into(dst: &mut [f32], src: &[f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d += s;
    }
}

/// 2-D convolution, x `[n, c, h, w]` → `[n, o, oh, ow]`, as a custom op.
/// `input_grad = false` skips the gradient of x (the first layer's input is
/// the images, which need none).
pub fn conv2d<T: Tape<f32, Cpu>>(
    x: T4<Cpu, T>,
    weight: &Flat<Cpu>,
    bias: &Flat<Cpu>,
    b: &ConvBlock,
    input_grad: bool,
) -> Result<T4<Cpu, T>, CpuError> {
    let (n, c, h, w) = *x.shape();
    let g = Geom::new(b, c, h, w);
    let (taps, p) = (g.taps(), g.pixels());
    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let (xv, wv, bv) = (host(&x), host(weight), host(bias));

    let mut yv = vec![0f32; n * g.o * p];
    // Blocks of images per task, so each task allocates its im2col buffer
    // once rather than once per image (the split does not affect results).
    let block = n.div_ceil(2 * rayon::current_num_threads()).max(1);
    yv.par_chunks_mut(g.o * p)
        .zip(xv.par_chunks(g.image()))
        .with_min_len(block)
        .for_each_init(
            || vec![0f32; taps * p],
            |cols, (y, x)| {
                im2col(x, &g, cols);
                for (row, &bias) in y.chunks_mut(p).zip(&bv) {
                    row.fill(bias);
                }
                matmul(
                    y,
                    g.o,
                    p,
                    taps,
                    View::rows(&wv, taps),
                    View::rows(cols, p),
                    true,
                );
            },
        );
    let y = x.device().try_tensor_from_vec(yv, (n, g.o, g.oh, g.ow))?;

    if T::OWNS_TAPE {
        let (x_id, w_id, b_id, y_id) = (x.ghost(), weight.ghost(), bias.ghost(), y.ghost());
        tape.add_backward_op(move |grads| {
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&y_id)?);
            let dx = if input_grad {
                Some(&mut grads.get_or_alloc_mut(&x_id)?[..])
            } else {
                None
            };
            let (dw, db) = conv2d_backward(&xv, &wv, &gy, &g, n, dx);
            add_into(grads.get_or_alloc_mut(&w_id)?, &dw);
            add_into(grads.get_or_alloc_mut(&b_id)?, &db);
            Ok(())
        });
    }
    Ok(y.put_tape(tape))
}

/// Gradients of weight and bias for output gradient `gy`; the input's is
/// added into `dx` when given.
fn conv2d_backward(
    x: &[f32],
    w: &[f32],
    gy: &[f32],
    g: &Geom,
    n: usize,
    dx: Option<&mut [f32]>,
) -> (Vec<f32>, Vec<f32>) {
    let (taps, p, o) = (g.taps(), g.pixels(), g.o);
    let input_grad = dx.is_some();
    let chunks = n.div_ceil(CHUNK);
    let dx_chunks: Vec<Option<&mut [f32]>> = match dx {
        Some(dx) => dx.chunks_mut(CHUNK * g.image()).map(Some).collect(),
        None => (0..chunks).map(|_| None).collect(),
    };
    // Per chunk of images: partial dW and db, and dx for its images.
    let partials: Vec<(Vec<f32>, Vec<f32>)> = dx_chunks
        .into_par_iter()
        .enumerate()
        .map(|(chunk, mut dx)| {
            // dW is accumulated transposed, [taps][o] (see below).
            let (mut dw_t, mut db) = (vec![0f32; taps * o], vec![0f32; o]);
            let (mut cols, mut dcols) = (
                vec![0f32; taps * p],
                vec![0f32; if input_grad { taps * p } else { 0 }],
            );
            let mut gy_t = vec![0f32; p * o];
            for i in chunk * CHUNK..((chunk + 1) * CHUNK).min(n) {
                let gy_i = &gy[i * o * p..(i + 1) * o * p];
                im2col(&x[i * g.image()..(i + 1) * g.image()], g, &mut cols);
                // dW[o×taps] += gy[o×p] · colsᵀ[p×taps]. gemm works in
                // column-major terms and repacks a left operand that is not
                // column-major; with dW held column-major ([taps][o]) and gy
                // transposed ([p][o], small), the large im2col matrix is read
                // in place instead of being repacked for every image.
                for (oc, row) in gy_i.chunks(p).enumerate() {
                    for (pp, &v) in row.iter().enumerate() {
                        gy_t[pp * o + oc] = v;
                    }
                }
                let gy_t_view = View {
                    data: &gy_t,
                    rs: 1,
                    cs: o,
                };
                matmul_into(
                    &mut dw_t,
                    Layout { rs: 1, cs: o },
                    o,
                    taps,
                    p,
                    gy_t_view,
                    View::transposed(&cols, p),
                    true,
                );
                for (d, row) in db.iter_mut().zip(gy_i.chunks(p)) {
                    *d += row.iter().sum::<f32>();
                }
                if let Some(dx) = dx.as_deref_mut() {
                    // dcols[taps×p] = Wᵀ[taps×o] · gy[o×p], then back onto the pixels.
                    matmul(
                        &mut dcols,
                        taps,
                        p,
                        o,
                        View::transposed(w, taps),
                        View::rows(gy_i, p),
                        false,
                    );
                    let local = i - chunk * CHUNK;
                    col2im(
                        &dcols,
                        g,
                        &mut dx[local * g.image()..(local + 1) * g.image()],
                    );
                }
            }
            (dw_t, db)
        })
        .collect();
    let (mut dw_t, mut db) = (vec![0f32; taps * o], vec![0f32; o]);
    for (pw, pb) in &partials {
        add_into(&mut dw_t, pw);
        add_into(&mut db, pb);
    }
    let mut dw = vec![0f32; o * taps];
    for (t, row) in dw_t.chunks(o).enumerate() {
        for (oc, &v) in row.iter().enumerate() {
            dw[oc * taps + t] = v;
        }
    }
    (dw, db)
}

/// Batch norm (batch statistics), ReLU and 2x2 max-pool in one op, for
/// training: x `[n, c, h, w]` → `[n, c, h/2, w/2]`. The normalised map is never
/// stored: the forward keeps the input and each window's argmax, and the
/// backward rebuilds what it needs. Running statistics are updated
/// like PyTorch's (momentum 0.1, unbiased variance). Each channel's sums are
/// one task, so results do not depend on the thread count.
pub fn batch_norm_relu_pool_train<T: Tape<f32, Cpu>>(
    x: T4<Cpu, T>,
    gamma: &Flat<Cpu>,
    beta: &Flat<Cpu>,
    running_mean: &mut Flat<Cpu>,
    running_var: &mut Flat<Cpu>,
) -> Result<T4<Cpu, T>, CpuError> {
    use super::portable::{BN_EPS, BN_MOMENTUM};
    let (n, c, h, w) = *x.shape();
    let (oh, ow, plane) = (h / 2, w / 2, h * w);
    let m = (n * plane) as f64;
    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let (xv, gv, bv) = (host(&x), host(gamma), host(beta));
    let stats: Vec<(f32, f32, f64)> = (0..c)
        .into_par_iter()
        .map(|ch| {
            let planes = || (0..n).map(|i| &xv[(i * c + ch) * plane..][..plane]);
            let mean = planes().map(|p| p.iter().sum::<f32>() as f64).sum::<f64>() / m;
            let mf = mean as f32;
            let var = planes()
                .map(|p| p.iter().map(|&v| (v - mf) * (v - mf)).sum::<f32>() as f64)
                .sum::<f64>()
                / m;
            (mf, (1.0 / (var + BN_EPS).sqrt()) as f32, var)
        })
        .collect();
    // Per channel: z = max(0, x·scale + shift).
    let affine: Vec<(f32, f32)> = (0..c)
        .map(|ch| {
            let (mean, inv_std, _) = stats[ch];
            (gv[ch] * inv_std, bv[ch] - gv[ch] * inv_std * mean)
        })
        .collect();

    let mut yv = vec![0f32; n * c * oh * ow];
    let mut arg = vec![0u32; yv.len()];
    yv.par_chunks_mut(oh * ow)
        .zip(arg.par_chunks_mut(oh * ow))
        .zip(xv.par_chunks(plane))
        .enumerate()
        .for_each(|(i, ((y, arg), x))| {
            let (scale, shift) = affine[i % c];
            pool_plane(|at| (x[at] * scale + shift).max(0.0), w, oh, ow, y, arg);
        });

    let update = |running: &mut Flat<Cpu>, batch: &dyn Fn(usize) -> f64| {
        let mut r = host(running);
        for (ch, r) in r.iter_mut().enumerate() {
            *r = ((1.0 - BN_MOMENTUM) * *r as f64 + BN_MOMENTUM * batch(ch)) as f32;
        }
        running.copy_from(&r);
    };
    update(running_mean, &|ch| stats[ch].0 as f64);
    let unbiased = if m > 1.0 { m / (m - 1.0) } else { 1.0 };
    update(running_var, &|ch| stats[ch].2 * unbiased);

    let y = x.device().try_tensor_from_vec(yv, (n, c, oh, ow))?;
    if T::OWNS_TAPE {
        let (x_id, g_id, b_id, y_id) = (x.ghost(), gamma.ghost(), beta.ghost(), y.ghost());
        tape.add_backward_op(move |grads| {
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&y_id)?);
            // Only the argmax of each window gets a gradient, and only where
            // the ReLU was active there: dz is sparse, so the sums run over
            // the pooled outputs. Then, per channel, with x̂ = (x − mean)/std:
            // dβ = Σ dz, dγ = Σ dz·x̂, dx = γ/std · (dz − dβ/m − x̂·dγ/m).
            let dz_at = |i: usize, k: usize| -> (usize, f32) {
                let (scale, shift) = affine[i % c];
                let at = arg[i * oh * ow + k] as usize;
                let active = xv[i * plane + at] * scale + shift > 0.0;
                (at, if active { gy[i * oh * ow + k] } else { 0.0 })
            };
            let sums: Vec<(f64, f64)> = (0..c)
                .into_par_iter()
                .map(|ch| {
                    let (mean, inv_std, _) = stats[ch];
                    let (mut db, mut dg) = (0f64, 0f64);
                    for i in (ch..n * c).step_by(c) {
                        let (mut pb, mut pg) = (0f32, 0f32);
                        for k in 0..oh * ow {
                            let (at, dz) = dz_at(i, k);
                            pb += dz;
                            pg += dz * (xv[i * plane + at] - mean) * inv_std;
                        }
                        db += pb as f64;
                        dg += pg as f64;
                    }
                    (db, dg)
                })
                .collect();
            let dx = grads.get_or_alloc_mut(&x_id)?;
            dx.par_chunks_mut(plane).enumerate().for_each(|(i, dx)| {
                let ch = i % c;
                let (mean, inv_std, _) = stats[ch];
                let (db, dg) = ((sums[ch].0 / m) as f32, (sums[ch].1 / m) as f32);
                let k = gv[ch] * inv_std;
                let x = &xv[i * plane..(i + 1) * plane];
                for (d, &x) in dx.iter_mut().zip(x) {
                    *d += k * (-db - (x - mean) * inv_std * dg);
                }
                for j in 0..oh * ow {
                    let (at, dz) = dz_at(i, j);
                    dx[at] += k * dz;
                }
            });
            let dgamma: Vec<f32> = sums.iter().map(|s| s.1 as f32).collect();
            let dbeta: Vec<f32> = sums.iter().map(|s| s.0 as f32).collect();
            add_into(grads.get_or_alloc_mut(&g_id)?, &dgamma);
            add_into(grads.get_or_alloc_mut(&b_id)?, &dbeta);
            Ok(())
        });
    }
    Ok(y.put_tape(tape))
}

/// Batch norm with the running statistics, then ReLU, for inference (no
/// tape): one pass, per plane on the rayon pool.
pub fn batch_norm_relu_eval(
    x: T4<Cpu>,
    gamma: &Flat<Cpu>,
    beta: &Flat<Cpu>,
    running_mean: &Flat<Cpu>,
    running_var: &Flat<Cpu>,
) -> Result<T4<Cpu>, CpuError> {
    use super::portable::BN_EPS;
    let (n, c, h, w) = *x.shape();
    let plane = h * w;
    let x = x.try_contiguous()?;
    let mut yv = host(&x);
    let (g, b, m, v) = (
        host(gamma),
        host(beta),
        host(running_mean),
        host(running_var),
    );
    yv.par_chunks_mut(plane).enumerate().for_each(|(i, y)| {
        let ch = i % c;
        let scale = g[ch] / (v[ch] as f64 + BN_EPS).sqrt() as f32;
        let shift = b[ch] - m[ch] * scale;
        for y in y.iter_mut() {
            *y = (*y * scale + shift).max(0.0);
        }
    });
    x.device().try_tensor_from_vec(yv, (n, c, h, w))
}

/// Inverted dropout: zeroes each element with probability `p` and scales the
/// rest by 1/(1 − p), with the mask of [`super::dropout::Mask`] for `seed`:
/// every thread computes the same mask, the portable layer the same one, and
/// the backward recomputes it rather than storing it.
pub fn dropout<S: Shape, T: Tape<f32, Cpu>>(
    x: Tensor<S, f32, Cpu, T>,
    p: f64,
    seed: u64,
) -> Result<Tensor<S, f32, Cpu, T>, CpuError> {
    let shape = *x.shape();
    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let mut yv = host(&x);
    let mask = super::dropout::Mask::new(p, seed);
    const BLOCK: usize = 1 << 14;
    let apply = move |values: &mut [f32], block: usize| {
        for (j, v) in values.iter_mut().enumerate() {
            *v *= mask.factor((block * BLOCK + j) as u64);
        }
    };
    yv.par_chunks_mut(BLOCK)
        .enumerate()
        .for_each(|(b, values)| apply(values, b));
    let y = x.device().try_tensor_from_vec(yv, shape)?;
    if T::OWNS_TAPE {
        let (x_id, y_id) = (x.ghost(), y.ghost());
        tape.add_backward_op(move |grads| {
            let mut gy = std::mem::take(&mut **grads.get_or_alloc_mut(&y_id)?);
            gy.par_chunks_mut(BLOCK)
                .enumerate()
                .for_each(|(b, values)| apply(values, b));
            add_into(grads.get_or_alloc_mut(&x_id)?, &gy);
            Ok(())
        });
    }
    Ok(y.put_tape(tape))
}

/// 2x2 max-pool, stride 2, floor: x `[n, c, h, w]` → `[n, c, h/2, w/2]`. The
/// gradient goes to the first maximum of each window, as in PyTorch.
pub fn max_pool2<T: Tape<f32, Cpu>>(x: T4<Cpu, T>) -> Result<T4<Cpu, T>, CpuError> {
    let (n, c, h, w) = *x.shape();
    let (oh, ow) = (h / 2, w / 2);
    let (x, mut tape) = x.try_contiguous()?.split_tape();
    let xv = host(&x);
    let mut yv = vec![0f32; n * c * oh * ow];
    // Index (into the input plane) of each output's maximum, for the backward.
    let mut arg = vec![0u32; yv.len()];
    yv.par_chunks_mut(oh * ow)
        .zip(arg.par_chunks_mut(oh * ow))
        .zip(xv.par_chunks(h * w))
        .for_each(|((y, arg), x)| pool_plane(|at| x[at], w, oh, ow, y, arg));
    let y = x.device().try_tensor_from_vec(yv, (n, c, oh, ow))?;
    if T::OWNS_TAPE {
        let (x_id, y_id) = (x.ghost(), y.ghost());
        tape.add_backward_op(move |grads| {
            let gy = std::mem::take(&mut **grads.get_or_alloc_mut(&y_id)?);
            let gx = grads.get_or_alloc_mut(&x_id)?;
            gx.par_chunks_mut(h * w)
                .zip(gy.par_chunks(oh * ow))
                .zip(arg.par_chunks(oh * ow))
                .for_each(|((gx, gy), arg)| {
                    for (g, &at) in gy.iter().zip(arg) {
                        gx[at as usize] += g;
                    }
                });
            Ok(())
        });
    }
    Ok(y.put_tape(tape))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::portable::{self, tests::*};
    use crate::spec::Padding;

    /// Forward output and the gradients of x, weight and bias for the loss
    /// sum(r ⊙ conv(x)), through the fast or the portable conv.
    fn run(
        fast: bool,
        x: &[f32],
        shape: (usize, usize, usize, usize),
        w: &[f32],
        bias: &[f32],
        r: &[f32],
        b: &ConvBlock,
    ) -> [Vec<f32>; 4] {
        let dev = Cpu::default();
        let xt = dev.tensor_from_vec(x.to_vec(), shape);
        let wt = dev.tensor_from_vec(w.to_vec(), (w.len(),));
        let bt = dev.tensor_from_vec(bias.to_vec(), (bias.len(),));
        let y = if fast {
            conv2d(xt.clone().leaky_traced(), &wt, &bt, b, true).unwrap()
        } else {
            portable::conv2d(xt.clone().leaky_traced(), &wt, &bt, b).unwrap()
        };
        let values = y.as_vec();
        let rt = dev.tensor_from_vec(r.to_vec(), *y.shape());
        let grads = (y * rt).sum().backward();
        [
            values,
            grads.get(&xt).as_vec(),
            grads.get(&wt).as_vec(),
            grads.get(&bt).as_vec(),
        ]
    }

    #[test]
    fn fast_conv_agrees_with_the_portable_one_forward_and_backward() {
        let cases = [
            (5, 1, Padding::Same, 9, 7),
            (3, 1, Padding::Valid, 8, 8),
            (3, 2, Padding::Same, 9, 10),
            (4, 1, Padding::Same, 6, 5),
            (1, 1, Padding::Valid, 3, 4),
        ];
        for (k, stride, padding, h, w) in cases {
            let (n, c, o) = (6, 3, 4); // 6 images: more than one gradient chunk
            let b = block(c, o, k, stride, padding);
            let x = random(n * c * h * w, 40);
            let wt = random(o * c * k * k, 41);
            let bias = random(o, 42);
            let r = random(n * o * b.output_side(h) * b.output_side(w), 43);
            let fast = run(true, &x, (n, c, h, w), &wt, &bias, &r, &b);
            let slow = run(false, &x, (n, c, h, w), &wt, &bias, &r, &b);
            for (what, (f, s)) in ["output", "d input", "d weight", "d bias"]
                .iter()
                .zip(fast.iter().zip(&slow))
            {
                assert_close(f, s, 1e-4, &format!("k{k} s{stride} {padding}: {what}"));
            }
        }
    }

    #[test]
    fn one_and_two_threads_give_the_same_bits() {
        let b = block(3, 5, 3, 1, Padding::Same);
        let (n, c, h, w) = (9, 3, 11, 11);
        let x = random(n * c * h * w, 50);
        let wt = random(5 * 27, 51);
        let bias = random(5, 52);
        let r = random(n * 5 * h * w, 53);
        let with = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| run(true, &x, (n, c, h, w), &wt, &bias, &r, &b))
        };
        assert_eq!(with(1), with(2));
    }

    #[test]
    fn im2col_and_col2im_are_adjoint() {
        // <im2col(x), c> = <x, col2im(c)> for any x and c.
        let g = Geom::new(&block(2, 1, 3, 2, Padding::Same), 2, 7, 6);
        let x = random(g.image(), 60);
        let c = random(g.taps() * g.pixels(), 61);
        let mut cols = vec![0f32; c.len()];
        im2col(&x, &g, &mut cols);
        let mut back = vec![0f32; x.len()];
        col2im(&c, &g, &mut back);
        let lhs: f64 = cols.iter().zip(&c).map(|(a, b)| (a * b) as f64).sum();
        let rhs: f64 = x.iter().zip(&back).map(|(a, b)| (a * b) as f64).sum();
        assert!((lhs - rhs).abs() < 1e-4, "{lhs} vs {rhs}");
    }

    #[test]
    fn fast_max_pool_agrees_with_the_portable_one() {
        let dev = Cpu::default();
        for (h, w) in [(4, 6), (5, 7)] {
            let x0 = random(2 * 3 * h * w, 80);
            let r = random(2 * 3 * (h / 2) * (w / 2), 81);
            let run = |fast: bool| {
                let xt = dev.tensor_from_vec(x0.clone(), (2, 3, h, w));
                let y = if fast {
                    max_pool2(xt.clone().leaky_traced()).unwrap()
                } else {
                    portable::max_pool2(xt.clone().leaky_traced()).unwrap()
                };
                let values = y.as_vec();
                let grads = (y * dev.tensor_from_vec(r.clone(), (2, 3, h / 2, w / 2)))
                    .sum()
                    .backward();
                [values, grads.get(&xt).as_vec()]
            };
            assert_eq!(
                run(true),
                run(false),
                "{h}x{w}: no ties in random data, so the same bits"
            );
        }
    }

    #[test]
    fn fused_eval_batch_norm_relu_agrees_with_the_portable_layers() {
        let dev = Cpu::default();
        let (n, c, h, w) = (3, 3, 5, 4);
        let x = dev.tensor_from_vec(random(n * c * h * w, 90), (n, c, h, w));
        let t = |v: Vec<f32>| dev.tensor_from_vec(v, (c,));
        let (gamma, beta, mean, var) = (
            t(vec![1.5, -0.5, 0.8]),
            t(vec![0.1, 0.2, -0.3]),
            t(vec![0.2, -0.1, 0.0]),
            t(vec![1.5, 0.5, 2.0]),
        );
        let fast = batch_norm_relu_eval(x.clone(), &gamma, &beta, &mean, &var)
            .unwrap()
            .as_vec();
        let slow = portable::batch_norm_eval(x, &gamma, &beta, &mean, &var)
            .unwrap()
            .relu()
            .as_vec();
        assert_close(&fast, &slow, 1e-5, "eval batch norm + relu");
    }

    #[test]
    fn fused_batch_norm_relu_pool_agrees_with_the_separate_layers() {
        let dev = Cpu::default();
        for (h, w) in [(6, 8), (5, 7)] {
            let (n, c) = (4, 3);
            let x0: Vec<f32> = random(n * c * h * w, 100)
                .iter()
                .map(|v| 2.0 * v + 0.3)
                .collect();
            let r = random(n * c * (h / 2) * (w / 2), 101);
            let run = |fused: bool| {
                let xt = dev.tensor_from_vec(x0.clone(), (n, c, h, w));
                let gamma = dev.tensor_from_vec(vec![1.5, -0.5, 0.8], (c,));
                let beta = dev.tensor_from_vec(vec![0.1, 0.2, -0.3], (c,));
                let mut rm = dev.tensor_from_vec(vec![0.2; c], (c,));
                let mut rv = dev.tensor_from_vec(vec![1.5; c], (c,));
                let y = if fused {
                    batch_norm_relu_pool_train(
                        xt.clone().leaky_traced(),
                        &gamma,
                        &beta,
                        &mut rm,
                        &mut rv,
                    )
                    .unwrap()
                } else {
                    let z = portable::batch_norm_train(
                        xt.clone().leaky_traced(),
                        &gamma,
                        &beta,
                        &mut rm,
                        &mut rv,
                    )
                    .unwrap()
                    .relu();
                    portable::max_pool2(z).unwrap()
                };
                let values = y.as_vec();
                let grads = (y * dev.tensor_from_vec(r.clone(), (n, c, h / 2, w / 2)))
                    .sum()
                    .backward();
                [
                    values,
                    grads.get(&xt).as_vec(),
                    grads.get(&gamma).as_vec(),
                    grads.get(&beta).as_vec(),
                    rm.as_vec(),
                    rv.as_vec(),
                ]
            };
            let (fused, separate) = (run(true), run(false));
            for (what, (f, s)) in [
                "output",
                "d input",
                "d gamma",
                "d beta",
                "running mean",
                "running var",
            ]
            .iter()
            .zip(fused.iter().zip(&separate))
            {
                assert_close(f, s, 1e-4, &format!("{h}x{w}: {what}"));
            }
        }
    }

    #[test]
    fn dropout_drops_the_right_share_and_scales_the_rest() {
        let dev = Cpu::default();
        let n = 100_000;
        let x = dev.tensor_from_vec(vec![1.0f32; n], (n,));
        let y = dropout(x.clone().leaky_traced(), 0.25, 3).unwrap();
        let values = y.as_vec();
        let kept = values.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        assert!((kept - 0.75).abs() < 0.01, "kept {kept}");
        assert!(values
            .iter()
            .all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
        // The gradient passes exactly where the value did, with the same scale.
        let grads = y.sum().backward();
        assert_eq!(grads.get(&x).as_vec(), values);
        // Same seed, same mask, whatever the thread count; the portable
        // layer draws the same mask.
        let again = |threads: usize, seed: u64| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                dropout(dev.tensor_from_vec(vec![1.0f32; n], (n,)), 0.25, seed)
                    .unwrap()
                    .as_vec()
            })
        };
        assert_eq!(again(1, 3), values);
        assert_eq!(again(2, 3), values);
        assert_ne!(again(2, 4), values);
        let portable =
            crate::model::portable::dropout(dev.tensor_from_vec(vec![1.0f32; n], (n,)), 0.25, 3)
                .unwrap();
        assert_eq!(portable.as_vec(), values);
    }
}
