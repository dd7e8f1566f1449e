//! The lists of `[sweep.grid]` and `[sweep.zip]`: each key a spec field,
//! each value a non-empty array of the values it takes in turn.

use super::keys::{self, Claims, SweptField};
use crate::spec::diagnostics::Collector;
use crate::spec::tree::{Node, Table, Value};

/// One field and its list of values: a grid axis, or one list of the zip.
#[derive(Debug)]
pub struct Axis {
    pub field: SweptField,
    pub values: Vec<Value>,
}

/// The checked lists of one table (`"[sweep.grid]"`), in file order; a list
/// with a problem is recorded and left out.
pub(super) fn read(
    diags: &mut Collector<'_>,
    table: &Table,
    name: &'static str,
    claims: &mut Claims,
) -> Vec<Axis> {
    let mut axes = Vec::new();
    for (dotted, key_span, value) in keys::flatten(table) {
        let Some(field) = keys::field(diags, &dotted, key_span, &[]) else {
            continue;
        };
        if !claims.claim(diags, name, &field) {
            continue;
        }
        let Node::Array(values) = &value.node else {
            diags.error(
                value.span.clone(),
                format!(
                    "sweep axis `{dotted}` must be an array of values, found {}",
                    value.describe()
                ),
                Some(format!("e.g. \"{dotted}\" = [a, b, c]")),
            );
            continue;
        };
        if values.is_empty() {
            diags.error(
                value.span.clone(),
                format!("sweep axis `{dotted}` is empty"),
                Some("give it at least one value, or remove the axis".into()),
            );
            continue;
        }
        axes.push(Axis {
            field,
            values: values.clone(),
        });
    }
    axes
}
