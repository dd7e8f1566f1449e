//! The decoded-tensor cache: one file per (data content, resolution, fit,
//! cache format) under `results/cache/`, so that a second run skips decoding.
//!
//! Layout (little-endian):
//! `PLTCACHE` · format u32 · key [32] · meta length u64 · meta (JSON) ·
//! pixel length u64 · pixels · blake3 of everything before [32].
//! A file whose checksum, key, format or lengths do not match is reported and
//! rebuilt, never trusted. Files are written atomically (temp + rename).

use serde::{Deserialize, Serialize};

use super::{write_atomic, Dataset, LoadReport};
use crate::spec::Fit;
use std::path::Path;

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
        Key { hash: *h.finalize().as_bytes(), resolution, fit }
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
    let mut buf = Vec::with_capacity(8 + 4 + 32 + 16 + meta.len() + data.pixels.len() + 32);
    buf.extend_from_slice(MAGIC);
    buf.extend_from_slice(&FORMAT.to_le_bytes());
    buf.extend_from_slice(&key.hash);
    buf.extend_from_slice(&(meta.len() as u64).to_le_bytes());
    buf.extend_from_slice(&meta);
    buf.extend_from_slice(&(data.pixels.len() as u64).to_le_bytes());
    buf.extend_from_slice(&data.pixels);
    let checksum = checksum(&buf);
    buf.extend_from_slice(&checksum);
    write_atomic(path, &buf)
}

fn checksum(bytes: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update_rayon(bytes);
    *h.finalize().as_bytes()
}

/// `Ok(None)`: no cache file. `Err(why)`: a file that cannot be trusted.
pub fn read(path: &Path, key: &Key) -> Result<Option<Dataset>, String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{} is unreadable ({e})", path.display())),
    };
    parse(&bytes, key).map(Some).map_err(|why| format!("{} {why}", path.display()))
}

fn parse(bytes: &[u8], key: &Key) -> Result<Dataset, String> {
    let corrupt = |what: &str| format!("is corrupt ({what})");
    if bytes.len() < 8 + 4 + 32 + 8 + 8 + 32 || &bytes[..8] != MAGIC {
        return Err(corrupt("not a posterlab cache file"));
    }
    let (body, stored) = bytes.split_at(bytes.len() - 32);
    if checksum(body) != stored {
        return Err(corrupt("checksum mismatch"));
    }
    let mut at = 8;
    let mut take = |n: usize| -> Result<&[u8], String> {
        let part = body.get(at..at + n).ok_or_else(|| corrupt("lengths do not add up"))?;
        at += n;
        Ok(part)
    };
    let format = u32::from_le_bytes(take(4)?.try_into().expect("4 bytes"));
    if format != FORMAT {
        return Err(format!("was written by cache format {format}, this build uses {FORMAT}"));
    }
    if take(32)? != key.hash {
        return Err(corrupt("key mismatch"));
    }
    let meta_len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")) as usize;
    let meta: Meta = serde_json::from_slice(take(meta_len)?).map_err(|e| corrupt(&format!("metadata: {e}")))?;
    let pixel_len = u64::from_le_bytes(take(8)?.try_into().expect("8 bytes")) as usize;
    let pixels = take(pixel_len)?.to_vec();
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
            labels: vec![1, 0, 1, 1],
            resolution: 2,
            fit: Fit::Stretch,
            pixels: (0..24).collect(),
            report: LoadReport { rows: 3, duplicate_rows: 1, ..Default::default() },
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
        assert_eq!((back.pixels, back.labels, back.ids), (tiny().pixels, tiny().labels, tiny().ids));

        let good = std::fs::read(&path).unwrap();
        for flip in [0, 9, 20, 60, good.len() / 2, good.len() - 40, good.len() - 1] {
            let mut bad = good.clone();
            bad[flip] ^= 0x55;
            std::fs::write(&path, &bad).unwrap();
            assert!(read(&path, &key).is_err(), "flipped byte {flip} went unnoticed");
        }
        std::fs::write(&path, &good[..good.len() - 7]).unwrap();
        assert!(read(&path, &key).is_err(), "a truncated file went unnoticed");
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
