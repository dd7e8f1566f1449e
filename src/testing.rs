//! Test helpers shared by several modules' unit tests.

use crate::store::{RunRow, Status};

/// A run row with every field filled in plainly: `id`, `name` (its
/// experiment is the name up to `[`), `status`, tag `seed`, a spec hash
/// starting with the id in hex then `abcdef0123`, three planned and done
/// epochs.
pub fn run_row(id: i64, name: &str, status: Status) -> RunRow {
    RunRow {
        id,
        uid: format!("uid{id}"),
        name: name.to_string(),
        experiment: name.split('[').next().unwrap_or(name).to_string(),
        tags: vec!["seed".to_string()],
        spec_hash: format!("{id:x}abcdef0123"),
        spec_toml: String::new(),
        status,
        status_epoch: None,
        error: None,
        epochs_planned: 3,
        epochs_done: 3,
        best_epoch: Some(3),
        stopped_early: false,
        monitor: crate::metric::Metric::Loss,
        rule: crate::spec::Rule::Threshold,
        threshold: 0.5,
        genres: Vec::new(),
        dataset: "synthetic".into(),
        dataset_hash: String::new(),
        dataset_csv: String::new(),
        swept: Vec::new(),
        checkpoint_dir: Default::default(),
        train_seconds: 0.0,
        created_at: String::new(),
        updated_at: String::new(),
        finished_at: None,
        best_val_loss: None,
        test_micro_f1: None,
    }
}
