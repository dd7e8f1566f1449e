//! The resolved spec: one run's every setting, typed, with each default
//! filled in and each sweep value applied. What `resolve` makes and the rest
//! of posterlab reads; `canonical` writes it out for the run hash.

use std::fmt;
use std::path::PathBuf;

use crate::metric::Metric;

/// Declares a string-named enum: its TOML names, parsing and display.
macro_rules! named_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const NAMES: &'static [&'static str] = &[$($text),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($text => Some(Self::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// One fully resolved run: every default filled in, sweep values applied.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// Run name: the experiment name, plus the swept values for a sweep.
    pub name: String,
    /// `[experiment] name`, or the file stem.
    pub experiment: String,
    pub tags: Vec<String>,
    /// The spec file this run came from.
    pub file: PathBuf,
    /// The sweep axes and this run's value on each (`("train.seed", "2")`).
    pub swept: Vec<(String, String)>,
    pub data: DataSpec,
    pub model: ModelSpec,
    pub train: TrainSpec,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DataSpec {
    pub dataset: DatasetRef,
    pub format: DataFormat,
    /// Poster folder for the moviegenre format; `None` means the CSV's folder.
    pub images: Option<PathBuf>,
    pub resolution: u32,
    pub fit: Fit,
    pub test_fraction: f64,
    pub val_fraction: f64,
    pub split_seed: u64,
    pub bad_images: BadImages,
    /// Random changes to training posters; `None` is off (the default).
    pub augment: Option<Augment>,
}

/// `data.augment`: what is drawn for each training poster, from (training
/// seed, epoch, poster). Resolved to `None` when every setting is off, so
/// that such a spec is the plain run it trains as.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Augment {
    /// Mirror half the posters left to right.
    pub flip: bool,
    /// `(min, max)`: the share of the area a random square crop keeps, drawn
    /// uniformly between the two; `(1, 1)` keeps the whole poster.
    pub crop: (f64, f64),
    /// Brightness is scaled by a factor drawn from [1 - x, 1 + x]; 0 is off.
    pub brightness: f64,
    /// Contrast (distance from the poster's mean grey) likewise.
    pub contrast: f64,
}

impl Augment {
    /// Whether nothing is ever changed.
    pub fn is_identity(&self) -> bool {
        !self.flip && self.crop == (1.0, 1.0) && self.brightness == 0.0 && self.contrast == 0.0
    }
}

/// Where the posters come from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DatasetRef {
    /// The default synthetic set, generated once under `results/`.
    Synthetic,
    /// A folder (with `train.csv`) or a CSV file.
    Path(PathBuf),
}

impl fmt::Display for DatasetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DatasetRef::Synthetic => f.write_str("synthetic"),
            DatasetRef::Path(p) => write!(f, "{}", p.display()),
        }
    }
}

named_enum! {
    /// The CSV layout of a data set.
    DataFormat {
        Auto = "auto",
        /// `Id,Genre,<25 one-hot columns>` with `Images/<Id>.jpg` beside it.
        MultiLabel = "multilabel",
        /// `imdbId,Imdb Link,Title,IMDB Score,Genre,Poster`, genres `|`-separated.
        MovieGenre = "moviegenre",
        /// `path,genres`, paths relative to the CSV's folder.
        Paths = "paths",
    }
}

named_enum! {
    /// How a portrait poster becomes a square image.
    Fit { Stretch = "stretch", Crop = "crop", Pad = "pad" }
}

named_enum! {
    /// What a missing or unreadable poster does.
    BadImages { Skip = "skip", Error = "error" }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelSpec {
    pub arch: Arch,
    pub channels: Vec<usize>,
    pub kernel: usize,
    pub padding: Padding,
    pub batch_norm: bool,
    pub conv_dropout: f64,
    /// Hidden dense layers (cnn only; empty for cnn_rnn).
    pub dense: Vec<usize>,
    pub dense_dropout: f64,
    /// The recurrent head (cnn_rnn only).
    pub rnn: Option<RnnSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RnnSpec {
    pub kind: RnnKind,
    pub hidden: usize,
}

named_enum! { Arch { Cnn = "cnn", CnnRnn = "cnn_rnn" } }
named_enum! { Padding { Same = "same", Valid = "valid" } }
named_enum! { RnnKind { Gru = "gru", Lstm = "lstm" } }

impl ModelSpec {
    /// Side of the final feature map for a square input, block by block; the
    /// error names the first block (0-based) whose input is too small.
    pub fn feature_sides(&self, resolution: usize) -> Result<Vec<usize>, usize> {
        let mut side = resolution;
        let mut sides = Vec::with_capacity(self.channels.len());
        for block in 0..self.channels.len() {
            let conv_out = match self.padding {
                Padding::Same => side,
                Padding::Valid if side >= self.kernel => side - self.kernel + 1,
                Padding::Valid => return Err(block),
            };
            side = conv_out / 2; // 2x2 max-pool, stride 2, floor like Keras and PyTorch
            if side == 0 {
                return Err(block);
            }
            sides.push(side);
        }
        Ok(sides)
    }

    /// The smallest square input the conv stack accepts.
    pub fn min_resolution(&self) -> usize {
        (1..=1 << 16)
            .find(|&r| self.feature_sides(r).is_ok())
            .unwrap_or(usize::MAX)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainSpec {
    pub loss: Loss,
    pub optimizer: Optimizer,
    pub lr: f64,
    pub weight_decay: f64,
    /// Global gradient-norm clip; `None` is off.
    pub grad_clip: Option<f64>,
    pub batch_size: usize,
    pub epochs: usize,
    pub seed: u64,
    pub device: Device,
    pub schedule: Schedule,
    pub early_stopping: Option<EarlyStopping>,
    pub monitor: Monitor,
    pub threshold: f64,
    /// How probabilities become predicted genres; the loss's own rule
    /// ([`Rule::default_for`]) unless the spec says otherwise.
    pub decision: Rule,
}

/// How a run's probabilities become predicted genres (`train.decision`).
/// The plain rules read `train.threshold`; the tuned ones choose their
/// thresholds on the validation predictions, never on the test split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rule {
    /// A genre is predicted when its probability is above `train.threshold`
    /// (the rule for independent, sigmoid probabilities).
    Threshold,
    /// …above `train.threshold` times the poster's top probability (the rule
    /// for softmax scores, which share one unit between the genres).
    Relative,
    /// The `k` most probable genres of each poster (ties broken by genre
    /// order; every genre when `k` is at least their number).
    TopK(usize),
    /// One threshold for every genre, chosen to maximise validation micro-F1.
    Tuned,
    /// One threshold per genre, each chosen to maximise that genre's
    /// validation F1; a genre without validation positives keeps the
    /// [`Rule::Tuned`] threshold.
    TunedPerGenre,
}

impl Rule {
    /// The spellings of `train.decision` (top_k is a table with `k`).
    pub const NAMES: &'static [&'static str] =
        &["threshold", "relative", "top_k", "tuned", "tuned_per_genre"];

    /// What a run does when its spec does not say: `relative` for a
    /// `categorical_ce` model (softmax), `threshold` otherwise.
    pub fn default_for(loss: Loss) -> Rule {
        match loss {
            Loss::CategoricalCe => Rule::Relative,
            _ => Rule::Threshold,
        }
    }

    /// Whether the rule chooses its thresholds on validation predictions.
    pub fn is_tuned(self) -> bool {
        matches!(self, Rule::Tuned | Rule::TunedPerGenre)
    }

    /// The rule's name: `threshold`, `relative`, `top_k:K`, `tuned` or
    /// `tuned_per_genre` — what the store records and `--decision` takes.
    pub fn name(self) -> String {
        match self {
            Rule::Threshold => "threshold".into(),
            Rule::Relative => "relative".into(),
            Rule::TopK(k) => format!("top_k:{k}"),
            Rule::Tuned => "tuned".into(),
            Rule::TunedPerGenre => "tuned_per_genre".into(),
        }
    }

    /// The rule named `text` (what [`Rule::name`] gives; `relative_to_top`
    /// is how databases before `train.decision` spelled `relative`).
    pub fn parse(text: &str) -> Option<Rule> {
        match text {
            "threshold" => Some(Rule::Threshold),
            "relative" | "relative_to_top" => Some(Rule::Relative),
            "tuned" => Some(Rule::Tuned),
            "tuned_per_genre" => Some(Rule::TunedPerGenre),
            _ => {
                let k = text.strip_prefix("top_k:")?.parse().ok()?;
                (k >= 1).then_some(Rule::TopK(k))
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    Bce,
    WeightedBce,
    Focal { gamma: f64, alpha: f64 },
    CategoricalCe,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Optimizer {
    Adam { beta1: f64, beta2: f64, eps: f64 },
    AdamW { beta1: f64, beta2: f64, eps: f64 },
    Sgd { momentum: f64, nesterov: bool },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    Constant,
    /// Multiply the rate by `gamma` every `step_size` epochs.
    Step {
        step_size: usize,
        gamma: f64,
    },
    /// Cosine from `lr` down to `min_lr` over `epochs`.
    Cosine {
        min_lr: f64,
    },
    /// Multiply by `factor` after `patience` epochs without improvement.
    Plateau {
        factor: f64,
        patience: usize,
        min_lr: f64,
        monitor: Monitor,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EarlyStopping {
    pub monitor: Monitor,
    pub patience: usize,
    pub min_delta: f64,
}

/// Where a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Device {
    Cpu,
    Cuda(usize),
}

impl Device {
    pub fn parse(text: &str) -> Option<Device> {
        match text {
            "cpu" => Some(Device::Cpu),
            "cuda" => Some(Device::Cuda(0)),
            _ => text.strip_prefix("cuda:")?.parse().ok().map(Device::Cuda),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => f.write_str("cpu"),
            Device::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

named_enum! {
    /// A validation metric that can pick the best epoch or drive a schedule.
    Monitor {
        ValLoss = "val_loss",
        ValMicroF1 = "val_micro_f1",
        ValMacroF1 = "val_macro_f1",
        ValSamplesF1 = "val_samples_f1",
        ValMicroPrecision = "val_micro_precision",
        ValMicroRecall = "val_micro_recall",
        ValMacroPrecision = "val_macro_precision",
        ValMacroRecall = "val_macro_recall",
        ValMicroAp = "val_micro_ap",
        ValMacroAp = "val_macro_ap",
        ValSubsetAccuracy = "val_subset_accuracy",
        ValBinaryAccuracy = "val_binary_accuracy",
        ValHammingLoss = "val_hamming_loss",
    }
}

impl Monitor {
    /// The validation metric it reads.
    pub fn metric(self) -> Metric {
        match self {
            Monitor::ValLoss => Metric::Loss,
            Monitor::ValMicroF1 => Metric::MicroF1,
            Monitor::ValMacroF1 => Metric::MacroF1,
            Monitor::ValSamplesF1 => Metric::SamplesF1,
            Monitor::ValMicroPrecision => Metric::MicroPrecision,
            Monitor::ValMicroRecall => Metric::MicroRecall,
            Monitor::ValMacroPrecision => Metric::MacroPrecision,
            Monitor::ValMacroRecall => Metric::MacroRecall,
            Monitor::ValMicroAp => Metric::MicroAp,
            Monitor::ValMacroAp => Metric::MacroAp,
            Monitor::ValSubsetAccuracy => Metric::SubsetAccuracy,
            Monitor::ValBinaryAccuracy => Metric::BinaryAccuracy,
            Monitor::ValHammingLoss => Metric::HammingLoss,
        }
    }

    /// Whether smaller is better.
    pub fn minimise(self) -> bool {
        self.metric().minimise()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_a_monitor_named_after_it() {
        for name in Monitor::NAMES {
            let monitor = Monitor::from_name(name).unwrap();
            assert_eq!(*name, format!("val_{}", monitor.metric().name()));
        }
        for metric in Metric::ALL {
            let name = format!("val_{}", metric.name());
            assert!(Monitor::from_name(&name).is_some(), "no monitor {name}");
        }
    }
}
