//! The run-selector language of `runs`, `show`, `export` and `report`: run
//! ids, names, experiments, tags, statuses, spec-hash prefixes and
//! `field=value`.

use super::RunRow;

/// What a list of selectors picked.
#[derive(Debug, Clone, PartialEq)]
pub struct Selection {
    /// The runs picked, in id order.
    pub runs: Vec<RunRow>,
    /// The selectors that matched no run (worth a note, not an error, while
    /// others matched).
    pub unmatched: Vec<String>,
}

/// The runs `selectors` pick, in id order; no selector picks every run. A
/// selector is a run id (`12`), a name, experiment or tag, a status
/// (`finished`), a spec-hash prefix of at least 4 digits, or a resolved spec
/// field (`model.arch=cnn_rnn`, `train.seed=2`). A run is picked when any
/// selector matches it; it is an error only when selectors were given and
/// none matched any run (the message names them).
pub fn select(runs: &[RunRow], selectors: &[String]) -> std::result::Result<Selection, String> {
    if selectors.is_empty() {
        return Ok(Selection {
            runs: runs.to_vec(),
            unmatched: Vec::new(),
        });
    }
    let mut picked = vec![false; runs.len()];
    let mut unmatched = Vec::new();
    for selector in selectors {
        let mut any = false;
        for (run, pick) in runs.iter().zip(picked.iter_mut()) {
            if matches(run, selector) {
                *pick = true;
                any = true;
            }
        }
        if !any {
            unmatched.push(selector.clone());
        }
    }
    if unmatched.len() == selectors.len() {
        let quoted: Vec<String> = unmatched
            .iter()
            .map(|s| format!("`{}`", crate::text::printable(s)))
            .collect();
        return Err(format!(
            "no run matches {}\n  help: a selector is a run id, name, experiment, tag, status, \
             spec-hash prefix, or field=value such as model.arch=cnn; `posterlab runs` lists runs",
            quoted.join(" or ")
        ));
    }
    Ok(Selection {
        runs: runs
            .iter()
            .zip(picked)
            .filter(|(_, p)| *p)
            .map(|(r, _)| r.clone())
            .collect(),
        unmatched,
    })
}

fn matches(run: &RunRow, selector: &str) -> bool {
    if let Ok(id) = selector.parse::<i64>() {
        if id == run.id {
            return true;
        }
    }
    if let Some((key, value)) = selector.split_once('=') {
        return spec_value(&run.spec_toml, key.trim()).is_some_and(|v| v == value.trim());
    }
    run.name == selector
        || run.experiment == selector
        || run.tags.iter().any(|t| t == selector)
        || run.status.as_str() == selector
        || (selector.len() >= 4
            && selector.chars().all(|c| c.is_ascii_hexdigit())
            && run.spec_hash.starts_with(&selector.to_ascii_lowercase()))
}

/// A dotted field of a resolved spec, as text (strings without quotes).
pub fn spec_value(spec_toml: &str, key: &str) -> Option<String> {
    let table: toml::Table = spec_toml.parse().ok()?;
    let mut parts = key.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Table(t) => t.get("kind")?.as_str()?.to_string(),
        other => other.to_string(),
    })
}
