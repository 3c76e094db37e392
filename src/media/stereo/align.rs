//! The two legs of a call become one stereo stream in step: every received G.711 packet is
//! decoded into its place on the recording's timeline (samples at 8 kHz since the operator
//! answered), and the timeline is handed out once it is final.
//!
//! Placement (RFC 3550 §5.1 timestamps, §A.1 wrapping; see [`super::stream`] for the rules
//! that move a stream's mapping): the first packet of a stream is placed where it arrived;
//! later ones where their timestamp says, relative to the newest. Position `p` is final when
//! the clock has passed `p + jitter`: packets of a side may be reordered within that window.
//!
//! Invariants:
//! - output comes in whole stereo frames, caller then operator, and frame `n` of the output
//!   is timeline position `n`: nothing is ever inserted or removed to catch up, so a lost
//!   packet is silence in its place and the output is exactly as long as the conversation;
//! - a position is written only while it is within the ring ahead of what was drained, so
//!   a ring slot always belongs to one position: drained slots are cleared for reuse;
//! - after [`Aligner::new`], neither [`Aligner::push`] nor [`Aligner::drain`] allocates
//!   (given an output buffer with room), and no input makes them panic.

use std::time::{Duration, Instant};

use super::stream::{Adjust, Limits, Outcome, Stream};
use super::SAMPLE_RATE;
use crate::media::g711;
use crate::media::Codec;

/// Samples of a 20 ms frame, the unit of [`SideStats::lost_frames`].
const FRAME: u64 = 160;
/// Room in each side's ring beyond the jitter window: how far ahead of the drained point a
/// packet may land. It covers a writer's drain interval (250 ms; a writer taking a longer
/// backlog drains as it goes), what a writer leaves undrained to end its writes on a disk
/// block (under 128 ms, [`Aligner::drain_to_boundary`]) and the timestamp lead a stream
/// may have before it is re-anchored (`resync`, 300 ms by default), with margin. With the
/// default jitter the ring is 8,192 samples a side. It keeps the G.711 bytes as they came,
/// decoded only when drained: 20 KB per call with its bitmaps, where decoded samples took
/// 34 KB, in the largest part of a call's memory.
const HEADROOM: Duration = Duration::from_millis(900);
/// Tolerances above this are clamped: they would only delay the recording and grow the
/// rings.
const MAX_TOLERANCE: Duration = Duration::from_secs(10);

/// Which party's audio: the recording's channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The caller (from the trunk): the left channel.
    Caller,
    /// The operator (from the softphone): the right channel.
    Operator,
}

/// Tolerances of the alignment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AlignerConfig {
    /// The reordering window: a packet may arrive this much later than its place and still
    /// be recorded. The recording runs this much behind the call.
    pub jitter: Duration,
    /// When a packet's timestamp and its arrival disagree by more than this, the
    /// timestamps are no longer trusted and the stream is re-anchored at the arrival.
    pub resync: Duration,
}

impl Default for AlignerConfig {
    fn default() -> Self {
        AlignerConfig {
            jitter: Duration::from_millis(80),
            resync: Duration::from_millis(300),
        }
    }
}

/// Counters of one side.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SideStats {
    /// Packets (or 20 ms frames of packets) pushed.
    pub packets: u64,
    /// Packets whose place was already drained when they came: they are silence.
    pub late_dropped: u64,
    /// Packets placed further ahead than the ring holds (the recording task drained too
    /// seldom, or a sender's clock ran far ahead): they are silence.
    pub early_dropped: u64,
    /// Packets whose timestamp was already received in the same stream.
    pub duplicates: u64,
    /// Stretches of silence between received audio, in 20 ms frames rounded up: lost
    /// packets, and pauses in sending (hold, silence suppression).
    pub lost_frames: u64,
    /// Times the side's SSRC changed (each new stream is anchored at its arrival).
    pub ssrc_changes: u64,
    /// Times a stream was re-anchored because its timestamps and arrivals disagreed by
    /// more than `resync`.
    pub resyncs: u64,
    /// Times a stream's mapping was moved by its steady lateness (clock drift, a change of
    /// network delay), by at most `resync`.
    pub realigned: u64,
}

/// Counters of both sides.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AlignStats {
    /// The caller's side.
    pub caller: SideStats,
    /// The operator's side.
    pub operator: SideStats,
}

impl AlignStats {
    /// The counters of one side.
    pub fn side(&self, side: Side) -> &SideStats {
        match side {
            Side::Caller => &self.caller,
            Side::Operator => &self.operator,
        }
    }
}

/// One side: G.711 samples waiting to be drained, by timeline position modulo the ring.
struct Track {
    /// The bytes as received; a slot no packet wrote is silence, whatever byte it holds.
    samples: Box<[u8]>,
    /// One bit per slot: whether a packet wrote it (a bitmap, not a `bool` per sample:
    /// 1 KB instead of 8 KB a side, per call).
    present: Box<[u64]>,
    /// One bit per slot: whether its byte is A-law (else μ-law). A leg may change codec in
    /// a re-INVITE while earlier packets still wait in the ring.
    alaw: Box<[u64]>,
    stream: Option<Stream>,
    stats: SideStats,
    /// Whether any audio of this side has been drained yet (silence before it is no gap).
    heard: bool,
    /// Missing samples drained since the last received one.
    gap: u64,
}

// The ring is seconds of samples: its size is what is worth seeing, not its content.
impl std::fmt::Debug for Track {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Track")
            .field("capacity", &self.samples.len())
            .field("stream", &self.stream)
            .field("stats", &self.stats)
            .field("heard", &self.heard)
            .field("gap", &self.gap)
            .finish()
    }
}

impl Track {
    fn new(capacity: usize) -> Track {
        Track {
            samples: vec![0; capacity].into_boxed_slice(),
            present: vec![0; capacity.div_ceil(64)].into_boxed_slice(),
            alaw: vec![0; capacity.div_ceil(64)].into_boxed_slice(),
            stream: None,
            stats: SideStats::default(),
            heard: false,
            gap: 0,
        }
    }

    /// Where the packet's first sample goes, or `None` for a duplicate.
    fn place(
        &mut self,
        arrival: i64,
        seq: u16,
        ts: u32,
        ssrc: u32,
        len: usize,
        limits: Limits,
    ) -> Option<i64> {
        let Some(stream) = self.stream.as_mut().filter(|s| s.ssrc == ssrc) else {
            if self.stream.is_some() {
                self.stats.ssrc_changes += 1;
            }
            self.stream = Some(Stream::anchored(ssrc, seq, ts, len, arrival));
            return Some(arrival);
        };
        match stream.place(arrival, seq, ts, len, limits) {
            Outcome::Duplicate => {
                self.stats.duplicates += 1;
                None
            }
            Outcome::Placed { pos, adjust } => {
                match adjust {
                    Adjust::None => {}
                    Adjust::Resync => self.stats.resyncs += 1,
                    Adjust::Realign => self.stats.realigned += 1,
                }
                Some(pos)
            }
        }
    }

    /// Stores `payload` at positions `pos..`, keeping only what lies in
    /// `drained..drained + capacity`.
    fn write(&mut self, pos: i64, codec: Codec, payload: &[u8], drained: u64) {
        let capacity = self.samples.len();
        let drained = i64::try_from(drained).unwrap_or(i64::MAX);
        let limit = drained.saturating_add(capacity as i64);
        let end = pos.saturating_add(payload.len() as i64);
        if end <= drained {
            self.stats.late_dropped += 1;
            return;
        }
        if pos >= limit {
            self.stats.early_dropped += 1;
            return;
        }
        let first = pos.max(drained);
        let last = end.min(limit);
        // Both bounds lie within `pos..end`, so the offsets index `payload`.
        let skip = (first - pos) as usize;
        let count = (last - first) as usize;
        let bytes = &payload[skip..skip + count];
        // At most `capacity` bytes from `first`: the end of the ring, then its start.
        let start = first as usize & (capacity - 1);
        let (head, tail) = bytes.split_at(count.min(capacity - start));
        let alaw = codec == Codec::Pcma;
        for (at, part) in [(start, head), (0, tail)] {
            self.samples[at..at + part.len()].copy_from_slice(part);
            set_bits(&mut self.present, at, part.len(), true);
            set_bits(&mut self.alaw, at, part.len(), alaw);
        }
    }

    /// Decodes the `n` slots from `slot` (all in one bitmap word: `slot % 64 + n <= 64`)
    /// into `out[..n]`, silence where nothing was received, and clears them for the
    /// positions one ring later. Whole words of received audio in one law, the usual case,
    /// are decoded without a test per sample.
    fn take_run(&mut self, slot: usize, n: usize, out: &mut [i16; 64]) {
        let (word, offset) = (slot / 64, slot % 64);
        let mask = run_mask(offset, n);
        let present = self.present[word] & mask;
        self.present[word] &= !mask;
        let out = &mut out[..n];
        if present == 0 {
            out.fill(0);
            self.gap += n as u64;
            return;
        }
        let alaw = self.alaw[word] & mask;
        let Track {
            samples,
            stats,
            heard,
            gap,
            ..
        } = self;
        let bytes = &samples[slot..slot + n];
        if present == mask && (alaw == 0 || alaw == mask) {
            heard_after_gap(heard, gap, stats);
            let table = g711::decode_table(if alaw == 0 { Codec::Pcmu } else { Codec::Pcma });
            for (sample, &byte) in out.iter_mut().zip(bytes) {
                *sample = table[usize::from(byte)];
            }
            return;
        }
        let tables = [
            g711::decode_table(Codec::Pcmu),
            g711::decode_table(Codec::Pcma),
        ];
        for (i, (sample, &byte)) in out.iter_mut().zip(bytes).enumerate() {
            let bit = 1u64 << (offset + i);
            *sample = if present & bit == 0 {
                *gap += 1;
                0
            } else {
                heard_after_gap(heard, gap, stats);
                tables[usize::from(alaw & bit != 0)][usize::from(byte)]
            };
        }
    }
}

/// Both sides of one conversation, aligned on one timeline.
#[derive(Debug)]
pub struct Aligner {
    start: Instant,
    limits: Limits,
    /// Timeline positions below this have been handed out.
    drained: u64,
    /// Set by [`Aligner::finish`]: the timeline ends here.
    end: Option<u64>,
    caller: Track,
    operator: Track,
}

impl Aligner {
    /// An aligner whose time zero, `start`, is the operator's answer.
    pub fn new(config: AlignerConfig, start: Instant) -> Aligner {
        let jitter = config.jitter.min(MAX_TOLERANCE);
        let resync = config.resync.min(MAX_TOLERANCE);
        let capacity = (samples(jitter + HEADROOM) as usize).next_power_of_two();
        Aligner {
            start,
            limits: Limits {
                jitter: samples(jitter),
                resync: samples(resync),
            },
            drained: 0,
            end: None,
            caller: Track::new(capacity),
            operator: Track::new(capacity),
        }
    }

    /// One received packet (or 20 ms of one) of one side, read at `at`: `ts` is the
    /// sender's timestamp of `payload[0]`. Packets after [`Aligner::finish`] are ignored.
    // The fields of a received packet, flat, so the recording task passes its frame's
    // fields without building anything per packet.
    #[allow(clippy::too_many_arguments)]
    pub fn push(
        &mut self,
        side: Side,
        at: Instant,
        seq: u16,
        ts: u32,
        ssrc: u32,
        codec: Codec,
        payload: &[u8],
    ) {
        let arrival = self.position(at);
        let (limits, drained, finished) = (self.limits, self.drained, self.end.is_some());
        let track = self.track_mut(side);
        track.stats.packets += 1;
        if payload.is_empty() || finished {
            return;
        }
        // A longer payload than the ring could not be placed whole anyway.
        let payload = &payload[..payload.len().min(track.samples.len())];
        if let Some(pos) = track.place(arrival, seq, ts, ssrc, payload.len(), limits) {
            track.write(pos, codec, payload, drained);
        }
    }

    /// Appends to `out` the stereo frames (caller, operator, interleaved) that are final:
    /// the timeline up to `now - jitter`. Returns how many frames were appended.
    pub fn drain(&mut self, now: Instant, out: &mut Vec<i16>) -> usize {
        self.emit_until(self.final_until(now), out)
    }

    /// [`Aligner::drain`], but ending on a boundary: the frames appended end at the last
    /// final frame `n` for which `lead + n` is a multiple of `unit` (both in frames). The
    /// frames after it stay in the ring for a later drain. A writer whose file holds `lead`
    /// frames' worth of header before the audio so writes whole disk blocks only.
    pub fn drain_to_boundary(
        &mut self,
        now: Instant,
        unit: u64,
        lead: u64,
        out: &mut Vec<i16>,
    ) -> usize {
        let Ok(target) = u64::try_from(self.final_until(now)) else {
            return 0;
        };
        let unit = unit.max(1);
        let boundary = (target.saturating_add(lead) / unit * unit).saturating_sub(lead);
        self.emit_until(i64::try_from(boundary).unwrap_or(i64::MAX), out)
    }

    /// The call ended at `end`: appends everything up to `end`, so that the recording is
    /// exactly `end - start` long, and ends the timeline. Returns the frames appended.
    pub fn finish(&mut self, end: Instant, out: &mut Vec<i16>) -> usize {
        let target = self.position(end);
        let frames = self.emit_until(target, out);
        self.end = Some(self.drained);
        frames
    }

    /// Frames handed out so far: the recording's length in samples.
    pub fn frames(&self) -> u64 {
        self.drained
    }

    /// The counters of both sides.
    pub fn stats(&self) -> AlignStats {
        AlignStats {
            caller: self.caller.stats,
            operator: self.operator.stats,
        }
    }

    fn track_mut(&mut self, side: Side) -> &mut Track {
        match side {
            Side::Caller => &mut self.caller,
            Side::Operator => &mut self.operator,
        }
    }

    /// Where the timeline is final at `now`: the jitter window behind it.
    fn final_until(&self, now: Instant) -> i64 {
        self.position(now).saturating_sub(self.limits.jitter)
    }

    /// Samples from the start to `at` (negative before it).
    fn position(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.start) {
            Some(d) => samples(d),
            None => -samples(self.start.duration_since(at)),
        }
    }

    fn emit_until(&mut self, target: i64, out: &mut Vec<i16>) -> usize {
        let Ok(mut target) = u64::try_from(target) else {
            return 0;
        };
        if let Some(end) = self.end {
            target = target.min(end);
        }
        if target <= self.drained {
            return 0;
        }
        let frames = target - self.drained;
        out.reserve(usize::try_from(frames.saturating_mul(2)).unwrap_or(usize::MAX));
        let capacity = self.caller.samples.len();
        let (mut caller, mut operator) = ([0i16; 64], [0i16; 64]);
        let mut position = self.drained;
        while position < target {
            // A run of slots within one bitmap word and before the ring's end.
            let slot = position as usize & (capacity - 1);
            let n = (target - position)
                .min(64 - slot as u64 % 64)
                .min((capacity - slot) as u64) as usize;
            self.caller.take_run(slot, n, &mut caller);
            self.operator.take_run(slot, n, &mut operator);
            let at = out.len();
            out.resize(at + 2 * n, 0);
            for (frame, (&c, &o)) in out[at..]
                .chunks_exact_mut(2)
                .zip(caller[..n].iter().zip(&operator[..n]))
            {
                frame[0] = c;
                frame[1] = o;
            }
            position += n as u64;
        }
        self.drained = target;
        frames as usize
    }
}

/// A received sample of a side is drained: the silence before it, if audio came earlier,
/// counts as lost frames.
fn heard_after_gap(heard: &mut bool, gap: &mut u64, stats: &mut SideStats) {
    if *heard && *gap > 0 {
        stats.lost_frames += gap.div_ceil(FRAME);
    }
    *heard = true;
    *gap = 0;
}

/// The bits `offset..offset + n` of a word (`offset + n <= 64`).
fn run_mask(offset: usize, n: usize) -> u64 {
    if n >= 64 {
        u64::MAX
    } else {
        ((1u64 << n) - 1) << offset
    }
}

/// Sets (`value`) or clears the bits `start..start + len` of a bitmap, a word at a time.
fn set_bits(words: &mut [u64], start: usize, len: usize, value: bool) {
    let end = start + len;
    let mut slot = start;
    while slot < end {
        let offset = slot % 64;
        let n = (64 - offset).min(end - slot);
        let mask = run_mask(offset, n);
        if value {
            words[slot / 64] |= mask;
        } else {
            words[slot / 64] &= !mask;
        }
        slot += n;
    }
}

/// A duration in samples at 8 kHz, rounded down.
fn samples(d: Duration) -> i64 {
    let n = d.as_nanos() * u128::from(SAMPLE_RATE) / 1_000_000_000;
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[path = "align_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "align_drain_tests.rs"]
mod drain_tests;

#[cfg(test)]
#[path = "align_run_tests.rs"]
mod run_tests;
