//! Multi-label metrics, with scikit-learn's definitions and
//! `zero_division = 0` (a ratio with a zero denominator counts as 0).
//!
//! Inputs are multi-hot targets and per-genre scores (probabilities) for `n`
//! posters; a genre is predicted when its score is above the threshold
//! ([`Decision::Threshold`], sigmoid outputs) or above the threshold times the
//! poster's top score ([`Decision::RelativeToTop`], softmax outputs of a
//! `categorical_ce` model), or by the other rules of `decision`.
//!
//! - micro precision / recall / F1: over all (poster, genre) pairs at once:
//!   P = ΣTP / (ΣTP + ΣFP), R = ΣTP / (ΣTP + ΣFN), F1 = 2ΣTP / (2ΣTP + ΣFP + ΣFN);
//! - macro precision / recall / F1: the unweighted mean over every genre of
//!   that genre's P, R and F1 (genres without posters or predictions count 0,
//!   as scikit-learn does);
//! - samples F1: the mean over posters of 2|T ∩ P| / (|T| + |P|);
//! - subset accuracy: the share of posters whose predicted set is exactly
//!   the true one;
//! - binary accuracy: the share of (poster, genre) pairs predicted right, as
//!   Keras reports it — high even for a model that predicts nothing;
//! - Hamming loss: 1 − binary accuracy;
//! - average precision (threshold-free): per genre,
//!   AP = Σₖ (Rₖ − Rₖ₋₁) · Pₖ over the distinct scores, highest first (tied
//!   scores are one step), as `sklearn.metrics.average_precision_score`;
//!   micro AP treats all pairs as one problem; macro AP is the mean over the
//!   genres that have at least one positive poster.

use serde::{Deserialize, Serialize};

pub use super::decision::Decision;

/// Confusion counts of one genre.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenreCounts {
    pub tp: u64,
    pub fp: u64,
    pub fn_: u64,
    pub tn: u64,
}

impl GenreCounts {
    /// Counts one (poster, genre) pair.
    pub fn record(&mut self, truth: bool, guess: bool) {
        match (truth, guess) {
            (true, true) => self.tp += 1,
            (false, true) => self.fp += 1,
            (true, false) => self.fn_ += 1,
            (false, false) => self.tn += 1,
        }
    }

    /// The sum over genres: the micro-averaged counts.
    pub fn total(counts: &[GenreCounts]) -> GenreCounts {
        counts
            .iter()
            .fold(GenreCounts::default(), |a, c| GenreCounts {
                tp: a.tp + c.tp,
                fp: a.fp + c.fp,
                fn_: a.fn_ + c.fn_,
                tn: a.tn + c.tn,
            })
    }

    /// Posters truly of the genre.
    pub fn support(&self) -> u64 {
        self.tp + self.fn_
    }

    pub fn precision(&self) -> f64 {
        ratio(self.tp, self.tp + self.fp)
    }

    pub fn recall(&self) -> f64 {
        ratio(self.tp, self.tp + self.fn_)
    }

    pub fn f1(&self) -> f64 {
        ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn_)
    }
}

fn ratio(num: u64, den: u64) -> f64 {
    if den == 0 {
        0.0
    } else {
        num as f64 / den as f64
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub micro_precision: f64,
    pub micro_recall: f64,
    pub micro_f1: f64,
    pub macro_precision: f64,
    pub macro_recall: f64,
    pub macro_f1: f64,
    pub samples_f1: f64,
    pub subset_accuracy: f64,
    pub binary_accuracy: f64,
    pub hamming_loss: f64,
    pub micro_ap: f64,
    pub macro_ap: f64,
    pub per_genre: Vec<GenreCounts>,
}

/// All metrics for `targets` (0/1) and `scores`, both `n × genres` row-major,
/// with genres predicted by `decision`.
pub fn evaluate(targets: &[u8], scores: &[f32], genres: usize, decision: &Decision) -> Metrics {
    assert_eq!(targets.len(), scores.len(), "one score per target");
    assert!(
        genres > 0 && targets.len().is_multiple_of(genres),
        "rows of `genres` values"
    );
    let n = targets.len() / genres;

    let mut per_genre = vec![GenreCounts::default(); genres];
    let (mut samples_f1, mut exact) = (0.0, 0u64);
    let mut guessed = vec![false; genres];
    for (t_row, s_row) in targets.chunks(genres).zip(scores.chunks(genres)) {
        let (mut hits, mut truths, mut guesses, mut all_right) = (0u64, 0u64, 0u64, true);
        decision.apply(s_row, &mut guessed);
        for ((&t, &guess), counts) in t_row.iter().zip(&guessed).zip(per_genre.iter_mut()) {
            let truth = t == 1;
            counts.record(truth, guess);
            hits += u64::from(truth && guess);
            truths += u64::from(truth);
            guesses += u64::from(guess);
            all_right &= truth == guess;
        }
        samples_f1 += ratio(2 * hits, truths + guesses);
        exact += u64::from(all_right);
    }

    let total = GenreCounts::total(&per_genre);
    let mean = |f: fn(&GenreCounts) -> f64| per_genre.iter().map(f).sum::<f64>() / genres as f64;
    let binary_accuracy = ratio(total.tp + total.tn, (n * genres) as u64);

    let column = |g: usize| -> (Vec<u8>, Vec<f32>) {
        (
            targets.iter().skip(g).step_by(genres).copied().collect(),
            scores.iter().skip(g).step_by(genres).copied().collect(),
        )
    };
    let with_positives: Vec<f64> = (0..genres)
        .filter(|&g| per_genre[g].support() > 0)
        .map(|g| {
            let (t, s) = column(g);
            average_precision(&t, &s)
        })
        .collect();

    Metrics {
        micro_precision: total.precision(),
        micro_recall: total.recall(),
        micro_f1: total.f1(),
        macro_precision: mean(GenreCounts::precision),
        macro_recall: mean(GenreCounts::recall),
        macro_f1: mean(GenreCounts::f1),
        samples_f1: if n == 0 { 0.0 } else { samples_f1 / n as f64 },
        subset_accuracy: ratio(exact, n as u64),
        binary_accuracy,
        hamming_loss: if n == 0 { 0.0 } else { 1.0 - binary_accuracy },
        micro_ap: average_precision(targets, scores),
        macro_ap: if with_positives.is_empty() {
            0.0
        } else {
            with_positives.iter().sum::<f64>() / with_positives.len() as f64
        },
        per_genre,
    }
}

/// Average precision of one binary problem (0 without positives):
/// Σₖ (Rₖ − Rₖ₋₁) · Pₖ over distinct scores, highest first.
pub fn average_precision(targets: &[u8], scores: &[f32]) -> f64 {
    let positives = targets.iter().filter(|&&t| t == 1).count() as u64;
    if positives == 0 {
        return 0.0;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut seen, mut ap, mut last_recall) = (0u64, 0u64, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        // One step per distinct score: ties enter together.
        let score = scores[order[i]];
        while i < order.len() && scores[order[i]] == score {
            tp += u64::from(targets[order[i]] == 1);
            seen += 1;
            i += 1;
        }
        let recall = tp as f64 / positives as f64;
        ap += (recall - last_recall) * (tp as f64 / seen as f64);
        last_recall = recall;
    }
    ap
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(got: f64, want: f64, what: &str) {
        assert!((got - want).abs() < 1e-12, "{what}: {got} vs {want}");
    }

    /// Three posters, three genres. Targets and predictions at 0.5:
    ///   poster 0: true {0, 1}   predicted {0}
    ///   poster 1: true {2}      predicted {1, 2}
    ///   poster 2: true {}       predicted {}
    fn example() -> Metrics {
        let targets = [1, 1, 0, 0, 0, 1, 0, 0, 0];
        let scores = [0.9, 0.4, 0.1, 0.2, 0.7, 0.8, 0.3, 0.2, 0.1];
        evaluate(&targets, &scores, 3, &Decision::Threshold(0.5))
    }

    #[test]
    fn counts_per_genre() {
        let m = example();
        let c = |tp, fp, fn_, tn| GenreCounts { tp, fp, fn_, tn };
        assert_eq!(
            m.per_genre,
            vec![c(1, 0, 0, 2), c(0, 1, 1, 1), c(1, 0, 0, 2)]
        );
        assert_eq!(m.per_genre[1].support(), 1);
    }

    #[test]
    fn threshold_metrics_by_hand() {
        let m = example();
        // ΣTP = 2, ΣFP = 1, ΣFN = 1.
        let cases: &[(&str, f64, f64)] = &[
            ("micro precision", m.micro_precision, 2.0 / 3.0),
            ("micro recall", m.micro_recall, 2.0 / 3.0),
            ("micro f1", m.micro_f1, 2.0 * 2.0 / (2.0 * 2.0 + 1.0 + 1.0)),
            // genre 1 has P = R = F1 = 0; genres 0 and 2 are perfect.
            (
                "macro precision",
                m.macro_precision,
                (1.0 + 0.0 + 1.0) / 3.0,
            ),
            ("macro recall", m.macro_recall, (1.0 + 0.0 + 1.0) / 3.0),
            ("macro f1", m.macro_f1, (1.0 + 0.0 + 1.0) / 3.0),
            // poster 0: 2·1/(2+1); poster 1: 2·1/(1+2); poster 2: 0/0 → 0.
            (
                "samples f1",
                m.samples_f1,
                (2.0 / 3.0 + 2.0 / 3.0 + 0.0) / 3.0,
            ),
            // only poster 2 is exactly right.
            ("subset accuracy", m.subset_accuracy, 1.0 / 3.0),
            // 7 of 9 pairs right.
            ("binary accuracy", m.binary_accuracy, 7.0 / 9.0),
            ("hamming loss", m.hamming_loss, 2.0 / 9.0),
        ];
        for (what, got, want) in cases {
            close(*got, *want, what);
        }
    }

    #[test]
    fn average_precision_by_hand() {
        // Scores 0.9 (pos), 0.8 (neg), 0.7 (pos), 0.1 (neg): steps at
        // recall 1/2 with precision 1/1, recall 2/2 with precision 2/3.
        close(
            average_precision(&[1, 0, 1, 0], &[0.9, 0.8, 0.7, 0.1]),
            0.5 * 1.0 + 0.5 * (2.0 / 3.0),
            "ap",
        );
        // Ties enter together: both 0.5s form one step (precision 1/2).
        close(
            average_precision(&[1, 0], &[0.5, 0.5]),
            1.0 * 0.5,
            "tied ap",
        );
        close(average_precision(&[0, 0], &[0.5, 0.1]), 0.0, "no positives");

        let m = example();
        // Per genre: 0 → 1 (its one positive scores highest); 1 → the
        // positive 0.4 ranks second of three: 1/2; 2 → 1.
        close(m.macro_ap, (1.0 + 0.5 + 1.0) / 3.0, "macro ap");
        // Micro: positives score 0.9, 0.8, 0.4 among 0.9 0.8 0.7 0.4 0.3 0.2 0.2 0.1 0.1:
        // steps at 0.9 (R 1/3, P 1), 0.8 (R 2/3, P 1), 0.4 (R 1, P 3/4).
        close(
            m.micro_ap,
            (1.0 / 3.0) * 1.0 + (1.0 / 3.0) * 1.0 + (1.0 / 3.0) * 0.75,
            "micro ap",
        );
    }

    #[test]
    fn genres_without_positives_leave_the_macro_ap() {
        // Genre 1 never occurs: macro AP averages genres 0 and 2 only.
        let targets = [1, 0, 0, 0, 0, 1];
        let scores = [0.9, 0.9, 0.2, 0.1, 0.5, 0.8];
        let m = evaluate(&targets, &scores, 3, &Decision::Threshold(0.5));
        close(m.macro_ap, (1.0 + 1.0) / 2.0, "macro ap");
        // …but it does count (as 0) in the macro F1, as in scikit-learn.
        close(m.macro_f1, (1.0 + 0.0 + 1.0) / 3.0, "macro f1");
    }

    #[test]
    fn predicting_nothing_scores_high_binary_accuracy_and_zero_f1() {
        // The trap the data README describes: all-negative predictions.
        let targets = [1, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let m = evaluate(&targets, &[0.0; 10], 5, &Decision::Threshold(0.5));
        close(m.binary_accuracy, 8.0 / 10.0, "binary accuracy");
        close(m.micro_f1, 0.0, "micro f1");
        close(m.macro_precision, 0.0, "zero division counts as 0");
    }

    #[test]
    fn softmax_scores_are_cut_relative_to_the_top_genre() {
        // Two posters' softmax scores over 3 genres.
        let scores = [0.45, 0.40, 0.15, 0.7, 0.2, 0.1];
        let targets = [1, 1, 0, 0, 1, 0];
        // Absolute 0.5 predicts only the second poster's first genre...
        let absolute = evaluate(&targets, &scores, 3, &Decision::Threshold(0.5));
        assert_eq!(absolute.per_genre[0].fp + absolute.per_genre[0].tp, 1);
        // ...relative: above 0.5 × 0.45 (genres 0 and 1), above 0.35 (genre 0).
        let m = evaluate(&targets, &scores, 3, &Decision::RelativeToTop(0.5));
        let predicted: Vec<u64> = m.per_genre.iter().map(|c| c.tp + c.fp).collect();
        assert_eq!(predicted, vec![2, 1, 0]);
        assert_eq!((m.per_genre[0].tp, m.per_genre[0].fp), (1, 1));
        assert_eq!((m.per_genre[1].tp, m.per_genre[1].fn_), (1, 1));
        // Ranking metrics do not depend on the rule.
        assert_eq!(m.micro_ap, absolute.micro_ap);
        assert_eq!(
            crate::spec::Rule::default_for(crate::spec::Loss::CategoricalCe),
            crate::spec::Rule::Relative
        );
    }

    #[test]
    fn the_threshold_is_strict() {
        let m = evaluate(&[1], &[0.5], 1, &Decision::Threshold(0.5));
        assert_eq!(
            m.per_genre[0],
            GenreCounts {
                tp: 0,
                fp: 0,
                fn_: 1,
                tn: 0
            }
        );
    }
}
