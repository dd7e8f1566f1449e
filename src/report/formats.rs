//! The formats a report's figures are written in: SVG as drawn, and PDF
//! (vectors, text kept as selectable text) and PNG (at a chosen DPI)
//! converted from that SVG text. Both conversions draw text with one font
//! compiled into the binary (DejaVu Sans, `assets/fonts`), whatever family
//! the SVG names, and read nothing from outside the SVG, so the same SVG
//! gives the same PDF and PNG bytes on any machine.

use std::fmt;
use std::sync::{Arc, OnceLock};

use resvg::tiny_skia;
use resvg::usvg::{self, fontdb};

/// One format a figure can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Svg,
    Pdf,
    Png,
}

impl Format {
    /// The file extension, which is also the name `--format` takes.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Svg => "svg",
            Format::Pdf => "pdf",
            Format::Png => "png",
        }
    }
}

/// PNG resolution when none is given: sharp on a screen, large enough for
/// a slide (the widest figure, 1490 SVG units, becomes 2328 pixels; the
/// gallery, its posters included, about 1 MB).
pub const DEFAULT_DPI: u32 = 150;
/// The resolutions `--dpi` accepts. 600 DPI (print) makes the widest figure
/// a 9313 × 4275 pixmap, 160 MB while it is drawn; more is refused rather
/// than risking memory with several figures drawn at once.
pub const MIN_DPI: u32 = 24;
pub const MAX_DPI: u32 = 600;
/// The SVG user unit is a CSS pixel: 1/96 inch.
const SVG_DPI: f32 = 96.0;

/// The formats a report writes its figures in, and the PNGs' resolution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Figures {
    /// Each at most once, in the order asked for; never empty.
    formats: Vec<Format>,
    /// Dots per inch of the PNGs.
    dpi: u32,
}

impl Figures {
    /// `formats` (repeats dropped, the first kept; none means SVG) at `dpi`.
    pub fn new(formats: impl IntoIterator<Item = Format>, dpi: u32) -> Figures {
        let mut list = Vec::new();
        for f in formats {
            if !list.contains(&f) {
                list.push(f);
            }
        }
        if list.is_empty() {
            list.push(Format::Svg);
        }
        Figures { formats: list, dpi }
    }

    /// SVG only, as `posterlab run` draws its report.
    pub fn svg() -> Figures {
        Figures {
            formats: vec![Format::Svg],
            dpi: DEFAULT_DPI,
        }
    }

    pub fn formats(&self) -> &[Format] {
        &self.formats
    }

    pub fn has(&self, format: Format) -> bool {
        self.formats.contains(&format)
    }

    /// The format the index page shows figures in: SVG when there are SVGs,
    /// else PNG; `None` when only PDFs are written (a browser's `<img>`
    /// cannot show them, so the page links them instead).
    pub fn shown(&self) -> Option<Format> {
        [Format::Svg, Format::Png]
            .into_iter()
            .find(|f| self.has(*f))
    }

    /// The files a figure named `name` (`runs/…/curves.svg`) with SVG text
    /// `svg` becomes: one per format, its name's extension swapped. The SVG
    /// is parsed once for both conversions.
    pub fn files(&self, name: &str, svg: &str) -> Result<Vec<(String, Vec<u8>)>, FileError> {
        let stem = name.strip_suffix(".svg").unwrap_or(name);
        let file = |format: Format| format!("{stem}.{}", format.extension());
        let mut tree = None;
        let mut out = Vec::with_capacity(self.formats.len());
        for &format in &self.formats {
            let converted = match format {
                Format::Svg => Ok(svg.as_bytes().to_vec()),
                Format::Pdf | Format::Png => {
                    let t = match &tree {
                        Some(t) => t,
                        None => tree.insert(self::tree(svg).map_err(|error| FileError {
                            file: file(format),
                            error,
                        })?),
                    };
                    if format == Format::Pdf {
                        pdf_of(t)
                    } else {
                        png_of(t, self.dpi)
                    }
                }
            };
            let bytes = converted.map_err(|error| FileError {
                file: file(format),
                error,
            })?;
            out.push((file(format), bytes));
        }
        Ok(out)
    }
}

/// A figure's file (`runs/…/curves.pdf`) that could not be made, and why.
#[derive(Debug)]
pub struct FileError {
    pub file: String,
    pub error: Error,
}

/// Why a figure could not be converted.
#[derive(Debug)]
pub enum Error {
    /// The SVG text did not parse.
    Svg(usvg::Error),
    Pdf(svg2pdf::ConversionError),
    /// The pixmap for the PNG could not be made (`width`, `height` in pixels).
    Pixmap {
        width: u32,
        height: u32,
    },
    Png(png::EncodingError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Error::Svg(e) => write!(f, "the SVG does not parse: {e}"),
            Error::Pdf(e) => write!(f, "PDF conversion failed: {e}"),
            Error::Pixmap { width, height } => write!(
                f,
                "cannot make a {width} × {height} pixel image\n  help: a lower --dpi"
            ),
            Error::Png(e) => write!(f, "PNG encoding failed: {e}"),
        }
    }
}

impl std::error::Error for Error {}

/// The figure `svg` as a one-page PDF, the page the SVG's size (user units
/// at 96 per inch): lines stay vectors, text stays text, in the bundled
/// font's embedded subset.
pub fn pdf(svg: &str) -> Result<Vec<u8>, Error> {
    pdf_of(&tree(svg)?)
}

/// The figure `svg` as a PNG at `dpi` dots per inch, on white, with the
/// resolution recorded in the file (its pHYs chunk).
pub fn png(svg: &str, dpi: u32) -> Result<Vec<u8>, Error> {
    png_of(&tree(svg)?, dpi)
}

/// The PNG's size in pixels for an SVG of `width` × `height` user units.
pub fn pixels(width: f32, height: f32, dpi: u32) -> (u32, u32) {
    let scale = dpi as f32 / SVG_DPI;
    let side = |v: f32| ((v * scale).round() as u32).max(1);
    (side(width), side(height))
}

fn tree(svg: &str) -> Result<usvg::Tree, Error> {
    let options = usvg::Options {
        font_family: FAMILY.to_string(),
        fontdb: font_database(),
        // Only the data: URIs posterlab writes (the gallery's posters): an
        // href naming a file would make the output depend on that file.
        image_href_resolver: usvg::ImageHrefResolver {
            resolve_data: usvg::ImageHrefResolver::default_data_resolver(),
            resolve_string: Box::new(|_, _| None),
        },
        ..usvg::Options::default()
    };
    usvg::Tree::from_str(svg, &options).map_err(Error::Svg)
}

fn pdf_of(tree: &usvg::Tree) -> Result<Vec<u8>, Error> {
    let conversion = svg2pdf::ConversionOptions {
        embed_text: true,
        ..svg2pdf::ConversionOptions::default()
    };
    // A page point is 1/72 inch; at 96 user units per inch the page has the
    // SVG's physical size.
    let page = svg2pdf::PageOptions { dpi: SVG_DPI };
    let mut pdf = svg2pdf::to_pdf(tree, conversion, page).map_err(Error::Pdf)?;
    sort_resource_entries(&mut pdf);
    Ok(pdf)
}

/// svg2pdf 0.13 writes the entries of each resource dictionary (a page's
/// `/XObject <<`, `/ExtGState <<`…: the gallery's posters, the comparison's
/// translucent bands) in the order of a `std` `HashMap`, seeded anew in
/// every process, so two reports of one database gave different PDF bytes
/// (measured: the gallery's and `compare/curves.pdf`). The entries are
/// whole lines (`      /xo3 10 0 R`) of the uncompressed object text:
/// sorting the lines of each such dictionary makes the order canonical and
/// keeps its length, so the cross-reference offsets stay right. Stream
/// data (compressed, binary) is skipped by its `/Length`, never searched.
fn sort_resource_entries(pdf: &mut [u8]) {
    const STREAM: &[u8] = b"\nstream\n";
    let mut at = 0;
    loop {
        let Some(offset) = find(&pdf[at..], STREAM) else {
            sort_dictionaries(&mut pdf[at..]);
            return;
        };
        let text = at..at + offset;
        sort_dictionaries(&mut pdf[text.clone()]);
        // The stream's own dictionary is the last one before `stream`.
        let Some(length) = last_length(&pdf[text]) else {
            return;
        };
        at += offset + STREAM.len() + length;
        if at > pdf.len() {
            return;
        }
    }
}

/// In object text, sorts the lines of each dictionary opened by a line
/// ending `/XObject <<` (or another resource kind) and closed by `>>`,
/// when every line between is one `/name value` entry.
fn sort_dictionaries(text: &mut [u8]) {
    const KINDS: [&[u8]; 6] = [
        b"/XObject <<\n",
        b"/ExtGState <<\n",
        b"/Pattern <<\n",
        b"/Shading <<\n",
        b"/Font <<\n",
        b"/ColorSpace <<\n",
    ];
    let mut at = 0;
    while at < text.len() {
        let Some((open, kind)) = KINDS
            .iter()
            .filter_map(|k| find(&text[at..], k).map(|i| (at + i, k.len())))
            .min()
        else {
            return;
        };
        let body = open + kind;
        let Some(close) = find(&text[body..], b">>").map(|i| body + i) else {
            return;
        };
        // `close` is indented: the entries end at the last newline before it.
        let end = text[body..close]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(body, |i| body + i + 1);
        let region = &text[body..end];
        let mut lines: Vec<&[u8]> = region.split_inclusive(|&b| b == b'\n').collect();
        let entries = lines.iter().all(|l| {
            let l = l.trim_ascii_start();
            l.starts_with(b"/") && !l.contains(&b'<') && l.ends_with(b"\n")
        });
        if entries {
            lines.sort_unstable();
            let sorted = lines.concat();
            text[body..end].copy_from_slice(&sorted);
        }
        at = close;
    }
}

/// The value of the last `/Length N` in `text`.
fn last_length(text: &[u8]) -> Option<usize> {
    const KEY: &[u8] = b"/Length ";
    let start = text.windows(KEY.len()).rposition(|w| w == KEY)? + KEY.len();
    let digits = text[start..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    std::str::from_utf8(&text[start..start + digits])
        .ok()?
        .parse()
        .ok()
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn png_of(tree: &usvg::Tree, dpi: u32) -> Result<Vec<u8>, Error> {
    let size = tree.size();
    let (width, height) = pixels(size.width(), size.height(), dpi);
    let mut pixmap =
        tiny_skia::Pixmap::new(width, height).ok_or(Error::Pixmap { width, height })?;
    // Every figure paints its own white background; this one is for any
    // gap that rounding the size leaves, and makes every pixel opaque.
    pixmap.fill(tiny_skia::Color::WHITE);
    let scale = width as f32 / size.width();
    let scale_y = height as f32 / size.height();
    resvg::render(
        tree,
        tiny_skia::Transform::from_scale(scale, scale_y),
        &mut pixmap.as_mut(),
    );
    // Opaque pixels: premultiplied RGBA is plain RGBA; the alpha is dropped.
    let rgb: Vec<u8> = pixmap
        .data()
        .chunks_exact(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // zlib's balanced level, not fdeflate's fast one: on the 23 figures of a
    // 3-run report (150 DPI, 2 cores) Fast took 0.84 s instead of 1.24 s
    // but wrote 7.9 MB instead of 5.0 MB.
    encoder.set_compression(png::Compression::Balanced);
    // Pixels per metre: how LaTeX and image viewers learn the intended size.
    let per_metre = (dpi as f64 / 0.0254).round() as u32;
    encoder.set_pixel_dims(Some(png::PixelDimensions {
        xppu: per_metre,
        yppu: per_metre,
        unit: png::Unit::Meter,
    }));
    let mut writer = encoder.write_header().map_err(Error::Png)?;
    writer.write_image_data(&rgb).map_err(Error::Png)?;
    writer.finish().map_err(Error::Png)?;
    Ok(out)
}

/// The family of the bundled font.
const FAMILY: &str = "DejaVu Sans";

/// A font database holding only the bundled font, under every generic
/// family an SVG may name (the figures say sans-serif), parsed once.
fn font_database() -> Arc<fontdb::Database> {
    static DATABASE: OnceLock<Arc<fontdb::Database>> = OnceLock::new();
    DATABASE
        .get_or_init(|| {
            let mut db = fontdb::Database::new();
            db.load_font_data(include_bytes!("../../assets/fonts/DejaVuSans.ttf").to_vec());
            db.set_sans_serif_family(FAMILY);
            db.set_serif_family(FAMILY);
            db.set_monospace_family(FAMILY);
            db.set_cursive_family(FAMILY);
            db.set_fantasy_family(FAMILY);
            Arc::new(db)
        })
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 200 × 100 figure: white, a red square in the top-left corner, a
    /// title (with the gallery's ✓ and a ±, beyond ASCII), a blue line.
    const FIGURE: &str = r##"<svg width="200" height="100" viewBox="0 0 200 100" xmlns="http://www.w3.org/2000/svg">
<rect x="0" y="0" width="200" height="100" fill="#FFFFFF"/>
<rect x="10" y="10" width="40" height="40" fill="#FF0000"/>
<text x="120" y="40" text-anchor="middle" font-family="sans-serif" font-size="12" fill="#141414">Loss ± std ✓</text>
<line x1="60" y1="90" x2="190" y2="90" stroke="#0000FF" stroke-width="2"/>
</svg>"##;
    const TITLE: &str = "Loss ± std ✓";

    /// Every stream of `pdf`, inflated where it is compressed.
    fn streams(pdf: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut at = 0;
        while let Some(i) = find(&pdf[at..], b"\nstream\n") {
            let dict = &pdf[at..at + i];
            let length = last_length(dict).unwrap();
            let data = &pdf[at + i + 8..at + i + 8 + length];
            let flate = find(&dict[dict.len().saturating_sub(200)..], b"/FlateDecode").is_some();
            out.push(if flate {
                let mut inflated = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::ZlibDecoder::new(data),
                    &mut inflated,
                )
                .unwrap();
                inflated
            } else {
                data.to_vec()
            });
            at += i + 8 + length;
        }
        out
    }

    #[test]
    fn a_pdf_keeps_the_title_as_text_in_the_bundled_font() {
        let pdf = pdf(FIGURE).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        // The page has the SVG's size: 200 × 100 units of 1/96 inch, in points.
        let media_box = format!("/MediaBox [0 0 {} {}]", 200 * 72 / 96, 100 * 72 / 96);
        assert!(find(&pdf, media_box.as_bytes()).is_some(), "{media_box}");
        // One font, embedded (a subset): the bundled one, whatever the SVG named.
        assert!(find(&pdf, b"+DejaVuSans\n").is_some());
        assert!(find(&pdf, b"/FontFile2").is_some());
        let streams = streams(&pdf);
        // The glyphs are shown with text operators, not drawn as paths…
        assert!(
            streams
                .iter()
                .any(|s| find(s, b"BT\n").is_some() && find(s, b"Tj").is_some()),
            "no text object in any content stream"
        );
        // …and map back to the title's characters (what copying text or
        // pdftotext reads).
        let cmap = streams
            .iter()
            .find(|s| find(s, b"beginbfchar").is_some())
            .expect("a ToUnicode CMap");
        for c in TITLE.chars().filter(|c| *c != ' ') {
            let entry = format!("> <{:04X}>", c as u32);
            assert!(find(cmap, entry.as_bytes()).is_some(), "{c} ({entry})");
        }
    }

    #[test]
    fn a_png_has_the_pixels_its_dpi_implies() {
        // 200 × 100 units of 1/96 inch at `dpi`, rounded to whole pixels.
        let cases = [
            (96, (200, 100)),
            (72, (150, 75)),
            (150, (313, 156)), // 312.5 × 156.25
            (300, (625, 313)), // 625 × 312.5
        ];
        for (dpi, (w, h)) in cases {
            assert_eq!(pixels(200.0, 100.0, dpi), (w, h), "{dpi} DPI");
            let bytes = png(FIGURE, dpi).unwrap();
            let img = image::load_from_memory(&bytes).unwrap().to_rgb8();
            assert_eq!(img.dimensions(), (w, h), "{dpi} DPI");
            let at = |x: f64, y: f64| {
                let s = dpi as f64 / 96.0;
                img.get_pixel((x * s) as u32, (y * s) as u32).0
            };
            assert_eq!(at(30.0, 30.0), [255, 0, 0], "the square, {dpi} DPI");
            assert_eq!(at(180.0, 10.0), [255, 255, 255], "background, {dpi} DPI");
            assert_eq!(at(120.0, 90.0), [0, 0, 255], "the line, {dpi} DPI");
            // The title is drawn: dark pixels where it stands.
            let s = dpi as f64 / 96.0;
            let dark = (0..h)
                .filter(|&y| (y as f64) > 28.0 * s && (y as f64) < 42.0 * s)
                .flat_map(|y| (0..w).map(move |x| (x, y)))
                .filter(|&(x, y)| img.get_pixel(x, y).0.iter().all(|&v| v < 100))
                .count();
            assert!(dark > 20, "{dark} title pixels at {dpi} DPI");
            // The resolution is in the file, in pixels per metre.
            let decoder = png::Decoder::new(std::io::Cursor::new(&bytes));
            let reader = decoder.read_info().unwrap();
            let dims = reader.info().pixel_dims.unwrap();
            assert_eq!(dims.unit, png::Unit::Meter);
            assert_eq!(dims.xppu, (dpi as f64 / 0.0254).round() as u32);
        }
    }

    /// A figure with several resources of one kind (two embedded images,
    /// two translucent rectangles), where svg2pdf's order used to vary.
    fn many_resources() -> String {
        use base64::Engine;
        let tile = |rgb: [u8; 3]| {
            let img = image::RgbImage::from_pixel(4, 4, image::Rgb(rgb));
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Png).unwrap();
            base64::engine::general_purpose::STANDARD.encode(out.into_inner())
        };
        let mut svg = String::from(
            r#"<svg width="120" height="60" viewBox="0 0 120 60" xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">"#,
        );
        for (i, rgb) in [[200, 30, 30], [30, 30, 200], [30, 200, 30]]
            .iter()
            .enumerate()
        {
            svg += &format!(
                r#"<image x="{}" y="0" width="20" height="20" xlink:href="data:image/png;base64,{}"/>"#,
                i * 25,
                tile(*rgb)
            );
            svg += &format!(
                r##"<rect x="{}" y="30" width="20" height="20" fill="#0072B2" opacity="0.{}"/>"##,
                i * 25,
                i + 2
            );
        }
        svg + r#"<text x="5" y="58" font-family="sans-serif" font-size="8">bands</text></svg>"#
    }

    #[test]
    fn the_same_svg_gives_the_same_bytes() {
        for svg in [FIGURE.to_string(), many_resources()] {
            let first = (pdf(&svg).unwrap(), png(&svg, 150).unwrap());
            // Each conversion builds its maps anew, with new hash seeds.
            for _ in 0..8 {
                assert!(first == (pdf(&svg).unwrap(), png(&svg, 150).unwrap()));
            }
        }
    }

    #[test]
    fn resource_entries_are_sorted_and_stream_data_is_left_alone() {
        let stream_data = b"junk /XObject <<\n /b 2 0 R\n /a 1 0 R\n>> junk";
        let mut pdf = Vec::new();
        pdf.extend_from_slice(b"%PDF-1.7\n1 0 obj\n<<\n  /Length ");
        pdf.extend_from_slice(stream_data.len().to_string().as_bytes());
        pdf.extend_from_slice(b"\n>>\nstream\n");
        pdf.extend_from_slice(stream_data);
        pdf.extend_from_slice(b"\nendstream\nendobj\n\n2 0 obj\n<<\n  /Resources <<\n    /XObject <<\n      /xo1 9 0 R\n      /xo10 12 0 R\n      /xo0 8 0 R\n    >>\n    /ExtGState <<\n      /gs1 5 0 R\n      /gs0 4 0 R\n    >>\n    /ColorSpace <<\n      /cs0 [/ICCBased 6 0 R]\n    >>\n  >>\n>>\nendobj\n");
        let before = pdf.clone();
        sort_resource_entries(&mut pdf);
        assert_eq!(pdf.len(), before.len());
        let text = String::from_utf8(pdf).unwrap();
        assert!(
            text.contains(std::str::from_utf8(stream_data).unwrap()),
            "{text}"
        );
        assert!(
            text.contains(
                "/XObject <<\n      /xo0 8 0 R\n      /xo1 9 0 R\n      /xo10 12 0 R\n    >>"
            ),
            "{text}"
        );
        assert!(
            text.contains("/ExtGState <<\n      /gs0 4 0 R\n      /gs1 5 0 R\n    >>"),
            "{text}"
        );
    }

    #[test]
    fn text_comes_from_the_bundled_font_whatever_the_family() {
        // A family this machine may or may not have: the same pixels as sans-serif.
        let named = FIGURE.replace("sans-serif", "Helvetica, Arial");
        assert!(png(&named, 96).unwrap() == png(FIGURE, 96).unwrap());
        let serif = FIGURE.replace("sans-serif", "serif");
        assert!(png(&serif, 96).unwrap() == png(FIGURE, 96).unwrap());
    }

    #[test]
    fn an_image_that_names_a_file_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let poster = dir.path().join("red.png");
        image::RgbImage::from_pixel(8, 8, image::Rgb([255, 0, 0]))
            .save(&poster)
            .unwrap();
        let svg = format!(
            r#"<svg width="20" height="20" viewBox="0 0 20 20" xmlns="http://www.w3.org/2000/svg"><image x="0" y="0" width="20" height="20" href="{}"/></svg>"#,
            poster.display()
        );
        let img = image::load_from_memory(&png(&svg, 96).unwrap())
            .unwrap()
            .to_rgb8();
        assert_eq!(img.get_pixel(10, 10).0, [255, 255, 255]);
    }

    #[test]
    fn a_failure_names_the_file_it_could_not_make() {
        let figures = Figures::new([Format::Svg, Format::Png, Format::Pdf], 150);
        let e = figures.files("runs/1-a/curves.svg", "<svg").unwrap_err();
        assert_eq!(e.file, "runs/1-a/curves.png");
        let why = e.error.to_string();
        assert!(why.starts_with("the SVG does not parse"), "{why}");
        let made = figures.files("runs/1-a/curves.svg", FIGURE).unwrap();
        let names: Vec<&str> = made.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "runs/1-a/curves.svg",
                "runs/1-a/curves.png",
                "runs/1-a/curves.pdf"
            ]
        );
        assert_eq!(made[0].1, FIGURE.as_bytes());
    }

    #[test]
    fn the_index_shows_svg_else_png_else_links_pdfs() {
        use Format::*;
        let cases: [(&[Format], &[Format], Option<Format>); 5] = [
            (&[Svg], &[Svg], Some(Svg)),
            (&[Png, Pdf, Svg], &[Png, Pdf, Svg], Some(Svg)),
            (&[Pdf, Png, Pdf], &[Pdf, Png], Some(Png)),
            (&[Pdf], &[Pdf], None),
            (&[], &[Svg], Some(Svg)),
        ];
        for (asked, kept, shown) in cases {
            let f = Figures::new(asked.iter().copied(), DEFAULT_DPI);
            assert_eq!(f.formats(), kept, "{asked:?}");
            assert_eq!(f.shown(), shown, "{asked:?}");
        }
    }

    #[cfg_attr(
        no_poppler,
        ignore = "needs poppler-utils (apt-get install poppler-utils): pdftotext, pdftoppm, pdfinfo"
    )]
    #[test]
    fn pdftotext_reads_the_title() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("figure.pdf");
        std::fs::write(&path, pdf(FIGURE).unwrap()).unwrap();
        let out = std::process::Command::new("pdftotext")
            .arg(&path)
            .arg("-")
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(text.contains(TITLE), "{text:?}");
    }
}
