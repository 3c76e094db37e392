//! Reading typed values out of the TOML tree while collecting every error.
//!
//! Each getter returns a usable value even when the input is bad (the default), after
//! recording why, so that building goes on and reports all problems in one pass; the
//! caller returns the errors, never the half-built configuration. Errors about a key set
//! by an environment override name the variable instead of the file.

use std::path::Path;
use std::time::Duration;

use toml::{Table, Value};

use super::error::{closest, ConfigError};
use super::schema::{override_for, Override};
use super::values::parse_duration;

/// A table in the tree and its dotted path (`sip`, `operators[1]`).
pub(super) struct Section<'t> {
    pub path: String,
    pub table: Option<&'t Table>,
}

impl<'t> Section<'t> {
    fn get(&self, key: &str) -> Option<&'t Value> {
        self.table.and_then(|t| t.get(key))
    }

    pub fn key(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Whether `key` is written as `[]` (as opposed to absent, or with bad elements).
    pub fn is_empty_array(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Value::Array(items)) if items.is_empty())
    }
}

/// Collects errors while values are read.
pub(super) struct Reader<'a> {
    file: &'a Path,
    overrides: &'a [Override],
    pub errors: Vec<ConfigError>,
}

/// Whether zero is a meaningful duration for a key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Zero {
    Allowed,
    Refused,
}

impl<'a> Reader<'a> {
    pub fn new(file: &'a Path, overrides: &'a [Override], errors: Vec<ConfigError>) -> Self {
        Reader {
            file,
            overrides,
            errors,
        }
    }

    /// Records that the value at `key` is unusable.
    pub fn invalid(&mut self, key: &str, reason: impl Into<String>) {
        let reason = reason.into();
        let error = match override_for(self.overrides, key) {
            Some(o) => ConfigError::Env {
                variable: o.variable.clone(),
                reason: format!("{key}: {reason}"),
            },
            None => ConfigError::Invalid {
                file: self.file.to_path_buf(),
                key: key.to_owned(),
                reason,
            },
        };
        self.errors.push(error);
    }

    /// Records an unknown key, suggesting a close known one.
    pub fn unknown(&mut self, key: String, name: &str, known: &[&str]) {
        let hint = closest(name, known).map(str::to_owned);
        self.errors.push(ConfigError::Unknown {
            file: self.file.to_path_buf(),
            key,
            hint,
        });
    }

    /// A section of the root; reports it if it is not a table, and any unknown keys.
    pub fn section<'t>(&mut self, root: &'t Table, name: &str, known: &[&str]) -> Section<'t> {
        let value = root.get(name);
        self.table_section(value, name.to_owned(), known)
    }

    /// A table at `path` (a section or an array element), checked for unknown keys.
    pub fn table_section<'t>(
        &mut self,
        value: Option<&'t Value>,
        path: String,
        known: &[&str],
    ) -> Section<'t> {
        let table = match value {
            None => None,
            Some(Value::Table(table)) => Some(table),
            Some(other) => {
                self.invalid(
                    &path,
                    format!("expected a table, found {}", describe(other)),
                );
                None
            }
        };
        for name in table.into_iter().flat_map(|t| t.keys()) {
            if !known.contains(&name.as_str()) {
                self.unknown(format!("{path}.{name}"), name, known);
            }
        }
        Section { path, table }
    }

    /// A string value (a TOML date or time is taken as its text). `None` if absent or of
    /// the wrong type (recorded).
    pub fn text(&mut self, section: &Section<'_>, key: &str) -> Option<String> {
        let value = section.get(key)?;
        self.text_of(value, &section.key(key))
    }

    fn text_of(&mut self, value: &Value, key: &str) -> Option<String> {
        match value {
            Value::String(s) => Some(s.clone()),
            Value::Datetime(d) => Some(d.to_string()),
            other => {
                self.invalid(key, format!("expected a string, found {}", describe(other)));
                None
            }
        }
    }

    /// A string value turned into `T` by `parse`, or `default` if absent or bad.
    pub fn parsed<T>(
        &mut self,
        section: &Section<'_>,
        key: &str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        let Some(text) = self.text(section, key) else {
            return default;
        };
        match parse(&text) {
            Ok(value) => value,
            Err(reason) => {
                self.invalid(&section.key(key), reason);
                default
            }
        }
    }

    /// A duration such as "15s"; bare numbers are refused with a hint to add a unit.
    pub fn duration(
        &mut self,
        section: &Section<'_>,
        key: &str,
        default: Duration,
        zero: Zero,
    ) -> Duration {
        if let Some(Value::Integer(n)) = section.get(key) {
            let reason = format!("{n} has no unit (write e.g. \"{n}s\"; units: ms, s, m, h)");
            self.invalid(&section.key(key), reason);
            return default;
        }
        let parse = |text: &str| {
            let d = parse_duration(text)?;
            if zero == Zero::Refused && d.is_zero() {
                return Err(format!("{text:?} is zero; it must be longer"));
            }
            Ok(d)
        };
        self.parsed(section, key, default, parse)
    }

    /// An array of strings, each turned into `T` by `parse`; errors name the element
    /// (`hours.days[2]`). Bad elements are dropped; a bad array yields `default`.
    pub fn list<T>(
        &mut self,
        section: &Section<'_>,
        key: &str,
        default: Vec<T>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Vec<T> {
        let Some(value) = section.get(key) else {
            return default;
        };
        let path = section.key(key);
        let Value::Array(items) = value else {
            self.invalid(
                &path,
                format!("expected an array of strings, found {}", describe(value)),
            );
            return default;
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let item_key = format!("{path}[{i}]");
            let Some(text) = self.text_of(item, &item_key) else {
                continue;
            };
            match parse(&text) {
                Ok(v) => out.push(v),
                Err(reason) => self.invalid(&item_key, reason),
            }
        }
        out
    }

    /// An integer within `min..=max`.
    pub fn integer(
        &mut self,
        section: &Section<'_>,
        key: &str,
        default: u32,
        min: u32,
        max: u32,
    ) -> u32 {
        let Some(value) = section.get(key) else {
            return default;
        };
        let path = section.key(key);
        match value {
            Value::Integer(n) => match u32::try_from(*n) {
                Ok(n) if (min..=max).contains(&n) => n,
                _ => {
                    self.invalid(&path, format!("{n} is out of range ({min}-{max})"));
                    default
                }
            },
            other => {
                self.invalid(
                    &path,
                    format!("expected an integer, found {}", describe(other)),
                );
                default
            }
        }
    }

    /// `true` or `false`.
    pub fn boolean(&mut self, section: &Section<'_>, key: &str, default: bool) -> bool {
        match section.get(key) {
            None => default,
            Some(Value::Boolean(b)) => *b,
            Some(other) => {
                let reason = format!("expected true or false, found {}", describe(other));
                self.invalid(&section.key(key), reason);
                default
            }
        }
    }
}

/// The kind of a value for messages. The value itself is never shown: it may be a secret
/// put in the wrong place.
pub(super) fn describe(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date/time",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}
