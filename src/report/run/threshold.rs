//! A tested run's micro and macro F1 against the threshold
//! (`threshold.svg`), the spec's marked and, where the run stored its
//! validation predictions, the threshold tuned on them (what the `tuned`
//! rule picks): what a threshold costs or gains. Read off the test split,
//! so the curve's best point is optimistic; the validation-tuned one is not.

use super::tested::Tested;
use crate::report::figures::{self, Key, Mark, Panel, Series, XAxis};
use crate::report::style;
use crate::spec::Rule;
use crate::store::PosterPrediction;
use crate::train::decision::{decide, Validation};
use crate::train::metrics::{Decision, GenreCounts};

/// F1 at thresholds 0.05, 0.10, …, 0.95, the run's rule otherwise kept.
pub(super) fn figure(t: &Tested) -> Result<String, String> {
    let (relative, spec_threshold) = (t.run.rule == Rule::Relative, t.run.threshold);
    let (micro, macro_): (Vec<_>, Vec<_>) = (1..20)
        .map(|k| {
            let threshold = k as f64 * 0.05;
            let decision = if relative {
                Decision::RelativeToTop(threshold)
            } else {
                Decision::Threshold(threshold)
            };
            let (f1_micro, f1_macro) = f1_at(t.predictions, t.run.genres.len(), &decision);
            ((threshold, f1_micro), (threshold, f1_macro))
        })
        .unzip();
    let mut panel = Panel {
        x: XAxis::Threshold,
        title: if relative {
            "F1 by threshold x top score".into()
        } else {
            "F1 by threshold".into()
        },
        y_desc: "F1".into(),
        series: vec![
            Series {
                label: "micro F1".into(),
                colour: style::PALETTE[0],
                dashed: false,
                points: micro,
                band: Vec::new(),
            },
            Series {
                label: "macro F1".into(),
                colour: style::PALETTE[1],
                dashed: true,
                points: macro_,
                band: Vec::new(),
            },
        ],
        marks: vec![Mark {
            x: spec_threshold,
            label: String::new(),
            colour: style::GREY,
        }],
    };
    let spec_mark = format!(
        "the spec's threshold ({spec_threshold}); others are chosen on the test split here, so read them as optimistic"
    );
    // The tuned threshold is absolute: it has a place on this axis unless
    // the axis is relative to the top score.
    let tuned = (!relative).then(|| tuned_on_validation(t)).flatten();
    if let Some(x) = tuned {
        panel.marks.push(Mark {
            x,
            label: String::new(),
            colour: style::PALETTE[2],
        });
    }
    let mut keys = vec![
        (
            "micro F1".to_string(),
            Key::Line {
                colour: style::PALETTE[0],
                dashed: false,
            },
        ),
        (
            "macro F1".to_string(),
            Key::Line {
                colour: style::PALETTE[1],
                dashed: true,
            },
        ),
        (
            spec_mark,
            Key::Mark {
                colour: style::GREY,
            },
        ),
    ];
    if let Some(x) = tuned {
        keys.push((
            format!("tuned on the validation split for micro-F1 ({x:.3}): the `tuned` rule"),
            Key::Mark {
                colour: style::PALETTE[2],
            },
        ));
    }
    figures::panels(&t.title("test F1 by threshold"), &[panel], 1, &keys)
}

/// The one threshold the `tuned` rule picks on the run's validation
/// predictions; `None` without them.
fn tuned_on_validation(t: &Tested) -> Option<f64> {
    let (targets, scores) = PosterPrediction::flatten(t.val_predictions);
    let val = Validation {
        targets: &targets,
        scores: &scores,
    };
    decide(Rule::Tuned, t.run.threshold, t.run.genres.len(), Some(val))
        .ok()?
        .tuned
}

/// Micro and macro F1 of the test predictions under `decision` (the run's
/// rule at another threshold), counted as the metrics count them.
fn f1_at(predictions: &[PosterPrediction], genres: usize, decision: &Decision) -> (f64, f64) {
    let mut counts = vec![GenreCounts::default(); genres];
    let mut predicted = vec![false; genres];
    for p in predictions {
        decision.apply(&p.probability, &mut predicted);
        for (g, c) in counts.iter_mut().enumerate() {
            c.record(p.truth[g], predicted[g]);
        }
    }
    let macro_ = counts.iter().map(GenreCounts::f1).sum::<f64>() / genres.max(1) as f64;
    (GenreCounts::total(&counts).f1(), macro_)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::metrics::evaluate;

    #[test]
    fn f1_by_threshold_agrees_with_the_metrics() {
        let scores = [0.9f32, 0.2, 0.6, 0.4, 0.55, 0.05, 0.3, 0.8, 0.1];
        let truth = [1u8, 0, 1, 1, 0, 0, 0, 1, 1];
        let predictions: Vec<PosterPrediction> = (0..3)
            .map(|p| PosterPrediction {
                poster: p.to_string(),
                truth: truth[p * 3..p * 3 + 3].iter().map(|&t| t == 1).collect(),
                probability: scores[p * 3..p * 3 + 3].to_vec(),
                predicted: vec![false; 3],
            })
            .collect();
        for t in [0.25, 0.5, 0.7] {
            let m = evaluate(&truth, &scores, 3, &Decision::Threshold(t));
            let (micro, macro_) = f1_at(&predictions, 3, &Decision::Threshold(t));
            assert!((micro - m.micro_f1).abs() < 1e-12 && (macro_ - m.macro_f1).abs() < 1e-12);
            let m = evaluate(&truth, &scores, 3, &Decision::RelativeToTop(t));
            let (micro, macro_) = f1_at(&predictions, 3, &Decision::RelativeToTop(t));
            assert!((micro - m.micro_f1).abs() < 1e-12 && (macro_ - m.macro_f1).abs() < 1e-12);
        }
    }
}
