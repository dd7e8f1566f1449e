//! `[data]`: where the posters come from, how they are fitted to a square,
//! how they are split, and how training posters are augmented.

use std::path::{Component, Path, PathBuf};

use super::read::{as_str, FieldValue, KindArgs, DEFAULT_SPAN};
use super::view::RunView;
use crate::spec::diagnostics::Collector;
use crate::spec::fields;
use crate::spec::tree::{Entry, Node};
use crate::spec::types::{Augment, BadImages, DataFormat, DataSpec, DatasetRef, Fit};

pub(super) fn resolve(diags: &mut Collector<'_>, view: &RunView<'_>) -> Option<DataSpec> {
    let field = |key: &str| view.field("data", key);
    let dataset = {
        let value = field("dataset").value;
        match as_str(&value) {
            Some("synthetic") => Some(DatasetRef::Synthetic),
            Some(s) if !s.trim().is_empty() => Some(DatasetRef::Path(normalise_path(s))),
            _ => {
                diags.error(
                    value.span.clone(),
                    format!(
                        "`data.dataset` must be \"synthetic\" or a path, found {}",
                        value.describe()
                    ),
                    None,
                );
                None
            }
        }
    };
    let format = diags.choice(&field("format"), DataFormat::NAMES, DataFormat::from_name);
    let images = {
        let value = field("images").value;
        match as_str(&value) {
            Some("") => Some(None),
            Some(s) => Some(Some(normalise_path(s))),
            None => {
                diags.error(
                    value.span.clone(),
                    format!(
                        "`data.images` must be a folder path (a string), found {}",
                        value.describe()
                    ),
                    None,
                );
                None
            }
        }
    };
    let resolution = diags.int(&field("resolution"));
    let fit = diags.choice(&field("fit"), Fit::NAMES, Fit::from_name);
    let test_fraction = diags.float(&field("test_fraction"));
    let val_fraction = diags.float(&field("val_fraction"));
    let split_seed = diags.int(&field("split_seed"));
    let bad_images = diags.choice(&field("bad_images"), BadImages::NAMES, BadImages::from_name);
    let augment = augment(diags, &field("augment"));
    if let (Some(t), Some(val)) = (test_fraction, val_fraction) {
        if t + val >= 1.0 {
            let span = view
                .written("data", "val_fraction")
                .or(view.written("data", "test_fraction"));
            diags.error(
                span.map_or(DEFAULT_SPAN, |s| s.span.clone()),
                format!(
                    "`data.test_fraction` + `data.val_fraction` = {} leaves no posters to train on",
                    t + val
                ),
                Some("the two must add up to less than 1 (e.g. 0.2 + 0.1)".into()),
            );
        }
    }
    Some(DataSpec {
        dataset: dataset?,
        format: format?,
        images: images?,
        resolution: resolution? as u32,
        fit: fit?,
        test_fraction: test_fraction?,
        val_fraction: val_fraction?,
        split_seed: split_seed? as u64,
        bad_images: bad_images?,
        augment: augment?,
    })
}

/// `false`, `true` (every setting at its default) or a table of settings
/// over the defaults; `None` inside when nothing would ever change.
fn augment(diags: &mut Collector<'_>, field: &FieldValue) -> Option<Option<Augment>> {
    let value = &field.value;
    let written: &[Entry] = match &value.node {
        Node::Bool(false) => return Some(None),
        Node::Bool(true) => &[],
        Node::Table(t) => {
            for e in &t.entries {
                diags.check_setting(e, "data.augment", fields::AUGMENT_FIELDS);
            }
            &t.entries
        }
        _ => {
            diags.error(
                value.span.clone(),
                format!(
                    "`data.augment` must be true, false or a table, found {}",
                    value.describe()
                ),
                Some(
                    "e.g. augment = { flip = true, crop = [0.8, 1.0], brightness = 0.2, contrast = 0.2 }"
                        .into(),
                ),
            );
            return None;
        }
    };
    let settings = KindArgs {
        what: field.what.clone(),
        kind: "augment",
        written,
        defaults: fields::AUGMENT_FIELDS,
        monitor: None,
    };
    let flip = diags.boolean(&settings.field("flip"));
    let crop = diags.number_range(&settings.field("crop"));
    let brightness = diags.float(&settings.field("brightness"));
    let contrast = diags.float(&settings.field("contrast"));
    let augment = Augment {
        flip: flip?,
        crop: crop?,
        brightness: brightness?,
        contrast: contrast?,
    };
    Some((!augment.is_identity()).then_some(augment))
}

/// Lexical clean-up so that `a/./b/` and `a/b` name the same data set.
fn normalise_path(text: &str) -> PathBuf {
    let path = Path::new(text.trim());
    let cleaned: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::CurDir))
        .collect();
    if cleaned.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_normalised() {
        assert_eq!(normalise_path("./a/./b/"), PathBuf::from("a/b"));
        assert_eq!(
            normalise_path("../shared/data"),
            PathBuf::from("../shared/data")
        );
    }
}
