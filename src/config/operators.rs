//! `[[operators]]`: the operators' accounts (id, display name, password or HA1) and the
//! topics they are offered first (`skills`).

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::build::header_text;
use super::reader::Reader;
use super::schema::{OPERATORS, OPERATOR_KEYS};
use super::{OperatorConfig, OperatorSecret};
use crate::model::topic::{is_topic, TOPICS};

fn operator_id(text: &str) -> Result<String, String> {
    let ok = (1..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric());
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "{text:?} is not a valid operator id (1-32 letters or digits)"
        ))
    }
}

pub(super) fn operators(r: &mut Reader<'_>, root: &Table) -> Vec<OperatorConfig> {
    let items = match root.get(OPERATORS) {
        None => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(_) => {
            r.invalid(
                OPERATORS,
                "expected an array of tables ([[operators]] entries)",
            );
            return Vec::new();
        }
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let s = r.table_section(Some(item), format!("{OPERATORS}[{i}]"), OPERATOR_KEYS);
        if s.table.is_none() {
            continue;
        }
        let id = if s.has("id") {
            r.parsed(&s, "id", None, |t| operator_id(t).map(Some))
        } else {
            r.invalid(&s.key("id"), "every operator needs an id");
            None
        };
        if let Some(id) = &id {
            if let Some(first) = seen.get(id) {
                r.invalid(
                    &s.key("id"),
                    format!("{id:?} is already the id of operators[{first}]"),
                );
            } else {
                seen.insert(id.clone(), i);
            }
        }
        let id = id.unwrap_or_default();
        let name = r.parsed(&s, "name", format!("Operator {id}"), header_text(false));
        let password = r.parsed(&s, "password", None, |text| {
            if text.is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(Some(OperatorSecret::Password(text.to_owned())))
            }
        });
        let ha1 = r.parsed(&s, "ha1", None, |text| {
            let hex = text.len() == 32 || text.len() == 64;
            if hex && text.bytes().all(|b| b.is_ascii_hexdigit()) {
                Ok(Some(OperatorSecret::Ha1(text.to_ascii_lowercase())))
            } else {
                let n = text.chars().count();
                Err(format!(
                    "expected 32 (MD5) or 64 (SHA-256) hex digits, found {n} characters"
                ))
            }
        });
        let secret = match (s.has("password"), s.has("ha1"), password.or(ha1)) {
            (true, true, _) => {
                r.invalid(&s.path, "set either password or ha1, not both");
                None
            }
            (false, false, _) => {
                r.invalid(&s.path, "needs a password or an ha1");
                None
            }
            (_, _, secret) => secret,
        };
        let skills = r.list(&s, "skills", Vec::new(), |topic| {
            if is_topic(topic) {
                Ok(topic.to_owned())
            } else {
                let known: Vec<&str> = TOPICS.iter().map(|(name, _)| *name).collect();
                Err(format!(
                    "unknown topic {topic:?}; expected one of {}",
                    known.join(", ")
                ))
            }
        });
        if let Some(secret) = secret {
            out.push(OperatorConfig {
                id,
                name,
                secret,
                skills,
            });
        }
    }
    out
}

#[cfg(test)]
#[path = "operators_tests.rs"]
mod tests;
