//! Checks made before anything trains (every data set there, every device
//! usable), and the data a run trains on, loaded once per setting.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

#[cfg(feature = "cuda")]
use dfdx::prelude::Cuda;

use crate::data::{self, Dataset, Split, Workspace};
use crate::model::Architecture;
use crate::progress::Progress;
use crate::spec::{DataSpec, DatasetRef, Device as SpecDevice, Spec};
use crate::text::plural;

/// Checks that every data set the specs name is there and every device
/// they ask for can be used, so that a night's sweep does not stop at its
/// tenth run; the problems, one per line, with what to do.
pub fn preflight(specs: &[Spec]) -> Result<(), String> {
    check_data(specs)?;
    check_devices(specs)
}

/// [`preflight`] for runs that train on other machines (a cluster's nodes,
/// which see the same files): the data sets must be there, and a CUDA run
/// needs a build with CUDA, but no GPU is opened here.
pub fn preflight_elsewhere(specs: &[Spec]) -> Result<(), String> {
    check_data(specs)?;
    #[cfg(not(feature = "cuda"))]
    if let Some(s) = specs
        .iter()
        .find(|s| matches!(s.train.device, SpecDevice::Cuda(_)))
    {
        return Err(format!(
            "{} asks for {}, but {}",
            s.name,
            s.train.device,
            crate::model::NO_CUDA
        ));
    }
    Ok(())
}

/// Loads the data of every distinct data setting once (which makes the
/// default synthetic set and the tensor caches), so that the runs that
/// train elsewhere find them ready instead of all making them at once.
pub fn prepare_data(specs: &[Spec], ws: &Workspace, progress: &dyn Progress) -> Result<(), String> {
    let mut datasets = HashMap::new();
    for spec in specs {
        if !datasets.contains_key(&format!("{:?}", spec.data)) {
            load_data(spec, ws, progress, &mut datasets)
                .map_err(|e| format!("{}: {e}", spec.name))?;
        }
    }
    Ok(())
}

fn check_data(specs: &[Spec]) -> Result<(), String> {
    let missing: BTreeSet<String> = specs
        .iter()
        .filter_map(|s| match &s.data.dataset {
            DatasetRef::Path(p) => data::find_csv(p).err().map(|e| e.to_string()),
            DatasetRef::Synthetic => None,
        })
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{}\n  help: fix `data.dataset` in the spec; `posterlab run --dry-run` lists what each run reads",
            missing.into_iter().collect::<Vec<_>>().join("\n")
        ));
    }
    Ok(())
}

/// Checks, before anything trains, that every device the specs name can be
/// used here: a build without CUDA refuses CUDA runs, a build with it opens
/// each GPU once.
fn check_devices(specs: &[Spec]) -> Result<(), String> {
    let mut cuda: Vec<(usize, &str)> = specs
        .iter()
        .filter_map(|s| match s.train.device {
            SpecDevice::Cuda(i) => Some((i, s.name.as_str())),
            SpecDevice::Cpu => None,
        })
        .collect();
    if cuda.is_empty() {
        return Ok(());
    }
    cuda.sort();
    #[cfg(not(feature = "cuda"))]
    {
        Err(format!(
            "{} run{} ask{} for CUDA (first: {} on cuda:{}), but {}",
            cuda.len(),
            if cuda.len() == 1 { "" } else { "s" },
            if cuda.len() == 1 { "s" } else { "" },
            cuda[0].1,
            cuda[0].0,
            crate::model::NO_CUDA
        ))
    }
    #[cfg(feature = "cuda")]
    {
        cuda.dedup_by_key(|c| c.0);
        for (ordinal, name) in cuda {
            Cuda::try_build(ordinal, 0).map_err(|e| {
                format!(
                    "{name} asks for cuda:{ordinal}, which cannot be opened: {e:?}\n  help: `nvidia-smi` \
                     lists this machine's GPUs; the driver and the CUDA libraries this build links \
                     (README, \"GPU\") must be installed; or set train.device = \"cpu\""
                )
            })?;
        }
        Ok(())
    }
}

/// The data set of a spec (cached per data settings), its split and the
/// model sized for it; or why they cannot be had.
pub fn load_data(
    spec: &Spec,
    ws: &Workspace,
    progress: &dyn Progress,
    datasets: &mut HashMap<String, Arc<Dataset>>,
) -> Result<(Arc<Dataset>, Split, Architecture), String> {
    // Augmentation happens batch by batch: runs that differ only in it
    // share one decoded data set.
    let key = format!(
        "{:?}",
        DataSpec {
            augment: None,
            ..spec.data.clone()
        }
    );
    let dataset = match datasets.get(&key) {
        Some(d) => d.clone(),
        None => {
            let d = Arc::new(data::load(&spec.data, ws, progress).map_err(|e| e.to_string())?);
            datasets.insert(key, d.clone());
            d
        }
    };
    let split = Split::new(
        &dataset.ids,
        spec.data.test_fraction,
        spec.data.val_fraction,
        spec.data.split_seed,
    );
    if split.train.is_empty() || split.val.is_empty() || split.test.is_empty() {
        return Err(format!(
            "{} split into {} train / {} val / {} test: every split needs at least one",
            plural(dataset.len(), "poster"),
            split.train.len(),
            split.val.len(),
            split.test.len()
        ));
    }
    let arch = Architecture::new(
        &spec.model,
        dataset.resolution as usize,
        dataset.genres.len(),
    )?;
    Ok((dataset, split, arch))
}
