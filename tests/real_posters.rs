//! The real posters in ../shared/data/movie-posters, read as a user would.

mod common;

use posterlab::data::{self, read_index, stats::DataStats, synth, Split, Workspace};
use posterlab::progress::Quiet;
use posterlab::spec::{BadImages, DataFormat, Fit};

#[test]
#[cfg_attr(
    real_posters_absent,
    ignore = "the real posters are not at ../shared/data/movie-posters"
)]
fn the_real_set_reads_as_its_readme_describes() {
    let Some(root) = common::real_posters() else {
        return;
    };
    let csv = data::find_csv(&root).unwrap();
    let index = read_index(&csv, DataFormat::Auto, None).unwrap();
    assert_eq!(index.format, DataFormat::MultiLabel);
    assert_eq!(
        (index.rows, index.duplicate_rows, index.posters.len()),
        (7254, 12, 7242)
    );
    assert_eq!(
        index.genres,
        synth::GENRES,
        "the 25 genre columns, in the CSV's order"
    );

    let results = tempfile::tempdir().unwrap();
    let ws = Workspace::new(results.path());
    let dataset =
        data::load_index(&index, 32, Fit::Stretch, BadImages::Error, &ws, &Quiet).unwrap();
    assert_eq!(dataset.len(), 7242, "no poster is missing or unreadable");
    let split = Split::new(&dataset.ids, 0.2, 0.1, 42);
    let stats = DataStats::new(&index, &dataset, Some(&split));

    // The counts behind ../shared/data/README.md, after dropping the duplicates.
    assert_eq!(
        stats.genre_counts,
        synth::REAL_COUNTS
            .iter()
            .map(|&c| c as usize)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        stats.genres_per_poster[1..4],
        synth::REAL_GENRES_PER_POSTER.map(|c| c as usize)
    );
    assert_eq!(stats.count("Drama"), Some(3617));
    assert_eq!(stats.count("Reality-TV"), Some(2));
    assert!((stats.mean_genres_per_poster() - 2.33).abs() < 0.005);
    let s = stats.split.as_ref().unwrap();
    // test round(7242 × 0.2), val round(7242 × 0.1), the rest trains.
    assert_eq!(s.sizes, [7242 - 1448 - 724, 724, 1448]);

    let text = stats.to_string();
    assert!(
        text.contains("posters       7,242 listed, 7,242 usable"),
        "{text}"
    );
    assert!(text.contains("12 exact duplicate rows dropped"), "{text}");
}

/// The baselines ../shared/data/README.md quotes, through our metrics.
#[test]
#[cfg_attr(
    real_posters_absent,
    ignore = "the real posters are not at ../shared/data/movie-posters"
)]
fn the_readme_baselines_come_out_of_our_metrics() {
    use posterlab::train::metrics::{evaluate, Decision};
    let Some(root) = common::real_posters() else {
        return;
    };
    let index = read_index(&data::find_csv(&root).unwrap(), DataFormat::Auto, None).unwrap();
    let g = index.genres.len();
    let targets: Vec<u8> = index.posters.iter().flat_map(|p| p.multi_hot(g)).collect();
    let top3: Vec<usize> = ["Action", "Comedy", "Drama"]
        .iter()
        .map(|n| index.genres.iter().position(|x| x == n).unwrap())
        .collect();
    let constant: Vec<f32> = (0..targets.len())
        .map(|i| if top3.contains(&(i % g)) { 1.0 } else { 0.0 })
        .collect();
    let m = evaluate(&targets, &constant, g, &Decision::Threshold(0.5));
    assert!(
        (m.micro_f1 - 0.407).abs() < 0.0005,
        "always {{Action, Comedy, Drama}}: micro-F1 {}",
        m.micro_f1
    );
    let nothing = evaluate(
        &targets,
        &vec![0.0; targets.len()],
        g,
        &Decision::Threshold(0.5),
    );
    assert!(
        (nothing.binary_accuracy - 0.907).abs() < 0.0005,
        "predicting nothing: binary accuracy {}",
        nothing.binary_accuracy
    );
    assert_eq!(nothing.micro_f1, 0.0);
}
