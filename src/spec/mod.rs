//! Experiment specs: TOML files turned into validated, fully resolved [`Spec`]s,
//! one per run, each identified by the hash of its resolved form.
//!
//! `fields` holds every default; `resolve` reads one run's tables into a
//! `Spec`; `sweep` expands `[sweep.grid]`; `canonical` writes the resolved TOML
//! that the run hash is taken over; `diagnostics` collects the problems found
//! on the way. [`LoadOptions`] carries what a caller may change about loading:
//! the sweep-size limit.

mod canonical;
mod diagnostics;
pub mod fields;
mod resolve;
mod sweep;
pub mod tree;

use std::fmt;
use std::path::{Path, PathBuf};

pub use canonical::HASH_SCHEME;
pub use resolve::{hash_key, load_str, load_str_with, visit_str_with};
pub use sweep::MAX_SWEEP_RUNS;
pub use tree::Diagnostic;

/// How specs are loaded. `LoadOptions::default()` is what `load_str`,
/// `load_file` and `load_paths` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// The most runs one file's `[sweep.grid]` may make; `None` lifts the
    /// limit (the user confirmed a large sweep). Default: [`MAX_SWEEP_RUNS`].
    pub max_runs: Option<usize>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            max_runs: Some(MAX_SWEEP_RUNS),
        }
    }
}

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

impl Spec {
    /// The resolved spec as TOML, without `[experiment]`: what the hash is over.
    pub fn resolved_toml(&self) -> String {
        canonical::resolved_toml(self)
    }

    /// The run's identity: blake3 of [`Spec::resolved_toml`], 64 hex digits.
    pub fn hash(&self) -> String {
        canonical::hash(self)
    }

    /// The first 12 hex digits of the hash, for tables and logs.
    pub fn short_hash(&self) -> String {
        self.hash()[..12].to_string()
    }
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
    /// Whether smaller is better.
    pub fn minimise(self) -> bool {
        matches!(self, Monitor::ValLoss | Monitor::ValHammingLoss)
    }
}

/// Every problem found in a set of spec files.
#[derive(Debug)]
pub struct SpecErrors(pub Vec<Diagnostic>);

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        if self.0.len() > 1 {
            write!(f, "\n{} problems in the specs", self.0.len())?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecErrors {}

/// Reads one spec file and expands it into its runs.
pub fn load_file(path: &Path) -> Result<Vec<Spec>, SpecErrors> {
    load_file_with(path, LoadOptions::default())
}

/// [`load_file`] with options (e.g. a lifted sweep limit).
pub fn load_file_with(path: &Path, options: LoadOptions) -> Result<Vec<Spec>, SpecErrors> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        SpecErrors(vec![Diagnostic::whole_file(
            path,
            format!("cannot read spec: {e}"),
        )])
    })?;
    load_str_with(path, &text, options).map_err(SpecErrors)
}

/// The spec files named on a command line: files as given, a directory as its
/// `*.toml` files in name order.
pub fn spec_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, SpecErrors> {
    let mut files = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        if path.is_dir() {
            let listing = std::fs::read_dir(path).map_err(|e| {
                SpecErrors(vec![Diagnostic::whole_file(
                    path,
                    format!("cannot list directory: {e}"),
                )])
            })?;
            let mut found: Vec<PathBuf> = listing
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| p.is_file() && p.extension().is_some_and(|ext| ext == "toml"))
                .collect();
            found.sort();
            if found.is_empty() {
                errors.push(Diagnostic::whole_file(
                    path,
                    "directory holds no *.toml spec",
                ));
            }
            files.extend(found);
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            errors.push(Diagnostic::whole_file(
                path,
                "no such spec file or directory",
            ));
        }
    }
    if errors.is_empty() {
        Ok(files)
    } else {
        Err(SpecErrors(errors))
    }
}

/// The two passes of [`visit_paths_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Every file is resolved and checked; its runs are visited, but the
    /// call may still fail (a problem in a later file).
    Check,
    /// Every file is known to be right: the runs again, in the same order.
    List,
}

/// Visits every run of every spec named, one at a time and in order, twice:
/// while every file is checked ([`Pass::Check`]: collect what a listing
/// needs to know up front), then, only if none has a problem, again
/// ([`Pass::List`]). Listing a confirmed sweep of millions of runs thus holds
/// none of them. Runs that resolve alike within a file are visited once.
pub fn visit_paths_with(
    paths: &[PathBuf],
    options: LoadOptions,
    visit: &mut dyn FnMut(Pass, Spec),
) -> Result<(), SpecErrors> {
    let files = spec_files(paths)?;
    let read = |file: &Path| {
        std::fs::read_to_string(file).map_err(|e| {
            vec![Diagnostic::whole_file(
                file,
                format!("cannot read spec: {e}"),
            )]
        })
    };
    let mut errors = Vec::new();
    for file in &files {
        let checked = read(file)
            .and_then(|text| visit_str_with(file, &text, options, &mut |s| visit(Pass::Check, s)));
        if let Err(d) = checked {
            errors.extend(d);
        }
    }
    if !errors.is_empty() {
        return Err(SpecErrors(errors));
    }
    for file in &files {
        let text = read(file).map_err(SpecErrors)?;
        visit_str_with(file, &text, options, &mut |s| visit(Pass::List, s)).map_err(SpecErrors)?;
    }
    Ok(())
}

/// Loads every spec named (files or directories) and expands every sweep;
/// reports the problems of all files together.
pub fn load_paths(paths: &[PathBuf]) -> Result<Vec<Spec>, SpecErrors> {
    load_paths_with(paths, LoadOptions::default())
}

/// [`load_paths`] with options (e.g. a lifted sweep limit). The sweep limit
/// applies to each file's grid on its own.
pub fn load_paths_with(paths: &[PathBuf], options: LoadOptions) -> Result<Vec<Spec>, SpecErrors> {
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for file in spec_files(paths)? {
        match load_file_with(&file, options) {
            Ok(runs) => specs.extend(runs),
            Err(SpecErrors(d)) => errors.extend(d),
        }
    }
    if errors.is_empty() {
        Ok(specs)
    } else {
        Err(SpecErrors(errors))
    }
}
