//! `[train]`: the loss, optimizer, schedule and early stopping (each a name
//! or a kind-table of settings), and the plain numbers beside them.

use super::read::{as_str, FieldValue, KindArgs};
use super::view::RunView;
use crate::spec::diagnostics::Collector;
use crate::spec::fields;
use crate::spec::tree::Node;
use crate::spec::types::{
    Device, EarlyStopping, Loss, Monitor, Optimizer, Rule, Schedule, TrainSpec,
};

pub(super) fn resolve(diags: &mut Collector<'_>, view: &RunView<'_>) -> Option<TrainSpec> {
    let field = |key: &str| view.field("train", key);
    let monitor = diags.choice(&field("monitor"), Monitor::NAMES, Monitor::from_name);
    let loss = loss(diags, &field("loss"));
    let optimizer = optimizer(diags, &field("optimizer"));
    let lr = diags.float(&field("lr"));
    let weight_decay = diags.float(&field("weight_decay"));
    let grad_clip = diags.float(&field("grad_clip"));
    let batch_size = diags.int(&field("batch_size"));
    let epochs = diags.int(&field("epochs"));
    let seed = diags.int(&field("seed"));
    let device = {
        let value = field("device").value;
        match as_str(&value).and_then(Device::parse) {
            Some(d) => Some(d),
            None => {
                let found = value.describe();
                diags.error(
                    value.span,
                    format!(
                        "`train.device` must be \"cpu\", \"cuda\" or \"cuda:N\", found {found}"
                    ),
                    None,
                );
                None
            }
        }
    };
    let threshold = diags.float(&field("threshold"));
    let decision = match view.written("train", "decision") {
        Some(value) => decision(
            diags,
            &FieldValue {
                value: value.clone(),
                what: "train.decision".into(),
                range: fields::find("train", "decision").expect("registered").range,
            },
        ),
        // The loss's own rule; a bad loss is reported above.
        None => loss.map(Rule::default_for),
    };
    // A bad monitor is reported above; the schedule and early stopping are
    // still checked, with the default monitor standing in where they
    // inherit it (a default is never wrong), so that their own mistakes
    // show too. The run is refused by `monitor?` below all the same.
    let inherited = monitor.unwrap_or(Monitor::ValLoss);
    let schedule = schedule(diags, &field("schedule"), inherited);
    let early_stopping = early_stopping(diags, &field("early_stopping"), inherited);
    Some(TrainSpec {
        loss: loss?,
        optimizer: optimizer?,
        lr: lr?,
        weight_decay: weight_decay?,
        grad_clip: grad_clip.map(|c| (c > 0.0).then_some(c))?,
        batch_size: batch_size? as usize,
        epochs: epochs? as usize,
        seed: seed? as u64,
        device: device?,
        schedule: schedule?,
        early_stopping: early_stopping?,
        monitor: monitor?,
        threshold: threshold?,
        decision: decision?,
    })
}

fn decision(diags: &mut Collector<'_>, field: &FieldValue) -> Option<Rule> {
    let k = diags.kind_table(field, fields::DECISION_KINDS, None)?;
    Some(match k.kind {
        "threshold" => Rule::Threshold,
        "relative" => Rule::Relative,
        "top_k" => Rule::TopK(diags.int(&k.field("k"))? as usize),
        "tuned" => Rule::Tuned,
        "tuned_per_genre" => Rule::TunedPerGenre,
        _ => unreachable!("kinds come from DECISION_KINDS"),
    })
}

fn loss(diags: &mut Collector<'_>, field: &FieldValue) -> Option<Loss> {
    let k = diags.kind_table(field, fields::LOSS_KINDS, None)?;
    Some(match k.kind {
        "bce" => Loss::Bce,
        "weighted_bce" => Loss::WeightedBce,
        "categorical_ce" => Loss::CategoricalCe,
        "focal" => {
            let gamma = diags.float(&k.field("gamma"));
            let alpha = diags.float(&k.field("alpha"));
            Loss::Focal {
                gamma: gamma?,
                alpha: alpha?,
            }
        }
        _ => unreachable!("kinds come from LOSS_KINDS"),
    })
}

fn optimizer(diags: &mut Collector<'_>, field: &FieldValue) -> Option<Optimizer> {
    let k = diags.kind_table(field, fields::OPTIMIZER_KINDS, None)?;
    Some(match k.kind {
        "adam" | "adamw" => {
            let beta1 = diags.float(&k.field("beta1"));
            let beta2 = diags.float(&k.field("beta2"));
            let eps = diags.float(&k.field("eps"));
            let (beta1, beta2, eps) = (beta1?, beta2?, eps?);
            if k.kind == "adam" {
                Optimizer::Adam { beta1, beta2, eps }
            } else {
                Optimizer::AdamW { beta1, beta2, eps }
            }
        }
        "sgd" => {
            let momentum = diags.float(&k.field("momentum"));
            let nesterov = diags.boolean(&k.field("nesterov"));
            let (momentum, nesterov) = (momentum?, nesterov?);
            if nesterov && momentum == 0.0 {
                diags.error(
                    field.value.span.clone(),
                    "nesterov SGD needs momentum > 0",
                    Some("set momentum (e.g. 0.9) or nesterov = false".into()),
                );
                return None;
            }
            Optimizer::Sgd { momentum, nesterov }
        }
        _ => unreachable!("kinds come from OPTIMIZER_KINDS"),
    })
}

fn schedule(diags: &mut Collector<'_>, field: &FieldValue, monitor: Monitor) -> Option<Schedule> {
    let k = diags.kind_table(field, fields::SCHEDULE_KINDS, Some(monitor))?;
    Some(match k.kind {
        "constant" => Schedule::Constant,
        "step" => {
            let step_size = diags.int(&k.field("step_size"));
            let gamma = diags.float(&k.field("gamma"));
            Schedule::Step {
                step_size: step_size? as usize,
                gamma: gamma?,
            }
        }
        "cosine" => Schedule::Cosine {
            min_lr: diags.float(&k.field("min_lr"))?,
        },
        "plateau" => {
            let factor = diags.float(&k.field("factor"));
            let patience = diags.int(&k.field("patience"));
            let min_lr = diags.float(&k.field("min_lr"));
            let monitor = diags.choice(&k.field("monitor"), Monitor::NAMES, Monitor::from_name);
            Schedule::Plateau {
                factor: factor?,
                patience: patience? as usize,
                min_lr: min_lr?,
                monitor: monitor?,
            }
        }
        _ => unreachable!("kinds come from SCHEDULE_KINDS"),
    })
}

fn early_stopping(
    diags: &mut Collector<'_>,
    field: &FieldValue,
    monitor: Monitor,
) -> Option<Option<EarlyStopping>> {
    let value = &field.value;
    let settings = match &value.node {
        Node::Bool(false) => return Some(None),
        Node::Bool(true) => KindArgs {
            what: field.what.clone(),
            kind: "early_stopping",
            written: &[],
            defaults: fields::EARLY_STOPPING_FIELDS,
            monitor: Some(monitor),
        },
        Node::Table(t) => {
            for e in &t.entries {
                diags.check_setting(e, "train.early_stopping", fields::EARLY_STOPPING_FIELDS);
            }
            KindArgs {
                what: field.what.clone(),
                kind: "early_stopping",
                written: &t.entries,
                defaults: fields::EARLY_STOPPING_FIELDS,
                monitor: Some(monitor),
            }
        }
        _ => {
            diags.error(
                value.span.clone(),
                format!("`train.early_stopping` must be true, false or a table, found {}", value.describe()),
                Some("e.g. early_stopping = { monitor = \"val_loss\", patience = 5, min_delta = 0.0 }".into()),
            );
            return None;
        }
    };
    let monitor = diags.choice(
        &settings.field("monitor"),
        Monitor::NAMES,
        Monitor::from_name,
    );
    let patience = diags.int(&settings.field("patience"));
    let min_delta = diags.float(&settings.field("min_delta"));
    Some(Some(EarlyStopping {
        monitor: monitor?,
        patience: patience? as usize,
        min_delta: min_delta?,
    }))
}
