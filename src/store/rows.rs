//! The store's row types — what is written about a run, and what reading
//! gives back — and how a SQL row becomes one, always by column name.

use std::fmt;
use std::path::PathBuf;

use crate::metric::{Metric, Split};
use crate::spec::Rule;
use crate::train::metrics::{GenreCounts, Metrics};

/// A stored name this build does not know (a newer posterlab's, or edited).
pub(super) fn unknown(column: &str, name: &str) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Text,
        format!("unknown {column} `{name}`").into(),
    )
}

/// A run's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Running,
    Finished,
    Failed,
    Interrupted,
    Diverged,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Finished => "finished",
            Status::Failed => "failed",
            Status::Interrupted => "interrupted",
            Status::Diverged => "diverged",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Running,
            Status::Finished,
            Status::Failed,
            Status::Interrupted,
            Status::Diverged,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is recorded about a run before its first epoch.
#[derive(Debug, Clone)]
pub struct NewRun {
    pub name: String,
    pub experiment: String,
    pub tags: Vec<String>,
    pub spec_hash: String,
    pub spec_toml: String,
    pub spec_file: String,
    pub swept: Vec<(String, String)>,
    pub epochs_planned: usize,
    pub monitor: String,
    pub decision: String,
    pub threshold: f64,
    pub genres: Vec<String>,
    pub dataset: String,
    pub dataset_csv: String,
    pub dataset_hash: String,
    pub split_sizes: [usize; 3],
    pub params: usize,
    pub device: String,
    pub host: String,
    pub git_commit: Option<String>,
    pub version: String,
    pub checkpoint_dir: String,
}

/// One row of `runs`, as listings need it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunRow {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub experiment: String,
    pub tags: Vec<String>,
    pub spec_hash: String,
    pub spec_toml: String,
    pub status: Status,
    pub status_epoch: Option<usize>,
    pub error: Option<String>,
    pub epochs_planned: usize,
    pub epochs_done: usize,
    pub best_epoch: Option<usize>,
    pub stopped_early: bool,
    /// The validation metric that picks the best epoch (`train.monitor`).
    pub monitor: Metric,
    /// How the run's scores become predicted genres (`train.decision`),
    /// and `train.threshold`, which the plain rules read.
    pub rule: Rule,
    pub threshold: f64,
    pub genres: Vec<String>,
    pub dataset: String,
    pub dataset_hash: String,
    pub dataset_csv: String,
    /// Swept field → value.
    pub swept: Vec<(String, String)>,
    pub checkpoint_dir: PathBuf,
    pub train_seconds: f64,
    pub created_at: String,
    /// When the run was last written: its record, an epoch, its status.
    pub updated_at: String,
    pub finished_at: Option<String>,
    /// The lowest validation loss of any epoch.
    pub best_val_loss: Option<f64>,
    pub test_micro_f1: Option<f64>,
}

/// The columns [`run_row`] reads: every column of `runs`, by its name, and
/// two summaries of its metrics.
pub(super) const RUN_COLUMNS: &str = "r.*, \
    (SELECT min(loss) FROM metrics m WHERE m.run_id = r.id AND m.split = 'val') AS best_val_loss, \
    (SELECT micro_f1 FROM metrics m WHERE m.run_id = r.id AND m.split = 'test') AS test_micro_f1";

/// A row of `SELECT {RUN_COLUMNS} FROM runs r`.
pub(super) fn run_row(row: &rusqlite::Row) -> rusqlite::Result<RunRow> {
    let json_list = |column: &str| -> rusqlite::Result<Vec<String>> {
        let text: String = row.get(column)?;
        Ok(serde_json::from_str(&text).unwrap_or_default())
    };
    let count =
        |column: &str| -> rusqlite::Result<usize> { Ok(row.get::<_, i64>(column)? as usize) };
    let epoch = |column: &str| -> rusqlite::Result<Option<usize>> {
        Ok(row.get::<_, Option<i64>>(column)?.map(|e| e as usize))
    };
    let status: String = row.get("status")?;
    Ok(RunRow {
        id: row.get("id")?,
        uid: row.get("uid")?,
        name: row.get("name")?,
        experiment: row.get("experiment")?,
        tags: json_list("tags")?,
        spec_hash: row.get("spec_hash")?,
        spec_toml: row.get("spec_toml")?,
        status: Status::parse(&status).unwrap_or(Status::Failed),
        status_epoch: epoch("status_epoch")?,
        error: row.get("error")?,
        epochs_planned: count("epochs_planned")?,
        epochs_done: count("epochs_done")?,
        best_epoch: epoch("best_epoch")?,
        stopped_early: row.get("stopped_early")?,
        monitor: {
            let name: String = row.get("monitor")?;
            name.strip_prefix("val_")
                .and_then(Metric::parse)
                .ok_or_else(|| unknown("monitor", &name))?
        },
        rule: {
            let name: String = row.get("decision")?;
            Rule::parse(&name).ok_or_else(|| unknown("decision", &name))?
        },
        threshold: row.get("threshold")?,
        genres: json_list("genres")?,
        dataset: row.get("dataset")?,
        dataset_hash: row.get("dataset_hash")?,
        dataset_csv: row.get("dataset_csv")?,
        swept: {
            let text: String = row.get("swept")?;
            serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&text)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_string()))
                .collect()
        },
        checkpoint_dir: PathBuf::from(row.get::<_, String>("checkpoint_dir")?),
        train_seconds: row.get("train_seconds")?,
        created_at: row.get("created_at")?,
        updated_at: row.get("updated_at")?,
        finished_at: row.get("finished_at")?,
        best_val_loss: row.get("best_val_loss")?,
        test_micro_f1: row.get("test_micro_f1")?,
    })
}

/// One epoch of one split, for tables and export.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EpochRow {
    pub run_id: i64,
    pub run: String,
    pub epoch: usize,
    pub split: Split,
    /// The rule that turned the scores into the predictions these metrics
    /// count (a label: `threshold:0.5`, `tuned`, …); for the run's own rows
    /// its `train.decision`, for a rescore the rule re-scored under.
    pub decision: String,
    pub lr: Option<f64>,
    pub seconds: Option<f64>,
    pub images_per_sec: Option<f64>,
    pub posters: usize,
    pub loss: Option<f64>,
    pub micro_precision: f64,
    pub micro_recall: f64,
    pub micro_f1: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub samples_f1: f64,
    pub subset_accuracy: f64,
    pub binary_accuracy: f64,
    pub hamming_loss: f64,
    pub micro_ap: f64,
    pub macro_ap: f64,
}

impl EpochRow {
    /// The value of `metric` in this row (a loss that was not finite is
    /// stored as NULL and reads as NaN).
    pub fn value(&self, metric: Metric) -> f64 {
        match metric {
            Metric::Loss => self.loss.unwrap_or(f64::NAN),
            Metric::MicroPrecision => self.micro_precision,
            Metric::MicroRecall => self.micro_recall,
            Metric::MicroF1 => self.micro_f1,
            Metric::MacroPrecision => self.macro_precision,
            Metric::MacroRecall => self.macro_recall,
            Metric::MacroF1 => self.macro_f1,
            Metric::SamplesF1 => self.samples_f1,
            Metric::SubsetAccuracy => self.subset_accuracy,
            Metric::BinaryAccuracy => self.binary_accuracy,
            Metric::HammingLoss => self.hamming_loss,
            Metric::MicroAp => self.micro_ap,
            Metric::MacroAp => self.macro_ap,
        }
    }
}

/// The columns [`epoch_row`] reads, named as [`EpochRow`]'s fields.
pub(super) const EPOCH_COLUMNS: &str = "m.run_id AS run_id, r.name AS run, m.epoch AS epoch, \
    m.split AS split, r.decision AS decision, r.threshold AS threshold, e.lr AS lr, e.seconds AS seconds, e.images_per_sec AS images_per_sec, \
    m.posters AS posters, m.loss AS loss, m.micro_precision AS micro_precision, \
    m.micro_recall AS micro_recall, m.micro_f1 AS micro_f1, m.macro_precision AS macro_precision, \
    m.macro_recall AS macro_recall, m.macro_f1 AS macro_f1, m.samples_f1 AS samples_f1, \
    m.subset_accuracy AS subset_accuracy, m.binary_accuracy AS binary_accuracy, \
    m.hamming_loss AS hamming_loss, m.micro_ap AS micro_ap, m.macro_ap AS macro_ap";

/// A row of `SELECT {EPOCH_COLUMNS} FROM metrics m JOIN runs r … LEFT JOIN epochs e …`.
pub(super) fn epoch_row(r: &rusqlite::Row) -> rusqlite::Result<EpochRow> {
    let count = |column: &str| -> rusqlite::Result<usize> { Ok(r.get::<_, i64>(column)? as usize) };
    Ok(EpochRow {
        run_id: r.get("run_id")?,
        run: r.get("run")?,
        epoch: count("epoch")?,
        split: {
            let name: String = r.get("split")?;
            Split::parse(&name).ok_or_else(|| unknown("split", &name))?
        },
        decision: {
            let name: String = r.get("decision")?;
            let rule = Rule::parse(&name).ok_or_else(|| unknown("decision", &name))?;
            crate::train::decision::label(rule, r.get("threshold")?)
        },
        lr: r.get("lr")?,
        seconds: r.get("seconds")?,
        images_per_sec: r.get("images_per_sec")?,
        posters: count("posters")?,
        loss: r.get("loss")?,
        micro_precision: r.get("micro_precision")?,
        micro_recall: r.get("micro_recall")?,
        micro_f1: r.get("micro_f1")?,
        macro_precision: r.get("macro_precision")?,
        macro_recall: r.get("macro_recall")?,
        macro_f1: r.get("macro_f1")?,
        samples_f1: r.get("samples_f1")?,
        subset_accuracy: r.get("subset_accuracy")?,
        binary_accuracy: r.get("binary_accuracy")?,
        hamming_loss: r.get("hamming_loss")?,
        micro_ap: r.get("micro_ap")?,
        macro_ap: r.get("macro_ap")?,
    })
}

/// One test poster's truth, scores and predictions, per genre.
#[derive(Debug, Clone, PartialEq)]
pub struct PosterPrediction {
    pub poster: String,
    pub truth: Vec<bool>,
    /// The model's scores, as computed (f32, stored exactly as REAL).
    pub probability: Vec<f32>,
    pub predicted: Vec<bool>,
}

impl PosterPrediction {
    /// Predictions as the metrics take them: targets (0/1) and scores,
    /// `posters × genres`, row-major.
    pub fn flatten(predictions: &[PosterPrediction]) -> (Vec<u8>, Vec<f32>) {
        let targets = predictions
            .iter()
            .flat_map(|p| p.truth.iter().map(|&t| u8::from(t)))
            .collect();
        let scores = predictions
            .iter()
            .flat_map(|p| p.probability.iter().copied())
            .collect();
        (targets, scores)
    }
}

/// One genre's test counts.
#[derive(Debug, Clone, PartialEq)]
pub struct GenreRow {
    pub genre: String,
    pub counts: GenreCounts,
}

/// A run's test metrics under another rule (`posterlab rescore`).
#[derive(Debug, Clone, PartialEq)]
pub struct RescoreRow {
    /// The rule's label: `threshold:0.3`, `relative:0.5`, `top_k:3`, `tuned`,
    /// `tuned_per_genre`.
    pub rule: String,
    /// The epoch whose predictions were re-scored (the tested one).
    pub epoch: usize,
    pub posters: usize,
    pub metrics: Metrics,
    pub recorded_at: String,
}

impl RescoreRow {
    /// The rescore as a test row of `own`'s run (the run's own test row):
    /// what `export` lists after it. The loss does not depend on the rule.
    pub fn as_epoch_row(&self, own: &EpochRow) -> EpochRow {
        let m = &self.metrics;
        EpochRow {
            decision: self.rule.clone(),
            epoch: self.epoch,
            posters: self.posters,
            micro_precision: m.micro_precision,
            micro_recall: m.micro_recall,
            micro_f1: m.micro_f1,
            macro_precision: m.macro_precision,
            macro_recall: m.macro_recall,
            macro_f1: m.macro_f1,
            samples_f1: m.samples_f1,
            subset_accuracy: m.subset_accuracy,
            binary_accuracy: m.binary_accuracy,
            hamming_loss: m.hamming_loss,
            micro_ap: m.micro_ap,
            macro_ap: m.macro_ap,
            ..own.clone()
        }
    }
}

/// The `tp`, `fp`, `fn`, `tn` columns of a `genre_metrics` or
/// `rescore_genres` row.
pub(super) fn genre_counts(r: &rusqlite::Row) -> rusqlite::Result<GenreCounts> {
    let n = |column: &str| -> rusqlite::Result<u64> { Ok(r.get::<_, i64>(column)? as u64) };
    Ok(GenreCounts {
        tp: n("tp")?,
        fp: n("fp")?,
        fn_: n("fn")?,
        tn: n("tn")?,
    })
}

/// A row of `rescores`; its per-genre counts are read apart.
pub(super) fn rescore_row(row: &rusqlite::Row) -> rusqlite::Result<RescoreRow> {
    Ok(RescoreRow {
        rule: row.get("rule")?,
        epoch: row.get::<_, i64>("epoch")? as usize,
        posters: row.get::<_, i64>("posters")? as usize,
        metrics: Metrics {
            micro_precision: row.get("micro_precision")?,
            micro_recall: row.get("micro_recall")?,
            micro_f1: row.get("micro_f1")?,
            macro_precision: row.get("macro_precision")?,
            macro_recall: row.get("macro_recall")?,
            macro_f1: row.get("macro_f1")?,
            samples_f1: row.get("samples_f1")?,
            subset_accuracy: row.get("subset_accuracy")?,
            binary_accuracy: row.get("binary_accuracy")?,
            hamming_loss: row.get("hamming_loss")?,
            micro_ap: row.get("micro_ap")?,
            macro_ap: row.get("macro_ap")?,
            per_genre: Vec::new(),
        },
        recorded_at: row.get("recorded_at")?,
    })
}
