//! One direction of a bridged call's media: the RTP stream we send to one peer, fed in turn
//! by the prompt player, by audio relayed from the other leg, by hold music, and by relayed
//! audio again (RFC 3550 §5.1 header fields, §A.1 sequence tracking; RFC 4961 symmetric RTP
//! through [`Latch`]; RFC 4733 telephone-events relayed with the peer's payload type).
//!
//! Run loop (the runtime's per-call media task): every datagram read on this leg's socket
//! goes to [`RelayLeg::handle_inbound`]; what it returns is handed, with the same bytes, to
//! the *other* leg's [`RelayLeg::relay_from`], which writes the packet to send into a buffer
//! of the task's; the task sends it to that leg's [`RelayLeg::target`]. Before a prompt plays
//! on a leg the task takes [`RelayLeg::stream_for_player`] and gives the player's state back
//! with [`RelayLeg::resume_after_player`]. Time is an input; nothing here reads a clock.
//!
//! Invariants of the stream we send:
//! - one SSRC per leg, whatever the source, so the far end sees a single stream;
//! - sequence numbers step by one from packet to packet across every source switch, and
//!   packets we decide not to forward (an unnegotiated telephone-event, comfort noise) leave
//!   no gap: the far end's loss counters and concealment only see real loss;
//! - within one relayed source stream, timestamps and sequence numbers keep the source's
//!   spacing (an offset is added), so the far end's jitter buffer sees the source's timing
//!   and a reordered packet keeps its place;
//! - at a source switch the next timestamp is the last one sent plus the wall time elapsed
//!   since, in 8 kHz samples, and never inside the previous packet's samples; the first
//!   audio packet after a switch carries the marker bit (RFC 3551 §4.1);
//! - no input makes anything here panic, and nothing here allocates.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use self::sequence::{SeqTracker, SeqVerdict, REORDER_WINDOW};
use super::g711;
use super::latch::Latch;
use super::player::{RtpStreamState, FRAME_SAMPLES};
use super::rtp::{self, seq_delta, ts_delta, RtpHeader, RtpView};
use crate::media::Codec;

/// Comfort noise's static payload type (RFC 3389, RFC 3551 Table 4). We never negotiate it,
/// but some peers send it in silences anyway: it proves the peer alive, and is not relayed.
pub const COMFORT_NOISE_PT: u8 = 13;

/// What one peer of a call negotiated (from the SDP offer/answer with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegConfig {
    /// The G.711 law this peer sends and expects.
    pub codec: Codec,
    /// The payload type this peer expects for `codec` (static 0 or 8 in practice).
    pub payload_type: u8,
    /// This peer's `telephone-event/8000` payload type; `None` if it did not negotiate
    /// RFC 4733, in which case events from the other leg are not sent to it.
    pub telephone_event: Option<u8>,
    /// The address in the peer's SDP: where we send until its RTP arrives (then we latch).
    pub sdp_addr: SocketAddr,
    /// SRTP keys when this leg is secured (RTP/SAVP); `None` for plain RTP.
    pub srtp: Option<super::srtp::SrtpKeys>,
}

/// The payload types a peer's media may carry: its negotiated audio and telephone-event
/// types, both G.711 static types (some peers switch law without a new offer), comfort
/// noise.
fn accepted_payload_types(cfg: &LegConfig) -> ([u8; 5], usize) {
    let mut accepted = [0u8; 5];
    let mut len = 0;
    let pts = [
        Some(cfg.payload_type),
        Some(Codec::Pcmu.payload_type()),
        Some(Codec::Pcma.payload_type()),
        cfg.telephone_event,
        Some(COMFORT_NOISE_PT),
    ];
    for pt in pts.into_iter().flatten() {
        if !accepted[..len].contains(&pt) {
            accepted[len] = pt;
            len += 1;
        }
    }
    (accepted, len)
}

/// The other G.711 law's bytes in `codec`'s law: one lookup per byte on the relay path.
fn other_law_table(codec: Codec) -> [u8; 256] {
    let other_law = match codec {
        Codec::Pcmu => Codec::Pcma,
        Codec::Pcma => Codec::Pcmu,
    };
    let mut table: [u8; 256] = std::array::from_fn(|b| b as u8);
    g711::transcode(other_law, codec, &mut table);
    table
}

/// What an accepted inbound packet carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InboundKind {
    /// G.711 audio in this law.
    Audio(Codec),
    /// An RFC 4733 telephone-event (DTMF).
    Dtmf,
    /// RFC 3389 comfort noise.
    ComfortNoise,
}

/// An accepted packet from a leg's peer: what [`RelayLeg::relay_from`] and the recorder
/// need, without parsing the datagram again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inbound {
    /// What the payload is.
    pub kind: InboundKind,
    /// The header as received.
    pub header: RtpHeader,
    /// Where the payload starts in the datagram (after CSRCs and extension).
    pub payload_offset: usize,
    /// Payload length, without padding.
    pub payload_len: usize,
    /// The first packet of a new source stream: a new SSRC, or the sender started its
    /// sequence over. Receivers re-anchor their mapping on it.
    pub new_stream: bool,
}

impl Inbound {
    /// The payload within `packet`, the datagram this was made from (empty for another).
    pub fn payload<'a>(&self, packet: &'a [u8]) -> &'a [u8] {
        packet
            .get(self.payload_offset..self.payload_offset.saturating_add(self.payload_len))
            .unwrap_or(&[])
    }
}

/// Counters of one leg: what its peer sent us, and what we relayed to it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LegStats {
    /// RTP packets accepted from the latched peer (duplicates included).
    pub packets_in: u64,
    /// Their bytes, headers included.
    pub bytes_in: u64,
    /// Packets written for this peer by [`RelayLeg::relay_from`].
    pub packets_out: u64,
    /// Their bytes.
    pub bytes_out: u64,
    /// Sequence numbers skipped by the peer's stream and not filled in later.
    pub lost: u64,
    /// Packets that arrived after a newer one (reordered), forwarded or not.
    pub late: u64,
    /// Packets seen twice.
    pub duplicates: u64,
    /// Distinct RFC 4733 events received.
    pub dtmf_events: u64,
    /// Comfort-noise packets received.
    pub comfort_noise: u64,
    /// Datagrams ignored: not RTP, RTCP, an unknown payload type, or a source other than
    /// the latched one.
    pub ignored: u64,
    /// Packets from the other leg not forwarded to this peer: telephone-events it did not
    /// negotiate, comfort noise, packets too late for their place in the stream.
    pub not_relayed: u64,
}

/// Where the packets we send come from now.
#[derive(Clone, Copy, Debug)]
enum Source {
    /// Nothing is being sent; the next relayed packet starts a new segment.
    Idle,
    /// A prompt player owns the stream (between `stream_for_player` and
    /// `resume_after_player`).
    Player,
    /// Packets of one source stream of the other leg are being relayed.
    Relay(Segment),
}

/// The mapping of one relayed source stream onto ours.
#[derive(Clone, Copy, Debug)]
struct Segment {
    ssrc: u32,
    seq_offset: u16,
    ts_offset: u32,
    /// The newest source sequence number relayed (or dropped in order).
    newest_in: u16,
    /// Source packets older than this are not mapped: their place was given away.
    floor_in: u16,
}

/// The stream we send to one peer, and what that peer sends us. See the module docs.
#[derive(Debug)]
pub struct RelayLeg {
    cfg: LegConfig,
    latch: Latch,
    /// Payload types the latch may accept, and how many of the array are in use.
    accepted: [u8; 5],
    accepted_len: usize,
    seq_in: SeqTracker,
    /// The other G.711 law's bytes in this peer's law: one lookup per byte on the relay
    /// path (G.711's direct conversion, built once from [`g711::transcode`]).
    from_other_law: [u8; 256],
    last_dtmf_ts: Option<u32>,
    ssrc: u32,
    next_seq: u16,
    /// The timestamp that corresponds to `anchor_at`: wall time elapsed since it, in
    /// samples, is added at a source switch.
    anchor_ts: u32,
    anchor_at: Instant,
    /// The timestamp just after the newest packet sent: a switch never goes below it.
    next_min_ts: u32,
    marker_pending: bool,
    source: Source,
    stats: LegStats,
}

impl RelayLeg {
    /// A leg that will send as `out` (SSRC, first sequence number, and the timestamp for a
    /// packet sent at `now`) to the peer `cfg` describes.
    pub fn new(cfg: LegConfig, out: RtpStreamState, now: Instant) -> RelayLeg {
        let (accepted, accepted_len) = accepted_payload_types(&cfg);
        RelayLeg {
            cfg,
            latch: Latch::new(cfg.sdp_addr),
            accepted,
            accepted_len,
            seq_in: SeqTracker::default(),
            from_other_law: other_law_table(cfg.codec),
            last_dtmf_ts: None,
            ssrc: out.ssrc,
            next_seq: out.seq,
            anchor_ts: out.ts,
            anchor_at: now,
            next_min_ts: out.ts,
            marker_pending: true,
            source: Source::Idle,
            stats: LegStats::default(),
        }
    }

    /// The peer made a new offer or answer (re-INVITE, UPDATE: RFC 3264 §8) at `now`: from
    /// now on it takes `cfg`'s codec and payload types, and if its address moved we send
    /// there at once and latch again to wherever its media then comes from (an unspecified
    /// address or port 0, the old way of saying "hold", keeps the current destination). Our
    /// stream towards it goes on (same SSRC, sequence numbers in step); the next packet
    /// starts a talkspurt. Returns whether the peer moved.
    pub fn update(&mut self, cfg: LegConfig, now: Instant) -> bool {
        let no_address = cfg.sdp_addr.ip().is_unspecified() || cfg.sdp_addr.port() == 0;
        let moved = !no_address && cfg.sdp_addr != self.cfg.sdp_addr;
        if moved {
            self.latch.move_to(now, cfg.sdp_addr);
        }
        let cfg = LegConfig {
            sdp_addr: if no_address {
                self.cfg.sdp_addr
            } else {
                cfg.sdp_addr
            },
            ..cfg
        };
        if cfg.codec != self.cfg.codec {
            self.from_other_law = other_law_table(cfg.codec);
        }
        (self.accepted, self.accepted_len) = accepted_payload_types(&cfg);
        self.cfg = cfg;
        self.end_source();
        moved
    }

    /// The same leg with another silence period before its latch may move (see [`Latch`]).
    pub fn with_relatch_after(mut self, relatch_after: Duration) -> RelayLeg {
        self.latch = Latch::new(self.cfg.sdp_addr).with_relatch_after(relatch_after);
        self
    }

    /// A datagram arrived on this leg's socket from `src`. Latches to the peer (symmetric
    /// RTP) and tracks its sequence numbers; returns what it carries if it should be
    /// forwarded (or recorded). Ignored: anything not RTP from the latched peer with a
    /// payload type it negotiated, duplicates, packets too late to use.
    pub fn handle_inbound(
        &mut self,
        now: Instant,
        src: SocketAddr,
        packet: &[u8],
    ) -> Option<Inbound> {
        let Ok(view) = RtpView::parse(packet) else {
            self.stats.ignored += 1;
            return None;
        };
        let Some(kind) = self.classify(view.payload_type()) else {
            self.stats.ignored += 1;
            return None;
        };
        if !self
            .latch
            .handle_incoming(now, src, packet, &self.accepted[..self.accepted_len])
        {
            self.stats.ignored += 1;
            return None;
        }
        self.stats.packets_in += 1;
        self.stats.bytes_in += packet.len() as u64;
        let header = view.header();
        let new_stream = match self.seq_in.observe(header.ssrc, header.seq) {
            SeqVerdict::Fresh { new_stream, gap } => {
                self.stats.lost += u64::from(gap);
                new_stream
            }
            SeqVerdict::Late => {
                self.stats.late += 1;
                // It fills a gap counted as lost when a newer packet arrived.
                self.stats.lost = self.stats.lost.saturating_sub(1);
                false
            }
            SeqVerdict::TooLate => {
                self.stats.late += 1;
                return None;
            }
            SeqVerdict::Duplicate => {
                self.stats.duplicates += 1;
                return None;
            }
            SeqVerdict::Suspect => return None,
        };
        match kind {
            InboundKind::Dtmf if self.last_dtmf_ts != Some(header.timestamp) => {
                // All packets of one event share its start timestamp (RFC 4733 §2.5.1.2).
                self.last_dtmf_ts = Some(header.timestamp);
                self.stats.dtmf_events += 1;
            }
            InboundKind::ComfortNoise => self.stats.comfort_noise += 1,
            _ => {}
        }
        let payload = view.payload();
        Some(Inbound {
            kind,
            header,
            // The view's payload is a sub-slice of `packet`, so the address difference is
            // its offset.
            payload_offset: payload.as_ptr() as usize - packet.as_ptr() as usize,
            payload_len: payload.len(),
            new_stream,
        })
    }

    /// Writes into `out` the packet to send to this leg's peer for `packet`, which arrived
    /// on the *other* leg and was accepted there as `inbound`: our SSRC, sequence number
    /// and timestamp; the payload transcoded between μ-law and A-law in place if the legs
    /// differ; a telephone-event with this peer's payload type. Returns its length, or
    /// `None` if nothing is to be sent (this peer did not negotiate telephone-event, comfort
    /// noise, a packet too late for its place, `out` too small, or a prompt player holding
    /// the stream: between `stream_for_player` and `resume_after_player` it owns it).
    pub fn relay_from(
        &mut self,
        now: Instant,
        inbound: &Inbound,
        packet: &[u8],
        out: &mut [u8],
    ) -> Option<usize> {
        if matches!(self.source, Source::Player) {
            self.stats.not_relayed += 1;
            return None;
        }
        let h = inbound.header;
        let mut seg = match self.source {
            Source::Relay(seg) if seg.ssrc == h.ssrc && !inbound.new_stream => seg,
            _ => self.start_segment(now, h),
        };
        let newest = seq_delta(seg.newest_in, h.seq) > 0;
        let result = if !newest && seq_delta(seg.floor_in, h.seq) < 0 {
            None
        } else {
            self.write_relayed(now, inbound, &seg, packet, out)
        };
        match result {
            Some(_) if newest => {
                seg.newest_in = h.seq;
                // Keep the floor near: compared with wrapping arithmetic, a floor left half
                // the sequence space behind would look ahead.
                if seq_delta(seg.floor_in, h.seq) > REORDER_WINDOW as i16 {
                    seg.floor_in = h.seq.wrapping_sub(REORDER_WINDOW);
                }
            }
            None if newest => {
                // Give the dropped packet's sequence number to the next one, so the far end
                // sees no gap; older packets would now map onto taken numbers.
                seg.newest_in = h.seq;
                seg.seq_offset = seg.seq_offset.wrapping_sub(1);
                seg.floor_in = h.seq.wrapping_add(1);
            }
            _ => {}
        }
        if result.is_none() {
            self.stats.not_relayed += 1;
        }
        self.source = Source::Relay(seg);
        result
    }

    /// Hands the stream to a prompt player started at `now`: the state it must continue
    /// from (the timestamp advanced by the time elapsed since the last packet sent).
    pub fn stream_for_player(&mut self, now: Instant) -> RtpStreamState {
        let ts = self.continue_ts(now);
        self.anchor_ts = ts;
        self.anchor_at = now;
        self.next_min_ts = ts;
        self.source = Source::Player;
        RtpStreamState {
            ssrc: self.ssrc,
            seq: self.next_seq,
            ts,
        }
    }

    /// Takes the stream back from the player stopped at `now`, with its
    /// [`stream_state`](super::player::PromptPlayer::stream_state). The next relayed packet
    /// starts a new segment (marker bit, timestamp by elapsed time).
    pub fn resume_after_player(&mut self, state: RtpStreamState, now: Instant) {
        if !matches!(self.source, Source::Player) {
            // No hand-off to time from: the player's next frame would have been due now.
            self.anchor_ts = state.ts;
            self.anchor_at = now;
        }
        // Otherwise the player kept the schedule of the hand-off anchor: frame i at
        // anchor + 20 ms × i with timestamp anchor_ts + 160 × i, so the anchor still holds.
        self.next_seq = state.seq;
        self.next_min_ts = state.ts;
        self.marker_pending = true;
        self.source = Source::Idle;
    }

    /// The current source stopped (the other leg went on hold or away): the next relayed
    /// packet starts a new segment, timed by the wall clock, with the marker bit.
    pub fn end_source(&mut self) {
        if !matches!(self.source, Source::Player) {
            self.source = Source::Idle;
            self.marker_pending = true;
        }
    }

    /// Where to send to this peer: the latched source, else the SDP address.
    pub fn target(&self) -> SocketAddr {
        self.latch.target()
    }

    /// The peer's source while no other may take its place (see [`Latch::pinned`]): the
    /// leg's socket may be connected to it.
    pub fn pinned(&self, now: Instant) -> Option<SocketAddr> {
        self.latch.pinned(now)
    }

    /// When [`Self::pinned`] ends unless the peer is heard again.
    pub fn pinned_until(&self) -> Option<Instant> {
        self.latch.pinned_until()
    }

    /// When the peer's media was last accepted; `None` before its first packet.
    pub fn last_inbound(&self) -> Option<Instant> {
        self.latch.last_heard()
    }

    /// The counters so far.
    pub fn stats(&self) -> LegStats {
        self.stats
    }

    /// What this peer negotiated.
    pub fn config(&self) -> &LegConfig {
        &self.cfg
    }

    /// Our SSRC towards this peer.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    fn classify(&self, pt: u8) -> Option<InboundKind> {
        if pt == self.cfg.payload_type {
            Some(InboundKind::Audio(self.cfg.codec))
        } else if Some(pt) == self.cfg.telephone_event {
            Some(InboundKind::Dtmf)
        } else if pt == COMFORT_NOISE_PT {
            Some(InboundKind::ComfortNoise)
        } else {
            // A peer offered both laws may send either, whatever the answer chose.
            Codec::from_static_payload_type(pt).map(InboundKind::Audio)
        }
    }

    /// The timestamp for a packet sent at `now` after a pause in the stream: wall time since
    /// the anchor, but never inside the last packet sent.
    fn continue_ts(&self, now: Instant) -> u32 {
        // 125 µs per sample; `as u32` wraps like the timestamp itself.
        let samples = (now.saturating_duration_since(self.anchor_at).as_micros() / 125) as u32;
        let by_clock = self.anchor_ts.wrapping_add(samples);
        if ts_delta(self.next_min_ts, by_clock) > 0 {
            by_clock
        } else {
            self.next_min_ts
        }
    }

    fn start_segment(&mut self, now: Instant, h: RtpHeader) -> Segment {
        self.marker_pending = true;
        let ts = self.continue_ts(now);
        Segment {
            ssrc: h.ssrc,
            seq_offset: self.next_seq.wrapping_sub(h.seq),
            ts_offset: ts.wrapping_sub(h.timestamp),
            newest_in: h.seq.wrapping_sub(1),
            floor_in: h.seq,
        }
    }

    fn write_relayed(
        &mut self,
        now: Instant,
        inbound: &Inbound,
        seg: &Segment,
        packet: &[u8],
        out: &mut [u8],
    ) -> Option<usize> {
        let h = inbound.header;
        let (payload_type, marker) = match inbound.kind {
            InboundKind::Audio(_) => (self.cfg.payload_type, h.marker || self.marker_pending),
            // An event's marker means its start (RFC 4733 §2.5.1.3): kept as sent.
            InboundKind::Dtmf => (self.cfg.telephone_event?, h.marker),
            InboundKind::ComfortNoise => return None,
        };
        let payload = inbound.payload(packet);
        if payload.len() != inbound.payload_len {
            return None;
        }
        let seq = h.seq.wrapping_add(seg.seq_offset);
        let ts = h.timestamp.wrapping_add(seg.ts_offset);
        let header = RtpHeader {
            payload_type,
            marker,
            seq,
            timestamp: ts,
            ssrc: self.ssrc,
        };
        let len = rtp::write_packet(&header, payload, out).ok()?;
        if let InboundKind::Audio(codec) = inbound.kind {
            if codec != self.cfg.codec {
                for b in &mut out[rtp::HEADER_LEN..len] {
                    *b = self.from_other_law[usize::from(*b)];
                }
            }
            self.marker_pending = false;
            // One G.711 byte is one sample; an empty payload still takes a frame's place.
            let samples = if payload.is_empty() {
                FRAME_SAMPLES
            } else {
                payload.len()
            };
            if ts_delta(self.anchor_ts, ts) >= 0 {
                self.anchor_ts = ts;
                self.anchor_at = now;
                self.next_min_ts = ts.wrapping_add(samples as u32);
            }
        }
        if seq_delta(self.next_seq, seq) >= 0 {
            self.next_seq = seq.wrapping_add(1);
        }
        self.stats.packets_out += 1;
        self.stats.bytes_out += len as u64;
        Some(len)
    }
}

mod sequence;

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
