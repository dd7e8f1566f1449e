//! An exclusive claim on a spec hash, held while its run trains: an
//! advisory lock on `<results>/runs/<hash12>.lock` (flock), released by the
//! OS when the process ends, even by kill -9. Locks hold between processes
//! of one machine; a network filesystem may not honour them across hosts
//! (README: not two machines on one database).

use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};

/// Whether a failure to take a claim says the filesystem takes no locks at
/// all (Lustre mounted without `flock`, some FUSE filesystems), rather than
/// that this lock could not be taken.
pub fn locks_unsupported(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::ENOSYS | libc::EOPNOTSUPP | libc::ENOLCK)
    )
}

/// The lock file of spec hash `hash` under a results folder.
pub fn lock_path(results: &Path, hash: &str) -> PathBuf {
    results.join("runs").join(format!("{}.lock", &hash[..12]))
}

pub struct Claim {
    _file: File,
}

impl Claim {
    /// The claim, or `Ok(None)` when another process holds it.
    pub fn try_take(path: &Path) -> std::io::Result<Option<Claim>> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)?;
        match file.try_lock() {
            Ok(()) => Ok(Some(Claim { _file: file })),
            Err(TryLockError::WouldBlock) => Ok(None),
            Err(TryLockError::Error(e)) => Err(e),
        }
    }

    /// Whether a process holds the claim at `path` now; looked at without
    /// creating or changing anything (a missing lock file is no claim).
    pub fn is_held(path: &Path) -> bool {
        let Ok(file) = File::open(path) else {
            return false;
        };
        matches!(file.try_lock_shared(), Err(TryLockError::WouldBlock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filesystem_without_locks_is_told_from_a_lock_that_failed() {
        for (errno, unsupported) in [
            (libc::ENOSYS, true),
            (libc::EOPNOTSUPP, true),
            (libc::ENOLCK, true),
            (libc::EACCES, false),
            (libc::EIO, false),
        ] {
            let e = std::io::Error::from_raw_os_error(errno);
            assert_eq!(locks_unsupported(&e), unsupported, "{e}");
        }
    }

    #[test]
    fn a_claim_is_held_until_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs/abc.lock");
        assert!(!Claim::is_held(&path), "no lock file yet");
        let first = Claim::try_take(&path).unwrap();
        assert!(first.is_some());
        assert!(Claim::try_take(&path).unwrap().is_none(), "held");
        assert!(Claim::is_held(&path));
        drop(first);
        assert!(!Claim::is_held(&path), "released");
        assert!(Claim::try_take(&path).unwrap().is_some(), "released");
    }
}
