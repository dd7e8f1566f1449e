//! The decoded-tensor cache: one file per (data content, resolution, fit,
//! cache format) under `results/cache/`, so that a second run skips decoding.
//!
//! Layout (little-endian):
//! `PLTCACHE` · format u32 · key [32] · meta length u64 · meta (JSON) ·
//! pixel length u64 · pixels · blake3 of everything before [32].
//! A file whose checksum, key, format or lengths do not match is reported and
//! rebuilt, never trusted. Files are written atomically (temp + rename).

use serde::{Deserialize, Serialize};

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use super::dataset::{Dataset, LoadReport};
use crate::files::write_atomic;
use crate::spec::Fit;

const MAGIC: &[u8; 8] = b"PLTCACHE";
/// Bump when the file layout, or what decoding produces (resize filter,
/// colour handling, layout), changes: old files are then rebuilt.
pub const FORMAT: u32 = 1;

/// What a cache file is for: blake3 of (format, data content, resolution, fit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Key {
    hash: [u8; 32],
    resolution: u32,
    fit: Fit,
}

impl Key {
    pub fn new(content_hash: &str, resolution: u32, fit: Fit) -> Key {
        let mut h = blake3::Hasher::new();
        h.update(&FORMAT.to_le_bytes());
        h.update(content_hash.as_bytes());
        h.update(&resolution.to_le_bytes());
        h.update(fit.as_str().as_bytes());
        Key {
            hash: *h.finalize().as_bytes(),
            resolution,
            fit,
        }
    }

    pub fn file_name(&self) -> String {
        let hex: String = self.hash[..8].iter().map(|b| format!("{b:02x}")).collect();
        format!("posters-{}px-{}-{hex}.bin", self.resolution, self.fit)
    }
}

#[derive(Serialize, Deserialize)]
struct Meta {
    content_hash: String,
    genres: Vec<String>,
    ids: Vec<String>,
    labels: Vec<u8>,
    resolution: u32,
    report: LoadReport,
}

pub fn write(path: &Path, key: &Key, data: &Dataset) -> std::io::Result<()> {
    let meta = Meta {
        content_hash: data.content_hash.clone(),
        genres: data.genres.clone(),
        ids: data.ids.clone(),
        labels: data.labels.clone(),
        resolution: data.resolution,
        report: data.report.clone(),
    };
    let meta = serde_json::to_vec(&meta).map_err(std::io::Error::other)?;
    let meta_len = (meta.len() as u64).to_le_bytes();
    let pixel_len = (data.pixels.len() as u64).to_le_bytes();
    let parts: [&[u8]; 7] = [
        MAGIC,
        &FORMAT.to_le_bytes(),
        &key.hash,
        &meta_len,
        &meta,
        &pixel_len,
        &data.pixels,
    ];
    let mut checksum = blake3::Hasher::new();
    for part in parts {
        checksum.update_rayon(part);
    }
    // No fsync: after a crash a torn file fails its checksum and is rebuilt.
    write_atomic(path, false, |out| {
        for part in parts {
            out.write_all(part)?;
        }
        out.write_all(checksum.finalize().as_bytes())
    })
}

/// `Ok(None)`: no cache file. `Err(why)`: a file that cannot be trusted.
///
/// The pixel block is read straight into its final buffer (one copy from the
/// page cache; at 128 px the real set's block is 356 MB) and hashed as it
/// comes, rather than reading the whole file and copying the block out.
pub fn read(path: &Path, key: &Key) -> Result<Option<Dataset>, String> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{} is unreadable ({e})", path.display())),
    };
    parse(file, key)
        .map(Some)
        .map_err(|why| format!("{} {why}", path.display()))
}

fn corrupt(what: &str) -> String {
    format!("is corrupt ({what})")
}

/// Reads exact lengths from the file, hashing everything it reads.
struct Hashed {
    file: File,
    left: u64,
    hasher: blake3::Hasher,
}

impl Hashed {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, String> {
        if n > self.left {
            return Err(corrupt("lengths do not add up"));
        }
        let mut buf = vec![0u8; n as usize];
        self.file
            .read_exact(&mut buf)
            .map_err(|e| corrupt(&e.to_string()))?;
        self.left -= n;
        self.hasher.update_rayon(&buf);
        Ok(buf)
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.bytes(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.bytes(8)?.try_into().expect("8 bytes"),
        ))
    }
}

fn parse(file: File, key: &Key) -> Result<Dataset, String> {
    let len = file.metadata().map_err(|e| corrupt(&e.to_string()))?.len();
    if len < 8 + 4 + 32 + 8 + 8 + 32 {
        return Err(corrupt("too short"));
    }
    let mut r = Hashed {
        file,
        left: len - 32,
        hasher: blake3::Hasher::new(),
    };
    if r.bytes(8)? != MAGIC {
        return Err(corrupt("not a posterlab cache file"));
    }
    let format = r.u32()?;
    if format != FORMAT {
        return Err(format!(
            "was written by cache format {format}, this build uses {FORMAT}"
        ));
    }
    if r.bytes(32)? != key.hash {
        return Err(corrupt("key mismatch"));
    }
    let meta_len = r.u64()?;
    let meta = r.bytes(meta_len)?;
    let pixel_len = r.u64()?;
    let pixels = r.bytes(pixel_len)?;
    if r.left != 0 {
        return Err(corrupt("lengths do not add up"));
    }
    let mut stored = [0u8; 32];
    r.file
        .read_exact(&mut stored)
        .map_err(|e| corrupt(&e.to_string()))?;
    if *r.hasher.finalize().as_bytes() != stored {
        return Err(corrupt("checksum mismatch"));
    }
    let meta: Meta =
        serde_json::from_slice(&meta).map_err(|e| corrupt(&format!("metadata: {e}")))?;
    let n = meta.ids.len();
    if pixels.len() != n * 3 * (meta.resolution as usize).pow(2)
        || meta.labels.len() != n * meta.genres.len()
        || meta.resolution != key.resolution
    {
        return Err(corrupt("sizes do not match"));
    }
    Ok(Dataset {
        csv: Default::default(),
        content_hash: meta.content_hash,
        genres: meta.genres,
        ids: meta.ids,
        // Where the files are is the index's to say, not the cache's.
        images: Vec::new(),
        labels: meta.labels,
        resolution: meta.resolution,
        fit: key.fit,
        pixels,
        report: meta.report,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        Dataset {
            csv: Default::default(),
            content_hash: "abc".into(),
            genres: vec!["Drama".into(), "Comedy".into()],
            ids: vec!["a".into(), "b".into()],
            images: Vec::new(),
            labels: vec![1, 0, 1, 1],
            resolution: 2,
            fit: Fit::Stretch,
            pixels: (0..24).collect(),
            report: LoadReport {
                rows: 3,
                duplicate_rows: 1,
                ..Default::default()
            },
        }
    }

    #[test]
    fn round_trip_and_every_corruption_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.bin");
        let key = Key::new("abc", 2, Fit::Stretch);
        assert_eq!(read(&path, &key), Ok(None));
        write(&path, &key, &tiny()).unwrap();
        let back = read(&path, &key).unwrap().unwrap();
        assert_eq!(
            (back.pixels, back.labels, back.ids),
            (tiny().pixels, tiny().labels, tiny().ids)
        );

        let good = std::fs::read(&path).unwrap();
        for flip in [
            0,
            9,
            20,
            60,
            good.len() / 2,
            good.len() - 40,
            good.len() - 1,
        ] {
            let mut bad = good.clone();
            bad[flip] ^= 0x55;
            std::fs::write(&path, &bad).unwrap();
            assert!(
                read(&path, &key).is_err(),
                "flipped byte {flip} went unnoticed"
            );
        }
        std::fs::write(&path, &good[..good.len() - 7]).unwrap();
        assert!(
            read(&path, &key).is_err(),
            "a truncated file went unnoticed"
        );
        std::fs::write(&path, &good).unwrap();
        let other = Key::new("abd", 2, Fit::Stretch);
        assert!(read(&path, &other).unwrap_err().contains("key mismatch"));
    }

    #[test]
    fn the_key_separates_content_resolution_and_fit() {
        let a = Key::new("abc", 64, Fit::Stretch);
        assert_ne!(a, Key::new("abd", 64, Fit::Stretch));
        assert_ne!(a, Key::new("abc", 128, Fit::Stretch));
        assert_ne!(a, Key::new("abc", 64, Fit::Crop));
        assert_eq!(a, Key::new("abc", 64, Fit::Stretch));
    }
}
