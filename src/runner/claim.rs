//! An exclusive claim on a spec hash, held while its run trains: an
//! advisory lock on `<results>/runs/<hash12>.lock` (flock), released by the
//! OS when the process ends, even by kill -9. Locks hold between processes
//! of one machine; a network filesystem may not honour them across hosts
//! (README: not two machines on one database).

use std::fs::{File, TryLockError};
use std::path::Path;

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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_is_held_until_it_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runs/abc.lock");
        let first = Claim::try_take(&path).unwrap();
        assert!(first.is_some());
        assert!(Claim::try_take(&path).unwrap().is_none(), "held");
        drop(first);
        assert!(Claim::try_take(&path).unwrap().is_some(), "released");
    }
}
