//! The resolved spec as canonical TOML, and the run hash taken over it.
//!
//! Every resolved field is written (`data.augment` only when it is on), in a
//! fixed order, with one spelling per value, so the text — and so the hash — depends only on what the run does:
//! not on key order, comments, or whether a default was written out. The name
//! and tags are left out: renaming a run does not make it a different run.
//! The text parses back as a spec (a checkpoint or the store can rebuild the
//! run from it).

use super::tree::{toml_float, toml_string};
use super::types::*;

/// Bumped whenever the canonical text changes shape, which changes every hash.
pub const HASH_SCHEME: u32 = 1;

impl Spec {
    /// The resolved spec as TOML, without `[experiment]`: what the hash is over.
    pub fn resolved_toml(&self) -> String {
        resolved_toml(self)
    }

    /// The run's identity: blake3 of [`Spec::resolved_toml`], 64 hex digits.
    pub fn hash(&self) -> String {
        blake3::hash(self.resolved_toml().as_bytes())
            .to_hex()
            .to_string()
    }

    /// The first 12 hex digits of the hash, for tables and logs.
    pub fn short_hash(&self) -> String {
        self.hash()[..12].to_string()
    }
}

fn resolved_toml(spec: &Spec) -> String {
    let mut out = format!("# posterlab resolved spec, hash scheme {HASH_SCHEME}\n");
    let mut line = |key: &str, value: String| {
        out.push_str(key);
        out.push_str(" = ");
        out.push_str(&value);
        out.push('\n');
    };

    let d = &spec.data;
    line("[data]\ndataset", toml_string(&d.dataset.to_string()));
    line("format", toml_string(d.format.as_str()));
    line(
        "images",
        toml_string(
            &d.images
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    );
    line("resolution", d.resolution.to_string());
    line("fit", toml_string(d.fit.as_str()));
    line("test_fraction", toml_float(d.test_fraction));
    line("val_fraction", toml_float(d.val_fraction));
    line("split_seed", d.split_seed.to_string());
    line("bad_images", toml_string(d.bad_images.as_str()));
    // Written only when on: a spec without augmentation keeps the text, and
    // so the hash, it had before the field existed.
    if let Some(a) = &d.augment {
        line("augment", augment(a));
    }

    let m = &spec.model;
    line("\n[model]\narch", toml_string(m.arch.as_str()));
    line("channels", int_list(&m.channels));
    line("kernel", m.kernel.to_string());
    line("padding", toml_string(m.padding.as_str()));
    line("batch_norm", m.batch_norm.to_string());
    line("conv_dropout", toml_float(m.conv_dropout));
    match m.rnn {
        None => {
            line("dense", int_list(&m.dense));
            line("dense_dropout", toml_float(m.dense_dropout));
        }
        Some(rnn) => {
            line("rnn", toml_string(rnn.kind.as_str()));
            line("rnn_hidden", rnn.hidden.to_string());
        }
    }

    let t = &spec.train;
    line("\n[train]\nloss", loss(t.loss));
    line("optimizer", optimizer(t.optimizer));
    line("lr", toml_float(t.lr));
    line("weight_decay", toml_float(t.weight_decay));
    line("grad_clip", toml_float(t.grad_clip.unwrap_or(0.0)));
    line("batch_size", t.batch_size.to_string());
    line("epochs", t.epochs.to_string());
    line("seed", t.seed.to_string());
    line("device", toml_string(&t.device.to_string()));
    line("schedule", schedule(t.schedule));
    line("early_stopping", early_stopping(t.early_stopping));
    line("monitor", toml_string(t.monitor.as_str()));
    line("threshold", toml_float(t.threshold));
    // Written only when it is not the loss's own rule, so that every spec
    // from before `train.decision` keeps its hash (and its finished runs).
    if t.decision != Rule::default_for(t.loss) {
        line("decision", decision(t.decision));
    }
    out
}

fn augment(a: &Augment) -> String {
    format!(
        "{{ flip = {}, crop = [{}, {}], brightness = {}, contrast = {} }}",
        a.flip,
        toml_float(a.crop.0),
        toml_float(a.crop.1),
        toml_float(a.brightness),
        toml_float(a.contrast)
    )
}

fn int_list(items: &[usize]) -> String {
    let items: Vec<String> = items.iter().map(usize::to_string).collect();
    format!("[{}]", items.join(", "))
}

fn kind_table(kind: &str, settings: &[(&str, String)]) -> String {
    let mut parts = vec![format!("kind = {}", toml_string(kind))];
    parts.extend(settings.iter().map(|(k, v)| format!("{k} = {v}")));
    format!("{{ {} }}", parts.join(", "))
}

fn loss(loss: Loss) -> String {
    match loss {
        Loss::Bce => kind_table("bce", &[]),
        Loss::WeightedBce => kind_table("weighted_bce", &[]),
        Loss::CategoricalCe => kind_table("categorical_ce", &[]),
        Loss::Focal { gamma, alpha } => kind_table(
            "focal",
            &[("gamma", toml_float(gamma)), ("alpha", toml_float(alpha))],
        ),
    }
}

fn optimizer(opt: Optimizer) -> String {
    let adam = |kind, beta1, beta2, eps| {
        kind_table(
            kind,
            &[
                ("beta1", toml_float(beta1)),
                ("beta2", toml_float(beta2)),
                ("eps", toml_float(eps)),
            ],
        )
    };
    match opt {
        Optimizer::Adam { beta1, beta2, eps } => adam("adam", beta1, beta2, eps),
        Optimizer::AdamW { beta1, beta2, eps } => adam("adamw", beta1, beta2, eps),
        Optimizer::Sgd { momentum, nesterov } => kind_table(
            "sgd",
            &[
                ("momentum", toml_float(momentum)),
                ("nesterov", nesterov.to_string()),
            ],
        ),
    }
}

fn schedule(s: Schedule) -> String {
    match s {
        Schedule::Constant => kind_table("constant", &[]),
        Schedule::Step { step_size, gamma } => kind_table(
            "step",
            &[
                ("step_size", step_size.to_string()),
                ("gamma", toml_float(gamma)),
            ],
        ),
        Schedule::Cosine { min_lr } => kind_table("cosine", &[("min_lr", toml_float(min_lr))]),
        Schedule::Plateau {
            factor,
            patience,
            min_lr,
            monitor,
        } => kind_table(
            "plateau",
            &[
                ("factor", toml_float(factor)),
                ("patience", patience.to_string()),
                ("min_lr", toml_float(min_lr)),
                ("monitor", toml_string(monitor.as_str())),
            ],
        ),
    }
}

fn decision(rule: Rule) -> String {
    match rule {
        Rule::TopK(k) => kind_table("top_k", &[("k", k.to_string())]),
        other => toml_string(&other.name()),
    }
}

fn early_stopping(e: Option<EarlyStopping>) -> String {
    match e {
        None => "false".to_string(),
        Some(EarlyStopping {
            monitor,
            patience,
            min_delta,
        }) => format!(
            "{{ monitor = {}, patience = {patience}, min_delta = {} }}",
            toml_string(monitor.as_str()),
            toml_float(min_delta)
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::spec::resolve::load_str;

    #[test]
    fn resolved_text_reads_back_as_the_same_run() {
        let text = r#"
            [model]
            arch = "cnn_rnn"
            rnn = "lstm"
            [train]
            loss = { kind = "focal", gamma = 1.5 }
            optimizer = { kind = "sgd", nesterov = true }
            schedule = "plateau"
            early_stopping = true
            grad_clip = 1.0
        "#;
        let spec = &load_str(Path::new("a.toml"), text).unwrap()[0];
        let again = &load_str(Path::new("b.toml"), &spec.resolved_toml()).unwrap()[0];
        assert_eq!(spec.resolved_toml(), again.resolved_toml());
        assert_eq!(spec.data, again.data);
        assert_eq!(spec.model, again.model);
        assert_eq!(spec.train, again.train);
    }
}
