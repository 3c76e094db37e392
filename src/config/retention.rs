//! `[recordings.retention_by_outcome]`: how long recordings of calls with one outcome are
//! kept, overriding `recordings.retention_days` (a table of outcome = days).

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::reader::Reader;
use crate::model::Outcome;

/// The most days a rule may say: a hundred years.
const MAX_DAYS: i64 = 36_500;

pub(super) fn by_outcome(r: &mut Reader<'_>, root: &Table) -> BTreeMap<String, u32> {
    let mut out = BTreeMap::new();
    let Some(value) = root
        .get("recordings")
        .and_then(|s| s.get("retention_by_outcome"))
    else {
        return out;
    };
    let key = "recordings.retention_by_outcome";
    let Value::Table(table) = value else {
        r.invalid(
            key,
            "expected a table of outcome = days, e.g. { answered = 1095 }",
        );
        return out;
    };
    for (outcome, days) in table {
        let item = format!("{key}.{outcome}");
        if Outcome::parse(outcome).is_none() {
            r.invalid(&item, format!("`{outcome}` is not an outcome of a call"));
            continue;
        }
        match days {
            Value::Integer(n) if (0..=MAX_DAYS).contains(n) => {
                out.insert(outcome.clone(), *n as u32);
            }
            _ => r.invalid(
                &item,
                format!("expected a number of days from 0 to {MAX_DAYS}"),
            ),
        }
    }
    out
}
