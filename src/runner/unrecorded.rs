//! How a run ended, kept beside its checkpoints when the database could not
//! be written (a full disk, a lost network filesystem), so that it is not
//! left `running` with no word of what happened.
//!
//! The note is a small JSON file in the run's checkpoint folder
//! ([`NOTE`]); the next `posterlab run` that claims the run records it in
//! the database, says so, and removes the note (posterlab's own file).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::files::write_atomic;
use crate::store::{RunRow, Status, Store};
use crate::train::record::Error;

/// The note's file name in the run's checkpoint folder.
pub const NOTE: &str = "unrecorded-end.json";

#[derive(Debug, Serialize, Deserialize)]
struct Note {
    run_id: i64,
    status: String,
    epoch: Option<usize>,
    error: Option<String>,
    /// Why the database refused it.
    database_error: String,
    /// Seconds since the Unix epoch.
    at: u64,
}

fn note_path(dir: &Path) -> PathBuf {
    dir.join(NOTE)
}

/// Records how run `id` ended; when the database cannot take it, writes the
/// note instead and returns an error that says both.
pub fn set_status(
    store: &mut Store,
    id: i64,
    dir: &Path,
    status: Status,
    epoch: Option<usize>,
    error: Option<&str>,
) -> Result<(), Error> {
    let Err(db_error) = store.set_status(id, status, epoch, error) else {
        return Ok(());
    };
    let note = Note {
        run_id: id,
        status: status.to_string(),
        epoch,
        error: error.map(str::to_string),
        database_error: db_error.to_string(),
        at: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    };
    let path = note_path(dir);
    let text = serde_json::to_string_pretty(&note).expect("the note serialises");
    let kept = write_atomic(&path, true, |w| {
        std::io::Write::write_all(w, text.as_bytes())
    });
    let what = error.map_or(String::new(), |e| format!(" ({e})"));
    Err(match kept {
        Ok(()) => format!(
            "the run {status}{what}, but the database could not record it: {db_error}\n  \
             help: kept in {}; the next `posterlab run` of this spec records it once the database \
             can be written (free some space on its disk)",
            path.display()
        ),
        Err(e) => format!(
            "the run {status}{what}, but neither the database ({db_error}) nor {} ({e}) could record \
             it, so it stays `running` in the database\n  help: free some space; the next \
             `posterlab run` of this spec resumes it",
            path.display()
        ),
    }
    .into())
}

/// Records the note left for `run`, if there is one; returns what to tell
/// the user.
pub fn apply(store: &mut Store, run: &RunRow) -> Result<Option<String>, Error> {
    let path = note_path(&run.checkpoint_dir);
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let note: Note = match serde_json::from_str(&text) {
        Ok(note) => note,
        Err(e) => {
            return Err(format!(
                "{}: unreadable ({e})\n  help: it says how run {} ended when the database could not be \
                 written; read it, then remove it to go on",
                path.display(),
                run.id
            )
            .into())
        }
    };
    // Recorded only over `running`: a status the database took since (the
    // run resumed and ended) is newer than the note.
    let status = Status::parse(&note.status).filter(|_| note.run_id == run.id);
    let recorded = match status {
        Some(status) if run.status == Status::Running => {
            store.set_status(run.id, status, note.epoch, note.error.as_deref())?;
            "recorded now".to_string()
        }
        _ => format!("the database says `{}` since, and keeps that", run.status),
    };
    std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    Ok(Some(format!(
        "run {} ended `{}`{} in an earlier attempt, but the database could not be written then ({}); \
         {recorded}",
        run.id,
        note.status,
        note.error.map_or(String::new(), |e| format!(" ({e})")),
        note.database_error
    )))
}
