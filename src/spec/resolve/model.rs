//! `[model]`: the conv stack both architectures share, then the head of the
//! one chosen; the other one's options are refused unless a sweep over
//! `model.arch` is what chose it.

use super::view::RunView;
use crate::spec::diagnostics::Collector;
use crate::spec::types::{Arch, ModelSpec, Padding, RnnKind, RnnSpec};

pub(super) fn resolve(diags: &mut Collector<'_>, view: &RunView<'_>) -> Option<ModelSpec> {
    let field = |key: &str| view.field("model", key);
    let arch = diags.choice(&field("arch"), Arch::NAMES, Arch::from_name);
    let channels = diags.int_list(&field("channels"));
    let kernel = diags.int(&field("kernel"));
    let padding = diags.choice(&field("padding"), Padding::NAMES, Padding::from_name);
    let batch_norm = diags.boolean(&field("batch_norm"));
    let conv_dropout = diags.float(&field("conv_dropout"));
    // The fields above are the same for both architectures and have been
    // checked; the ones below depend on which it is.
    let arch = arch?;

    // Options of the other architecture: an error when written for this
    // one, silently not applied when a sweep over `model.arch` is what
    // gives this run its arch.
    let (foreign, other) = match arch {
        Arch::Cnn => (["rnn", "rnn_hidden"], Arch::CnnRnn),
        Arch::CnnRnn => (["dense", "dense_dropout"], Arch::Cnn),
    };
    if !view.swept_archs.contains(other.as_str()) {
        for key in foreign {
            if let Some(span) = view.key_span("model", key) {
                diags.error(
                    span,
                    format!("`model.{key}` applies only to arch = \"{other}\", but this run's arch is \"{arch}\""),
                    Some(format!("remove `{key}`, or set arch = \"{other}\"")),
                );
            }
        }
    }
    let (dense, dense_dropout, rnn) = match arch {
        Arch::Cnn => {
            let dense = diags.int_list_allow_empty(&field("dense"));
            let dropout = diags.float(&field("dense_dropout"));
            (dense?, dropout?, None)
        }
        Arch::CnnRnn => {
            let kind = diags.choice(&field("rnn"), RnnKind::NAMES, RnnKind::from_name);
            let hidden = diags.int(&field("rnn_hidden"));
            (
                Vec::new(),
                0.0,
                Some(RnnSpec {
                    kind: kind?,
                    hidden: hidden? as usize,
                }),
            )
        }
    };
    Some(ModelSpec {
        arch,
        channels: channels?,
        kernel: kernel? as usize,
        padding: padding?,
        batch_norm: batch_norm?,
        conv_dropout: conv_dropout?,
        dense,
        dense_dropout,
        rnn,
    })
}
