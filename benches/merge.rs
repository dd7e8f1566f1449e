//! How long `posterlab merge` takes on a sweep the size of the real one: 100
//! task stores (as a Slurm job array leaves them), each one run of 20
//! epochs on 25 genres with 1,450 test posters (and the predictions of 725
//! validation ones, which runs store since schema 3), written through the store's
//! own API with made-up records. Times the merge into a fresh target five
//! times and prints the median, then a second merge of the same stores
//! (every run unchanged).
//!
//! `cargo bench --bench merge` (release); `cargo bench --bench merge -- 10`
//! for 10 task stores.

use std::path::{Path, PathBuf};
use std::time::Instant;

use posterlab::data::synth::GENRES;
use posterlab::store::{self, Change, NewRun, Store};
use posterlab::train::decision::Decided;
use posterlab::train::metrics::{evaluate, Decision};
use posterlab::train::record::{EpochRecord, Scored, SplitResult, TestRecord};

const EPOCHS: usize = 20;
/// The real posters' test split (20 % of about 7,250).
const TEST_POSTERS: usize = 1450;
/// Its validation split (10 %), whose predictions are stored too.
const VAL_POSTERS: usize = 725;
const REPEATS: usize = 5;

fn main() {
    let runs: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(100);
    let dir = tempfile::tempdir().expect("a temporary folder");
    let tasks = dir.path().join("tasks");
    std::fs::create_dir(&tasks).expect("the tasks folder");

    let started = Instant::now();
    let records = Records::new();
    for i in 0..runs {
        record_task(&tasks.join(format!("{i}.sqlite")), i, &records);
    }
    let source_bytes: u64 = std::fs::read_dir(&tasks)
        .expect("the tasks folder")
        .map(|e| e.expect("an entry").metadata().expect("its size").len())
        .sum();
    println!(
        "merge: {runs} task stores, each 1 run x {EPOCHS} epochs x {} genres, {TEST_POSTERS} test \
         posters ({} rows per run, {:.0} MB in all); written through the store's API in {:.1} s",
        GENRES.len(),
        rows_per_run(),
        source_bytes as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );

    let sources = [tasks];
    let (mut fresh, mut again) = (Vec::new(), Vec::new());
    for repeat in 0..REPEATS {
        let into = dir.path().join(format!("main-{repeat}.sqlite"));
        let started = Instant::now();
        let report = store::merge(&into, &sources, false).expect("the merge");
        fresh.push(started.elapsed().as_secs_f64());
        assert_eq!(report.count(|c| *c == Change::New), runs);
        let started = Instant::now();
        let report = store::merge(&into, &sources, false).expect("the second merge");
        again.push(started.elapsed().as_secs_f64());
        assert_eq!(report.count(|c| *c == Change::Unchanged), runs);
        remove_database(&into);
    }
    let rows = (runs * rows_per_run()) as f64;
    let fresh_median = median(&mut fresh);
    println!(
        "merge into a fresh target: median {fresh_median:.2} s of {REPEATS} ({}), {:.2} M rows/s",
        listed(&fresh),
        rows / fresh_median / 1e6
    );
    println!(
        "the same merge again (every run unchanged): median {:.3} s of {REPEATS} ({})",
        median(&mut again),
        listed(&again)
    );
}

/// The rows a run has: its `runs` row, and per epoch one `epochs` row, two
/// `metrics` rows and two per genre in `genre_metrics`; the test's metrics
/// and genre rows, a prediction per poster and genre (test and
/// validation), a `test_posters` row per test poster.
fn rows_per_run() -> usize {
    let g = GENRES.len();
    1 + EPOCHS * (1 + 2 + 2 * g) + (1 + g) + (TEST_POSTERS + VAL_POSTERS) * g + TEST_POSTERS
}

/// Made-up results: scores and truths that look like a model's.
struct Records {
    targets: Vec<u8>,
    scores: Vec<f32>,
    split: SplitResult,
}

impl Records {
    fn new() -> Records {
        let cells = TEST_POSTERS * GENRES.len();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            // xorshift64: numbers that vary, the same on every run.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let targets: Vec<u8> = (0..cells).map(|_| u8::from(next() < 0.08)).collect();
        let scores: Vec<f32> = targets
            .iter()
            .map(|&t| (0.3 * next() + 0.4 * f64::from(t)) as f32)
            .collect();
        let split = SplitResult {
            posters: TEST_POSTERS,
            loss: 0.21,
            metrics: evaluate(&targets, &scores, GENRES.len(), &Decision::Threshold(0.5)),
        };
        Records {
            targets,
            scores,
            split,
        }
    }
}

fn new_run(i: usize) -> NewRun {
    let genres: Vec<String> = GENRES.iter().map(|g| g.to_string()).collect();
    NewRun {
        name: format!("sweep[train.seed={i}]"),
        experiment: "sweep".into(),
        tags: vec!["bench".into()],
        spec_hash: blake3::hash(format!("spec {i}").as_bytes())
            .to_hex()
            .to_string(),
        spec_toml: "[train]\nepochs = 20\n".repeat(20),
        spec_file: "experiments/sweep.toml".into(),
        swept: vec![("train.seed".into(), i.to_string())],
        epochs_planned: EPOCHS,
        monitor: "val_loss".into(),
        decision: "threshold".into(),
        threshold: 0.5,
        genres,
        dataset: "../shared/data/movie-posters".into(),
        dataset_csv: "../shared/data/movie-posters/train.csv".into(),
        dataset_hash: "cd".repeat(32),
        split_sizes: [5075, 725, TEST_POSTERS],
        params: 1_234_567,
        device: "cpu".into(),
        host: "node-042".into(),
        git_commit: Some("abc1234".into()),
        version: "0.1.0".into(),
        checkpoint_dir: format!("/scratch/results/runs/{i}"),
    }
}

/// One task store: a run of [`EPOCHS`] epochs, tested.
fn record_task(path: &Path, i: usize, records: &Records) {
    let mut store = Store::open(path).expect("a task store");
    let uid = format!("{:032x}", i + 1);
    let id = store.create_run(&new_run(i), &uid).expect("the run");
    for epoch in 1..=EPOCHS {
        let record = EpochRecord {
            epoch,
            lr: 1e-3,
            seconds: 11.5,
            images_per_sec: 440.0,
            train: records.split.clone(),
            val: records.split.clone(),
            best_epoch: epoch,
        };
        let checkpoint = PathBuf::from(format!("/scratch/results/runs/{i}/epoch-{epoch:04}"));
        store
            .record_epoch(id, &record, &checkpoint)
            .expect("an epoch");
    }
    let posters: Vec<String> = (0..TEST_POSTERS).map(|p| format!("tt{p:07}")).collect();
    let images = posters
        .iter()
        .map(|p| PathBuf::from(format!("/data/movie-posters/Images/{p}.jpg")))
        .collect();
    let val_cells = VAL_POSTERS * GENRES.len();
    let test = TestRecord {
        epoch: EPOCHS,
        result: records.split.clone(),
        val: Scored {
            posters: posters[..VAL_POSTERS]
                .iter()
                .map(|p| format!("v{p}"))
                .collect(),
            targets: records.targets[..val_cells].to_vec(),
            scores: records.scores[..val_cells].to_vec(),
        },
        test: Scored {
            posters,
            targets: records.targets.clone(),
            scores: records.scores.clone(),
        },
        images,
        decided: Decided {
            decision: Decision::Threshold(0.5),
            tuned: None,
        },
        stopped_early: false,
    };
    store.record_test(id, &test).expect("the test");
}

fn remove_database(path: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(name));
    }
}

fn median(seconds: &mut [f64]) -> f64 {
    seconds.sort_by(f64::total_cmp);
    seconds[seconds.len() / 2]
}

fn listed(seconds: &[f64]) -> String {
    seconds
        .iter()
        .map(|s| format!("{s:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}
