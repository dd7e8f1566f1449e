//! From a parsed spec file to resolved [`Spec`]s: section and key checks, sweep
//! expansion, then one typed, range-checked `Spec` per sweep point.
//!
//! Problems are collected, not returned at the first one, so that a user sees
//! every mistake in a file at once; each names `file:line:col`. A field that
//! cannot be read does not stop the ones after it from being checked.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};

use super::diagnostics::Collector;
use super::fields::{self, KindField};
use super::sweep::{self, Axis, MAX_SWEEP_RUNS};
use super::tree::{self, did_you_mean, Diagnostic, Entry, Node, SourceFile, Span, Table, Value};
use super::types::*;

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

/// Parses and resolves one spec file's text into its runs, in sweep order,
/// with runs that resolve to the same spec (same hash) kept once. A sweep of
/// more than [`MAX_SWEEP_RUNS`] points is refused: see [`load_str_with`].
pub fn load_str(path: &Path, text: &str) -> Result<Vec<Spec>, Vec<Diagnostic>> {
    load_str_with(path, text, LoadOptions::default())
}

/// [`load_str`] with options (e.g. a lifted sweep limit).
pub fn load_str_with(
    path: &Path,
    text: &str,
    options: LoadOptions,
) -> Result<Vec<Spec>, Vec<Diagnostic>> {
    let mut specs = Vec::new();
    visit_str_with(path, text, options, &mut |spec| specs.push(spec))?;
    Ok(specs)
}

/// Resolves one spec file's runs one at a time, handing each to `visit` as
/// it is made (none is kept), so that a huge confirmed sweep can be listed
/// in constant memory. Runs are visited even when a later point has a
/// problem; the problems are returned at the end, and a caller that must
/// not act on a file with problems validates it first (a `visit` that
/// does nothing).
pub fn visit_str_with(
    path: &Path,
    text: &str,
    options: LoadOptions,
    visit: &mut dyn FnMut(Spec),
) -> Result<(), Vec<Diagnostic>> {
    let src = SourceFile::new(path, text);
    let root = tree::parse(&src).map_err(|d| vec![d])?;
    let mut diags = Collector::new(&src);
    diags.refuse_control_characters(&root);
    let doc = diags.sections(&root);
    let grid = doc.sweep.and_then(|sweep| sweep::grid(&mut diags, sweep));
    // Unknown keys and bad sweep axes do not stop here: resolving still finds
    // the other problems, so the user sees them all at once.
    let experiment = diags.experiment(&doc, path);
    // Counted before a single point is made: a grid of 10^9 points would
    // otherwise run the machine out of memory before any message.
    if let Some(grid) = &grid {
        if !sweep::check_size(&mut diags, grid, options.max_runs) {
            return Err(diags.finish());
        }
    }
    let axes = grid.map(|g| g.axes).unwrap_or_default();
    let swept_archs: HashSet<&str> = axes
        .iter()
        .filter(|a| a.dotted == "model.arch")
        .flat_map(|a| a.values.iter().filter_map(|v| as_str(v)))
        .collect();

    // 128 bits of each kept run's hash: 16 bytes a run, where a sweep of a
    // million points must not hold a million specs.
    let mut seen: HashSet<u128> = HashSet::new();
    for point in sweep::points(&axes) {
        let overrides: Vec<(&Axis, &Value)> = axes
            .iter()
            .zip(&point)
            .map(|(a, &i)| (a, &a.values[i]))
            .collect();
        let view = RunView {
            doc: &doc,
            overrides: &overrides,
            swept_archs: &swept_archs,
        };
        let Some((data, model, train)) = diags.run(&view) else {
            continue;
        };
        let (experiment_name, tags) = match &experiment {
            Some(e) => e.clone(),
            None => continue,
        };
        let swept: Vec<(String, String)> = overrides
            .iter()
            .map(|(a, v)| (a.dotted.clone(), v.to_toml()))
            .collect();
        let spec = Spec {
            name: sweep::run_name(&experiment_name, &swept),
            experiment: experiment_name,
            tags,
            file: path.to_path_buf(),
            swept,
            data,
            model,
            train,
        };
        if seen.insert(hash_key(&spec.hash())) {
            visit(spec);
        }
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags.finish())
    }
}

/// The first 128 bits of a hex run hash, as a number.
pub fn hash_key(hash: &str) -> u128 {
    u128::from_str_radix(&hash[..32], 16).expect("a run hash is 64 hex digits")
}

/// The four field sections and the sweep table of one file.
pub(super) struct Doc<'a> {
    experiment: Option<&'a Table>,
    data: Option<&'a Table>,
    model: Option<&'a Table>,
    train: Option<&'a Table>,
    sweep: Option<&'a Table>,
}

impl<'a> Doc<'a> {
    fn section(&self, name: &str) -> Option<&'a Table> {
        match name {
            "experiment" => self.experiment,
            "data" => self.data,
            "model" => self.model,
            "train" => self.train,
            _ => None,
        }
    }
}

/// One sweep point: the file's values with the sweep's values on top.
struct RunView<'a> {
    doc: &'a Doc<'a>,
    overrides: &'a [(&'a Axis, &'a Value)],
    swept_archs: &'a HashSet<&'a str>,
}

impl<'a> RunView<'a> {
    /// The written value of a field (sweep first, then file), if any.
    fn written(&self, section: &str, key: &str) -> Option<&'a Value> {
        if let Some((_, v)) = self
            .overrides
            .iter()
            .find(|(a, _)| a.section == section && a.key == key)
        {
            return Some(v);
        }
        self.doc.section(section)?.get(key).map(|e| &e.value)
    }

    /// Where a written field's key is, for messages about the field as a whole.
    fn key_span(&self, section: &str, key: &str) -> Option<Span> {
        if let Some((a, _)) = self
            .overrides
            .iter()
            .find(|(a, _)| a.section == section && a.key == key)
        {
            return Some(a.key_span.clone());
        }
        self.doc
            .section(section)?
            .get(key)
            .map(|e| e.key_span.clone())
    }
}

/// Where the default of a field is "written": nowhere. Messages about it point
/// at the start of the file.
const DEFAULT_SPAN: Span = 0..0;

fn as_str(v: &Value) -> Option<&str> {
    match &v.node {
        Node::Str(s) => Some(s),
        _ => None,
    }
}

fn default_value(literal: &str) -> Value {
    let src = SourceFile::new("<default>", format!("v = {literal}"));
    let mut table = tree::parse(&src).expect("field defaults are valid TOML");
    let mut value = table.entries.remove(0).value;
    value.span = DEFAULT_SPAN;
    value
}

fn quoted_list(names: &[&str]) -> String {
    names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a control character is refused, for every message that finds one.
const CONTROL_CHARACTER_WHY: &str =
    "control characters (U+0000-U+001F, U+007F-U+009F: escape codes, tabs, newlines) \
     would act on the terminals and logs that show run names, paths and labels";

impl Collector<'_> {
    /// Refuses every string in the file, wherever it is (unknown keys and
    /// sweep values too), that holds a control character.
    fn refuse_control_characters(&mut self, root: &Table) {
        for found in tree::control_characters(root) {
            self.error(
                found.value.span.clone(),
                format!(
                    "`{}` contains a control character (U+{:04X}): {}",
                    found.path,
                    found.found as u32,
                    found.value.describe()
                ),
                Some(format!("remove it: {CONTROL_CHARACTER_WHY}")),
            );
        }
    }

    /// Splits the root table into sections; flags unknown sections and keys.
    fn sections<'a>(&mut self, root: &'a Table) -> Doc<'a> {
        let mut doc = Doc {
            experiment: None,
            data: None,
            model: None,
            train: None,
            sweep: None,
        };
        for entry in &root.entries {
            let Node::Table(table) = &entry.value.node else {
                let help = match fields::FIELDS.iter().find(|f| f.key == entry.key) {
                    Some(f) => format!("`{}` belongs in [{}]", f.key, f.section),
                    None => "every setting lives in [experiment], [data], [model], [train] or [sweep.grid]".into(),
                };
                self.error(
                    entry.key_span.clone(),
                    format!("key `{}` is outside any section", entry.key),
                    Some(help),
                );
                continue;
            };
            match entry.key.as_str() {
                "experiment" => doc.experiment = Some(table),
                "data" => doc.data = Some(table),
                "model" => doc.model = Some(table),
                "train" => doc.train = Some(table),
                "sweep" => doc.sweep = Some(table),
                other => {
                    let help = match did_you_mean(other, fields::SECTIONS.iter().copied()) {
                        Some(s) => format!("did you mean [{s}]?"),
                        None => format!(
                            "sections are {}",
                            fields::SECTIONS
                                .iter()
                                .map(|s| format!("[{s}]"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    self.error(
                        entry.key_span.clone(),
                        format!("unknown section [{other}]"),
                        Some(help),
                    );
                }
            }
        }
        for name in ["experiment", "data", "model", "train"] {
            if let Some(table) = doc.section(name) {
                for entry in &table.entries {
                    self.check_known_key(name, entry);
                }
            }
        }
        doc
    }

    fn check_known_key(&mut self, section: &str, entry: &Entry) {
        if fields::find(section, &entry.key).is_some() {
            return;
        }
        let known: Vec<&str> = fields::section_fields(section).map(|f| f.key).collect();
        let help = if let Some(f) = fields::FIELDS.iter().find(|f| f.key == entry.key) {
            format!("`{}` belongs in [{}]", f.key, f.section)
        } else if let Some(s) = did_you_mean(&entry.key, known.iter().copied()) {
            format!("did you mean `{s}`?")
        } else {
            format!("[{section}] takes: {}", known.join(", "))
        };
        self.error(
            entry.key_span.clone(),
            format!("unknown key `{}` in [{section}]", entry.key),
            Some(help),
        );
    }

    /// `[experiment]`: the name and tags shared by every run of the file.
    fn experiment(&mut self, doc: &Doc<'_>, path: &Path) -> Option<(String, Vec<String>)> {
        let table = doc.experiment;
        let name = match table.and_then(|t| t.get("name")) {
            Some(e) => match &e.value.node {
                Node::Str(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
                _ => {
                    let found = e.value.describe();
                    self.error(
                        e.value.span.clone(),
                        format!("`experiment.name` must be a non-empty string, found {found}"),
                        None,
                    );
                    None
                }
            },
            None => self.name_from_file(path),
        };
        let tags = match table.and_then(|t| t.get("tags")) {
            Some(e) => self.string_list(&e.value, "experiment.tags"),
            None => Some(Vec::new()),
        };
        Some((name?, tags?))
    }

    /// The default run name, the file's stem, held to the same rule as a
    /// written one: no control characters.
    fn name_from_file(&mut self, path: &Path) -> Option<String> {
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "spec".into());
        let Some(found) = stem.chars().find(|c| c.is_control()) else {
            return Some(stem);
        };
        // Whole-file: the name is not written in the text. The message
        // escapes the stem (Diagnostic does), never prints it raw.
        let message = format!(
            "the run name would be the file name's stem `{stem}`, which contains a control \
             character (U+{:04X})",
            found as u32
        );
        let help = format!(
            "rename the file, or name the run: [experiment] name = \"...\"; {CONTROL_CHARACTER_WHY}"
        );
        self.push(Diagnostic::whole_file(path, message).with_help(help));
        None
    }

    fn string_list(&mut self, v: &Value, what: &str) -> Option<Vec<String>> {
        let Node::Array(items) = &v.node else {
            self.error(
                v.span.clone(),
                format!(
                    "`{what}` must be an array of strings, found {}",
                    v.describe()
                ),
                None,
            );
            return None;
        };
        let items: Vec<Option<String>> = items
            .iter()
            .map(|item| match as_str(item) {
                Some(s) => Some(s.to_string()),
                None => {
                    self.error(
                        item.span.clone(),
                        format!("`{what}` must hold strings, found {}", item.describe()),
                        None,
                    );
                    None
                }
            })
            .collect();
        items.into_iter().collect()
    }

    /// Resolves one sweep point. `None` if anything was wrong (and recorded).
    fn run(&mut self, view: &RunView<'_>) -> Option<(DataSpec, ModelSpec, TrainSpec)> {
        let before = self.count();
        let data = self.data(view);
        let model = self.model(view);
        let train = self.train(view);
        let (data, model, train) = (data?, model?, train?);
        self.cross_checks(view, &data, &model);
        (self.count() == before).then_some((data, model, train))
    }

    fn value(&self, view: &RunView<'_>, section: &str, key: &str) -> Value {
        if let Some(v) = view.written(section, key) {
            return v.clone();
        }
        let field = fields::find(section, key).expect("resolver asks only for registered fields");
        default_value(
            field
                .default
                .expect("fields without a literal default are resolved by hand"),
        )
    }

    fn data(&mut self, view: &RunView<'_>) -> Option<DataSpec> {
        let v = |c: &Self, k: &str| c.value(view, "data", k);
        let dataset = {
            let value = v(self, "dataset");
            match as_str(&value) {
                Some("synthetic") => Some(DatasetRef::Synthetic),
                Some(s) if !s.trim().is_empty() => Some(DatasetRef::Path(normalise_path(s))),
                _ => {
                    self.error(
                        value.span.clone(),
                        format!(
                            "`data.dataset` must be \"synthetic\" or a path, found {}",
                            value.describe()
                        ),
                        None,
                    );
                    None
                }
            }
        };
        let format = self.choice(
            &v(self, "format"),
            "data.format",
            DataFormat::NAMES,
            DataFormat::from_name,
        );
        let images = {
            let value = v(self, "images");
            match as_str(&value) {
                Some("") => Some(None),
                Some(s) => Some(Some(normalise_path(s))),
                None => {
                    self.error(
                        value.span.clone(),
                        format!(
                            "`data.images` must be a folder path (a string), found {}",
                            value.describe()
                        ),
                        None,
                    );
                    None
                }
            }
        };
        let resolution = self.int(&v(self, "resolution"), "data.resolution", 8, 2048);
        let fit = self.choice(&v(self, "fit"), "data.fit", Fit::NAMES, Fit::from_name);
        let test_fraction = self.float(
            &v(self, "test_fraction"),
            "data.test_fraction",
            Range::Open01,
        );
        let val_fraction = self.float(&v(self, "val_fraction"), "data.val_fraction", Range::Open01);
        let split_seed = self.int(&v(self, "split_seed"), "data.split_seed", 0, i64::MAX);
        let bad_images = self.choice(
            &v(self, "bad_images"),
            "data.bad_images",
            BadImages::NAMES,
            BadImages::from_name,
        );
        if let (Some(t), Some(val)) = (test_fraction, val_fraction) {
            if t + val >= 1.0 {
                let span = view
                    .written("data", "val_fraction")
                    .or(view.written("data", "test_fraction"));
                self.error(
                    span.map_or(DEFAULT_SPAN, |s| s.span.clone()),
                    format!("`data.test_fraction` + `data.val_fraction` = {} leaves no posters to train on", t + val),
                    Some("the two must add up to less than 1 (e.g. 0.2 + 0.1)".into()),
                );
            }
        }
        Some(DataSpec {
            dataset: dataset?,
            format: format?,
            images: images?,
            resolution: resolution? as u32,
            fit: fit?,
            test_fraction: test_fraction?,
            val_fraction: val_fraction?,
            split_seed: split_seed? as u64,
            bad_images: bad_images?,
        })
    }

    fn model(&mut self, view: &RunView<'_>) -> Option<ModelSpec> {
        let v = |c: &Self, k: &str| c.value(view, "model", k);
        let arch = self.choice(&v(self, "arch"), "model.arch", Arch::NAMES, Arch::from_name);
        let channels = self.int_list(&v(self, "channels"), "model.channels", 1, 4096);
        let kernel = self.int(&v(self, "kernel"), "model.kernel", 1, 31);
        let padding = self.choice(
            &v(self, "padding"),
            "model.padding",
            Padding::NAMES,
            Padding::from_name,
        );
        let batch_norm = self.boolean(&v(self, "batch_norm"), "model.batch_norm");
        let conv_dropout = self.float(&v(self, "conv_dropout"), "model.conv_dropout", Range::Unit);
        // The fields above are the same for both architectures and have been
        // checked; the ones below depend on which it is.
        let arch = arch?;

        // Options of the other architecture: an error when written for this
        // one, silently not applied when a sweep over `model.arch` is what
        // gives this run its arch.
        let (foreign, other) = match arch {
            Arch::Cnn => (["rnn", "rnn_hidden"], Arch::CnnRnn),
            Arch::CnnRnn => (["dense", "dense_dropout"], Arch::Cnn),
        };
        if !view.swept_archs.contains(other.as_str()) {
            for key in foreign {
                if let Some(span) = view.key_span("model", key) {
                    self.error(
                        span,
                        format!("`model.{key}` applies only to arch = \"{other}\", but this run's arch is \"{arch}\""),
                        Some(format!("remove `{key}`, or set arch = \"{other}\"")),
                    );
                }
            }
        }
        let (dense, dense_dropout, rnn) = match arch {
            Arch::Cnn => {
                let dense = self.int_list_allow_empty(&v(self, "dense"), "model.dense", 1, 1 << 16);
                let dropout = self.float(
                    &v(self, "dense_dropout"),
                    "model.dense_dropout",
                    Range::Unit,
                );
                (dense?, dropout?, None)
            }
            Arch::CnnRnn => {
                let kind = self.choice(
                    &v(self, "rnn"),
                    "model.rnn",
                    RnnKind::NAMES,
                    RnnKind::from_name,
                );
                let hidden = self.int(&v(self, "rnn_hidden"), "model.rnn_hidden", 1, 8192);
                (
                    Vec::new(),
                    0.0,
                    Some(RnnSpec {
                        kind: kind?,
                        hidden: hidden? as usize,
                    }),
                )
            }
        };
        Some(ModelSpec {
            arch,
            channels: channels?,
            kernel: kernel? as usize,
            padding: padding?,
            batch_norm: batch_norm?,
            conv_dropout: conv_dropout?,
            dense,
            dense_dropout,
            rnn,
        })
    }

    fn train(&mut self, view: &RunView<'_>) -> Option<TrainSpec> {
        let v = |c: &Self, k: &str| c.value(view, "train", k);
        let monitor = self.choice(
            &v(self, "monitor"),
            "train.monitor",
            Monitor::NAMES,
            Monitor::from_name,
        );
        let loss = self.loss(&v(self, "loss"));
        let optimizer = self.optimizer(&v(self, "optimizer"));
        let lr = self.float(&v(self, "lr"), "train.lr", Range::Positive);
        let weight_decay = self.float(
            &v(self, "weight_decay"),
            "train.weight_decay",
            Range::NonNegative,
        );
        let grad_clip = self.float(&v(self, "grad_clip"), "train.grad_clip", Range::NonNegative);
        let batch_size = self.int(&v(self, "batch_size"), "train.batch_size", 1, 1 << 20);
        let epochs = self.int(&v(self, "epochs"), "train.epochs", 1, 1_000_000);
        let seed = self.int(&v(self, "seed"), "train.seed", 0, i64::MAX);
        let device = {
            let value = v(self, "device");
            match as_str(&value).and_then(Device::parse) {
                Some(d) => Some(d),
                None => {
                    let found = value.describe();
                    self.error(
                        value.span,
                        format!(
                            "`train.device` must be \"cpu\", \"cuda\" or \"cuda:N\", found {found}"
                        ),
                        None,
                    );
                    None
                }
            }
        };
        let threshold = self.float(&v(self, "threshold"), "train.threshold", Range::Open01);
        // A bad monitor is reported above; the schedule and early stopping are
        // still checked, with the default monitor standing in where they
        // inherit it (a default is never wrong), so that their own mistakes
        // show too. The run is refused by `monitor?` below all the same.
        let inherited = monitor.unwrap_or(Monitor::ValLoss);
        let schedule = self.schedule(&v(self, "schedule"), inherited);
        let early_stopping = self.early_stopping(&v(self, "early_stopping"), inherited);
        Some(TrainSpec {
            loss: loss?,
            optimizer: optimizer?,
            lr: lr?,
            weight_decay: weight_decay?,
            grad_clip: grad_clip.map(|c| (c > 0.0).then_some(c))?,
            batch_size: batch_size? as usize,
            epochs: epochs? as usize,
            seed: seed? as u64,
            device: device?,
            schedule: schedule?,
            early_stopping: early_stopping?,
            monitor: monitor?,
            threshold: threshold?,
        })
    }

    fn loss(&mut self, value: &Value) -> Option<Loss> {
        let k = self.kind_table(value, "train.loss", fields::LOSS_KINDS, None)?;
        Some(match k.kind {
            "bce" => Loss::Bce,
            "weighted_bce" => Loss::WeightedBce,
            "categorical_ce" => Loss::CategoricalCe,
            "focal" => {
                let gamma = self.float(&k.get("gamma"), "train.loss.gamma", Range::NonNegative);
                let alpha = self.float(&k.get("alpha"), "train.loss.alpha", Range::Unit);
                Loss::Focal {
                    gamma: gamma?,
                    alpha: alpha?,
                }
            }
            _ => unreachable!("kinds come from LOSS_KINDS"),
        })
    }

    fn optimizer(&mut self, value: &Value) -> Option<Optimizer> {
        let k = self.kind_table(value, "train.optimizer", fields::OPTIMIZER_KINDS, None)?;
        Some(match k.kind {
            "adam" | "adamw" => {
                let beta1 = self.float(&k.get("beta1"), "train.optimizer.beta1", Range::Unit);
                let beta2 = self.float(&k.get("beta2"), "train.optimizer.beta2", Range::Unit);
                let eps = self.float(&k.get("eps"), "train.optimizer.eps", Range::Positive);
                let (beta1, beta2, eps) = (beta1?, beta2?, eps?);
                if k.kind == "adam" {
                    Optimizer::Adam { beta1, beta2, eps }
                } else {
                    Optimizer::AdamW { beta1, beta2, eps }
                }
            }
            "sgd" => {
                let momentum =
                    self.float(&k.get("momentum"), "train.optimizer.momentum", Range::Unit);
                let nesterov = self.boolean(&k.get("nesterov"), "train.optimizer.nesterov");
                let (momentum, nesterov) = (momentum?, nesterov?);
                if nesterov && momentum == 0.0 {
                    self.error(
                        value.span.clone(),
                        "nesterov SGD needs momentum > 0",
                        Some("set momentum (e.g. 0.9) or nesterov = false".into()),
                    );
                    return None;
                }
                Optimizer::Sgd { momentum, nesterov }
            }
            _ => unreachable!("kinds come from OPTIMIZER_KINDS"),
        })
    }

    fn schedule(&mut self, value: &Value, monitor: Monitor) -> Option<Schedule> {
        let k = self.kind_table(
            value,
            "train.schedule",
            fields::SCHEDULE_KINDS,
            Some(monitor),
        )?;
        Some(match k.kind {
            "constant" => Schedule::Constant,
            "step" => {
                let step_size = self.int(
                    &k.get("step_size"),
                    "train.schedule.step_size",
                    1,
                    1_000_000,
                );
                let gamma = self.float(&k.get("gamma"), "train.schedule.gamma", Range::Open01);
                Schedule::Step {
                    step_size: step_size? as usize,
                    gamma: gamma?,
                }
            }
            "cosine" => Schedule::Cosine {
                min_lr: self.float(
                    &k.get("min_lr"),
                    "train.schedule.min_lr",
                    Range::NonNegative,
                )?,
            },
            "plateau" => {
                let factor = self.float(&k.get("factor"), "train.schedule.factor", Range::Open01);
                let patience =
                    self.int(&k.get("patience"), "train.schedule.patience", 0, 1_000_000);
                let min_lr = self.float(
                    &k.get("min_lr"),
                    "train.schedule.min_lr",
                    Range::NonNegative,
                );
                let monitor = self.choice(
                    &k.get("monitor"),
                    "train.schedule.monitor",
                    Monitor::NAMES,
                    Monitor::from_name,
                );
                Schedule::Plateau {
                    factor: factor?,
                    patience: patience? as usize,
                    min_lr: min_lr?,
                    monitor: monitor?,
                }
            }
            _ => unreachable!("kinds come from SCHEDULE_KINDS"),
        })
    }

    fn early_stopping(&mut self, value: &Value, monitor: Monitor) -> Option<Option<EarlyStopping>> {
        let settings = match &value.node {
            Node::Bool(false) => return Some(None),
            Node::Bool(true) => KindArgs {
                kind: "early_stopping",
                written: &[],
                defaults: fields::EARLY_STOPPING_FIELDS,
                monitor: Some(monitor),
            },
            Node::Table(t) => {
                for e in &t.entries {
                    self.check_setting(e, "train.early_stopping", fields::EARLY_STOPPING_FIELDS);
                }
                KindArgs {
                    kind: "early_stopping",
                    written: &t.entries,
                    defaults: fields::EARLY_STOPPING_FIELDS,
                    monitor: Some(monitor),
                }
            }
            _ => {
                self.error(
                    value.span.clone(),
                    format!("`train.early_stopping` must be true, false or a table, found {}", value.describe()),
                    Some("e.g. early_stopping = { monitor = \"val_loss\", patience = 5, min_delta = 0.0 }".into()),
                );
                return None;
            }
        };
        let monitor = self.choice(
            &settings.get("monitor"),
            "train.early_stopping.monitor",
            Monitor::NAMES,
            Monitor::from_name,
        );
        let patience = self.int(
            &settings.get("patience"),
            "train.early_stopping.patience",
            0,
            1_000_000,
        );
        let min_delta = self.float(
            &settings.get("min_delta"),
            "train.early_stopping.min_delta",
            Range::NonNegative,
        );
        Some(Some(EarlyStopping {
            monitor: monitor?,
            patience: patience? as usize,
            min_delta: min_delta?,
        }))
    }

    /// Reads `"kind"` or `{ kind = "kind", setting = ... }`.
    fn kind_table<'v>(
        &mut self,
        value: &'v Value,
        what: &str,
        kinds: &'static [(&'static str, &'static [KindField])],
        monitor: Option<Monitor>,
    ) -> Option<KindArgs<'v>> {
        let names: Vec<&str> = kinds.iter().map(|(k, _)| *k).collect();
        let (kind_value, written): (&Value, &[Entry]) = match &value.node {
            Node::Str(_) => (value, &[]),
            Node::Table(t) => match t.get("kind") {
                Some(e) => (&e.value, &t.entries),
                None => {
                    self.error(
                        value.span.clone(),
                        format!("`{what}` table needs a `kind`"),
                        Some(format!("kind is one of {}", quoted_list(&names))),
                    );
                    return None;
                }
            },
            _ => {
                self.error(
                    value.span.clone(),
                    format!(
                        "`{what}` must be one of {} or a table with a `kind`, found {}",
                        quoted_list(&names),
                        value.describe()
                    ),
                    None,
                );
                return None;
            }
        };
        // `loss = "hinge"` is about `train.loss`; `loss = { kind = "hinge" }` about its kind.
        let kind_what = if matches!(value.node, Node::Table(_)) {
            format!("{what}.kind")
        } else {
            what.to_string()
        };
        let kind_name = self.choice(kind_value, &kind_what, &names, |n| {
            names.iter().position(|k| *k == n)
        })?;
        let (kind, defaults) = kinds[kind_name];
        // An unknown setting is recorded (which refuses the run) but does not
        // stop the known ones beside it from being checked.
        for e in written.iter().filter(|e| e.key != "kind") {
            self.check_setting(e, &format!("{what} (kind \"{kind}\")"), defaults);
        }
        Some(KindArgs {
            kind,
            written,
            defaults,
            monitor,
        })
    }

    fn check_setting(&mut self, entry: &Entry, what: &str, allowed: &[KindField]) {
        if allowed.iter().any(|f| f.key == entry.key) {
            return;
        }
        let keys: Vec<&str> = allowed.iter().map(|f| f.key).collect();
        let help = match (
            did_you_mean(&entry.key, keys.iter().copied()),
            keys.is_empty(),
        ) {
            (Some(s), _) => format!("did you mean `{s}`?"),
            (None, true) => "this kind takes no settings".to_string(),
            (None, false) => format!("settings: {}", keys.join(", ")),
        };
        self.error(
            entry.key_span.clone(),
            format!("unknown setting `{}` in `{what}`", entry.key),
            Some(help),
        );
    }

    /// Checks between fields: the conv stack must fit the resolution.
    fn cross_checks(&mut self, view: &RunView<'_>, data: &DataSpec, model: &ModelSpec) {
        let resolution = data.resolution as usize;
        if let Err(block) = model.feature_sides(resolution) {
            let span = [
                "data.resolution",
                "model.channels",
                "model.kernel",
                "model.padding",
            ]
            .iter()
            .find_map(|dotted| {
                let (section, key) = dotted.split_once('.').expect("dotted");
                view.written(section, key).map(|v| v.span.clone())
            })
            .unwrap_or(DEFAULT_SPAN);
            self.error(
                span,
                format!(
                    "`data.resolution` = {resolution} is too small for {} conv blocks with kernel {} and padding \"{}\": \
                     the feature map vanishes at block {}",
                    model.channels.len(),
                    model.kernel,
                    model.padding,
                    block + 1
                ),
                Some(format!(
                    "use resolution >= {}, fewer `model.channels`, or padding = \"same\"",
                    model.min_resolution()
                )),
            );
        }
    }

    fn int(&mut self, value: &Value, what: &str, min: i64, max: i64) -> Option<i64> {
        let Node::Int(i) = value.node else {
            let help = match &value.node {
                Node::Float(f) if f.fract() == 0.0 => {
                    Some(format!("write it without the decimal point: {}", *f as i64))
                }
                Node::Str(s) if s.trim().parse::<i64>().is_ok() => {
                    Some(format!("write it without quotes: {}", s.trim()))
                }
                _ => None,
            };
            self.error(
                value.span.clone(),
                format!("`{what}` must be an integer, found {}", value.describe()),
                help,
            );
            return None;
        };
        if i < min || i > max {
            let allowed = if max >= i64::MAX / 2 {
                format!(">= {min}")
            } else {
                format!("between {min} and {max}")
            };
            self.error(
                value.span.clone(),
                format!("`{what}` must be {allowed}, found {i}"),
                None,
            );
            return None;
        }
        Some(i)
    }

    fn float(&mut self, value: &Value, what: &str, range: Range) -> Option<f64> {
        let x = match value.node {
            Node::Float(f) => f,
            Node::Int(i) => i as f64,
            _ => {
                let help = match &value.node {
                    Node::Str(s) if s.trim().parse::<f64>().is_ok() => {
                        Some(format!("write it without quotes: {}", s.trim()))
                    }
                    _ => None,
                };
                self.error(
                    value.span.clone(),
                    format!("`{what}` must be a number, found {}", value.describe()),
                    help,
                );
                return None;
            }
        };
        let (ok, allowed) = match range {
            Range::Positive => (x > 0.0, "> 0"),
            Range::NonNegative => (x >= 0.0, ">= 0"),
            Range::Open01 => (x > 0.0 && x < 1.0, "strictly between 0 and 1"),
            Range::Unit => ((0.0..1.0).contains(&x), "in [0, 1)"),
        };
        if !ok || !x.is_finite() {
            self.error(
                value.span.clone(),
                format!("`{what}` must be {allowed}, found {x}"),
                None,
            );
            return None;
        }
        Some(x)
    }

    fn boolean(&mut self, value: &Value, what: &str) -> Option<bool> {
        match value.node {
            Node::Bool(b) => Some(b),
            _ => {
                self.error(
                    value.span.clone(),
                    format!("`{what}` must be true or false, found {}", value.describe()),
                    None,
                );
                None
            }
        }
    }

    fn choice<T>(
        &mut self,
        value: &Value,
        what: &str,
        names: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<T> {
        if let Some(s) = as_str(value) {
            if let Some(t) = parse(s) {
                return Some(t);
            }
        }
        let help = as_str(value)
            .and_then(|s| did_you_mean(s, names.iter().copied()))
            .map(|s| format!("did you mean \"{s}\"?"));
        self.error(
            value.span.clone(),
            format!(
                "`{what}` must be one of {}, found {}",
                quoted_list(names),
                value.describe()
            ),
            help,
        );
        None
    }

    fn int_list(&mut self, value: &Value, what: &str, min: i64, max: i64) -> Option<Vec<usize>> {
        let list = self.int_list_allow_empty(value, what, min, max)?;
        if list.is_empty() {
            self.error(
                value.span.clone(),
                format!("`{what}` must not be empty"),
                None,
            );
            return None;
        }
        Some(list)
    }

    fn int_list_allow_empty(
        &mut self,
        value: &Value,
        what: &str,
        min: i64,
        max: i64,
    ) -> Option<Vec<usize>> {
        let Node::Array(items) = &value.node else {
            self.error(
                value.span.clone(),
                format!(
                    "`{what}` must be an array of integers, found {}",
                    value.describe()
                ),
                None,
            );
            return None;
        };
        let what = format!("{what} item");
        let items: Vec<Option<usize>> = items
            .iter()
            .map(|item| self.int(item, &what, min, max).map(|i| i as usize))
            .collect();
        items.into_iter().collect()
    }
}

#[derive(Clone, Copy)]
enum Range {
    Positive,
    NonNegative,
    /// (0, 1)
    Open01,
    /// [0, 1)
    Unit,
}

/// A kind-table's settings: the written ones over the defaults.
struct KindArgs<'v> {
    kind: &'static str,
    written: &'v [Entry],
    defaults: &'static [KindField],
    monitor: Option<Monitor>,
}

impl KindArgs<'_> {
    fn get(&self, key: &str) -> Value {
        if let Some(e) = self.written.iter().find(|e| e.key == key) {
            return e.value.clone();
        }
        let field = self
            .defaults
            .iter()
            .find(|f| f.key == key)
            .expect("asked for a declared setting");
        match field.default {
            Some(literal) => default_value(literal),
            None => default_value(&tree::toml_string(
                self.monitor
                    .expect("monitor-defaulted kinds get the monitor")
                    .as_str(),
            )),
        }
    }
}

/// Lexical clean-up so that `a/./b/` and `a/b` name the same data set.
fn normalise_path(text: &str) -> PathBuf {
    let path = Path::new(text.trim());
    let cleaned: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_default_resolves_cleanly() {
        let specs =
            load_str(Path::new("defaults.toml"), "").expect("an empty spec is all defaults");
        assert_eq!(specs.len(), 1);
        let s = &specs[0];
        assert_eq!(s.name, "defaults");
        assert_eq!(s.model.channels, vec![16, 32, 64, 64]);
        assert_eq!(s.train.lr, 1e-3);
        assert_eq!(s.train.early_stopping, None);
        assert_eq!(s.train.grad_clip, None);
    }

    #[test]
    fn printed_defaults_parse_back_to_the_defaults() {
        let printed = fields::defaults_toml();
        let a = load_str(Path::new("x.toml"), &printed).unwrap();
        let b = load_str(Path::new("x.toml"), "").unwrap();
        assert_eq!(a[0].hash(), b[0].hash());
    }

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalise_path("./a/./b/"), PathBuf::from("a/b"));
        assert_eq!(
            normalise_path("../shared/data"),
            PathBuf::from("../shared/data")
        );
    }
}
