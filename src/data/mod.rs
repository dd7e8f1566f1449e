//! Poster data sets: the CSV formats, decoding and resizing, the decoded-tensor
//! cache, the seeded split, batching and training-time augmentation, the
//! synthetic generator and statistics.
//!
//! [`load`] is the entry point: it finds the data set a spec names (making the
//! default synthetic set if needed), reads its index, and returns every poster
//! decoded at the spec's resolution — from the cache when the data, the
//! resolution, the fit and the cache format are unchanged.

pub mod augment;
mod batch;
mod cache;
mod dataset;
mod error;
pub mod image;
mod index;
mod split;
pub mod stats;
pub mod synth;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;

pub use augment::Augmenter;
pub use batch::{epoch_order, push_input, Batch};
pub use dataset::{Dataset, LoadReport};
pub use error::DataError;
pub use index::{find_csv, read_index, Index, PosterRef};
pub use split::{Split, SplitName};

use self::image::BadImage;
use crate::progress::Progress;
use crate::spec::{BadImages, DataSpec, DatasetRef, Fit};

/// Posters in the default synthetic data set (`dataset = "synthetic"`).
pub const DEFAULT_SYNTHETIC_COUNT: usize = 2000;
/// Seed of the default synthetic data set.
pub const DEFAULT_SYNTHETIC_SEED: u64 = 7;

/// Where generated and cached files go (the default synthetic set, the
/// decoded-tensor cache). The command line uses `results/`.
#[derive(Debug, Clone)]
pub struct Workspace {
    pub results: PathBuf,
}

impl Workspace {
    pub fn new(results: impl Into<PathBuf>) -> Self {
        Workspace {
            results: results.into(),
        }
    }

    pub fn cache_dir(&self) -> PathBuf {
        self.results.join("cache")
    }

    /// The default synthetic set's folder; its name carries the generator
    /// version so a changed generator makes a new set rather than reusing one.
    pub fn synthetic_dir(&self) -> PathBuf {
        self.results.join("synthetic").join(format!(
            "default-g{}-n{}-s{}",
            synth::GENERATOR_VERSION,
            DEFAULT_SYNTHETIC_COUNT,
            DEFAULT_SYNTHETIC_SEED
        ))
    }
}

/// Finds the CSV a spec's `dataset` names; makes the default synthetic set on
/// first use.
pub fn locate(
    spec: &DataSpec,
    ws: &Workspace,
    progress: &dyn Progress,
) -> Result<PathBuf, DataError> {
    match &spec.dataset {
        DatasetRef::Synthetic => {
            let dir = ws.synthetic_dir();
            if !dir.join("train.csv").is_file() {
                progress.note(&format!(
                    "making the default synthetic data set ({DEFAULT_SYNTHETIC_COUNT} posters) in {}",
                    dir.display()
                ));
                synth::write_dataset(
                    &dir,
                    DEFAULT_SYNTHETIC_COUNT,
                    DEFAULT_SYNTHETIC_SEED,
                    progress,
                )?;
            }
            Ok(dir.join("train.csv"))
        }
        DatasetRef::Path(path) => index::find_csv(path),
    }
}

/// Loads every poster of the data set a spec names, decoded at its resolution.
pub fn load(
    spec: &DataSpec,
    ws: &Workspace,
    progress: &dyn Progress,
) -> Result<Dataset, DataError> {
    let csv = locate(spec, ws, progress)?;
    let index = read_index(&csv, spec.format, spec.images.as_deref())?;
    load_index(
        &index,
        spec.resolution,
        spec.fit,
        spec.bad_images,
        ws,
        progress,
    )
}

/// Decodes (or reads from the cache) every poster an index lists.
pub fn load_index(
    index: &Index,
    resolution: u32,
    fit: Fit,
    bad_images: BadImages,
    ws: &Workspace,
    progress: &dyn Progress,
) -> Result<Dataset, DataError> {
    let content_hash = content_hash(index)?;
    let key = cache::Key::new(&content_hash, resolution, fit);
    let cache_file = ws.cache_dir().join(key.file_name());
    let mut dataset = match cache::read(&cache_file, &key) {
        Ok(Some(mut dataset)) => {
            dataset.csv = index.csv.clone();
            dataset.report.from_cache = true;
            dataset
        }
        outcome => {
            if let Err(why) = outcome {
                progress.note(&format!("rebuilding the cache: {why}"));
            }
            let dataset = decode_all(index, content_hash, resolution, fit, progress);
            if let Err(e) = cache::write(&cache_file, &key, &dataset) {
                // The cache only saves time; a full disk must not stop a run.
                progress.note(&format!(
                    "could not write the cache {}: {e}",
                    cache_file.display()
                ));
            }
            dataset
        }
    };
    let files: HashMap<&str, &PathBuf> = index
        .posters
        .iter()
        .map(|p| (p.id.as_str(), &p.image))
        .collect();
    dataset.images = dataset
        .ids
        .iter()
        .map(|id| {
            files
                .get(id.as_str())
                .map(|p| p.to_path_buf())
                .unwrap_or_default()
        })
        .collect();
    if bad_images == BadImages::Error && !dataset.report.skipped.is_empty() {
        return Err(DataError::bad_images(&index.csv, &dataset.report.skipped));
    }
    if dataset.is_empty() {
        return Err(
            DataError::new(&index.csv, "no usable poster in this data set")
                .with_help("check that the images folder is the right one"),
        );
    }
    if !dataset.report.skipped.is_empty() {
        progress.note(&image::skipped_summary(&dataset.report.skipped));
    }
    Ok(dataset)
}

/// The data set's identity: blake3 over the CSV's bytes and then, in CSV order,
/// each poster's id and file bytes. A poster that cannot be read hashes as
/// why: missing, or another reason (a folder in its place, no permission),
/// so that a cached reason for skipping it is never reused for another.
pub fn content_hash(index: &Index) -> Result<String, DataError> {
    let csv_bytes = std::fs::read(&index.csv).map_err(|e| DataError::io(&index.csv, e))?;
    let file_hashes: Vec<Result<blake3::Hash, String>> = index
        .posters
        .par_iter()
        .map(|p| match std::fs::read(&p.image) {
            Ok(bytes) => Ok(blake3::hash(&bytes)),
            // The same bytes as before unreadable posters had their reason
            // hashed: sets with missing posters keep their identity.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err("<missing>".to_string()),
            Err(e) => Err(format!("<unreadable: {:?}>", e.kind())),
        })
        .collect();
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"posterlab data v1\0");
    hasher.update(blake3::hash(&csv_bytes).as_bytes());
    for (poster, hash) in index.posters.iter().zip(&file_hashes) {
        hasher.update(poster.id.as_bytes());
        hasher.update(&[0]);
        match hash {
            Ok(h) => hasher.update(h.as_bytes()),
            Err(why) => hasher.update(why.as_bytes()),
        };
    }
    Ok(hasher.finalize().to_hex().to_string())
}

/// Decodes every poster on all cores, writing each into its slot, then drops
/// the slots of posters that could not be read.
fn decode_all(
    index: &Index,
    content_hash: String,
    resolution: u32,
    fit: Fit,
    progress: &dyn Progress,
) -> Dataset {
    let image_len = 3 * (resolution as usize).pow(2);
    let mut pixels = vec![0u8; index.posters.len() * image_len];
    progress.begin("decoding posters", index.posters.len() as u64);
    let outcomes: Vec<Result<(), BadImage>> = pixels
        .par_chunks_mut(image_len)
        .zip(index.posters.par_iter())
        .map(|(slot, poster)| {
            let outcome = image::load_poster(&poster.image, resolution, fit, slot);
            progress.advance(1);
            outcome
        })
        .collect();
    progress.end();

    let genres = index.genres.len();
    let mut ids = Vec::with_capacity(index.posters.len());
    let mut labels = Vec::with_capacity(index.posters.len() * genres);
    let mut skipped = Vec::new();
    let mut kept = 0;
    for (i, (poster, outcome)) in index.posters.iter().zip(outcomes).enumerate() {
        match outcome {
            Ok(()) => {
                if kept != i {
                    pixels.copy_within(i * image_len..(i + 1) * image_len, kept * image_len);
                }
                kept += 1;
                ids.push(poster.id.clone());
                labels.extend(poster.multi_hot(genres));
            }
            Err(why) => skipped.push((poster.id.clone(), why)),
        }
    }
    pixels.truncate(kept * image_len);
    Dataset {
        csv: index.csv.clone(),
        content_hash,
        genres: index.genres.clone(),
        ids,
        images: Vec::new(),
        labels,
        resolution,
        fit,
        pixels,
        report: LoadReport {
            rows: index.rows,
            duplicate_rows: index.duplicate_rows,
            skipped,
            from_cache: false,
        },
    }
}

/// The poster files of runs recorded before the store kept them (schema
/// 1), found again from each run's resolved spec and the CSV it read; one
/// read of each data set's CSV however many runs share it.
#[derive(Default)]
pub struct RecordedElsewhere {
    indexes: Mutex<HashMap<String, PosterFiles>>,
}

/// Poster id → image file, or why they cannot be found.
pub type PosterFiles = Result<HashMap<String, PathBuf>, String>;

impl RecordedElsewhere {
    /// Poster id → image file, for a run with resolved spec `spec_toml` that
    /// read `csv`.
    pub fn poster_files(&self, spec_toml: &str, csv: &str) -> PosterFiles {
        let spec = crate::spec::load_str(Path::new("<stored spec>"), spec_toml)
            .map_err(|_| "the stored spec no longer parses".to_string())?
            .remove(0);
        let key = format!("{csv}|{:?}|{:?}", spec.data.format, spec.data.images);
        let mut indexes = self.indexes.lock().expect("index cache");
        indexes
            .entry(key)
            .or_insert_with(|| {
                read_index(
                    Path::new(csv),
                    spec.data.format,
                    spec.data.images.as_deref(),
                )
                .map(|index| index.posters.into_iter().map(|p| (p.id, p.image)).collect())
                .map_err(|e| format!("cannot read {csv}: {}", e.message))
            })
            .clone()
    }
}
