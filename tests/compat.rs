//! A database made by an earlier posterlab reads back exactly as it did:
//! the report (every figure, table and the index page), the exports and the
//! listings of `tests/fixtures/db-v1/posterlab.sqlite` (9 runs: a 2 × 2 sweep,
//! a one-epoch run, an odd name, a divergence, a CNN+LSTM with focal loss, a
//! run killed after its first epoch; made by posterlab at commit 2969eaa)
//! must hash as `expected.txt` says. Refactors of the store, the report or
//! the CLI keep these bytes.
//!
//! `POSTERLAB_BLESS=1 cargo test --test compat` rewrites `expected.txt` from
//! the current build: only for a change of output that is meant.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::{files_under, posterlab, stderr};

fn fixture() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/db-v1"))
}

/// Every output of the read commands on the fixture, by name.
fn outputs() -> BTreeMap<String, Vec<u8>> {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("fixture.sqlite");
    std::fs::copy(fixture().join("posterlab.sqlite"), &db).unwrap();
    // The poster files the gallery embeds: the recorded set, remade (the
    // generator is deterministic) where the runs recorded it, `posters/`.
    let o = posterlab(
        dir.path(),
        &["synth", "--out", "posters", "--count", "120", "--seed", "5"],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let mut out = BTreeMap::new();
    let o = posterlab(
        dir.path(),
        &[
            "--db",
            "fixture.sqlite",
            "report",
            "--out",
            "r",
            "finished",
            "diverged",
            "running",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    for (name, bytes) in files_under(&dir.path().join("r")) {
        out.insert(format!("report/{name}"), bytes);
    }
    for (name, args) in [
        ("runs.txt", vec!["runs"]),
        ("show-6.txt", vec!["show", "6"]),
        ("show-9.txt", vec!["show", "busy"]),
        ("export.csv", vec!["export"]),
        ("export.json", vec!["export", "--format", "json"]),
        ("export-empty.csv", vec!["export", "diverges"]),
    ] {
        let mut full = vec!["--db", "fixture.sqlite"];
        full.extend(args);
        let o = posterlab(dir.path(), &full);
        assert!(o.status.success(), "{full:?}: {}", stderr(&o));
        out.insert(name.to_string(), o.stdout);
    }
    out
}

#[test]
fn a_database_made_before_reads_back_byte_for_byte() {
    let got: BTreeMap<String, String> = outputs()
        .into_iter()
        .map(|(name, bytes)| (name, blake3::hash(&bytes).to_hex().to_string()))
        .collect();
    let manifest = fixture().join("expected.txt");
    if std::env::var_os("POSTERLAB_BLESS").is_some() {
        let text: String = got.iter().map(|(n, h)| format!("{h}  {n}\n")).collect();
        std::fs::write(&manifest, text).unwrap();
        return;
    }
    let expected: BTreeMap<String, String> = std::fs::read_to_string(&manifest)
        .unwrap()
        .lines()
        .map(|l| {
            let (hash, name) = l.split_once("  ").unwrap();
            (name.to_string(), hash.to_string())
        })
        .collect();
    let differ: Vec<&String> = expected
        .keys()
        .chain(got.keys())
        .filter(|n| expected.get(*n) != got.get(*n))
        .collect();
    assert!(
        differ.is_empty(),
        "outputs that changed, appeared or vanished: {differ:?}"
    );
}
