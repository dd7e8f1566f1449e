//! Experiment specs: every validation error names file, line and column and
//! says what is allowed; sweeps expand in the documented order; the run hash
//! ignores key order, comments and written-out defaults.

use std::path::Path;

use posterlab::spec::{
    self, load_str, load_str_with, Arch, Diagnostic, LoadOptions, Loss, Schedule, Spec,
};

fn errors(text: &str) -> Vec<Diagnostic> {
    load_str(Path::new("experiments/a.toml"), text).expect_err("the spec should be rejected")
}

/// The one error of a spec: its `line:col`, and the text of message + help.
fn one_error(text: &str) -> ((usize, usize), String) {
    let errs = errors(text);
    assert_eq!(errs.len(), 1, "expected one error, got {errs:#?}");
    let d = &errs[0];
    assert_eq!(d.path, Path::new("experiments/a.toml"));
    ((d.line, d.col), d.to_string())
}

fn runs(text: &str) -> Vec<Spec> {
    load_str(Path::new("experiments/a.toml"), text).unwrap_or_else(|e| panic!("{e:#?}"))
}

#[test]
fn unknown_key_suggests_the_field_meant() {
    let (at, msg) = one_error("[train]\nepochs = 3\nlr_rate = 0.1\n");
    assert_eq!(at, (3, 1));
    assert!(
        msg.starts_with("experiments/a.toml:3:1: unknown key `lr_rate` in [train]"),
        "{msg}"
    );
    assert!(msg.contains("did you mean `lr`?"), "{msg}");
}

#[test]
fn key_in_the_wrong_section_says_where_it_belongs() {
    let (_, msg) = one_error("[model]\nbatch_size = 3\n");
    assert!(msg.contains("`batch_size` belongs in [train]"), "{msg}");
    let (at, msg) = one_error("lr = 0.1\n");
    assert_eq!(at, (1, 1));
    assert!(
        msg.contains("outside any section") && msg.contains("belongs in [train]"),
        "{msg}"
    );
}

#[test]
fn unknown_section_suggests() {
    let (at, msg) = one_error("[trian]\nlr = 0.1\n");
    assert_eq!(at, (1, 2));
    assert!(
        msg.contains("unknown section [trian]") && msg.contains("did you mean [train]?"),
        "{msg}"
    );
}

#[test]
fn wrong_types_say_what_is_expected() {
    let (at, msg) = one_error("[train]\nlr = \"0.001\"\n");
    assert_eq!(at, (2, 6));
    assert!(
        msg.contains("`train.lr` must be a number, found string \"0.001\""),
        "{msg}"
    );
    assert!(msg.contains("write it without quotes: 0.001"), "{msg}");

    let (_, msg) = one_error("[train]\nbatch_size = 32.0\n");
    assert!(
        msg.contains("must be an integer, found float 32")
            && msg.contains("without the decimal point"),
        "{msg}"
    );

    let (_, msg) = one_error("[model]\nbatch_norm = 1\n");
    assert!(
        msg.contains("`model.batch_norm` must be true or false"),
        "{msg}"
    );

    let (_, msg) = one_error("[model]\nchannels = 16\n");
    assert!(
        msg.contains("`model.channels` must be an array of integers"),
        "{msg}"
    );
}

#[test]
fn choices_list_what_is_allowed_and_suggest() {
    let (at, msg) = one_error("[model]\narch = \"cnn-rnn\"\n");
    assert_eq!(at, (2, 8));
    assert!(
        msg.contains("must be one of \"cnn\", \"cnn_rnn\"")
            && msg.contains("did you mean \"cnn_rnn\"?"),
        "{msg}"
    );
    let (_, msg) = one_error("[train]\nloss = \"hinge\"\n");
    assert!(
        msg.contains("\"bce\", \"weighted_bce\", \"focal\", \"categorical_ce\""),
        "{msg}"
    );
}

#[test]
fn out_of_range_values() {
    let cases: &[(&str, &str)] = &[
        ("[train]\nlr = 0\n", "`train.lr` must be > 0, found 0"),
        ("[train]\nlr = -1e-3\n", "`train.lr` must be > 0"),
        (
            "[train]\nbatch_size = 0\n",
            "`train.batch_size` must be between 1 and",
        ),
        (
            "[train]\nepochs = 0\n",
            "`train.epochs` must be between 1 and",
        ),
        (
            "[data]\ntest_fraction = 1.5\n",
            "`data.test_fraction` must be strictly between 0 and 1, found 1.5",
        ),
        (
            "[data]\nval_fraction = 0\n",
            "`data.val_fraction` must be strictly between 0 and 1",
        ),
        (
            "[data]\ntest_fraction = -0.1\n",
            "`data.test_fraction` must be strictly between 0 and 1",
        ),
        (
            "[model]\nconv_dropout = 1.0\n",
            "`model.conv_dropout` must be in [0, 1)",
        ),
        (
            "[train]\nthreshold = 1\n",
            "`train.threshold` must be strictly between 0 and 1",
        ),
        (
            "[train]\ndevice = \"gpu\"\n",
            "`train.device` must be \"cpu\", \"cuda\" or \"cuda:N\"",
        ),
        (
            "[data]\nresolution = 4\n",
            "`data.resolution` must be between 8 and 2048",
        ),
    ];
    for (text, expected) in cases {
        let (_, msg) = one_error(text);
        assert!(msg.contains(expected), "{text:?}: {msg}");
    }
    let (at, msg) = one_error("[data]\ntest_fraction = 0.5\nval_fraction = 0.5\n");
    assert_eq!(at, (3, 16));
    assert!(msg.contains("leaves no posters to train on"), "{msg}");
}

#[test]
fn resolution_too_small_for_the_conv_stack() {
    let (at, msg) = one_error("[data]\nresolution = 8\n[model]\nchannels = [8, 8, 8, 8]\n");
    assert_eq!(at, (2, 14), "points at the resolution");
    assert!(
        msg.contains("too small for 4 conv blocks") && msg.contains("vanishes at block 4"),
        "{msg}"
    );
    assert!(msg.contains("use resolution >= 16"), "{msg}");

    let (_, msg) = one_error("[data]\nresolution = 20\n[model]\npadding = \"valid\"\n");
    assert!(msg.contains("kernel 5 and padding \"valid\""), "{msg}");
    // valid 5x5 then pool: 64 -> 30 -> 13 -> 4 -> 0; the smallest that works is 76.
    assert!(msg.contains("use resolution >= 76"), "{msg}");
    runs("[data]\nresolution = 76\n[model]\npadding = \"valid\"\n");
}

#[test]
fn rnn_options_on_a_plain_cnn() {
    let (at, msg) = one_error("[model]\narch = \"cnn\"\nrnn_hidden = 64\n");
    assert_eq!(at, (3, 1));
    assert!(
        msg.contains("`model.rnn_hidden` applies only to arch = \"cnn_rnn\""),
        "{msg}"
    );
    assert!(msg.contains("set arch = \"cnn_rnn\""), "{msg}");
    // The default arch is cnn too.
    let (_, msg) = one_error("[model]\nrnn = \"lstm\"\n");
    assert!(msg.contains("`model.rnn` applies only"), "{msg}");
    // And dense layers on cnn_rnn.
    let (_, msg) = one_error("[model]\narch = \"cnn_rnn\"\ndense = [32]\n");
    assert!(
        msg.contains("`model.dense` applies only to arch = \"cnn\""),
        "{msg}"
    );
}

#[test]
fn rnn_options_are_fine_when_the_arch_is_swept() {
    let specs =
        runs("[model]\nrnn = \"lstm\"\n[sweep.grid]\n\"model.arch\" = [\"cnn\", \"cnn_rnn\"]\n");
    assert_eq!(specs.len(), 2);
    assert_eq!(specs[0].model.rnn, None);
    assert_eq!(
        specs[1].model.rnn.map(|r| r.kind),
        Some(spec::RnnKind::Lstm)
    );
}

#[test]
fn sweep_errors() {
    let (at, msg) = one_error("[sweep.grid]\n\"train.seed\" = []\n");
    assert_eq!(at, (2, 16));
    assert!(msg.contains("sweep axis `train.seed` is empty"), "{msg}");

    let (at, msg) = one_error("[sweep.grid]\n\"train.lr_rate\" = [1e-3]\n");
    assert_eq!(at, (2, 1));
    assert!(
        msg.contains("sweep key `train.lr_rate` names no spec field")
            && msg.contains("did you mean `train.lr`?"),
        "{msg}"
    );

    let (_, msg) = one_error("[sweep.grid]\n\"experiment.name\" = [\"a\"]\n");
    assert!(msg.contains("cannot be swept"), "{msg}");

    let (_, msg) = one_error("[sweep.grid]\n\"train.seed\" = 3\n");
    assert!(msg.contains("must be an array of values"), "{msg}");

    let (_, msg) = one_error("[sweep]\ngird = {}\n");
    assert!(msg.contains("unknown key `gird` in [sweep]"), "{msg}");
}

#[test]
fn a_bad_sweep_value_is_reported_once_at_the_value() {
    let text = "[sweep.grid]\n\"train.lr\" = [1e-3, -1.0]\n\"train.seed\" = [1, 2, 3]\n";
    let (at, msg) = one_error(text);
    assert_eq!(at, (2, 21));
    assert!(msg.contains("`train.lr` must be > 0, found -1"), "{msg}");
}

#[test]
fn every_problem_in_a_file_is_reported() {
    let errs = errors("[train]\nlr = 0\nbatch_size = 0\nfoo = 1\n");
    let lines: Vec<usize> = errs.iter().map(|d| d.line).collect();
    assert_eq!(lines, vec![2, 3, 4], "{errs:#?}");
}

#[test]
fn invalid_toml_is_located() {
    let (at, msg) = one_error("[train]\nlr = 0.1\nepochs = \n");
    assert_eq!(at.0, 3);
    assert!(msg.contains("invalid TOML"), "{msg}");
}

#[test]
fn kind_tables_check_their_settings() {
    let (_, msg) = one_error("[train]\nschedule = { kind = \"step\", step = 3 }\n");
    assert!(
        msg.contains("unknown setting `step`") && msg.contains("did you mean `step_size`?"),
        "{msg}"
    );
    let (_, msg) = one_error("[train]\nloss = { gamma = 2.0 }\n");
    assert!(msg.contains("`train.loss` table needs a `kind`"), "{msg}");
    let (_, msg) =
        one_error("[train]\noptimizer = { kind = \"sgd\", momentum = 0.0, nesterov = true }\n");
    assert!(msg.contains("nesterov SGD needs momentum > 0"), "{msg}");

    let s = &runs("[train]\nloss = { kind = \"focal\", gamma = 1.0 }\nschedule = \"plateau\"\nmonitor = \"val_micro_f1\"\n")[0];
    assert_eq!(
        s.train.loss,
        Loss::Focal {
            gamma: 1.0,
            alpha: 0.25
        }
    );
    match s.train.schedule {
        Schedule::Plateau { monitor, .. } => {
            assert_eq!(monitor, spec::Monitor::ValMicroF1, "inherits train.monitor")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn sweeps_expand_in_file_order_last_axis_fastest() {
    let text = r#"
        [experiment]
        name = "abl"
        [sweep.grid]
        "model.arch" = ["cnn", "cnn_rnn"]
        "train.seed" = [1, 2, 3]
    "#;
    let specs = runs(text);
    let got: Vec<(Arch, u64)> = specs.iter().map(|s| (s.model.arch, s.train.seed)).collect();
    use Arch::*;
    assert_eq!(
        got,
        vec![
            (Cnn, 1),
            (Cnn, 2),
            (Cnn, 3),
            (CnnRnn, 1),
            (CnnRnn, 2),
            (CnnRnn, 3)
        ]
    );
    assert_eq!(specs[4].name, "abl[arch=cnn_rnn,seed=2]");
    assert_eq!(
        specs[4].swept,
        vec![
            ("model.arch".into(), "\"cnn_rnn\"".into()),
            ("train.seed".into(), "2".into())
        ]
    );
    // Dotted keys without quotes are the same axes.
    let bare = runs("[experiment]\nname = \"abl\"\n[sweep.grid]\nmodel.arch = [\"cnn\", \"cnn_rnn\"]\ntrain.seed = [1, 2, 3]\n");
    assert_eq!(
        bare.iter().map(Spec::hash).collect::<Vec<_>>(),
        specs.iter().map(Spec::hash).collect::<Vec<_>>()
    );
}

#[test]
fn a_zip_takes_its_lists_together_and_crosses_the_grid() {
    let text = r#"
        [experiment]
        name = "z"
        [model]
        rnn = "lstm"
        [sweep.zip]
        "model.arch" = ["cnn", "cnn_rnn"]
        train.loss = ["bce", "categorical_ce"]
        [sweep.grid]
        "train.seed" = [1, 2]
    "#;
    let specs = runs(text);
    let got: Vec<(u64, Arch, Loss)> = specs
        .iter()
        .map(|s| (s.train.seed, s.model.arch, s.train.loss))
        .collect();
    use Arch::*;
    use Loss::*;
    // The grid's axes turn slowest, then the zip, whichever table the file
    // writes first; rnn = "lstm" applies to the cnn_rnn runs only.
    assert_eq!(
        got,
        [
            (1, Cnn, Bce),
            (1, CnnRnn, CategoricalCe),
            (2, Cnn, Bce),
            (2, CnnRnn, CategoricalCe)
        ]
    );
    assert_eq!(specs[1].name, "z[seed=1,arch=cnn_rnn,loss=categorical_ce]");
    assert_eq!(
        specs[1].swept,
        [
            ("train.seed".into(), "1".into()),
            ("model.arch".into(), "\"cnn_rnn\"".into()),
            ("train.loss".into(), "\"categorical_ce\"".into())
        ]
    );
    // A zip of one list is a grid axis by another name: the same runs.
    let zipped = runs("[sweep.zip]\n\"train.seed\" = [1, 2, 3]\n");
    let grid = runs("[sweep.grid]\n\"train.seed\" = [1, 2, 3]\n");
    assert_eq!(
        zipped.iter().map(Spec::hash).collect::<Vec<_>>(),
        grid.iter().map(Spec::hash).collect::<Vec<_>>()
    );
}

#[test]
fn zip_errors() {
    let text = "[sweep.zip]\n\"model.arch\" = [\"cnn\", \"cnn_rnn\"]\n\"train.loss\" = [\"bce\", \"focal\", \"bce\"]\n\"train.seed\" = [1, 2]\n";
    let (at, msg) = one_error(text);
    assert_eq!(at, (1, 8), "points at [sweep.zip]");
    assert!(
        msg.contains(
            "the lists of [sweep.zip] differ in length: model.arch has 2 values, \
             train.loss has 3 values, train.seed has 2 values"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("help: ") && msg.contains("[sweep.grid]"),
        "{msg}"
    );

    // Values are resolved as the grid's are: a bad one is reported at itself.
    let (at, msg) = one_error("[sweep.zip]\n\"train.lr\" = [1e-3, 0]\n\"train.seed\" = [1, 2]\n");
    assert_eq!(at, (2, 21));
    assert!(msg.contains("`train.lr` must be > 0, found 0"), "{msg}");

    let (at, msg) = one_error("[sweep.zip]\n\"train.lr\" = 1e-3\n");
    assert_eq!(at, (2, 14));
    assert!(
        msg.contains("sweep axis `train.lr` must be an array of values"),
        "{msg}"
    );

    let (_, msg) = one_error("[sweep]\nzip = [1, 2]\n");
    assert!(
        msg.contains("[sweep.zip] must be a table, found an array"),
        "{msg}"
    );

    let (at, msg) = one_error("[sweep.zips]\n\"train.seed\" = [1]\n");
    assert_eq!(at, (1, 8));
    assert!(
        msg.contains("unknown key `zips` in [sweep]") && msg.contains("did you mean `zip`?"),
        "{msg}"
    );
}

#[test]
fn a_field_is_swept_by_one_table_only() {
    let text = "[sweep.grid]\n\"train.seed\" = [1, 2]\n[sweep.zip]\n\"train.lr\" = [1e-3, 1e-2]\ntrain.seed = [3, 4]\n";
    let (at, msg) = one_error(text);
    assert_eq!(at, (5, 1), "at the second place");
    assert!(
        msg.contains("`train.seed` is swept by both [sweep.grid] (at 2:1) and [sweep.zip]"),
        "{msg}"
    );
    assert!(
        msg.contains("help: a field takes its values from one of"),
        "{msg}"
    );
    // Twice in one table: quoted and bare are the same field.
    let (at, msg) = one_error("[sweep.grid]\n\"train.seed\" = [1]\ntrain.seed = [2]\n");
    assert_eq!(at, (3, 1));
    assert!(
        msg.contains("sweep axis `train.seed` is given twice"),
        "{msg}"
    );
}

#[test]
fn sweep_points_that_resolve_alike_run_once() {
    // rnn does not apply to cnn runs: cnn×gru and cnn×lstm are one run.
    let specs = runs("[sweep.grid]\n\"model.arch\" = [\"cnn\", \"cnn_rnn\"]\n\"model.rnn\" = [\"gru\", \"lstm\"]\n");
    assert_eq!(specs.len(), 3);
}

#[test]
fn the_hash_ignores_order_comments_defaults_name_and_tags() {
    let base = runs("[train]\nlr = 0.01\nepochs = 5\n[model]\narch = \"cnn\"\n")[0].hash();
    let variants = [
        "[model]\narch = \"cnn\"\n[train]\nepochs = 5\nlr = 0.01\n",
        "# a comment\n[train] # here too\nepochs = 5 # five\nlr = 1e-2\n",
        "[train]\nlr = 0.01\nepochs = 5\nbatch_size = 32\nseed = 1\n[data]\nresolution = 64\ndataset = \"synthetic\"\n",
        "[experiment]\nname = \"other\"\ntags = [\"x\"]\n[train]\nlr = 0.01\nepochs = 5\n",
        "[train]\nlr = 0.01\nepochs = 5\nloss = { kind = \"bce\" }\nschedule = \"constant\"\nearly_stopping = false\n",
    ];
    for text in variants {
        assert_eq!(runs(text)[0].hash(), base, "{text}");
    }
    // …but any change to what the run does moves it.
    for text in [
        "[train]\nlr = 0.02\nepochs = 5\n",
        "[train]\nlr = 0.01\nepochs = 6\n",
        "[train]\nlr = 0.01\nepochs = 5\nseed = 2\n",
    ] {
        assert_ne!(runs(text)[0].hash(), base, "{text}");
    }
}

#[test]
fn the_hash_is_stable_across_builds() {
    // Pinned: if this changes, every stored run would be retrained. Bump
    // HASH_SCHEME and say so in the changelog when that is intended.
    let s = &runs("")[0];
    assert_eq!(spec::HASH_SCHEME, 1);
    assert_eq!(
        s.hash(),
        blake3::hash(s.resolved_toml().as_bytes())
            .to_hex()
            .to_string()
    );
    assert_eq!(&s.short_hash(), PINNED_DEFAULT_HASH);
}

/// The short hash of the all-defaults spec under hash scheme 1.
const PINNED_DEFAULT_HASH: &str = "858cb91d922f";

#[test]
fn a_grids_runs_keep_their_hashes() {
    // Pinned before [sweep.zip] and [sweep.random] existed: a spec with only
    // a grid keeps its runs' names, order and hashes (and so its finished runs).
    let text = r#"
        [experiment]
        name = "g"
        [train]
        epochs = 3
        [sweep.grid]
        "model.arch" = ["cnn", "cnn_rnn"]
        train.lr = [1e-3, 3e-4]
        "train.schedule" = ["constant", { kind = "cosine", min_lr = 1e-5 }]
    "#;
    let got: Vec<(String, String)> = runs(text)
        .iter()
        .map(|s| (s.name.clone(), s.short_hash()))
        .collect();
    let cosine = r#"{ kind = "cosine", min_lr = 1e-5 }"#;
    let want = [
        ("cnn", "0.001", "constant", "faec685d48c4"),
        ("cnn", "0.001", cosine, "5f5c7c664fe6"),
        ("cnn", "0.0003", "constant", "9db493240f77"),
        ("cnn", "0.0003", cosine, "b0134199e91f"),
        ("cnn_rnn", "0.001", "constant", "1f915aa8abf3"),
        ("cnn_rnn", "0.001", cosine, "d9606b20e7d7"),
        ("cnn_rnn", "0.0003", "constant", "230ab4b7b5d5"),
        ("cnn_rnn", "0.0003", cosine, "1b2a86f172b4"),
    ]
    .map(|(arch, lr, schedule, hash)| {
        (
            format!("g[arch={arch},lr={lr},schedule={schedule}]"),
            hash.to_string(),
        )
    });
    assert_eq!(got, want);
}

#[test]
fn experiment_name_defaults_to_the_file_stem() {
    let s = load_str(Path::new("experiments/seed1-cnn.toml"), "").unwrap();
    assert_eq!(s[0].name, "seed1-cnn");
    let (_, msg) = one_error("[experiment]\nname = \"\"\n");
    assert!(
        msg.contains("`experiment.name` must be a non-empty string"),
        "{msg}"
    );
}

#[test]
fn shipped_experiments_are_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("experiments");
    let specs = spec::load_paths(&[dir]).unwrap_or_else(|e| panic!("{e}"));
    for name in ["quickstart", "seed1-cnn", "seed2-cnn-rnn"] {
        assert!(
            specs.iter().any(|s| s.experiment == name),
            "experiments/{name}.toml is missing"
        );
    }
    for seed in ["seed1-cnn", "seed2-cnn-rnn"] {
        let seeds: Vec<u64> = specs
            .iter()
            .filter(|s| s.experiment == seed)
            .map(|s| s.train.seed)
            .collect();
        assert_eq!(seeds, [1, 2, 3], "{seed} runs three training seeds");
    }
    let ablation: Vec<&Spec> = specs
        .iter()
        .filter(|s| s.experiment == "ablation")
        .collect();
    assert_eq!(
        ablation.len(),
        2 * 2 * 2 * 3,
        "arch × loss × resolution × 3 seeds"
    );
}

#[test]
fn the_documented_defaults_are_the_defaults() {
    let printed = spec::fields::defaults_toml();
    assert_eq!(runs(&printed)[0].hash(), runs("")[0].hash());
    for f in spec::fields::FIELDS {
        assert!(
            !f.doc.is_empty(),
            "{}.{} has no documentation",
            f.section,
            f.key
        );
    }
}

#[test]
fn the_readme_spec_reference_is_what_spec_defaults_prints() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let marker = "<!-- spec-defaults:start -->\n```toml\n";
    let start = readme.find(marker).expect("start marker") + marker.len();
    let end = readme
        .find("```\n<!-- spec-defaults:end -->")
        .expect("end marker");
    assert_eq!(
        &readme[start..end],
        spec::fields::defaults_toml(),
        "regenerate with `posterlab spec defaults`"
    );
}

/// `(line, col)` and text of every error of a spec, in file order.
fn all_errors(text: &str) -> Vec<((usize, usize), String)> {
    errors(text)
        .iter()
        .map(|d| ((d.line, d.col), d.to_string()))
        .collect()
}

#[test]
fn every_bad_setting_in_a_kind_table_is_reported() {
    // Regression: `?` after the first setting hid the others.
    let errs = all_errors("[train]\nloss = { kind = \"focal\", gamma = -1, alpha = 2 }\n");
    assert_eq!(errs.len(), 2, "{errs:#?}");
    assert_eq!(errs[0].0, (2, 34));
    assert!(
        errs[0]
            .1
            .contains("`train.loss.gamma` must be >= 0, found -1"),
        "{errs:#?}"
    );
    assert_eq!(errs[1].0, (2, 46));
    assert!(
        errs[1]
            .1
            .contains("`train.loss.alpha` must be in [0, 1), found 2"),
        "{errs:#?}"
    );

    let cases: &[(&str, &[&str])] = &[
        (
            "[train]\nschedule = { kind = \"step\", step_size = 0, gamma = 2 }\n",
            &["`train.schedule.step_size` must be between 1", "`train.schedule.gamma` must be strictly between 0 and 1"],
        ),
        (
            "[train]\noptimizer = { kind = \"sgd\", momentum = 2, nesterov = 1 }\n",
            &["`train.optimizer.momentum` must be in [0, 1)", "`train.optimizer.nesterov` must be true or false"],
        ),
        (
            "[train]\nearly_stopping = { patience = -1, min_delta = -1 }\n",
            &["`train.early_stopping.patience` must be between 0", "`train.early_stopping.min_delta` must be >= 0"],
        ),
        // An unknown setting no longer hides a bad value beside it.
        (
            "[train]\nloss = { kind = \"focal\", gama = 2, alpha = 2 }\n",
            &["unknown setting `gama`", "`train.loss.alpha` must be in [0, 1)"],
        ),
        // Sweep values that are kind-tables go through the same checks.
        (
            "[sweep.grid]\n\"train.loss\" = [\"bce\", { kind = \"focal\", gamma = -1, alpha = 2 }]\n",
            &["`train.loss.gamma` must be >= 0", "`train.loss.alpha` must be in [0, 1)"],
        ),
    ];
    for (text, expected) in cases {
        let errs = all_errors(text);
        assert_eq!(errs.len(), expected.len(), "{text}: {errs:#?}");
        for (((line, _), msg), want) in errs.iter().zip(*expected) {
            assert!(msg.contains(want), "{text}: {msg}");
            assert_eq!(*line, 2, "{msg}");
        }
    }
    let (_, msg) = &all_errors("[train]\nloss = { kind = \"focal\", gama = 2, alpha = 2 }\n")[0];
    assert!(msg.contains("help: did you mean `gamma`?"), "{msg}");
}

#[test]
fn a_bad_arch_monitor_or_name_does_not_hide_the_next_error() {
    // Regression: these returned before the fields after them were read.
    let lines = |text: &str| errors(text).iter().map(|d| d.line).collect::<Vec<_>>();
    assert_eq!(lines("[model]\narch = \"rnn\"\nkernel = 0\n"), [2, 3]);
    assert_eq!(
        lines("[train]\nmonitor = \"val_los\"\nschedule = { kind = \"step\", gamma = 5 }\nearly_stopping = { patience = -1 }\n"),
        [2, 3, 4]
    );
    assert_eq!(lines("[experiment]\nname = \"\"\ntags = [1]\n"), [2, 3]);
    assert_eq!(lines("[experiment]\ntags = [1, \"a\", 2]\n"), [2, 2]);
    assert_eq!(lines("[model]\nchannels = [0, 8, -1]\n"), [2, 2]);
}

#[test]
fn a_duplicate_key_is_named_with_its_table_and_first_place() {
    // Regression: the message was "invalid TOML: duplicate key", naming neither.
    let (at, msg) = one_error("[train]\nlr = 0.1\nepochs = 3\nlr = 0.2\n");
    assert_eq!(at, (4, 1));
    assert!(msg.contains("duplicate key `lr` in [train]"), "{msg}");
    assert!(msg.contains("first written at 2:1"), "{msg}");
    assert!(msg.contains("help: "), "{msg}");

    let (at, msg) = one_error("[train]\nloss = { kind = \"focal\", kind = \"bce\" }\n");
    assert_eq!(at, (2, 26));
    assert!(
        msg.contains("duplicate key `kind` in [train.loss]"),
        "{msg}"
    );
    assert!(msg.contains("first written at 2:10"), "{msg}");

    let (at, msg) = one_error("lr = 1\nlr = 2\n");
    assert_eq!(at, (2, 1));
    assert!(msg.contains("duplicate key `lr` at the top level"), "{msg}");

    let (at, msg) = one_error("[sweep.grid]\n\"train.seed\" = [1]\n'train.seed' = [2]\n");
    assert_eq!(at, (3, 1));
    assert!(
        msg.contains("duplicate key `train.seed` in [sweep.grid]"),
        "{msg}"
    );

    let (at, msg) = one_error("[train]\nlr = 0.1\n[model]\nkernel = 3\n[train]\nepochs = 2\n");
    assert_eq!(at.0, 5);
    assert!(msg.contains("[train]") && msg.contains("twice"), "{msg}");
}

/// Every way a control character can reach a spec string.
const CONTROL_CHARACTER_CASES: &[(&str, &str, &str)] = &[
    (
        "[experiment]\nname = \"run\\u001b[31m\"\n",
        "`experiment.name`",
        "U+001B",
    ),
    (
        "[experiment]\ntags = [\"ok\", \"a\\u0000\"]\n",
        "`experiment.tags[1]`",
        "U+0000",
    ),
    (
        "[data]\ndataset = \"data/\\nx\"\n",
        "`data.dataset`",
        "U+000A",
    ),
    ("[data]\nimages = \"a\tb\"\n", "`data.images`", "U+0009"),
    (
        "[data]\nimages = \"\"\"a\nb\"\"\"\n",
        "`data.images`",
        "U+000A",
    ),
    (
        "[data]\nformat = \"auto\\u007f\"\n",
        "`data.format`",
        "U+007F",
    ),
    (
        "[train]\ndevice = \"cpu\\u0085\"\n",
        "`train.device`",
        "U+0085",
    ),
    (
        "[train]\nloss = { kind = \"bce\\u0007\" }\n",
        "`train.loss.kind`",
        "U+0007",
    ),
    (
        "[sweep.grid]\n\"data.dataset\" = [\"synthetic\", \"a\\u001bb\"]\n",
        "`sweep.grid.\"data.dataset\"[1]`",
        "U+001B",
    ),
    (
        "[sweep.grid]\n\"train.loss\" = [{ kind = \"focal\\t\" }]\n",
        "`sweep.grid.\"train.loss\"[0].kind`",
        "U+0009",
    ),
];

#[test]
fn control_characters_in_strings_are_refused() {
    // Regression: an ESC in a run name or a path reached terminals and logs raw.
    for (text, what, code) in CONTROL_CHARACTER_CASES {
        let errs = errors(text);
        let d = errs
            .iter()
            .find(|d| d.message.contains("control character"))
            .unwrap_or_else(|| panic!("{text:?}: {errs:#?}"));
        assert_eq!(d.line, 2, "{text:?}: {d}");
        let shown = d.to_string();
        assert!(
            shown.contains(&format!("{what} contains a control character ({code})")),
            "{text:?}: {shown}"
        );
        assert!(shown.contains("\n  help: "), "{shown}");
        for d in &errs {
            let shown = d.to_string().replace("\n  help: ", " ");
            assert!(
                !shown.chars().any(char::is_control),
                "raw control character in {shown:?}"
            );
        }
    }
    // The names the checks are after stay fine.
    runs("[experiment]\nname = \"a b é\"\ntags = [\"x-1\"]\n[data]\ndataset = \"synthetic\"\n");
}

#[test]
fn a_file_name_with_control_characters_is_refused_as_a_run_name() {
    // Regression: the default run name is the file stem, taken as it was.
    let path = Path::new("experiments/evil\u{1b}[2J.toml");
    let errs = load_str(path, "").expect_err("the stem is not a usable run name");
    assert_eq!(errs.len(), 1, "{errs:#?}");
    let shown = errs[0].to_string();
    assert!(shown.contains("evil\\u{1b}[2J"), "{shown}");
    assert!(
        shown.contains("contains a control character (U+001B)"),
        "{shown}"
    );
    assert!(shown.contains("\n  help: "), "{shown}");
    assert!(
        !shown
            .replace("\n  help: ", " ")
            .chars()
            .any(char::is_control),
        "{shown:?}"
    );
    // A name of its own makes the file name irrelevant to the run's name.
    let named = load_str(path, "[experiment]\nname = \"clean\"\n").unwrap();
    assert_eq!(named[0].name, "clean");
}

/// `[sweep.grid]` axes of `sizes[i]` integer values over distinct fields
/// (not valid values for most: for grids refused before they are resolved).
fn grid(sizes: &[usize]) -> String {
    let fields = spec::fields::FIELDS
        .iter()
        .filter(|f| ["data", "model", "train"].contains(&f.section));
    let mut text = String::from("[sweep.grid]\n");
    for (f, &n) in fields.zip(sizes) {
        let values: Vec<String> = (1..=n).map(|v| v.to_string()).collect();
        text.push_str(&format!(
            "\"{}.{}\" = [{}]\n",
            f.section,
            f.key,
            values.join(", ")
        ));
    }
    text
}

/// A valid grid of `seeds × epochs` distinct runs.
fn seeds_by_epochs(seeds: usize, epochs: usize) -> String {
    let list = |n: usize| {
        (1..=n)
            .map(|v| v.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "[sweep.grid]\n\"train.seed\" = [{}]\n\"train.epochs\" = [{}]\n",
        list(seeds),
        list(epochs)
    )
}

#[test]
fn a_sweep_above_the_limit_is_refused_before_it_is_expanded() {
    // Regression: a 10^9-point grid aborted on allocation; 10^6 took 1.4 GB.
    let (at, msg) = one_error(&seeds_by_epochs(101, 100));
    assert_eq!(at, (1, 8), "points at [sweep.grid]");
    assert!(
        msg.contains("train.seed: 101 values × train.epochs: 100 values = 10,100 runs, above the limit of 10,000"),
        "{msg}"
    );
    assert!(
        msg.contains("help: ") && msg.contains("--allow-large-sweep"),
        "{msg}"
    );
}

#[test]
fn a_sweep_too_large_to_count_is_refused_even_when_confirmed() {
    // 10^20 points overflow a 64-bit count: refused at once, limit or not.
    let text = grid(&[10; 20]);
    for options in [LoadOptions::default(), LoadOptions { max_runs: None }] {
        let errs = load_str_with(Path::new("experiments/a.toml"), &text, options)
            .expect_err("uncountable");
        assert_eq!(errs.len(), 1, "{errs:#?}");
        let msg = errs[0].to_string();
        assert!(
            msg.contains("data.dataset: 10 values × data.format: 10 values × "),
            "{msg}"
        );
        assert!(
            msg.contains("= more than 18,446,744,073,709,551,615 runs"),
            "{msg}"
        );
    }
}

#[test]
fn the_sweep_limit_is_the_callers_to_lift() {
    assert_eq!(LoadOptions::default().max_runs, Some(spec::MAX_SWEEP_RUNS));
    let text = &seeds_by_epochs(3, 2);
    let path = Path::new("experiments/a.toml");
    let errs = load_str_with(path, text, LoadOptions { max_runs: Some(5) }).unwrap_err();
    assert!(
        errs[0].message.contains(
            "train.seed: 3 values × train.epochs: 2 values = 6 runs, above the limit of 5"
        ),
        "{errs:#?}"
    );
    assert_eq!(
        load_str_with(path, text, LoadOptions { max_runs: Some(6) })
            .unwrap()
            .len(),
        6
    );
    // Confirmed: a grid above the default limit expands in full.
    let large = seeds_by_epochs(101, 100);
    assert!(one_error(&large)
        .1
        .contains("10,100 runs, above the limit of 10,000"));
    let specs = load_str_with(path, &large, LoadOptions { max_runs: None })
        .unwrap_or_else(|e| panic!("{e:#?}"));
    assert_eq!(specs.len(), 101 * 100);
}
