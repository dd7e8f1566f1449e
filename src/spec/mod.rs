//! Experiment specs: TOML files turned into validated, fully resolved [`Spec`]s,
//! one per run, each identified by the hash of its resolved form.
//!
//! `types` is the resolved spec; `fields` holds every default and range;
//! `resolve` reads one run's tables into a `Spec` (and makes
//! `Spec::default()`, the run of an empty file); `sweep` expands
//! `[sweep.grid]`, `[sweep.zip]` and `[sweep.random]`; `canonical` writes
//! the resolved TOML that the run hash is taken over; `diagnostics` collects
//! the problems found on the way. [`LoadOptions`] carries what a caller may
//! change about loading: the sweep-size limit. This file reads spec files
//! and directories; no module below imports it.

mod canonical;
mod diagnostics;
pub mod fields;
mod resolve;
mod sweep;
pub mod tree;
mod types;

use std::fmt;
use std::path::{Path, PathBuf};

pub use canonical::HASH_SCHEME;
pub use resolve::{hash_key, load_str, load_str_with, visit_str_with, LoadOptions};
pub use sweep::MAX_SWEEP_RUNS;
pub use tree::Diagnostic;
pub use types::*;

/// The tag of a baseline's runs: `[experiment] baseline` gives it, and
/// `posterlab report` compares the other configurations with theirs.
pub const BASELINE_TAG: &str = "baseline";

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
/// applies to each file's sweep on its own.
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
