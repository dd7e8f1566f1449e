//! What the report still works out from a run's stored spec text and its
//! data set instead of reading it back from the store: the metric that
//! chose the best epoch, the rule that turns scores into genres, and where
//! the poster files are. Kept here, and only here, until the store records
//! them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::gallery;
use crate::store::{self, RunRow};
use crate::train::metrics::Decision;

/// The metric that chose the run's best epoch.
pub(super) fn monitor_of(run: &RunRow) -> String {
    store::spec_value(&run.spec_toml, "train.monitor").unwrap_or_else(|| "val_loss".into())
}

/// The run's rule for turning scores into genres, from its resolved spec.
pub(super) fn decision_of(run: &RunRow) -> Decision {
    let threshold = store::spec_value(&run.spec_toml, "train.threshold")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0.5);
    if store::spec_value(&run.spec_toml, "train.loss").as_deref() == Some("categorical_ce") {
        Decision::RelativeToTop(threshold)
    } else {
        Decision::Threshold(threshold)
    }
}

/// The run's rule, in words.
pub(super) fn decision_text(run: &RunRow) -> String {
    match decision_of(run) {
        Decision::RelativeToTop(t) => {
            format!("softmax probability above {t} x the poster's top one")
        }
        Decision::Threshold(t) => format!("probability above {t}"),
    }
}

/// A data set's poster files by id, or why they cannot be found.
type PosterIndex = Result<HashMap<String, PathBuf>, String>;

/// Poster files of each data set (read once), and thumbnails (made once).
#[derive(Default)]
pub(super) struct PosterFiles {
    indexes: Mutex<HashMap<String, PosterIndex>>,
    thumbnails: Mutex<HashMap<PathBuf, Result<String, String>>>,
}

impl PosterFiles {
    /// The poster files of the run's data set, by poster id.
    pub(super) fn paths(&self, run: &RunRow) -> PosterIndex {
        let spec = crate::spec::load_str(Path::new("<stored spec>"), &run.spec_toml)
            .map_err(|_| "the stored spec no longer parses".to_string())?
            .remove(0);
        let key = format!(
            "{}|{:?}|{:?}",
            run.dataset_csv, spec.data.format, spec.data.images
        );
        if let Some(found) = self.indexes.lock().expect("index cache").get(&key) {
            return found.clone();
        }
        let found = crate::data::read_index(
            Path::new(&run.dataset_csv),
            spec.data.format,
            spec.data.images.as_deref(),
        )
        .map(|index| index.posters.into_iter().map(|p| (p.id, p.image)).collect())
        .map_err(|e| format!("cannot read {}: {}", run.dataset_csv, e.message));
        self.indexes
            .lock()
            .expect("index cache")
            .insert(key, found.clone());
        found
    }

    /// The poster at `path` as a gallery thumbnail.
    pub(super) fn thumbnail(&self, path: &Path) -> Result<String, String> {
        if let Some(t) = self.thumbnails.lock().expect("thumbnail cache").get(path) {
            return t.clone();
        }
        let t = gallery::thumbnail(path);
        self.thumbnails
            .lock()
            .expect("thumbnail cache")
            .insert(path.to_path_buf(), t.clone());
        t
    }
}
