//! Decisions that only look at the recorded history of a run: the learning
//! rate of the next epoch, whether to stop early, and which epoch is best.
//!
//! Each is a plain function of the rule and the validation results of the
//! finished epochs (the monitored values, underneath), so a resumed run makes
//! exactly the decisions an uninterrupted one would: nothing but the history
//! needs saving.

use super::record::SplitResult;
use crate::spec::{EarlyStopping, Monitor, Schedule};

/// The learning rate of epoch `epoch` (0-based) under `schedule`, from the
/// validation results of the epochs before it (reduce-on-plateau reads its
/// monitor from them; the others read nothing).
pub fn learning_rate(
    schedule: &Schedule,
    lr: f64,
    epochs: usize,
    epoch: usize,
    history: &[SplitResult],
) -> f64 {
    match schedule {
        Schedule::Plateau { monitor, .. } => lr_from(
            schedule,
            lr,
            epochs,
            epoch,
            &monitored(history, *monitor),
            monitor.minimise(),
        ),
        other => lr_from(other, lr, epochs, epoch, &[], true),
    }
}

/// Whether early stopping (`rule`, if the spec has one) ends training after
/// the epochs of `history`.
pub fn should_stop(rule: Option<&EarlyStopping>, history: &[SplitResult]) -> bool {
    rule.is_some_and(|rule| {
        stops_on(
            rule,
            &monitored(history, rule.monitor),
            rule.monitor.minimise(),
        )
    })
}

/// The best epoch of `history` by `monitor`, numbered from 1; the first one
/// on ties; `None` while no epoch has a number.
pub fn best_epoch(history: &[SplitResult], monitor: Monitor) -> Option<usize> {
    best_index(&monitored(history, monitor), monitor.minimise()).map(|i| i + 1)
}

/// The monitored value of each epoch.
fn monitored(history: &[SplitResult], monitor: Monitor) -> Vec<f64> {
    history.iter().map(|r| r.monitored(monitor)).collect()
}

/// Relative margin an epoch must beat the best by to count as an
/// improvement for reduce-on-plateau (PyTorch's `threshold=1e-4`, "rel").
const PLATEAU_THRESHOLD: f64 = 1e-4;

/// Whether `value` improves on `best` by more than `margin` (absolute).
/// A NaN never improves anything.
fn improves(value: f64, best: f64, margin: f64, minimise: bool) -> bool {
    if value.is_nan() {
        return false;
    }
    if best.is_nan() {
        return true;
    }
    if minimise {
        value < best - margin
    } else {
        value > best + margin
    }
}

/// The learning rate for epoch `epoch` (0-based), given the base rate, the
/// planned number of epochs, and the monitored value of each finished epoch
/// (`history.len() == epoch`; only reduce-on-plateau reads it).
///
/// - constant: `lr`;
/// - step: `lr · gamma^⌊epoch / step_size⌋` (PyTorch's StepLR);
/// - cosine: `min_lr + (lr − min_lr)(1 + cos(π · epoch / epochs)) / 2`
///   (CosineAnnealingLR with `T_max = epochs`);
/// - plateau: PyTorch's ReduceLROnPlateau replayed over the history: after
///   more than `patience` epochs without a relative improvement of 1e-4,
///   multiply by `factor` (not below `min_lr`) and start counting again.
fn lr_from(
    schedule: &Schedule,
    lr: f64,
    epochs: usize,
    epoch: usize,
    history: &[f64],
    minimise: bool,
) -> f64 {
    match *schedule {
        Schedule::Constant => lr,
        Schedule::Step { step_size, gamma } => lr * gamma.powi((epoch / step_size) as i32),
        Schedule::Cosine { min_lr } => {
            let progress = epoch as f64 / epochs.max(1) as f64;
            min_lr + (lr - min_lr) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
        }
        Schedule::Plateau {
            factor,
            patience,
            min_lr,
            ..
        } => {
            let (mut rate, mut best, mut bad) = (lr, f64::NAN, 0usize);
            for &value in &history[..epoch.min(history.len())] {
                let margin = if best.is_nan() {
                    0.0
                } else {
                    best.abs() * PLATEAU_THRESHOLD
                };
                if improves(value, best, margin, minimise) {
                    (best, bad) = (value, 0);
                } else {
                    bad += 1;
                }
                if bad > patience {
                    rate = (rate * factor).max(min_lr);
                    bad = 0;
                }
            }
            rate
        }
    }
}

/// Whether training stops after the finished epochs in `history` (Keras'
/// EarlyStopping): no improvement by more than `min_delta` over the best
/// for `patience` epochs in a row.
fn stops_on(rule: &EarlyStopping, history: &[f64], minimise: bool) -> bool {
    let (mut best, mut wait) = (f64::NAN, 0usize);
    for &value in history {
        if improves(
            value,
            best,
            if best.is_nan() { 0.0 } else { rule.min_delta },
            minimise,
        ) {
            (best, wait) = (value, 0);
        } else {
            wait += 1;
        }
    }
    wait >= rule.patience.max(1) && !history.is_empty()
}

/// The best finished epoch (0-based) by the monitored value; the first one
/// on ties; `None` while no epoch has a number.
fn best_index(history: &[f64], minimise: bool) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &value) in history.iter().enumerate() {
        if improves(value, best.map_or(f64::NAN, |b| history[b]), 0.0, minimise) {
            best = Some(i);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Monitor;

    fn close(got: f64, want: f64) {
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn step_and_cosine_by_hand() {
        let step = Schedule::Step {
            step_size: 2,
            gamma: 0.5,
        };
        let lrs: Vec<f64> = (0..5)
            .map(|e| lr_from(&step, 0.1, 5, e, &[], true))
            .collect();
        assert_eq!(lrs, vec![0.1, 0.1, 0.1 * 0.5, 0.1 * 0.5, 0.1 * 0.25]);

        let cosine = Schedule::Cosine { min_lr: 0.0 };
        close(lr_from(&cosine, 1.0, 4, 0, &[], true), 1.0);
        close(lr_from(&cosine, 1.0, 4, 2, &[], true), 0.5);
        close(
            lr_from(&cosine, 1.0, 4, 1, &[], true),
            (1.0 + (std::f64::consts::PI / 4.0).cos()) / 2.0,
        );
        close(lr_from(&Schedule::Constant, 0.3, 4, 3, &[], true), 0.3);
    }

    #[test]
    fn plateau_waits_patience_epochs_then_cuts_and_counts_again() {
        let plateau = Schedule::Plateau {
            factor: 0.5,
            patience: 1,
            min_lr: 0.01,
            monitor: Monitor::ValLoss,
        };
        // Losses: improve, improve, stall, stall (cut: 2 bad > patience 1),
        // stall, stall (cut again), improve.
        let history = [1.0, 0.9, 0.95, 0.91, 0.92, 0.93, 0.5];
        let lrs: Vec<f64> = (0..=history.len())
            .map(|e| lr_from(&plateau, 0.1, 10, e, &history, true))
            .collect();
        assert_eq!(lrs, vec![0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025]);
        // Never below min_lr.
        let long = [1.0; 40];
        close(lr_from(&plateau, 0.1, 50, 40, &long, true), 0.01);
        // An improvement smaller than 1e-4 relative is a stall (PyTorch).
        let tiny = [1.0, 0.99995, 0.99992];
        assert_eq!(lr_from(&plateau, 0.1, 10, 3, &tiny, true), 0.05);
    }

    #[test]
    fn plateau_on_a_metric_to_maximise() {
        let plateau = Schedule::Plateau {
            factor: 0.1,
            patience: 0,
            min_lr: 0.0,
            monitor: Monitor::ValMicroF1,
        };
        close(lr_from(&plateau, 1.0, 10, 2, &[0.3, 0.4], false), 1.0);
        close(lr_from(&plateau, 1.0, 10, 2, &[0.4, 0.3], false), 0.1);
    }

    #[test]
    fn early_stopping_like_keras() {
        let rule = EarlyStopping {
            monitor: Monitor::ValLoss,
            patience: 2,
            min_delta: 0.01,
        };
        assert!(!stops_on(&rule, &[], true));
        assert!(!stops_on(&rule, &[1.0, 0.9, 0.95], true));
        assert!(
            stops_on(&rule, &[1.0, 0.9, 0.95, 0.91], true),
            "two epochs without beating 0.9 by 0.01"
        );
        assert!(
            !stops_on(&rule, &[1.0, 0.9, 0.95, 0.85], true),
            "0.85 improves by more than min_delta"
        );
        assert!(
            stops_on(&rule, &[1.0, 0.9, 0.895, 0.899], true),
            "0.895 is within min_delta: no improvement"
        );
        assert!(
            stops_on(&rule, &[0.5, f64::NAN, f64::NAN], true),
            "NaN never improves"
        );
    }

    #[test]
    fn best_epoch_first_on_ties_and_ignores_nan() {
        assert_eq!(best_index(&[], true), None);
        assert_eq!(best_index(&[f64::NAN], true), None);
        assert_eq!(best_index(&[0.5, 0.3, 0.3, 0.4], true), Some(1));
        assert_eq!(best_index(&[0.5, 0.3, f64::NAN], false), Some(0));
    }

    #[test]
    fn replaying_a_prefix_gives_the_same_decisions() {
        // What resume relies on: the decision for epoch e reads only the
        // first e values, whatever comes after.
        let plateau = Schedule::Plateau {
            factor: 0.5,
            patience: 1,
            min_lr: 0.0,
            monitor: Monitor::ValLoss,
        };
        let full = [1.0, 0.9, 0.95, 0.96, 0.97, 0.8];
        for e in 0..=full.len() {
            assert_eq!(
                lr_from(&plateau, 0.1, 10, e, &full, true),
                lr_from(&plateau, 0.1, 10, e, &full[..e], true)
            );
        }
    }

    #[test]
    fn the_rule_reads_its_monitor_from_the_recorded_results() {
        use crate::train::metrics::{evaluate, Decision};
        let result = |loss: f64, scores: [f32; 2]| SplitResult {
            posters: 1,
            loss,
            metrics: evaluate(&[1, 0], &scores, 2, &Decision::Threshold(0.5)),
        };
        // Epoch 2 has the lowest loss, epoch 1 the better F1 (1.0 vs 0.0).
        let history = [
            result(0.9, [0.8, 0.1]),
            result(0.5, [0.1, 0.8]),
            result(0.7, [0.1, 0.8]),
        ];
        assert_eq!(
            best_epoch(&history, Monitor::ValLoss),
            Some(2),
            "numbered from 1"
        );
        assert_eq!(best_epoch(&history, Monitor::ValMicroF1), Some(1));
        assert_eq!(best_epoch(&[], Monitor::ValLoss), None);
        let rule = EarlyStopping {
            monitor: Monitor::ValMicroF1,
            patience: 2,
            min_delta: 0.0,
        };
        assert!(
            should_stop(Some(&rule), &history),
            "F1 has not improved for two epochs"
        );
        assert!(!should_stop(None, &history), "no rule, no stop");
        let plateau = Schedule::Plateau {
            factor: 0.5,
            patience: 1,
            min_lr: 0.0,
            monitor: Monitor::ValMicroF1,
        };
        close(learning_rate(&plateau, 1.0, 10, 3, &history), 0.5);
        close(
            learning_rate(&Schedule::Constant, 1.0, 10, 3, &history),
            1.0,
        );
    }
}
