//! The recorder's feed from a call's media task: each accepted inbound audio packet as
//! fixed-size frames (at most 20 ms, 160 G.711 bytes), so the bounded channel between the
//! media task and the recording task never allocates per packet.
//!
//! Invariants: a frame's `ts` is the sender's timestamp of its first sample (a longer packet
//! is split, `ts` advancing by the samples before); frames are offered with `try_send` and
//! dropped (and counted) when the recorder is behind: the media path never waits on disk.

use std::time::Instant;

use tokio::sync::mpsc;

use super::Leg;
use crate::media::player::FRAME_SAMPLES;
use crate::media::relay::{Inbound, InboundKind};
use crate::media::Codec;

/// One inbound audio packet (or 20 ms of a longer one) for the recorder: fixed size, so a
/// bounded channel of them never allocates per packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordFrame {
    /// Whose audio.
    pub leg: Leg,
    /// When the packet was read.
    pub at: Instant,
    /// The sender's sequence number.
    pub seq: u16,
    /// The sender's timestamp of `payload[0]` (advanced by 160 per split-off frame).
    pub ts: u32,
    /// The sender's SSRC: a change means a new stream whose timestamps start elsewhere.
    pub ssrc: u32,
    /// The law of `payload`.
    pub codec: Codec,
    /// G.711 bytes, `len` of them.
    pub payload: [u8; FRAME_SAMPLES],
    /// How many bytes of `payload` are audio.
    pub len: usize,
}

impl RecordFrame {
    /// The audio bytes.
    pub fn audio(&self) -> &[u8] {
        self.payload.get(..self.len).unwrap_or(&self.payload)
    }
}

/// Copies an audio packet to the recorder, in frames of at most 160 samples.
pub(super) fn record(
    frames: &mpsc::Sender<RecordFrame>,
    leg: Leg,
    at: Instant,
    inbound: &Inbound,
    packet: &[u8],
    dropped: &mut u64,
) {
    let InboundKind::Audio(codec) = inbound.kind else {
        return;
    };
    let h = inbound.header;
    for (i, chunk) in inbound.payload(packet).chunks(FRAME_SAMPLES).enumerate() {
        let mut frame = RecordFrame {
            leg,
            at,
            seq: h.seq,
            ts: h.timestamp.wrapping_add((i * FRAME_SAMPLES) as u32),
            ssrc: h.ssrc,
            codec,
            payload: [0; FRAME_SAMPLES],
            len: chunk.len(),
        };
        frame.payload[..chunk.len()].copy_from_slice(chunk);
        if frames.try_send(frame).is_err() {
            *dropped += 1;
        }
    }
}
