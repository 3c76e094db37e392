//! Aligner drain tests: how much each drain hands out and when (the jitter window, the
//! end of the timeline, whole disk blocks), odd inputs, each byte's law, and no
//! allocation once running.

use std::time::{Duration, Instant};

use super::tests::{on_time, value, Sender, MS, P};
use super::*;

#[test]
fn drain_holds_back_the_jitter_window_and_finish_ends_the_timeline() {
    let t0 = Instant::now();
    let mut aligner = Aligner::new(AlignerConfig::default(), t0);
    let mut out = Vec::new();
    assert_eq!(aligner.drain(t0 + 50 * MS, &mut out), 0);
    assert_eq!(aligner.drain(t0 + 100 * MS, &mut out), 160);
    assert_eq!(out.len(), 320);
    assert_eq!(aligner.drain(t0 + 90 * MS, &mut out), 0, "time going back");
    // A packet for a drained position is late; one inside the window is kept.
    aligner.push(
        Side::Caller,
        t0 + 100 * MS,
        1,
        0,
        9,
        Codec::Pcmu,
        &[0x90; 160],
    );
    aligner.push(
        Side::Caller,
        t0 + 100 * MS,
        2,
        160,
        9,
        Codec::Pcmu,
        &[0x91; 160],
    );
    assert_eq!(aligner.stats().caller.late_dropped, 0);
    assert_eq!(aligner.finish(t0 + 150 * MS, &mut out), 1040);
    assert_eq!(aligner.frames(), 1200);
    assert_eq!(out[2 * 800], g711::decode_sample(Codec::Pcmu, 0x90));
    assert_eq!(out[2 * 960], g711::decode_sample(Codec::Pcmu, 0x91));
    // After the end nothing more comes out, and packets are ignored.
    aligner.push(
        Side::Caller,
        t0 + 200 * MS,
        3,
        320,
        9,
        Codec::Pcmu,
        &[0x92; 160],
    );
    assert_eq!(aligner.drain(t0 + Duration::from_secs(5), &mut out), 0);
    assert_eq!(aligner.finish(t0 + Duration::from_secs(5), &mut out), 0);
    assert_eq!(out.len(), 2400);
}

#[test]
fn odd_inputs_do_not_panic() {
    let t0 = Instant::now();
    let mut aligner = Aligner::new(AlignerConfig::default(), t0 + Duration::from_secs(1));
    let mut out = Vec::new();
    // Before the start, empty, oversized, far-future timestamps, every SSRC change.
    aligner.push(Side::Caller, t0, 0, 0, 1, Codec::Pcma, &[0xD5; 160]);
    aligner.push(
        Side::Caller,
        t0 + Duration::from_secs(1),
        1,
        160,
        1,
        Codec::Pcma,
        &[],
    );
    aligner.push(
        Side::Operator,
        t0 + Duration::from_secs(2),
        0,
        0,
        2,
        Codec::Pcma,
        &[1; 100_000],
    );
    for i in 0..2000u32 {
        let at = t0 + Duration::from_secs(1) + MS * (i * 7 % 3000);
        let ts = i.wrapping_mul(0x9E37_79B9);
        aligner.push(
            Side::Operator,
            at,
            (i * 31) as u16,
            ts,
            i % 3,
            Codec::Pcmu,
            &[0x80; 160],
        );
        aligner.drain(at, &mut out);
    }
    aligner.finish(t0 + Duration::from_secs(5), &mut out);
    assert_eq!(out.len(), 2 * 32_000);
}

#[test]
fn push_and_drain_do_not_allocate_in_steady_state() {
    let t0 = Instant::now();
    let mut aligner = Aligner::new(AlignerConfig::default(), t0);
    let mut out = Vec::with_capacity(4096);
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let operator = Sender::new(Side::Operator, 2, 0, 0);
    let step = |k: u32, aligner: &mut Aligner, out: &mut Vec<i16>| {
        let at = t0 + 20 * MS * k;
        for p in [caller.packet(k, at), operator.packet(k, at + 3 * MS)] {
            aligner.push(p.side, p.at, p.seq, p.ts, p.ssrc, Codec::Pcmu, &[p.byte; P]);
        }
        out.clear();
        aligner.drain(at, out);
    };
    for k in 0..100 {
        step(k, &mut aligner, &mut out);
    }
    let info = allocation_counter::measure(|| {
        for k in 100..1100 {
            step(k, &mut aligner, &mut out);
        }
    });
    assert_eq!(info.count_total, 0);
    assert_eq!(aligner.stats().caller.packets, 1100);
}

/// The ring keeps each byte with its law: a leg that changes codec (a re-INVITE) while its
/// earlier packets still wait to be drained has both decoded right, and a slot nothing
/// wrote drains as silence, not as whatever byte its last turn left there.
#[test]
fn each_sample_is_decoded_in_the_law_it_came_in_and_unwritten_slots_are_silent() {
    let t0 = Instant::now();
    let mut aligner = Aligner::new(AlignerConfig::default(), t0);
    let mut out = Vec::new();
    aligner.push(Side::Caller, t0, 1, 0, 9, Codec::Pcmu, &[0x90; 160]);
    aligner.push(
        Side::Caller,
        t0 + 20 * MS,
        2,
        160,
        9,
        Codec::Pcma,
        &[0x90; 160],
    );
    aligner.drain(t0 + 200 * MS, &mut out);
    assert_eq!(out[0], g711::decode_sample(Codec::Pcmu, 0x90));
    assert_eq!(out[2 * 160], g711::decode_sample(Codec::Pcma, 0x90));
    assert_ne!(out[0], out[2 * 160], "the two laws decode 0x90 differently");
    // The operator sent nothing: silence, although a byte of 0 is not μ-law's zero.
    assert!(out.iter().skip(1).step_by(2).all(|&s| s == 0));
    // One ring later the caller's slots hold old bytes but no packet: silence again.
    out.clear();
    aligner.drain(t0 + Duration::from_secs(3), &mut out);
    assert!(out.iter().all(|&s| s == 0));
}

#[test]
fn draining_to_a_boundary_holds_the_tail_back_and_loses_nothing() {
    let t0 = Instant::now();
    let caller = Sender::new(Side::Caller, 1, 0, 0);
    let operator = Sender::new(Side::Operator, 2, 0, 0);
    let mut packets = on_time(&caller, t0, Duration::ZERO, 0..50);
    packets.extend(on_time(&operator, t0, Duration::ZERO, 0..50));
    packets.sort_by_key(|p| p.at);
    let mut aligner = Aligner::new(AlignerConfig::default(), t0);
    let mut out = Vec::new();
    let mut ends = Vec::new();
    let mut next = 0;
    for tick in [250, 500, 750] {
        let now = t0 + tick * MS;
        while let Some(p) = packets.get(next).filter(|p| p.at <= now) {
            aligner.push(p.side, p.at, p.seq, p.ts, p.ssrc, Codec::Pcmu, &[p.byte; P]);
            next += 1;
        }
        // Blocks of 1,024 frames after 11 frames of header.
        let appended = aligner.drain_to_boundary(now, 1024, 11, &mut out);
        ends.push((appended, aligner.frames()));
    }
    // Final: 170 ms (1,360 frames), 420 ms (3,360), 670 ms (5,360).
    assert_eq!(ends, [(1013, 1013), (2048, 3061), (2048, 5109)]);
    // Nothing is skipped: the held-back tail comes with the next drain.
    for p in &packets[next..] {
        aligner.push(p.side, p.at, p.seq, p.ts, p.ssrc, Codec::Pcmu, &[p.byte; P]);
    }
    aligner.finish(t0 + 1000 * MS, &mut out);
    let left: Vec<i16> = out.iter().step_by(2).copied().collect();
    let right: Vec<i16> = out.iter().skip(1).step_by(2).copied().collect();
    assert_eq!(left.len(), 8000);
    for k in 0..50u32 {
        let at = k as usize * P;
        assert_eq!(left[at], value(Side::Caller, k), "caller packet {k}");
        assert_eq!(
            right[at + P - 1],
            value(Side::Operator, k),
            "operator packet {k}"
        );
    }
}

#[test]
fn draining_to_a_boundary_before_the_first_one_appends_nothing() {
    let t0 = Instant::now();
    let mut aligner = Aligner::new(AlignerConfig::default(), t0);
    let mut out = Vec::new();
    // 20 ms final (100 ms minus the 80 ms window): 160 frames, short of a block.
    assert_eq!(
        aligner.drain_to_boundary(t0 + 100 * MS, 1024, 11, &mut out),
        0
    );
    assert!(out.is_empty());
    // Before the start.
    assert_eq!(aligner.drain_to_boundary(t0, 1024, 11, &mut out), 0);
    assert_eq!(aligner.frames(), 0);
}
