//! The synthetic stand-in for the real posters: same layout (train.csv with
//! `Id,Genre,` + the 25 genre columns, `Images/<Id>.jpg`), same poster sizes,
//! and labels drawn to match the real statistics — so the project runs on a
//! fresh clone with no data.
//!
//! Labels: the number of genres (1–3) is drawn with the real proportions, then
//! that many distinct genres by weighted sampling without replacement, the
//! weights calibrated so that each genre's prevalence equals the real one.
//!
//! Pictures: every genre owns a colour, a shape, a band of the poster where
//! its shapes sit, and a texture. A poster draws the cues of each of its
//! genres over a cluttered background. Noise keeps the task imperfect on
//! purpose: a genre's cues are left out 15 % of the time, a cue of a genre the
//! poster does not have is added 35 % of the time, the background sometimes
//! has an unrelated colour, and there is clutter, pixel noise and JPEG loss.

use std::io::Write;
use std::path::{Path, PathBuf};

use image::codecs::jpeg::JpegEncoder;
use image::{Rgb, RgbImage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::error::DataError;
use crate::progress::Progress;

/// Bump when the generator's output changes (the default set is then remade).
pub const GENERATOR_VERSION: u32 = 1;

/// The real CSV's genre columns, in its order.
pub const GENRES: [&str; 25] = [
    "Action",
    "Adventure",
    "Animation",
    "Biography",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Family",
    "Fantasy",
    "History",
    "Horror",
    "Music",
    "Musical",
    "Mystery",
    "N/A",
    "News",
    "Reality-TV",
    "Romance",
    "Sci-Fi",
    "Short",
    "Sport",
    "Thriller",
    "War",
    "Western",
];

/// Posters per genre in the real train.csv after dropping its 12 exact
/// duplicate rows (7,242 posters), in [`GENRES`] order.
pub const REAL_COUNTS: [u32; 25] = [
    1339, 868, 244, 441, 2895, 1175, 650, 3617, 434, 467, 224, 502, 304, 97, 453, 9, 21, 2, 1331,
    397, 46, 219, 916, 144, 50,
];
pub const REAL_POSTERS: u32 = 7242;
/// Real posters with 1, 2 and 3 genres.
pub const REAL_GENRES_PER_POSTER: [u32; 3] = [1321, 2239, 3682];

/// The real posters' sizes here: 179–182 wide, 243–268 tall (the IMDb
/// thumbnail size, 182×268, and a little less).
const WIDTH: (u32, u32) = (179, 182);
const HEIGHT: (u32, u32) = (243, 268);

const CUE_DROPOUT: f64 = 0.15;
const DISTRACTOR: f64 = 0.35;
const ODD_BACKGROUND: f64 = 0.25;
const JPEG_QUALITY: u8 = 85;

/// Weighted sampling of 1–3 distinct genres, calibrated to real prevalences.
pub struct LabelModel {
    weights: [f64; 25],
    cardinality: [f64; 3],
}

impl LabelModel {
    pub fn calibrated() -> LabelModel {
        let total = REAL_POSTERS as f64;
        let target: Vec<f64> = REAL_COUNTS.iter().map(|&c| c as f64 / total).collect();
        let mut cardinality = [0.0; 3];
        for (k, &n) in REAL_GENRES_PER_POSTER.iter().enumerate() {
            cardinality[k] = n as f64 / total;
        }
        let mut model = LabelModel {
            weights: [1.0; 25],
            cardinality,
        };
        for (w, t) in model.weights.iter_mut().zip(&target) {
            *w = *t;
        }
        // Fixed point: scale each weight by target / achieved prevalence.
        for _ in 0..500 {
            let achieved = model.prevalences();
            for g in 0..25 {
                model.weights[g] *= (target[g] / achieved[g]).powf(0.7);
            }
            let sum: f64 = model.weights.iter().sum();
            model.weights.iter_mut().for_each(|w| *w /= sum);
        }
        model
    }

    /// Exact probability that each genre is drawn, enumerating ordered draws.
    pub fn prevalences(&self) -> [f64; 25] {
        let w = &self.weights;
        let total: f64 = w.iter().sum();
        let mut p = [0.0; 25];
        for a in 0..25 {
            let pa = w[a] / total;
            p[a] += pa; // a is drawn for every cardinality
            let rest_a = total - w[a];
            for b in (0..25).filter(|&b| b != a) {
                let pb = pa * w[b] / rest_a;
                p[b] += pb * (self.cardinality[1] + self.cardinality[2]);
                let rest_ab = rest_a - w[b];
                for c in (0..25).filter(|&c| c != a && c != b) {
                    p[c] += pb * w[c] / rest_ab * self.cardinality[2];
                }
            }
        }
        p
    }

    /// One poster's genres, in draw order.
    pub fn sample(&self, rng: &mut impl Rng) -> Vec<usize> {
        let u: f64 = rng.gen();
        let k = if u < self.cardinality[0] {
            1
        } else if u < self.cardinality[0] + self.cardinality[1] {
            2
        } else {
            3
        };
        let mut chosen = Vec::with_capacity(k);
        while chosen.len() < k {
            let total: f64 = (0..25)
                .filter(|g| !chosen.contains(g))
                .map(|g| self.weights[g])
                .sum();
            let mut x = rng.gen::<f64>() * total;
            let mut pick = None;
            for g in (0..25).filter(|g| !chosen.contains(g)) {
                pick = Some(g);
                x -= self.weights[g];
                if x < 0.0 {
                    break;
                }
            }
            chosen.push(pick.expect("25 genres, at most 3 drawn"));
        }
        chosen
    }
}

/// The genres of `count` synthetic posters: exactly those `write_dataset`
/// writes for the same seed.
pub fn sample_labels(count: usize, seed: u64) -> Vec<Vec<usize>> {
    let model = LabelModel::calibrated();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    (0..count).map(|_| model.sample(&mut rng)).collect()
}

pub fn poster_id(i: usize) -> String {
    format!("syn{:07}", i + 1)
}

/// The file that marks a folder as a synthetic set posterlab wrote: what
/// `synth --force` checks before it replaces anything.
pub const MANIFEST: &str = "posterlab-synthetic.json";

/// Writes a synthetic data set into `dir`, which must not exist yet (or be
/// an empty folder). The set is built in a temporary sibling folder and
/// renamed into place, so `dir` either holds a whole data set or nothing.
pub fn write_dataset(
    dir: &Path,
    count: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<(), DataError> {
    build_then(dir, count, seed, progress, |tmp| {
        std::fs::rename(tmp, dir).or_else(|e| {
            // Another process may have made the same set meanwhile.
            if dir.join("train.csv").is_file() {
                Ok(())
            } else {
                Err(DataError::new(
                    dir,
                    format!("cannot move the new data set into place: {e}"),
                ))
            }
        })
    })
}

/// Replaces the synthetic set in `dir` with a new one, after checking that
/// every file there is one posterlab wrote ([`posterlabs_files`]); the old
/// set stays whole until the new one is complete.
pub fn replace_dataset(
    dir: &Path,
    count: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<(), DataError> {
    posterlabs_files(dir)?;
    build_then(dir, count, seed, progress, |tmp| {
        // Checked again now: a file may have been added while drawing.
        let old = posterlabs_files(dir)?;
        for file in &old {
            std::fs::remove_file(file)
                .map_err(|e| DataError::new(file, format!("cannot remove: {e}")))?;
        }
        let images = dir.join("Images");
        if images.is_dir() {
            std::fs::remove_dir(&images)
                .map_err(|e| DataError::new(&images, format!("cannot remove: {e}")))?;
        }
        std::fs::remove_dir(dir).map_err(|e| DataError::new(dir, format!("cannot remove: {e}")))?;
        std::fs::rename(tmp, dir).map_err(|e| {
            DataError::new(dir, format!("cannot move the new data set into place: {e}"))
        })
    })
}

/// Draws a set into a temporary sibling of `dir`, then hands it to `place`.
fn build_then(
    dir: &Path,
    count: usize,
    seed: u64,
    progress: &dyn Progress,
    place: impl FnOnce(&Path) -> Result<(), DataError>,
) -> Result<(), DataError> {
    if count == 0 {
        return Err(DataError::new(
            dir,
            "a synthetic data set needs at least one poster",
        ));
    }
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| DataError::io(parent, e))?;
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "synthetic".into());
    // This process's own name: whatever is there was left by it.
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let result = write_into(&tmp, count, seed, progress).and_then(|()| place(&tmp));
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

/// The files of the synthetic set in `dir`, when every entry there is one
/// posterlab wrote: the manifest, `train.csv`, and `Images/` holding only
/// the `synNNNNNNN.jpg` posters the manifest counts. Anything else (or no
/// manifest) is an error naming it: posterlab deletes only what it made.
pub fn posterlabs_files(dir: &Path) -> Result<Vec<PathBuf>, DataError> {
    let refuse = |what: String| {
        Err(DataError::new(dir, what).with_help(
            "posterlab replaces only a synthetic set it wrote, untouched: choose another --out, \
             or move the folder away yourself",
        ))
    };
    let manifest = dir.join(MANIFEST);
    let count = match std::fs::read_to_string(&manifest)
        .ok()
        .and_then(|t| serde_json::from_str::<Manifest>(&t).ok())
    {
        Some(m) => m.count,
        None => {
            return refuse(format!(
                "is not a synthetic set written by posterlab (it has no readable {MANIFEST})"
            ))
        }
    };
    let mut files = vec![manifest];
    let listing = |d: &Path| -> Result<Vec<String>, DataError> {
        let mut names = std::fs::read_dir(d)
            .map_err(|e| DataError::io(d, e))?
            .map(|e| {
                e.map(|e| e.file_name().to_string_lossy().into_owned())
                    .map_err(|e| DataError::io(d, e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        names.sort();
        Ok(names)
    };
    for name in listing(dir)? {
        match name.as_str() {
            MANIFEST | "Images" => {}
            "train.csv" => files.push(dir.join(name)),
            other => {
                return refuse(format!(
                    "holds `{}`, which posterlab did not write",
                    crate::text::printable(other)
                ))
            }
        }
    }
    let images = dir.join("Images");
    if images.is_dir() {
        let ours: std::collections::HashSet<String> = (0..count)
            .map(|i| format!("{}.jpg", poster_id(i)))
            .collect();
        for name in listing(&images)? {
            if !ours.contains(&name) {
                return refuse(format!(
                    "holds `Images/{}`, which posterlab did not write",
                    crate::text::printable(&name)
                ));
            }
            files.push(images.join(name));
        }
    }
    Ok(files)
}

/// What [`MANIFEST`] records.
#[derive(serde::Serialize, serde::Deserialize)]
struct Manifest {
    generator: String,
    generator_version: u32,
    count: usize,
    seed: u64,
}

fn write_into(
    dir: &Path,
    count: usize,
    seed: u64,
    progress: &dyn Progress,
) -> Result<(), DataError> {
    let images = dir.join("Images");
    std::fs::create_dir_all(&images).map_err(|e| DataError::io(&images, e))?;
    let labels = sample_labels(count, seed);

    progress.begin("drawing posters", count as u64);
    let written: Result<(), DataError> =
        labels.par_iter().enumerate().try_for_each(|(i, genres)| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(i as u64 + 1);
            let poster = draw_poster(genres, &mut rng);
            let path = images.join(format!("{}.jpg", poster_id(i)));
            let result = encode_jpeg(&poster, &path);
            progress.advance(1);
            result
        });
    progress.end();
    written?;

    let csv_path = dir.join("train.csv");
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["Id".to_string(), "Genre".to_string()];
    header.extend(GENRES.iter().map(|g| g.to_string()));
    let row_error = |e: csv::Error| DataError::new(&csv_path, format!("cannot write: {e}"));
    csv.write_record(&header).map_err(row_error)?;
    for (i, genres) in labels.iter().enumerate() {
        let names: Vec<String> = genres.iter().map(|&g| format!("'{}'", GENRES[g])).collect();
        let mut row = vec![poster_id(i), format!("[{}]", names.join(", "))];
        row.extend((0..25).map(|g| if genres.contains(&g) { "1" } else { "0" }.to_string()));
        csv.write_record(&row).map_err(row_error)?;
    }
    let bytes = csv
        .into_inner()
        .map_err(|e| DataError::new(&csv_path, format!("cannot write: {e}")))?;
    std::fs::write(&csv_path, bytes).map_err(|e| DataError::io(&csv_path, e))?;
    let manifest = Manifest {
        generator: format!("posterlab {}", env!("CARGO_PKG_VERSION")),
        generator_version: GENERATOR_VERSION,
        count,
        seed,
    };
    let text = serde_json::to_string_pretty(&manifest).expect("the manifest serialises");
    let path = dir.join(MANIFEST);
    std::fs::write(&path, text + "\n").map_err(|e| DataError::io(&path, e))
}

fn encode_jpeg(img: &RgbImage, path: &PathBuf) -> Result<(), DataError> {
    let mut bytes = Vec::with_capacity(16 * 1024);
    JpegEncoder::new_with_quality(&mut bytes, JPEG_QUALITY)
        .encode_image(img)
        .map_err(|e| DataError::new(path, format!("cannot encode JPEG: {e}")))?;
    std::fs::File::create(path)
        .and_then(|mut f| f.write_all(&bytes))
        .map_err(|e| DataError::new(path, format!("cannot write: {e}")))
}

/// What a genre looks like.
struct Cue {
    colour: [f32; 3],
    shape: Shape,
    /// Which fifth of the poster, top to bottom, its shapes sit in.
    band: u32,
    texture: Texture,
    /// Texture period in pixels.
    period: u32,
}

#[derive(Clone, Copy)]
enum Shape {
    Circle,
    Square,
    Triangle,
    Ring,
    Cross,
}

#[derive(Clone, Copy)]
enum Texture {
    HStripes,
    VStripes,
    Diagonal,
    Checker,
    Dots,
}

/// Genre g: shape g mod 5 and band (g div 5 + g) mod 5 (a Latin square: two
/// genres share a shape or a band, never both); hues spread by the golden angle.
fn cue(g: usize) -> Cue {
    const SHAPES: [Shape; 5] = [
        Shape::Circle,
        Shape::Square,
        Shape::Triangle,
        Shape::Ring,
        Shape::Cross,
    ];
    const TEXTURES: [Texture; 5] = [
        Texture::HStripes,
        Texture::VStripes,
        Texture::Diagonal,
        Texture::Checker,
        Texture::Dots,
    ];
    let hue = (g as f32 * 137.508) % 360.0;
    let value = if g.is_multiple_of(2) { 1.0 } else { 0.8 };
    Cue {
        colour: hsv(hue, 0.85, value),
        shape: SHAPES[g % 5],
        band: ((g / 5 + g) % 5) as u32,
        texture: TEXTURES[(g * 2 + g / 5) % 5],
        period: 6 + 2 * (g as u32 % 4),
    }
}

fn hsv(h: f32, s: f32, v: f32) -> [f32; 3] {
    let c = v * s;
    let x = c * (1.0 - ((h / 60.0) % 2.0 - 1.0).abs());
    let m = v - c;
    let (r, g, b) = match (h / 60.0) as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

/// A float RGB canvas with alpha blending.
struct Canvas {
    w: u32,
    h: u32,
    px: Vec<[f32; 3]>,
}

impl Canvas {
    fn blend(&mut self, x: i64, y: i64, colour: [f32; 3], alpha: f32) {
        if x < 0 || y < 0 || x >= self.w as i64 || y >= self.h as i64 {
            return;
        }
        let p = &mut self.px[(y as u32 * self.w + x as u32) as usize];
        for c in 0..3 {
            p[c] += (colour[c] - p[c]) * alpha;
        }
    }

    /// Blends `colour` over every pixel of the box around (cx, cy) where
    /// `inside(dx, dy)` holds, (dx, dy) relative to the centre.
    fn fill(
        &mut self,
        cx: f32,
        cy: f32,
        r: f32,
        colour: [f32; 3],
        alpha: f32,
        inside: impl Fn(f32, f32) -> bool,
    ) {
        let (x0, x1) = ((cx - r).floor() as i64, (cx + r).ceil() as i64);
        let (y0, y1) = ((cy - r).floor() as i64, (cy + r).ceil() as i64);
        for y in y0..=y1 {
            for x in x0..=x1 {
                if inside(x as f32 - cx, y as f32 - cy) {
                    self.blend(x, y, colour, alpha);
                }
            }
        }
    }

    fn shape(
        &mut self,
        shape: Shape,
        (cx, cy): (f32, f32),
        r: f32,
        angle: f32,
        colour: [f32; 3],
        alpha: f32,
    ) {
        let (sin, cos) = angle.sin_cos();
        self.fill(cx, cy, r * 1.5, colour, alpha, |dx, dy| {
            let (x, y) = (dx * cos + dy * sin, -dx * sin + dy * cos);
            match shape {
                Shape::Circle => x * x + y * y <= r * r,
                Shape::Ring => (0.55 * r * 0.55 * r..=r * r).contains(&(x * x + y * y)),
                Shape::Square => x.abs() <= 0.8 * r && y.abs() <= 0.8 * r,
                Shape::Cross => {
                    (x.abs() <= 0.3 * r && y.abs() <= r) || (y.abs() <= 0.3 * r && x.abs() <= r)
                }
                Shape::Triangle => {
                    // Pointing up: below the two slanted edges, above the base.
                    let slope = 3f32.sqrt();
                    y <= 0.5 * r && y >= -r + slope * x.abs()
                }
            }
        });
    }

    /// Fills the rectangle `(x0, y0, w, h)` with a texture.
    fn texture(
        &mut self,
        (x0, y0, w, h): (i64, i64, i64, i64),
        texture: Texture,
        period: u32,
        colour: [f32; 3],
        alpha: f32,
    ) {
        let p = period as i64;
        let half = (p / 2).max(1);
        for y in y0..y0 + h {
            for x in x0..x0 + w {
                let on = match texture {
                    Texture::HStripes => (y / half) % 2 == 0,
                    Texture::VStripes => (x / half) % 2 == 0,
                    Texture::Diagonal => ((x + y) / half) % 2 == 0,
                    Texture::Checker => ((x / half) + (y / half)) % 2 == 0,
                    Texture::Dots => {
                        let (dx, dy) = (x.rem_euclid(p) - half, y.rem_euclid(p) - half);
                        dx * dx + dy * dy <= (p * p) / 16
                    }
                };
                if on {
                    self.blend(x, y, colour, alpha);
                }
            }
        }
    }

    fn into_image(self, rng: &mut impl Rng) -> RgbImage {
        let mut img = RgbImage::new(self.w, self.h);
        for (dst, src) in img.pixels_mut().zip(self.px) {
            // Roughly Gaussian pixel noise (sum of two uniforms), sigma ~ 8.
            let noise: f32 = (rng.gen::<f32>() + rng.gen::<f32>() - 1.0) * 20.0;
            *dst = Rgb(src.map(|c| (c + noise).clamp(0.0, 255.0) as u8));
        }
        img
    }
}

fn jitter(colour: [f32; 3], amount: f32, rng: &mut impl Rng) -> [f32; 3] {
    colour.map(|c| (c + rng.gen_range(-amount..=amount)).clamp(0.0, 255.0))
}

/// One poster for the given genres.
pub fn draw_poster(genres: &[usize], rng: &mut impl Rng) -> RgbImage {
    let w = rng.gen_range(WIDTH.0..=WIDTH.1);
    let h = rng.gen_range(HEIGHT.0..=HEIGHT.1);
    let (wf, hf) = (w as f32, h as f32);
    let cues: Vec<Cue> = genres.iter().map(|&g| cue(g)).collect();

    // Background: a dark vertical gradient between the first and last genre's
    // colours, or (sometimes) an unrelated one.
    let (top, bottom) = if rng.gen_bool(ODD_BACKGROUND) || cues.is_empty() {
        let c = [
            rng.gen_range(0.0..255.0),
            rng.gen_range(0.0..255.0),
            rng.gen_range(0.0..255.0),
        ];
        (c, jitter(c, 60.0, rng))
    } else {
        (cues[0].colour, cues[cues.len() - 1].colour)
    };
    let shade = rng.gen_range(0.2..0.45);
    let mut canvas = Canvas {
        w,
        h,
        px: Vec::with_capacity((w * h) as usize),
    };
    for y in 0..h {
        let t = y as f32 / hf;
        let c = [0, 1, 2].map(|i| (top[i] * (1.0 - t) + bottom[i] * t) * shade);
        canvas.px.extend(std::iter::repeat_n(c, w as usize));
    }

    // Clutter: soft blobs of any colour, like the people and scenery of a poster.
    for _ in 0..rng.gen_range(3..7) {
        let (cx, cy) = (rng.gen_range(0.0..wf), rng.gen_range(0.0..hf));
        let (rx, ry) = (rng.gen_range(15.0..60.0f32), rng.gen_range(15.0..70.0f32));
        let colour = [
            rng.gen_range(0.0..255.0),
            rng.gen_range(0.0..255.0),
            rng.gen_range(0.0..255.0),
        ];
        let alpha = rng.gen_range(0.2..0.45);
        canvas.fill(cx, cy, rx.max(ry), colour, alpha, |dx, dy| {
            (dx / rx).powi(2) + (dy / ry).powi(2) <= 1.0
        });
    }

    let band_h = hf / 5.0;
    for cue in &cues {
        if rng.gen_bool(CUE_DROPOUT) {
            continue;
        }
        let band_centre = band_h * (cue.band as f32 + 0.5);
        if rng.gen_bool(0.6) {
            let (tw, th) = (
                rng.gen_range(40..80) as i64,
                rng.gen_range(25..(band_h as i64).max(26)),
            );
            let x0 = rng.gen_range(0..(w as i64 - tw).max(1));
            let y0 = (band_centre as i64 - th / 2).max(0);
            canvas.texture(
                (x0, y0, tw, th),
                cue.texture,
                cue.period,
                jitter(cue.colour, 25.0, rng),
                0.55,
            );
        }
        for _ in 0..rng.gen_range(2..=4) {
            let cx = rng.gen_range(18.0..wf - 18.0);
            let cy = band_centre + rng.gen_range(-0.35..0.35) * band_h;
            let r = rng.gen_range(11.0..22.0);
            let angle = rng.gen_range(-0.5..0.5);
            canvas.shape(
                cue.shape,
                (cx, cy),
                r,
                angle,
                jitter(cue.colour, 30.0, rng),
                rng.gen_range(0.8..1.0),
            );
        }
    }

    // A distractor: one shape of a genre this poster does not have.
    if rng.gen_bool(DISTRACTOR) {
        let other = loop {
            let g = rng.gen_range(0..25);
            if !genres.contains(&g) {
                break cue(g);
            }
        };
        let (cx, cy) = (
            rng.gen_range(15.0..wf - 15.0),
            rng.gen_range(15.0..hf - 15.0),
        );
        canvas.shape(
            other.shape,
            (cx, cy),
            rng.gen_range(9.0..18.0),
            0.0,
            jitter(other.colour, 30.0, rng),
            0.9,
        );
    }

    // A title strip of blocky "letters", at the top or the bottom.
    let strip_y = if rng.gen_bool(0.5) {
        rng.gen_range(4.0..20.0)
    } else {
        hf - rng.gen_range(20.0..36.0)
    };
    let ink = if rng.gen_bool(0.5) {
        [235.0, 235.0, 225.0]
    } else {
        [20.0, 20.0, 25.0]
    };
    let mut x = rng.gen_range(10.0..30.0f32);
    while x < wf - 20.0 {
        let lw = rng.gen_range(4.0..9.0f32);
        canvas.fill(x + lw / 2.0, strip_y + 6.0, 7.0, ink, 0.85, |dx, dy| {
            dx.abs() <= lw / 2.0 && dy.abs() <= 6.0
        });
        x += lw + rng.gen_range(2.0..8.0);
    }

    canvas.into_image(rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calibration_reaches_the_real_prevalences() {
        let model = LabelModel::calibrated();
        let achieved = model.prevalences();
        for g in 0..25 {
            let target = REAL_COUNTS[g] as f64 / REAL_POSTERS as f64;
            assert!(
                (achieved[g] - target).abs() < 1e-4 + 0.01 * target,
                "{}: {} vs {target}",
                GENRES[g],
                achieved[g]
            );
        }
    }

    #[test]
    fn cues_are_distinct() {
        for (a, name_a) in GENRES.iter().enumerate() {
            for (b, name_b) in GENRES.iter().enumerate().skip(a + 1) {
                let (ca, cb) = (cue(a), cue(b));
                let same_shape =
                    std::mem::discriminant(&ca.shape) == std::mem::discriminant(&cb.shape);
                assert!(
                    !(same_shape && ca.band == cb.band),
                    "{name_a} and {name_b} look alike"
                );
            }
        }
    }

    #[test]
    fn posters_have_real_sizes_and_are_deterministic() {
        let a = draw_poster(&[7, 4], &mut ChaCha8Rng::seed_from_u64(3));
        let b = draw_poster(&[7, 4], &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!(a, b);
        assert!((179..=182).contains(&a.width()) && (243..=268).contains(&a.height()));
    }
}
