//! The audio metrics of a call as the API shows them (`"audio"` of `GET /api/calls/{id}`)
//! and the audio filters of `GET /api/calls` (`min_overtalk_ms`, `min_silence_ms`,
//! `operator_silent`, `flagged`).

use serde_json::{json, Value};

use super::error::ApiError;
use super::params::Params;
use crate::store::{AudioFilter, AudioRecord};

/// The flag kinds the analysis raises.
const FLAG_KINDS: [&str; 3] = ["long_dead_air", "heavy_overtalk", "operator_silent"];

/// `null` until the recording has been analysed.
pub fn audio_json(audio: Option<&AudioRecord>) -> Value {
    let Some(a) = audio else {
        return Value::Null;
    };
    let db = |m: Option<i64>| m.map(|v| v as f64 / 1000.0);
    let segments: Value = serde_json::from_str(&a.segments).unwrap_or(Value::Null);
    json!({
        "caller_speech_ms": a.caller_speech_ms,
        "operator_speech_ms": a.operator_speech_ms,
        "overtalk_ms": a.overtalk_ms,
        "silence_ms": a.silence_ms,
        "longest_silence_ms": a.longest_silence_ms,
        "hold_ms": a.hold_ms,
        "duration_ms": a.duration_ms,
        "operator_talk_share": a.operator_share_permille.map(|p| p as f64 / 1000.0),
        "caller_level": {
            "rms_dbfs": db(a.caller_rms_mdbfs),
            "peak_dbfs": db(a.caller_peak_mdbfs),
            "clipped_samples": a.caller_clipped,
        },
        "operator_level": {
            "rms_dbfs": db(a.operator_rms_mdbfs),
            "peak_dbfs": db(a.operator_peak_mdbfs),
            "clipped_samples": a.operator_clipped,
        },
        "flags": a.flags,
        "segments": segments,
        "analysed_at": a.analysed_at,
    })
}

fn millis(params: &Params, name: &'static str) -> Result<Option<i64>, ApiError> {
    params
        .get(name)
        .map(|v| {
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::bad(name, "expected a non-negative integer"))
        })
        .transpose()
}

fn yes_no(params: &Params, name: &'static str) -> Result<bool, ApiError> {
    match params.get(name) {
        None | Some("false") | Some("0") => Ok(false),
        Some("true") | Some("1") => Ok(true),
        Some(_) => Err(ApiError::bad(name, "expected true or false")),
    }
}

/// The audio part of a call search.
pub fn audio_filter(params: &Params) -> Result<AudioFilter, ApiError> {
    let flagged = match params.get("flagged") {
        None | Some("false") | Some("0") => None,
        Some("true") | Some("1") => Some(None),
        Some(kind) if FLAG_KINDS.contains(&kind) || kind == "manual" => Some(Some(kind.to_owned())),
        Some(_) => return Err(ApiError::bad(
            "flagged",
            "expected true, false or one of long_dead_air, heavy_overtalk, operator_silent, manual",
        )),
    };
    Ok(AudioFilter {
        min_overtalk_ms: millis(params, "min_overtalk_ms")?,
        min_silence_ms: millis(params, "min_silence_ms")?,
        operator_silent: yes_no(params, "operator_silent")?,
        flagged,
    })
}
