//! A run's learning curves (`curves.svg`): loss, micro precision, recall,
//! F1 and average precision per epoch, training against validation, and
//! the learning rate; the best epoch, an early stop and a divergence marked.

use super::tested::status_line;
use crate::metric::{Metric, Split};
use crate::report::figures::{self, Key, Mark, Panel, Series, XAxis};
use crate::report::load::{curve, lr_curve, RunData};
use crate::report::style;
use crate::store::{RunRow, Status};

/// The panels drawn for both training and validation, three to a row
/// before the learning rate's: (title, y axis, metric).
const PANELS: [(&str, &str, Metric); 5] = [
    ("loss", "mean loss", Metric::Loss),
    ("micro precision", "precision", Metric::MicroPrecision),
    ("micro recall", "recall", Metric::MicroRecall),
    ("micro F1", "F1", Metric::MicroF1),
    ("micro average precision", "AP", Metric::MicroAp),
];

/// The curves, or, before the first epoch ends, why there are none.
pub(super) fn figure(d: &RunData) -> Result<String, String> {
    let run = &d.run;
    let title = format!("run {} {} ({})", run.id, run.name, status_line(run));
    if d.epochs.is_empty() {
        let why = match &run.error {
            Some(e) => format!("no epoch completed: {e}"),
            None => "no epoch completed yet".to_string(),
        };
        return figures::placeholder(&title, &why);
    }
    let marks = marks(run);
    let line = |label: &str, colour, dashed, points| Series {
        label: label.into(),
        colour,
        dashed,
        points,
        band: Vec::new(),
    };
    let mut panels: Vec<Panel> = PANELS
        .iter()
        .map(|&(title, y_desc, metric)| Panel {
            x: XAxis::Epoch,
            title: title.into(),
            y_desc: y_desc.into(),
            series: vec![
                line(
                    "training",
                    style::TRAIN,
                    false,
                    curve(&d.epochs, Split::Train, metric),
                ),
                line(
                    "validation",
                    style::VAL,
                    true,
                    curve(&d.epochs, Split::Val, metric),
                ),
            ],
            marks: marks.clone(),
        })
        .collect();
    panels.push(Panel {
        x: XAxis::Epoch,
        title: "learning rate".into(),
        y_desc: "learning rate".into(),
        series: vec![line(
            "learning rate",
            style::PALETTE[2],
            false,
            lr_curve(&d.epochs),
        )],
        marks: marks.clone(),
    });
    let mut keys = vec![
        (
            "training (dropout on, as Keras reports)".to_string(),
            Key::Line {
                colour: style::TRAIN,
                dashed: false,
            },
        ),
        (
            "validation".to_string(),
            Key::Line {
                colour: style::VAL,
                dashed: true,
            },
        ),
        (
            "learning rate".to_string(),
            Key::Line {
                colour: style::PALETTE[2],
                dashed: false,
            },
        ),
    ];
    for m in &marks {
        keys.push((m.label.clone(), Key::Mark { colour: m.colour }));
    }
    figures::panels(&title, &panels, 3, &keys)
}

/// The vertical marks of a run: best epoch, early stop, divergence.
fn marks(run: &RunRow) -> Vec<Mark> {
    let mut marks = Vec::new();
    if let Some(b) = run.best_epoch {
        marks.push(Mark {
            x: b as f64,
            // The monitor is a validation metric: `val_loss`, as specs name it.
            label: format!("best epoch ({b}, by val_{})", run.monitor.name()),
            colour: style::GREY,
        });
    }
    if run.stopped_early {
        marks.push(Mark {
            x: run.epochs_done as f64,
            label: format!("early stop after epoch {}", run.epochs_done),
            colour: style::PALETTE[3],
        });
    }
    if run.status == Status::Diverged {
        let e = run.status_epoch.unwrap_or(run.epochs_done + 1);
        marks.push(Mark {
            x: e as f64,
            label: format!("diverged in epoch {e}"),
            colour: style::MISS,
        });
    }
    marks
}
