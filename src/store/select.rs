//! The run-selector language of `runs`, `show`, `export` and `report`: run
//! ids, names, experiments, tags, statuses, spec-hash prefixes and
//! `field=value`.

use super::rows::RunRow;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Status;

    fn run(id: i64, name: &str, status: Status, spec_toml: &str) -> RunRow {
        RunRow {
            spec_toml: spec_toml.to_string(),
            ..crate::testing::run_row(id, name, status)
        }
    }

    fn runs() -> Vec<RunRow> {
        let cnn = "[model]\narch = \"cnn\"\n[train]\nseed = 1\nloss = { kind = \"focal\", gamma = 2.0 }\n";
        let rnn = "[model]\narch = \"cnn_rnn\"\n[train]\nseed = 2\nloss = \"bce\"\n";
        vec![
            run(1, "ablation[arch=cnn]", Status::Finished, cnn),
            run(2, "ablation[arch=cnn_rnn]", Status::Diverged, rnn),
            run(3, "quickstart", Status::Running, cnn),
        ]
    }

    fn ids(selectors: &[&str]) -> Result<(Vec<i64>, Vec<String>), String> {
        let selectors: Vec<String> = selectors.iter().map(|s| s.to_string()).collect();
        select(&runs(), &selectors).map(|s| (s.runs.iter().map(|r| r.id).collect(), s.unmatched))
    }

    #[test]
    fn each_kind_of_selector_picks_its_runs() {
        for (selectors, want) in [
            (&[][..], vec![1, 2, 3]),
            (&["2"][..], vec![2]),
            (&["quickstart"], vec![3]),
            (&["ablation"], vec![1, 2]),
            (&["seed"], vec![1, 2, 3]),
            (&["diverged"], vec![2]),
            (&["1abc"], vec![1]),
            (&["1ABC"], vec![1]),
            (&["model.arch=cnn_rnn"], vec![2]),
            (&["train.seed = 1"], vec![1, 3]),
            (&["train.loss=focal"], vec![1, 3]),
            (&["3", "finished"], vec![1, 3]),
        ] {
            assert_eq!(ids(selectors).unwrap().0, want, "{selectors:?}");
        }
    }

    #[test]
    fn short_or_non_hex_prefixes_are_not_hashes() {
        // Three digits are too short to be a hash prefix; `abc` matches no
        // name, so nothing is picked.
        assert!(ids(&["1ab"]).is_err());
        assert!(ids(&["xyz1"]).is_err());
    }

    #[test]
    fn a_selector_matching_nothing_is_noted_and_only_no_match_at_all_fails() {
        let (picked, unmatched) = ids(&["finished", "interrupted"]).unwrap();
        assert_eq!(picked, [1]);
        assert_eq!(unmatched, ["interrupted"]);
        let e = ids(&["interrupted", "model.arch=vit"]).unwrap_err();
        assert!(
            e.starts_with("no run matches `interrupted` or `model.arch=vit`"),
            "{e}"
        );
    }

    #[test]
    fn spec_values_read_dotted_fields_as_text() {
        let toml =
            "[train]\nlr = 0.001\nloss = { kind = \"focal\", gamma = 2.0 }\ndevice = \"cpu\"\n";
        assert_eq!(spec_value(toml, "train.lr").as_deref(), Some("0.001"));
        assert_eq!(spec_value(toml, "train.loss").as_deref(), Some("focal"));
        assert_eq!(spec_value(toml, "train.device").as_deref(), Some("cpu"));
        assert_eq!(spec_value(toml, "train.nope"), None);
        assert_eq!(spec_value("not toml [", "train.lr"), None);
    }
}
