//! The set of known sections and keys, and environment overrides.
//!
//! Overrides follow the contract `HOTLINE_<SECTION>__<KEY>=value` (e.g.
//! `HOTLINE_SIP__LISTEN=127.0.0.1:5070`); `HOTLINE_OPERATORS` replaces the operator list
//! with a TOML array of inline tables. A value is read as TOML when it is one (number,
//! boolean, array, quoted string), otherwise as a plain string. Keys whose value is text
//! (addresses, durations, times) always take the plain text unless it is quoted, so that
//! `HOTLINE_HOURS__OPEN=08:00` is not read as a TOML local time. Overrides are applied to
//! the TOML tree before validation, so their values are checked like the file's.
//!
//! Invariant: [`SECTIONS`] lists exactly the keys the builder reads; a test checks it
//! against the documented default file, which sets every key.

use std::str::FromStr;

use toml::{Table, Value};

use super::error::{closest, ConfigError};

/// How an override's text becomes a TOML value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// The value is text (an address, a duration, a name): taken as written unless quoted.
    Text,
    /// The value is a number, boolean or array: read as TOML.
    Toml,
}

use Kind::{Text, Toml};

/// Every section with its keys. `operators` is an array of tables, listed separately.
pub(super) const SECTIONS: &[(&str, &[(&str, Kind)])] = &[
    (
        "sip",
        &[
            ("listen", Text),
            ("public_address", Text),
            ("realm", Text),
            ("digest_algorithms", Toml),
            ("user_agent", Text),
            ("t1", Text),
            ("t2", Text),
            ("t4", Text),
            ("tcp_max_per_address", Toml),
            ("tcp_idle_timeout", Text),
            ("auth_slow_after", Toml),
            ("auth_lock_after", Toml),
            ("auth_source_lock_after", Toml),
            ("auth_source_accounts", Toml),
            ("auth_failure_window", Text),
            ("auth_lockout", Text),
            ("auth_max_lockout", Text),
            ("tls_listen", Text),
            ("tls_cert", Text),
            ("tls_key", Text),
            ("srtp", Text),
        ],
    ),
    ("trunk", &[("numbers", Toml), ("allow", Toml)]),
    (
        "media",
        &[
            ("rtp_ports", Text),
            ("codecs", Toml),
            ("rtp_timeout", Text),
            ("io", Text),
        ],
    ),
    (
        "hours",
        &[
            ("timezone", Text),
            ("days", Toml),
            ("open", Text),
            ("close", Text),
            ("holidays", Toml),
            ("working_days", Toml),
        ],
    ),
    (
        "queue",
        &[
            ("ring_timeout", Text),
            ("max_wait", Text),
            ("wrap_up", Text),
            ("announce_every", Text),
            ("max_no_answer", Toml),
        ],
    ),
    (
        "prompts",
        &[
            ("dir", Text),
            ("after_hours", Text),
            ("greeting", Text),
            ("recording_notice", Text),
        ],
    ),
    (
        "recordings",
        &[
            ("dir", Text),
            ("retention_days", Toml),
            ("retention_by_outcome", Toml),
        ],
    ),
    (
        "database",
        &[
            ("url", Text),
            ("max_connections", Toml),
            ("sqlite_cache_kib", Toml),
            ("spool", Text),
        ],
    ),
    (
        "http",
        &[
            ("listen", Text),
            ("metrics_token", Text),
            ("public_origin", Text),
            ("trusted_proxies", Toml),
            ("login_slow_after", Toml),
            ("login_lock_after", Toml),
            ("login_source_lock_after", Toml),
            ("login_source_accounts", Toml),
            ("login_failure_window", Text),
            ("login_lockout", Text),
            ("login_max_lockout", Text),
        ],
    ),
    (
        "limits",
        &[
            ("max_calls", Toml),
            ("max_waiting", Toml),
            ("retry_after", Text),
            ("invite_rate", Toml),
            ("invite_burst", Toml),
            ("trunk_invite_rate", Toml),
            ("trunk_invite_burst", Toml),
            ("register_rate", Toml),
            ("register_burst", Toml),
            ("options_rate", Toml),
            ("options_burst", Toml),
        ],
    ),
    (
        "menu",
        &[
            ("enabled", Toml),
            ("options", Toml),
            ("first_digit_timeout", Text),
            ("attempts", Toml),
            ("skill_wait", Text),
        ],
    ),
    (
        "readings",
        &[
            ("enabled", Toml),
            ("max_monthly", Toml),
            ("first_digit_timeout", Text),
            ("inter_digit_timeout", Text),
        ],
    ),
    ("worklist", &[("max_attempts", Toml)]),
    ("shutdown", &[("grace", Text)]),
    (
        "log",
        &[("format", Text), ("level", Text), ("show_numbers", Toml)],
    ),
    (
        "quality",
        &[
            ("analyse", Toml),
            ("vad_threshold", Text),
            ("vad_hangover", Text),
            ("dead_air_flag", Text),
            ("overtalk_flag", Text),
            ("operator_silent_flag", Toml),
            ("sample_random_per_week", Toml),
            ("sample_longer_than", Text),
            ("sample_first_calls", Toml),
            ("sample_flagged", Toml),
            ("graders", Toml),
        ],
    ),
];

/// The name of the array-of-tables section.
pub(super) const OPERATORS: &str = "operators";

/// Keys of one `[[operators]]` entry.
pub(super) const OPERATOR_KEYS: &[&str] = &["id", "name", "password", "ha1", "skills"];

/// Prefix of every override variable.
const PREFIX: &str = "HOTLINE_";

/// Variables with our prefix that are not configuration keys (the command line's own).
const NOT_OVERRIDES: &[&str] = &["HOTLINE_CONFIG"];

/// Names of all top-level sections, for hints and messages.
pub(super) fn section_names() -> Vec<&'static str> {
    SECTIONS
        .iter()
        .map(|(name, _)| *name)
        .chain([OPERATORS])
        .collect()
}

/// The key names of a section, or `None` for an unknown section.
pub(super) fn keys_of(section: &str) -> Option<Vec<&'static str>> {
    SECTIONS
        .iter()
        .find(|(name, _)| *name == section)
        .map(|(_, keys)| keys.iter().map(|(k, _)| *k).collect())
}

fn kind_of(section: &str, key: &str) -> Option<Kind> {
    let (_, keys) = SECTIONS.iter().find(|(name, _)| *name == section)?;
    keys.iter().find(|(k, _)| *k == key).map(|(_, kind)| *kind)
}

/// One applied override: which key it set and from which variable, so that a bad value
/// is reported against the variable rather than the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Override {
    /// Dotted key path, e.g. `sip.listen`, or `operators`.
    pub key: String,
    /// The variable's name.
    pub variable: String,
}

/// Applies `HOTLINE_*` overrides to the tree; variables without the prefix are ignored.
pub(super) fn apply_env(
    root: &mut Table,
    env: &[(String, String)],
    errors: &mut Vec<ConfigError>,
) -> Vec<Override> {
    let mut applied = Vec::new();
    // The variable `[trunk.provider] password_env` names holds a secret, not a key.
    let secret_variable = root
        .get("trunk")
        .and_then(|t| t.get("provider"))
        .and_then(|p| p.get("password_env"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    for (variable, text) in env {
        let Some(rest) = variable.strip_prefix(PREFIX) else {
            continue;
        };
        if NOT_OVERRIDES.contains(&variable.as_str())
            || secret_variable.as_deref() == Some(variable.as_str())
        {
            continue;
        }
        let env_error = |reason: String| ConfigError::Env {
            variable: variable.clone(),
            reason,
        };
        if rest.eq_ignore_ascii_case(OPERATORS) {
            match Value::from_str(text) {
                Ok(value @ Value::Array(_)) => {
                    root.insert(OPERATORS.to_owned(), value);
                    applied.push(Override {
                        key: OPERATORS.into(),
                        variable: variable.clone(),
                    });
                }
                _ => errors.push(env_error(
                    "expected a TOML array of tables, e.g. [{ id = \"101\", password = \"…\" }]"
                        .into(),
                )),
            }
            continue;
        }
        let Some((section, key)) = rest.split_once("__") else {
            let reason = "expected HOTLINE_<SECTION>__<KEY>, e.g. HOTLINE_SIP__LISTEN";
            errors.push(env_error(reason.into()));
            continue;
        };
        let (section, key) = (section.to_ascii_lowercase(), key.to_ascii_lowercase());
        let Some(known) = keys_of(&section) else {
            let sections = section_names().join(", ");
            let reason = format!("`{section}` is not a configuration section ({sections})");
            errors.push(env_error(reason));
            continue;
        };
        let Some(kind) = kind_of(&section, &key) else {
            let hint = closest(&key, &known)
                .map(|k| format!(" (did you mean HOTLINE_{}__{}?)", upper(&section), upper(k)))
                .unwrap_or_default();
            errors.push(env_error(format!(
                "`{section}.{key}` is not a configuration key{hint}"
            )));
            continue;
        };
        let entry = root
            .entry(section.clone())
            .or_insert_with(|| Value::Table(Table::new()));
        // A section that is not a table is reported by the builder; nothing to set here.
        if let Value::Table(table) = entry {
            table.insert(key.clone(), override_value(kind, text));
            applied.push(Override {
                key: format!("{section}.{key}"),
                variable: variable.clone(),
            });
        }
    }
    applied
}

fn upper(s: &str) -> String {
    s.to_ascii_uppercase()
}

fn override_value(kind: Kind, text: &str) -> Value {
    let parsed = Value::from_str(text).ok();
    match (kind, parsed) {
        (Text, Some(value @ Value::String(_))) => value,
        (Text, _) => Value::String(text.to_owned()),
        // A bare date or time reads as a TOML datetime; our keys want its text.
        (Toml, Some(Value::Datetime(_))) | (Toml, None) => Value::String(text.to_owned()),
        (Toml, Some(value)) => value,
    }
}

/// The override (if any) that set `key` or a parent of it (`hours.days` for
/// `hours.days[1]`). The last one wins, as it was applied last.
pub(super) fn override_for<'a>(overrides: &'a [Override], key: &str) -> Option<&'a Override> {
    overrides.iter().rev().find(|o| {
        key == o.key
            || key
                .strip_prefix(o.key.as_str())
                .is_some_and(|rest| rest.starts_with('.') || rest.starts_with('['))
    })
}
