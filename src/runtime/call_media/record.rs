//! The recorder's feed from a call's media task: each accepted inbound audio packet as
//! fixed-size frames (at most 20 ms, 160 G.711 bytes) in a single-producer single-consumer
//! ring allocated once per recording, so the path between the media task and the
//! recording's writer thread never allocates, locks or wakes anyone per packet: the
//! writer takes what is there on its own tick.
//!
//! Invariants: a frame's `ts` is the sender's timestamp of its first sample (a longer packet
//! is split, `ts` advancing by the samples before); frames are offered without waiting and
//! dropped (and counted) when the recorder is behind: the media path never waits on disk.
//! The queue itself is [`frame_ring`].

use std::time::Instant;

use super::frame_ring::{self, PushError};
use super::Leg;
use crate::media::player::FRAME_SAMPLES;
use crate::media::relay::{Inbound, InboundKind};
use crate::media::Codec;

// A frame's length is kept in a byte.
const _: () = assert!(FRAME_SAMPLES <= u8::MAX as usize);

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
    /// How many bytes of `payload` are audio (at most 160: a byte keeps the frame at 192
    /// bytes, three cache lines, where a `usize` made it 200).
    pub len: u8,
}

impl RecordFrame {
    /// The audio bytes.
    pub fn audio(&self) -> &[u8] {
        self.payload
            .get(..usize::from(self.len))
            .unwrap_or(&self.payload)
    }
}

/// Creates a recording's frame queue holding `capacity` frames (at least one).
pub fn frame_queue(capacity: usize) -> (FrameSender, FrameReceiver) {
    let (tx, rx) = frame_ring::ring(capacity);
    (FrameSender(tx), FrameReceiver(rx))
}

/// The media task's end of a recording's frame queue.
#[derive(Debug)]
pub struct FrameSender(frame_ring::Sender);

/// Why a frame was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameRefused {
    /// The recorder is behind: the queue is full.
    #[error("the recording's frame queue is full")]
    Full,
    /// The recording has ended: nobody reads the queue any more. Seen once the queue is
    /// full: what was queued after the end is never read, and never counted as dropped.
    #[error("the recording has ended")]
    Closed,
}

impl FrameSender {
    /// Queues a frame without waiting.
    pub fn try_send(&mut self, frame: RecordFrame) -> Result<(), FrameRefused> {
        self.0.push(frame).map_err(|e| match e {
            PushError::Full => FrameRefused::Full,
            PushError::Gone => FrameRefused::Closed,
        })
    }

    /// Frames that fit before the queue is full.
    pub fn free(&self) -> usize {
        self.0.free()
    }
}

/// The writer's end of a recording's frame queue.
#[derive(Debug)]
pub struct FrameReceiver(frame_ring::Receiver);

impl FrameReceiver {
    /// The oldest queued frame, if any.
    pub fn try_recv(&mut self) -> Option<RecordFrame> {
        self.0.pop()
    }

    /// Whether the sender is gone (its frames already queued are still there).
    pub fn is_closed(&self) -> bool {
        self.0.is_abandoned()
    }
}

/// Copies an audio packet to the recorder, in frames of at most 160 samples. Returns
/// `false` when the recording has ended (its writer is gone): audio after the end is not
/// part of it, so it is not counted as dropped.
pub(super) fn record(
    frames: &mut FrameSender,
    leg: Leg,
    at: Instant,
    inbound: &Inbound,
    packet: &[u8],
    dropped: &mut u64,
) -> bool {
    let InboundKind::Audio(codec) = inbound.kind else {
        return true;
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
            // `chunks(FRAME_SAMPLES)`: at most 160.
            len: chunk.len() as u8,
        };
        frame.payload[..chunk.len()].copy_from_slice(chunk);
        match frames.try_send(frame) {
            Ok(()) => {}
            Err(FrameRefused::Full) => *dropped += 1,
            Err(FrameRefused::Closed) => return false,
        }
    }
    true
}
