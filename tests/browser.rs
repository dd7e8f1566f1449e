//! The report's `index.html` as a reader's browser shows it: a small sweep
//! and an oddly named run are trained through the real binary, and headless
//! Chromium opens the page from a `file://` URL. Every image must load,
//! every link must land on a file of the report or an element of the page,
//! the console must stay free of errors, and a screenshot must show a page.
//! The same checker, run on a copy of the report with faults put in, must
//! name each fault: a test that cannot fail proves nothing.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::chromium::{self, Browser};
use common::{posterlab, stderr, stdout};
use serde_json::{json, Value};

/// The window the page is laid out in: a laptop's.
const WIDTH: u32 = 1400;
const HEIGHT: u32 = 1000;

/// The tallest whole-page screenshot, in pixels: the page is scaled down to
/// fit (Chromium draws nothing past 16,384 pixels on a side).
const WHOLE_PAGE_MAX: f64 = 12_000.0;

/// One browser at a time: two at once on a 2-core machine only slow each
/// other down.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// A project whose `reports/` holds the report of a two-configuration ×
/// two-seed sweep (one of them the baseline, so the page has the effects
/// and main effects) and a single run, trained once for this test binary.
/// The names carry `&`, `%`, `#`, `_` and `<`, which the page must escape.
fn report() -> &'static Path {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = common::shared_dir("browser");
        let o = posterlab(
            &dir,
            &["synth", "--out", "posters", "--count", "120", "--seed", "5"],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        let base = "[data]\ndataset = \"posters\"\nresolution = 16\n\
                    [model]\nchannels = [4, 8]\ndense = [16]\n";
        let sweep = format!(
            "[experiment]\nname = \"grid_a&b #2\"\nbaseline = {{ \"train.loss\" = \"bce\" }}\n{base}[train]\nepochs = 2\nbatch_size = 16\n\
             [sweep.grid]\n\"train.loss\" = [\"bce\", \"categorical_ce\"]\n\"train.seed\" = [1, 2]\n"
        );
        let one = format!(
            "[experiment]\nname = \"R&D <b>#1</b> 50%_odd\"\n{base}[train]\nepochs = 2\nseed = 9\n"
        );
        std::fs::write(dir.join("sweep.toml"), sweep).unwrap();
        std::fs::write(dir.join("one.toml"), one).unwrap();
        // `run` draws the report of its runs into reports/ when it ends.
        let o = posterlab(&dir, &["-q", "run", "sweep.toml", "one.toml"]);
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let reports = dir.join("reports");
        assert!(reports.join("index.html").is_file());
        reports
    })
}

/// What the browser made of a page.
struct Seen {
    /// Everything wrong, one line each; empty for a good page.
    problems: Vec<String>,
    /// The first window of the page, and the whole page scaled down.
    top: image::RgbaImage,
    whole: image::RgbaImage,
}

/// Opens `folder/index.html` in headless Chromium and says what is wrong
/// with it; the screenshots are written into `shots` (top.png, page.png).
fn look_at(folder: &Path, shots: &Path) -> Seen {
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let started = Instant::now();
    let profile = tempfile::tempdir().unwrap();
    let mut browser = Browser::launch(profile.path());
    let page = open(&mut browser, &folder.join("index.html"));
    let p = Some(page.as_str());
    let state = browser.call(
        p,
        "Runtime.evaluate",
        json!({ "expression": PAGE_STATE, "returnByValue": true }),
    );
    assert!(state.get("exceptionDetails").is_none(), "{state}");
    let state = &state["result"]["value"];
    let mut problems = image_problems(folder, &state["images"]);
    problems.extend(link_problems(folder, &state["links"]));
    problems.extend(console_problems(browser.events()));
    let wide = state["scrollWidth"].as_u64().unwrap();
    if wide > u64::from(WIDTH) {
        problems.push(format!(
            "the page is {wide} px wide in a {WIDTH} px window: something overflows"
        ));
    }
    let height = state["scrollHeight"].as_f64().unwrap();
    let (top, whole) = screenshots(&mut browser, p, height, shots);
    for (name, shot) in [("top.png", &top), ("page.png", &whole)] {
        if let Some(why) = blank(shot) {
            problems.push(format!("the screenshot {name} is blank: {why}"));
        }
    }
    eprintln!(
        "{}: {} images, {} links, {height} px tall; looked at in {:.1} s; screenshots in {}",
        folder.display(),
        state["images"].as_array().unwrap().len(),
        state["links"].as_array().unwrap().len(),
        started.elapsed().as_secs_f64(),
        shots.display()
    );
    if let Some(keep) = std::env::var_os("POSTERLAB_SCREENSHOTS") {
        keep_screenshots(&mut browser, p, height, shots, Path::new(&keep));
    }
    Seen {
        problems,
        top,
        whole,
    }
}

/// A new tab, in a laptop's window, showing the page at `path` once it has
/// loaded: returns the tab's session. Only what happens from the navigation
/// on is kept of its events.
fn open(browser: &mut Browser, path: &Path) -> String {
    let page = browser.new_page(&["Page", "Runtime", "Log"]);
    let p = Some(page.as_str());
    browser.call(
        p,
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": WIDTH, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": false }),
    );
    let url = chromium::file_url(path);
    let _ = browser.take_events();
    let nav = browser.call(p, "Page.navigate", json!({ "url": url }));
    assert!(nav.get("errorText").is_none(), "{url}: {nav}");
    browser.wait_for("Page.loadEventFired");
    // A console message or a failed load reported just after the load event.
    browser.settle(Duration::from_millis(300));
    page
}

/// The first window of the page and the whole page (`height` px tall,
/// scaled down to fit), also written into `shots` as top.png and page.png.
fn screenshots(
    browser: &mut Browser,
    page: Option<&str>,
    height: f64,
    shots: &Path,
) -> (image::RgbaImage, image::RgbaImage) {
    let top = screenshot(browser, page, None);
    let scale = (WHOLE_PAGE_MAX / height).min(1.0);
    let clip = json!({ "x": 0, "y": 0, "width": WIDTH, "height": height, "scale": scale });
    let whole = screenshot(browser, page, Some(clip));
    std::fs::create_dir_all(shots).unwrap();
    top.save(shots.join("top.png")).unwrap();
    whole.save(shots.join("page.png")).unwrap();
    (top, whole)
}

/// The page's images and links as the browser resolved them, and its size.
/// A fragment link's `target` says whether an element has that id.
const PAGE_STATE: &str = r##"({
  images: [...document.images].map(i => ({
    src: i.getAttribute("src"), url: i.src, alt: i.getAttribute("alt"),
    complete: i.complete, width: i.naturalWidth, height: i.naturalHeight })),
  links: [...document.querySelectorAll("a[href]")].map(a => ({
    href: a.getAttribute("href"), url: a.href,
    here: a.href.split("#")[0] === location.href.split("#")[0],
    target: a.hash === "" ? null
      : document.getElementById(decodeURIComponent(a.hash.slice(1))) !== null })),
  scrollWidth: document.documentElement.scrollWidth,
  scrollHeight: document.documentElement.scrollHeight,
})"##;

/// An image that did not load, lies outside the report, or has no alt text.
fn image_problems(folder: &Path, images: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for img in images.as_array().unwrap() {
        let src = img["src"].as_str().unwrap_or("");
        if img["complete"] != json!(true) || img["width"] == json!(0) || img["height"] == json!(0) {
            problems.push(format!("the image {src} did not load"));
        }
        if !inside(folder, img["url"].as_str().unwrap()) {
            problems.push(format!("the image {src} is not a file of the report"));
        }
        if img["alt"].as_str().is_none_or(|a| a.trim().is_empty()) {
            problems.push(format!("the image {src} has no alt text"));
        }
    }
    problems
}

/// A link to a missing file, to a missing element, or out of the report.
fn link_problems(folder: &Path, links: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    for a in links.as_array().unwrap() {
        let href = a["href"].as_str().unwrap();
        let url = a["url"].as_str().unwrap();
        match chromium::url_path(url) {
            None => problems.push(format!("the link {href} leaves the report folder")),
            Some(_) if a["here"] == json!(true) => {
                if a["target"] == json!(false) {
                    problems.push(format!("the link {href} names no element of the page"));
                }
            }
            Some(path) if !path.is_file() => {
                problems.push(format!("the link {href} leads to no file"))
            }
            Some(_) if !inside(folder, url) => {
                problems.push(format!("the link {href} leaves the report folder"))
            }
            Some(_) => {}
        }
    }
    problems
}

/// Whether a `file://` URL names a path under `folder`, whether or not
/// the file is there. The browser resolved `..` in the URL already, and the
/// page's own URL is of its canonical path.
fn inside(folder: &Path, url: &str) -> bool {
    let folder = std::fs::canonicalize(folder).unwrap();
    chromium::url_path(url).is_some_and(|p| p.starts_with(folder))
}

/// Console errors, uncaught exceptions and failed loads, as the browser
/// reported them while the page loaded.
fn console_problems(events: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for e in events {
        let p = &e["params"];
        match e["method"].as_str().unwrap_or("") {
            "Runtime.exceptionThrown" => {
                let d = &p["exceptionDetails"];
                let what = d["exception"]["description"]
                    .as_str()
                    .or(d["text"].as_str());
                problems.push(format!("uncaught exception: {}", what.unwrap_or("?")));
            }
            "Runtime.consoleAPICalled" if p["type"] == "error" || p["type"] == "assert" => {
                let args: Vec<String> = p["args"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|a| match &a["value"] {
                        Value::String(s) => s.clone(),
                        Value::Null => a["description"].as_str().unwrap_or("").to_string(),
                        v => v.to_string(),
                    })
                    .collect();
                problems.push(format!("console error: {}", args.join(" ")));
            }
            "Log.entryAdded" if p["entry"]["level"] == "error" => {
                let entry = &p["entry"];
                problems.push(format!(
                    "browser error ({}): {} {}",
                    entry["source"].as_str().unwrap_or("?"),
                    entry["text"].as_str().unwrap_or("?"),
                    entry["url"].as_str().unwrap_or("")
                ));
            }
            _ => {}
        }
    }
    problems
}

/// A PNG screenshot of the page: of the window, or of `clip`.
fn screenshot(browser: &mut Browser, page: Option<&str>, clip: Option<Value>) -> image::RgbaImage {
    let mut params = json!({ "format": "png" });
    if let Some(clip) = clip {
        params["clip"] = clip;
        params["captureBeyondViewport"] = json!(true);
    }
    let shot = browser.call(page, "Page.captureScreenshot", params);
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().unwrap())
        .unwrap();
    image::load_from_memory_with_format(&png, image::ImageFormat::Png)
        .unwrap()
        .to_rgba8()
}

/// Why a screenshot shows no page, or `None`: a page of text and figures
/// has some share of non-white pixels and many colours (anti-aliased text
/// alone gives dozens); a white, black or one-colour error page has not.
fn blank(shot: &image::RgbaImage) -> Option<String> {
    let pixels = shot.pixels().len();
    let inked = shot
        .pixels()
        .filter(|p| p.0[..3].iter().any(|&c| c < 230))
        .count();
    let colours: BTreeSet<[u8; 4]> = shot.pixels().map(|p| p.0).collect();
    let share = inked as f64 / pixels.max(1) as f64;
    if !(0.01..=0.9).contains(&share) || colours.len() < 16 {
        return Some(format!(
            "{:.1}% of its pixels are inked, in {} colours",
            100.0 * share,
            colours.len()
        ));
    }
    None
}

/// For a person to look at after the test binary (and its temporary
/// folder) is gone: the screenshots, and the whole page at full size in
/// window-high slices (`slice-00.png`, …), copied to `keep/<shots' name>`.
/// `POSTERLAB_SCREENSHOTS=DIR` asks for them.
fn keep_screenshots(
    browser: &mut Browser,
    page: Option<&str>,
    height: f64,
    shots: &Path,
    keep: &Path,
) {
    let keep = keep.join(shots.file_name().unwrap());
    std::fs::create_dir_all(&keep).unwrap();
    for f in ["top.png", "page.png"] {
        std::fs::copy(shots.join(f), keep.join(f)).unwrap();
    }
    let slices = (height / f64::from(HEIGHT)).ceil() as u32;
    for i in 0..slices {
        let y = i * HEIGHT;
        let h = (height - f64::from(y)).min(f64::from(HEIGHT));
        let clip = json!({ "x": 0, "y": y, "width": WIDTH, "height": h, "scale": 1 });
        let slice = screenshot(browser, page, Some(clip));
        slice.save(keep.join(format!("slice-{i:02}.png"))).unwrap();
    }
}

/// A copy of the folder `from` at `to`.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let dest = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &dest);
        } else {
            std::fs::copy(entry.path(), dest).unwrap();
        }
    }
}

#[test]
#[cfg_attr(no_chromium, ignore = "needs Chromium (apt-get install chromium)")]
fn the_report_index_loads_whole_in_a_browser() {
    let folder = report();
    let seen = look_at(folder, &folder.parent().unwrap().join("shots-report"));
    assert!(
        seen.problems.is_empty(),
        "{}:\n{}",
        folder.join("index.html").display(),
        seen.problems.join("\n")
    );
    assert_eq!(seen.top.dimensions(), (WIDTH, HEIGHT));
    assert!(seen.whole.height() > seen.top.height());
}

#[test]
#[cfg_attr(no_chromium, ignore = "needs Chromium (apt-get install chromium)")]
fn the_index_loads_whole_whatever_the_figures_formats() {
    // PNGs alone (the page shows them), SVG with PDF and PNG (each image
    // links its PDF), PDFs alone (the page links them): no broken image,
    // no dangling link. 48 DPI keeps the PNGs small; the page shows them at
    // the SVGs' widths all the same.
    let project = report().parent().unwrap();
    for (out, formats) in [
        ("reports-png", "png"),
        ("reports-all", "svg,pdf,png"),
        ("reports-pdf", "pdf"),
    ] {
        let o = posterlab(
            project,
            &["report", "--out", out, "--format", formats, "--dpi", "48"],
        );
        assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
        let folder = project.join(out);
        let seen = look_at(&folder, &project.join(format!("shots-{out}")));
        assert!(
            seen.problems.is_empty(),
            "--format {formats}:\n{}",
            seen.problems.join("\n")
        );
    }
}

#[test]
#[cfg_attr(no_chromium, ignore = "needs Chromium (apt-get install chromium)")]
fn the_checker_names_a_missing_figure_a_dangling_link_and_a_script_error() {
    let folder = report();
    let broken = folder.parent().unwrap().join("broken");
    copy_dir(folder, &broken);
    std::fs::remove_file(broken.join("compare/test-metrics.svg")).unwrap();
    let index = std::fs::read_to_string(broken.join("index.html")).unwrap();
    let faults = "<p><a href=\"runs/nosuch.svg\">gone</a> <a href=\"#nowhere\">nowhere</a> \
                  <a href=\"https://example.org/\">away</a> <a href=\"../one.toml\">up</a> \
                  <img src=\"compare/curves.svg\"></p>\n\
                  <script>console.error(\"drawn wrong\"); null.oops;</script>\n</body>";
    std::fs::write(broken.join("index.html"), index.replace("</body>", faults)).unwrap();

    let seen = look_at(&broken, &folder.parent().unwrap().join("shots-broken"));
    let problems = seen.problems.join("\n");
    let expected = [
        "the image compare/test-metrics.svg did not load",
        "browser error (network): Failed to load resource: net::ERR_FILE_NOT_FOUND",
        "the link runs/nosuch.svg leads to no file",
        "the link #nowhere names no element of the page",
        "the link https://example.org/ leaves the report folder",
        "the link ../one.toml leaves the report folder",
        "the image compare/curves.svg has no alt text",
        "console error: drawn wrong",
        "uncaught exception: TypeError: Cannot read properties of null",
    ];
    for e in expected {
        assert!(problems.contains(e), "no `{e}` in:\n{problems}");
    }
    assert_eq!(
        seen.problems.len(),
        expected.len(),
        "only these faults:\n{problems}"
    );
}

#[test]
fn a_blank_or_one_colour_screenshot_is_caught() {
    let white = image::RgbaImage::from_pixel(200, 100, image::Rgba([255, 255, 255, 255]));
    assert!(blank(&white).unwrap().contains("0.0% of its pixels"));
    let mut two = white.clone();
    for x in 0..100 {
        for y in 0..100 {
            two.put_pixel(x, y, image::Rgba([0, 0, 0, 255]));
        }
    }
    // Half inked, but in two colours: a block, not text and figures.
    assert!(blank(&two).unwrap().contains("in 2 colours"));
    let mut page = white.clone();
    for x in 0..200u32 {
        for y in 0..10u32 {
            let v = ((x * 7 + y * 13) % 200) as u8;
            page.put_pixel(x, y, image::Rgba([v, v, 255 - v, 255]));
        }
    }
    assert_eq!(blank(&page), None);
}
