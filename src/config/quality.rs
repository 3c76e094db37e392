//! `[quality]`: the sampling rules that fill the "to grade" list. In the configuration
//! rather than the API because they are the site's policy, changed rarely and reviewed
//! with the rest of it, and the daily run must know them without anyone logged in.

use std::time::Duration;

use toml::Table;

use super::reader::{Reader, Zero};
use super::schema::keys_of;
use crate::model::quality::sampling::SamplingRules;

pub(super) fn quality(r: &mut Reader<'_>, root: &Table) -> SamplingRules {
    let known = keys_of("quality").expect("the schema lists [quality]");
    let s = r.section(root, "quality", &known);
    let longer = r.duration(
        &s,
        "sample_longer_than",
        Duration::from_secs(15 * 60),
        Zero::Allowed,
    );
    let graders = r.list(&s, "graders", Vec::new(), |name| {
        if name.is_empty() || name.len() > 64 {
            Err("expected a console user name".to_owned())
        } else {
            Ok(name.to_owned())
        }
    });
    SamplingRules {
        random_per_week: r.integer(&s, "sample_random_per_week", 5, 0, 1000),
        longer_than_ms: i64::try_from(longer.as_millis()).unwrap_or(i64::MAX),
        first_calls: r.integer(&s, "sample_first_calls", 10, 0, 1000),
        flagged: r.boolean(&s, "sample_flagged", true),
        graders,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::Config;

    #[test]
    fn sampling_rules_have_defaults_and_name_bad_keys() {
        let c = Config::from_toml("", Path::new("test.toml"), &[]).expect("defaults");
        assert_eq!(c.quality.random_per_week, 5);
        assert_eq!(c.quality.longer_than_ms, 15 * 60_000);
        assert_eq!((c.quality.first_calls, c.quality.flagged), (10, true));
        let c = Config::from_toml(
            "[quality]\nsample_longer_than = \"0s\"\ngraders = [\"anna\", \"boris\"]\n",
            Path::new("test.toml"),
            &[],
        )
        .expect("valid");
        assert_eq!(c.quality.longer_than_ms, 0);
        assert_eq!(c.quality.graders, ["anna", "boris"]);
        let e = Config::from_toml(
            "[quality]\nsample_random_per_week = -1\n",
            Path::new("test.toml"),
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("quality.sample_random_per_week"), "{e}");
    }
}
