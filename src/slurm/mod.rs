//! A sweep as a Slurm job array: one array task per run, each recording
//! into its own store, and a dependent job that merges the task stores into
//! the main database and draws the report.
//!
//! A sweep's folder, `<results>/slurm/<sweep-id>/`, holds what posterlab
//! wrote for it: `sweep.json` (the [`Manifest`]: the spec files, each run's
//! index, name and hash, every submission), the batch scripts
//! (`script`), `tasks/<index>.sqlite` (one store per task) and `logs/`.
//! The sweep id is the first experiment's name and a hash of the run
//! hashes in order, so that submitting the same specs again finds the same
//! folder, and the same task stores to resume from.
//!
//! `plan` decides which runs a submission sends (a pure function); `queue`
//! asks Slurm itself (`sbatch`, `squeue`, `sacct`).
//! This module neither trains nor writes SQL.

mod manifest;
pub mod plan;
pub mod queue;
pub mod script;

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::spec::Spec;

pub use self::manifest::{now, Manifest, ManifestRun, Submission, MANIFEST_FORMAT};

/// The folder of a Slurm sweep and the files in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SweepDir {
    pub dir: PathBuf,
}

impl SweepDir {
    /// Where Slurm sweeps live under a results folder.
    pub fn root(results: &Path) -> PathBuf {
        results.join("slurm")
    }

    /// The folder of sweep `id` under `results`.
    pub fn new(results: &Path, id: &str) -> SweepDir {
        SweepDir {
            dir: SweepDir::root(results).join(id),
        }
    }

    /// The sweep's id: its folder's name.
    pub fn id(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    pub fn manifest(&self) -> PathBuf {
        self.dir.join("sweep.json")
    }

    /// The array job's batch script.
    pub fn script(&self) -> PathBuf {
        self.dir.join("tasks.sbatch")
    }

    /// The dependent job's batch script (merge, report).
    pub fn finish_script(&self) -> PathBuf {
        self.dir.join("finish.sbatch")
    }

    /// The folder of the task stores.
    pub fn tasks(&self) -> PathBuf {
        self.dir.join("tasks")
    }

    /// The store of array task `index`.
    pub fn task_store(&self, index: usize) -> PathBuf {
        self.tasks().join(format!("{index}.sqlite"))
    }

    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }
}

/// A sweep's id: `<experiment>-<8 hex digits>`, the digits a hash of the
/// run hashes in order (the name made safe for a folder and a job name).
pub fn sweep_id(experiment: &str, run_hashes: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    for hash in run_hashes {
        h.update(hash.as_bytes());
        h.update(b"\n");
    }
    let name: String = experiment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let name = if name.is_empty() { "sweep" } else { &name };
    format!("{name}-{}", &h.finalize().to_hex()[..8])
}

/// The distinct runs of a sweep, in order: a run whose hash came before
/// (the same run written twice) keeps its first place, as `posterlab run`
/// trains it once. A run's place in this list is its array index.
pub fn distinct_runs(specs: Vec<Spec>) -> Vec<Spec> {
    let mut seen = HashSet::new();
    specs
        .into_iter()
        .filter(|s| seen.insert(s.hash()))
        .collect()
}

/// Array indices as sbatch's `--array` writes them: `0-3,5,7-9`.
pub fn index_ranges(indices: &[usize]) -> String {
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut parts = Vec::new();
    let mut i = 0;
    while i < sorted.len() {
        let start = sorted[i];
        let mut end = start;
        while i + 1 < sorted.len() && sorted[i + 1] == end + 1 {
            i += 1;
            end = sorted[i];
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_lists_become_sbatch_ranges() {
        for (indices, want) in [
            (vec![0, 1, 2, 3], "0-3"),
            (vec![5], "5"),
            (vec![0, 1, 2, 3, 5, 7, 8, 9], "0-3,5,7-9"),
            (vec![9, 7, 8, 8], "7-9"),
            (vec![], ""),
        ] {
            assert_eq!(index_ranges(&indices), want, "{indices:?}");
        }
    }

    #[test]
    fn a_sweep_id_names_the_experiment_and_hashes_the_runs_in_order() {
        let a = sweep_id("ablation", &["aa", "bb"]);
        assert!(
            a.starts_with("ablation-") && a.len() == "ablation-".len() + 8,
            "{a}"
        );
        assert_eq!(
            a,
            sweep_id("ablation", &["aa", "bb"]),
            "the same runs, the same id"
        );
        assert_ne!(
            a,
            sweep_id("ablation", &["bb", "aa"]),
            "the order is part of it"
        );
        assert_eq!(
            sweep_id("my run/α 1", &["aa"]).split_once('-').unwrap().0,
            "my_run___1",
            "only characters safe in a folder and a job name"
        );
        assert!(sweep_id("", &["aa"]).starts_with("sweep-"));
    }
}
