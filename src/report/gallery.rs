//! The prediction gallery: test posters in a grid, each with its true genres
//! and the genres the model predicted, with probabilities; hits and misses
//! marked. Written as SVG by hand, posters embedded as small JPEGs, so the
//! file stands alone.

use std::fmt::Write;
use std::path::Path;

use base64::Engine;
use image::imageops::FilterType;

use super::style::{self, hex, FONT};

/// One poster of the gallery.
#[derive(Debug, Clone)]
pub struct Item {
    pub poster: String,
    /// The thumbnail as base64 JPEG, or `None` (drawn as a grey box saying why).
    pub thumbnail: Result<String, String>,
    /// (genre, predicted?) of each true genre.
    pub truth: Vec<(String, bool)>,
    /// (genre, probability, true?) of each predicted genre, most probable first.
    pub predicted: Vec<(String, f64, bool)>,
}

const COLS: usize = 4;
const CELL_W: usize = 300;
const CELL_H: usize = 200;
const THUMB_W: u32 = 110;
const THUMB_H: u32 = 163;

/// A poster file as a base64 JPEG thumbnail (deterministic bytes).
pub fn thumbnail(path: &Path) -> Result<String, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let img = image::load_from_memory(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    let small = img
        .resize_exact(THUMB_W, THUMB_H, FilterType::Triangle)
        .to_rgb8();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85)
        .encode_image(&small)
        .map_err(|e| e.to_string())?;
    Ok(base64::engine::general_purpose::STANDARD.encode(&out))
}

/// Text for SVG or HTML, in an element or a double-quoted attribute:
/// control characters made visible ([`crate::text::printable`]), then `&`,
/// `<`, `>` and `"` as entities.
pub fn escape(text: &str) -> String {
    html_escape::encode_double_quoted_attribute(&crate::text::printable(text)).into_owned()
}

pub fn gallery(title: &str, items: &[Item], note: &str) -> String {
    let rows = items.len().div_ceil(COLS).max(1);
    let (w, h) = (COLS * CELL_W + 20, rows * CELL_H + 110);
    let mut s = String::new();
    let _ = write!(
        s,
        r##"<svg width="{w}" height="{h}" viewBox="0 0 {w} {h}" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">
<rect x="0" y="0" width="{w}" height="{h}" fill="#ffffff"/>
<text x="{}" y="28" text-anchor="middle" font-family="{FONT}" font-size="{}" fill="{}">{}</text>
"##,
        w / 2,
        style::GALLERY_TITLE,
        hex(style::TEXT),
        escape(title)
    );
    let (hit, miss, grey, ink) = (
        hex(style::HIT),
        hex(style::MISS),
        hex(style::GREY),
        hex(style::TEXT),
    );
    for (k, item) in items.iter().enumerate() {
        let (x, y) = (10 + (k % COLS) * CELL_W, 50 + (k / COLS) * CELL_H);
        match &item.thumbnail {
            Ok(b64) => {
                let _ = writeln!(
                    s,
                    r#"<image x="{x}" y="{y}" width="{THUMB_W}" height="{THUMB_H}" xlink:href="data:image/jpeg;base64,{b64}"/>"#
                );
            }
            Err(why) => {
                let _ = writeln!(
                    s,
                    r#"<rect x="{x}" y="{y}" width="{THUMB_W}" height="{THUMB_H}" fill="{}"/><text x="{}" y="{}" text-anchor="middle" font-family="{FONT}" font-size="{}" fill="{grey}"><title>{}</title>no image</text>"#,
                    hex(style::LIGHT_GREY),
                    x + THUMB_W as usize / 2,
                    y + THUMB_H as usize / 2,
                    style::GALLERY_SMALL,
                    escape(why)
                );
            }
        }
        let tx = x + THUMB_W as usize + 10;
        let line = |s: &mut String, dy: usize, colour: &str, size: u32, text: &str| {
            let _ = writeln!(
                s,
                r#"<text x="{tx}" y="{}" font-family="{FONT}" font-size="{size}" fill="{colour}">{}</text>"#,
                y + dy,
                escape(text)
            );
        };
        line(&mut s, 12, &grey, style::GALLERY_SMALL, &item.poster);
        line(&mut s, 32, &ink, style::GALLERY_TEXT, "true");
        let mut dy = 48;
        for (genre, found) in &item.truth {
            let (colour, text) = if *found {
                (&hit, format!("✓ {genre}"))
            } else {
                (&miss, format!("✗ {genre} (missed)"))
            };
            line(&mut s, dy, colour, style::GALLERY_TEXT, &text);
            dy += 15;
        }
        dy += 6;
        line(&mut s, dy, &ink, style::GALLERY_TEXT, "predicted");
        dy += 16;
        if item.predicted.is_empty() {
            line(&mut s, dy, &grey, style::GALLERY_TEXT, "(nothing)");
        }
        for (genre, p, right) in item.predicted.iter().take(5) {
            let (colour, mark) = if *right {
                (&hit, "✓")
            } else {
                (&miss, "✗")
            };
            line(
                &mut s,
                dy,
                colour,
                style::GALLERY_TEXT,
                &format!("{mark} {genre} {p:.2}"),
            );
            dy += 15;
        }
        if item.predicted.len() > 5 {
            line(
                &mut s,
                dy,
                &grey,
                style::GALLERY_SMALL,
                &format!("+{} more", item.predicted.len() - 5),
            );
        }
    }
    let _ = writeln!(
        s,
        r#"<text x="10" y="{}" font-family="{FONT}" font-size="{}" fill="{grey}">{}</text>"#,
        h - 34,
        style::GALLERY_TEXT,
        escape(&format!("✓ blue: right (a true genre predicted); ✗ vermillion: wrong (a true genre missed, or a genre predicted that is not true). {note}"))
    );
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_and_control_characters_are_escaped() {
        assert_eq!(
            escape("R&D <b x=\"1\">\u{1b}'"),
            "R&amp;D &lt;b x=&quot;1&quot;&gt;\\u{1b}'"
        );
    }
}
