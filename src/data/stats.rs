//! What a researcher checks first about a data set: how many posters survive
//! (duplicates, unreadable images), how many genres each has, how common each
//! genre is, and how the split divides them.

use std::fmt;

use super::image::BadImage;
use super::{DataError, Dataset, Index, Split, SplitName, Workspace};
use crate::progress::Progress;
use crate::spec::{BadImages, DataFormat, DataSpec};
use crate::text::{printable, thousands};

#[derive(Debug, Clone)]
pub struct DataStats {
    pub csv: String,
    pub format: DataFormat,
    pub content_hash: String,
    pub rows: usize,
    pub duplicate_rows: usize,
    /// Posters listed after dropping duplicates.
    pub listed: usize,
    /// Posters whose image was read.
    pub posters: usize,
    pub skipped: Vec<(String, BadImage)>,
    pub genres: Vec<String>,
    /// Usable posters per genre.
    pub genre_counts: Vec<usize>,
    /// `genres_per_poster[k]`: usable posters with exactly k genres.
    pub genres_per_poster: Vec<usize>,
    pub split: Option<SplitStats>,
}

#[derive(Debug, Clone)]
pub struct SplitStats {
    /// Posters in train, val, test.
    pub sizes: [usize; 3],
    /// Per genre: posters in train, val, test.
    pub genre_counts: Vec<[usize; 3]>,
}

impl DataStats {
    pub fn new(index: &Index, data: &Dataset, split: Option<&Split>) -> DataStats {
        let g = data.num_genres();
        let mut genre_counts = vec![0; g];
        let mut genres_per_poster = vec![0; 4];
        for i in 0..data.len() {
            let row = data.label_row(i);
            let k = row.iter().filter(|&&l| l == 1).count();
            if k >= genres_per_poster.len() {
                genres_per_poster.resize(k + 1, 0);
            }
            genres_per_poster[k] += 1;
            for (count, &l) in genre_counts.iter_mut().zip(row) {
                *count += l as usize;
            }
        }
        let split = split.map(|s| {
            let mut per_genre = vec![[0; 3]; g];
            let mut sizes = [0; 3];
            for (part, name) in SplitName::ALL.iter().enumerate() {
                sizes[part] = s.get(*name).len();
                for &i in s.get(*name) {
                    for (counts, &l) in per_genre.iter_mut().zip(data.label_row(i)) {
                        counts[part] += l as usize;
                    }
                }
            }
            SplitStats {
                sizes,
                genre_counts: per_genre,
            }
        });
        DataStats {
            csv: index.csv.display().to_string(),
            format: index.format,
            content_hash: data.content_hash.clone(),
            rows: index.rows,
            duplicate_rows: index.duplicate_rows,
            listed: index.posters.len(),
            posters: data.len(),
            skipped: data.report.skipped.clone(),
            genres: data.genres.clone(),
            genre_counts,
            genres_per_poster,
            split,
        }
    }

    pub fn mean_genres_per_poster(&self) -> f64 {
        let total: usize = self.genre_counts.iter().sum();
        total as f64 / self.posters.max(1) as f64
    }

    /// The count of a genre by name.
    pub fn count(&self, genre: &str) -> Option<usize> {
        self.genres
            .iter()
            .position(|g| g == genre)
            .map(|i| self.genre_counts[i])
    }
}

fn pct(part: usize, whole: usize) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole.max(1) as f64)
}

impl fmt::Display for DataStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "data set      {} ({})", self.csv, self.format)?;
        writeln!(
            f,
            "content hash  {}",
            &self.content_hash[..16.min(self.content_hash.len())]
        )?;
        writeln!(f, "CSV rows      {}", thousands(self.rows))?;
        writeln!(
            f,
            "duplicates    {} exact duplicate rows dropped",
            thousands(self.duplicate_rows)
        )?;
        writeln!(
            f,
            "posters       {} listed, {} usable",
            thousands(self.listed),
            thousands(self.posters)
        )?;
        if self.skipped.is_empty() {
            writeln!(f, "images        none missing or unreadable")?;
        } else {
            writeln!(
                f,
                "images        {}",
                super::image::skipped_summary(&self.skipped)
            )?;
        }
        let per_poster: Vec<String> = self
            .genres_per_poster
            .iter()
            .enumerate()
            .filter(|(_, &n)| n > 0)
            .map(|(k, &n)| format!("{k}: {} ({})", thousands(n), pct(n, self.posters)))
            .collect();
        writeln!(
            f,
            "genres/poster mean {:.2}; {}",
            self.mean_genres_per_poster(),
            per_poster.join(", ")
        )?;
        if let Some(s) = &self.split {
            writeln!(
                f,
                "split         train {}, val {}, test {}",
                thousands(s.sizes[0]),
                thousands(s.sizes[1]),
                thousands(s.sizes[2])
            )?;
        }

        let mut order: Vec<usize> = (0..self.genres.len()).collect();
        order.sort_by(|&a, &b| {
            self.genre_counts[b]
                .cmp(&self.genre_counts[a])
                .then(a.cmp(&b))
        });
        let width = self
            .genres
            .iter()
            .map(|g| printable(g).chars().count())
            .max()
            .unwrap_or(5)
            .max(5);
        write!(
            f,
            "\n{:<width$}  {:>7}  {:>10}",
            "genre", "posters", "prevalence"
        )?;
        if self.split.is_some() {
            write!(f, "  {:>7}  {:>6}  {:>6}", "train", "val", "test")?;
        }
        writeln!(f)?;
        let max = self.genre_counts.iter().copied().max().unwrap_or(1).max(1);
        for g in order {
            let n = self.genre_counts[g];
            write!(
                f,
                "{:<width$}  {:>7}  {:>10}",
                printable(&self.genres[g]),
                thousands(n),
                pct(n, self.posters)
            )?;
            if let Some(s) = &self.split {
                let [tr, va, te] = s.genre_counts[g];
                write!(
                    f,
                    "  {:>7}  {:>6}  {:>6}",
                    thousands(tr),
                    thousands(va),
                    thousands(te)
                )?;
            }
            writeln!(f, "  {}", "#".repeat((n * 30).div_ceil(max)))?;
        }
        Ok(())
    }
}

/// Reads the data set `spec` names (decoding every poster, or from the
/// cache) and counts what `data stats` shows; with `with_split`, per split
/// too. Unreadable posters are what statistics are for: they are counted,
/// never a reason to stop (`bad_images` is taken as `skip`).
pub fn gather(
    spec: &DataSpec,
    with_split: bool,
    ws: &Workspace,
    progress: &dyn Progress,
) -> Result<(DataStats, Dataset), DataError> {
    let csv = super::locate(spec, ws, progress)?;
    let index = super::read_index(&csv, spec.format, spec.images.as_deref())?;
    let dataset = super::load_index(
        &index,
        spec.resolution,
        spec.fit,
        BadImages::Skip,
        ws,
        progress,
    )?;
    let split = with_split.then(|| {
        Split::new(
            &dataset.ids,
            spec.test_fraction,
            spec.val_fraction,
            spec.split_seed,
        )
    });
    Ok((DataStats::new(&index, &dataset, split.as_ref()), dataset))
}
