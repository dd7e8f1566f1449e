//! `sweep.json`: what a Slurm sweep is — the spec files and how they are
//! read, each run's index, name and hash at submit time — and every time it
//! was submitted. Each array task reads it to find its run, and refuses to
//! train when the specs now resolve its index to another run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::write_atomic;

/// The manifest's layout version, in its `posterlab_sweep` key (which also
/// marks the file as posterlab's).
pub const MANIFEST_FORMAT: u32 = 1;

/// A Slurm sweep's `sweep.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub posterlab_sweep: u32,
    pub id: String,
    /// The posterlab version that wrote it.
    pub version: String,
    /// The folder the tasks run in (relative paths in specs resolve there).
    pub workdir: PathBuf,
    /// The spec files and folders, as `posterlab slurm` resolved them.
    pub specs: Vec<PathBuf>,
    /// `--device`, which replaces every run's `train.device`.
    pub device: Option<String>,
    /// `--kernels`: `fast` or `portable`.
    pub kernels: String,
    /// `--allow-large-sweep`.
    pub allow_large_sweep: bool,
    pub results: PathBuf,
    /// The main database, which the finishing job merges the tasks into.
    pub db: PathBuf,
    /// Where the finishing job draws the report; none with `--no-report`.
    pub reports: Option<PathBuf>,
    /// Every run of the sweep, by array index.
    pub runs: Vec<ManifestRun>,
    pub submissions: Vec<Submission>,
}

/// One run of a sweep: array task `index` trains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestRun {
    pub index: usize,
    pub name: String,
    /// The run hash at submit time.
    pub hash: String,
    /// `train.epochs`.
    pub epochs: usize,
}

/// One `sbatch` of the sweep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submission {
    /// The array job's id.
    pub job: String,
    /// The merging job's id, if it was submitted.
    pub finish_job: Option<String>,
    /// The array indices submitted.
    pub tasks: Vec<usize>,
    /// `--max-parallel`.
    pub max_parallel: Option<usize>,
    /// Seconds since the Unix epoch.
    pub submitted_at: u64,
}

impl Manifest {
    /// Reads `path`; an error says what is wrong with it and what to do.
    pub fn load(path: &Path) -> Result<Manifest, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "cannot read {}: {e}\n  help: a Slurm sweep's folder holds the sweep.json that \
                 `posterlab slurm` wrote; `posterlab status` lists the sweeps",
                path.display()
            )
        })?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
            format!(
                "{} is not a posterlab sweep manifest ({e})\n  help: it is written by `posterlab \
                 slurm`; submit the sweep again to write it anew",
                path.display()
            )
        })?;
        if manifest.posterlab_sweep > MANIFEST_FORMAT {
            return Err(format!(
                "{} was written by a newer posterlab (sweep format {}, this one reads {MANIFEST_FORMAT})\n  \
                 help: use that posterlab (or newer)",
                path.display(),
                manifest.posterlab_sweep
            ));
        }
        Ok(manifest)
    }

    /// Writes it to `path`, atomically and durably (a task of the sweep may
    /// be reading it).
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let text = serde_json::to_string_pretty(self).expect("a manifest serialises");
        write_atomic(path, true, |out| {
            std::io::Write::write_all(out, text.as_bytes())?;
            std::io::Write::write_all(out, b"\n")
        })
    }

    /// The submission that last included array task `index`.
    pub fn last_submission_of(&self, index: usize) -> Option<&Submission> {
        self.submissions
            .iter()
            .rev()
            .find(|s| s.tasks.contains(&index))
    }
}

/// Seconds since the Unix epoch, now.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        Manifest {
            posterlab_sweep: MANIFEST_FORMAT,
            id: "abl-12345678".into(),
            version: "0.1.0".into(),
            workdir: "/w".into(),
            specs: vec!["/w/abl.toml".into()],
            device: None,
            kernels: "fast".into(),
            allow_large_sweep: false,
            results: "/w/results".into(),
            db: "/w/results/posterlab.sqlite".into(),
            reports: Some("/w/reports".into()),
            runs: vec![ManifestRun {
                index: 0,
                name: "abl[seed=1]".into(),
                hash: "ab".repeat(32),
                epochs: 3,
            }],
            submissions: vec![
                Submission {
                    job: "7".into(),
                    finish_job: Some("8".into()),
                    tasks: vec![0],
                    max_parallel: None,
                    submitted_at: 1,
                },
                Submission {
                    job: "9".into(),
                    finish_job: None,
                    tasks: vec![0],
                    max_parallel: Some(2),
                    submitted_at: 2,
                },
            ],
        }
    }

    #[test]
    fn a_manifest_reads_back_as_written_and_the_last_submission_of_a_task_is_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.json");
        let m = manifest();
        m.save(&path).unwrap();
        let back = Manifest::load(&path).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.last_submission_of(0).unwrap().job, "9");
        assert_eq!(back.last_submission_of(1), None);
    }

    #[test]
    fn a_file_that_is_not_a_manifest_or_is_newer_is_refused_with_a_reason() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sweep.json");
        std::fs::write(&path, "{\"id\": 3}").unwrap();
        let e = Manifest::load(&path).unwrap_err();
        assert!(e.contains("is not a posterlab sweep manifest"), "{e}");
        let mut m = manifest();
        m.posterlab_sweep = MANIFEST_FORMAT + 1;
        m.save(&path).unwrap();
        let e = Manifest::load(&path).unwrap_err();
        assert!(e.contains("written by a newer posterlab"), "{e}");
        let e = Manifest::load(&dir.path().join("missing.json")).unwrap_err();
        assert!(e.contains("cannot read"), "{e}");
    }
}
