//! `posterlab predict`: a finished run's genres for new posters, as a
//! table, CSV or JSON. Posters that cannot be read are named on stderr and
//! skipped; the exit code says whether any were.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use posterlab::progress::Progress as _;
use posterlab::runner::predict::{self, Chosen, Predictor};
use posterlab::spec::Rule;
use posterlab::store::RunRow;
use posterlab::text::{plural, printable};

use super::progress::Bars;
use super::runs::{one_run, open_existing};
use posterlab::train::decision::parse_rule;

/// Genres listed after a poster's predicted ones in the table: the most
/// probable of those below the cut.
const ALSO: usize = 3;

#[derive(Args)]
pub struct PredictArgs {
    /// Run id, name or spec-hash prefix (one finished run).
    run: String,
    /// Poster files and folders (a folder: its files, sorted by name; not
    /// its subfolders or hidden files).
    #[arg(required = true, value_name = "IMAGE_OR_DIR")]
    inputs: Vec<PathBuf>,
    /// The rule (default: the run's own): threshold[:T], relative[:T] (T:
    /// default the run's train.threshold), top_k:K, tuned or tuned_per_genre
    /// (thresholds chosen on the run's stored validation predictions).
    #[arg(long, value_name = "RULE", value_parser = parse_rule)]
    decision: Option<(Rule, Option<f64>)>,
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write here instead of standard output (a new file, or an earlier
    /// predict output of the same format).
    #[arg(long, short, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// What `predict` writes.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Per poster: its predicted genres with their probabilities, then the
    /// next most probable below the cut.
    Table,
    /// One row per poster: path, predicted genres (`|`-joined, most
    /// probable first), then one probability column per genre.
    Csv,
    /// An array of objects: path, predicted [{genre, probability}],
    /// probabilities {genre: probability}.
    Json,
}

impl Format {
    fn what(self) -> &'static str {
        match self {
            Format::Table => "a predict table",
            Format::Csv => "a predict CSV",
            Format::Json => "a predict JSON file",
        }
    }
}

/// The first line of a table, by which `--out` knows one it wrote.
const TABLE_HEAD: &str = "posterlab predict: ";

/// One poster scored: its path as given, its probabilities (genre order)
/// and the genres the decision predicts.
struct Scored {
    path: PathBuf,
    probabilities: Vec<f32>,
    predicted: Vec<bool>,
}

impl Scored {
    /// Genre indices, most probable first (ties in genre order), split
    /// into the predicted ones and the others.
    fn ranked(&self) -> (Vec<usize>, Vec<usize>) {
        let mut order: Vec<usize> = (0..self.probabilities.len()).collect();
        order.sort_by(|&a, &b| self.probabilities[b].total_cmp(&self.probabilities[a]));
        order.into_iter().partition(|&g| self.predicted[g])
    }
}

pub fn predict(db: &Path, args: &PredictArgs, bars: &Bars) -> Result<ExitCode> {
    if let Some(out) = &args.out {
        posterlab::files::may_replace(out, args.format.what(), |p| is_output(p, args.format))
            .map_err(anyhow::Error::msg)?;
    }
    let store = open_existing(db)?;
    let run = one_run(&store, &args.run)?;
    let chosen = predict::decision(&store, &run, args.decision)?;
    let mut predictor = Predictor::load(&run)?;
    if let Some(note) = &predictor.note {
        bars.note(note);
    }
    let (paths, mut failed) = posters(&args.inputs);
    if paths.is_empty() {
        bail!("no poster to predict: the inputs name no file");
    }
    let outcomes = predictor.predict(&paths, bars)?;
    let mut scored = Vec::with_capacity(paths.len());
    for (path, outcome) in paths.into_iter().zip(outcomes) {
        match outcome {
            Ok(probabilities) => {
                let mut predicted = vec![false; probabilities.len()];
                chosen.decision.apply(&probabilities, &mut predicted);
                scored.push(Scored {
                    path,
                    probabilities,
                    predicted,
                });
            }
            Err(why) => {
                failed += 1;
                eprintln!(
                    "error: {}: {why}; skipped",
                    printable(&path.display().to_string())
                );
            }
        }
    }
    let bytes = match args.format {
        Format::Table => table(&run, predictor.epoch, &chosen, &scored),
        Format::Csv => csv(&predictor.genres, &scored)?,
        Format::Json => json(&predictor.genres, &scored)?,
    };
    match &args.out {
        Some(path) => {
            posterlab::files::write_atomic(path, true, |w| w.write_all(&bytes))
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!(
                "wrote the predictions for {} to {}",
                plural(scored.len(), "poster"),
                path.display()
            );
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    if failed == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "{} predicted; {} not (named above)",
        plural(scored.len(), "poster"),
        plural(failed, "input")
    );
    Ok(ExitCode::FAILURE)
}

/// The poster files `inputs` name: a file as given, a folder's files sorted
/// by name (not its subfolders or hidden files); and how many inputs gave
/// none (each named on stderr: an empty or unreadable folder). A missing
/// or unreadable file is left for decoding to report.
fn posters(inputs: &[PathBuf]) -> (Vec<PathBuf>, usize) {
    let (mut files, mut failed) = (Vec::new(), 0);
    for input in inputs {
        if !input.is_dir() {
            files.push(input.clone());
            continue;
        }
        let shown = printable(&input.display().to_string()).into_owned();
        let listing = match std::fs::read_dir(input) {
            Ok(listing) => listing,
            Err(e) => {
                failed += 1;
                eprintln!("error: {shown}: cannot read the folder: {e}");
                continue;
            }
        };
        let (mut found, mut subfolders) = (Vec::new(), 0);
        for entry in listing.flatten() {
            if entry.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = entry.path();
            if path.is_dir() {
                subfolders += 1;
            } else {
                found.push(path);
            }
        }
        if subfolders > 0 {
            eprintln!(
                "note: {shown}: {} not searched (a folder's files are its posters)",
                plural(subfolders, "subfolder")
            );
        }
        if found.is_empty() {
            failed += 1;
            eprintln!("error: {shown}: no poster files in this folder");
        }
        found.sort();
        files.extend(found);
    }
    (files, failed)
}

/// The table: a line naming the run and the rule, then one line per
/// poster: its predicted genres, then the next [`ALSO`] most probable.
fn table(run: &RunRow, epoch: usize, chosen: &Chosen, scored: &[Scored]) -> Vec<u8> {
    let genres: Vec<String> = run
        .genres
        .iter()
        .map(|g| printable(g).into_owned())
        .collect();
    let listed = |s: &Scored, gs: &[usize]| -> String {
        let parts: Vec<String> = gs
            .iter()
            .map(|&g| format!("{} {:.3}", genres[g], s.probabilities[g]))
            .collect();
        if parts.is_empty() {
            "-".to_string()
        } else {
            parts.join(", ")
        }
    };
    let rows: Vec<[String; 3]> = scored
        .iter()
        .map(|s| {
            let (predicted, others) = s.ranked();
            let also = &others[..others.len().min(ALSO)];
            [
                printable(&s.path.display().to_string()).into_owned(),
                listed(s, &predicted),
                listed(s, also),
            ]
        })
        .collect();
    let width = |i: usize, title: &str| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .max()
            .unwrap_or(0)
            .max(title.len())
    };
    let (w0, w1) = (width(0, "POSTER"), width(1, "PREDICTED"));
    let mut out = format!(
        "{TABLE_HEAD}run {} {} (epoch {epoch} weights), decision {}: {}\n\n",
        run.id,
        printable(&run.name),
        chosen.label,
        chosen.description
    );
    let also = format!("ALSO (the next {ALSO} most probable)");
    out.push_str(&format!(
        "{:<w0$}  {:<w1$}  {also}\n",
        "POSTER", "PREDICTED"
    ));
    for [poster, predicted, also] in &rows {
        out.push_str(&format!("{poster:<w0$}  {predicted:<w1$}  {also}\n"));
    }
    out.into_bytes()
}

/// The CSV: path, predicted genres (`|`-joined, most probable first), then
/// one probability column per genre, in the run's genre order.
fn csv(genres: &[String], scored: &[Scored]) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut w = csv::Writer::from_writer(&mut bytes);
    let mut header = vec!["path".to_string(), "predicted".to_string()];
    header.extend(genres.iter().map(|g| printable(g).into_owned()));
    w.write_record(&header)?;
    for s in scored {
        let (predicted, _) = s.ranked();
        let mut record = vec![
            printable(&s.path.display().to_string()).into_owned(),
            predicted
                .iter()
                .map(|&g| printable(&genres[g]).into_owned())
                .collect::<Vec<_>>()
                .join("|"),
        ];
        record.extend(s.probabilities.iter().map(f32::to_string));
        w.write_record(&record)?;
    }
    w.flush()?;
    drop(w);
    Ok(bytes)
}

/// One poster of the JSON output.
#[derive(serde::Serialize)]
struct JsonPoster<'a> {
    path: String,
    predicted: Vec<JsonGenre<'a>>,
    probabilities: Probabilities<'a>,
}

#[derive(serde::Serialize)]
struct JsonGenre<'a> {
    genre: &'a str,
    probability: f32,
}

/// Genre → probability, in the run's genre order, each probability as
/// the f32 the model gave (shortest round-trip digits).
struct Probabilities<'a> {
    genres: &'a [String],
    values: &'a [f32],
}

impl serde::Serialize for Probabilities<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.genres.len()))?;
        for (g, p) in self.genres.iter().zip(self.values) {
            map.serialize_entry(g, p)?;
        }
        map.end()
    }
}

fn json(genres: &[String], scored: &[Scored]) -> Result<Vec<u8>> {
    let posters: Vec<JsonPoster> = scored
        .iter()
        .map(|s| JsonPoster {
            path: s.path.to_string_lossy().into_owned(),
            predicted: s
                .ranked()
                .0
                .into_iter()
                .map(|g| JsonGenre {
                    genre: &genres[g],
                    probability: s.probabilities[g],
                })
                .collect(),
            probabilities: Probabilities {
                genres,
                values: &s.probabilities,
            },
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&posters)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Whether `path` holds an earlier predict output of `format` (which
/// predicting again may replace).
fn is_output(path: &Path, format: Format) -> bool {
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    let first = text.lines().next().unwrap_or_default();
    match format {
        Format::Table => first.starts_with(TABLE_HEAD),
        Format::Csv => first.starts_with("path,predicted,"),
        Format::Json => {
            serde_json::from_str::<Vec<serde_json::Map<String, serde_json::Value>>>(&text)
                .is_ok_and(|rows| {
                    rows.iter().all(|r| {
                        ["path", "predicted", "probabilities"]
                            .iter()
                            .all(|k| r.contains_key(*k))
                    })
                })
        }
    }
}
