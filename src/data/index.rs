//! The three CSV layouts a data set can come in, read into one [`Index`]: the
//! genre vocabulary and, per poster, its id, image file and genres.
//!
//! - multilabel: `Id,Genre,<one column per genre>` (the real set's train.csv),
//!   posters at `Images/<Id>.jpg` beside it;
//! - moviegenre: `imdbId,Imdb Link,Title,IMDB Score,Genre,Poster`, genres
//!   `|`-separated, posters at `<imdbId>.jpg` in the CSV's folder;
//! - paths: `path,genres`, paths relative to the CSV's folder.
//!
//! The spec's `images` replaces the poster folder of any layout.
//!
//! Text may be UTF-8 with or without a BOM, or Latin-1 (as MovieGenre.csv
//! often is); line endings LF or CRLF. Exact duplicate rows are dropped and
//! counted; two different rows for one poster are an error naming both lines.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::error::DataError;
use crate::spec::DataFormat;

/// A data set's listing, before any image is read.
#[derive(Debug, Clone)]
pub struct Index {
    pub csv: PathBuf,
    /// The layout actually read (never `Auto`).
    pub format: DataFormat,
    pub genres: Vec<String>,
    pub posters: Vec<PosterRef>,
    /// Data rows in the file, duplicates included.
    pub rows: usize,
    pub duplicate_rows: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PosterRef {
    pub id: String,
    pub image: PathBuf,
    /// Indices into [`Index::genres`], ascending.
    pub genres: Vec<usize>,
    /// 1-based line of the row in the CSV.
    pub line: u64,
}

impl PosterRef {
    pub fn multi_hot(&self, num_genres: usize) -> Vec<u8> {
        let mut row = vec![0u8; num_genres];
        for &g in &self.genres {
            row[g] = 1;
        }
        row
    }
}

/// The CSV a `dataset` path names: the file itself, or `train.csv` in a folder.
pub fn find_csv(path: &Path) -> Result<PathBuf, DataError> {
    let help = "set `dataset` in [data] to a folder holding train.csv and Images/, a CSV file, or \"synthetic\"";
    if path.is_file() {
        return Ok(path.to_path_buf());
    }
    if !path.is_dir() {
        return Err(DataError::new(path, "data set not found").with_help(help));
    }
    let csv = path.join("train.csv");
    if csv.is_file() {
        return Ok(csv);
    }
    let others: Vec<String> = std::fs::read_dir(path)
        .map_err(|e| DataError::io(path, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".csv"))
        .collect();
    let help = if others.is_empty() {
        help.to_string()
    } else {
        format!(
            "name the CSV itself, e.g. `dataset = \"{}\"`",
            path.join(&others[0]).display()
        )
    };
    Err(DataError::new(path, "folder holds no train.csv").with_help(help))
}

/// Reads a data set's CSV in the given (or detected) layout.
pub fn read_index(
    csv: &Path,
    format: DataFormat,
    images: Option<&Path>,
) -> Result<Index, DataError> {
    let bytes = std::fs::read(csv).map_err(|e| DataError::io(csv, e))?;
    let text = decode_text(&bytes);
    let detected = detect(&text);
    let format = match (format, detected) {
        (DataFormat::Auto, Some(f)) => f,
        (DataFormat::Auto, None) => {
            return Err(DataError::at_line(csv, 1, format!("unrecognised CSV header `{}`", first_line(&text)))
                .with_help(
                    "expected `Id,Genre,<genre columns>` (multilabel), `imdbId,Imdb Link,Title,IMDB Score,Genre,Poster` \
                     (moviegenre) or `path,genres` (paths)",
                ))
        }
        (asked, _) => asked,
    };
    let base = csv.parent().unwrap_or(Path::new("."));
    let mut reader = Reader::new(csv, &text)?;
    let mut index = match format {
        DataFormat::MultiLabel => read_multilabel(
            &mut reader,
            &images.map_or_else(|| base.join("Images"), Path::to_path_buf),
        )?,
        DataFormat::MovieGenre => read_moviegenre(&mut reader, images.unwrap_or(base))?,
        DataFormat::Paths => read_paths(&mut reader, images.unwrap_or(base))?,
        DataFormat::Auto => unreachable!("resolved above"),
    };
    index.rows = reader.rows;
    index.duplicate_rows = reader.duplicates;
    if index.posters.is_empty() {
        return Err(DataError::new(csv, "the CSV lists no posters"));
    }
    Ok(index)
}

/// UTF-8 (a BOM is dropped), else Latin-1, where every byte is its code point.
fn decode_text(bytes: &[u8]) -> String {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    }
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("").trim_end_matches('\r')
}

fn detect(text: &str) -> Option<DataFormat> {
    let header = first_line(text).to_ascii_lowercase();
    let fields: Vec<&str> = header.split(',').map(str::trim).collect();
    match fields.as_slice() {
        ["id", "genre", ..] => Some(DataFormat::MultiLabel),
        ["imdbid", ..] => Some(DataFormat::MovieGenre),
        ["path", "genres"] => Some(DataFormat::Paths),
        _ => None,
    }
}

/// CSV rows with their line numbers, exact duplicates dropped.
struct Reader<'a> {
    csv: &'a Path,
    header: Vec<String>,
    records: csv::StringRecordsIntoIter<&'a [u8]>,
    /// Id → (line, row) of the first row seen for it.
    seen: HashMap<String, (u64, csv::StringRecord)>,
    rows: usize,
    duplicates: usize,
}

impl<'a> Reader<'a> {
    fn new(csv: &'a Path, text: &'a str) -> Result<Self, DataError> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(text.as_bytes());
        let header = reader
            .headers()
            .map_err(|e| csv_error(csv, e))?
            .iter()
            .map(|h| h.trim().to_string())
            .collect();
        Ok(Reader {
            csv,
            header,
            records: reader.into_records(),
            seen: HashMap::new(),
            rows: 0,
            duplicates: 0,
        })
    }

    /// The next row that is not an exact duplicate: (line, id, row). The id is
    /// the value of column `id_col`.
    fn next_row(
        &mut self,
        id_col: usize,
    ) -> Result<Option<(u64, String, csv::StringRecord)>, DataError> {
        for record in self.records.by_ref() {
            let record = record.map_err(|e| csv_error(self.csv, e))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.iter().all(|f| f.trim().is_empty()) {
                continue; // a blank line
            }
            self.rows += 1;
            let id = record.get(id_col).unwrap_or("").trim().to_string();
            if id.is_empty() {
                return Err(DataError::at_line(
                    self.csv,
                    line,
                    format!("empty `{}`", self.header[id_col]),
                ));
            }
            if let Some((first_line, first)) = self.seen.get(&id) {
                if first.iter().eq(record.iter()) {
                    self.duplicates += 1;
                    continue;
                }
                return Err(DataError::at_line(
                    self.csv,
                    line,
                    format!("poster `{id}` is listed again with different values (first on line {first_line})"),
                )
                .with_help("keep one of the two rows"));
            }
            self.seen.insert(id.clone(), (line, record.clone()));
            return Ok(Some((line, id, record)));
        }
        Ok(None)
    }

    fn column(&self, name: &str) -> Result<usize, DataError> {
        self.header
            .iter()
            .position(|h| h.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                DataError::at_line(self.csv, 1, format!("the header has no `{name}` column"))
                    .with_help(format!("found columns: {}", self.header.join(", ")))
            })
    }
}

fn csv_error(path: &Path, e: csv::Error) -> DataError {
    let line = e.position().map(|p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("row has {len} fields, the header has {expected_len}")
        }
        _ => format!("malformed CSV: {e}"),
    };
    match line {
        Some(line) => DataError::at_line(path, line, message),
        None => DataError::new(path, message),
    }
}

/// An id used in a file name must not reach outside the images folder.
fn check_file_id(csv: &Path, line: u64, id: &str) -> Result<(), DataError> {
    if id.contains(['/', '\\']) || id.starts_with('.') {
        return Err(DataError::at_line(
            csv,
            line,
            format!("id `{id}` cannot be used as a file name"),
        ));
    }
    Ok(())
}

fn read_multilabel(r: &mut Reader<'_>, images: &Path) -> Result<Index, DataError> {
    let csv = r.csv;
    if r.header.len() < 3
        || !r.header[0].eq_ignore_ascii_case("id")
        || !r.header[1].eq_ignore_ascii_case("genre")
    {
        return Err(DataError::at_line(
            csv,
            1,
            "expected a header `Id,Genre,<one column per genre>`",
        ));
    }
    let genres: Vec<String> = r.header[2..].to_vec();
    if let Some(dup) = genres
        .iter()
        .enumerate()
        .find(|(i, g)| g.is_empty() || genres[..*i].contains(g))
    {
        return Err(DataError::at_line(
            csv,
            1,
            format!("genre column {:?} is empty or repeated", dup.1),
        ));
    }
    if !images.is_dir() {
        return Err(
            DataError::new(csv, format!("no poster folder at {}", images.display())).with_help(
                "the multilabel layout keeps posters as Images/<Id>.jpg next to train.csv; \
             `images` in [data] names another folder",
            ),
        );
    }
    let mut posters = Vec::new();
    while let Some((line, id, row)) = r.next_row(0)? {
        check_file_id(csv, line, &id)?;
        let mut one_hot = Vec::new();
        for (g, genre) in genres.iter().enumerate() {
            match row.get(g + 2).map(str::trim) {
                Some("1") => one_hot.push(g),
                Some("0") => {}
                other => {
                    return Err(DataError::at_line(
                        csv,
                        line,
                        format!(
                            "column `{genre}` must be 0 or 1, found {:?}",
                            other.unwrap_or("")
                        ),
                    ))
                }
            }
        }
        let listed = parse_genre_list(row.get(1).unwrap_or(""));
        let mut listed_idx = BTreeSet::new();
        for name in &listed {
            match genres.iter().position(|g| g == name) {
                Some(g) => listed_idx.insert(g),
                None => {
                    return Err(DataError::at_line(
                        csv,
                        line,
                        format!("Genre lists `{name}`, which has no column"),
                    ))
                }
            };
        }
        if listed_idx.iter().copied().collect::<Vec<_>>() != one_hot {
            let names = |idx: &mut dyn Iterator<Item = usize>| {
                idx.map(|g| genres[g].clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(DataError::at_line(
                csv,
                line,
                format!(
                    "poster `{id}`: Genre lists [{}] but the one-hot columns mark [{}]",
                    names(&mut listed_idx.iter().copied()),
                    names(&mut one_hot.iter().copied())
                ),
            )
            .with_help("make the Genre list and the 0/1 columns agree"));
        }
        posters.push(PosterRef {
            image: images.join(format!("{id}.jpg")),
            id,
            genres: one_hot,
            line,
        });
    }
    Ok(Index {
        csv: csv.to_path_buf(),
        format: DataFormat::MultiLabel,
        genres,
        posters,
        rows: 0,
        duplicate_rows: 0,
    })
}

/// `"['Comedy', 'Drama']"` → `["Comedy", "Drama"]`.
fn parse_genre_list(text: &str) -> Vec<String> {
    let inner = text.trim().trim_start_matches('[').trim_end_matches(']');
    inner
        .split(',')
        .map(|s| {
            s.trim()
                .trim_matches(|c| c == '\'' || c == '"')
                .trim()
                .to_string()
        })
        .filter(|s| !s.is_empty())
        .collect()
}

/// Genres written `Drama|Romance`, against a vocabulary built as rows come.
fn split_genres(text: &str) -> Vec<String> {
    text.split('|')
        .map(|g| g.trim().to_string())
        .filter(|g| !g.is_empty())
        .collect()
}

/// Rows whose genres are names: the vocabulary is every name used, sorted.
fn index_from_named(
    csv: &Path,
    format: DataFormat,
    rows: Vec<(String, PathBuf, Vec<String>, u64)>,
) -> Index {
    let vocab: BTreeSet<&str> = rows
        .iter()
        .flat_map(|(_, _, g, _)| g.iter().map(String::as_str))
        .collect();
    let genres: Vec<String> = vocab.into_iter().map(str::to_string).collect();
    let posters = rows
        .iter()
        .map(|(id, image, names, line)| {
            let mut idx: Vec<usize> = names
                .iter()
                .map(|n| genres.binary_search(n).expect("in vocabulary"))
                .collect();
            idx.sort_unstable();
            idx.dedup();
            PosterRef {
                id: id.clone(),
                image: image.clone(),
                genres: idx,
                line: *line,
            }
        })
        .collect();
    Index {
        csv: csv.to_path_buf(),
        format,
        genres,
        posters,
        rows: 0,
        duplicate_rows: 0,
    }
}

fn read_moviegenre(r: &mut Reader<'_>, images: &Path) -> Result<Index, DataError> {
    let id_col = r.column("imdbId")?;
    let genre_col = r.column("Genre")?;
    let mut rows = Vec::new();
    while let Some((line, id, row)) = r.next_row(id_col)? {
        check_file_id(r.csv, line, &id)?;
        let genres = split_genres(row.get(genre_col).unwrap_or(""));
        rows.push((id.clone(), images.join(format!("{id}.jpg")), genres, line));
    }
    Ok(index_from_named(r.csv, DataFormat::MovieGenre, rows))
}

fn read_paths(r: &mut Reader<'_>, base: &Path) -> Result<Index, DataError> {
    let path_col = r.column("path")?;
    let genre_col = r.column("genres")?;
    let mut rows = Vec::new();
    while let Some((line, id, row)) = r.next_row(path_col)? {
        let genres = split_genres(row.get(genre_col).unwrap_or(""));
        rows.push((id.clone(), base.join(&id), genres, line));
    }
    Ok(index_from_named(r.csv, DataFormat::Paths, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genre_lists_parse_like_the_real_csv() {
        assert_eq!(
            parse_genre_list("['Comedy', 'Drama']"),
            vec!["Comedy", "Drama"]
        );
        assert_eq!(parse_genre_list("['N/A']"), vec!["N/A"]);
        assert_eq!(parse_genre_list("[]"), Vec::<String>::new());
        assert_eq!(parse_genre_list("[\"Sci-Fi\"]"), vec!["Sci-Fi"]);
    }

    #[test]
    fn headers_pick_the_format() {
        assert_eq!(detect("Id,Genre,Action\n"), Some(DataFormat::MultiLabel));
        assert_eq!(
            detect("imdbId,Imdb Link,Title,IMDB Score,Genre,Poster\r\n"),
            Some(DataFormat::MovieGenre)
        );
        assert_eq!(detect("path,genres\n"), Some(DataFormat::Paths));
        assert_eq!(detect("foo,bar\n"), None);
    }

    #[test]
    fn latin1_text_is_decoded_and_a_bom_dropped() {
        assert_eq!(decode_text(b"Am\xe9lie"), "Amélie");
        assert_eq!(decode_text("\u{FEFF}Id".as_bytes()), "Id");
    }
}
