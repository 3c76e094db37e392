//! Prompt playback: a loaded prompt becomes a paced stream of 20 ms G.711 RTP packets
//! (RFC 3550 §5.1 header, RFC 3551 §4.5.14 framing: 160 samples per packet at 8 kHz).
//!
//! Run loop (the runtime's media task): wait until [`PromptPlayer::poll_timeout`], then call
//! [`PromptPlayer::poll_transmit`] with the current time until it returns `None`, sending
//! each packet it writes. Time is an input; nothing here reads a clock or a file.
//!
//! Invariants:
//! - frame `i` is due at `start + i × 20 ms`, computed from the start, so no drift builds up
//!   however late the caller is; a late caller gets every overdue frame, one per call;
//! - each packet advances the sequence number by 1 and the timestamp by 160, both wrapping;
//!   a frame skipped while the peer holds us ([`PromptPlayer::poll_skip`]) advances only
//!   the timestamp, so the peer sees no loss, and the time it did not hear;
//! - only the first packet of the stream, and the first after skipped frames, may carry
//!   the marker bit (RFC 3551 §4.1: the start of a talkspurt);
//! - a [`PlayMode::Once`] prompt's last partial frame is padded with the codec's silence;
//!   [`PlayMode::Loop`] runs on from the last sample to the first with no gap.

use std::fmt;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::g711;
use super::rtp::{self, RtpHeader};
use crate::media::Codec;

/// The only sample rate prompts may have: that of G.711.
pub const SAMPLE_RATE: u32 = 8000;
/// Samples in one 20 ms frame.
pub const FRAME_SAMPLES: usize = 160;
/// The packetisation interval.
pub const FRAME_DURATION: Duration = Duration::from_millis(20);
/// The largest packet the player writes: a buffer this long always suffices.
pub const MAX_PACKET_LEN: usize = rtp::HEADER_LEN + FRAME_SAMPLES;
/// Longest prompt accepted from a file (10 minutes): guards memory against a broken header.
pub const MAX_PROMPT_DURATION: Duration = Duration::from_secs(600);

/// Why a prompt file was refused. Each message names the prompt and what is wrong.
#[derive(thiserror::Error, Debug)]
pub enum PromptError {
    /// Not a WAV file, or it is truncated or otherwise unreadable.
    #[error("prompt {name}: not a readable WAV file: {source}")]
    Wav {
        /// The prompt's name.
        name: String,
        /// What the WAV reader found.
        source: hound::Error,
    },
    /// A sample rate other than 8000 Hz.
    #[error("prompt {name}: sample rate is {found} Hz; prompts must be 8000 Hz")]
    SampleRate {
        /// The prompt's name.
        name: String,
        /// The file's sample rate.
        found: u32,
    },
    /// More than one channel.
    #[error("prompt {name}: has {found} channels; prompts must be mono")]
    Channels {
        /// The prompt's name.
        name: String,
        /// The file's channel count.
        found: u16,
    },
    /// Samples that are not 16-bit signed integers.
    #[error(
        "prompt {name}: {bits}-bit {} samples; prompts must be 16-bit integer PCM",
        if *.float { "float" } else { "integer" }
    )]
    SampleFormat {
        /// The prompt's name.
        name: String,
        /// The file's bits per sample.
        bits: u16,
        /// Whether the samples are floating point.
        float: bool,
    },
    /// Longer than [`MAX_PROMPT_DURATION`].
    #[error("prompt {name}: longer than {} s", MAX_PROMPT_DURATION.as_secs())]
    TooLong {
        /// The prompt's name.
        name: String,
    },
    /// No samples at all.
    #[error("prompt {name}: contains no audio")]
    Empty {
        /// The prompt's name.
        name: String,
    },
}

struct PromptData {
    name: String,
    samples: Vec<i16>,
    pcmu: Vec<u8>,
    pcma: Vec<u8>,
}

/// A prompt loaded once: 8 kHz mono 16-bit PCM, pre-encoded for both codecs. Cloning is
/// cheap (a shared pointer), so every call playing it shares one copy.
#[derive(Clone)]
pub struct Prompt(Arc<PromptData>);

impl Prompt {
    /// Reads a WAV prompt. It must be 8000 Hz, mono, 16-bit integer PCM, non-empty and at
    /// most [`MAX_PROMPT_DURATION`] long.
    pub fn from_wav<R: Read>(name: &str, reader: R) -> Result<Prompt, PromptError> {
        let wav_error = |source| PromptError::Wav {
            name: name.to_owned(),
            source,
        };
        let reader = hound::WavReader::new(reader).map_err(wav_error)?;
        let spec = reader.spec();
        if spec.sample_rate != SAMPLE_RATE {
            return Err(PromptError::SampleRate {
                name: name.to_owned(),
                found: spec.sample_rate,
            });
        }
        if spec.channels != 1 {
            return Err(PromptError::Channels {
                name: name.to_owned(),
                found: spec.channels,
            });
        }
        if spec.bits_per_sample != 16 || spec.sample_format != hound::SampleFormat::Int {
            return Err(PromptError::SampleFormat {
                name: name.to_owned(),
                bits: spec.bits_per_sample,
                float: spec.sample_format == hound::SampleFormat::Float,
            });
        }
        let max_samples = MAX_PROMPT_DURATION.as_secs() * u64::from(SAMPLE_RATE);
        if u64::from(reader.len()) > max_samples {
            return Err(PromptError::TooLong {
                name: name.to_owned(),
            });
        }
        // The length was checked above, so trusting it for the allocation is safe.
        let mut samples = Vec::with_capacity(reader.len() as usize);
        for sample in reader.into_samples::<i16>() {
            samples.push(sample.map_err(wav_error)?);
        }
        if samples.is_empty() {
            return Err(PromptError::Empty {
                name: name.to_owned(),
            });
        }
        Ok(Prompt::from_pcm(name, samples))
    }

    /// A prompt from samples already in memory (8 kHz mono). May be empty: it then plays
    /// nothing.
    pub fn from_pcm(name: &str, samples: Vec<i16>) -> Prompt {
        let mut pcmu = vec![0; samples.len()];
        let mut pcma = vec![0; samples.len()];
        g711::encode(Codec::Pcmu, &samples, &mut pcmu);
        g711::encode(Codec::Pcma, &samples, &mut pcma);
        Prompt(Arc::new(PromptData {
            name: name.to_owned(),
            samples,
            pcmu,
            pcma,
        }))
    }

    /// How long the prompt plays.
    pub fn duration(&self) -> Duration {
        // 125 µs per sample at 8 kHz: exact, no float rounding.
        Duration::from_micros(self.0.samples.len() as u64 * 125)
    }

    /// The name given when loading (for logs and errors).
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The linear samples (for recordings that mix in prompts).
    pub fn samples(&self) -> &[i16] {
        &self.0.samples
    }

    /// The whole prompt in one codec, one byte per sample, unpadded.
    pub fn encoded(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Pcmu => &self.0.pcmu,
            Codec::Pcma => &self.0.pcma,
        }
    }
}

impl fmt::Debug for Prompt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("name", &self.name())
            .field("duration", &self.duration())
            .finish()
    }
}

/// Where an RTP stream continues: the SSRC and the sequence number and timestamp of its
/// next packet. Passed from one source to the next so the far end sees one stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpStreamState {
    /// Synchronisation source.
    pub ssrc: u32,
    /// Sequence number of the next packet.
    pub seq: u16,
    /// Timestamp of the next packet.
    pub ts: u32,
}

/// Whether a prompt stops at its end or starts over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlayMode {
    /// Play once, then finish.
    Once,
    /// Repeat without end (hold music), until dropped.
    Loop,
}

/// Plays one prompt as RTP. See the module documentation for the run loop.
#[derive(Debug)]
pub struct PromptPlayer {
    prompt: Prompt,
    codec: Codec,
    payload_type: u8,
    mode: PlayMode,
    start: Instant,
    /// Whether the next packet written starts a talkspurt.
    marker_next: bool,
    next: RtpStreamState,
    /// Frames consumed so far; frame `frame_index` is the next one due.
    frame_index: u64,
    /// Sample offset in the prompt where the next frame starts.
    pos: usize,
    frames_sent: u64,
}

impl PromptPlayer {
    /// Frame i is due at `start + i*20ms` (no drift accumulates). The first packet of the
    /// stream carries the marker bit (RFC 3551 §4.1: start of a talkspurt) when
    /// `marker_first` is set.
    pub fn new(
        prompt: Prompt,
        codec: Codec,
        payload_type: u8,
        stream: RtpStreamState,
        mode: PlayMode,
        start: Instant,
        marker_first: bool,
    ) -> Self {
        PromptPlayer {
            prompt,
            codec,
            payload_type,
            mode,
            start,
            marker_next: marker_first,
            next: stream,
            frame_index: 0,
            pos: 0,
            frames_sent: 0,
        }
    }

    /// When the next frame is due; `None` once finished.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_finished() {
            return None;
        }
        self.due(self.frame_index)
    }

    /// Writes the next due RTP packet (12-byte header + 160 bytes) into `buf` and returns
    /// its length, or `None` if nothing is due at `now` or playback is finished. Call it
    /// repeatedly to catch up after a stall.
    ///
    /// `buf` must hold [`MAX_PACKET_LEN`] bytes; a shorter one is a bug in the caller, and
    /// the due frame is then dropped (timestamps keep pace, the sequence number does not
    /// move, as for a frame never sent) and `None` returned.
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Option<usize> {
        if self.is_finished() || self.due(self.frame_index)? > now {
            return None;
        }
        let payload = self.next_payload();
        let header = RtpHeader {
            payload_type: self.payload_type,
            marker: self.marker_next,
            seq: self.next.seq,
            timestamp: self.next.ts,
            ssrc: self.next.ssrc,
        };
        let written = rtp::write_packet(&header, &payload, buf).ok();
        self.frame_index += 1;
        self.next.ts = self.next.ts.wrapping_add(FRAME_SAMPLES as u32);
        if written.is_some() {
            self.next.seq = self.next.seq.wrapping_add(1);
            self.frames_sent += 1;
            self.marker_next = false;
        }
        written
    }

    /// Consumes the frame due at `now` without writing it, for a peer that put us on hold
    /// (RFC 3264 §5.1: nothing is sent to a `sendonly` or `inactive` peer): the prompt keeps
    /// its schedule unheard, the timestamp keeps pace, the sequence number does not move,
    /// and the next packet written starts a talkspurt. Returns whether a frame was due;
    /// call it repeatedly like [`PromptPlayer::poll_transmit`].
    pub fn poll_skip(&mut self, now: Instant) -> bool {
        if self.is_finished() || self.due(self.frame_index).is_none_or(|due| due > now) {
            return false;
        }
        self.next_payload();
        self.frame_index += 1;
        self.next.ts = self.next.ts.wrapping_add(FRAME_SAMPLES as u32);
        self.marker_next = true;
        true
    }

    /// The peer now expects `codec` with `payload_type` (a new offer/answer): the next
    /// frames are sent in it, from where the prompt is.
    pub fn set_codec(&mut self, codec: Codec, payload_type: u8) {
        self.codec = codec;
        self.payload_type = payload_type;
    }

    /// Whether a [`PlayMode::Once`] prompt has sent its last frame (a looping prompt
    /// finishes only if it is empty).
    pub fn is_finished(&self) -> bool {
        let len = self.prompt.samples().len();
        len == 0 || (self.mode == PlayMode::Once && self.pos >= len)
    }

    /// Where the stream continues, for whatever plays next on it.
    pub fn stream_state(&self) -> RtpStreamState {
        self.next
    }

    /// Packets written so far.
    pub fn frames_sent(&self) -> u64 {
        self.frames_sent
    }

    /// The prompt being played.
    pub fn prompt(&self) -> &Prompt {
        &self.prompt
    }

    /// The due time of frame `index`; `None` only past the range of `Instant`, which no
    /// real prompt reaches (it would take centuries).
    fn due(&self, index: u64) -> Option<Instant> {
        let offset = Duration::from_millis(index.saturating_mul(20));
        self.start.checked_add(offset)
    }

    /// The payload of the frame at `pos`, and moves `pos` on.
    fn next_payload(&mut self) -> [u8; FRAME_SAMPLES] {
        let encoded = self.prompt.encoded(self.codec);
        let mut payload = [g711::silence_byte(self.codec); FRAME_SAMPLES];
        let len = encoded.len();
        match self.mode {
            PlayMode::Once => {
                let end = (self.pos + FRAME_SAMPLES).min(len);
                payload[..end - self.pos].copy_from_slice(&encoded[self.pos..end]);
                self.pos = end;
            }
            PlayMode::Loop => {
                for byte in payload.iter_mut() {
                    *byte = encoded[self.pos];
                    self.pos = (self.pos + 1) % len;
                }
            }
        }
        payload
    }
}

#[cfg(test)]
#[path = "player_tests.rs"]
mod tests;
