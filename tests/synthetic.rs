//! The synthetic stand-in: the real layout, the real label statistics, and
//! visual cues that a model can learn — but not perfectly.

mod common;

use common::*;
use posterlab::data::{self, read_index, synth, Split, Workspace};
use posterlab::progress::Quiet;
use posterlab::spec::{BadImages, DataFormat, Fit, Spec};

#[test]
fn labels_follow_the_real_statistics() {
    let n = 20_000;
    let labels = synth::sample_labels(n, 11);
    let real_n = synth::REAL_POSTERS as f64;
    for k in 1..=3 {
        let got = labels.iter().filter(|l| l.len() == k).count() as f64 / n as f64;
        let want = synth::REAL_GENRES_PER_POSTER[k - 1] as f64 / real_n;
        assert!(
            (got - want).abs() < 0.015,
            "{k} genres: {got:.3} vs real {want:.3}"
        );
    }
    for (g, name) in synth::GENRES.iter().enumerate() {
        let got = labels.iter().filter(|l| l.contains(&g)).count() as f64 / n as f64;
        let want = synth::REAL_COUNTS[g] as f64 / real_n;
        // Four binomial standard errors, plus a little for the calibration.
        let tolerance = 4.0 * (want * (1.0 - want) / n as f64).sqrt() + 0.002;
        assert!(
            (got - want).abs() < tolerance,
            "{name}: {got:.4} vs real {want:.4}"
        );
    }
    assert!(
        labels.iter().all(|l| {
            let mut d = l.clone();
            d.sort_unstable();
            d.dedup();
            d.len() == l.len()
        }),
        "a poster's genres are distinct"
    );
}

#[test]
fn synth_writes_the_real_layout_deterministically() {
    let dir = tempfile::tempdir().unwrap();
    let out = posterlab(
        dir.path(),
        &["synth", "--out", "a", "--count", "40", "--seed", "5"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("wrote 40 synthetic posters to a"));

    let csv_text = std::fs::read_to_string(dir.path().join("a/train.csv")).unwrap();
    let header = csv_text.lines().next().unwrap();
    assert_eq!(header, format!("Id,Genre,{}", synth::GENRES.join(",")));
    if let Some(real) = real_posters() {
        let real_header = std::fs::read_to_string(real.join("train.csv"))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string();
        assert_eq!(header, real_header, "the same header as the real CSV");
    }
    // The real reader accepts it (Genre lists agree with the one-hot columns).
    let index = read_index(&dir.path().join("a/train.csv"), DataFormat::Auto, None).unwrap();
    assert_eq!(
        (index.format, index.posters.len()),
        (DataFormat::MultiLabel, 40)
    );
    for p in &index.posters {
        let img = image::open(&p.image).unwrap();
        assert!(
            (179..=182).contains(&img.width()) && (243..=268).contains(&img.height()),
            "{}",
            p.id
        );
        assert_eq!(
            image::ImageFormat::from_path(&p.image).unwrap(),
            image::ImageFormat::Jpeg
        );
    }

    // Same seed, same bytes; another seed, another set.
    assert!(posterlab(
        dir.path(),
        &["synth", "--out", "b", "--count", "40", "--seed", "5"]
    )
    .status
    .success());
    assert!(posterlab(
        dir.path(),
        &["synth", "--out", "c", "--count", "40", "--seed", "6"]
    )
    .status
    .success());
    let read = |set: &str, file: &str| std::fs::read(dir.path().join(set).join(file)).unwrap();
    assert_eq!(read("a", "train.csv"), read("b", "train.csv"));
    assert_eq!(
        read("a", "Images/syn0000007.jpg"),
        read("b", "Images/syn0000007.jpg")
    );
    assert_ne!(
        read("a", "Images/syn0000007.jpg"),
        read("c", "Images/syn0000007.jpg")
    );

    // An existing folder is not overwritten without --force.
    let again = posterlab(dir.path(), &["synth", "--out", "a", "--count", "3"]);
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already exists") && stderr(&again).contains("--force"));
    assert!(posterlab(
        dir.path(),
        &["synth", "--out", "a", "--count", "3", "--force"]
    )
    .status
    .success());
    assert_eq!(
        std::fs::read_dir(dir.path().join("a/Images"))
            .unwrap()
            .count(),
        3
    );
}

#[test]
fn the_default_synthetic_set_is_made_once_under_results() {
    let dir = tempfile::tempdir().unwrap();
    let ws = Workspace::new(dir.path().join("results"));
    let spec = &Spec::default().data;
    let csv = data::locate(spec, &ws, &Quiet).unwrap();
    assert!(csv.starts_with(dir.path().join("results/synthetic")));
    let index = read_index(&csv, DataFormat::Auto, None).unwrap();
    assert_eq!(index.posters.len(), data::DEFAULT_SYNTHETIC_COUNT);
    let modified = std::fs::metadata(&csv).unwrap().modified().unwrap();
    assert_eq!(data::locate(spec, &ws, &Quiet).unwrap(), csv);
    assert_eq!(
        std::fs::metadata(&csv).unwrap().modified().unwrap(),
        modified,
        "not made twice"
    );
}

/// A linear probe (logistic regression on 16×16 thumbnails) must clearly beat
/// the constant baseline that always predicts the three most common genres:
/// the genres leave cues in the pixels. A CNN does far better; the probe
/// only guards against a generator whose cues have vanished.
#[test]
fn the_cues_are_learnable() {
    let dir = tempfile::tempdir().unwrap();
    let set = dir.path().join("set");
    data::synth::write_dataset(&set, 1200, 3, &Quiet).unwrap();
    let index = read_index(&set.join("train.csv"), DataFormat::Auto, None).unwrap();
    let ws = Workspace::new(dir.path().join("results"));
    let d = data::load_index(&index, 16, Fit::Stretch, BadImages::Error, &ws, &Quiet).unwrap();
    let split = Split::new(&d.ids, 0.25, 0.05, 1);
    let (features, genres) = (d.image_len(), d.num_genres());
    let x = |i: usize| d.image(i).iter().map(|&p| p as f32 / 255.0 - 0.5);

    // One-vs-rest logistic regression, plain SGD.
    let mut w = vec![0f32; genres * (features + 1)];
    for epoch in 0..20 {
        let lr = 0.02 / (1.0 + epoch as f32 * 0.2);
        for &i in &data::epoch_order(&split.train, 9, epoch) {
            let xi: Vec<f32> = x(i).collect();
            for g in 0..genres {
                let row = &mut w[g * (features + 1)..(g + 1) * (features + 1)];
                let z = row[features]
                    + row[..features]
                        .iter()
                        .zip(&xi)
                        .map(|(a, b)| a * b)
                        .sum::<f32>();
                let err = 1.0 / (1.0 + (-z).exp()) - d.label_row(i)[g] as f32;
                row[..features]
                    .iter_mut()
                    .zip(&xi)
                    .for_each(|(a, b)| *a -= lr * err * b);
                row[features] -= lr * err;
            }
        }
    }
    let micro_f1 = |predict: &dyn Fn(usize, usize) -> bool| {
        let (mut tp, mut fp, mut fn_) = (0, 0, 0);
        for &i in &split.test {
            for g in 0..genres {
                match (predict(i, g), d.label_row(i)[g] == 1) {
                    (true, true) => tp += 1,
                    (true, false) => fp += 1,
                    (false, true) => fn_ += 1,
                    _ => {}
                }
            }
        }
        2.0 * tp as f64 / (2 * tp + fp + fn_) as f64
    };
    let probe = micro_f1(&|i, g| {
        let row = &w[g * (features + 1)..(g + 1) * (features + 1)];
        let z = row[features]
            + row[..features]
                .iter()
                .zip(x(i))
                .map(|(a, b)| a * b)
                .sum::<f32>();
        z > 0.0
    });
    let top3: Vec<usize> = ["Drama", "Comedy", "Action"]
        .iter()
        .map(|n| d.genres.iter().position(|g| g == n).unwrap())
        .collect();
    let constant = micro_f1(&|_, g| top3.contains(&g));
    eprintln!("linear probe micro-F1 {probe:.3}, constant baseline {constant:.3}");
    assert!(
        probe > constant + 0.1,
        "probe {probe:.3} vs constant {constant:.3}"
    );
}
