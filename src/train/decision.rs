//! Decision rules: how a poster's probabilities become predicted genres.
//!
//! A spec names a [`Rule`]; [`decide`] makes it a concrete [`Decision`] for
//! one run, choosing the thresholds of the tuned rules on the validation
//! predictions (and only on them: the test split never tunes anything).
//!
//! Tuning one threshold for F1 — over all (poster, genre) pairs for
//! `tuned`, over one genre's column for `tuned_per_genre` — walks the
//! distinct scores from the highest down, the set "score above the cut"
//! growing one tie group at a time, and keeps the cut with the best F1:
//! the midpoint between the lowest score inside and the highest outside (the
//! rule is strict, so the midpoint keeps both exactly on their sides), half
//! the lowest score when every pair is inside. Of cuts with equal F1 the
//! highest wins (fewer predictions for the same F1).

use crate::spec::Rule;

use super::metrics::GenreCounts;

/// A rule made concrete for one run.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// A genre is predicted when its score is above the threshold: for
    /// independent (sigmoid) probabilities.
    Threshold(f64),
    /// A genre is predicted when its score is above `threshold` times the
    /// poster's highest score: for softmax scores, which share one unit of
    /// probability between the genres (a poster with three equally likely
    /// genres scores 1/3 each, so an absolute 0.5 would predict none). At
    /// least the top genre is always predicted.
    RelativeToTop(f64),
    /// The `k` highest scores of each poster; a tie at the k-th place goes
    /// to the genre listed first, and `k` beyond the genres predicts all.
    TopK(usize),
    /// Genre `g` is predicted when its score is above `cuts[g]`.
    PerGenre(Vec<f64>),
}

impl Decision {
    /// The rule in words, for figures.
    pub fn describe(&self) -> String {
        match self {
            Decision::RelativeToTop(t) => {
                format!("softmax probability above {t} x the poster's top one")
            }
            Decision::Threshold(t) => format!("probability above {t}"),
            Decision::TopK(k) => format!("the {k} most probable genres"),
            Decision::PerGenre(_) => {
                "probability above each genre's threshold, tuned on validation".to_string()
            }
        }
    }

    /// Which genres of one poster's `row` of scores are predicted, into
    /// `out` (one flag per genre).
    pub fn apply(&self, row: &[f32], out: &mut [bool]) {
        debug_assert_eq!(row.len(), out.len());
        match self {
            Decision::Threshold(t) => {
                for (o, &s) in out.iter_mut().zip(row) {
                    *o = s as f64 > *t;
                }
            }
            Decision::RelativeToTop(t) => {
                let cut = t * row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                for (o, &s) in out.iter_mut().zip(row) {
                    *o = s as f64 > cut;
                }
            }
            Decision::TopK(k) => {
                let mut order: Vec<usize> = (0..row.len()).collect();
                // Stable: of equal scores the genre listed first ranks first.
                order.sort_by(|&a, &b| row[b].total_cmp(&row[a]));
                out.fill(false);
                for &g in order.iter().take(*k) {
                    out[g] = true;
                }
            }
            Decision::PerGenre(cuts) => {
                debug_assert_eq!(cuts.len(), row.len());
                for ((o, &s), &cut) in out.iter_mut().zip(row).zip(cuts) {
                    *o = s as f64 > cut;
                }
            }
        }
    }
}

/// The label of `rule` at `threshold`, as rescores are stored and shown:
/// the plain rules carry the threshold they read (`threshold:0.3`,
/// `relative:0.5`), the others are their name (`top_k:3`, `tuned`,
/// `tuned_per_genre`).
pub fn label(rule: Rule, threshold: f64) -> String {
    match rule {
        Rule::Threshold | Rule::Relative => format!("{}:{threshold}", rule.name()),
        _ => rule.name(),
    }
}

/// Reads what `--decision` takes: a rule's name, with `:VALUE` for the
/// threshold of `threshold` and `relative` (default: each run's own) and
/// the `k` of `top_k` (required). `Some(threshold)` when one was given.
pub fn parse_rule(text: &str) -> Result<(Rule, Option<f64>), String> {
    let bad = || {
        format!(
            "unknown decision rule {text:?}\n  help: threshold[:T], relative[:T], top_k:K, tuned, \
             tuned_per_genre (T in (0, 1), K >= 1)"
        )
    };
    let (name, value) = match text.split_once(':') {
        Some((name, value)) => (name, Some(value)),
        None => (text, None),
    };
    match (name, value) {
        ("threshold" | "relative", Some(v)) => {
            let t: f64 = v.parse().map_err(|_| bad())?;
            if !(t > 0.0 && t < 1.0) {
                return Err(bad());
            }
            Ok((Rule::parse(name).ok_or_else(bad)?, Some(t)))
        }
        ("top_k", _) | (_, None) => Ok((Rule::parse(text).ok_or_else(bad)?, None)),
        _ => Err(bad()),
    }
}

/// A rule made concrete: the decision, and for the tuned rules the one
/// threshold tuned over all genres (also `tuned_per_genre`'s fallback).
#[derive(Debug, Clone, PartialEq)]
pub struct Decided {
    pub decision: Decision,
    pub tuned: Option<f64>,
}

impl Decided {
    /// The thresholds to record for a tuned rule: `("*", global)` and, for
    /// `tuned_per_genre`, one row per genre; none for the other rules.
    pub fn thresholds(&self, genres: &[String]) -> Vec<(String, f64)> {
        let Some(global) = self.tuned else {
            return Vec::new();
        };
        let mut rows = vec![("*".to_string(), global)];
        if let Decision::PerGenre(cuts) = &self.decision {
            rows.extend(genres.iter().cloned().zip(cuts.iter().copied()));
        }
        rows
    }
}

/// The decision a tested run applied: its rule at its threshold, or, for a
/// tuned rule, the thresholds it recorded (genre → threshold, `*` for the
/// one over all genres). `None` when a tuned rule recorded none.
pub fn recorded(
    rule: Rule,
    threshold: f64,
    genres: &[String],
    thresholds: &[(String, f64)],
) -> Option<Decision> {
    let find = |g: &str| thresholds.iter().find(|(name, _)| name == g).map(|t| t.1);
    match rule {
        Rule::Threshold => Some(Decision::Threshold(threshold)),
        Rule::Relative => Some(Decision::RelativeToTop(threshold)),
        Rule::TopK(k) => Some(Decision::TopK(k)),
        Rule::Tuned => find("*").map(Decision::Threshold),
        Rule::TunedPerGenre => {
            let global = find("*")?;
            Some(Decision::PerGenre(
                genres.iter().map(|g| find(g).unwrap_or(global)).collect(),
            ))
        }
    }
}

/// `rule` as applied by `decision`, in words, for figures.
pub fn describe(rule: Rule, decision: &Decision) -> String {
    match (rule, decision) {
        (Rule::Tuned, Decision::Threshold(t)) => {
            format!("probability above {t:.3}, the threshold tuned on validation for micro-F1")
        }
        _ => decision.describe(),
    }
}

/// Validation predictions: targets (0/1) and scores, `posters × genres`.
#[derive(Debug, Clone, Copy)]
pub struct Validation<'a> {
    pub targets: &'a [u8],
    pub scores: &'a [f32],
}

/// Why a rule could not be made concrete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecideError {
    /// A tuned rule without validation predictions to tune on.
    NoValidation(Rule),
}

impl std::fmt::Display for DecideError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DecideError::NoValidation(rule) => write!(
                f,
                "`{rule}` chooses its thresholds on validation predictions, and this run has none \
                 stored (it was recorded before posterlab stored them)\n  \
                 help: retrain it with `posterlab run --force SPEC`, or use a rule that needs none \
                 (threshold, relative, top_k:K)"
            ),
        }
    }
}

impl std::error::Error for DecideError {}

/// Makes `rule` concrete for `genres` genres: the plain rules with
/// `threshold`, the tuned ones on `val` (which only they read).
pub fn decide(
    rule: Rule,
    threshold: f64,
    genres: usize,
    val: Option<Validation>,
) -> Result<Decided, DecideError> {
    let plain = |decision| {
        Ok(Decided {
            decision,
            tuned: None,
        })
    };
    match rule {
        Rule::Threshold => plain(Decision::Threshold(threshold)),
        Rule::Relative => plain(Decision::RelativeToTop(threshold)),
        Rule::TopK(k) => plain(Decision::TopK(k)),
        Rule::Tuned | Rule::TunedPerGenre => {
            let val = val
                .filter(|v| !v.targets.is_empty())
                .ok_or(DecideError::NoValidation(rule))?;
            assert_eq!(val.targets.len(), val.scores.len(), "one score per target");
            // No positive pair at all: nothing to tune, the spec's threshold stays.
            let global = best_cut(val.targets, val.scores).unwrap_or(threshold);
            let decision = if rule == Rule::Tuned {
                Decision::Threshold(global)
            } else {
                let cuts = (0..genres)
                    .map(|g| {
                        let t: Vec<u8> = val
                            .targets
                            .iter()
                            .skip(g)
                            .step_by(genres)
                            .copied()
                            .collect();
                        let s: Vec<f32> =
                            val.scores.iter().skip(g).step_by(genres).copied().collect();
                        best_cut(&t, &s).unwrap_or(global)
                    })
                    .collect();
                Decision::PerGenre(cuts)
            };
            Ok(Decided {
                decision,
                tuned: Some(global),
            })
        }
    }
}

/// The cut that maximises F1 of "score above the cut" against `targets`
/// (see the module's notes); `None` without a positive.
pub fn best_cut(targets: &[u8], scores: &[f32]) -> Option<f64> {
    let positives = targets.iter().filter(|&&t| t == 1).count() as u64;
    if positives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut counts = GenreCounts {
        fn_: positives,
        ..GenreCounts::default()
    };
    let (mut best_f1, mut best_cut) = (0.0, None);
    let mut i = 0;
    while i < order.len() {
        let score = scores[order[i]];
        while i < order.len() && scores[order[i]] == score {
            let t = u64::from(targets[order[i]] == 1);
            counts.tp += t;
            counts.fn_ -= t;
            counts.fp += 1 - t;
            i += 1;
        }
        let f1 = counts.f1();
        if f1 > best_f1 {
            best_f1 = f1;
            let below = order.get(i).map_or(0.0, |&j| scores[j] as f64);
            best_cut = Some((score as f64 + below) / 2.0);
        }
    }
    best_cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::metrics::evaluate;

    fn predicted(decision: &Decision, row: &[f32]) -> Vec<bool> {
        let mut out = vec![false; row.len()];
        decision.apply(row, &mut out);
        out
    }

    #[test]
    fn top_k_takes_the_k_highest_and_breaks_ties_by_genre_order() {
        let row = [0.2, 0.7, 0.2, 0.9];
        assert_eq!(
            predicted(&Decision::TopK(2), &row),
            [false, true, false, true]
        );
        // Genres 0 and 2 tie for third place: the first listed wins.
        assert_eq!(
            predicted(&Decision::TopK(3), &row),
            [true, true, false, true]
        );
        // More than the genres there are: all of them.
        assert_eq!(predicted(&Decision::TopK(9), &row), [true; 4]);
    }

    #[test]
    fn thresholds_are_strict_per_genre_too() {
        // Scores that f32 and f64 hold exactly.
        let row = [0.5, 0.375, 0.25];
        assert_eq!(
            predicted(&Decision::PerGenre(vec![0.5, 0.25, 0.25]), &row),
            [false, true, false]
        );
        // 0.5 × 0.5: the cut is 0.25, exactly a genre's score (f32 and f64 agree).
        assert_eq!(
            predicted(&Decision::RelativeToTop(0.5), &[0.5, 0.26, 0.25]),
            [true, true, false]
        );
    }

    #[test]
    fn the_cut_maximises_f1_by_hand() {
        // Scores high to low: 0.9 (+), 0.8 (-), 0.6 (+), 0.4 (+), 0.1 (-).
        // Taking the top 1: F1 = 2/(1+3) = 0.5; top 2: 2/(2+3) = 0.4;
        // top 3: 4/(3+3) = 0.667; top 4: 6/(4+3) = 0.857; all 5: 6/8 = 0.75.
        let targets = [1, 0, 1, 1, 0];
        let scores = [0.9, 0.8, 0.6, 0.4, 0.1];
        let cut = best_cut(&targets, &scores).unwrap();
        assert!((cut - (0.4 + 0.1) / 2.0).abs() < 1e-7, "{cut}");
        // Applied, the cut gives the F1 it was chosen for.
        let m = evaluate(&targets, &scores, 1, &Decision::Threshold(cut));
        assert!((m.micro_f1 - 6.0 / 7.0).abs() < 1e-12);
    }

    #[test]
    fn tied_scores_enter_together_and_equal_f1_keeps_the_higher_cut() {
        // 0.7 (+) and 0.7 (-) tie: one step. Top group alone: F1 = 2/(2+2) = 0.5;
        // with 0.2 (+) too: 4/(3+2) = 0.8.
        let cut = best_cut(&[1, 0, 1], &[0.7, 0.7, 0.2]).unwrap();
        assert!(
            (cut - 0.1).abs() < 1e-7,
            "every score is in: half the lowest, {cut}"
        );
        // Two cuts with F1 = 2/3: 0.9 (+) alone, 2/(1+2), and all four,
        // 4/(4+2). The higher one wins.
        let cut = best_cut(&[1, 0, 0, 1], &[0.9, 0.6, 0.5, 0.4]).unwrap();
        assert!((cut - 0.75).abs() < 1e-7, "{cut}");
        assert_eq!(best_cut(&[0, 0], &[0.9, 0.1]), None);
    }

    #[test]
    fn per_genre_tuning_falls_back_to_the_global_cut_without_positives() {
        // Two genres, three posters; genre 1 has no validation positive.
        let targets = [1, 0, 0, 0, 1, 0];
        let scores = [0.9, 0.3, 0.2, 0.4, 0.6, 0.35];
        let val = Validation {
            targets: &targets,
            scores: &scores,
        };
        let global = decide(Rule::Tuned, 0.5, 2, Some(val)).unwrap();
        let per = decide(Rule::TunedPerGenre, 0.5, 2, Some(val)).unwrap();
        // Global: pairs 0.9+, 0.6+, 0.4-, 0.35-, 0.3-, 0.2-: both positives
        // on top, so the cut lies between 0.6 and 0.4.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-7;
        assert!(matches!(global.decision, Decision::Threshold(t) if close(t, 0.5)));
        assert!(close(global.tuned.unwrap(), 0.5));
        // Genre 0: 0.9+, 0.6+ over 0.2-: cut (0.6+0.2)/2; genre 1: the global 0.5.
        match &per.decision {
            Decision::PerGenre(cuts) => {
                assert!(close(cuts[0], 0.4), "{cuts:?}");
                assert_eq!(Some(cuts[1]), per.tuned);
            }
            other => panic!("{other:?}"),
        }
        let genres = ["A".to_string(), "B".to_string()];
        assert_eq!(per.thresholds(&genres).len(), 3);
        assert_eq!(
            global.thresholds(&genres),
            [("*".to_string(), global.tuned.unwrap())]
        );
    }

    #[test]
    fn rules_are_read_and_labelled_as_the_command_line_writes_them() {
        assert_eq!(parse_rule("tuned"), Ok((Rule::Tuned, None)));
        assert_eq!(parse_rule("top_k:3"), Ok((Rule::TopK(3), None)));
        assert_eq!(
            parse_rule("threshold:0.3"),
            Ok((Rule::Threshold, Some(0.3)))
        );
        assert_eq!(parse_rule("relative"), Ok((Rule::Relative, None)));
        for bad in [
            "top_k",
            "top_k:0",
            "threshold:2",
            "tuned:0.3",
            "best",
            "relative:x",
        ] {
            assert!(parse_rule(bad).is_err(), "{bad}");
        }
        assert_eq!(label(Rule::Threshold, 0.25), "threshold:0.25");
        assert_eq!(label(Rule::TopK(2), 0.5), "top_k:2");
        assert_eq!(label(Rule::TunedPerGenre, 0.5), "tuned_per_genre");
    }

    #[test]
    fn tuned_rules_need_validation_and_plain_rules_ignore_it() {
        assert_eq!(
            decide(Rule::Tuned, 0.5, 3, None),
            Err(DecideError::NoValidation(Rule::Tuned))
        );
        let e = decide(Rule::TunedPerGenre, 0.5, 3, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("posterlab run --force"), "{e}");
        assert_eq!(
            decide(Rule::TopK(2), 0.5, 3, None).unwrap().decision,
            Decision::TopK(2)
        );
        assert_eq!(
            decide(Rule::Relative, 0.3, 3, None).unwrap().decision,
            Decision::RelativeToTop(0.3)
        );
    }
}
