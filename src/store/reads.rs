//! Reading the store back: runs, their epochs, per-genre counts and test
//! predictions. Rows are read by column name (`rows`).

use std::collections::HashMap;
use std::path::PathBuf;

use rusqlite::{params, OptionalExtension};

use super::rows::{
    epoch_row, genre_counts, rescore_row, run_row, GenreRow, PosterPrediction, RescoreRow,
    EPOCH_COLUMNS, RUN_COLUMNS,
};
use super::{EpochRow, Result, RunRow, Store};
use crate::metric::Split;
use crate::spec::Rule;
use crate::train::metrics::GenreCounts;

impl Store {
    /// The latest run of a spec hash.
    pub fn latest_run(&self, spec_hash: &str) -> Result<Option<RunRow>> {
        self.conn
            .query_row(
                &format!(
                    "SELECT {RUN_COLUMNS} FROM runs r WHERE r.spec_hash = ?1 ORDER BY r.id DESC LIMIT 1"
                ),
                [spec_hash],
                run_row,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn epochs_done(&self, id: i64) -> Result<usize> {
        self.conn
            .query_row("SELECT epochs_done FROM runs WHERE id = ?1", [id], |r| {
                r.get::<_, i64>("epochs_done")
            })
            .map(|n| n as usize)
            .map_err(|e| self.err(e))
    }

    pub(super) fn genres(&self, id: i64) -> Result<Vec<String>> {
        let text: String = self
            .conn
            .query_row("SELECT genres FROM runs WHERE id = ?1", [id], |r| {
                r.get("genres")
            })
            .map_err(|e| self.err(e))?;
        serde_json::from_str(&text).map_err(|e| self.err(format!("run {id}: genres: {e}")))
    }

    /// Every run, oldest first.
    pub fn runs(&self) -> Result<Vec<RunRow>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {RUN_COLUMNS} FROM runs r ORDER BY r.id"))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], run_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// Every epoch (train and val) and the test row of run `id`, by epoch.
    pub fn epochs(&self, id: i64) -> Result<Vec<EpochRow>> {
        let mut stmt = self
            .conn
            .prepare(
                &format!(
                    "SELECT {EPOCH_COLUMNS} FROM metrics m JOIN runs r ON r.id = m.run_id \
                 LEFT JOIN epochs e ON e.run_id = m.run_id AND e.epoch = m.epoch AND m.split != 'test' \
                 WHERE m.run_id = ?1 \
                 ORDER BY m.split = 'test', m.epoch, m.split"
                ),
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], epoch_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// Per-genre counts of run `id` on `split` at `epoch`, in genre order.
    pub fn genre_counts(&self, id: i64, split: Split, epoch: usize) -> Result<Vec<GenreRow>> {
        let genres = self.genres(id)?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT genre, tp, fp, fn, tn FROM genre_metrics \
                 WHERE run_id = ?1 AND split = ?2 AND epoch = ?3",
            )
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query_map(params![id, split.as_str(), epoch as i64], |r| {
                Ok(GenreRow {
                    genre: r.get("genre")?,
                    counts: genre_counts(r)?,
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        rows.sort_by_key(|r| genres.iter().position(|g| *g == r.genre));
        Ok(rows)
    }

    /// The image file of each test poster of run `id`, by poster id, as
    /// recorded at test time; empty for runs recorded before the store
    /// kept them (schema 1: see `data::RecordedElsewhere`).
    pub fn test_images(&self, id: i64) -> Result<HashMap<String, PathBuf>> {
        if self.version < 2 {
            return Ok(HashMap::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT poster, image FROM test_posters WHERE run_id = ?1")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok((
                    r.get::<_, String>("poster")?,
                    PathBuf::from(r.get::<_, String>("image")?),
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<HashMap<_, _>>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// The `split` (test or val) predictions of run `id`, poster by poster
    /// (in poster id order), each with one entry per genre in the run's
    /// genre order. None for validation from runs recorded before the store
    /// kept them (schema < 3, or a run tested before).
    pub fn predictions(&self, id: i64, split: Split) -> Result<Vec<PosterPrediction>> {
        let genres = self.genres(id)?;
        let sql = if self.version < 3 {
            if split != Split::Test {
                return Ok(Vec::new());
            }
            "SELECT poster, genre, truth, probability, predicted FROM predictions \
             WHERE run_id = ?1 AND 'test' = ?2 ORDER BY poster"
        } else {
            "SELECT poster, genre, truth, probability, predicted FROM predictions \
             WHERE run_id = ?1 AND split = ?2 ORDER BY poster"
        };
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![id, split.as_str()], |r| {
                Ok((
                    r.get::<_, String>("poster")?,
                    r.get::<_, String>("genre")?,
                    r.get::<_, bool>("truth")?,
                    r.get::<_, f64>("probability")?,
                    r.get::<_, bool>("predicted")?,
                ))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        let mut out: Vec<PosterPrediction> = Vec::new();
        for (poster, genre, truth, probability, predicted) in rows {
            if out.last().is_none_or(|p| p.poster != poster) {
                out.push(PosterPrediction {
                    poster,
                    truth: vec![false; genres.len()],
                    probability: vec![0.0; genres.len()],
                    predicted: vec![false; genres.len()],
                });
            }
            let p = out.last_mut().expect("pushed above");
            if let Some(g) = genres.iter().position(|x| *x == genre) {
                p.truth[g] = truth;
                p.probability[g] = probability as f32;
                p.predicted[g] = predicted;
            }
        }
        Ok(out)
    }

    /// The rule of run `id` and its spec's threshold.
    pub fn rule(&self, id: i64) -> Result<(Rule, f64)> {
        let (name, threshold): (String, f64) = self
            .conn
            .query_row(
                "SELECT decision, threshold FROM runs WHERE id = ?1",
                [id],
                |r| Ok((r.get("decision")?, r.get("threshold")?)),
            )
            .map_err(|e| self.err(e))?;
        let rule = Rule::parse(&name)
            .ok_or_else(|| self.err(format!("run {id}: unknown decision rule {name:?}")))?;
        Ok((rule, threshold))
    }

    /// The thresholds the tuned rule `rule` (a [`crate::train::decision::label`])
    /// chose for run `id`: genre → threshold, `*` for the one over all
    /// genres. Empty when it chose none.
    pub fn thresholds(&self, id: i64, rule: &str) -> Result<Vec<(String, f64)>> {
        if self.version < 3 {
            return Ok(Vec::new());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT genre, threshold FROM thresholds WHERE run_id = ?1 AND rule = ?2")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![id, rule], |r| {
                Ok((r.get("genre")?, r.get("threshold")?))
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e));
        rows
    }

    /// Run `id`'s test metrics re-scored under other rules
    /// (`posterlab rescore`), by rule label.
    pub fn rescores(&self, id: i64) -> Result<Vec<RescoreRow>> {
        if self.version < 3 {
            return Ok(Vec::new());
        }
        let genres = self.genres(id)?;
        let mut stmt = self
            .conn
            .prepare("SELECT * FROM rescores WHERE run_id = ?1 ORDER BY rule")
            .map_err(|e| self.err(e))?;
        let mut rows = stmt
            .query_map([id], rescore_row)
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(|e| self.err(e))?;
        let mut stmt = self
            .conn
            .prepare(
                "SELECT genre, tp, fp, fn, tn FROM rescore_genres WHERE run_id = ?1 AND rule = ?2",
            )
            .map_err(|e| self.err(e))?;
        for row in &mut rows {
            let counts = stmt
                .query_map(params![id, row.rule], |r| {
                    Ok((r.get::<_, String>("genre")?, genre_counts(r)?))
                })
                .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
                .map_err(|e| self.err(e))?;
            row.metrics.per_genre = genres
                .iter()
                .map(|g| {
                    counts
                        .iter()
                        .find(|(name, _)| name == g)
                        .map_or_else(GenreCounts::default, |(_, c)| *c)
                })
                .collect();
        }
        Ok(rows)
    }
}
