//! Checkpoint files: everything a run needs to continue exactly.
//!
//! A run's folder holds `epoch-NNNN.safetensors` (the state after epoch N:
//! every weight and batch-norm statistic, the optimizer's buffers under
//! `optim.*`, and in the safetensors metadata the epoch, the optimizer's step
//! count, the spec hash and the validation history that the schedule, early
//! stopping and the best epoch are decided from) and `best-NNNN.safetensors`
//! (the weights of the best epoch so far). There is no RNG state to save:
//! every random draw of training (batch order, dropout masks) is a function
//! of the training seed, the epoch and the batch.
//!
//! Every file carries a blake3 checksum of all its bytes (header and
//! tensors, computed with the checksum field itself zeroed) in its metadata:
//! a flipped bit on disk or in a copy is found when the file is read, and
//! the run fails naming the file, instead of resuming from wrong weights
//! (which used to end as a divergence: a storage fault stored as a result).
//!
//! Files are written atomically and durably *before* the store records the
//! epoch they belong to; the store's epoch count says which file is current,
//! and files of other epochs (left by a crash between the two) are removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ::safetensors::SafeTensors;

use super::optim::Optimizer;
use super::record::SplitResult;
use crate::files::write_atomic;
use crate::model::params::f32s;
use crate::model::{Layers, Model};

const FORMAT: &str = "posterlab-checkpoint";
/// 2 added the checksum; files of format 1 (no checksum) still load, so
/// that runs interrupted before it resume.
const FORMAT_VERSION: &str = "2";
const READABLE_VERSIONS: [&str; 2] = ["1", "2"];

/// Stands in for the checksum while it is computed: the same length as the
/// hex digest, so filling it in moves no byte of the file.
const CHECKSUM_PLACEHOLDER: &str =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// What a checkpoint holds besides tensors.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    pub spec_hash: String,
    /// Epochs completed.
    pub epoch: usize,
    pub optimizer_step: i32,
    /// The validation results of each completed epoch.
    pub history: Vec<SplitResult>,
}

pub fn epoch_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("epoch-{epoch:04}.safetensors"))
}

pub fn best_path(dir: &Path, epoch: usize) -> PathBuf {
    dir.join(format!("best-{epoch:04}.safetensors"))
}

fn io_error(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{}: {e}", path.display())
}

/// Writes the state after `state.epoch` epochs; returns its path.
pub fn save<D: Layers>(
    dir: &Path,
    model: &Model<D>,
    optimizer: &Optimizer<D>,
    state: &State,
) -> Result<PathBuf, String> {
    let history = serde_json::to_string(&state.history).map_err(|e| e.to_string())?;
    write(
        &epoch_path(dir, state.epoch),
        model,
        &optimizer.state(&model.params),
        &state.spec_hash,
        state.epoch,
        [
            ("optimizer_step", state.optimizer_step.to_string()),
            ("history", history),
        ],
    )
}

/// Writes the weights of epoch `epoch` as the best so far.
pub fn save_best<D: Layers>(
    dir: &Path,
    model: &Model<D>,
    epoch: usize,
    spec_hash: &str,
) -> Result<PathBuf, String> {
    write(&best_path(dir, epoch), model, &[], spec_hash, epoch, [])
}

/// Writes the model's tensors and `extra` ones durably to `path`, with the
/// metadata every checkpoint carries (what [`metadata`] checks) plus `more`.
fn write<D: Layers, const N: usize>(
    path: &Path,
    model: &Model<D>,
    extra: &[(String, Vec<f32>)],
    spec_hash: &str,
    epoch: usize,
    more: [(&str, String); N],
) -> Result<PathBuf, String> {
    let mut metadata = HashMap::from([
        ("format".to_string(), FORMAT.to_string()),
        ("format_version".to_string(), FORMAT_VERSION.to_string()),
        ("spec_hash".to_string(), spec_hash.to_string()),
        ("epoch".to_string(), epoch.to_string()),
    ]);
    metadata.extend(more.map(|(k, v)| (k.to_string(), v)));
    metadata.insert("checksum".to_string(), CHECKSUM_PLACEHOLDER.to_string());
    let mut bytes = model.params.to_safetensors_with(extra, metadata)?;
    let at = checksum_field(&bytes, CHECKSUM_PLACEHOLDER)
        .ok_or("internal error: the checksum field is missing from the checkpoint header")?;
    let sum = blake3::hash(&bytes).to_hex();
    bytes[at..at + sum.len()].copy_from_slice(sum.as_bytes());
    write_atomic(path, true, |out| std::io::Write::write_all(out, &bytes))
        .map_err(|e| io_error(path, format!("cannot write checkpoint: {e}")))?;
    Ok(path.to_path_buf())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| io_error(path, format!("cannot read checkpoint: {e}")))
}

/// Where `value` sits in the file's JSON header, as the checksum field's
/// value; `None` if it is not there.
fn checksum_field(file: &[u8], value: &str) -> Option<usize> {
    let len = u64::from_le_bytes(file.get(..8)?.try_into().ok()?) as usize;
    let header = file.get(8..8usize.checked_add(len)?)?;
    let needle = format!("\"checksum\":\"{value}\"");
    let at = header
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())?;
    Some(8 + at + needle.len() - value.len() - 1)
}

/// Checks the checksum a file of format 2 carries.
fn verify(path: &Path, file: &[u8], meta: &HashMap<String, String>) -> Result<(), String> {
    let corrupt = |why: &str| {
        io_error(
            path,
            format!(
                "the checkpoint is corrupt ({why}): its bytes changed after posterlab wrote it \
                 (a disk, network filesystem or copy fault)"
            ),
        )
    };
    let stored = meta
        .get("checksum")
        .filter(|c| c.len() == CHECKSUM_PLACEHOLDER.len())
        .ok_or_else(|| corrupt("no checksum"))?;
    let at = checksum_field(file, stored).ok_or_else(|| corrupt("no checksum"))?;
    let mut zeroed = file.to_vec();
    zeroed[at..at + stored.len()].copy_from_slice(CHECKSUM_PLACEHOLDER.as_bytes());
    if blake3::hash(&zeroed).to_hex().as_str() != stored {
        return Err(corrupt("checksum mismatch"));
    }
    Ok(())
}

/// The metadata of a checkpoint, checked to be ours, whole, and for this
/// spec.
fn metadata(path: &Path, file: &[u8], spec_hash: &str) -> Result<HashMap<String, String>, String> {
    let (_, header) = SafeTensors::read_metadata(file)
        .map_err(|e| io_error(path, format!("not a checkpoint, or a corrupt one ({e:?})")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(io_error(path, "not a posterlab checkpoint"));
    }
    let version = meta.get("format_version").map(String::as_str);
    if version == Some(FORMAT_VERSION) {
        verify(path, file, &meta)?;
    }
    if !version.is_some_and(|v| READABLE_VERSIONS.contains(&v)) {
        return Err(io_error(
            path,
            format!(
                "checkpoint format {:?}, this posterlab reads {}",
                meta.get("format_version"),
                READABLE_VERSIONS.join(" and ")
            ),
        ));
    }
    if meta.get("spec_hash").map(String::as_str) != Some(spec_hash) {
        return Err(io_error(path, "the checkpoint belongs to another spec"));
    }
    Ok(meta)
}

fn field<T: std::str::FromStr>(
    path: &Path,
    meta: &HashMap<String, String>,
    key: &str,
) -> Result<T, String> {
    meta.get(key)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| io_error(path, format!("checkpoint metadata lacks `{key}`")))
}

/// Restores the model and the optimizer from `path`; returns its state.
pub fn load<D: Layers>(
    path: &Path,
    spec_hash: &str,
    model: &mut Model<D>,
    optimizer: &mut Optimizer<D>,
) -> Result<State, String> {
    let bytes = read(path)?;
    let meta = metadata(path, &bytes, spec_hash)?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| io_error(path, format!("{e:?}")))?;
    model
        .params
        .load_from(&file, |name| name.starts_with("optim."))
        .map_err(|e| io_error(path, e))?;
    let optimizer_step: i32 = field(path, &meta, "optimizer_step")?;
    optimizer
        .load_state(&model.params, optimizer_step, |name| {
            file.tensor(name).ok().map(|view| f32s(view.data()))
        })
        .map_err(|e| io_error(path, e))?;
    let history: Vec<SplitResult> = serde_json::from_str(
        meta.get("history")
            .ok_or_else(|| io_error(path, "checkpoint metadata lacks `history`"))?,
    )
    .map_err(|e| io_error(path, format!("unreadable history: {e}")))?;
    Ok(State {
        spec_hash: spec_hash.to_string(),
        epoch: field(path, &meta, "epoch")?,
        optimizer_step,
        history,
    })
}

/// Loads the weights of a best-epoch file into `model`.
pub fn load_best<D: Layers>(
    path: &Path,
    spec_hash: &str,
    model: &mut Model<D>,
) -> Result<(), String> {
    let bytes = read(path)?;
    metadata(path, &bytes, spec_hash)?;
    model
        .params
        .load_safetensors(&bytes)
        .map_err(|e| io_error(path, e))
}

/// `epoch-NNNN.safetensors` or `best-NNNN.safetensors`: the names
/// [`epoch_path`] and [`best_path`] give, and the only ones [`tidy`] removes.
fn is_checkpoint_name(name: &str) -> bool {
    ["epoch-", "best-"].iter().any(|prefix| {
        name.strip_prefix(prefix)
            .and_then(|n| n.strip_suffix(".safetensors"))
            .is_some_and(|n| n.len() >= 4 && n.chars().all(|c| c.is_ascii_digit()))
    })
}

/// Removes checkpoint files of `dir` other than `keep` (stale ones from a
/// crash between writing a file and recording its epoch, or superseded
/// ones), and abandoned temporary files.
pub fn tidy(dir: &Path, keep: &[&Path]) -> std::io::Result<()> {
    let Ok(listing) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in listing {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let ours = is_checkpoint_name(&name)
            || name
                .strip_prefix('.')
                .and_then(|n| n.split_once(".tmp-"))
                .is_some_and(|(file, pid)| {
                    is_checkpoint_name(file) && pid.chars().all(|c| c.is_ascii_digit())
                });
        if ours && !keep.iter().any(|k| *k == path) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidying_removes_only_checkpoints_posterlab_names() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "epoch-0001.safetensors",
            "epoch-0002.safetensors",
            "best-0001.safetensors",
            ".epoch-0003.safetensors.tmp-4242",
            "epoch-final.safetensors",
            "best-0001.safetensors.bak",
            "notes.txt",
            ".epoch-0003.safetensors.tmp-mine",
            "unrecorded-end.json",
        ];
        for n in names {
            std::fs::write(dir.path().join(n), n).unwrap();
        }
        let keep = dir.path().join("epoch-0002.safetensors");
        tidy(dir.path(), &[&keep]).unwrap();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                ".epoch-0003.safetensors.tmp-mine",
                "best-0001.safetensors.bak",
                "epoch-0002.safetensors",
                "epoch-final.safetensors",
                "notes.txt",
                "unrecorded-end.json",
            ]
        );
    }
}
