//! Writing files so that a crash at any instant leaves the old bytes or the
//! new ones, never a torn file; and never over a file posterlab did not make.

use std::io::Write;
use std::path::Path;

/// Writes a file atomically: `write` fills a temporary file in the same
/// folder, which is then renamed over `path`. `durable` syncs the file before
/// the rename and the folder after it, so that after a power loss `path`
/// holds the old or the new bytes and the rename itself is on disk; without
/// it the new file may be torn (fine where a checksum catches that).
pub fn write_atomic(
    path: &Path,
    durable: bool,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        path.file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default(),
        std::process::id()
    ));
    let result = (|| {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        write(&mut out)?;
        out.flush()?;
        if durable {
            out.get_ref().sync_all()?;
        }
        drop(out);
        std::fs::rename(&tmp, path)?;
        if durable {
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A kind of file posterlab recognises by its first bytes, whatever its
/// name, and never writes output over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protected {
    /// A SQLite database: the run database, or anyone's.
    Sqlite,
    /// posterlab's decoded-poster cache.
    Cache,
    /// A safetensors file: a checkpoint.
    Checkpoint,
}

impl Protected {
    fn describe(self) -> &'static str {
        match self {
            Protected::Sqlite => "a SQLite database",
            Protected::Cache => "posterlab's decoded-poster cache",
            Protected::Checkpoint => "a checkpoint (safetensors)",
        }
    }
}

/// What the first bytes of the file at `path` say it is; `None` for any
/// other file (a CSV, an export, an empty file).
pub fn recognise(path: &Path) -> std::io::Result<Option<Protected>> {
    use std::io::Read;
    let mut head = [0u8; 16];
    let mut file = std::fs::File::open(path)?;
    let mut n = 0;
    while n < head.len() {
        match file.read(&mut head[n..])? {
            0 => break,
            k => n += k,
        }
    }
    let head = &head[..n];
    let safetensors = n >= 9
        && head[8] == b'{'
        // An 8-byte little-endian header length, then its JSON.
        && u64::from_le_bytes(head[..8].try_into().expect("8 bytes")) < 1 << 30;
    Ok(if head.starts_with(b"SQLite format 3\0") {
        Some(Protected::Sqlite)
    } else if head.starts_with(b"PLTCACHE") {
        Some(Protected::Cache)
    } else if safetensors {
        Some(Protected::Checkpoint)
    } else {
        None
    })
}

/// Checks that posterlab may write a file at `path`: it does not exist, or
/// it is a file that `ours` recognises as one posterlab wrote (a previous
/// export, say; `what` names it with its article: "an export"). Refuses folders, databases, checkpoints, caches and every
/// other existing file, with what to do.
pub fn may_replace(
    path: &Path,
    what: &str,
    ours: impl FnOnce(&Path) -> bool,
) -> Result<(), String> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let refuse = |why: String| {
        Err(format!(
            "{} {why}\n  help: choose another path (a new file, or {what} posterlab wrote earlier)",
            path.display()
        ))
    };
    if meta.is_dir() {
        return refuse("is a folder".to_string());
    }
    if let Some(kind) = recognise(path).map_err(|e| format!("{}: {e}", path.display()))? {
        return refuse(format!(
            "is {}: posterlab never writes over one",
            kind.describe()
        ));
    }
    if ours(path) {
        Ok(())
    } else {
        refuse(format!(
            "exists and is not {what} written by posterlab; posterlab writes over only what it made"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protected_files_are_recognised_by_their_first_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let file = |name: &str, bytes: &[u8]| {
            let p = dir.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        };
        let db = file("notes.txt", b"SQLite format 3\0rest of the page");
        assert_eq!(recognise(&db).unwrap(), Some(Protected::Sqlite));
        let ckpt = file("x.bin", b"\x10\0\0\0\0\0\0\0{\"__metadata__\"");
        assert_eq!(recognise(&ckpt).unwrap(), Some(Protected::Checkpoint));
        let cache = file("c", b"PLTCACHE\x01");
        assert_eq!(recognise(&cache).unwrap(), Some(Protected::Cache));
        let csv = file("a.csv", b"run_id,run\n");
        assert_eq!(recognise(&csv).unwrap(), None);
        assert!(may_replace(&csv, "an export", |_| true).is_ok());
        let e = may_replace(&csv, "an export", |_| false).unwrap_err();
        assert!(
            e.contains("exists and is not an export written by posterlab"),
            "{e}"
        );
        assert!(may_replace(&db, "an export", |_| true)
            .unwrap_err()
            .contains("SQLite"));
        assert!(may_replace(dir.path(), "an export", |_| true)
            .unwrap_err()
            .contains("folder"));
        assert!(may_replace(&dir.path().join("new.csv"), "an export", |_| false).is_ok());
    }
}
