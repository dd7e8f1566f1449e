//! One poster file to a square RGB tensor: read, check, decode (any colour
//! type `image` knows: RGB, greyscale, CMYK JPEG, PNG with alpha, 16-bit),
//! make square as the spec's `fit` says, resize, lay out channels first.
//!
//! Nothing here panics on bad input: every failure is a [`BadImage`].

use std::fmt;
use std::io::ErrorKind;
use std::path::Path;

use image::imageops::{self, FilterType};
use image::{DynamicImage, GenericImageView, RgbImage};

use crate::spec::Fit;

/// Why a poster could not be used.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BadImage {
    Missing,
    Empty,
    /// A JPEG without its end-of-image marker: the file was cut short.
    Truncated,
    Undecodable(String),
    Unreadable(String),
}

impl BadImage {
    fn kind(&self) -> &'static str {
        match self {
            BadImage::Missing => "missing",
            BadImage::Empty => "empty",
            BadImage::Truncated => "truncated",
            BadImage::Undecodable(_) => "undecodable",
            BadImage::Unreadable(_) => "unreadable",
        }
    }
}

impl fmt::Display for BadImage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadImage::Missing => f.write_str("missing"),
            BadImage::Empty => f.write_str("empty file"),
            BadImage::Truncated => f.write_str("truncated (no JPEG end-of-image marker)"),
            BadImage::Undecodable(why) => write!(f, "undecodable: {why}"),
            BadImage::Unreadable(why) => write!(f, "unreadable: {why}"),
        }
    }
}

/// How many skipped posters a summary names.
const NAMED: usize = 5;

/// "3 posters skipped (2 missing, 1 truncated): tt01 (missing), …"
pub fn skipped_summary(skipped: &[(String, BadImage)]) -> String {
    let mut kinds: Vec<(&str, usize)> = Vec::new();
    for (_, why) in skipped {
        match kinds.iter_mut().find(|(k, _)| *k == why.kind()) {
            Some((_, n)) => *n += 1,
            None => kinds.push((why.kind(), 1)),
        }
    }
    let kinds: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let named: Vec<String> = skipped
        .iter()
        .take(NAMED)
        .map(|(id, why)| format!("{} ({why})", crate::text::printable(id)))
        .collect();
    let more = if skipped.len() > NAMED {
        format!(", and {} more", skipped.len() - NAMED)
    } else {
        String::new()
    };
    let noun = if skipped.len() == 1 {
        "poster"
    } else {
        "posters"
    };
    format!(
        "{} {noun} skipped ({}): {}{more}",
        skipped.len(),
        kinds.join(", "),
        named.join(", ")
    )
}

/// Reads, decodes and resizes one poster into `out` (`3 × resolution²` bytes,
/// channels first).
pub fn load_poster(path: &Path, resolution: u32, fit: Fit, out: &mut [u8]) -> Result<(), BadImage> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        ErrorKind::NotFound => BadImage::Missing,
        _ => BadImage::Unreadable(e.to_string()),
    })?;
    let img = decode(&bytes)?;
    let square = to_square(&img, resolution, fit);
    write_chw(&square, out);
    Ok(())
}

/// Decodes an image file's bytes, refusing empty and truncated files.
pub fn decode(bytes: &[u8]) -> Result<DynamicImage, BadImage> {
    if bytes.is_empty() {
        return Err(BadImage::Empty);
    }
    if is_truncated_jpeg(bytes) {
        return Err(BadImage::Truncated);
    }
    image::load_from_memory(bytes).map_err(|e| BadImage::Undecodable(e.to_string()))
}

/// JPEG decoders fill a cut-short file with grey rather than fail, so check
/// for the end-of-image marker (FF D9) after the last start-of-scan (FF DA).
/// Neither byte pair can occur inside entropy-coded data (FF is stuffed as
/// FF 00 there), so this only fires on a missing end.
fn is_truncated_jpeg(bytes: &[u8]) -> bool {
    if !bytes.starts_with(&[0xFF, 0xD8]) {
        return false;
    }
    let last_marker = |marker: u8| bytes.windows(2).rposition(|w| w == [0xFF, marker]);
    match (last_marker(0xDA), last_marker(0xD9)) {
        (Some(sos), Some(eoi)) => eoi < sos,
        (_, None) => true,
        (None, Some(_)) => false, // no scan at all: let the decoder say what is wrong
    }
}

/// The image as a `resolution`² RGB square. Transparency is composited onto
/// black (the colour `pad` fills with), so a transparent area never shows the
/// colour a PNG happens to store under alpha 0.
pub fn to_square(img: &DynamicImage, resolution: u32, fit: Fit) -> RgbImage {
    let rgb = to_rgb(img);
    let (w, h) = rgb.dimensions();
    let r = resolution;
    match fit {
        Fit::Stretch => imageops::resize(&rgb, r, r, FilterType::Triangle),
        Fit::Crop => {
            let side = w.min(h);
            let view = imageops::crop_imm(&rgb, (w - side) / 2, (h - side) / 2, side, side);
            imageops::resize(&*view, r, r, FilterType::Triangle)
        }
        Fit::Pad => {
            let (nw, nh) = if w >= h {
                (
                    r,
                    ((h as u64 * r as u64 + w as u64 / 2) / w as u64).clamp(1, r as u64) as u32,
                )
            } else {
                (
                    ((w as u64 * r as u64 + h as u64 / 2) / h as u64).clamp(1, r as u64) as u32,
                    r,
                )
            };
            let scaled = imageops::resize(&rgb, nw, nh, FilterType::Triangle);
            let mut canvas = RgbImage::new(r, r);
            imageops::replace(
                &mut canvas,
                &scaled,
                ((r - nw) / 2).into(),
                ((r - nh) / 2).into(),
            );
            canvas
        }
    }
}

fn to_rgb(img: &DynamicImage) -> RgbImage {
    if !img.color().has_alpha() {
        return img.to_rgb8();
    }
    let rgba = img.to_rgba8();
    let (w, h) = img.dimensions();
    let mut rgb = RgbImage::new(w, h);
    for (dst, src) in rgb.pixels_mut().zip(rgba.pixels()) {
        let a = src[3] as u32;
        for c in 0..3 {
            dst[c] = ((src[c] as u32 * a + 127) / 255) as u8;
        }
    }
    rgb
}

/// HWC (as `image` stores it) to CHW (as the models read it).
fn write_chw(img: &RgbImage, out: &mut [u8]) {
    let plane = (img.width() * img.height()) as usize;
    assert_eq!(
        out.len(),
        3 * plane,
        "output slot must hold 3 × resolution² bytes"
    );
    for (i, px) in img.pixels().enumerate() {
        out[i] = px[0];
        out[plane + i] = px[1];
        out[2 * plane + i] = px[2];
    }
}

#[cfg(test)]
mod tests {
    use image::{GrayImage, Luma, Rgb, Rgba, RgbaImage};

    use super::*;

    fn jpeg_bytes(img: &DynamicImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    }

    fn png_bytes(img: &DynamicImage) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }

    fn portrait() -> DynamicImage {
        // Left half red, right half blue, top band green: 40 wide, 60 tall.
        DynamicImage::ImageRgb8(RgbImage::from_fn(40, 60, |x, y| {
            if y < 10 {
                Rgb([0, 255, 0])
            } else if x < 20 {
                Rgb([255, 0, 0])
            } else {
                Rgb([0, 0, 255])
            }
        }))
    }

    #[test]
    fn stretch_keeps_the_whole_poster() {
        let sq = to_square(&portrait(), 12, Fit::Stretch);
        assert_eq!(sq.dimensions(), (12, 12));
        assert_eq!(sq.get_pixel(0, 0)[1], 255, "the green top band survives");
        assert_eq!(sq.get_pixel(0, 11).0, [255, 0, 0]);
        assert_eq!(sq.get_pixel(11, 11).0, [0, 0, 255]);
    }

    #[test]
    fn crop_keeps_the_centre_square() {
        // Centre 40x40 of a 40x60 poster starts at y = 10: the green band is gone.
        let sq = to_square(&portrait(), 10, Fit::Crop);
        assert!(
            sq.pixels().all(|p| p[1] < 128),
            "no green left after the centre crop"
        );
    }

    #[test]
    fn pad_letterboxes_onto_black() {
        let sq = to_square(&portrait(), 12, Fit::Pad);
        // 40x60 scaled to 8x12, centred: columns 0..2 and 10..12 are black.
        assert_eq!(sq.get_pixel(0, 6).0, [0, 0, 0]);
        assert_eq!(sq.get_pixel(11, 6).0, [0, 0, 0]);
        assert_eq!(sq.get_pixel(3, 11).0, [255, 0, 0]);
    }

    #[test]
    fn greyscale_becomes_three_equal_channels() {
        let grey = DynamicImage::ImageLuma8(GrayImage::from_pixel(9, 13, Luma([77])));
        let img = decode(&jpeg_bytes(&grey)).unwrap();
        let sq = to_square(&img, 4, Fit::Stretch);
        let p = sq.get_pixel(1, 1);
        assert!(
            (p[0] as i32 - 77).abs() <= 2 && p[0] == p[1] && p[1] == p[2],
            "{p:?}"
        );
    }

    #[test]
    fn alpha_is_composited_onto_black() {
        let rgba = RgbaImage::from_fn(4, 4, |x, _| {
            if x < 2 {
                Rgba([255, 255, 255, 0])
            } else {
                Rgba([200, 100, 50, 255])
            }
        });
        let img = decode(&png_bytes(&DynamicImage::ImageRgba8(rgba))).unwrap();
        let rgb = to_rgb(&img);
        assert_eq!(
            rgb.get_pixel(0, 0).0,
            [0, 0, 0],
            "fully transparent white is black, not white"
        );
        assert_eq!(rgb.get_pixel(3, 0).0, [200, 100, 50]);
    }

    #[test]
    fn cmyk_jpeg_decodes_to_rgb() {
        // Written by Pillow as CMYK (0, 255, 255, 0): pure red.
        let bytes = include_bytes!("../../tests/fixtures/cmyk-red.jpg");
        let img = decode(bytes).unwrap();
        let px = to_rgb(&img).get_pixel(4, 4).0;
        assert!(px[0] > 200 && px[1] < 60 && px[2] < 60, "{px:?}");
    }

    #[test]
    fn odd_sizes_resize() {
        for (w, h) in [(1, 1), (1, 300), (300, 1), (3, 2)] {
            let img = DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb([10, 20, 30])));
            for fit in [Fit::Stretch, Fit::Crop, Fit::Pad] {
                assert_eq!(
                    to_square(&img, 16, fit).dimensions(),
                    (16, 16),
                    "{w}x{h} {fit}"
                );
            }
        }
    }

    #[test]
    fn bad_files_are_named_not_panicked_on() {
        let jpeg = jpeg_bytes(&portrait());
        assert!(matches!(decode(&[]), Err(BadImage::Empty)));
        for cut in [jpeg.len() / 2, jpeg.len() - 2, 3] {
            assert!(
                matches!(decode(&jpeg[..cut]), Err(BadImage::Truncated)),
                "cut at {cut}"
            );
        }
        assert!(matches!(
            decode(b"not an image at all"),
            Err(BadImage::Undecodable(_))
        ));
        let png = png_bytes(&portrait());
        assert!(matches!(
            decode(&png[..png.len() / 2]),
            Err(BadImage::Undecodable(_))
        ));
        assert!(decode(&jpeg).is_ok());
    }

    #[test]
    fn chw_layout() {
        let img = RgbImage::from_fn(2, 1, |x, _| Rgb([x as u8, 10 + x as u8, 20 + x as u8]));
        let mut out = [0u8; 6];
        write_chw(&img, &mut out);
        assert_eq!(out, [0, 1, 10, 11, 20, 21]);
    }

    #[test]
    fn summary_counts_kinds_and_names_the_first_few() {
        let skipped: Vec<(String, BadImage)> = (0..7)
            .map(|i| {
                (
                    format!("tt{i}"),
                    if i < 5 {
                        BadImage::Missing
                    } else {
                        BadImage::Truncated
                    },
                )
            })
            .collect();
        let s = skipped_summary(&skipped);
        assert!(
            s.starts_with("7 posters skipped (5 missing, 2 truncated): tt0 (missing)"),
            "{s}"
        );
        assert!(s.ends_with("and 2 more"), "{s}");
    }
}
