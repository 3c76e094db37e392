//! Tracking the sequence numbers of the peer's stream (RFC 3550 §A.1): loss, reordering,
//! duplicates, and a sender that started over, with a bitmap of the recent past so a late
//! packet is told from a duplicate. Plain arithmetic, no allocation.

use crate::media::rtp::seq_delta;

/// A jump forward larger than this restarts sequence tracking instead of counting loss
/// (RFC 3550 §A.1 `MAX_DROPOUT`).
pub(super) const MAX_DROPOUT: u16 = 3000;
/// A packet further behind than this is not "late" but a sender that started over
/// (RFC 3550 §A.1 `MAX_MISORDER`).
pub(super) const MAX_MISORDER: u16 = 100;
/// How far back duplicates are recognised and late packets still forwarded: the width of
/// the bitmap of recently seen sequence numbers. A packet later than this is too late for
/// any jitter buffer.
pub(super) const REORDER_WINDOW: u16 = 64;

/// What sequence tracking concluded about a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SeqVerdict {
    /// Newer than any seen so far; `gap` sequence numbers were skipped.
    Fresh { new_stream: bool, gap: u16 },
    /// Older than the newest, first time seen, recent enough to forward.
    Late,
    /// Already seen.
    Duplicate,
    /// Too old to forward.
    TooLate,
    /// A jump that may be a restart; confirmed only by the next packet (RFC 3550 §A.1).
    Suspect,
}

/// RFC 3550 §A.1-style tracking of the peer's sequence numbers, with a bitmap of the
/// last [`REORDER_WINDOW`] to tell late packets from duplicates.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct SeqTracker {
    ssrc: Option<u32>,
    max_seq: u16,
    /// Bit `i` set: `max_seq - i` was received.
    window: u64,
    /// After a suspicious jump, the sequence number that would confirm a restart.
    bad_seq: Option<u16>,
}

impl SeqTracker {
    pub(super) fn observe(&mut self, ssrc: u32, seq: u16) -> SeqVerdict {
        if self.ssrc != Some(ssrc) || self.bad_seq == Some(seq) {
            self.restart(ssrc, seq);
            return SeqVerdict::Fresh {
                new_stream: true,
                gap: 0,
            };
        }
        let delta = seq_delta(self.max_seq, seq);
        let behind = delta.unsigned_abs();
        if delta > 0 && behind <= MAX_DROPOUT {
            self.window = if behind >= REORDER_WINDOW {
                1
            } else {
                (self.window << behind) | 1
            };
            self.max_seq = seq;
            self.bad_seq = None;
            SeqVerdict::Fresh {
                new_stream: false,
                gap: behind - 1,
            }
        } else if delta == 0 {
            SeqVerdict::Duplicate
        } else if delta < 0 && behind < REORDER_WINDOW {
            let bit = 1u64 << behind;
            if self.window & bit != 0 {
                SeqVerdict::Duplicate
            } else {
                self.window |= bit;
                SeqVerdict::Late
            }
        } else if delta < 0 && behind <= MAX_MISORDER {
            SeqVerdict::TooLate
        } else {
            self.bad_seq = Some(seq.wrapping_add(1));
            SeqVerdict::Suspect
        }
    }

    fn restart(&mut self, ssrc: u32, seq: u16) {
        *self = SeqTracker {
            ssrc: Some(ssrc),
            max_seq: seq,
            window: 1,
            bad_seq: None,
        };
    }
}
