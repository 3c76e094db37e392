//! One channel's voice activity detector and levels.
//!
//! The detector is energy based. Each 20 ms frame (160 samples at 8 kHz) is *active* when
//! its RMS is at or above [`VadSettings::threshold_dbfs`] (default −45 dBFS: G.711 line
//! noise and comfort noise sit near −60 dBFS or below, telephone speech between −30 and
//! −10 dBFS, so the threshold sits well clear of both). Speech starts with the first active
//! frame and goes on through inactive frames for the *hangover* ([`VadSettings::hangover_ms`],
//! default 300 ms), so the pauses between words do not split a turn; when the hangover
//! runs out, the segment is closed at the end of its last active frame, so the hangover
//! bridges gaps without lengthening a turn. Active runs shorter than
//! [`VadSettings::min_speech_ms`] (default 60 ms: clicks, a dropped packet's burst) are
//! not speech. A segment's boundaries are therefore within one frame (20 ms) of the audio's.
//!
//! Levels: RMS over the active frames only (the speech level, not diluted by pauses), peak
//! over every sample; a sample at full scale (|s| ≥ 32767) counts as clipped.

use super::spans::Span;

/// Length of one analysis frame.
pub const FRAME_MS: u64 = 20;

/// Full scale of a 16-bit sample, the 0 dBFS reference.
const FULL_SCALE: f64 = 32768.0;

/// The detector's thresholds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VadSettings {
    /// A frame whose RMS reaches this level is active.
    pub threshold_dbfs: f64,
    /// Speech goes on this long after the last active frame before it ends.
    pub hangover_ms: u64,
    /// Shorter runs of activity are not speech.
    pub min_speech_ms: u64,
}

impl Default for VadSettings {
    fn default() -> Self {
        VadSettings {
            threshold_dbfs: -45.0,
            hangover_ms: 300,
            min_speech_ms: 60,
        }
    }
}

/// How loud one side was.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ChannelLevels {
    /// RMS over the frames detected as speech; `None` if there were none.
    pub rms_dbfs: Option<f64>,
    /// The largest sample; `None` for a channel of digital silence.
    pub peak_dbfs: Option<f64>,
    /// Samples at full scale.
    pub clipped_samples: u64,
}

/// The detector's state for one channel.
#[derive(Debug)]
pub(super) struct ChannelVad {
    samples_per_frame: u32,
    /// The threshold as a sum of squares over a whole frame, so a frame is judged without
    /// a square root or a logarithm.
    threshold_energy: f64,
    hangover_frames: u64,
    min_speech_frames: u64,
    /// The frame being summed.
    energy: u64,
    in_frame: u32,
    frame: u64,
    /// The open segment: its first and last active frames.
    open: Option<(u64, u64)>,
    segments: Vec<Span>,
    speech_energy: f64,
    speech_samples: u64,
    peak: u32,
    clipped: u64,
}

impl ChannelVad {
    pub(super) fn new(settings: VadSettings, sample_rate: u32) -> ChannelVad {
        let samples_per_frame = (sample_rate as u64 * FRAME_MS / 1000).max(1) as u32;
        let amplitude = 10f64.powf(settings.threshold_dbfs / 20.0) * FULL_SCALE;
        ChannelVad {
            samples_per_frame,
            threshold_energy: amplitude * amplitude * f64::from(samples_per_frame),
            hangover_frames: settings.hangover_ms.div_ceil(FRAME_MS),
            min_speech_frames: settings.min_speech_ms.div_ceil(FRAME_MS),
            energy: 0,
            in_frame: 0,
            frame: 0,
            open: None,
            segments: Vec::new(),
            speech_energy: 0.0,
            speech_samples: 0,
            peak: 0,
            clipped: 0,
        }
    }

    #[inline]
    pub(super) fn push(&mut self, sample: i16) {
        let magnitude = u32::from(sample.unsigned_abs());
        self.peak = self.peak.max(magnitude);
        if magnitude >= 32767 {
            self.clipped += 1;
        }
        let s = i64::from(sample);
        // 160 squares of at most 2^30 each: far from u64's limit.
        self.energy += (s * s) as u64;
        self.in_frame += 1;
        if self.in_frame == self.samples_per_frame {
            self.end_frame(1.0);
        }
    }

    /// Judges the frame summed so far; `fill` is the part of a frame it covers (a short
    /// last frame is judged by its mean energy).
    fn end_frame(&mut self, fill: f64) {
        let active = self.energy as f64 >= self.threshold_energy * fill;
        if active {
            self.speech_energy += self.energy as f64;
            self.speech_samples += u64::from(self.in_frame);
            self.open = Some(match self.open {
                Some((first, _)) => (first, self.frame),
                None => (self.frame, self.frame),
            });
        } else if let Some((_, last)) = self.open {
            if self.frame - last >= self.hangover_frames {
                self.close();
            }
        }
        self.frame += 1;
        self.energy = 0;
        self.in_frame = 0;
    }

    /// Ends the open segment at the end of its last active frame.
    fn close(&mut self) {
        if let Some((first, last)) = self.open.take() {
            if last + 1 - first >= self.min_speech_frames {
                self.segments
                    .push(Span::new(first * FRAME_MS, (last + 1) * FRAME_MS));
            }
        }
    }

    /// The segments (cut to the recording's `duration_ms`) and the levels.
    pub(super) fn finish(mut self, duration_ms: u64) -> (Vec<Span>, ChannelLevels) {
        if self.in_frame > 0 {
            let fill = f64::from(self.in_frame) / f64::from(self.samples_per_frame);
            self.end_frame(fill);
        }
        self.close();
        let segments = super::spans::clip(&self.segments, duration_ms);
        let dbfs = |amplitude: f64| 20.0 * (amplitude / FULL_SCALE).log10();
        let levels = ChannelLevels {
            rms_dbfs: (self.speech_samples > 0)
                .then(|| dbfs((self.speech_energy / self.speech_samples as f64).sqrt())),
            peak_dbfs: (self.peak > 0).then(|| dbfs(f64::from(self.peak))),
            clipped_samples: self.clipped,
        };
        (segments, levels)
    }
}
