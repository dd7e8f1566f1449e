//! `posterlab report --format svg,pdf,png` end to end: two tiny runs are
//! trained through the real binary, and every figure's PDF is opened, read
//! and rendered by poppler's own tools (as a viewer would), every PNG
//! decoded at the size its DPI implies; the index page shows only files
//! that are there, whatever the formats.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{collapse, posterlab, stderr, stdout, svg_title, tool};

/// A project with a synthetic set and two runs (two seeds of one
/// configuration) trained once; `posterlab run` drew its report into `auto/`.
fn trained() -> &'static Path {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = common::shared_dir("formats");
        let o = posterlab(&dir, &["synth", "--out", "posters", "--count", "100", "--seed", "2"]);
        assert!(o.status.success(), "{}", stderr(&o));
        std::fs::write(
            dir.join("pair.toml"),
            "[data]\ndataset = \"posters\"\nresolution = 16\n[model]\nchannels = [4, 8]\ndense = [16]\n\
             [train]\nepochs = 2\nbatch_size = 16\n[sweep.grid]\n\"train.seed\" = [1, 2]\n",
        )
        .unwrap();
        let o = posterlab(&dir, &["-q", "run", "--reports", "auto", "pair.toml"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        dir
    })
}

fn report(dir: &Path, out: &str, args: &[&str]) -> BTreeMap<String, Vec<u8>> {
    let mut all = vec!["report", "--out", out];
    all.extend(args);
    let o = posterlab(dir, &all);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    common::files_under(&dir.join(out))
}

/// The figures of a report, by name without the extension (`runs/1-pair/curves`).
fn figures(files: &BTreeMap<String, Vec<u8>>, extension: &str) -> Vec<String> {
    files
        .keys()
        .filter_map(|k| k.strip_suffix(extension))
        .map(str::to_string)
        .collect()
}

/// The SVG's size in user units (1/96 inch).
fn svg_size(svg: &[u8]) -> (f64, f64) {
    let text = std::str::from_utf8(svg).unwrap();
    let doc = roxmltree::Document::parse(text).unwrap();
    let root = doc.root_element();
    let side = |a: &str| root.attribute(a).unwrap().parse::<f64>().unwrap();
    (side("width"), side("height"))
}

/// A picture that is not one flat colour: some pixels dark (text, axes),
/// most of them light (the background).
fn assert_drawn(img: &image::RgbImage, what: &str) {
    let dark = img.pixels().filter(|p| p.0.iter().all(|&v| v < 96)).count();
    let light = img
        .pixels()
        .filter(|p| p.0.iter().all(|&v| v > 230))
        .count();
    let total = (img.width() * img.height()) as usize;
    assert!(dark > 50, "{what}: {dark} dark pixels of {total}");
    assert!(light > total / 4, "{what}: {light} light pixels of {total}");
}

fn index_images(files: &BTreeMap<String, Vec<u8>>) -> Vec<String> {
    let index = std::str::from_utf8(&files["index.html"]).unwrap();
    index
        .split("<img src=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].to_string())
        .collect()
}

#[cfg_attr(
    no_poppler,
    ignore = "needs poppler-utils (apt-get install poppler-utils): pdftotext, pdftoppm, pdfinfo"
)]
#[test]
fn every_figure_as_svg_pdf_and_png_that_poppler_and_a_decoder_read() {
    let dir = trained();
    let files = report(dir, "all", &["--format", "svg,pdf,png"]);
    let svgs = figures(&files, ".svg");
    // Two runs of seven figures each, and the two comparisons.
    assert_eq!(svgs.len(), 2 * 7 + 2, "{svgs:?}");
    assert_eq!(figures(&files, ".pdf"), svgs);
    assert_eq!(figures(&files, ".png"), svgs);

    let scratch = tempfile::tempdir().unwrap();
    for figure in &svgs {
        let svg = &files[&format!("{figure}.svg")];
        let (w, h) = svg_size(svg);
        let title = svg_title(svg);
        let pdf = dir.join("all").join(format!("{figure}.pdf"));
        let pdf = pdf.to_str().unwrap();

        // It opens: one page of the SVG's size (1/96 inch a unit, in points).
        let info = tool(dir, "pdfinfo", &[pdf]);
        let field = |name: &str| {
            info.lines()
                .find_map(|l| l.strip_prefix(name))
                .unwrap_or_else(|| panic!("{figure}: no {name} in {info}"))
                .trim()
                .to_string()
        };
        assert_eq!(field("Pages:"), "1", "{figure}");
        let size = field("Page size:");
        let expected = format!("{} x {} pts", w * 72.0 / 96.0, h * 72.0 / 96.0);
        assert_eq!(size, expected, "{figure}");

        // Its text is text, title included.
        let text = tool(dir, "pdftotext", &[pdf, "-"]);
        assert!(
            collapse(&text).contains(&title),
            "{figure}: no {title:?} in {text:?}"
        );

        // A viewer draws it.
        let page = scratch.path().join("page");
        tool(
            dir,
            "pdftoppm",
            &[
                "-png",
                "-r",
                "48",
                "-singlefile",
                pdf,
                page.to_str().unwrap(),
            ],
        );
        let drawn = image::open(page.with_extension("png")).unwrap().to_rgb8();
        assert_eq!(
            drawn.dimensions(),
            ((w / 2.0).round() as u32, (h / 2.0).round() as u32),
            "{figure}: 48 DPI is half of 96"
        );
        assert_drawn(&drawn, &format!("{figure}.pdf at 48 DPI"));

        // The PNG: 150 DPI, the default.
        let png = image::load_from_memory(&files[&format!("{figure}.png")])
            .unwrap()
            .to_rgb8();
        let pixels = |v: f64| (v * 150.0 / 96.0).round() as u32;
        assert_eq!(png.dimensions(), (pixels(w), pixels(h)), "{figure}.png");
        assert_drawn(&png, &format!("{figure}.png"));
    }

    // The page shows the SVGs, each linked to its PDF.
    let images = index_images(&files);
    assert_eq!(images.len(), svgs.len(), "{images:?}");
    let index = std::str::from_utf8(&files["index.html"]).unwrap();
    for figure in &svgs {
        let shown = format!("<a href=\"{figure}.pdf\"><img src=\"{figure}.svg\"");
        assert!(index.contains(&shown), "{shown}");
    }

    // The same database, the same bytes, PDFs and PNGs included.
    assert_eq!(files, report(dir, "again", &["--format", "svg,pdf,png"]));
}

#[test]
fn png_alone_gives_an_index_whose_images_are_all_there() {
    let dir = trained();
    let files = report(dir, "png", &["--format", "png", "--dpi", "72"]);
    assert!(figures(&files, ".svg").is_empty());
    assert!(figures(&files, ".pdf").is_empty());
    let pngs = figures(&files, ".png");
    assert_eq!(pngs.len(), 2 * 7 + 2, "{pngs:?}");
    let images = index_images(&files);
    assert_eq!(images.len(), pngs.len(), "{images:?}");
    for src in &images {
        assert!(src.ends_with(".png"), "{src}");
        assert!(
            files.contains_key(src),
            "index.html shows the missing {src}"
        );
    }
    // At 72 DPI a PNG has 3/4 of the SVG's units; the page shows it at
    // the SVG's width, as the SVG would be.
    let svgs = common::files_under(&dir.join("auto"));
    let index = std::str::from_utf8(&files["index.html"]).unwrap();
    for figure in &pngs {
        let (w, h) = svg_size(&svgs[&format!("{figure}.svg")]);
        let png = image::load_from_memory(&files[&format!("{figure}.png")]).unwrap();
        let pixels = |v: f64| (v * 72.0 / 96.0).round() as u32;
        assert_eq!(
            (png.width(), png.height()),
            (pixels(w), pixels(h)),
            "{figure}"
        );
        let tag = index
            .split("<img ")
            .find(|t| t.starts_with(&format!("src=\"{figure}.png\"")))
            .unwrap();
        let tag = &tag[..tag.find('>').unwrap()];
        assert!(tag.ends_with(&format!(" width=\"{w}\"")), "{tag}");
    }
}

#[test]
fn pdf_alone_gives_an_index_that_links_them() {
    let dir = trained();
    let files = report(dir, "pdf", &["--format", "pdf"]);
    let pdfs = figures(&files, ".pdf");
    assert_eq!(pdfs.len(), 2 * 7 + 2);
    assert!(index_images(&files).is_empty(), "no <img> can show a PDF");
    let index = std::str::from_utf8(&files["index.html"]).unwrap();
    for figure in &pdfs {
        assert!(
            index.contains(&format!("<a href=\"{figure}.pdf\">")),
            "{figure}"
        );
    }
}

#[test]
fn run_draws_svg_only_and_bad_formats_are_refused() {
    let dir = trained();
    let auto = common::files_under(&dir.join("auto"));
    assert!(!figures(&auto, ".svg").is_empty());
    assert!(figures(&auto, ".pdf").is_empty() && figures(&auto, ".png").is_empty());

    let o = posterlab(dir, &["report", "--out", "bad", "--format", "svg,jpg"]);
    assert!(!o.status.success());
    assert!(
        stderr(&o).contains("invalid value 'jpg'") && stderr(&o).contains("svg, pdf, png"),
        "{}",
        stderr(&o)
    );
    let o = posterlab(
        dir,
        &["report", "--out", "bad", "--format", "png", "--dpi", "5000"],
    );
    assert!(!o.status.success());
    assert!(stderr(&o).contains("24..=600"), "{}", stderr(&o));
    assert!(!dir.join("bad").exists(), "nothing is written");
    let o = posterlab(dir, &["report", "--out", "note", "--dpi", "300"]);
    assert!(o.status.success());
    assert!(
        stderr(&o).contains("--format writes none"),
        "{}",
        stderr(&o)
    );
}
