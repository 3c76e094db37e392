//! What a finished recording says about the conversation, sans-IO: when each side spoke,
//! when both did at once (overtalk), when neither did outside a hold (dead air), and how
//! loud and how clipped each side was.
//!
//! Run loop: make an [`Analyser`], [`Analyser::push`] the recording's interleaved stereo
//! samples (caller left, operator right) block by block in file order, then
//! [`Analyser::finish`] with the call's hold periods; or let [`analyse_wav`] do all of it
//! over any `Read + Seek`. Memory is one read block and the speech segments found so far,
//! whatever the recording's length.
//!
//! The voice activity detector (`vad.rs`) is energy based, per 20 ms frame and channel;
//! its thresholds are [`VadSettings`]' documented defaults.
//!
//! Invariants: every figure is in whole milliseconds of recording time (sample `n` is at
//! `n / 8` ms); segments of one list are sorted and disjoint; overtalk lies within both
//! sides' speech, dead air within neither and outside every hold.

mod flags;
mod spans;
mod vad;
mod wav_input;

pub use flags::{
    flags, FlagThresholds, FLAG_HEAVY_OVERTALK, FLAG_LONG_DEAD_AIR, FLAG_OPERATOR_SILENT,
};
pub use spans::Span;
pub use vad::{ChannelLevels, VadSettings, FRAME_MS};
pub use wav_input::{analyse_wav, AnalysisError};

use vad::ChannelVad;

/// The figures of one recording.
#[derive(Clone, Debug, PartialEq)]
pub struct AudioReport {
    /// The recording's length.
    pub duration_ms: u64,
    /// Time the caller (left channel) spoke.
    pub caller_speech_ms: u64,
    /// Time the operator (right channel) spoke.
    pub operator_speech_ms: u64,
    /// Time both spoke at once.
    pub overtalk_ms: u64,
    /// Dead air: time neither spoke, outside holds.
    pub silence_ms: u64,
    /// The longest single stretch of dead air.
    pub longest_silence_ms: u64,
    /// Time on hold (either side), within the recording.
    pub hold_ms: u64,
    /// The operator's share of all speech, 0–1; `None` if nobody spoke.
    pub operator_talk_share: Option<f64>,
    /// The caller's levels.
    pub caller: ChannelLevels,
    /// The operator's levels.
    pub operator: ChannelLevels,
    /// When the caller spoke.
    pub caller_segments: Vec<Span>,
    /// When the operator spoke.
    pub operator_segments: Vec<Span>,
    /// When both spoke.
    pub overtalk_segments: Vec<Span>,
    /// When neither spoke, outside holds.
    pub dead_air_segments: Vec<Span>,
}

/// Streams a stereo recording through one detector per channel.
#[derive(Debug)]
pub struct Analyser {
    caller: ChannelVad,
    operator: ChannelVad,
    /// Stereo frames (one sample per channel) seen.
    frames: u64,
    sample_rate: u32,
}

impl Analyser {
    /// An analyser for a stereo stream at `sample_rate` samples per second per channel.
    pub fn new(settings: VadSettings, sample_rate: u32) -> Analyser {
        Analyser {
            caller: ChannelVad::new(settings, sample_rate),
            operator: ChannelVad::new(settings, sample_rate),
            frames: 0,
            sample_rate,
        }
    }

    /// Takes interleaved samples: left (caller), right (operator), left, … A block may end
    /// between the two samples of a frame only if the next one starts with the right one;
    /// callers pass whole frames (an odd last sample is ignored).
    pub fn push(&mut self, interleaved: &[i16]) {
        for pair in interleaved.chunks_exact(2) {
            self.caller.push(pair[0]);
            self.operator.push(pair[1]);
        }
        self.frames += (interleaved.len() / 2) as u64;
    }

    /// The figures, with `holds` (in recording time, any order, may overlap) excluded from
    /// dead air.
    pub fn finish(self, holds: &[Span]) -> AudioReport {
        let duration_ms = self.frames * 1000 / u64::from(self.sample_rate.max(1));
        let (caller_segments, caller) = self.caller.finish(duration_ms);
        let (operator_segments, operator) = self.operator.finish(duration_ms);
        let holds = spans::clip(&spans::normalise(holds), duration_ms);
        let overtalk_segments = spans::intersect(&caller_segments, &operator_segments);
        let anyone = spans::union(&caller_segments, &operator_segments);
        let quiet_or_held = spans::complement(&anyone, duration_ms);
        let dead_air_segments =
            spans::intersect(&quiet_or_held, &spans::complement(&holds, duration_ms));
        let caller_speech_ms = spans::total(&caller_segments);
        let operator_speech_ms = spans::total(&operator_segments);
        let all_speech = caller_speech_ms + operator_speech_ms;
        AudioReport {
            duration_ms,
            caller_speech_ms,
            operator_speech_ms,
            overtalk_ms: spans::total(&overtalk_segments),
            silence_ms: spans::total(&dead_air_segments),
            longest_silence_ms: dead_air_segments.iter().map(Span::len).max().unwrap_or(0),
            hold_ms: spans::total(&holds),
            operator_talk_share: (all_speech > 0)
                .then(|| operator_speech_ms as f64 / all_speech as f64),
            caller,
            operator,
            caller_segments,
            operator_segments,
            overtalk_segments,
            dead_air_segments,
        }
    }
}

#[cfg(test)]
mod tests;
