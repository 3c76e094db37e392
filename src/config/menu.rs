//! `[menu]`: the topic menu callers hear in hours, after the recording notice. One key
//! chooses a topic (the operators see it when they are rung); 0 goes to an operator at
//! once; silence or a wrong key to every question goes to the queue without a topic.

use std::time::Duration;

use toml::{Table, Value};

use super::reader::{Reader, Zero};
use super::schema::keys_of;
use crate::model::topic::{is_topic, TOPICS};

/// `[menu]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MenuConfig {
    /// Whether callers in hours hear the menu; off: straight to the queue.
    pub enabled: bool,
    /// Key → topic, in key order. Keys are 1–9: 0 is always the operator, `*` starts
    /// over and `#` ends an answer.
    pub options: Vec<(char, String)>,
    /// How long the caller has to press a key once the menu prompt is over.
    pub first_digit_timeout: Duration,
    /// Questions asked (the menu again after silence or a wrong key) before the caller
    /// goes to the queue without a topic.
    pub attempts: u32,
    /// How long a caller with a topic waits for an operator with that skill before any
    /// operator may take them; zero: skills are not used for routing.
    pub skill_wait: Duration,
}

impl Default for MenuConfig {
    fn default() -> Self {
        MenuConfig {
            enabled: true,
            options: [
                ('1', "meter_readings"),
                ('2', "billing"),
                ('3', "contract"),
                ('4', "connection"),
                ('5', "debt"),
            ]
            .iter()
            .map(|(k, t)| (*k, (*t).to_owned()))
            .collect(),
            first_digit_timeout: Duration::from_secs(5),
            attempts: 2,
            skill_wait: Duration::from_secs(60),
        }
    }
}

pub(super) fn menu(r: &mut Reader<'_>, root: &Table) -> MenuConfig {
    let known = keys_of("menu").expect("listed in the schema");
    let s = r.section(root, "menu", &known);
    let d = MenuConfig::default();
    let options = match s.table.and_then(|t| t.get("options")) {
        Some(value) => options(r, &s.key("options"), value).unwrap_or(d.options),
        None => d.options,
    };
    MenuConfig {
        enabled: r.boolean(&s, "enabled", d.enabled),
        options,
        first_digit_timeout: r.duration(
            &s,
            "first_digit_timeout",
            d.first_digit_timeout,
            Zero::Refused,
        ),
        attempts: r.integer(&s, "attempts", d.attempts, 1, 5),
        skill_wait: r.duration(&s, "skill_wait", d.skill_wait, Zero::Allowed),
    }
}

/// `options = { 1 = "meter_readings", 2 = "billing" }`; `None` (recorded) if it is not a
/// table of keys 1–9 to known topics.
fn options(r: &mut Reader<'_>, key: &str, value: &Value) -> Option<Vec<(char, String)>> {
    let Value::Table(table) = value else {
        r.invalid(
            key,
            "expected a table of key = topic, e.g. { 1 = \"meter_readings\", 2 = \"billing\" }",
        );
        return None;
    };
    let mut out = Vec::with_capacity(table.len());
    let mut ok = true;
    for (k, topic) in table {
        let item = format!("{key}.{k}");
        let digit = match k.as_bytes() {
            [d @ b'1'..=b'9'] => char::from(*d),
            _ => {
                r.invalid(
                    &item,
                    format!("`{k}` is not a menu key (1-9; 0 is always the operator)"),
                );
                ok = false;
                continue;
            }
        };
        match topic {
            Value::String(t) if is_topic(t) => out.push((digit, t.clone())),
            _ => {
                let names: Vec<&str> = TOPICS.iter().map(|(n, _)| *n).collect();
                r.invalid(
                    &item,
                    format!("expected a topic name ({})", names.join(", ")),
                );
                ok = false;
            }
        }
    }
    out.sort();
    ok.then_some(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    use crate::config::Config;

    fn load(text: &str) -> Result<Config, String> {
        Config::from_toml(text, Path::new("t.toml"), &[]).map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_five_topics_and_two_attempts() {
        let menu = load("").unwrap().menu;
        assert!(menu.enabled);
        let keys: Vec<(char, &str)> = menu.options.iter().map(|(k, t)| (*k, t.as_str())).collect();
        assert_eq!(
            keys,
            [
                ('1', "meter_readings"),
                ('2', "billing"),
                ('3', "contract"),
                ('4', "connection"),
                ('5', "debt")
            ]
        );
        assert_eq!(menu.attempts, 2);
        assert_eq!(menu.first_digit_timeout, Duration::from_secs(5));
    }

    #[test]
    fn options_are_read_and_checked() {
        let menu = load("[menu]\noptions = { 7 = \"billing\", 3 = \"debt\" }\n")
            .unwrap()
            .menu;
        assert_eq!(
            menu.options,
            [('3', "debt".to_owned()), ('7', "billing".to_owned())]
        );
        let e = load("[menu]\noptions = { 0 = \"billing\" }\n").unwrap_err();
        assert!(
            e.contains("menu.options.0") && e.contains("not a menu key"),
            "{e}"
        );
        let e = load("[menu]\noptions = { 2 = \"weather\" }\n").unwrap_err();
        assert!(
            e.contains("menu.options.2") && e.contains("topic name"),
            "{e}"
        );
        let e = load("[menu]\nattempts = 0\n").unwrap_err();
        assert!(e.contains("menu.attempts"), "{e}");
    }
}
