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
//! Files are written atomically and durably *before* the store records the
//! epoch they belong to; the store's epoch count says which file is current,
//! and files of other epochs (left by a crash between the two) are removed.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ::safetensors::SafeTensors;

use super::optim::Optimizer;
use super::run::SplitResult;
use crate::files::write_atomic;
use crate::model::params::f32s;
use crate::model::{Layers, Model};

const FORMAT: &str = "posterlab-checkpoint";
const FORMAT_VERSION: &str = "1";

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
    let bytes = model.params.to_safetensors_with(extra, metadata)?;
    write_atomic(path, true, |out| std::io::Write::write_all(out, &bytes))
        .map_err(|e| io_error(path, format!("cannot write checkpoint: {e}")))?;
    Ok(path.to_path_buf())
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| io_error(path, format!("cannot read checkpoint: {e}")))
}

/// The metadata of a checkpoint, checked to be ours and for this spec.
fn metadata(path: &Path, file: &[u8], spec_hash: &str) -> Result<HashMap<String, String>, String> {
    let (_, header) = SafeTensors::read_metadata(file)
        .map_err(|e| io_error(path, format!("not a checkpoint ({e:?})")))?;
    let meta = header.metadata().clone().unwrap_or_default();
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(io_error(path, "not a posterlab checkpoint"));
    }
    if meta.get("format_version").map(String::as_str) != Some(FORMAT_VERSION) {
        return Err(io_error(
            path,
            format!(
                "checkpoint format {:?}, this posterlab reads {FORMAT_VERSION}",
                meta.get("format_version")
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
        let ours = (name.starts_with("epoch-") || name.starts_with("best-"))
            && name.ends_with(".safetensors")
            || (name.starts_with('.') && name.contains(".safetensors.tmp-"));
        if ours && !keep.iter().any(|k| *k == path) {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}
