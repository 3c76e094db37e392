//! `[readings]`: the meter-readings dialogue by phone, started by the menu key of the
//! `meter_readings` topic. The caller keys the account number, then for each of its
//! meters the reading, hears it read back and confirms it; a reading below the last one
//! or more than `max_monthly` above it is refused and asked again.

use std::time::Duration;

use toml::Table;

use super::reader::{Reader, Zero};
use super::schema::keys_of;

/// `[readings]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadingsConfig {
    /// Whether the menu's `meter_readings` key starts the dialogue (needs `[menu]` on);
    /// off: the key only sets the topic and the caller waits for an operator.
    pub enabled: bool,
    /// The most a meter may advance since its last reading (whole m³): a month of a
    /// large household's water is well under 100 m³, a typing slip (an extra digit) is
    /// far over it.
    pub max_monthly: u32,
    /// How long the caller has to start keying once a question's prompts are over.
    pub first_digit_timeout: Duration,
    /// How long the caller may pause between two digits of one answer.
    pub inter_digit_timeout: Duration,
}

impl Default for ReadingsConfig {
    fn default() -> Self {
        ReadingsConfig {
            enabled: true,
            max_monthly: 100,
            first_digit_timeout: Duration::from_secs(8),
            inter_digit_timeout: Duration::from_secs(4),
        }
    }
}

pub(super) fn readings(r: &mut Reader<'_>, root: &Table) -> ReadingsConfig {
    let known = keys_of("readings").expect("listed in the schema");
    let s = r.section(root, "readings", &known);
    let d = ReadingsConfig::default();
    ReadingsConfig {
        enabled: r.boolean(&s, "enabled", d.enabled),
        max_monthly: r.integer(&s, "max_monthly", d.max_monthly, 1, 1_000_000),
        first_digit_timeout: r.duration(
            &s,
            "first_digit_timeout",
            d.first_digit_timeout,
            Zero::Refused,
        ),
        inter_digit_timeout: r.duration(
            &s,
            "inter_digit_timeout",
            d.inter_digit_timeout,
            Zero::Refused,
        ),
    }
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
    fn defaults_and_values_are_read_and_checked() {
        let d = load("").unwrap().readings;
        assert!(d.enabled);
        assert_eq!(d.max_monthly, 100);
        assert_eq!(d.first_digit_timeout, Duration::from_secs(8));
        assert_eq!(d.inter_digit_timeout, Duration::from_secs(4));
        let c =
            load("[readings]\nenabled = false\nmax_monthly = 40\ninter_digit_timeout = \"2s\"\n")
                .unwrap()
                .readings;
        assert!(!c.enabled);
        assert_eq!(c.max_monthly, 40);
        assert_eq!(c.inter_digit_timeout, Duration::from_secs(2));
        let e = load("[readings]\nmax_monthly = 0\n").unwrap_err();
        assert!(e.contains("readings.max_monthly"), "{e}");
        let e = load("[readings]\nfirst_digit_timeout = \"0s\"\n").unwrap_err();
        assert!(e.contains("readings.first_digit_timeout"), "{e}");
    }
}
