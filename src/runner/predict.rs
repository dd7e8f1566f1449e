//! New posters through a finished run's tested weights (`posterlab
//! predict`): the run's resolved spec read back from the store, its model
//! rebuilt and its best-epoch checkpoint loaded (checked against the run's
//! spec hash); each poster decoded, made square and scaled exactly as the
//! run's data set was (`data::image::load_poster` at the run's resolution
//! and fit, then `data::push_input`), in batches; and the decision that
//! turns the scores into genres: the run's own, or another rule (a tuned
//! one tuned on the run's stored validation predictions).

use std::fmt;
use std::path::{Path, PathBuf};

use dfdx::prelude::*;
use rayon::prelude::*;

use crate::data::image::{load_poster, BadImage};
use crate::data::push_input;
use crate::metric::Split;
use crate::model::{Architecture, Layers, Mode, Model};
use crate::progress::Progress;
use crate::spec::{Device as SpecDevice, Fit, Loss, Rule};
use crate::store::{PosterPrediction, RunRow, Status, Store, StoreError};
use crate::train::checkpoint;
use crate::train::decision::{self, decide, DecideError, Decision, Validation};
use crate::train::fit::to_scores;

/// Posters per forward pass. Evaluation in training uses the run's batch
/// size (at least 32); 64 decodes enough posters at once to keep both
/// cores busy, and its activations (the seed CNN at 64 px: 16 MB for the
/// first block's output) fit anywhere a run trained.
pub const BATCH: usize = 64;

/// Why a run cannot predict.
#[derive(Debug)]
pub enum PredictError {
    /// Only a finished run has tested weights.
    NotFinished {
        run: i64,
        name: String,
        status: Status,
    },
    /// The stored spec, or the model it describes, cannot be rebuilt.
    Spec {
        run: i64,
        message: String,
    },
    /// The best-epoch checkpoint is missing, corrupt, or another spec's.
    Checkpoint {
        run: i64,
        path: PathBuf,
        message: String,
    },
    /// The forward pass failed (a device error).
    Device(String),
    /// A tuned `--decision` without validation predictions to tune on.
    Decide(DecideError),
    /// The run's own tuned rule recorded no thresholds.
    NoThresholds {
        run: i64,
        rule: Rule,
    },
    Store(StoreError),
}

impl fmt::Display for PredictError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PredictError::NotFinished { run, name, status } => write!(
                f,
                "run {run} {name} is {status}: only a finished run has tested weights to predict \
                 with\n  help: `posterlab run SPEC` resumes or retrains it; `posterlab runs \
                 finished` lists the finished runs"
            ),
            PredictError::Spec { run, message } => write!(
                f,
                "run {run}: its stored spec cannot be rebuilt into its model: {message}\n  help: \
                 the run was recorded by another posterlab version; predict with that version"
            ),
            PredictError::Checkpoint { run, path, message } => write!(
                f,
                "run {run}: cannot load its best weights: {message}\n  help: `posterlab run` \
                 keeps them in the run's checkpoint folder ({}); a run merged from another \
                 machine needs that folder copied to the same path here",
                path.parent().unwrap_or(Path::new(".")).display()
            ),
            PredictError::Device(message) => write!(f, "the forward pass failed: {message}"),
            PredictError::Decide(e) => write!(f, "{e}"),
            PredictError::NoThresholds { run, rule } => write!(
                f,
                "run {run} applied `{rule}` but recorded no thresholds for it\n  help: \
                 `--decision {rule}` tunes them again on its stored validation predictions"
            ),
            PredictError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for PredictError {}

impl From<StoreError> for PredictError {
    fn from(e: StoreError) -> Self {
        PredictError::Store(e)
    }
}

/// A finished run's tested weights, ready to score posters.
pub struct Predictor {
    /// The run's genres, in the model's output order.
    pub genres: Vec<String>,
    /// The epoch whose weights score (the run's best, which it tested).
    pub epoch: usize,
    /// How posters are made square and how large, as the run's data set.
    pub resolution: u32,
    pub fit: Fit,
    /// Said when the run's device cannot be used and the CPU scores
    /// instead.
    pub note: Option<String>,
    loss: Loss,
    net: Net,
}

/// The model on the device that runs it.
enum Net {
    Cpu(Model<Cpu>, Cpu),
    #[cfg(feature = "cuda")]
    Cuda(Model<Cuda>, Cuda),
}

impl Predictor {
    /// Rebuilds `run`'s model from its stored spec and loads the weights of
    /// its best epoch (the tested ones), on the run's device where this
    /// build can use it, else on the CPU (with a [`Predictor::note`]).
    pub fn load(run: &RunRow) -> Result<Predictor, PredictError> {
        let (Status::Finished, Some(epoch)) = (run.status, run.best_epoch) else {
            return Err(PredictError::NotFinished {
                run: run.id,
                name: crate::text::printable(&run.name).into_owned(),
                status: run.status,
            });
        };
        let spec_error = |message: String| PredictError::Spec {
            run: run.id,
            message,
        };
        let label = format!("<run {}'s stored spec>", run.id);
        let spec = crate::spec::load_str(Path::new(&label), &run.spec_toml)
            .map_err(|d| spec_error(format!("{} problem(s), first: {}", d.len(), d[0])))?
            .into_iter()
            .next()
            .ok_or_else(|| spec_error("it resolves to no run".into()))?;
        let resolution = spec.data.resolution;
        let arch = Architecture::new(&spec.model, resolution as usize, run.genres.len())
            .map_err(spec_error)?;
        let path = checkpoint::best_path(&run.checkpoint_dir, epoch);
        let (net, note) = Net::open(spec.train.device, arch, run.id)?;
        let mut predictor = Predictor {
            genres: run.genres.clone(),
            epoch,
            resolution,
            fit: spec.data.fit,
            note,
            loss: spec.train.loss,
            net,
        };
        // The hash the run recorded, which its checkpoints carry: a spec
        // read back by a later posterlab may hash differently.
        predictor
            .net
            .load(&path, &run.spec_hash)
            .map_err(|message| PredictError::Checkpoint {
                run: run.id,
                path,
                message,
            })?;
        Ok(predictor)
    }

    /// Each poster's scores (one per genre, in [`Predictor::genres`]
    /// order), or why it could not be read, in the order of `paths`.
    /// Posters are decoded on all cores and scored [`BATCH`] at a time.
    pub fn predict(
        &mut self,
        paths: &[PathBuf],
        progress: &dyn Progress,
    ) -> Result<Vec<Result<Vec<f32>, BadImage>>, PredictError> {
        let (resolution, fit) = (self.resolution, self.fit);
        let r = resolution as usize;
        let image_len = 3 * r * r;
        let genres = self.genres.len();
        let mut out = Vec::with_capacity(paths.len());
        let mut pixels = vec![0u8; BATCH * image_len];
        progress.begin("predicting", paths.len() as u64);
        for chunk in paths.chunks(BATCH) {
            let decoded: Vec<Result<(), BadImage>> = pixels
                .par_chunks_mut(image_len)
                .zip(chunk.par_iter())
                .map(|(slot, path)| load_poster(path, resolution, fit, slot))
                .collect();
            let mut images = Vec::with_capacity(chunk.len() * image_len);
            for (slot, ok) in pixels.chunks(image_len).zip(&decoded) {
                if ok.is_ok() {
                    push_input(slot, &mut images);
                }
            }
            let n = images.len() / image_len;
            let scores = if n > 0 {
                let logits = self.net.logits(images, (n, 3, r, r))?;
                to_scores(self.loss, &logits, genres)
            } else {
                Vec::new()
            };
            let mut rows = scores.chunks(genres);
            for outcome in decoded {
                out.push(outcome.map(|()| rows.next().expect("a row per decoded poster").to_vec()));
            }
            progress.advance(chunk.len() as u64);
        }
        progress.end();
        Ok(out)
    }
}

impl Net {
    /// The model of `arch` on `device`, or on the CPU with a note saying
    /// why not there.
    fn open(
        device: SpecDevice,
        arch: Architecture,
        run: i64,
    ) -> Result<(Net, Option<String>), PredictError> {
        let cpu = |arch, note| {
            let dev = Cpu::default();
            (Net::Cpu(Model::new(arch, 0, &dev), dev), note)
        };
        match device {
            SpecDevice::Cpu => Ok(cpu(arch, None)),
            #[cfg(feature = "cuda")]
            SpecDevice::Cuda(ordinal) => match Cuda::try_build(ordinal, 0) {
                Ok(dev) => Ok((Net::Cuda(Model::new(arch, 0, &dev), dev), None)),
                Err(e) => Ok(cpu(
                    arch,
                    Some(format!(
                        "run {run} trained on cuda:{ordinal}, which cannot be opened ({e:?}): \
                         predicting on the CPU"
                    )),
                )),
            },
            #[cfg(not(feature = "cuda"))]
            SpecDevice::Cuda(ordinal) => Ok(cpu(
                arch,
                Some(format!(
                    "run {run} trained on cuda:{ordinal} and this posterlab was built without \
                     CUDA: predicting on the CPU (probabilities may differ from the run's stored \
                     ones in the last digits)"
                )),
            )),
        }
    }

    fn load(&mut self, path: &Path, spec_hash: &str) -> Result<(), String> {
        match self {
            Net::Cpu(model, _) => checkpoint::load_best(path, spec_hash, model),
            #[cfg(feature = "cuda")]
            Net::Cuda(model, _) => checkpoint::load_best(path, spec_hash, model),
        }
    }

    /// Logits `[n, genres]` of images `[n, 3, r, r]` in [0, 1].
    fn logits(
        &mut self,
        images: Vec<f32>,
        shape: (usize, usize, usize, usize),
    ) -> Result<Vec<f32>, PredictError> {
        match self {
            Net::Cpu(model, dev) => forward(model, dev, images, shape),
            #[cfg(feature = "cuda")]
            Net::Cuda(model, dev) => forward(model, dev, images, shape),
        }
    }
}

fn forward<D: Layers>(
    model: &mut Model<D>,
    dev: &D,
    images: Vec<f32>,
    shape: (usize, usize, usize, usize),
) -> Result<Vec<f32>, PredictError> {
    let images = dev.tensor_from_vec(images, shape); // [n, 3, r, r]
    let logits = model
        .forward(images, Mode::Eval)
        .map_err(|e| PredictError::Device(format!("{e:?}")))?; // [n, genres]
    Ok(logits.as_vec())
}

/// A rule made concrete for predicting: the decision, and how to name it.
#[derive(Debug, Clone, PartialEq)]
pub struct Chosen {
    pub decision: Decision,
    /// `threshold:0.5`, `top_k:2`, `tuned`…
    pub label: String,
    /// The rule in words.
    pub description: String,
}

/// The decision `predict` applies to `run`'s scores: the run's own (its
/// rule at its threshold, or the thresholds its tuned rule recorded), or
/// `asked` (`--decision`: a rule, and a threshold for the plain rules,
/// default the run's own), a tuned rule tuned on the run's stored
/// validation predictions.
pub fn decision(
    store: &Store,
    run: &RunRow,
    asked: Option<(Rule, Option<f64>)>,
) -> Result<Chosen, PredictError> {
    let Some((rule, threshold)) = asked else {
        let thresholds = store.thresholds(run.id, &run.rule.name())?;
        let decision = decision::recorded(run.rule, run.threshold, &run.genres, &thresholds)
            .ok_or(PredictError::NoThresholds {
                run: run.id,
                rule: run.rule,
            })?;
        return Ok(Chosen {
            description: decision::describe(run.rule, &decision),
            label: decision::label(run.rule, run.threshold),
            decision,
        });
    };
    let threshold = threshold.unwrap_or(run.threshold);
    let val = if rule.is_tuned() {
        store.predictions(run.id, Split::Val)?
    } else {
        Vec::new()
    };
    let (targets, scores) = PosterPrediction::flatten(&val);
    let decided = decide(
        rule,
        threshold,
        run.genres.len(),
        Some(Validation {
            targets: &targets,
            scores: &scores,
        }),
    )
    .map_err(PredictError::Decide)?;
    Ok(Chosen {
        description: decision::describe(rule, &decided.decision),
        label: decision::label(rule, threshold),
        decision: decided.decision,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Quiet;
    use crate::spec::{Arch, ModelSpec};
    use image::{Rgb, RgbImage};

    /// A small CNN with its initial weights, at 16 px.
    fn predictor() -> Predictor {
        let mut spec = ModelSpec::for_arch(Arch::Cnn);
        spec.channels = vec![4, 8];
        spec.dense = vec![16];
        let arch = Architecture::new(&spec, 16, 5).unwrap();
        let (net, note) = Net::open(SpecDevice::Cpu, arch, 1).unwrap();
        Predictor {
            genres: ["A", "B", "C", "D", "E"].map(String::from).to_vec(),
            epoch: 1,
            resolution: 16,
            fit: Fit::Stretch,
            note,
            loss: Loss::Bce,
            net,
        }
    }

    #[test]
    fn batches_keep_each_posters_place_and_scores_whatever_shares_its_batch() {
        let dir = tempfile::tempdir().unwrap();
        // More posters than a batch, bad files among them (in both batches).
        let paths: Vec<PathBuf> = (0..BATCH + 6)
            .map(|i| {
                let path = dir.path().join(format!("{i:03}.png"));
                if i % 29 == 3 {
                    std::fs::write(&path, b"not an image").unwrap();
                } else {
                    let c = (i * 37 % 256) as u8;
                    RgbImage::from_fn(20, 30, |x, y| Rgb([c, (x * 9) as u8, (y * 7) as u8]))
                        .save(&path)
                        .unwrap();
                }
                path
            })
            .collect();
        let mut p = predictor();
        let all = p.predict(&paths, &Quiet).unwrap();
        assert_eq!(all.len(), paths.len());
        for (i, (path, got)) in paths.iter().zip(&all).enumerate() {
            let alone = p.predict(std::slice::from_ref(path), &Quiet).unwrap();
            match (got, &alone[0]) {
                (Ok(got), Ok(alone)) => {
                    assert_eq!(got.len(), 5);
                    // The fast layers work image by image: the same bits.
                    assert_eq!(got, alone, "poster {i}");
                }
                (Err(BadImage::Undecodable(_)), Err(BadImage::Undecodable(_))) => {
                    assert_eq!(i % 29, 3)
                }
                other => panic!("poster {i}: {other:?}"),
            }
        }
        assert_ne!(all[0], all[1], "different posters, different scores");
    }
}
