//! Experiment specs: every validation error names file, line and column and
//! says what is allowed; sweeps expand in the documented order; the run hash
//! ignores key order, comments and written-out defaults.

use std::path::Path;

use posterlab::spec::{
    self, load_str, load_str_with, Arch, Augment, Diagnostic, LoadOptions, Loss, Schedule, Spec,
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
            "[train]\ndecision = { kind = \"top_k\", k = 0 }\n",
            "`train.decision.k` must be between 1 and",
        ),
        (
            "[train]\ndecision = \"tunned\"\n",
            "did you mean \"tuned\"?",
        ),
        (
            "[train]\ndecision = { kind = \"tuned\", k = 3 }\n",
            "unknown setting `k` in `train.decision (kind \"tuned\")`",
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
        msg.contains("`train.seed` is given twice in [sweep.grid]"),
        "{msg}"
    );
}

/// The README's example of `[sweep.random]`, with `n` samples.
fn random_sweep(n: usize) -> String {
    format!(
        r#"
        [experiment]
        name = "r"
        [sweep.random]
        n = {n}
        seed = 7
        "train.lr" = {{ log_uniform = [1e-4, 1e-2] }}
        "train.loss" = {{ choice = ["bce", "focal"] }}
        "model.conv_dropout" = {{ uniform = [0.0, 0.5] }}
        "train.batch_size" = {{ int = [16, 64] }}
        "#
    )
}

/// Each run's swept values, as `run --dry-run` lists them.
fn swept(specs: &[Spec]) -> Vec<String> {
    specs
        .iter()
        .map(|s| {
            let parts: Vec<String> = s.swept.iter().map(|(k, v)| format!("{k}={v}")).collect();
            parts.join(" ")
        })
        .collect()
}

#[test]
fn a_random_sweep_draws_these_values_for_seed_7() {
    // Pinned: if these move, every random sweep's runs move with them (and
    // their finished runs would be trained again).
    let specs = runs(&random_sweep(4));
    assert_eq!(
        swept(&specs),
        [
            "train.lr=0.0018 train.loss=\"focal\" model.conv_dropout=0.195 train.batch_size=40",
            "train.lr=0.002635 train.loss=\"focal\" model.conv_dropout=0.4678 train.batch_size=61",
            "train.lr=0.002055 train.loss=\"focal\" model.conv_dropout=0.1281 train.batch_size=43",
            "train.lr=0.0001171 train.loss=\"bce\" model.conv_dropout=0.01211 train.batch_size=50",
        ]
    );
    // Sampled points are ordinary runs: named by their values, resolved
    // exactly (the kind-table of the loss in full).
    let s = &specs[1];
    assert_eq!(
        s.name,
        "r[lr=0.002635,loss=focal,conv_dropout=0.4678,batch_size=61]"
    );
    assert_eq!(
        (s.train.lr, s.model.conv_dropout, s.train.batch_size),
        (0.002635, 0.4678, 61)
    );
    assert_eq!(
        s.train.loss,
        Loss::Focal {
            gamma: 2.0,
            alpha: 0.25
        }
    );
    assert_eq!(s.short_hash(), "b9c57806fc78");
}

#[test]
fn raising_n_keeps_the_samples_already_drawn() {
    let twenty = runs(&random_sweep(20));
    let forty = runs(&random_sweep(40));
    assert_eq!(twenty.len(), 20);
    assert_eq!(forty.len(), 40);
    let hashes = |specs: &[Spec]| specs.iter().map(Spec::hash).collect::<Vec<_>>();
    assert_eq!(
        hashes(&forty[..20]),
        hashes(&twenty),
        "finished runs are skipped"
    );
    // …and the next 20 are new runs.
    let first: std::collections::HashSet<String> = hashes(&twenty).into_iter().collect();
    assert!(hashes(&forty[20..]).iter().all(|h| !first.contains(h)));
}

#[test]
fn a_fields_samples_depend_on_the_seed_the_index_and_its_name_only() {
    let lrs = |text: &str| runs(text).iter().map(|s| s.train.lr).collect::<Vec<_>>();
    let alone = "[sweep.random]\nn = 5\nseed = 7\n\"train.lr\" = { log_uniform = [1e-4, 1e-2] }\n";
    // The README's example draws the same five learning rates as lr alone:
    // other fields, before or after it, do not move them.
    let with_others = runs(&random_sweep(5));
    assert_eq!(
        with_others.iter().map(|s| s.train.lr).collect::<Vec<_>>(),
        lrs(alone)
    );
    let reordered = "[sweep.random]\nseed = 7\n\"train.seed\" = { int = [1, 9] }\ntrain.lr = { log_uniform = [1e-4, 1e-2] }\nn = 5\n";
    assert_eq!(
        lrs(reordered),
        lrs(alone),
        "written bare, after another field"
    );
    // Another seed draws afresh.
    assert_ne!(lrs(&alone.replace("seed = 7", "seed = 8")), lrs(alone));
}

#[test]
fn drawn_values_stay_in_their_bounds() {
    let text = "[sweep.random]\nn = 200\nseed = 1\n\"train.seed\" = { int = [1, 3] }\n\"train.lr\" = { log_uniform = [1e-4, 1e-2] }\n\"model.conv_dropout\" = { uniform = [0.1, 0.2] }\n";
    let specs = runs(text);
    let seeds: std::collections::BTreeSet<u64> = specs.iter().map(|s| s.train.seed).collect();
    assert_eq!(seeds, [1, 2, 3].into(), "int includes both ends");
    for s in &specs {
        let (lr, dropout) = (s.train.lr, s.model.conv_dropout);
        assert!((1e-4..=1e-2).contains(&lr), "{lr}");
        assert!((0.1..=0.2).contains(&dropout), "{dropout}");
        // 4 significant digits: the shortest text of the value has at most 4.
        for x in [lr, dropout] {
            let digits = format!("{x:e}")
                .split('e')
                .next()
                .unwrap()
                .replace(['.', '-'], "");
            assert!(digits.len() <= 4, "{x}");
        }
    }
    // A log-uniform draw spreads over the decades: about half below 1e-3.
    let low = specs.iter().filter(|s| s.train.lr < 1e-3).count();
    assert!((70..=130).contains(&low), "{low} of 200 below 1e-3");
}

#[test]
fn choice_draws_any_value_the_field_takes() {
    let text = r#"
        [model]
        rnn = "lstm"
        [sweep.random]
        n = 40
        seed = 3
        "train.schedule" = { choice = ["constant", { kind = "cosine", min_lr = 1e-5 }] }
        "model.batch_norm" = { choice = [true, false] }
        "model.arch" = { choice = ["cnn", "cnn_rnn"] }
    "#;
    let specs = runs(text);
    let kinds: std::collections::BTreeSet<String> = specs
        .iter()
        .map(|s| {
            format!(
                "{:?}/{}/{}",
                s.train.schedule, s.model.batch_norm, s.model.arch
            )
        })
        .collect();
    // 2 × 2 × 2 combinations, each drawn in 40 samples; alike samples run once.
    assert_eq!(kinds.len(), 8, "{kinds:?}");
    assert_eq!(specs.len(), 8);
    // rnn = "lstm" applies to the runs whose arch the choice made cnn_rnn.
    assert!(specs
        .iter()
        .all(|s| s.model.rnn.is_some() == (s.model.arch == Arch::CnnRnn)));
    assert!(specs
        .iter()
        .any(|s| s.train.schedule == Schedule::Cosine { min_lr: 1e-5 }));
}

#[test]
fn random_samples_cross_the_grid_and_the_zip() {
    let text = r#"
        [experiment]
        name = "x"
        [sweep.random]
        n = 2
        seed = 7
        "train.lr" = { log_uniform = [1e-4, 1e-2] }
        [sweep.zip]
        "model.arch" = ["cnn", "cnn_rnn"]
        "train.loss" = ["bce", "categorical_ce"]
        [sweep.grid]
        "train.seed" = [1, 2]
    "#;
    let specs = runs(text);
    let got: Vec<(u64, Arch, f64)> = specs
        .iter()
        .map(|s| (s.train.seed, s.model.arch, s.train.lr))
        .collect();
    // Grid, then zip, then the sample index, the last fastest; every sample
    // is the README example's (seed 7) for every grid point and zip tuple.
    let (a, b) = (0.0018, 0.002635);
    use Arch::*;
    assert_eq!(
        got,
        [
            (1, Cnn, a),
            (1, Cnn, b),
            (1, CnnRnn, a),
            (1, CnnRnn, b),
            (2, Cnn, a),
            (2, Cnn, b),
            (2, CnnRnn, a),
            (2, CnnRnn, b)
        ]
    );
    assert_eq!(
        specs[3].name,
        "x[seed=1,arch=cnn_rnn,loss=categorical_ce,lr=0.002635]"
    );
}

#[test]
fn random_sweep_errors() {
    // (the table's text, line:col, message, help; "" where none is needed)
    let cases: &[(&str, (usize, usize), &str, &str)] = &[
        (
            "n = 5\nseed = 1\n\"train.lr\" = { loguniform = [1e-4, 1e-2] }\n",
            (4, 16),
            "unknown distribution `loguniform` for `train.lr`",
            "did you mean `log_uniform`?",
        ),
        (
            "n = 5\nseed = 1\n\"train.lr\" = { uniform = [1e-4] }\n",
            (4, 26),
            "`uniform` for `train.lr` takes two bounds, [lo, hi], found 1 value",
            "e.g. uniform = [1, 10]",
        ),
        (
            "n = 5\nseed = 1\n\"train.lr\" = { uniform = [1e-2, 1e-4] }\n",
            (4, 26),
            "`uniform` for `train.lr` has lo > hi: [0.01, 0.0001]",
            "write the smaller bound first: [0.0001, 0.01]",
        ),
        (
            "n = 5\nseed = 1\n\"train.weight_decay\" = { log_uniform = [0, 1e-2] }\n",
            (4, 40),
            "`log_uniform` for `train.weight_decay` needs lo > 0, found 0",
            "draw with uniform",
        ),
        (
            "n = 5\nseed = 1\n\"train.batch_size\" = { int = [16.0, 64] }\n",
            (4, 31),
            "`int` for `train.batch_size` takes integer bounds, found float 16",
            "write it without the decimal point: 16",
        ),
        (
            "n = 5\nseed = 1\n\"train.batch_size\" = { uniform = [16, 64] }\n",
            (4, 24),
            "`train.batch_size` takes integers, which `uniform` does not draw",
            "draw it with int = [lo, hi]",
        ),
        (
            "n = 5\nseed = 1\n\"train.loss\" = { choice = [] }\n",
            (4, 27),
            "`choice` for `train.loss` is empty",
            "at least one value",
        ),
        (
            "n = 5\nseed = 1\n\"train.lr\" = [1e-3, 1e-2]\n",
            (4, 14),
            "`train.lr` in [sweep.random] must be a distribution, found an array",
            "put the list in [sweep.grid]",
        ),
        (
            "n = 5\nseed = 1\n\"train.lr\" = { uniform = [0.1, 0.2], int = [1, 2] }\n",
            (4, 38),
            "`train.lr` needs one distribution, found 2",
            "{ log_uniform = [lo, hi] }",
        ),
        (
            "seed = 1\n\"train.lr\" = { uniform = [0.1, 0.2] }\n",
            (1, 8),
            "[sweep.random] needs `n`",
            "how many samples to draw",
        ),
        (
            "n = 0\nseed = 1\n\"train.lr\" = { uniform = [0.1, 0.2] }\n",
            (2, 5),
            "`n` in [sweep.random] must be an integer >= 1, found integer 0",
            "n = 20",
        ),
        (
            "n = 5\n\"train.lr\" = { uniform = [0.1, 0.2] }\n",
            (1, 8),
            "[sweep.random] needs `seed`",
            "another seed draws afresh",
        ),
        (
            "n = 5\nseed = 1\n",
            (1, 8),
            "[sweep.random] names no field to draw",
            "log_uniform",
        ),
        (
            "n = 5\nseed = 1\nseeds = 2\n\"train.lr\" = { uniform = [0.1, 0.2] }\n",
            (4, 1),
            "sweep key `seeds` names no spec field",
            "did you mean `seed`?",
        ),
        (
            "n = 5\nseed = 1\n\"experiment.tags\" = { choice = [[\"a\"]] }\n",
            (4, 1),
            "sweep key `experiment.tags` names no spec field",
            "cannot be swept",
        ),
        (
            "n = 5\nseed = 1\n\"train.lr\" = { uniform = [0.1, 0.2] }\ntrain.lr = { int = [1, 2] }\n",
            (5, 1),
            "`train.lr` is given twice in [sweep.random]",
            "",
        ),
        // A drawn value goes through the field's own checks, once per
        // distribution however many samples fail, at the distribution.
        (
            "n = 50\nseed = 1\n\"model.conv_dropout\" = { uniform = [0.0, 1.5] }\n",
            (4, 24),
            "`model.conv_dropout` must be in [0, 1), found 1.",
            "the value was drawn from this distribution",
        ),
        (
            "n = 50\nseed = 1\n\"train.loss\" = { choice = [\"bce\", \"hinge\"] }\n",
            (4, 35),
            "`train.loss` must be one of",
            "",
        ),
    ];
    for (table, at, message, help) in cases {
        let text = format!("[sweep.random]\n{table}");
        let errs = all_errors(&text);
        assert_eq!(errs.len(), 1, "{text}: {errs:#?}");
        let (got_at, msg) = &errs[0];
        assert!(msg.contains(message), "{text}: {msg}");
        let shown_help = msg.split_once("\n  help: ").map_or("", |(_, h)| h);
        assert!(shown_help.contains(help), "{text}: {msg}");
        assert_eq!(got_at, at, "{text}: {msg}");
    }

    let (at, msg) = one_error("[sweep.grid]\n\"train.lr\" = [1e-3]\n[sweep.random]\nn = 2\nseed = 1\ntrain.lr = { uniform = [1e-3, 1e-2] }\n");
    assert_eq!(at, (6, 1));
    assert!(
        msg.contains("`train.lr` is swept by both [sweep.grid] (at 2:1) and [sweep.random]"),
        "{msg}"
    );
    let (_, msg) = one_error("[sweep]\nrandom = 3\n");
    assert!(
        msg.contains("[sweep.random] must be a table, found integer 3")
            && msg.contains("help: write it as a section: [sweep.random] then n = 20"),
        "{msg}"
    );
    let (_, msg) = one_error("[sweep.randon]\nn = 2\n");
    assert!(msg.contains("did you mean `random`?"), "{msg}");
    let (_, msg) = one_error("[sweep]\nseed = 2\n");
    assert!(
        msg.contains("unknown key `seed` in [sweep]")
            && msg.contains("[sweep.grid], [sweep.zip] and [sweep.random]"),
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
    // 2 seeds (outer) × 8 samples, each sample's rate and batch size the same
    // for both seeds.
    let search: Vec<(u64, f64, usize)> = specs
        .iter()
        .filter(|s| s.experiment == "random-lr")
        .map(|s| (s.train.seed, s.train.lr, s.train.batch_size))
        .collect();
    assert_eq!(search.len(), 2 * 8);
    for (first, second) in search[..8].iter().zip(&search[8..]) {
        assert_eq!((first.0, second.0), (1, 2));
        assert_eq!((first.1, first.2), (second.1, second.2));
        assert!((1e-4..=1e-2).contains(&first.1), "{first:?}");
        assert!([16, 32, 64].contains(&first.2), "{first:?}");
    }
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

#[test]
fn the_sweep_limit_counts_the_grid_the_zip_and_the_samples_together() {
    let text = |n: u64| {
        format!(
            "[sweep.grid]\n\"train.seed\" = [1, 2, 3]\n[sweep.zip]\n\"model.arch\" = [\"cnn\", \"cnn_rnn\"]\n\"train.loss\" = [\"bce\", \"focal\"]\n[sweep.random]\nn = {n}\nseed = 1\n\"train.lr\" = {{ log_uniform = [1e-4, 1e-2] }}\n"
        )
    };
    let (at, msg) = one_error(&text(2000));
    assert_eq!(at, (1, 8), "points at the sweep's first table");
    assert!(
        msg.contains(
            "train.seed: 3 values × [sweep.zip] of model.arch, train.loss: 2 values × \
             [sweep.random]: 2,000 samples = 12,000 runs, above the limit of 10,000"
        ),
        "{msg}"
    );
    assert!(msg.contains("--allow-large-sweep"), "{msg}");
    // Counted, not drawn: 3 × 2 × 4·10^18 samples overflow the count and are
    // refused at once.
    let (_, msg) = one_error(&text(4_000_000_000_000_000_000));
    assert!(
        msg.contains("= more than 18,446,744,073,709,551,615 runs"),
        "{msg}"
    );
    // 3 × 2 × 1666 = 9,996 runs are within it (fewer are kept: samples whose
    // rounded learning rates coincide are one run).
    let kept = runs(&text(1666)).len();
    assert!((9_000..=9_996).contains(&kept), "{kept}");
}

#[test]
fn augment_is_off_unless_asked_for_and_true_is_every_default() {
    assert_eq!(runs("")[0].data.augment, None);
    let on = runs("[data]\naugment = true\n")[0].data.augment;
    assert_eq!(
        on,
        Some(Augment {
            flip: true,
            crop: (0.8, 1.0),
            brightness: 0.2,
            contrast: 0.2
        })
    );
    // A table's settings lie over the defaults, as in every other table.
    assert_eq!(runs("[data]\naugment = {}\n")[0].data.augment, on);
    assert_eq!(
        runs("[data]\naugment = { crop = [0.5, 0.9], contrast = 0 }\n")[0]
            .data
            .augment,
        Some(Augment {
            flip: true,
            crop: (0.5, 0.9),
            brightness: 0.2,
            contrast: 0.0
        })
    );
}

#[test]
fn augmentation_off_keeps_the_hash_of_a_spec_without_the_field() {
    // The canonical text gains an `augment` line only when it is on, so the
    // runs recorded before the field existed keep their hashes.
    let base = runs("")[0].hash();
    assert_eq!(&base[..12], PINNED_DEFAULT_HASH);
    for text in [
        "[data]\naugment = false\n",
        "[data]\naugment = { flip = false, crop = [1.0, 1.0], brightness = 0.0, contrast = 0.0 }\n",
        "[sweep.grid]\n\"data.augment\" = [false]\n",
    ] {
        let spec = &runs(text)[0];
        assert_eq!(spec.hash(), base, "{text}");
        assert!(!spec.resolved_toml().contains("augment"), "{text}");
    }
    let on = &runs("[data]\naugment = true\n")[0];
    assert_ne!(on.hash(), base);
    assert_eq!(
        runs("[data]\naugment = { flip = true, crop = [0.8, 1], brightness = 0.2, contrast = 0.2 }\n")[0].hash(),
        on.hash(),
        "true is the table of defaults, spelt any way"
    );
}

#[test]
fn an_augmented_specs_resolved_text_reads_back_as_the_same_run() {
    let spec =
        &runs("[data]\naugment = { flip = false, crop = [0.64, 0.9], brightness = 0.15 }\n")[0];
    let text = spec.resolved_toml();
    assert!(
        text.contains(
            "\nbad_images = \"skip\"\naugment = { flip = false, crop = [0.64, 0.9], brightness = 0.15, contrast = 0.2 }\n"
        ),
        "{text}"
    );
    let again = &runs(&text)[0];
    assert_eq!(again.resolved_toml(), text);
    assert_eq!(again.data, spec.data);
}

#[test]
fn augment_errors_are_located_and_say_what_is_allowed() {
    let (at, msg) = one_error("[data]\naugment = \"yes\"\n");
    assert_eq!(at, (2, 11));
    assert!(
        msg.contains("`data.augment` must be true, false or a table, found string \"yes\"")
            && msg.contains("help: e.g. augment = { flip = true"),
        "{msg}"
    );
    let (at, msg) = one_error("[data]\naugment = { flip = true, scale = [0.5, 1.0] }\n");
    assert_eq!(at, (2, 26));
    assert!(
        msg.contains("unknown setting `scale` in `data.augment`")
            && msg.contains("settings: flip, crop, brightness, contrast"),
        "{msg}"
    );
    let (_, msg) = one_error("[data]\naugment = { contrats = 0.1 }\n");
    assert!(msg.contains("did you mean `contrast`?"), "{msg}");
    let (at, msg) = one_error("[data]\naugment = { crop = [0.9, 0.5] }\n");
    assert_eq!(at, (2, 20));
    assert!(
        msg.contains("`data.augment.crop` = [0.9, 0.5] has its larger end first")
            && msg.contains("help: write [0.5, 0.9]"),
        "{msg}"
    );
    let cases: &[(&str, &str)] = &[
        (
            "[data]\naugment = { crop = 0.8 }\n",
            "`data.augment.crop` must be [min, max], two numbers, found float 0.8",
        ),
        (
            "[data]\naugment = { crop = [0.5, 0.7, 0.9] }\n",
            "`data.augment.crop` must be [min, max], two numbers",
        ),
        (
            "[data]\naugment = { crop = [0, 1] }\n",
            "`data.augment.crop item` must be in (0, 1], found 0",
        ),
        (
            "[data]\naugment = { crop = [0.5, 1.5] }\n",
            "`data.augment.crop item` must be in (0, 1], found 1.5",
        ),
        (
            "[data]\naugment = { brightness = 1 }\n",
            "`data.augment.brightness` must be in [0, 1), found 1",
        ),
        (
            "[data]\naugment = { contrast = -0.1 }\n",
            "`data.augment.contrast` must be in [0, 1), found -0.1",
        ),
        (
            "[data]\naugment = { flip = 0.5 }\n",
            "`data.augment.flip` must be true or false, found float 0.5",
        ),
    ];
    for (text, expected) in cases {
        let (_, msg) = one_error(text);
        assert!(msg.contains(expected), "{text:?}: {msg}");
    }
    // Every bad setting at once, each at its value.
    let errs = all_errors("[data]\naugment = { flip = 1, brightness = 2, contrast = 3 }\n");
    let at: Vec<(usize, usize)> = errs.iter().map(|e| e.0).collect();
    assert_eq!(at, [(2, 20), (2, 36), (2, 50)], "{errs:#?}");
}

#[test]
fn a_baseline_tags_its_runs_and_changes_no_hash() {
    let grid = "[sweep.grid]\n\"train.loss\" = [\"bce\", \"categorical_ce\"]\n\"data.resolution\" = [64, 128]\n\"train.seed\" = [1, 2]\n";
    let plain = runs(grid);
    let tagged = |text: &str| -> Vec<(String, bool)> {
        runs(text)
            .into_iter()
            .map(|s| (s.hash(), s.tags.iter().any(|t| t == spec::BASELINE_TAG)))
            .collect()
    };
    // A sweep point, by quoted or nested keys: its two seeds, no other run.
    for baseline in [
        "baseline = { \"train.loss\" = \"bce\", \"data.resolution\" = 128 }",
        "baseline = { train.loss = \"bce\", data.resolution = 128 }",
    ] {
        let got = tagged(&format!("[experiment]\n{baseline}\n{grid}"));
        assert_eq!(got.len(), plain.len());
        for ((hash, is_baseline), spec) in got.iter().zip(&plain) {
            assert_eq!(
                *hash,
                spec.hash(),
                "the baseline is a label, not part of the run"
            );
            let want = spec.train.loss == Loss::Bce && spec.data.resolution == 128;
            assert_eq!(*is_baseline, want, "{}", spec.name);
        }
    }
    // Every run of a file.
    let all = tagged("[experiment]\nbaseline = true\ntags = [\"x\"]\n");
    assert_eq!(all.len(), 1);
    assert!(all[0].1);
    assert!(tagged("[experiment]\nbaseline = false\n")
        .iter()
        .all(|(_, b)| !b));
}

#[test]
fn a_baseline_must_name_a_sweep_point() {
    let grid =
        "[sweep.grid]\n\"train.loss\" = [\"bce\", \"categorical_ce\"]\n\"train.seed\" = [1, 2]\n";
    let cases: &[(&str, (usize, usize), &str)] = &[
        (
            "baseline = 3",
            (2, 12),
            "`experiment.baseline` must be true, false, or a table of swept fields' values, found integer 3",
        ),
        (
            "baseline = { \"train.lr\" = 0.01 }",
            (2, 27),
            "`experiment.baseline` names `train.lr`, which this file does not sweep\n  help: name swept fields only: train.loss, train.seed",
        ),
        (
            "baseline = { \"train.loss\" = \"bce\", \"train.seed\" = 1 }",
            (2, 51),
            "a baseline is a configuration with all its seeds: leave train.seed out",
        ),
        (
            "baseline = { \"train.loss\" = \"focal\" }",
            (2, 12),
            "`experiment.baseline` matches no run of the sweep",
        ),
    ];
    for (line, at, want) in cases {
        let (got_at, msg) = one_error(&format!("[experiment]\n{line}\n{grid}"));
        assert_eq!(got_at, *at, "{msg}");
        assert!(msg.contains(want), "{msg}");
    }
    let (_, msg) = one_error("[experiment]\nbaseline = { \"train.loss\" = \"bce\" }\n");
    assert!(
        msg.contains("this file has no [sweep]: write `baseline = true`"),
        "{msg}"
    );
}
