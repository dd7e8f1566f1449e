//! Property-based tests over hostile input: random spec documents, random
//! CSVs, random bytes as posters, checkpoints and run databases. Whatever
//! the input: no panic, every error located (file, and line:col or line
//! where there is one), a checkpoint with any byte changed refused, a
//! database that is not posterlab's left as it was.
//!
//! CI runs the default number of cases per property (below, about 20 s in
//! all); `PROPTEST_CASES=N cargo test --release --test properties` runs N.

mod common;

use std::path::{Path, PathBuf};

use dfdx::prelude::Cpu;
use posterlab::data::{self, image::load_poster};
use posterlab::model::{Architecture, Model};
use posterlab::spec::{self, DataFormat, Fit, ModelSpec, Spec};
use posterlab::train::checkpoint;
use proptest::prelude::*;
use proptest::test_runner::Config;

/// Cases per property unless `PROPTEST_CASES` says otherwise.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

// ---- spec documents ------------------------------------------------------

const KEYS: &[(&str, &[&str])] = &[
    ("experiment", &["name", "tags", "nmae"]),
    (
        "data",
        &[
            "dataset",
            "format",
            "images",
            "resolution",
            "fit",
            "test_fraction",
            "val_fraction",
            "split_seed",
            "bad_images",
        ],
    ),
    (
        "model",
        &[
            "arch",
            "channels",
            "kernel",
            "padding",
            "batch_norm",
            "conv_dropout",
            "dense",
            "dense_dropout",
            "rnn",
            "rnn_hidden",
        ],
    ),
    (
        "train",
        &[
            "loss",
            "optimizer",
            "lr",
            "weight_decay",
            "grad_clip",
            "batch_size",
            "epochs",
            "seed",
            "device",
            "schedule",
            "early_stopping",
            "monitor",
            "threshold",
            "lr_rate",
        ],
    ),
    (
        "sweep.grid",
        &[
            "\"train.seed\"",
            "\"model.arch\"",
            "\"train.lr\"",
            "train.loss",
            "\"no.such\"",
        ],
    ),
    (
        "sweep.zip",
        &["\"train.seed\"", "\"model.arch\"", "train.loss"],
    ),
    (
        "sweep.random",
        &[
            "n",
            "seed",
            "\"train.lr\"",
            "train.seed",
            "\"model.arch\"",
            "\"model.conv_dropout\"",
        ],
    ),
];

/// Words a spec's values are made of: the real enum names, some near
/// misses, and hostile strings.
const WORDS: &[&str] = &[
    "cnn",
    "cnn_rnn",
    "bce",
    "focal",
    "categorical_ce",
    "weighted_bce",
    "adam",
    "adamw",
    "sgd",
    "plateau",
    "cosine",
    "step",
    "constant",
    "gru",
    "lstm",
    "same",
    "valid",
    "cpu",
    "cuda",
    "cuda:1",
    "val_loss",
    "val_micro_f1",
    "synthetic",
    "stretch",
    "crop",
    "pad",
    "skip",
    "error",
    "auto",
    "",
    "x\u{1b}[31m",
    "a\u{0}b",
    "line\nbreak",
    "ü",
    "../../etc",
    "kind",
];

fn value() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|i| i.to_string()),
        (0i64..300).prop_map(|i| i.to_string()),
        any::<f64>().prop_map(|f| format!("{f:?}")),
        prop::sample::select(vec!["nan", "inf", "-inf", "1e-3", "0.5", "-0.0", "1e400"])
            .prop_map(str::to_string),
        any::<bool>().prop_map(|b| b.to_string()),
        prop::sample::select(WORDS).prop_map(|w| format!("{w:?}")),
        "[ -~]{0,12}".prop_map(|s| format!("{s:?}")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec(
                (
                    prop::sample::select(vec![
                        "kind",
                        "gamma",
                        "alpha",
                        "factor",
                        "patience",
                        "momentum",
                        "min_lr",
                        "beta1",
                        "monitor",
                        "choice",
                        "uniform",
                        "log_uniform",
                        "int"
                    ]),
                    inner
                ),
                0..4
            )
            .prop_map(|kv| {
                let items: Vec<String> =
                    kv.into_iter().map(|(k, v)| format!("{k} = {v}")).collect();
                format!("{{ {} }}", items.join(", "))
            }),
        ]
    })
}

fn section() -> impl Strategy<Value = String> {
    (0..KEYS.len()).prop_flat_map(|s| {
        let (name, keys) = KEYS[s];
        prop::collection::vec((prop::sample::select(keys.to_vec()), value()), 0..5).prop_map(
            move |kv| {
                let mut text = format!("[{name}]\n");
                for (k, v) in kv {
                    text.push_str(&format!("{k} = {v}\n"));
                }
                text
            },
        )
    })
}

/// A document of sections, then perhaps one random edit (a character cut
/// out or put in) to reach the parser's own errors.
fn document() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(section(), 0..5),
        prop::option::of((
            any::<prop::sample::Index>(),
            prop::sample::select(vec!["", "=", "[", "\"", "]", "\n", "{", "\u{1b}", "\u{0}"]),
        )),
    )
        .prop_map(|(sections, edit)| {
            let mut text = sections.concat();
            if let Some((at, put)) = edit {
                let chars: Vec<char> = text.chars().collect();
                if !chars.is_empty() {
                    let i = at.index(chars.len());
                    let mut out: String = chars[..i].iter().collect();
                    out.push_str(put);
                    out.extend(&chars[(i + 1).min(chars.len())..]);
                    text = out;
                }
            }
            text
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn every_spec_error_is_located_and_every_spec_round_trips(text in document()) {
        let file = Path::new("experiments/p.toml");
        match spec::load_str(file, &text) {
            Err(diagnostics) => {
                prop_assert!(!diagnostics.is_empty());
                for d in &diagnostics {
                    prop_assert_eq!(&d.path, file);
                    prop_assert!(d.line >= 1 && d.col >= 1, "unlocated: {}", d);
                    let shown = d.to_string();
                    prop_assert!(shown.starts_with(&format!("experiments/p.toml:{}:{}: ", d.line, d.col)), "{}", shown);
                    prop_assert!(!shown.chars().any(|c| c.is_control() && c != '\n'), "raw control character in {:?}", shown);
                }
            }
            Ok(runs) => {
                prop_assert!(!runs.is_empty());
                for run in runs.iter().take(5) {
                    let again = spec::load_str(file, &run.resolved_toml());
                    prop_assert!(again.is_ok(), "resolved text does not load: {:?}", again.err());
                    prop_assert_eq!(again.unwrap()[0].hash(), run.hash());
                }
            }
        }
    }
}

// ---- CSVs ----------------------------------------------------------------

fn csv_field() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::sample::select(vec![
            "0",
            "1",
            "2",
            "",
            "Drama",
            "['Drama']",
            "['Comedy', 'Drama']",
            "Drama|Comedy",
            "tt01",
            "\"",
            "\"\"",
            "x,y",
            "[",
            "N/A"
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..6),
    ]
}

fn csv_text() -> impl Strategy<Value = Vec<u8>> {
    let header = prop::sample::select(vec![
        "Id,Genre,Action,Comedy,Drama",
        "imdbId,Imdb Link,Title,IMDB Score,Genre,Poster",
        "path,genres",
        "\u{feff}Id,Genre,Drama",
        "Id,Genre",
        "",
    ]);
    (
        header,
        prop::collection::vec(prop::collection::vec(csv_field(), 0..7), 0..8),
        prop::sample::select(vec!["\n", "\r\n"]),
    )
        .prop_map(|(header, rows, eol)| {
            let mut out = header.as_bytes().to_vec();
            for row in rows {
                out.extend_from_slice(eol.as_bytes());
                out.extend_from_slice(&row.join(&b","[..]));
            }
            out
        })
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn every_csv_is_read_or_refused_with_its_file_and_line(bytes in csv_text()) {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("train.csv");
        std::fs::write(&csv, &bytes).unwrap();
        let lines = bytes.split(|&b| b == b'\n').count() as u64;
        for format in [DataFormat::Auto, DataFormat::MultiLabel, DataFormat::MovieGenre, DataFormat::Paths] {
            if let Err(e) = data::read_index(&csv, format, None) {
                prop_assert_eq!(&e.path, &csv);
                prop_assert!(!e.message.is_empty());
                if let Some(line) = e.line {
                    prop_assert!(line >= 1 && line <= lines + 1, "line {} of {}: {}", line, lines, e);
                }
            }
        }
        prop_assert_eq!(std::fs::read(&csv).unwrap(), bytes, "reading changed the CSV");
    }
}

// ---- posters -------------------------------------------------------------

/// Real poster bytes to cut and corrupt.
fn poster_files() -> Vec<Vec<u8>> {
    let img = image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(30, 44, |x, y| {
        image::Rgb([(x * 8) as u8, (y * 5) as u8, 90])
    }));
    vec![
        common::encode(&img, image::ImageFormat::Jpeg),
        common::encode(&img, image::ImageFormat::Png),
        common::encode(&img, image::ImageFormat::WebP),
    ]
}

fn poster_bytes() -> impl Strategy<Value = Vec<u8>> {
    let files = poster_files();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..2000),
        (
            0..files.len(),
            any::<prop::sample::Index>(),
            prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4)
        )
            .prop_map(move |(f, cut, flips)| {
                let mut b = files[f].clone();
                for (at, v) in flips {
                    let i = at.index(b.len());
                    b[i] = v;
                }
                b.truncate(cut.index(b.len() + 1));
                b
            }),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_bytes_as_a_poster_decode_or_are_skipped_with_a_reason(bytes in poster_bytes(), fit in prop::sample::select(vec![Fit::Stretch, Fit::Crop, Fit::Pad])) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.jpg");
        std::fs::write(&path, &bytes).unwrap();
        let mut out = vec![0u8; 3 * 16 * 16];
        if let Err(why) = load_poster(&path, 16, fit, &mut out) {
            prop_assert!(!why.to_string().is_empty());
        }
    }
}

// ---- checkpoints ---------------------------------------------------------

/// A tiny model's best-epoch checkpoint, and the hash it is saved under.
fn checkpoint_file(dir: &Path) -> (PathBuf, Model<Cpu>) {
    let model_spec = ModelSpec {
        channels: vec![4],
        dense: vec![8],
        ..Spec::default().model
    };
    let arch = Architecture::new(&model_spec, 16, 3).unwrap();
    let model = Model::new(arch, 1, &Cpu::default());
    let path = checkpoint::save_best(dir, &model, 1, "feedface").unwrap();
    (path, model)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn a_checkpoint_with_any_byte_changed_is_refused(flips in prop::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4), cut in prop::option::of(any::<prop::sample::Index>())) {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut model) = checkpoint_file(dir.path());
        let mut bytes = std::fs::read(&path).unwrap();
        checkpoint::load_best(&path, "feedface", &mut model).unwrap();
        for (at, xor) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= xor;
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len()));
        }
        std::fs::write(&path, &bytes).unwrap();
        let e = checkpoint::load_best(&path, "feedface", &mut model);
        prop_assert!(e.is_err(), "a changed checkpoint loaded");
        prop_assert!(e.unwrap_err().contains("best-0001.safetensors"));
    }

    #[test]
    fn random_bytes_are_never_a_checkpoint(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut model) = checkpoint_file(dir.path());
        std::fs::write(&path, &bytes).unwrap();
        prop_assert!(checkpoint::load_best(&path, "feedface", &mut model).is_err());
    }
}

// ---- run databases -------------------------------------------------------

proptest! {
    #![proptest_config(config(24))]

    /// Random bytes, or random pages after SQLite's header: every read
    /// command refuses them with a message (exit 1, never a panic's 101)
    /// and leaves the file as it was.
    #[test]
    fn any_file_as_the_database_is_refused_and_left_unchanged(
        body in prop::collection::vec(any::<u8>(), 0..9000),
        sqlite_header in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("x.sqlite");
        let mut bytes = if sqlite_header { b"SQLite format 3\0".to_vec() } else { Vec::new() };
        bytes.extend(body);
        std::fs::write(&db, &bytes).unwrap();
        for args in [vec!["runs"], vec!["show", "1"], vec!["export"], vec!["report", "--out", "r"]] {
            let mut full = vec!["--db", "x.sqlite"];
            full.extend(args);
            let o = common::posterlab(dir.path(), &full);
            prop_assert_eq!(o.status.code(), Some(1), "{:?}: {}", full, common::stderr(&o));
            prop_assert!(common::stderr(&o).starts_with("error: database x.sqlite: "), "{}", common::stderr(&o));
        }
        prop_assert_eq!(std::fs::read(&db).unwrap(), bytes);
        let names: Vec<String> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        prop_assert_eq!(names, vec!["x.sqlite".to_string()], "nothing else was written");
    }
}
