//! A data set once loaded: every usable poster decoded, with its labels,
//! and what happened while reading it.

use std::path::PathBuf;

use super::image::BadImage;
use crate::spec::Fit;

/// Every usable poster of a data set, decoded to `resolution`² RGB.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// The CSV the posters were listed in.
    pub csv: PathBuf,
    /// blake3 over the CSV and every poster file: the data set's identity.
    pub content_hash: String,
    pub genres: Vec<String>,
    /// Poster ids, in CSV order, without skipped posters.
    pub ids: Vec<String>,
    /// Each poster's image file, as the CSV named it (beside `ids`).
    pub images: Vec<PathBuf>,
    /// Multi-hot labels, `ids.len() × genres.len()`, row-major, 0 or 1.
    pub labels: Vec<u8>,
    pub resolution: u32,
    pub fit: Fit,
    /// Pixels, `ids.len() × 3 × resolution × resolution`, channels first.
    pub pixels: Vec<u8>,
    pub report: LoadReport,
}

/// What happened while reading a data set, for logs and `data stats`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LoadReport {
    /// Data rows in the CSV.
    pub rows: usize,
    /// Exact duplicate rows dropped.
    pub duplicate_rows: usize,
    /// Posters that could not be used, with why, in CSV order.
    pub skipped: Vec<(String, BadImage)>,
    /// Whether the decoded tensors came from the cache.
    #[serde(skip)]
    pub from_cache: bool,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    pub fn num_genres(&self) -> usize {
        self.genres.len()
    }

    /// The multi-hot label row of poster `i`.
    pub fn label_row(&self, i: usize) -> &[u8] {
        let g = self.genres.len();
        &self.labels[i * g..(i + 1) * g]
    }

    /// Bytes of one decoded poster.
    pub fn image_len(&self) -> usize {
        3 * (self.resolution as usize).pow(2)
    }

    /// The decoded pixels of poster `i`, channels first.
    pub fn image(&self, i: usize) -> &[u8] {
        let n = self.image_len();
        &self.pixels[i * n..(i + 1) * n]
    }
}
