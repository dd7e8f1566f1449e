//! The report's output folder, and when posterlab may write into it.
//!
//! A report writes `index.html`, `results.{md,csv,tex}`, `compare/`,
//! `paper/` and `runs/`, replacing what an earlier report wrote there. So
//! it writes only into a folder that is posterlab's: a new one, an empty one
//! (a `.gitkeep` placeholder aside), or one that carries [`MARKER`] (which
//! the first report writes). A folder with anything else in it, such as the project
//! root, `results/`, or a thesis folder, is refused before a byte is
//! written.

use std::path::Path;

use crate::files::write_atomic;

/// The file that marks a folder as posterlab's report folder.
pub const MARKER: &str = ".posterlab-report";

const MARKER_TEXT: &str = "This folder is written by `posterlab report`: posterlab replaces the \
files it wrote here (index.html, results.*, compare/, paper/, runs/) and nothing else.\n";

/// The title every index page posterlab wrote carries: a report folder made
/// before the marker existed is recognised by it.
pub const INDEX_TITLE: &str = "<title>posterlab report</title>";

/// Makes `out` a report folder, or says why it cannot be one.
pub fn claim(out: &Path) -> Result<(), String> {
    match std::fs::metadata(out) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return mark(out),
        Ok(meta) if !meta.is_dir() => {
            return Err(format!(
                "{} is a file, not a folder\n  help: name a new folder for the report with --out",
                out.display()
            ))
        }
        _ => {}
    }
    let listing =
        std::fs::read_dir(out).map_err(|e| format!("cannot read {}: {e}", out.display()))?;
    let mut foreign = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| format!("cannot read {}: {e}", out.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == MARKER {
            return Ok(());
        }
        if name != ".gitkeep" {
            foreign.push(name);
        }
    }
    if foreign.is_empty() || is_legacy_report(out) {
        return mark(out);
    }
    foreign.sort();
    Err(format!(
        "{} holds files posterlab did not write ({}), so posterlab will not write a report there: \
         it would replace index.html, results.md, results.csv, results.tex, compare/, paper/ and runs/\n  \
         help: name a new or empty folder with --out (the default is reports/)",
        out.display(),
        crate::text::some_of(&foreign, 3)
    ))
}

/// A report folder written before [`MARKER`] existed: its index page is
/// posterlab's.
fn is_legacy_report(out: &Path) -> bool {
    std::fs::read_to_string(out.join("index.html"))
        .is_ok_and(|t| t.starts_with("<!doctype html>") && t.contains(INDEX_TITLE))
}

fn mark(out: &Path) -> Result<(), String> {
    let path = out.join(MARKER);
    write_atomic(&path, false, |w| {
        std::io::Write::write_all(w, MARKER_TEXT.as_bytes())
    })
    .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_goes_only_into_a_folder_that_is_posterlabs() {
        let dir = tempfile::tempdir().unwrap();
        let new = dir.path().join("new");
        claim(&new).unwrap();
        assert!(new.join(MARKER).is_file());
        claim(&new).unwrap();

        let placeholder = dir.path().join("reports");
        std::fs::create_dir(&placeholder).unwrap();
        std::fs::write(placeholder.join(".gitkeep"), "").unwrap();
        claim(&placeholder).unwrap();

        let thesis = dir.path().join("thesis");
        std::fs::create_dir(&thesis).unwrap();
        std::fs::write(thesis.join("index.html"), "<p>my own page</p>").unwrap();
        std::fs::write(thesis.join("chapter1.tex"), "x").unwrap();
        let e = claim(&thesis).unwrap_err();
        assert!(
            e.contains("holds files posterlab did not write (chapter1.tex, index.html)"),
            "{e}"
        );
        assert!(!thesis.join(MARKER).exists());

        let old = dir.path().join("old");
        std::fs::create_dir(&old).unwrap();
        std::fs::write(
            old.join("index.html"),
            format!("<!doctype html>\n<html>\n<head>{INDEX_TITLE}</head></html>"),
        )
        .unwrap();
        claim(&old).unwrap();

        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(claim(&file).unwrap_err().contains("is a file"));
    }
}
