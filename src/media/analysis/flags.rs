//! Which analysed calls are worth a QA person's ear: the thresholds of `[quality]` applied
//! to an [`AudioReport`].

use super::AudioReport;

/// Dead air reached the threshold.
pub const FLAG_LONG_DEAD_AIR: &str = "long_dead_air";
/// Overtalk reached the threshold.
pub const FLAG_HEAVY_OVERTALK: &str = "heavy_overtalk";
/// The operator never spoke (or spoke less than the threshold).
pub const FLAG_OPERATOR_SILENT: &str = "operator_silent";

/// When a call is flagged; `None` turns a flag off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlagThresholds {
    /// `long_dead_air` when the longest stretch of dead air is at least this long.
    pub dead_air_ms: Option<u64>,
    /// `heavy_overtalk` when overtalk adds up to at least this much.
    pub overtalk_ms: Option<u64>,
    /// `operator_silent` when the operator spoke less than this.
    pub operator_silent_below_ms: Option<u64>,
}

/// The flags a report earns, in a fixed order.
pub fn flags(report: &AudioReport, thresholds: &FlagThresholds) -> Vec<&'static str> {
    let mut out = Vec::new();
    if thresholds
        .dead_air_ms
        .is_some_and(|t| report.longest_silence_ms >= t)
    {
        out.push(FLAG_LONG_DEAD_AIR);
    }
    if thresholds
        .overtalk_ms
        .is_some_and(|t| report.overtalk_ms >= t)
    {
        out.push(FLAG_HEAVY_OVERTALK);
    }
    if thresholds
        .operator_silent_below_ms
        .is_some_and(|t| report.operator_speech_ms < t)
    {
        out.push(FLAG_OPERATOR_SILENT);
    }
    out
}
