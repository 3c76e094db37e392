//! The ring is decoded a bitmap word at a time: runs of received audio in one law, runs
//! of silence, and words that mix both or both laws. Whatever the packets' sizes, laws
//! and losses, and however the drains cut the timeline, each position must drain as its
//! own byte in its own law, or as silence, and the lost frames must count every gap.

use std::time::{Duration, Instant};

use super::*;
use proptest::prelude::*;

/// A packet of `len` samples of `byte` in `alaw` or μ-law; `sent: false` is lost.
#[derive(Clone, Debug)]
struct Spec {
    len: usize,
    byte: u8,
    alaw: bool,
    sent: bool,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        1usize..200,
        any::<u8>(),
        any::<bool>(),
        prop::bool::weighted(0.8),
    )
        .prop_map(|(len, byte, alaw, sent)| Spec {
            len,
            byte,
            alaw,
            sent,
        })
}

/// When `samples` of audio have been sent since time zero.
fn at(t0: Instant, samples: usize) -> Instant {
    t0 + Duration::from_nanos(samples as u64 * 125_000)
}

proptest! {
    #[test]
    fn every_position_drains_as_its_own_byte_and_law_or_as_silence(
        packets in proptest::collection::vec(spec(), 1..60),
        drains in proptest::collection::vec(1usize..700, 1..30),
    ) {
        let t0 = Instant::now();
        let config = AlignerConfig { jitter: Duration::ZERO, ..AlignerConfig::default() };
        let mut aligner = Aligner::new(config, t0);
        let mut expected = Vec::new();
        let mut out = Vec::new();
        let mut drain_at = drains.iter().cycle().scan(0usize, |d, step| {
            *d += step;
            Some(*d)
        });
        let mut next_drain = drain_at.next().unwrap_or(usize::MAX);
        let (mut ts, mut seq) = (0usize, 0u16);
        for (k, p) in packets.iter().enumerate() {
            // The first packet anchors the stream, so it always arrives.
            if p.sent || k == 0 {
                let codec = if p.alaw { Codec::Pcma } else { Codec::Pcmu };
                aligner.push(Side::Caller, at(t0, ts), seq, ts as u32, 7, codec, &vec![p.byte; p.len]);
                expected.extend(std::iter::repeat_n(g711::decode_sample(codec, p.byte), p.len));
            } else {
                expected.extend(std::iter::repeat_n(0, p.len));
            }
            ts += p.len;
            seq = seq.wrapping_add(1);
            while next_drain <= ts {
                aligner.drain(at(t0, next_drain), &mut out);
                next_drain = drain_at.next().unwrap_or(usize::MAX);
            }
        }
        aligner.finish(at(t0, ts), &mut out);
        let caller: Vec<i16> = out.iter().step_by(2).copied().collect();
        prop_assert_eq!(&caller, &expected);
        prop_assert!(out.iter().skip(1).step_by(2).all(|&s| s == 0), "the operator sent nothing");
        // Each run of silence between two heard samples counts its 20 ms frames, rounded up.
        let mut lost = 0;
        let (mut heard, mut gap) = (false, 0u64);
        for (k, p) in packets.iter().enumerate() {
            if p.sent || k == 0 {
                if heard && gap > 0 {
                    lost += gap.div_ceil(FRAME);
                }
                heard = true;
                gap = 0;
            } else {
                gap += p.len as u64;
            }
        }
        prop_assert_eq!(aligner.stats().caller.lost_frames, lost);
    }
}
