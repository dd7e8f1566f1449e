//! What is recorded about a run before its first epoch: the spec, the
//! data set's facts, the machine and the code that trains it.

use std::path::Path;

use crate::data::{Dataset, Split};
use crate::model::Architecture;
use crate::spec::Spec;
use crate::store::NewRun;

/// What the store records about a run before its first epoch; the data
/// facts are empty when the data could not be loaded.
pub fn new_run(
    spec: &Spec,
    facts: Option<(&Dataset, &Split, &Architecture)>,
    device: &str,
    host: &str,
    git: &Option<String>,
    dir: &Path,
) -> NewRun {
    NewRun {
        name: spec.name.clone(),
        experiment: spec.experiment.clone(),
        tags: spec.tags.clone(),
        spec_hash: spec.hash(),
        spec_toml: spec.resolved_toml(),
        spec_file: spec.file.display().to_string(),
        swept: spec.swept.clone(),
        epochs_planned: spec.train.epochs,
        monitor: spec.train.monitor.to_string(),
        decision: spec.train.decision.name(),
        threshold: spec.train.threshold,
        genres: facts.map_or_else(Vec::new, |f| f.0.genres.clone()),
        dataset: spec.data.dataset.to_string(),
        dataset_csv: facts.map_or_else(String::new, |f| f.0.csv.display().to_string()),
        dataset_hash: facts.map_or_else(String::new, |f| f.0.content_hash.clone()),
        split_sizes: facts.map_or([0; 3], |f| [f.1.train.len(), f.1.val.len(), f.1.test.len()]),
        params: facts.map_or(0, |f| f.2.num_params()),
        device: device.to_string(),
        host: host.to_string(),
        git_commit: git.clone(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        checkpoint_dir: dir.display().to_string(),
    }
}

/// A fresh id for a run: the hash, the time, the process.
pub fn uid(hash: &str) -> String {
    let mut h = blake3::Hasher::new();
    h.update(hash.as_bytes());
    h.update(&std::process::id().to_le_bytes());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    h.update(&now.as_nanos().to_le_bytes());
    h.finalize().to_hex()[..32].to_string()
}

/// This machine's name.
pub fn hostname() -> String {
    gethostname::gethostname().to_string_lossy().into_owned()
}

/// The working directory's git commit, `-dirty` when it has changes.
pub fn git_commit() -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let commit = git(&["rev-parse", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}
