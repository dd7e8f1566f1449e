//! Writing files so that a crash at any instant leaves the old bytes or the
//! new ones, never a torn file.

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
