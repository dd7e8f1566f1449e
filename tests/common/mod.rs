//! Fixtures for the integration tests: small data sets written into temporary
//! folders, and a way to run the real binary.
#![allow(dead_code)] // each test file uses its own subset

pub mod chromium;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use image::{DynamicImage, ImageFormat, Rgb, RgbImage};

/// Where the real posters are, from the project root.
pub const REAL_POSTERS: &str = "../shared/data/movie-posters";

/// The real set's folder, or `None` (with a note) on a machine without it.
/// CI has it, so there a missing folder fails the test instead.
pub fn real_posters() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(REAL_POSTERS);
    if path.join("train.csv").is_file() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI must have the real posters at {}",
        path.display()
    );
    eprintln!("skipping: the real posters are not at {}", path.display());
    None
}

/// A poster-like JPEG of one colour.
pub fn jpeg(w: u32, h: u32, colour: [u8; 3]) -> Vec<u8> {
    encode(
        &DynamicImage::ImageRgb8(RgbImage::from_pixel(w, h, Rgb(colour))),
        ImageFormat::Jpeg,
    )
}

pub fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub const GENRES: [&str; 3] = ["Action", "Comedy", "Drama"];

/// A multilabel data set (train.csv + Images/) with the given rows
/// `(id, genres)`; every image is a small red JPEG.
pub fn multilabel_set(dir: &Path, rows: &[(&str, &[&str])]) -> PathBuf {
    std::fs::create_dir_all(dir.join("Images")).unwrap();
    let mut csv = format!("Id,Genre,{}\n", GENRES.join(","));
    for (id, genres) in rows {
        csv.push_str(&multilabel_row(id, genres));
        std::fs::write(
            dir.join("Images").join(format!("{id}.jpg")),
            jpeg(18, 27, [200, 30, 30]),
        )
        .unwrap();
    }
    std::fs::write(dir.join("train.csv"), csv).unwrap();
    dir.to_path_buf()
}

pub fn multilabel_row(id: &str, genres: &[&str]) -> String {
    let list: Vec<String> = genres.iter().map(|g| format!("'{g}'")).collect();
    let one_hot: Vec<&str> = GENRES
        .iter()
        .map(|g| if genres.contains(g) { "1" } else { "0" })
        .collect();
    format!("{id},\"[{}]\",{}\n", list.join(", "), one_hot.join(","))
}

/// Runs the posterlab binary in `cwd`.
pub fn posterlab(cwd: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_posterlab"))
        .current_dir(cwd)
        .args(args)
        .output()
        .unwrap()
}

/// Runs the posterlab binary in `cwd` with the crash hook armed: it aborts,
/// as kill -9 would stop it, at `point` (`recorded@2`: see
/// `POSTERLAB_CRASH` in src/train/fit.rs).
pub fn posterlab_crashing(cwd: &Path, args: &[&str], point: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_posterlab"))
        .current_dir(cwd)
        .args(args)
        .env("POSTERLAB_CRASH", point)
        .output()
        .unwrap()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A 150-poster synthetic set, made once per test binary run.
pub fn tiny_set() -> PathBuf {
    static ONCE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    ONCE.get_or_init(|| {
        let dir = shared_dir("tiny");
        let o = posterlab(
            &dir,
            &["synth", "--out", "posters", "--count", "150", "--seed", "3"],
        );
        assert!(o.status.success(), "{}", stderr(&o));
        dir.join("posters")
    })
    .clone()
}

/// A spec for the tiny set: 16 px, a two-block CNN.
pub fn spec(extra_train: &str) -> String {
    format!(
        "[data]\ndataset = {:?}\nresolution = 16\n\n[model]\nchannels = [4, 8]\ndense = [16]\n\n\
         [train]\nbatch_size = 16\nschedule = {{ kind = \"plateau\", factor = 0.5, patience = 1 }}\n{extra_train}\n",
        tiny_set().display().to_string()
    )
}

/// A temporary project folder holding the given spec files.
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

/// Every file under `dir` (by its path relative to `dir`) with its bytes.
pub fn files_under(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// A folder for fixtures that several tests of one test binary share,
/// `posterlab-<name>-<pid>` in the temporary folder, removed when the test
/// binary exits (statics are never dropped, so a `TempDir` in one would
/// stay behind).
pub fn shared_dir(name: &str) -> PathBuf {
    static DIRS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());
    extern "C" fn remove_all() {
        if let Ok(dirs) = DIRS.lock() {
            for d in dirs.iter() {
                let _ = std::fs::remove_dir_all(d);
            }
        }
    }
    let dir = std::env::temp_dir().join(format!("posterlab-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut dirs = DIRS.lock().unwrap();
    if dirs.is_empty() {
        // SAFETY: registers a plain function to run at exit.
        unsafe { libc::atexit(remove_all) };
    }
    dirs.push(dir.clone());
    dir
}

/// A copy of the tiny set in `dir/name`, returning its first poster's path.
pub fn copy_of_tiny_set(dir: &Path, name: &str) -> PathBuf {
    let data = dir.join(name);
    std::fs::create_dir_all(data.join("Images")).unwrap();
    let mut images: Vec<PathBuf> = std::fs::read_dir(tiny_set().join("Images"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    images.sort();
    for path in &images {
        std::fs::copy(path, data.join("Images").join(path.file_name().unwrap())).unwrap();
    }
    std::fs::copy(tiny_set().join("train.csv"), data.join("train.csv")).unwrap();
    data.join("Images").join(images[0].file_name().unwrap())
}

/// Every row the `queries` give on the database `db`, each as its values
/// joined by `|`, query after query.
pub fn rows_as_text(db: &Path, queries: &[&str]) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut out = Vec::new();
    for sql in queries {
        let mut stmt = conn.prepare(sql).unwrap();
        let n = stmt.column_count();
        let rows = stmt
            .query_map([], |r| {
                Ok((0..n)
                    .map(|i| format!("{:?}", r.get_ref(i).unwrap()))
                    .collect::<Vec<_>>()
                    .join("|"))
            })
            .unwrap();
        out.extend(rows.map(Result::unwrap));
    }
    out
}

/// Every number each run in the database `db` recorded that must not depend
/// on timing, on which job, process or machine trained it, or on
/// interruptions — metrics, learning rates, best epochs, test
/// probabilities — by run name, as text.
pub fn results_by_run(db: &Path) -> Vec<String> {
    rows_as_text(
        db,
        &[
            "SELECT r.name, m.epoch, m.split, m.loss, m.micro_f1, m.macro_f1, m.micro_ap, \
             m.macro_ap FROM metrics m JOIN runs r ON r.id = m.run_id ORDER BY r.name, m.split, m.epoch",
            "SELECT r.name, e.epoch, e.lr, e.is_best FROM epochs e JOIN runs r ON r.id = e.run_id \
             ORDER BY r.name, e.epoch",
            "SELECT r.name, p.poster, p.genre, p.probability FROM predictions p \
             JOIN runs r ON r.id = p.run_id ORDER BY r.name, p.poster, p.genre",
            "SELECT name, status, epochs_done, best_epoch FROM runs ORDER BY name",
        ],
    )
}

/// A figure's title: its first text (plotters and the gallery draw the
/// title first), whitespace collapsed.
pub fn svg_title(svg: &[u8]) -> String {
    let text = std::str::from_utf8(svg).unwrap();
    let doc = roxmltree::Document::parse(text).unwrap();
    let first = doc
        .descendants()
        .find(|n| n.has_tag_name("text"))
        .and_then(|n| n.text())
        .unwrap();
    collapse(first)
}

/// `text` with every run of whitespace (line breaks included) one space.
pub fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs an outside `program` (pdflatex, pdftotext, …) in `dir` and returns
/// its standard output, failing the test with its output and errors when it
/// fails.
pub fn tool(dir: &Path, program: &str, args: &[&str]) -> String {
    let o = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        o.status.success(),
        "{program} {args:?} in {}: {}\n{out}",
        dir.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    out
}
