//! One side's current RTP source: the mapping from its timestamps (RFC 3550 §5.1: the
//! sampling instant of the first octet, in 8 kHz units) to positions on the recording's
//! timeline, and the rules that move that mapping.
//!
//! The mapping is kept as "the newest packet's timestamp sits at this position"; any other
//! timestamp is placed by its wrapping distance from it ([`ts_delta`]), so a stream may run
//! for any length of time across the 2^32 wrap. Lateness is how much later a packet arrived
//! than its mapped position; network jitter makes it vary a little around a constant.
//!
//! Rules, in order (each protects the "silence, never a shift" invariant from a different
//! failure):
//! 1. a timestamp seen among the stream's recent packets is a duplicate;
//! 2. lateness beyond `resync` while the timestamp does not follow the sequence number (the
//!    sender restarted its clock, a PBX switched sources under one SSRC) re-anchors the
//!    stream at the packet's arrival at once, unless the packet is a straggler from before
//!    an earlier re-anchoring (a sequence number just behind the newest);
//! 3. lateness beyond `resync` while the timestamp does follow the sequence number is either
//!    a network stall, whose queued packets then arrive in a burst (they are late: they
//!    become silence), or a sender that paused without advancing its clock (hold); only
//!    the latter keeps the same lateness for [`PROBE_SAMPLES`] of arrival time, and only
//!    then is the stream re-anchored;
//! 4. otherwise the least lateness seen over about a second of stream time (the base
//!    network delay, plus clock drift between sender and us) is brought back to zero when
//!    it exceeds half the jitter window, before drift pushes packets out of the window.

use crate::media::rtp::{seq_delta, ts_delta};

/// Samples in a 20 ms frame, the usual packet.
const FRAME: i64 = 160;
/// How many recent timestamps are remembered to recognise duplicates (about 1.3 s of
/// 20 ms packets; an older duplicate is too late to be placed anyway).
const RECENT: usize = 64;
/// Arrival time over which a steady large lateness must persist before rule 3 re-anchors
/// (100 ms): a stall's burst arrives within a few milliseconds, a resumed stream at its
/// own pace.
pub(super) const PROBE_SAMPLES: i64 = 800;
/// Stream time over which rule 4 measures the least lateness (1 s).
const WINDOW_SAMPLES: i32 = 8000;
/// Fewer packets than this in a window (silence suppression) say too little to act on.
const WINDOW_MIN_PACKETS: u32 = 10;

/// The aligner's tolerances, in samples.
#[derive(Clone, Copy, Debug)]
pub(super) struct Limits {
    /// The reordering window.
    pub jitter: i64,
    /// Lateness beyond which the timestamps are no longer trusted.
    pub resync: i64,
}

/// What became of a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Its timestamp was already received in this stream.
    Duplicate,
    /// Its first sample belongs at `pos` on the timeline (which may be in the past).
    Placed {
        /// Timeline position of the first sample.
        pos: i64,
        /// Whether the mapping moved to place it.
        adjust: Adjust,
    },
}

/// How the mapping moved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Adjust {
    /// It did not.
    None,
    /// Rules 2 and 3: the stream was re-anchored.
    Resync,
    /// Rule 4: the mapping was moved by the base lateness.
    Realign,
}

/// The least lateness over a stretch of stream time (rule 4).
#[derive(Clone, Copy, Debug)]
struct Window {
    start_ts: u32,
    packets: u32,
    min_lateness: i64,
}

/// A run of packets late (or early) beyond `resync` yet continuous (rule 3).
#[derive(Clone, Copy, Debug)]
struct Probe {
    /// Arrival position of the first packet of the run.
    since: i64,
    /// The lateness nearest zero in the run: moving by it makes no packet early.
    closest: i64,
}

/// One side's current source stream.
#[derive(Clone, Debug)]
pub(super) struct Stream {
    /// Its synchronisation source.
    pub ssrc: u32,
    newest_ts: u32,
    newest_pos: i64,
    newest_seq: u16,
    newest_len: i64,
    recent: [u32; RECENT],
    recent_len: usize,
    recent_next: usize,
    window: Window,
    probe: Option<Probe>,
}

impl Stream {
    /// A stream whose first packet is placed at its arrival.
    pub fn anchored(ssrc: u32, seq: u16, ts: u32, len: usize, arrival: i64) -> Stream {
        let mut stream = Stream {
            ssrc,
            newest_ts: ts,
            newest_pos: arrival,
            newest_seq: seq,
            newest_len: len as i64,
            recent: [0; RECENT],
            recent_len: 0,
            recent_next: 0,
            window: Window {
                start_ts: ts,
                packets: 0,
                min_lateness: 0,
            },
            probe: None,
        };
        stream.remember(ts);
        stream
    }

    /// Decides where a packet of this stream goes, moving the mapping if the rules say so.
    pub fn place(
        &mut self,
        arrival: i64,
        seq: u16,
        ts: u32,
        len: usize,
        limits: Limits,
    ) -> Outcome {
        if self.recent[..self.recent_len].contains(&ts) {
            return Outcome::Duplicate;
        }
        self.remember(ts);
        let delta = ts_delta(self.newest_ts, ts);
        let fresh = delta > 0;
        let mut pos = self.newest_pos.saturating_add(i64::from(delta));
        let lateness = arrival.saturating_sub(pos);
        let mut adjust = Adjust::None;

        if lateness.saturating_abs() > limits.resync {
            if !self.continuous(seq, ts) && !self.straggler(seq) {
                *self = Stream::anchored(self.ssrc, seq, ts, len, arrival);
                return Outcome::Placed {
                    pos: arrival,
                    adjust: Adjust::Resync,
                };
            }
            if !fresh {
                // An old packet of a stream that has moved on: placed as it maps, which
                // drops it unless it still fits the timeline.
                return Outcome::Placed { pos, adjust };
            }
            if let Some(shift) = self.probe(arrival, lateness) {
                self.newest_pos = self.newest_pos.saturating_add(shift);
                pos = pos.saturating_add(shift);
                adjust = Adjust::Resync;
            }
        } else if fresh {
            self.probe = None;
            let threshold = (limits.jitter / 2).max(FRAME / 2);
            if let Some(shift) = self.window_observe(lateness, ts, threshold) {
                self.newest_pos = self.newest_pos.saturating_add(shift);
                pos = pos.saturating_add(shift);
                adjust = Adjust::Realign;
            }
        }
        if fresh {
            self.newest_ts = ts;
            self.newest_pos = pos;
            self.newest_seq = seq;
            self.newest_len = len as i64;
        }
        Outcome::Placed { pos, adjust }
    }

    /// Whether a timestamp follows the sequence number from the newest packet, allowing for
    /// loss (several sequence numbers), frames split from one packet (same sequence number,
    /// timestamps 160 apart) and a change of packet size.
    fn continuous(&self, seq: u16, ts: u32) -> bool {
        let ds = i64::from(seq_delta(self.newest_seq, seq));
        let dt = i64::from(ts_delta(self.newest_ts, ts));
        let step = self.newest_len.max(1);
        (dt - ds * step).abs() <= 2 * step.max(FRAME)
    }

    /// Whether a packet is a little older by sequence number than the newest: a reordered
    /// packet from before a re-anchoring, which must not re-anchor the stream back.
    fn straggler(&self, seq: u16) -> bool {
        (-(RECENT as i16)..0).contains(&seq_delta(self.newest_seq, seq))
    }

    /// Rule 3: tracks a run of continuous packets beyond `resync`; returns the shift that
    /// re-anchors the stream once the run has lasted [`PROBE_SAMPLES`] of arrival time.
    fn probe(&mut self, arrival: i64, lateness: i64) -> Option<i64> {
        match &mut self.probe {
            Some(p) if p.closest.signum() == lateness.signum() => {
                if lateness.saturating_abs() < p.closest.saturating_abs() {
                    p.closest = lateness;
                }
                if arrival.saturating_sub(p.since) >= PROBE_SAMPLES {
                    let shift = p.closest;
                    self.probe = None;
                    self.window.packets = 0;
                    return Some(shift);
                }
            }
            _ => {
                self.probe = Some(Probe {
                    since: arrival,
                    closest: lateness,
                });
            }
        }
        None
    }

    /// Rule 4: adds a fresh packet's lateness to the window; at the window's end, returns
    /// the base lateness if it is beyond `threshold`.
    fn window_observe(&mut self, lateness: i64, ts: u32, threshold: i64) -> Option<i64> {
        let w = &mut self.window;
        if w.packets == 0 {
            w.start_ts = ts;
            w.min_lateness = lateness;
        } else {
            w.min_lateness = w.min_lateness.min(lateness);
        }
        w.packets += 1;
        if w.packets < WINDOW_MIN_PACKETS || ts_delta(w.start_ts, ts) < WINDOW_SAMPLES {
            return None;
        }
        w.packets = 0;
        (w.min_lateness.saturating_abs() > threshold).then_some(w.min_lateness)
    }

    fn remember(&mut self, ts: u32) {
        self.recent[self.recent_next] = ts;
        self.recent_next = (self.recent_next + 1) % RECENT;
        self.recent_len = (self.recent_len + 1).min(RECENT);
    }
}
