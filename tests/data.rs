//! Data sets on small fixtures written into temporary folders: each CSV
//! layout, each kind of bad row or bad image, the cache and the split.

mod common;

use std::path::Path;

use common::*;
use image::{DynamicImage, GrayImage, ImageFormat, Luma, Rgba, RgbaImage};
use posterlab::data::{self, image::BadImage, read_index, Split, Workspace};
use posterlab::progress::{Progress, Quiet};
use posterlab::spec::{BadImages, DataFormat, Fit};

fn load(csv: &Path, ws: &Workspace, bad: BadImages) -> Result<data::Dataset, data::DataError> {
    let index = read_index(csv, DataFormat::Auto, None)?;
    data::load_index(&index, 16, Fit::Stretch, bad, ws, &Quiet)
}

#[test]
fn multilabel_csv_with_bom_crlf_and_duplicates() {
    let dir = tempfile::tempdir().unwrap();
    multilabel_set(
        dir.path(),
        &[("tt1", &["Drama"]), ("tt2", &["Action", "Comedy"])],
    );
    let rows = [
        multilabel_row("tt1", &["Drama"]),
        multilabel_row("tt2", &["Action", "Comedy"]),
    ];
    let text = format!(
        "\u{FEFF}Id,Genre,Action,Comedy,Drama\r\n{}{}{}",
        rows[0], rows[1], rows[0]
    )
    .replace('\n', "\r\n");
    let csv = dir.path().join("train.csv");
    std::fs::write(&csv, text.replace("\r\r\n", "\r\n")).unwrap();

    let index = read_index(&csv, DataFormat::Auto, None).unwrap();
    assert_eq!(index.format, DataFormat::MultiLabel);
    assert_eq!(index.genres, vec!["Action", "Comedy", "Drama"]);
    assert_eq!(
        (index.rows, index.duplicate_rows, index.posters.len()),
        (3, 1, 2)
    );
    assert_eq!(index.posters[1].genres, vec![0, 1]);
    assert_eq!(index.posters[1].image, dir.path().join("Images/tt2.jpg"));
}

#[test]
fn genre_list_disagreeing_with_the_columns_names_the_line() {
    let dir = tempfile::tempdir().unwrap();
    multilabel_set(dir.path(), &[("tt1", &["Drama"]), ("tt2", &["Comedy"])]);
    let csv = dir.path().join("train.csv");
    let text = std::fs::read_to_string(&csv)
        .unwrap()
        .replace("tt2,\"['Comedy']\"", "tt2,\"['Comedy', 'Drama']\"");
    std::fs::write(&csv, text).unwrap();
    let e = read_index(&csv, DataFormat::Auto, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("train.csv:3: poster `tt2`: Genre lists [Comedy, Drama] but the one-hot columns mark [Comedy]"), "{e}");
}

#[test]
fn malformed_rows_are_errors_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    multilabel_set(dir.path(), &[("tt1", &["Drama"])]);
    let csv = dir.path().join("train.csv");
    let header = "Id,Genre,Action,Comedy,Drama\n";
    let cases = [
        (
            format!("{header}tt1,\"['Drama']\",0,0,1\ntt2,\"['Drama']\",0,0\n"),
            "train.csv:3: row has 4 fields, the header has 5",
        ),
        (
            format!("{header}tt1,\"['Drama']\",0,0,yes\n"),
            "train.csv:2: column `Drama` must be 0 or 1, found \"yes\"",
        ),
        (
            format!("{header}tt1,\"['Horror']\",0,0,0\n"),
            "train.csv:2: Genre lists `Horror`, which has no column",
        ),
        (
            format!("{header}tt1,\"['Drama']\",0,0,1\ntt1,\"['Comedy']\",0,1,0\n"),
            "train.csv:3: poster `tt1` is listed again with different values (first on line 2)",
        ),
        (
            format!("{header},\"['Drama']\",0,0,1\n"),
            "train.csv:2: empty `Id`",
        ),
        (
            format!("{header}../x,\"['Drama']\",0,0,1\n"),
            "cannot be used as a file name",
        ),
        (
            "Foo,Bar\n1,2\n".to_string(),
            "train.csv:1: unrecognised CSV header `Foo,Bar`",
        ),
        (header.to_string(), "the CSV lists no posters"),
    ];
    for (text, expected) in cases {
        std::fs::write(&csv, &text).unwrap();
        let e = read_index(&csv, DataFormat::Auto, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains(expected), "{text:?}\n  gave: {e}");
    }
}

#[test]
fn missing_data_set_and_images_folder_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let e = data::find_csv(&dir.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("data set not found") && e.contains("help:"),
        "{e}"
    );
    let e = data::find_csv(dir.path()).unwrap_err().to_string();
    assert!(e.contains("folder holds no train.csv"), "{e}");
    std::fs::write(
        dir.path().join("train.csv"),
        "Id,Genre,Drama\ntt1,\"['Drama']\",1\n",
    )
    .unwrap();
    let e = read_index(&dir.path().join("train.csv"), DataFormat::Auto, None)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("no poster folder at") && e.contains("`images` in [data]"),
        "{e}"
    );
}

#[test]
fn the_spec_images_folder_replaces_the_layouts_own() {
    let dir = tempfile::tempdir().unwrap();
    multilabel_set(&dir.path().join("set"), &[("tt1", &["Drama"])]);
    std::fs::rename(dir.path().join("set/Images"), dir.path().join("elsewhere")).unwrap();
    let csv = dir.path().join("set/train.csv");
    let index = read_index(&csv, DataFormat::Auto, Some(&dir.path().join("elsewhere"))).unwrap();
    assert_eq!(index.posters[0].image, dir.path().join("elsewhere/tt1.jpg"));
}

#[test]
fn moviegenre_csv_in_latin1_with_a_posters_folder() {
    let dir = tempfile::tempdir().unwrap();
    let posters = dir.path().join("posters");
    std::fs::create_dir_all(&posters).unwrap();
    for id in ["114709", "113497"] {
        std::fs::write(
            posters.join(format!("{id}.jpg")),
            jpeg(20, 30, [10, 200, 10]),
        )
        .unwrap();
    }
    let mut bytes = b"imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\r\n".to_vec();
    bytes.extend_from_slice(b"114709,http://www.imdb.com/title/tt114709,Toy Story (1995),8.3,Animation|Adventure|Comedy,https://x/a.jpg\r\n");
    bytes.extend_from_slice(b"113497,http://www.imdb.com/title/tt113497,Am\xe9lie (2001),8.3,Comedy|Romance,https://x/b.jpg\r\n");
    bytes.extend_from_slice(b"113497,http://www.imdb.com/title/tt113497,Am\xe9lie (2001),8.3,Comedy|Romance,https://x/b.jpg\r\n");
    let csv = dir.path().join("MovieGenre.csv");
    std::fs::write(&csv, bytes).unwrap();

    let index = read_index(&csv, DataFormat::Auto, Some(&posters)).unwrap();
    assert_eq!(index.format, DataFormat::MovieGenre);
    assert_eq!(
        index.genres,
        vec!["Adventure", "Animation", "Comedy", "Romance"]
    );
    assert_eq!(index.duplicate_rows, 1);
    assert_eq!(index.posters[1].genres, vec![2, 3]);
    assert_eq!(index.posters[1].image, posters.join("113497.jpg"));

    let ws = Workspace::new(dir.path().join("results"));
    let data = data::load_index(&index, 16, Fit::Crop, BadImages::Error, &ws, &Quiet).unwrap();
    assert_eq!(data.len(), 2);
    let (red, green) = (data.image(0)[0], data.image(0)[16 * 16]);
    assert!(
        red < 60 && green > 150,
        "the green poster decoded: r {red} g {green}"
    );
}

#[test]
fn plain_path_list_relative_to_the_csv() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("pics/sub")).unwrap();
    std::fs::write(dir.path().join("pics/a.jpg"), jpeg(20, 30, [1, 2, 3])).unwrap();
    let grey = DynamicImage::ImageLuma8(GrayImage::from_pixel(25, 40, Luma([90])));
    std::fs::write(
        dir.path().join("pics/sub/b.png"),
        encode(&grey, ImageFormat::Png),
    )
    .unwrap();
    let csv = dir.path().join("list.csv");
    std::fs::write(
        &csv,
        "path,genres\npics/a.jpg,Drama|Romance\npics/sub/b.png,Horror\n",
    )
    .unwrap();

    let index = read_index(&csv, DataFormat::Auto, None).unwrap();
    assert_eq!(index.format, DataFormat::Paths);
    assert_eq!(index.genres, vec!["Drama", "Horror", "Romance"]);
    assert_eq!(index.posters[0].genres, vec![0, 2]);
    let ws = Workspace::new(dir.path().join("results"));
    let data = data::load_index(&index, 16, Fit::Pad, BadImages::Error, &ws, &Quiet).unwrap();
    assert_eq!(data.ids, vec!["pics/a.jpg", "pics/sub/b.png"]);
    assert_eq!(data.label_row(1), &[0, 1, 0]);
}

#[test]
fn a_named_format_that_does_not_match_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("list.csv");
    std::fs::write(&csv, "path,genres\na.jpg,Drama\n").unwrap();
    let e = read_index(&csv, DataFormat::MovieGenre, None)
        .unwrap_err()
        .to_string();
    assert!(e.contains("the header has no `imdbId` column"), "{e}");
}

/// A data set with one poster of each awkward kind.
fn awkward_set(dir: &Path) -> std::path::PathBuf {
    let ids = [
        "good",
        "grey",
        "cmyk",
        "alpha",
        "tiny",
        "wide",
        "missing",
        "empty",
        "truncated",
        "garbage",
    ];
    let rows: Vec<(&str, &[&str])> = ids.iter().map(|id| (*id, &["Drama"][..])).collect();
    multilabel_set(dir, &rows);
    let img = |id: &str| dir.join("Images").join(format!("{id}.jpg"));
    let grey = DynamicImage::ImageLuma8(GrayImage::from_pixel(18, 27, Luma([128])));
    std::fs::write(img("grey"), encode(&grey, ImageFormat::Jpeg)).unwrap();
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cmyk-red.jpg"),
        img("cmyk"),
    )
    .unwrap();
    let alpha = DynamicImage::ImageRgba8(RgbaImage::from_pixel(18, 27, Rgba([255, 255, 255, 0])));
    std::fs::write(img("alpha"), encode(&alpha, ImageFormat::Png)).unwrap(); // a PNG named .jpg: content decides
    std::fs::write(img("tiny"), jpeg(1, 1, [9, 9, 9])).unwrap();
    std::fs::write(img("wide"), jpeg(300, 7, [9, 9, 9])).unwrap();
    std::fs::remove_file(img("missing")).unwrap();
    std::fs::write(img("empty"), b"").unwrap();
    let whole = jpeg(18, 27, [1, 2, 3]);
    std::fs::write(img("truncated"), &whole[..whole.len() * 2 / 3]).unwrap();
    std::fs::write(img("garbage"), b"<html>404 not found</html>").unwrap();
    dir.join("train.csv")
}

#[test]
fn bad_images_are_skipped_counted_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let csv = awkward_set(dir.path());
    let ws = Workspace::new(dir.path().join("results"));
    let data = load(&csv, &ws, BadImages::Skip).unwrap();
    assert_eq!(
        data.ids,
        vec!["good", "grey", "cmyk", "alpha", "tiny", "wide"]
    );
    let skipped: Vec<(&str, &BadImage)> = data
        .report
        .skipped
        .iter()
        .map(|(id, b)| (id.as_str(), b))
        .collect();
    assert_eq!(skipped[0], ("missing", &BadImage::Missing));
    assert_eq!(skipped[1], ("empty", &BadImage::Empty));
    assert_eq!(skipped[2], ("truncated", &BadImage::Truncated));
    assert!(matches!(skipped[3], ("garbage", BadImage::Undecodable(_))));
    // The transparent PNG is black; the CMYK JPEG red; labels stay aligned with images.
    assert!(data.image(3).iter().all(|&p| p == 0));
    let cmyk = data.image(2);
    assert!(
        cmyk[0] > 200 && cmyk[256] < 60,
        "red plane high, green plane low"
    );
    assert_eq!(data.labels.len(), 6 * 3);
}

#[test]
fn bad_images_fail_the_load_when_the_spec_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let csv = awkward_set(dir.path());
    let ws = Workspace::new(dir.path().join("results"));
    let e = load(&csv, &ws, BadImages::Error).unwrap_err().to_string();
    assert!(
        e.contains(
            "4 posters skipped (1 missing, 1 empty, 1 truncated, 1 undecodable): missing (missing)"
        ),
        "{e}"
    );
    assert!(
        e.contains("bad_images = \\\"skip\\\"") || e.contains("bad_images = \"skip\""),
        "{e}"
    );
}

/// Records notes so tests can see what the loader said.
#[derive(Default)]
struct Notes(std::sync::Mutex<Vec<String>>);

impl Progress for Notes {
    fn begin(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn end(&self) {}
    fn note(&self, m: &str) {
        self.0.lock().unwrap().push(m.to_string());
    }
}

#[test]
fn cache_hit_invalidation_and_corruption() {
    let dir = tempfile::tempdir().unwrap();
    multilabel_set(dir.path(), &[("a", &["Drama"]), ("b", &["Comedy"])]);
    let csv = dir.path().join("train.csv");
    let ws = Workspace::new(dir.path().join("results"));
    let index = || read_index(&csv, DataFormat::Auto, None).unwrap();

    let first =
        data::load_index(&index(), 16, Fit::Stretch, BadImages::Error, &ws, &Quiet).unwrap();
    assert!(!first.report.from_cache);
    let second =
        data::load_index(&index(), 16, Fit::Stretch, BadImages::Error, &ws, &Quiet).unwrap();
    assert!(second.report.from_cache, "second load is a cache hit");
    assert_eq!(
        (&second.pixels, &second.labels, &second.ids),
        (&first.pixels, &first.labels, &first.ids)
    );

    // Another resolution or fit is another cache entry.
    let other =
        data::load_index(&index(), 24, Fit::Stretch, BadImages::Error, &ws, &Quiet).unwrap();
    assert!(!other.report.from_cache);
    assert!(
        !data::load_index(&index(), 16, Fit::Pad, BadImages::Error, &ws, &Quiet)
            .unwrap()
            .report
            .from_cache
    );

    // Changing one poster's bytes changes the content hash: rebuilt, new pixels.
    std::fs::write(dir.path().join("Images/b.jpg"), jpeg(18, 27, [20, 20, 220])).unwrap();
    let changed =
        data::load_index(&index(), 16, Fit::Stretch, BadImages::Error, &ws, &Quiet).unwrap();
    assert!(!changed.report.from_cache);
    assert_ne!(changed.content_hash, first.content_hash);
    assert_ne!(changed.image(1), first.image(1));

    // Corrupt every cache file: detected, noted, rebuilt, same result.
    for entry in std::fs::read_dir(ws.cache_dir()).unwrap() {
        let path = entry.unwrap().path();
        let mut bytes = std::fs::read(&path).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xFF;
        std::fs::write(&path, bytes).unwrap();
    }
    let notes = Notes::default();
    let rebuilt =
        data::load_index(&index(), 16, Fit::Stretch, BadImages::Error, &ws, &notes).unwrap();
    assert!(!rebuilt.report.from_cache);
    assert_eq!(rebuilt.pixels, changed.pixels);
    let notes = notes.0.into_inner().unwrap();
    assert!(
        notes
            .iter()
            .any(|n| n.contains("rebuilding the cache") && n.contains("checksum mismatch")),
        "{notes:?}"
    );
    assert!(
        data::load_index(&index(), 16, Fit::Stretch, BadImages::Error, &ws, &Quiet)
            .unwrap()
            .report
            .from_cache
    );
}

#[test]
fn the_split_is_seeded_by_split_seed_only() {
    let ids: Vec<String> = (0..200).map(|i| format!("tt{i}")).collect();
    let a = Split::new(&ids, 0.2, 0.1, 42);
    assert_eq!((a.train.len(), a.val.len(), a.test.len()), (140, 20, 40));
    assert_eq!(a, Split::new(&ids, 0.2, 0.1, 42));
    assert_ne!(a, Split::new(&ids, 0.2, 0.1, 1));
}
