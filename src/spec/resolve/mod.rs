//! From a parsed spec file to resolved [`Spec`]s: section and key checks, sweep
//! expansion, then one typed, range-checked `Spec` per sweep point.
//!
//! Problems are collected, not returned at the first one, so that a user sees
//! every mistake in a file at once; each names `file:line:col`. A field that
//! cannot be read does not stop the ones after it from being checked.
//!
//! This file drives it and makes the checks between sections; `view` says
//! where a field's value comes from (sweep, file, default), `read` turns a
//! value into a typed one, and `experiment`, `data`, `model` and `train`
//! resolve one section each.

mod data;
mod experiment;
mod model;
mod read;
mod train;
mod view;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use read::{as_str, DEFAULT_SPAN};
use view::RunView;

use super::diagnostics::Collector;
use super::sweep::{self, Sweep, MAX_SWEEP_RUNS};
use super::tree::{self, Diagnostic, Entry, Node, SourceFile, Table, Value, CONTROL_CHARACTER_WHY};
use super::types::{Arch, DataSpec, ModelSpec, Spec, TrainSpec};

/// How specs are loaded. `LoadOptions::default()` is what `load_str`,
/// `load_file` and `load_paths` use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoadOptions {
    /// The most runs one file's sweep may make; `None` lifts the
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
    refuse_control_characters(&mut diags, &root);
    let doc = view::sections(&mut diags, &root);
    let sweep = match doc.sweep {
        Some(table) => sweep::read(&mut diags, table),
        None => Sweep::default(),
    };
    // Unknown keys and bad sweep axes do not stop here: resolving still finds
    // the other problems, so the user sees them all at once.
    let experiment = experiment::resolve(&mut diags, &doc, path);
    // Counted before a single point is made: a grid of 10^9 points would
    // otherwise run the machine out of memory before any message.
    if !sweep::check_size(&mut diags, &sweep, options.max_runs) {
        return Err(diags.finish());
    }
    let swept_archs: HashSet<&str> = sweep.values_of("model.arch").filter_map(as_str).collect();
    diags.first_run_only(sweep.drawn_spans());

    // 128 bits of each kept run's hash: 16 bytes a run, where a sweep of a
    // million points must not hold a million specs.
    let mut seen: HashSet<u128> = HashSet::new();
    let (mut swept_fields, mut baseline_matched) = (None, false);
    for point in sweep.points() {
        let overrides = sweep.overrides(&point);
        let view = RunView {
            doc: &doc,
            overrides: &overrides,
            swept_archs: &swept_archs,
        };
        let before = diags.count();
        let resolved = run(&mut diags, &view);
        diags.end_run(before);
        let Some((data, model, train)) = resolved else {
            continue;
        };
        let (experiment_name, mut tags, baseline) = match &experiment {
            Some(e) => e.clone(),
            None => continue,
        };
        let swept: Vec<(String, String)> = overrides
            .iter()
            .map(|(field, v)| (field.dotted.clone(), v.to_toml()))
            .collect();
        swept_fields
            .get_or_insert_with(|| swept.iter().map(|(f, _)| f.clone()).collect::<Vec<_>>());
        if baseline.matches(&swept) {
            baseline_matched = true;
            if !tags.iter().any(|t| t == crate::spec::BASELINE_TAG) {
                tags.push(crate::spec::BASELINE_TAG.to_string());
            }
        }
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
    if let (Some((_, _, baseline)), Some(swept)) = (&experiment, &swept_fields) {
        baseline.check(&mut diags, swept, baseline_matched);
    }
    if diags.is_empty() {
        Ok(())
    } else {
        Err(diags.finish())
    }
}

impl Default for Spec {
    /// The run an empty spec file describes: every field at its default
    /// from `fields`, named "defaults", from no file (`file` is empty).
    fn default() -> Spec {
        resolve_set_by_code(&Table::default())
    }
}

impl ModelSpec {
    /// The default model of an architecture: the shared conv stack and
    /// `arch`'s own head (dense layers, or the recurrent one) at their
    /// defaults. `for_arch(Arch::Cnn)` is `Spec::default().model`.
    pub fn for_arch(arch: Arch) -> ModelSpec {
        let set = |key: &str, node: Node| Entry {
            key: key.to_string(),
            key_span: DEFAULT_SPAN,
            value: Value {
                node,
                span: DEFAULT_SPAN,
            },
        };
        let model = Table {
            entries: vec![set("arch", Node::Str(arch.as_str().to_string()))],
        };
        let root = Table {
            entries: vec![set("model", Node::Table(model))],
        };
        resolve_set_by_code(&root).model
    }
}

/// One run of the fields in `root` (set by code, not read from a file) and
/// the defaults, through the resolver itself, so that these defaults are
/// those of a spec file by construction.
fn resolve_set_by_code(root: &Table) -> Spec {
    let src = SourceFile::new("<defaults>", "");
    let mut diags = Collector::new(&src);
    let doc = view::sections(&mut diags, root);
    let view = RunView {
        doc: &doc,
        overrides: &[],
        swept_archs: &HashSet::new(),
    };
    let resolved = run(&mut diags, &view).filter(|_| diags.is_empty());
    let Some((data, model, train)) = resolved else {
        panic!(
            "the defaults in fields.rs do not resolve: {:?}",
            diags.finish()
        );
    };
    Spec {
        name: "defaults".to_string(),
        experiment: "defaults".to_string(),
        tags: Vec::new(),
        file: PathBuf::new(),
        swept: Vec::new(),
        data,
        model,
        train,
    }
}

/// The first 128 bits of a hex run hash, as a number.
pub fn hash_key(hash: &str) -> u128 {
    u128::from_str_radix(&hash[..32], 16).expect("a run hash is 64 hex digits")
}

/// Refuses every string in the file, wherever it is (unknown keys and
/// sweep values too), that holds a control character.
fn refuse_control_characters(diags: &mut Collector<'_>, root: &Table) {
    for found in tree::control_characters(root) {
        diags.error(
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

/// Resolves one sweep point. `None` if anything was wrong (and recorded).
fn run(diags: &mut Collector<'_>, view: &RunView<'_>) -> Option<(DataSpec, ModelSpec, TrainSpec)> {
    let before = diags.count();
    let data = data::resolve(diags, view);
    let model = model::resolve(diags, view);
    let train = train::resolve(diags, view);
    let (data, model, train) = (data?, model?, train?);
    cross_checks(diags, view, &data, &model);
    (diags.count() == before).then_some((data, model, train))
}

/// Checks between fields: the conv stack must fit the resolution.
fn cross_checks(diags: &mut Collector<'_>, view: &RunView<'_>, data: &DataSpec, model: &ModelSpec) {
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
        diags.error(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::fields;

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
    fn the_default_spec_is_an_empty_files_run() {
        let empty = &load_str(Path::new("defaults.toml"), "").unwrap()[0];
        let default = Spec::default();
        assert_eq!(default.resolved_toml(), empty.resolved_toml());
        assert_eq!(
            (&default.data, &default.model, &default.train),
            (&empty.data, &empty.model, &empty.train)
        );
        assert_eq!(
            (default.name.as_str(), default.experiment.as_str()),
            ("defaults", "defaults")
        );
        assert!(default.tags.is_empty() && default.swept.is_empty());
    }

    #[test]
    fn each_archs_default_model_is_a_spec_files_with_only_the_arch() {
        for arch in [Arch::Cnn, Arch::CnnRnn] {
            let text = format!("[model]\narch = \"{arch}\"\n");
            let written = &load_str(Path::new("m.toml"), &text).unwrap()[0];
            assert_eq!(ModelSpec::for_arch(arch), written.model, "{arch}");
        }
        assert_eq!(ModelSpec::for_arch(Arch::Cnn), Spec::default().model);
    }

    #[test]
    fn every_range_in_fields_fits_its_reader() {
        // A field read as an integer with a number range in fields.rs (or
        // the reverse) panics: read every field and every kind's settings.
        let mut texts = vec![
            "[model]\narch = \"cnn_rnn\"\n".to_string(),
            "[train]\nearly_stopping = true\n".to_string(),
            "[data]\naugment = true\n".to_string(),
        ];
        for (key, kinds) in [
            ("loss", fields::LOSS_KINDS),
            ("optimizer", fields::OPTIMIZER_KINDS),
            ("schedule", fields::SCHEDULE_KINDS),
        ] {
            for (kind, _) in kinds {
                texts.push(format!("[train]\n{key} = \"{kind}\"\n"));
            }
        }
        for text in texts {
            load_str(Path::new("r.toml"), &text).unwrap_or_else(|e| panic!("{text}: {e:?}"));
        }
    }

    #[test]
    fn the_printed_sweep_example_uncommented_makes_120_runs() {
        // What the comment on fields::SWEEP_EXAMPLE says it makes.
        let printed = fields::defaults_toml();
        let sweep = &printed[printed.find("# [sweep.grid]").expect("the example")..];
        let text: Vec<&str> = sweep
            .lines()
            .map(|line| {
                let line = line.trim_start_matches("# ");
                line.split_once("  optional")
                    .map_or(line, |(header, _)| header)
            })
            .collect();
        let specs = load_str(Path::new("x.toml"), &text.join("\n")).unwrap();
        assert_eq!(specs.len(), 3 * 2 * 20);
    }

    #[test]
    fn printed_defaults_parse_back_to_the_defaults() {
        let printed = fields::defaults_toml();
        let a = load_str(Path::new("x.toml"), &printed).unwrap();
        let b = load_str(Path::new("x.toml"), "").unwrap();
        assert_eq!(a[0].hash(), b[0].hash());
    }
}
