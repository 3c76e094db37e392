//! `[quality]`: the automatic audio analysis of every finished recording, and the
//! thresholds that flag a call for a QA person's ear.

use std::time::Duration;

use toml::Table;

use super::reader::{Reader, Zero};
use super::schema::keys_of;

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
        }
    }
}

pub(super) fn quality(r: &mut Reader<'_>, root: &Table) -> QualityConfig {
    let known = keys_of("quality").expect("listed in the schema");
    let s = r.section(root, "quality", &known);
    let d = QualityConfig::default();
    QualityConfig {
        analyse: r.boolean(&s, "analyse", d.analyse),
        vad_threshold_dbfs: r.parsed(&s, "vad_threshold", d.vad_threshold_dbfs, dbfs),
        vad_hangover: r.duration(&s, "vad_hangover", d.vad_hangover, Zero::Allowed),
        dead_air_flag: r.duration(&s, "dead_air_flag", d.dead_air_flag, Zero::Allowed),
        overtalk_flag: r.duration(&s, "overtalk_flag", d.overtalk_flag, Zero::Allowed),
        operator_silent_flag: r.boolean(&s, "operator_silent_flag", d.operator_silent_flag),
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
    use super::dbfs;

    #[test]
    fn levels_are_read_with_or_without_the_unit() {
        assert_eq!(dbfs("-45 dBFS"), Ok(-45));
        assert_eq!(dbfs("-30"), Ok(-30));
        assert!(dbfs("-5 dBFS").is_err());
        assert!(dbfs("loud").is_err());
    }
}
