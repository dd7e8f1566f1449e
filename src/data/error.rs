//! The data module's error: what went wrong, in which file (and line), and
//! what to do about it.

use std::fmt;
use std::path::{Path, PathBuf};

use super::image::BadImage;

#[derive(Debug)]
pub struct DataError {
    pub path: PathBuf,
    /// 1-based line in a CSV, where the problem is a row.
    pub line: Option<u64>,
    pub message: String,
    pub help: Option<String>,
}

impl DataError {
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        DataError {
            path: path.to_path_buf(),
            line: None,
            message: message.into(),
            help: None,
        }
    }

    pub fn at_line(path: &Path, line: u64, message: impl Into<String>) -> Self {
        DataError {
            line: Some(line),
            ..DataError::new(path, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn io(path: &Path, e: std::io::Error) -> Self {
        DataError::new(path, format!("cannot read: {e}"))
    }

    /// `bad_images = "error"` and some posters could not be read.
    pub fn bad_images(csv: &Path, skipped: &[(String, BadImage)]) -> Self {
        DataError::new(csv, super::image::skipped_summary(skipped)).with_help(
            "fix or remove those posters, or set `bad_images = \"skip\"` in [data] to train without them",
        )
    }
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message)?,
            None => write!(f, "{}: {}", self.path.display(), self.message)?,
        }
        if let Some(help) = &self.help {
            write!(f, "\n  help: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for DataError {}
