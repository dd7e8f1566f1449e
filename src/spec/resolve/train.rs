//! `[train]`: the loss, optimizer, schedule and early stopping (each a name
//! or a kind-table of settings), and the plain numbers beside them.

use super::read::{as_str, KindArgs, Range};
use super::view::RunView;
use crate::spec::diagnostics::Collector;
use crate::spec::fields;
use crate::spec::tree::{Node, Value};
use crate::spec::types::{Device, EarlyStopping, Loss, Monitor, Optimizer, Schedule, TrainSpec};

pub(super) fn resolve(diags: &mut Collector<'_>, view: &RunView<'_>) -> Option<TrainSpec> {
    let v = |k: &str| view.value("train", k);
    let monitor = diags.choice(
        &v("monitor"),
        "train.monitor",
        Monitor::NAMES,
        Monitor::from_name,
    );
    let loss = loss(diags, &v("loss"));
    let optimizer = optimizer(diags, &v("optimizer"));
    let lr = diags.float(&v("lr"), "train.lr", Range::Positive);
    let weight_decay = diags.float(&v("weight_decay"), "train.weight_decay", Range::NonNegative);
    let grad_clip = diags.float(&v("grad_clip"), "train.grad_clip", Range::NonNegative);
    let batch_size = diags.int(&v("batch_size"), "train.batch_size", 1, 1 << 20);
    let epochs = diags.int(&v("epochs"), "train.epochs", 1, 1_000_000);
    let seed = diags.int(&v("seed"), "train.seed", 0, i64::MAX);
    let device = {
        let value = v("device");
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
    let threshold = diags.float(&v("threshold"), "train.threshold", Range::Open01);
    // A bad monitor is reported above; the schedule and early stopping are
    // still checked, with the default monitor standing in where they
    // inherit it (a default is never wrong), so that their own mistakes
    // show too. The run is refused by `monitor?` below all the same.
    let inherited = monitor.unwrap_or(Monitor::ValLoss);
    let schedule = schedule(diags, &v("schedule"), inherited);
    let early_stopping = early_stopping(diags, &v("early_stopping"), inherited);
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
    })
}

fn loss(diags: &mut Collector<'_>, value: &Value) -> Option<Loss> {
    let k = diags.kind_table(value, "train.loss", fields::LOSS_KINDS, None)?;
    Some(match k.kind {
        "bce" => Loss::Bce,
        "weighted_bce" => Loss::WeightedBce,
        "categorical_ce" => Loss::CategoricalCe,
        "focal" => {
            let gamma = diags.float(&k.get("gamma"), "train.loss.gamma", Range::NonNegative);
            let alpha = diags.float(&k.get("alpha"), "train.loss.alpha", Range::Unit);
            Loss::Focal {
                gamma: gamma?,
                alpha: alpha?,
            }
        }
        _ => unreachable!("kinds come from LOSS_KINDS"),
    })
}

fn optimizer(diags: &mut Collector<'_>, value: &Value) -> Option<Optimizer> {
    let k = diags.kind_table(value, "train.optimizer", fields::OPTIMIZER_KINDS, None)?;
    Some(match k.kind {
        "adam" | "adamw" => {
            let beta1 = diags.float(&k.get("beta1"), "train.optimizer.beta1", Range::Unit);
            let beta2 = diags.float(&k.get("beta2"), "train.optimizer.beta2", Range::Unit);
            let eps = diags.float(&k.get("eps"), "train.optimizer.eps", Range::Positive);
            let (beta1, beta2, eps) = (beta1?, beta2?, eps?);
            if k.kind == "adam" {
                Optimizer::Adam { beta1, beta2, eps }
            } else {
                Optimizer::AdamW { beta1, beta2, eps }
            }
        }
        "sgd" => {
            let momentum = diags.float(&k.get("momentum"), "train.optimizer.momentum", Range::Unit);
            let nesterov = diags.boolean(&k.get("nesterov"), "train.optimizer.nesterov");
            let (momentum, nesterov) = (momentum?, nesterov?);
            if nesterov && momentum == 0.0 {
                diags.error(
                    value.span.clone(),
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

fn schedule(diags: &mut Collector<'_>, value: &Value, monitor: Monitor) -> Option<Schedule> {
    let k = diags.kind_table(
        value,
        "train.schedule",
        fields::SCHEDULE_KINDS,
        Some(monitor),
    )?;
    Some(match k.kind {
        "constant" => Schedule::Constant,
        "step" => {
            let step_size = diags.int(
                &k.get("step_size"),
                "train.schedule.step_size",
                1,
                1_000_000,
            );
            let gamma = diags.float(&k.get("gamma"), "train.schedule.gamma", Range::Open01);
            Schedule::Step {
                step_size: step_size? as usize,
                gamma: gamma?,
            }
        }
        "cosine" => Schedule::Cosine {
            min_lr: diags.float(
                &k.get("min_lr"),
                "train.schedule.min_lr",
                Range::NonNegative,
            )?,
        },
        "plateau" => {
            let factor = diags.float(&k.get("factor"), "train.schedule.factor", Range::Open01);
            let patience = diags.int(&k.get("patience"), "train.schedule.patience", 0, 1_000_000);
            let min_lr = diags.float(
                &k.get("min_lr"),
                "train.schedule.min_lr",
                Range::NonNegative,
            );
            let monitor = diags.choice(
                &k.get("monitor"),
                "train.schedule.monitor",
                Monitor::NAMES,
                Monitor::from_name,
            );
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
    value: &Value,
    monitor: Monitor,
) -> Option<Option<EarlyStopping>> {
    let settings = match &value.node {
        Node::Bool(false) => return Some(None),
        Node::Bool(true) => KindArgs {
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
        &settings.get("monitor"),
        "train.early_stopping.monitor",
        Monitor::NAMES,
        Monitor::from_name,
    );
    let patience = diags.int(
        &settings.get("patience"),
        "train.early_stopping.patience",
        0,
        1_000_000,
    );
    let min_delta = diags.float(
        &settings.get("min_delta"),
        "train.early_stopping.min_delta",
        Range::NonNegative,
    );
    Some(Some(EarlyStopping {
        monitor: monitor?,
        patience: patience? as usize,
        min_delta: min_delta?,
    }))
}
