//! Every spec field, its default, its range and why: the one place defaults
//! and ranges live.
//!
//! The resolver reads defaults and ranges from here, unknown-key checks and
//! "did you mean" suggestions come from here, and `posterlab spec defaults`
//! prints this table as a commented TOML file.
//!
//! Adding a field: its entry here (default, range, doc), its member in
//! `types.rs`, one read in `resolve/<section>.rs`, one line in `canonical.rs`
//! (which changes every run's hash: bump `HASH_SCHEME`; unless, like
//! `train.decision` and `data.augment`, the line is written only when the
//! field is not at a default that leaves runs as they were), and the README
//! block regenerated with `posterlab spec defaults`. `Spec::default()` follows.

/// One key of one section.
pub struct Field {
    pub section: &'static str,
    pub key: &'static str,
    /// The default as a TOML literal; `None` where it is derived (noted in `doc`).
    pub default: Option<&'static str>,
    /// What values the resolver accepts, beyond the field's type.
    pub range: Range,
    pub doc: &'static str,
}

/// The bounds a number must lie in. The docs say the same in words; the
/// resolver's messages are made from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Range {
    /// No bound beyond the type: a name, a path, a bool, a kind-table, a list
    /// of strings.
    Any,
    /// An integer (for a list, each item) in `min..=max`.
    Int(i64, i64),
    /// A number > 0.
    Positive,
    /// A number >= 0.
    NonNegative,
    /// A number in (0, 1).
    Open01,
    /// A number in [0, 1).
    Unit,
    /// A number in (0, 1].
    Fraction,
}

use Range::*;

const fn field(
    section: &'static str,
    key: &'static str,
    default: &'static str,
    range: Range,
    doc: &'static str,
) -> Field {
    Field {
        section,
        key,
        default: Some(default),
        range,
        doc,
    }
}

/// The sections a spec may have, in the order the resolved spec is written.
pub const SECTIONS: &[&str] = &["experiment", "data", "model", "train", "sweep"];

#[rustfmt::skip]
pub const FIELDS: &[Field] = &[
    Field { section: "experiment", key: "name", default: None, range: Any,
        doc: "Run name. Default: the spec file's stem. Not part of the run's identity (hash)." },
    field("experiment", "tags", "[]", Any,
        "Free-form labels for selecting runs in reports. Not part of the run's identity."),
    field("experiment", "baseline", "false", Any,
        "The configuration `posterlab report` compares the others with: true (every run of this \
         file), or a table naming one sweep point by its swept fields' values, e.g. \
         { \"train.loss\" = \"bce\", \"data.resolution\" = 64 }. Its runs get the tag \
         `baseline` (recorded when a run is first made). Not part of the run's identity."),

    field("data", "dataset", r#""synthetic""#, Any,
        "\"synthetic\" (about 2,000 generated posters, made once under results/), a folder holding \
         train.csv + Images/, or a CSV file. Relative paths are read from the working directory, \
         i.e. the project root."),
    field("data", "format", r#""auto""#, Any,
        "auto | multilabel | moviegenre | paths. auto reads the CSV header: `Id,Genre,...` is the \
         multi-label one-hot CSV, `imdbId,...` is MovieGenre.csv, `path,genres` is a plain list."),
    field("data", "images", r#""""#, Any,
        "Folder the posters are read from. \"\" means the layout's own: Images/ beside the CSV for \
         multilabel, the CSV's folder for moviegenre (<imdbId>.jpg) and paths. Posters are only ever \
         read locally, never downloaded."),
    field("data", "resolution", "64", Int(8, 2048),
        "Square input side in pixels. 64 is the first report's; it must leave at least a 1x1 map \
         after the conv stack."),
    field("data", "fit", r#""stretch""#, Any,
        "stretch | crop | pad: how a portrait poster becomes a square. stretch squashes the whole \
         poster, as the first report's Keras load_img(target_size=...) did; crop keeps the centre \
         square; pad letterboxes onto black."),
    field("data", "test_fraction", "0.2", Open01, "Share of posters held out for the final test, in (0, 1)."),
    field("data", "val_fraction", "0.1", Open01,
        "Share of posters for validation (early stopping, best checkpoint), in (0, 1); \
         test_fraction + val_fraction < 1."),
    field("data", "split_seed", "42", Int(0, i64::MAX),
        "Seeds the train/val/test split. Separate from train.seed so that a new training seed never \
         moves posters between splits."),
    field("data", "bad_images", r#""skip""#, Any,
        "skip | error: what a missing, empty, truncated or undecodable poster does. skip drops it \
         (counted, the first few named) so that one bad file does not cost a night's sweep."),
    field("data", "augment", "false", Any,
        "false, true, or { flip = true, crop = [0.8, 1.0], brightness = 0.2, contrast = 0.2 } \
         (true is that table): random changes to each training poster, drawn from (train.seed, \
         epoch, poster), so a resumed run sees the same ones; validation and test posters are \
         never changed. flip mirrors half the posters left to right; crop keeps a random square \
         whose area is a share of the poster drawn from [min, max] (each in (0, 1]), resized back \
         (bilinear); brightness and contrast are each scaled by a factor drawn from [1 - x, 1 + x] \
         (x in [0, 1)). A setting the table leaves out takes the value above; false, [1.0, 1.0] \
         and 0.0 turn one off. Off by default, as in the source reports."),

    field("model", "arch", r#""cnn""#, Any,
        "cnn (first report: conv blocks -> dense) | cnn_rnn (second report: conv blocks -> rows of \
         the final map as a sequence -> GRU/LSTM -> linear)."),
    field("model", "channels", "[16, 32, 64, 64]", Int(1, 4096),
        "Output channels of each conv block (conv -> batch norm -> ReLU -> 2x2 max-pool -> dropout)."),
    field("model", "kernel", "5", Int(1, 31), "Square conv kernel side."),
    field("model", "padding", r#""same""#, Any, "same | valid, as in Keras."),
    field("model", "batch_norm", "true", Any, "Batch norm after each conv (PyTorch momentum 0.1, eps 1e-5)."),
    field("model", "conv_dropout", "0.25", Unit, "Dropout after each conv block, in [0, 1)."),
    field("model", "dense", "[128, 64]", Int(1, 1 << 16), "cnn only: hidden dense layers (ReLU + dropout) before the 25 logits."),
    field("model", "dense_dropout", "0.5", Unit, "cnn only: dropout after each dense layer, in [0, 1)."),
    field("model", "rnn", r#""gru""#, Any, "cnn_rnn only: gru | lstm (PyTorch gate layout)."),
    field("model", "rnn_hidden", "128", Int(1, 8192), "cnn_rnn only: recurrent hidden size."),

    field("train", "loss", r#""bce""#, Any,
        "bce | weighted_bce | focal | categorical_ce, or a table such as \
         { kind = \"focal\", gamma = 2.0, alpha = 0.25 }. weighted_bce weighs each genre's \
         positives by its training prevalence; categorical_ce is softmax cross-entropy against the \
         multi-hot target scaled to sum 1, as the second report did."),
    field("train", "optimizer", r#""adam""#, Any,
        "adam | adamw | sgd, or a table with its settings: adam/adamw { beta1 = 0.9, beta2 = 0.999, \
         eps = 1e-8 }, sgd { momentum = 0.9, nesterov = false }."),
    field("train", "lr", "0.001", Positive, "Initial learning rate, > 0. 1e-3 is Adam's default and the first report's."),
    field("train", "weight_decay", "0.0", NonNegative,
        "L2 penalty added to the gradient (adam, sgd) or decoupled decay (adamw), >= 0."),
    field("train", "grad_clip", "0.0", NonNegative, "Clip the global gradient norm to this value; 0 turns clipping off."),
    field("train", "batch_size", "32", Int(1, 1 << 20), "Posters per training step, >= 1."),
    field("train", "epochs", "20", Int(1, 1_000_000), "Maximum epochs, >= 1 (early stopping may end sooner)."),
    field("train", "seed", "1", Int(0, i64::MAX), "Seeds initial weights, dropout and batch order. Not the split (data.split_seed)."),
    field("train", "device", r#""cpu""#, Any,
        "cpu | cuda | cuda:N. CUDA needs a build with `--features cuda`."),
    field("train", "schedule", r#""constant""#, Any,
        "constant | step | cosine | plateau, or a table: { kind = \"step\", step_size = 10, gamma = 0.1 }, \
         { kind = \"cosine\", min_lr = 0.0 } (over `epochs`), { kind = \"plateau\", factor = 0.5, \
         patience = 2, min_lr = 1e-6, monitor = <train.monitor> }. Applied after each epoch."),
    field("train", "early_stopping", "false", Any,
        "false, true, or { monitor = <train.monitor>, patience = 5, min_delta = 0.0 }: stop when the \
         monitored metric has not improved by more than min_delta for `patience` epochs. Off by \
         default: `epochs` is the budget you asked for."),
    field("train", "monitor", r#""val_loss""#, Any,
        "Validation metric that picks the best checkpoint (the one tested at the end). Loss-like \
         metrics are minimised, the others maximised."),
    field("train", "threshold", "0.5", Open01,
        "Probability above which a genre counts as predicted, in (0, 1). For categorical_ce \
         (softmax) it is relative: a genre is predicted above threshold x the poster's top score."),
    Field { section: "train", key: "decision", default: None, range: Any,
        doc: "How probabilities become predicted genres. Default: \"threshold\" (probability above \
         `threshold`), or \"relative\" (above threshold x the poster's top probability) for \
         categorical_ce. Also { kind = \"top_k\", k = 3 } (the k most probable genres), \"tuned\" \
         (one threshold for all genres, chosen on the validation split for micro-F1) and \
         \"tuned_per_genre\" (one per genre, each chosen on validation for that genre's F1; a genre \
         without validation positives keeps the tuned one). Each buys one F1 at the other's \
         cost: tuned raises micro-F1 most, tuned_per_genre raises macro-F1 (rare genres get \
         predicted) and lowers micro-F1. `posterlab rescore` tries a rule on finished runs \
         without retraining." },

    field("sweep", "grid", "{}", Any,
        "Dotted field names mapped to lists of values; runs are the cartesian product, the axes in \
         file order, the last axis varying fastest."),
    field("sweep", "zip", "{}", Any,
        "Dotted field names mapped to lists of one length, taken together: item i of every list is \
         one run. Crossed with the grid, inside its axes."),
    field("sweep", "random", "{}", Any,
        "n samples (n >= 1) drawn with seed (an integer >= 0; both required), each other key a \
         dotted field name and its distribution: { choice = [...] }, { uniform = [lo, hi] }, \
         { log_uniform = [lo, hi] } (lo > 0) or { int = [lo, hi] } (both ends included). A value \
         depends on the seed, the sample index and the field's name only; uniform draws are \
         rounded to 4 significant digits. Every sample is crossed with every grid point and zip \
         tuple, the sample index varying fastest."),
];

/// Settings inside a kind-table (`loss`, `optimizer`, `schedule`,
/// `early_stopping`) or `data.augment`.
pub struct KindField {
    pub key: &'static str,
    /// TOML literal, or `None` when it defaults to `train.monitor`.
    pub default: Option<&'static str>,
    pub range: Range,
}

const fn kf(key: &'static str, default: &'static str, range: Range) -> KindField {
    KindField {
        key,
        default: Some(default),
        range,
    }
}

const MONITOR_FROM_TRAIN: KindField = KindField {
    key: "monitor",
    default: None,
    range: Any,
};

/// (kind, its settings) for each kind-table field.
#[rustfmt::skip]
pub const LOSS_KINDS: &[(&str, &[KindField])] = &[
    ("bce", &[]),
    ("weighted_bce", &[]),
    // gamma 2, alpha 0.25: the values Lin et al. (2017, "Focal Loss for Dense Object Detection") found best.
    ("focal", &[kf("gamma", "2.0", NonNegative), kf("alpha", "0.25", Unit)]),
    ("categorical_ce", &[]),
];

#[rustfmt::skip]
pub const OPTIMIZER_KINDS: &[(&str, &[KindField])] = &[
    // Kingma & Ba's defaults, which Keras and PyTorch share.
    ("adam", &[kf("beta1", "0.9", Unit), kf("beta2", "0.999", Unit), kf("eps", "1e-8", Positive)]),
    ("adamw", &[kf("beta1", "0.9", Unit), kf("beta2", "0.999", Unit), kf("eps", "1e-8", Positive)]),
    // Momentum 0.9 rather than PyTorch's 0: plain SGD is almost never what is meant.
    ("sgd", &[kf("momentum", "0.9", Unit), kf("nesterov", "false", Any)]),
];

#[rustfmt::skip]
pub const SCHEDULE_KINDS: &[(&str, &[KindField])] = &[
    ("constant", &[]),
    ("step", &[kf("step_size", "10", Int(1, 1_000_000)), kf("gamma", "0.1", Open01)]),
    ("cosine", &[kf("min_lr", "0.0", NonNegative)]),
    ("plateau", &[kf("factor", "0.5", Open01), kf("patience", "2", Int(0, 1_000_000)), kf("min_lr", "1e-6", NonNegative), MONITOR_FROM_TRAIN]),
];

#[rustfmt::skip]
pub const DECISION_KINDS: &[(&str, &[KindField])] = &[
    ("threshold", &[]),
    ("relative", &[]),
    ("top_k", &[kf("k", "3", Int(1, 1_000_000))]),
    ("tuned", &[]),
    ("tuned_per_genre", &[]),
];

/// The settings of `data.augment` (a table, or `true` for all of these).
#[rustfmt::skip]
pub const AUGMENT_FIELDS: &[KindField] = &[
    kf("flip", "true", Any),
    // 0.8: a poster's genre cues (title lettering, faces, the colour of the
    // whole) fill it, and at 64 px a small crop loses them; torchvision's
    // RandomResizedCrop default of 0.08 is made for objects in ImageNet photos.
    kf("crop", "[0.8, 1.0]", Fraction),
    kf("brightness", "0.2", Unit),
    kf("contrast", "0.2", Unit),
];

pub const EARLY_STOPPING_FIELDS: &[KindField] = &[
    MONITOR_FROM_TRAIN,
    kf("patience", "5", Int(0, 1_000_000)),
    kf("min_delta", "0.0", NonNegative),
];

pub fn section_fields(section: &str) -> impl Iterator<Item = &'static Field> + '_ {
    FIELDS.iter().filter(move |f| f.section == section)
}

pub fn find(section: &str, key: &str) -> Option<&'static Field> {
    FIELDS.iter().find(|f| f.section == section && f.key == key)
}

/// The documented default spec, as `posterlab spec defaults` prints it.
pub fn defaults_toml() -> String {
    let mut out = String::from(
        "# posterlab experiment spec: every field with its default.\n\
         # Unknown keys are errors; omit a key to take its default.\n",
    );
    for section in SECTIONS {
        if *section == "sweep" {
            out.push_str(SWEEP_EXAMPLE);
            continue;
        }
        out.push_str(&format!("\n[{section}]\n"));
        for f in section_fields(section) {
            for line in wrap(f.doc, 90) {
                out.push_str(&format!("# {line}\n"));
            }
            // The default arch is cnn: cnn_rnn's settings are shown, commented out.
            let commented = f.doc.starts_with("cnn_rnn only");
            match f.default {
                Some(default) if !commented => out.push_str(&format!("{} = {default}\n", f.key)),
                Some(default) => out.push_str(&format!("# {} = {default}\n", f.key)),
                None => out.push_str(&format!("# {} = ...\n", f.key)),
            }
        }
    }
    out
}

/// The end of `posterlab spec defaults`: a sweep has no defaults, so an
/// example of each table, which uncommented make 3 seeds × 2 zipped pairs ×
/// 20 samples = 120 runs. The README says what each does.
const SWEEP_EXAMPLE: &str = r#"
# [sweep.grid]  optional: dotted field names -> lists of values, crossed
# "train.seed" = [1, 2, 3]
# [sweep.zip]  optional: lists of one length, taken together (item i of each)
# "model.arch" = ["cnn", "cnn_rnn"]
# "train.loss" = ["bce", "categorical_ce"]
# [sweep.random]  optional: n samples, each field drawn from a distribution
# n = 20
# seed = 7
# "train.lr" = { log_uniform = [1e-4, 1e-2] }
# "train.optimizer" = { choice = ["adam", "adamw"] }
# "model.conv_dropout" = { uniform = [0.0, 0.5] }
# "train.batch_size" = { int = [16, 64] }
"#;

fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split_whitespace() {
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(word.to_string());
        } else {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
    }
    lines
}
