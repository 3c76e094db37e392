//! `[quality]`: the automatic audio analysis of every finished recording, the thresholds
//! that flag a call for a QA person's ear, and the sampling rules that fill the "to grade"
//! list. In the configuration rather than the API because they are the site's policy,
//! changed rarely and reviewed with the rest of it, and the daily run must know them
//! without anyone logged in.

use std::time::Duration;

use toml::Table;

use super::reader::{Reader, Zero};
use super::schema::keys_of;
use crate::model::quality::sampling::SamplingRules;

/// `[quality]`.
#[derive(Clone, Debug, PartialEq)]
pub struct QualityConfig {
    /// Analyse each recording once it is finished.
    pub analyse: bool,
    /// A 20 ms frame at or above this RMS level (dBFS) is speech.
    pub vad_threshold_dbfs: i32,
    /// Speech goes on this long after the last loud frame.
    pub vad_hangover: Duration,
    /// Flag `long_dead_air` when one stretch of dead air is at least this long; zero: off.
    pub dead_air_flag: Duration,
    /// Flag `heavy_overtalk` when overtalk adds up to at least this much; zero: off.
    pub overtalk_flag: Duration,
    /// Flag `operator_silent` when the operator never spoke.
    pub operator_silent_flag: bool,
    /// Which calls go on the "to grade" list (`sample_*`, `graders`).
    pub sampling: SamplingRules,
}

impl Default for QualityConfig {
    fn default() -> Self {
        QualityConfig {
            analyse: true,
            vad_threshold_dbfs: -45,
            vad_hangover: Duration::from_millis(300),
            dead_air_flag: Duration::from_secs(10),
            overtalk_flag: Duration::from_secs(5),
            operator_silent_flag: true,
            sampling: SamplingRules {
                random_per_week: 5,
                longer_than_ms: 15 * 60_000,
                first_calls: 10,
                flagged: true,
                graders: Vec::new(),
            },
        }
    }
}

pub(super) fn quality(r: &mut Reader<'_>, root: &Table) -> QualityConfig {
    let known = keys_of("quality").expect("listed in the schema");
    let s = r.section(root, "quality", &known);
    let d = QualityConfig::default();
    let longer = r.duration(
        &s,
        "sample_longer_than",
        Duration::from_millis(d.sampling.longer_than_ms.unsigned_abs()),
        Zero::Allowed,
    );
    let graders = r.list(&s, "graders", Vec::new(), |name| {
        if name.is_empty() || name.len() > 64 {
            Err("expected a console user name".to_owned())
        } else {
            Ok(name.to_owned())
        }
    });
    let sampling = SamplingRules {
        random_per_week: r.integer(
            &s,
            "sample_random_per_week",
            d.sampling.random_per_week,
            0,
            1000,
        ),
        longer_than_ms: i64::try_from(longer.as_millis()).unwrap_or(i64::MAX),
        first_calls: r.integer(&s, "sample_first_calls", d.sampling.first_calls, 0, 1000),
        flagged: r.boolean(&s, "sample_flagged", d.sampling.flagged),
        graders,
    };
    QualityConfig {
        analyse: r.boolean(&s, "analyse", d.analyse),
        vad_threshold_dbfs: r.parsed(&s, "vad_threshold", d.vad_threshold_dbfs, dbfs),
        vad_hangover: r.duration(&s, "vad_hangover", d.vad_hangover, Zero::Allowed),
        dead_air_flag: r.duration(&s, "dead_air_flag", d.dead_air_flag, Zero::Allowed),
        overtalk_flag: r.duration(&s, "overtalk_flag", d.overtalk_flag, Zero::Allowed),
        operator_silent_flag: r.boolean(&s, "operator_silent_flag", d.operator_silent_flag),
        sampling,
    }
}

/// A level such as "-45 dBFS": a whole number of decibels below full scale, -90 to -10.
fn dbfs(text: &str) -> Result<i32, String> {
    let number = text.trim().trim_end_matches("dBFS").trim();
    match number.parse::<i32>() {
        Ok(n) if (-90..=-10).contains(&n) => Ok(n),
        _ => Err(format!(
            "{text:?} is not a level from \"-90 dBFS\" to \"-10 dBFS\""
        )),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::dbfs;
    use crate::config::Config;

    #[test]
    fn levels_are_read_with_or_without_the_unit() {
        assert_eq!(dbfs("-45 dBFS"), Ok(-45));
        assert_eq!(dbfs("-30"), Ok(-30));
        assert!(dbfs("-5 dBFS").is_err());
        assert!(dbfs("loud").is_err());
    }

    #[test]
    fn sampling_rules_have_defaults_and_name_bad_keys() {
        let c = Config::from_toml("", Path::new("test.toml"), &[]).expect("defaults");
        let s = &c.quality.sampling;
        assert_eq!(s.random_per_week, 5);
        assert_eq!(s.longer_than_ms, 15 * 60_000);
        assert_eq!((s.first_calls, s.flagged), (10, true));
        let c = Config::from_toml(
            "[quality]\nsample_longer_than = \"0s\"\ngraders = [\"anna\", \"boris\"]\n",
            Path::new("test.toml"),
            &[],
        )
        .expect("valid");
        assert_eq!(c.quality.sampling.longer_than_ms, 0);
        assert_eq!(c.quality.sampling.graders, ["anna", "boris"]);
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
