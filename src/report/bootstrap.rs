//! The bootstrap behind every interval and p-value the report gives for a
//! difference between configurations.
//!
//! A configuration's test score has two sources of noise: its training
//! seeds (another seed trains another model) and the test posters (another
//! sample of posters scores the same model differently). Each replicate
//! resamples both, in two levels:
//!
//! 1. the test posters: n posters drawn with replacement from the n of the
//!    split, as a multiplicity per poster. One draw serves every
//!    configuration in the replicate: they share the split, so the
//!    comparison is paired, and the posters' common difficulty cancels;
//! 2. the seeds, within each configuration: its m runs drawn with
//!    replacement, independently for each configuration.
//!
//! The replicate's score of a configuration is the mean, over the drawn
//! runs, of each run's metric on the drawn posters, computed exactly as
//! `train::metrics` computes it on a data set that holds each poster as many
//! times as it was drawn. A contrast (a difference of configuration means,
//! or a mean over configurations) takes its 95 % interval from the 2.5th and
//! 97.5th percentiles of its replicates, and its two-sided p-value against 0
//! from the share of replicates on either side of 0:
//! p = min(1, 2 (1 + min(#{Δ* ≤ 0}, #{Δ* ≥ 0})) / (B + 1)), which is below
//! 0.05 about when the interval excludes 0. Replicate b draws from its own
//! ChaCha8 stream (seed, b), so the same database, resample count and seed
//! give the same numbers on any number of threads.
//!
//! With one run, a configuration's seed noise cannot be seen: its interval
//! covers the posters' noise only (the report says so).

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::metric::Metric;
use crate::store::PosterPrediction;

/// The metrics compared between configurations: the headline test metrics.
pub const METRICS: [Metric; 4] = [
    Metric::MicroF1,
    Metric::MacroF1,
    Metric::MicroAp,
    Metric::MacroAp,
];

/// One value per [`METRICS`] entry.
pub type Scores = [f64; 4];

/// The default number of replicates.
pub const RESAMPLES: usize = 10_000;
/// The default seed of the replicates' random streams.
pub const SEED: u64 = 2024;

/// Entries ranked by score, highest first, in groups of tied scores (each
/// group is one step of the precision-recall curve, as in
/// `train::metrics::average_precision`).
#[derive(Debug, Clone, Default)]
struct Ranked {
    /// (poster, is the pair a positive).
    items: Vec<(u32, bool)>,
    /// The end (exclusive) of each tie group in `items`.
    ends: Vec<u32>,
}

impl Ranked {
    fn new(mut entries: Vec<(u32, bool, f32)>) -> Ranked {
        entries.sort_by(|a, b| b.2.total_cmp(&a.2));
        let mut ends = Vec::new();
        for i in 1..entries.len() {
            if entries[i].2 != entries[i - 1].2 {
                ends.push(i as u32);
            }
        }
        if !entries.is_empty() {
            ends.push(entries.len() as u32);
        }
        Ranked {
            items: entries.into_iter().map(|(p, t, _)| (p, t)).collect(),
            ends,
        }
    }

    /// Average precision when poster i counts `w[i]` times, and whether the
    /// problem has a positive. Σ ΔRₖ Pₖ = (1 / positives) Σ ΔTPₖ · TPₖ / seenₖ,
    /// which needs one pass.
    fn average_precision(&self, w: &[u32]) -> (f64, bool) {
        let (mut tp, mut seen, mut sum) = (0u64, 0u64, 0.0f64);
        let mut start = 0usize;
        for &end in &self.ends {
            let before = tp;
            for &(poster, positive) in &self.items[start..end as usize] {
                let n = u64::from(w[poster as usize]);
                seen += n;
                tp += n * u64::from(positive);
            }
            if tp > before {
                sum += (tp - before) as f64 * (tp as f64 / seen as f64);
            }
            start = end as usize;
        }
        if tp == 0 {
            (0.0, false)
        } else {
            (sum / tp as f64, true)
        }
    }
}

/// One run's test predictions, arranged so that any weighting of the
/// posters is scored in one pass over them.
#[derive(Debug, Clone)]
pub struct Scored {
    genres: usize,
    /// Per poster: its true positives, false positives and false negatives
    /// over the genres.
    counts: Vec<[u32; 3]>,
    /// Per genre: the posters that are a true positive, a false positive, a
    /// false negative of it.
    genre_cells: Vec<[Vec<u32>; 3]>,
    /// Per genre, its posters by score.
    per_genre: Vec<Ranked>,
    /// Every (poster, genre) pair by score.
    pooled: Ranked,
}

impl Scored {
    /// `predictions` in the order of the posters every run compared with
    /// this one lists them in (the caller matches them by poster id).
    pub fn new(predictions: &[&PosterPrediction], genres: usize) -> Scored {
        let mut counts = Vec::with_capacity(predictions.len());
        let mut genre_cells: Vec<[Vec<u32>; 3]> = vec![Default::default(); genres];
        let mut per_genre: Vec<Vec<(u32, bool, f32)>> = vec![Vec::new(); genres];
        let mut pooled = Vec::with_capacity(predictions.len() * genres);
        for (i, p) in predictions.iter().enumerate() {
            let i = i as u32;
            let mut c = [0u32; 3];
            for g in 0..genres {
                let (truth, guess, score) = (p.truth[g], p.predicted[g], p.probability[g]);
                let cell = match (truth, guess) {
                    (true, true) => Some(0),
                    (false, true) => Some(1),
                    (true, false) => Some(2),
                    (false, false) => None,
                };
                if let Some(k) = cell {
                    c[k] += 1;
                    genre_cells[g][k].push(i);
                }
                per_genre[g].push((i, truth, score));
                pooled.push((i, truth, score));
            }
            counts.push(c);
        }
        Scored {
            genres,
            counts,
            genre_cells,
            per_genre: per_genre.into_iter().map(Ranked::new).collect(),
            pooled: Ranked::new(pooled),
        }
    }

    /// The number of posters.
    pub fn posters(&self) -> usize {
        self.counts.len()
    }

    /// [`METRICS`] when poster i counts `w[i]` times.
    pub fn score(&self, w: &[u32]) -> Scores {
        let f1 = |tp: u64, fp: u64, fn_: u64| {
            let den = 2 * tp + fp + fn_;
            if den == 0 {
                0.0
            } else {
                (2 * tp) as f64 / den as f64
            }
        };
        let mut total = [0u64; 3];
        for (c, &n) in self.counts.iter().zip(w) {
            for k in 0..3 {
                total[k] += u64::from(c[k]) * u64::from(n);
            }
        }
        let weight =
            |posters: &[u32]| -> u64 { posters.iter().map(|&p| u64::from(w[p as usize])).sum() };
        let macro_f1 = self
            .genre_cells
            .iter()
            .map(|[tp, fp, fn_]| f1(weight(tp), weight(fp), weight(fn_)))
            .sum::<f64>()
            / self.genres as f64;
        let (mut ap_sum, mut with_positives) = (0.0, 0usize);
        for ranked in &self.per_genre {
            let (ap, positive) = ranked.average_precision(w);
            if positive {
                ap_sum += ap;
                with_positives += 1;
            }
        }
        [
            f1(total[0], total[1], total[2]),
            macro_f1,
            self.pooled.average_precision(w).0,
            if with_positives == 0 {
                0.0
            } else {
                ap_sum / with_positives as f64
            },
        ]
    }

    /// [`METRICS`] on the posters as they are (each once).
    pub fn observed(&self) -> Scores {
        self.score(&vec![1; self.posters()])
    }
}

/// Every replicate's score of every configuration: `[replicate][config]`.
#[derive(Debug, Clone)]
pub struct Replicates {
    pub values: Vec<Vec<Scores>>,
    /// Each configuration's score on the data as they are: the mean over
    /// its runs of each run's score.
    pub observed: Vec<Scores>,
}

impl Replicates {
    /// The replicates of the contrast Σₖ cₖ · (configuration k's score), for
    /// metric `m`, and its value on the data as they are.
    pub fn contrast(&self, m: usize, c: &[(usize, f64)]) -> (f64, Vec<f64>) {
        let of = |scores: &[Scores]| c.iter().map(|&(k, ck)| ck * scores[k][m]).sum::<f64>();
        (
            of(&self.observed),
            self.values.iter().map(|r| of(r)).collect(),
        )
    }
}

/// `resamples` replicates of every configuration in `configs` (each a list
/// of runs, scored on the same posters in the same order), from `seed`.
pub fn resample(configs: &[Vec<&Scored>], resamples: usize, seed: u64) -> Replicates {
    let posters = configs.iter().flatten().next().map_or(0, |s| s.posters());
    assert!(
        configs.iter().flatten().all(|s| s.posters() == posters),
        "every run is scored on the same posters"
    );
    let mean_of = |runs: &[&Scored], picks: &[u32], w: &[u32]| -> Scores {
        let mut sum = [0.0; 4];
        let mut drawn = 0u32;
        for (run, &times) in runs.iter().zip(picks) {
            if times == 0 {
                continue;
            }
            let s = run.score(w);
            for m in 0..4 {
                sum[m] += f64::from(times) * s[m];
            }
            drawn += times;
        }
        sum.map(|v| v / f64::from(drawn.max(1)))
    };
    let observed = configs
        .iter()
        .map(|runs| mean_of(runs, &vec![1; runs.len()], &vec![1; posters]))
        .collect();
    let values = (0..resamples)
        .into_par_iter()
        .map(|b| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            rng.set_stream(b as u64);
            let mut w = vec![0u32; posters];
            for _ in 0..posters {
                w[rng.gen_range(0..posters)] += 1;
            }
            configs
                .iter()
                .map(|runs| {
                    let mut picks = vec![0u32; runs.len()];
                    for _ in 0..runs.len() {
                        picks[rng.gen_range(0..runs.len())] += 1;
                    }
                    mean_of(runs, &picks, &w)
                })
                .collect()
        })
        .collect();
    Replicates { values, observed }
}

/// A contrast's value on the data, its 95 % percentile interval, and (for a
/// difference) the two-sided p-value against 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub value: f64,
    pub low: f64,
    pub high: f64,
    pub p: f64,
}

impl Estimate {
    pub fn new(value: f64, mut replicates: Vec<f64>) -> Estimate {
        replicates.sort_by(f64::total_cmp);
        let b = replicates.len();
        let below = replicates.iter().filter(|&&x| x <= 0.0).count();
        let above = replicates.iter().filter(|&&x| x >= 0.0).count();
        let p = (2.0 * (1 + below.min(above)) as f64 / (b + 1) as f64).min(1.0);
        Estimate {
            value,
            low: quantile(&replicates, 0.025),
            high: quantile(&replicates, 0.975),
            p,
        }
    }
}

/// The q-quantile of sorted values, linear between order statistics
/// (type 7, as R's and NumPy's default).
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let (i, f) = (h.floor() as usize, h - h.floor());
    match sorted.get(i + 1) {
        Some(next) => sorted[i] + f * (next - sorted[i]),
        None => sorted[i],
    }
}

/// Holm's step-down adjustment of `p`, in its order: the family-wise error
/// stays below α when every adjusted p below α is called significant.
pub fn holm(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut adjusted = vec![0.0; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        running = running.max(((m - rank) as f64 * p[i]).min(1.0));
        adjusted[i] = running;
    }
    adjusted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::metrics::{evaluate, Decision};

    fn prediction(truth: &[bool], probability: &[f32], threshold: f32) -> PosterPrediction {
        PosterPrediction {
            poster: String::new(),
            truth: truth.to_vec(),
            probability: probability.to_vec(),
            predicted: probability.iter().map(|&p| p > threshold).collect(),
        }
    }

    /// Random predictions of `n` posters × `genres`, scores on a coarse
    /// grid so that ties happen.
    fn random(n: usize, genres: usize, seed: u64) -> Vec<PosterPrediction> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let truth: Vec<bool> = (0..genres).map(|_| rng.gen_bool(0.25)).collect();
                let probability: Vec<f32> = truth
                    .iter()
                    .map(|&t| (rng.gen_range(0..20) as f32 + if t { 6.0 } else { 0.0 }) / 26.0)
                    .collect();
                prediction(&truth, &probability, 0.5)
            })
            .collect()
    }

    /// The weighted score equals `train::metrics` on the data set that
    /// holds each poster as many times as its weight.
    #[test]
    fn a_weighting_scores_as_the_repeated_posters_would() {
        let (n, genres) = (60, 5);
        let predictions = random(n, genres, 1);
        let scored = Scored::new(&predictions.iter().collect::<Vec<_>>(), genres);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        for round in 0..20 {
            let w: Vec<u32> = if round == 0 {
                vec![1; n]
            } else {
                let mut w = vec![0; n];
                for _ in 0..n {
                    w[rng.gen_range(0..n)] += 1;
                }
                w
            };
            let (mut targets, mut scores) = (Vec::new(), Vec::new());
            for (p, &times) in predictions.iter().zip(&w) {
                for _ in 0..times {
                    targets.extend(p.truth.iter().map(|&t| u8::from(t)));
                    scores.extend(&p.probability);
                }
            }
            let want = evaluate(&targets, &scores, genres, &Decision::Threshold(0.5));
            let got = scored.score(&w);
            let want = [want.micro_f1, want.macro_f1, want.micro_ap, want.macro_ap];
            for m in 0..4 {
                assert!(
                    (got[m] - want[m]).abs() < 1e-12,
                    "round {round}, {}: {} vs {}",
                    METRICS[m].name(),
                    got[m],
                    want[m]
                );
            }
        }
    }

    /// One genre whose every poster is positive and predicted at `score`:
    /// a run whose F1 (and AP) is the same on any sample of posters, so
    /// that only its seed varies.
    fn constant(posters: usize, hit: bool) -> Vec<PosterPrediction> {
        (0..posters)
            .map(|_| prediction(&[true, false], &[if hit { 0.9 } else { 0.1 }, 0.2], 0.5))
            .collect()
    }

    /// With no poster noise the interval is the seeds' bootstrap, which for
    /// many seeds is close to the normal one: Δ ± 1.96 √(σ²ₐ/m + σ²ᵦ/m),
    /// σ² the population variance of each configuration's runs.
    #[test]
    fn seeds_only_the_interval_is_the_normal_one_for_many_runs() {
        // A run with a hit scores micro-F1 1 on any posters (one TP each,
        // nothing else), a miss 0 (one FN each): configurations of runs
        // with hit rates 0.7 and 0.4.
        let m = 400;
        let hits = |rate: f64| -> Vec<Scored> {
            (0..m)
                .map(|i| {
                    let hit = (i as f64 + 0.5) / m as f64 <= rate;
                    Scored::new(&constant(3, hit).iter().collect::<Vec<_>>(), 2)
                })
                .collect()
        };
        let (a, b) = (hits(0.7), hits(0.4));
        let configs = vec![a.iter().collect(), b.iter().collect()];
        let r = resample(&configs, 4000, 7);
        let (value, reps) = r.contrast(0, &[(0, 1.0), (1, -1.0)]);
        let e = Estimate::new(value, reps);
        assert!((e.value - 0.3).abs() < 1e-12, "{e:?}");
        let se = (0.7f64 * 0.3 / m as f64 + 0.4 * 0.6 / m as f64).sqrt();
        for (got, want) in [(e.low, 0.3 - 1.96 * se), (e.high, 0.3 + 1.96 * se)] {
            assert!(
                (got - want).abs() < 0.15 * 1.96 * se,
                "{e:?} vs ±{}",
                1.96 * se
            );
        }
        assert!(e.p < 0.001, "{e:?}");
    }

    /// A configuration compared with a copy of itself: Δ is 0, the
    /// interval holds 0, p is 1.
    #[test]
    fn a_configuration_against_its_copy_differs_by_nothing() {
        let runs: Vec<Scored> = (0..3)
            .map(|s| {
                let p = random(80, 4, 10 + s);
                Scored::new(&p.iter().collect::<Vec<_>>(), 4)
            })
            .collect();
        let configs = vec![runs.iter().collect(), runs.iter().collect()];
        let r = resample(&configs, 2000, 1);
        for m in 0..4 {
            let (value, reps) = r.contrast(m, &[(1, 1.0), (0, -1.0)]);
            let e = Estimate::new(value, reps);
            assert_eq!(e.value, 0.0);
            assert!(e.low <= 0.0 && e.high >= 0.0 && e.p > 0.9, "{e:?}");
        }
    }

    /// A model that misses a fifth of the posters against a perfect one:
    /// on 500 posters the difference of micro-F1 is clear.
    #[test]
    fn a_clearly_worse_configuration_is_significant_and_the_same_numbers_come_back() {
        let n = 500;
        let perfect: Vec<PosterPrediction> = (0..n)
            .map(|i| {
                prediction(
                    &[i % 2 == 0, i % 2 == 1],
                    &[0.9 - 0.8 * (i % 2) as f32, 0.1 + 0.8 * (i % 2) as f32],
                    0.5,
                )
            })
            .collect();
        let worse: Vec<PosterPrediction> = perfect
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut p = p.clone();
                if i % 5 == 0 {
                    p.predicted = vec![false, false];
                }
                p
            })
            .collect();
        let a = Scored::new(&perfect.iter().collect::<Vec<_>>(), 2);
        let b = Scored::new(&worse.iter().collect::<Vec<_>>(), 2);
        let configs = vec![vec![&a], vec![&b]];
        let r = resample(&configs, 2000, 3);
        let (value, reps) = r.contrast(0, &[(1, 1.0), (0, -1.0)]);
        let e = Estimate::new(value, reps);
        // 400 of 500 right: F1 = 800 / (800 + 100) against 1.
        assert!((e.value - (800.0 / 900.0 - 1.0)).abs() < 1e-12, "{e:?}");
        assert!(e.high < 0.0 && e.p < 0.001, "{e:?}");
        let again = resample(&configs, 2000, 3);
        assert_eq!(
            again.values, r.values,
            "the same seed gives the same replicates"
        );
    }

    #[test]
    fn percentiles_and_p_values() {
        let xs: Vec<f64> = (0..=100).map(f64::from).collect();
        assert_eq!(quantile(&xs, 0.025), 2.5);
        assert_eq!(quantile(&xs, 0.5), 50.0);
        let e = Estimate::new(1.0, (1..=99).map(f64::from).collect());
        // No replicate at or below 0: p = 2 · 1 / 100.
        assert!((e.p - 0.02).abs() < 1e-12);
        let e = Estimate::new(0.0, vec![0.0; 10]);
        assert_eq!(e.p, 1.0);
    }

    /// Holm by hand: p sorted 0.01, 0.02, 0.04 against 3 hypotheses is
    /// 0.03, 0.04, 0.04 (monotone), in the original order.
    #[test]
    fn holm_by_hand() {
        let adjusted = holm(&[0.04, 0.01, 0.02]);
        let want = [0.04, 0.03, 0.04];
        for (a, w) in adjusted.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adjusted:?}");
        }
        assert_eq!(holm(&[0.6, 0.9]), vec![1.0, 1.0]);
    }
}
